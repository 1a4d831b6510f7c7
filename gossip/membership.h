/*
 * membership.h — who is in the network and how each peer is doing
 * (DESIGN §6): the admitted keys (genesis members), each peer's incarnation,
 * state, height, endpoints and last-heard time; mesh selection; the failure
 * detector's transitions.
 *
 * State diagram of one peer (function behind each transition):
 *
 *   UNKNOWN --heard--> ALIVE --silence > suspect_ms--> SUSPECT
 *      ALIVE <--heard-- SUSPECT --silence > dead_ms--> DEAD
 *      DEAD --heard with incarnation >= the known one--> ALIVE   (rejoin)
 *   heard = gossip_members_heard (a signed heartbeat or join from the peer);
 *   silence = gossip_members_tick.
 *
 * A heartbeat with a lower incarnation than the known one is stale (an old
 * copy still travelling, or a replay) and changes nothing. A peer that
 * restarts takes a higher incarnation (wall-clock milliseconds at start), so
 * its first heartbeat brings it back even after it was declared dead. When
 * a peer reports *us* suspect or dead at our incarnation, we take a higher
 * incarnation (SWIM refutation) and the next heartbeat says so.
 *
 * Monitoring (SWIM-style). Flooding every member's heartbeat to every node
 * every period costs N^2 signature checks and N*D messages per period for
 * the network; at 128 nodes on one 2-core host that saturated both cores
 * (perf, bench_gossip). So each node sends a *direct* heartbeat every short
 * period to its k monitors — the k members after it in ring order (keys
 * sorted bytewise, cyclic; fixed by the genesis membership, so every node
 * computes the same rings) — and floods its heartbeat only every "far"
 * period, which grows with N. A monitor that has heard a peer directly
 * judges it by the near thresholds and, when it goes dead, floods a signed
 * claim (gossip.c); everyone else judges by the far thresholds and by
 * claims. Only one of the subject's k ring monitors may make a claim, so a
 * faulty member cannot declare arbitrary members dead, and a claimed peer
 * comes back only with a higher incarnation: a live subject refutes by
 * rejoining (SWIM's refutation; the research note on gossip, §SWIM).
 *
 * Invariants: (1) only admitted keys are ever in the table; (2) self is
 * never in the table; (3) count <= GOSSIP_PEERS_MAX.
 *
 * Pure: no sockets, time is passed in. One thread.
 */
#ifndef VL_GOSSIP_MEMBERSHIP_H
#define VL_GOSSIP_MEMBERSHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "did.h"

#define GOSSIP_PEERS_MAX 256
#define GOSSIP_MONITORS_MAX 8
#define GOSSIP_ENDPOINT_MAX 256

typedef enum {
    GOSSIP_PEER_ALIVE = 0,
    GOSSIP_PEER_SUSPECT = 1,
    GOSSIP_PEER_DEAD = 2,
    GOSSIP_PEER_UNKNOWN = 3,      /* admitted, never heard */
} gossip_peer_state_t;

typedef struct {
    uint8_t key[VL_PUBKEY_SIZE];
    char did[VL_DID_BUF];
    char name[64];
    uint64_t incarnation;
    gossip_peer_state_t state;
    int64_t last_seen_ms;         /* monotonic; 0 = never heard */
    int64_t state_since_ms;       /* when the state last changed */
    uint64_t height;
    char gossip_ep[GOSSIP_ENDPOINT_MAX];   /* "" = unknown */
    char sync_ep[GOSSIP_ENDPOINT_MAX];
    bool in_mesh;                 /* we subscribe to its gossip PUB */
    bool monitored;               /* we are one of its ring monitors */
    int64_t last_direct_ms;       /* its last direct heartbeat (this
                                   * incarnation); 0 = none */
    bool claimed_dead;            /* dead on a monitor's claim: only a higher
                                   * incarnation brings it back */
    bool refused;                 /* its last heartbeat carried another genesis
                                   * hash (gossip.c sets and clears it): never in
                                   * the mesh, nothing sent to it */
    char refused_reason[160];     /* why, for status; "" when not refused */
} gossip_peer_t;

/* What gossip_members_heard did. */
typedef enum {
    GOSSIP_HEARD_NOT_MEMBER = -1,  /* key not admitted (or self) */
    GOSSIP_HEARD_STALE = 0,        /* lower incarnation: ignored */
    GOSSIP_HEARD_ALIVE = 1,        /* already alive: refreshed */
    GOSSIP_HEARD_UP = 2,           /* unknown/suspect/dead -> alive */
} gossip_heard_t;

/* What gossip_members_claim did. */
typedef enum {
    GOSSIP_CLAIM_REFUSED = -1,     /* claimer is not a monitor of the subject */
    GOSSIP_CLAIM_STALE = 0,        /* older incarnation, or already dead */
    GOSSIP_CLAIM_ACCEPTED = 1,     /* the subject is now dead */
    GOSSIP_CLAIM_REFUTED = 2,      /* about us: our incarnation was raised */
} gossip_claim_t;

typedef struct gossip_members_t gossip_members_t;

/* self: our public key; incarnation: ours at start (wall ms works: it
 * grows across restarts). suspect_ms < dead_ms. */
gossip_members_t *gossip_members_new(const uint8_t self[VL_PUBKEY_SIZE], uint64_t incarnation,
                                     int64_t suspect_ms, int64_t dead_ms);
void gossip_members_destroy(gossip_members_t **self_p);

/* Changes the silence thresholds (0 < suspect_ms < dead_ms): the near ones
 * (peers we monitor and hear directly) and, unless set apart with
 * gossip_members_set_far_timeouts, the far ones too. */
void gossip_members_set_timeouts(gossip_members_t *m, int64_t suspect_ms, int64_t dead_ms);

/* The silence thresholds for every peer we do not hear directly. */
void gossip_members_set_far_timeouts(gossip_members_t *m, int64_t suspect_ms, int64_t dead_ms);

/* Fixes the rings once every member is admitted: we monitor our k ring
 * predecessors (k <= GOSSIP_MONITORS_MAX, and fewer in a small network).
 * Returns how many peers we monitor. */
size_t gossip_members_set_monitors(gossip_members_t *m, size_t k);

/* Our monitors (our k ring successors), who get our direct heartbeats:
 * fills out with borrowed peers, returns how many. */
size_t gossip_members_monitors(gossip_members_t *m, gossip_peer_t **out, size_t max);

/* Whether `monitor` is one of the k ring successors of `subject` (either
 * may be self). */
bool gossip_members_is_monitor(const gossip_members_t *m, const uint8_t monitor[VL_PUBKEY_SIZE],
                               const uint8_t subject[VL_PUBKEY_SIZE]);

/* A direct heartbeat from key arrived (after gossip_members_heard). */
void gossip_members_heard_direct(gossip_members_t *m, const uint8_t key[VL_PUBKEY_SIZE],
                                 int64_t now_ms);

/* Member `claimer` (signature checked by the caller) says `subject` at
 * `incarnation` is dead. */
gossip_claim_t gossip_members_claim(gossip_members_t *m, const uint8_t claimer[VL_PUBKEY_SIZE],
                                    const uint8_t subject[VL_PUBKEY_SIZE], uint64_t incarnation,
                                    int64_t now_ms);

/* Admits a key (a genesis member). Self is accepted and ignored.
 * VL_ERR_LIMIT when full. */
int gossip_members_admit(gossip_members_t *m, const uint8_t key[VL_PUBKEY_SIZE],
                         const char *name);

bool gossip_members_is_admitted(const gossip_members_t *m, const uint8_t *key, size_t len);

/* The peer with key, or NULL (self and non-members). Borrowed until the
 * members object is destroyed. */
gossip_peer_t *gossip_members_find(gossip_members_t *m, const uint8_t *key, size_t len);

/* Sets endpoints learned from configuration or from another peer's list;
 * empty strings are ignored. Returns true when something changed. */
bool gossip_members_set_endpoints(gossip_members_t *m, const uint8_t key[VL_PUBKEY_SIZE],
                                  const char *gossip_ep, const char *sync_ep);

/* A signed heartbeat/join from key arrived (directly or relayed). Endpoints
 * may be NULL. */
gossip_heard_t gossip_members_heard(gossip_members_t *m, const uint8_t key[VL_PUBKEY_SIZE],
                                    uint64_t incarnation, uint64_t height,
                                    const char *gossip_ep, const char *sync_ep, int64_t now_ms);

/* Another peer says `key` has (incarnation, state). About self: refutes by
 * raising our incarnation when the claim is suspect/dead at >= ours, and
 * returns true. About others: only endpoints and nothing else (liveness is
 * judged from what we hear ourselves). */
bool gossip_members_report(gossip_members_t *m, const uint8_t key[VL_PUBKEY_SIZE],
                           uint64_t incarnation, int state);

/* Applies silence: alive -> suspect after suspect_ms, suspect -> dead after
 * dead_ms since last heard (near thresholds for a peer we monitor and have
 * heard directly, far ones otherwise). Returns how many peers changed
 * state. */
size_t gossip_members_tick(gossip_members_t *m, int64_t now_ms);

/* We were not running for gap_ms (starved of CPU, or stopped): nothing
 * could be heard meanwhile, so every peer's silence clock moves forward by
 * the gap instead of counting it against them (Lifeguard's local health
 * awareness, in its simplest form). */
void gossip_members_pause(gossip_members_t *m, int64_t gap_ms);

/* Mesh selection. Refused peers are never in the mesh. Full mesh when the
 * admitted peers number <= full_max: every peer with a known gossip endpoint. Otherwise keep current mesh peers
 * that are not dead, drop dead ones, and fill up to degree with random
 * candidates, alive ones first, then unknown ones, then dead ones (which
 * may come back). rnd is a caller-supplied random source (state advanced).
 * Sets in_mesh on each peer; returns the mesh size. */
size_t gossip_members_select_mesh(gossip_members_t *m, size_t degree, size_t full_max,
                                  uint64_t *rnd);

/* Drops one random mesh peer (beyond full mesh, when the mesh is at least
 * degree), so the next gossip_members_select_mesh replaces it with a random
 * candidate. Called every few seconds it turns whatever graph the start-up
 * order and the bootstrap lists made (e.g. ring successors: a diameter of
 * N/K hops, past the hop limit) into a random one, whose diameter is about
 * log_D N. Returns true when a peer was dropped. */
bool gossip_members_rotate_mesh(gossip_members_t *m, size_t degree, size_t full_max,
                                uint64_t *rnd);

size_t gossip_members_count(const gossip_members_t *m);
gossip_peer_t *gossip_members_at(gossip_members_t *m, size_t i);
uint64_t gossip_members_incarnation(const gossip_members_t *m);
/* Highest height heard from an alive or suspect peer. */
uint64_t gossip_members_max_height(const gossip_members_t *m);

const char *gossip_peer_state_name(gossip_peer_state_t s);

/* xorshift64* step: the one random source of the pure gossip modules. */
uint64_t gossip_rand(uint64_t *state);
#endif
