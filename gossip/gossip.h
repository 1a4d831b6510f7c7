/*
 * gossip.h — the gossip transport (DESIGN §6): dissemination over a
 * PUB/SUB mesh with dedup and relay, anti-entropy pulls over ROUTER/DEALER,
 * heartbeats and failure detection, CURVE on every node-to-node socket.
 *
 * Sockets (all owned, all on the thread running the caller's evloop):
 *
 * | socket | type   | CURVE  | purpose                                          |
 * |--------|--------|--------|--------------------------------------------------|
 * | pub    | PUB    | server | our envelopes and relays; bound at `gossip`     |
 * | sub    | SUB    | client | connected to the PUB of each mesh peer           |
 * | sync   | ROUTER | server | serves blocks by height range and txs by id;     |
 * |        |        |        | accepts pushed envelopes; bound at `sync`        |
 * | dealer | DEALER | client | one per peer we pull from or push to             |
 * | zap    | REP    | —      | inproc://zeromq.zap.01: admits member keys only  |
 *
 * PUB frames: one envelope, or a bundle of heartbeats/joins: 0x00, then
 * per envelope a 4-byte big-endian length and its bytes (gossip.c,
 * s_pub_send).
 *
 * Sync frames (after the ROUTER routing id): request `Q` + 8-byte request
 * id (big-endian) + SyncRequest bytes, answered `A` + the same id +
 * SyncResponse bytes; push `E` + Envelope bytes (no answer); membership
 * snapshot `H` + 8-byte id, answered `S` + the id + a bundle of the latest
 * verified heartbeat of every live member (asked of bootstrap peers at
 * start). Anything else is counted as malformed and dropped.
 *
 * CURVE keys come from the Ed25519 identities (curve.h): a node pins each
 * peer's server key when it connects, and the ZAP handler admits a client
 * only when its key is a genesis member's. CURVE authenticates the hop;
 * each envelope keeps its origin's signature, checked on receipt.
 *
 * Direct heartbeat `D` + Envelope bytes (no answer): a heartbeat pushed to
 * one of the sender's ring monitors (membership.h); never relayed.
 *
 * Receipt of an envelope: parse (malformed -> counted, dropped); hop limit;
 * seen-cache (duplicate -> counted, dropped, before any signature check);
 * origin must be a member; signature; then it is remembered, relayed with
 * hops + 1 (when under the limit) and delivered: heartbeats and joins feed
 * membership, every other type goes to the handler. A node never depends on
 * PUB/SUB alone for blocks: peers' heights (heartbeats) drive pulls.
 *
 * Every queue and cache is bounded: socket HWMs, the seen-cache capacity,
 * the pull window, GOSSIP_SYNC_* caps on what one request may ask for.
 */
#ifndef VL_GOSSIP_H
#define VL_GOSSIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <czmq.h>

#include "crypto.h"
#include "error.h"
#include "membership.h"
#include "evloop.h"

#define GOSSIP_SYNC_MAX_BLOCKS 256        /* blocks in one answer */
#define GOSSIP_SYNC_MAX_TXS 64            /* txids in one request */
#define GOSSIP_SYNC_MAX_BYTES (4u << 20)  /* payload bytes in one answer */
#define GOSSIP_HEARTBEAT_PEERS 8          /* peer infos per heartbeat */
#define GOSSIP_TICK_MS 100                /* failure-detector tick */
#define GOSSIP_FLOOD_MS_PER_PEER 160      /* flooded heartbeat period >= members x this */
#define GOSSIP_MONITORS 3                 /* ring monitors per member (membership.h) */

typedef struct {
    char gossip_endpoint[GOSSIP_ENDPOINT_MAX];   /* PUB bind; port 0 = any */
    char sync_endpoint[GOSSIP_ENDPOINT_MAX];     /* ROUTER bind */
    size_t degree;              /* D: mesh peers beyond full mesh (default 6) */
    size_t full_mesh_max;       /* full mesh up to this many peers (12) */
    int heartbeat_ms;           /* 500: direct heartbeats to our monitors; the
                                 * flooded one every max(this, members x
                                 * GOSSIP_FLOOD_MS_PER_PEER) (gossip_start) */
    int suspect_ms;             /* silence before suspect, for a monitor (1500) */
    int dead_ms;                /* silence before dead, for a monitor (2500); far
                                 * peers: 3 and 5 flooded periods at least */
    uint32_t max_hops;          /* relays per envelope (12) */
    size_t seen_max;            /* seen-cache entries (200000) */
    int seen_ttl_ms;            /* 120000 */
    uint32_t pull_batch;        /* blocks per pull request (256; x outstanding <= NODE_PENDING_MAX) */
    size_t pull_outstanding;    /* concurrent pull requests (4) */
    int pull_timeout_ms;        /* 3000 */
    int hwm;                    /* per-pipe HWM on gossip sockets (20000) */
} gossip_config_t;

void gossip_config_defaults(gossip_config_t *c);

/* What the node provides. All callbacks run on the loop thread. */
typedef struct {
    void *arg;
    /* A valid envelope (not heartbeat/join) from a member, first copy. */
    void (*deliver)(void *arg, int type, const uint8_t origin[VL_PUBKEY_SIZE],
                    const uint8_t *payload, size_t len);
    /* Our committed height. */
    uint64_t (*height)(void *arg);
    /* Block bytes at height (malloc'd, caller frees), or an error. */
    int (*get_block)(void *arg, uint64_t height, uint8_t **bytes, size_t *len);
    /* Transaction bytes by id, committed or pending (malloc'd), or error. */
    int (*get_tx)(void *arg, const uint8_t txid[32], uint8_t **bytes, size_t *len);
    /* A block pulled from a peer (any order; the node checks it). */
    void (*pulled)(void *arg, const uint8_t *bytes, size_t len);
    /* A transaction a peer answered by id (may be NULL; the node checks it). */
    void (*pulled_tx)(void *arg, const uint8_t *bytes, size_t len);
} gossip_handler_t;

typedef struct {
    uint64_t received;          /* envelopes read from SUB or pushes */
    uint64_t delivered;         /* first valid copies (incl. heartbeats) */
    uint64_t duplicates;
    uint64_t relayed;
    uint64_t published;         /* our own envelopes */
    uint64_t malformed;         /* garbled/truncated envelopes or frames */
    uint64_t bad_signature;     /* forged or unsigned */
    uint64_t not_member;        /* origin not in genesis */
    uint64_t hop_limit;
    uint64_t stale;             /* heartbeats of an older incarnation */
    uint64_t sync_requests;     /* served */
    uint64_t sync_malformed;    /* garbage on the sync socket */
    uint64_t sync_blocks_served;
    uint64_t sync_txs_served;
    uint64_t pull_txs;          /* transactions received by id */
    uint64_t pull_requests;     /* sent */
    uint64_t pull_blocks;       /* received */
    uint64_t pull_timeouts;
    uint64_t push_dropped;      /* DEALER queue full */
    uint64_t zap_denied;        /* handshakes refused (non-members) */
    uint64_t claims_made;       /* members we declared dead as their monitor */
    uint64_t claims_accepted;   /* others' claims that changed our view */
    uint64_t claims_refused;    /* claims by a member that is not the subject's monitor */
    uint64_t direct_heartbeats; /* received from members we monitor */
#define GOSSIP_TYPES 16
    uint64_t by_type_delivered[GOSSIP_TYPES];
    uint64_t by_type_received[GOSSIP_TYPES];   /* parsed copies, duplicates included */
} gossip_stats_t;

typedef struct gossip_t gossip_t;

/* key: borrowed for the gossip's lifetime (signs envelopes); key_pem: the
 * same key's file, read once for the CURVE secret. NULL with a message. */
gossip_t *gossip_new(const gossip_config_t *config, const vl_key_t *key, const char *key_pem,
                     const gossip_handler_t *handler, vl_err_t *err);
void gossip_destroy(gossip_t **self_p);

/* Admits a member key (call for every genesis member before start). */
int gossip_admit(gossip_t *g, const uint8_t key[VL_PUBKEY_SIZE], const char *name);

/* A bootstrap peer's endpoints. VL_ERR_INVALID for a non-member. */
int gossip_add_peer(gossip_t *g, const uint8_t key[VL_PUBKEY_SIZE], const char *gossip_ep,
                    const char *sync_ep);

/* Binds, registers readers and timers on loop (borrowed until
 * gossip_detach), connects the mesh and announces us (a signed join pushed to bootstrap peers). */
int gossip_start(gossip_t *g, evloop_t *loop, vl_err_t *err);

/* Unregisters readers and timers from the loop (call before the loop is
 * destroyed); sockets stay open until gossip_destroy. */
void gossip_detach(gossip_t *g);

/* Seals and publishes an envelope of ours (PUB to subscribers, plus a push
 * to one mesh peer so it enters the mesh even without subscribers). */
int gossip_publish(gossip_t *g, int type, const void *payload, size_t len);

/* A peer is known to have at least this height (e.g. the origin of a block
 * we just received out of order); schedules pulls when we are behind. */
void gossip_note_height(gossip_t *g, const uint8_t key[VL_PUBKEY_SIZE], uint64_t height);

/* Asks one random live peer for transactions by id (at most
 * GOSSIP_SYNC_MAX_TXS); what it has arrives through handler.pulled_tx.
 * VL_ERR_INVALID for n == 0 or too many, VL_ERR_NOT_FOUND with no peer. */
int gossip_fetch_txs(gossip_t *g, const uint8_t (*txids)[32], size_t n);

/* Sends pull requests now if we are behind and slots are free. */
void gossip_sync_kick(gossip_t *g);

const char *gossip_endpoint(const gossip_t *g);      /* as bound */
const char *gossip_sync_endpoint(const gossip_t *g);
gossip_members_t *gossip_members(gossip_t *g);        /* borrowed */
const gossip_stats_t *gossip_stats(const gossip_t *g);
#endif
