/*
 * gossip_internal.h — the state the gossip transport's files share
 * (gossip.h lists them), and the functions they call across files. Not for
 * use outside gossip/ (the unit tests excepted).
 *
 * Who owns what in struct gossip_t:
 *   gossip.c              config, key, handler, lifecycle fields
 *   transport.c           sockets, SUB connections, DEALERs, the bundle,
 *                         last_hb, the fault state and its delay queue
 *   sync.c                pull scheduling state (pull, gap)
 *   request.c             pending (ours), responders (theirs), served[]
 *   membership_driver.c   members' timing, the tick and its schedules
 *   zap.c                 zap_domain
 *
 * Everything runs on the thread of the evloop passed to gossip_start.
 *
 * Invariants: (1) dealers[i], curve_of[i], sub_ep[i], last_hb[i] and
 * served[i] belong to gossip_members_at(members, i); served[GOSSIP_PEERS_MAX]
 * is our own key's; (2) faults is NULL unless config.faults_allowed;
 * (3) n_pending <= config.request_outstanding, each pending request has
 * exactly one live timer, and asked[i] counts those sent to member i; (4) every responder is on the responders list
 * until gossip_respond or gossip_destroy, and counts in served[] until it is
 * answered or its asker's deadline passes (expired).
 */
#ifndef VL_GOSSIP_INTERNAL_H
#define VL_GOSSIP_INTERNAL_H

#include "gossip.h"

#include "envelope.h"
#include "faults.h"
#include "frame.h"
#include "pull.h"
#include "seen.h"
#include "vledger.pb-c.h"

#define GOSSIP_DRAIN_MAX 64        /* messages read per reader wakeup */
#define GOSSIP_BUNDLE_MS 20        /* joins wait this long for company; heartbeats at least this */
#define GOSSIP_BUNDLE_MAX_MS 1000  /* and heartbeats at most this (large networks) */
#define GOSSIP_BUNDLE_MAX_BYTES (64u << 10)
#define GOSSIP_DEALER_IDLE_MS 10000   /* a DEALER unused this long is closed */
#define GOSSIP_FRAMES_MAX 6        /* frames in one sync message, routing id excluded */
#define GOSSIP_SELF GOSSIP_PEERS_MAX  /* served[] index of our own key */
#define GOSSIP_LOG_FIRST 5         /* bad-input log lines per kind before thinning */

typedef struct {
    gossip_t *g;                  /* borrowed: back pointer for the reader */
    uint8_t key[VL_PUBKEY_SIZE];
    zsock_t *sock;                /* owned */
    char ep[GOSSIP_ENDPOINT_MAX];
    int64_t last_used_ms;         /* monotonic: last send (gossip_dealer) or answer */
} gossip_dealer_t;

typedef struct gossip_pending_t gossip_pending_t;   /* request.c */

struct gossip_t {
    gossip_config_t config;
    const vl_key_t *key;          /* borrowed */
    uint8_t self[VL_PUBKEY_SIZE];
    char did[VL_DID_BUF];
    uint8_t curve_pub[32], curve_secret[32];
    gossip_handler_t handler;
    gossip_request_fn on_request; /* member requests (request.c); NULL = refused */
    void *on_request_arg;
    gossip_members_t *members;    /* owned */
    gossip_seen_t *seen;          /* owned */
    gossip_pull_t *pull;          /* owned */
    uint8_t curve_of[GOSSIP_PEERS_MAX][32];   /* CURVE key of members_at(i) */
    char sub_ep[GOSSIP_PEERS_MAX][GOSSIP_ENDPOINT_MAX];   /* connected SUB endpoint */
    gossip_dealer_t *dealers[GOSSIP_PEERS_MAX];   /* owned, by member index */
    zsock_t *pub, *sub, *sync;    /* owned */
    char zap_domain[32];          /* our server sockets' ZAP domain; "" = not joined */
    evloop_t *loop;               /* borrowed while started */
    int timer;
    int64_t period_ms;            /* effective heartbeat period (gossip_start) */
    uint8_t *bundle;              /* owned: GOSSIP_BUNDLE_MAX_BYTES, see gossip_pub_send */
    size_t bundle_len;            /* 0 = empty */
    int bundle_timer;             /* one-shot flush timer, -1 when none */
    int64_t bundle_ms;            /* heartbeats' bundling window (gossip_start) */
    int64_t bundle_due_ms;        /* monotonic: when bundle_timer fires */
    uint8_t *last_hb[GOSSIP_PEERS_MAX];   /* owned: latest verified heartbeat or
                                           * join of members_at(i), for snapshots */
    size_t last_hb_len[GOSSIP_PEERS_MAX];
    bool no_relay;                /* delivering a snapshot or a direct
                                   * heartbeat: do not relay it */
    bool direct;                  /* delivering a direct heartbeat */
    int64_t next_heartbeat_ms;    /* monotonic: next flooded heartbeat */
    int64_t next_direct_ms;       /* monotonic: next direct heartbeats */
    int64_t last_tick_ms;         /* monotonic: the failure detector's last tick */
    int64_t next_rotate_ms;       /* monotonic: next mesh rotation */
    int64_t next_member_pull_ms;  /* monotonic: next membership pull */
    int64_t member_pull_ms;       /* its current interval (backs off) */
    size_t known_at_pull;         /* members alive when we last pulled */
    bool gap;                     /* the node saw a gap (gossip_note_height): pull now */
    char pub_bound[GOSSIP_ENDPOINT_MAX];
    char sync_bound[GOSSIP_ENDPOINT_MAX];
    char pub_adv[GOSSIP_ENDPOINT_MAX];    /* advertised in heartbeats (gossip_start) */
    char sync_adv[GOSSIP_ENDPOINT_MAX];
    uint64_t rnd;
    uint64_t nonce;
    /* Fault hooks (transport.c; tests only). */
    gossip_faults_t *faults;      /* owned; NULL = none */
    uint64_t fault_seq;           /* decisions made: gossip_faults_decide's seq */
    gossip_delayq_t *delayed;     /* owned: delayed messages, NULL until needed */
    int delay_timer;              /* one-shot timer for the earliest, -1 when none */
    int64_t delay_due_ms;         /* when delay_timer fires */
    /* Member requests (request.c). */
    gossip_pending_t **pending;   /* owned: ours awaiting an answer, n_pending of
                                   * config.request_outstanding */
    size_t n_pending;
    uint64_t next_request_id;
    gossip_responder_t *responders;   /* owned list: served, not yet answered */
    size_t n_responders;
    uint32_t served[GOSSIP_PEERS_MAX + 1];   /* per asker: held, not expired */
    uint32_t asked[GOSSIP_PEERS_MAX];        /* per member: ours pending (its DEALER stays) */
    gossip_stats_t stats;
};

/* A sequence of frames, borrowed. */
typedef struct {
    size_t n;
    const uint8_t *data[GOSSIP_FRAMES_MAX];
    size_t len[GOSSIP_FRAMES_MAX];
} gossip_frames_t;

/* Which socket a message goes out on or came in from. */
typedef enum {
    GOSSIP_LINK_PUB = 0,          /* our PUB (send) / our SUB (receipt) */
    GOSSIP_LINK_DEALER = 1,       /* our DEALER to peer */
    GOSSIP_LINK_ROUTER = 2,       /* our ROUTER, to or from routing id `who` */
} gossip_link_kind_t;

typedef struct {
    gossip_link_kind_t kind;
    const uint8_t *peer;          /* borrowed: the other end's key; NULL = not known
                                   * (PUB/SUB; ROUTER until resolved) */
    const uint8_t *who;           /* ROUTER: the routing id (borrowed) */
    size_t who_len;
    gossip_dealer_t *dealer;      /* DEALER: borrowed, valid now; NULL = look it up */
    zframe_t *meta;               /* ROUTER: a frame of the message, read just now:
                                   * carries the connection's User-Id
                                   * (gossip_zap_peer); NULL after a delay */
} gossip_link_t;

/* --- gossip.c ------------------------------------------------------------ */

/* served[] index of an admitted key: a member's index, GOSSIP_SELF for
 * ours; -1 otherwise. */
int gossip_peer_slot(gossip_t *g, const uint8_t key[VL_PUBKEY_SIZE]);

/* --- transport.c -------------------------------------------------------- */

bool gossip_log_thin(uint64_t count);
int gossip_index_of(gossip_t *g, const gossip_peer_t *p);
void gossip_common_opts(gossip_t *g, zsock_t *s);
void gossip_curve_server(gossip_t *g, zsock_t *s);

/* The DEALER to p, created on first use (and re-created when the peer's
 * sync endpoint changed); marks it used. NULL when p has no sync endpoint,
 * we are not started, or out of resources. */
gossip_dealer_t *gossip_dealer(gossip_t *g, gossip_peer_t *p);
void gossip_dealer_destroy(gossip_t *g, size_t i);
void gossip_reap_dealers(gossip_t *g, int64_t now);

/* Sends frames on link without blocking, through the fault hooks (a
 * dropped or delayed message counts as sent). DEALER links name the peer
 * (its DEALER is created if needed); ROUTER links the routing id and the
 * peer. false when the socket did not take it (queue full, no DEALER):
 * counted in *dropped when given. */
bool gossip_send(gossip_t *g, const gossip_link_t *to, const gossip_frames_t *f,
                 uint64_t *dropped);

/* gossip_send on d's link to its peer. */
bool gossip_send_dealer(gossip_t *g, gossip_dealer_t *d, const gossip_frames_t *f,
                        uint64_t *dropped);
/* gossip_send back to where a ROUTER message came from. */
bool gossip_send_answer(gossip_t *g, const gossip_link_t *from, const gossip_frames_t *f,
                        uint64_t *dropped);

/* Fault hooks on receipt (call only when g->faults): true to handle the
 * message now; false when it was dropped or queued (handed back to
 * gossip_on_frame / gossip_sync_*_in when due). Resolves from->peer on a
 * ROUTER link. */
bool gossip_faults_in(gossip_t *g, gossip_link_t *from, const gossip_frames_t *f);
void gossip_faults_clear(gossip_t *g);   /* drops delayed messages, ends the timer */

void gossip_pub_send(gossip_t *g, int type, const uint8_t *bytes, size_t len);
void gossip_push_random(gossip_t *g, const uint8_t *bytes, size_t len);
int gossip_seal(gossip_t *g, int type, const void *payload, size_t len, uint8_t **out,
                size_t *out_len);
void gossip_bundle_flush(gossip_t *g);
void gossip_repair_mesh(gossip_t *g);

/* Receipt of one PUB frame (an envelope or a bundle) or one envelope. */
void gossip_on_frame(gossip_t *g, const uint8_t *data, size_t size);
void gossip_on_envelope(gossip_t *g, const uint8_t *bytes, size_t len);
int gossip_on_sub(evloop_t *loop, zsock_t *sock, void *arg);

/* --- sync.c --------------------------------------------------------------- */

int gossip_on_sync(evloop_t *loop, zsock_t *sock, void *arg);
int gossip_on_dealer(evloop_t *loop, zsock_t *sock, void *arg);
/* One message through the ROUTER's or the DEALERs' frame table. */
void gossip_sync_router_in(gossip_t *g, const gossip_link_t *from, const gossip_frames_t *f);
void gossip_sync_dealer_in(gossip_t *g, const uint8_t peer[VL_PUBKEY_SIZE],
                           const gossip_frames_t *f);

/* --- request.c ------------------------------------------------------------ */

void gossip_request_in(gossip_t *g, const gossip_link_t *from, const gossip_frames_t *f);
void gossip_reply_in(gossip_t *g, const uint8_t peer[VL_PUBKEY_SIZE], const gossip_frames_t *f);
void gossip_request_tick(gossip_t *g, int64_t now);   /* expires served slots */
/* Ours: ends their timers on loop (g->loop is already NULL), then calls
 * their callbacks with VL_ERR_STATE. */
void gossip_request_cancel(gossip_t *g, evloop_t *loop);
void gossip_request_free(gossip_t *g);     /* theirs: frees unanswered responders */

/* --- membership_driver.c -------------------------------------------------- */

int gossip_heartbeat_bytes(gossip_t *g, size_t max_peers, uint8_t **out, size_t *out_len);
/* hb: e's payload, unpacked (borrowed). */
void gossip_on_heartbeat(gossip_t *g, const gossip_envelope_t *e, const Vl__Heartbeat *hb,
                         int64_t now);
/* The genesis check of a member's heartbeat (config.genesis_hash): true
 * when it carries ours (ending a refusal), false refusing the member. */
bool gossip_check_genesis(gossip_t *g, const uint8_t key[VL_PUBKEY_SIZE], const uint8_t *hash,
                          size_t len);
/* Whether the member with key is refused (another genesis). */
bool gossip_peer_refused(gossip_t *g, const uint8_t key[VL_PUBKEY_SIZE]);
void gossip_on_claim(gossip_t *g, const gossip_envelope_t *e, int64_t now);
/* Timing from the membership size, the tick timer, the first join and
 * snapshot requests (the end of gossip_start). */
void gossip_driver_start(gossip_t *g);

/* --- zap.c ---------------------------------------------------------------- */

/* Joins the process's ZAP handler (binding it for the first gossip; read
 * on the loop of an attached one) and sets g->zap_domain. g->loop is set.
 * VL_ERR_IO / VL_ERR_LIMIT with a message. */
int gossip_zap_join(gossip_t *g, vl_err_t *err);
/* g was detached (g->loop is NULL): the handler moves to another attached
 * gossip's loop, or waits unread until one attaches. */
void gossip_zap_detach(gossip_t *g);
/* g's server sockets are closed: forgets g; the last to leave closes the
 * handler. Not joined: no-op. */
void gossip_zap_leave(gossip_t *g);
/* The key the ZAP handler admitted for the connection a ROUTER message came
 * in on (its User-Id), or NULL. Borrowed from g's members (or g->self). */
const uint8_t *gossip_zap_peer(gossip_t *g, zframe_t *frame);
#endif
