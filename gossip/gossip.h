/*
 * gossip.h — the gossip transport (DESIGN §6): dissemination over a
 * PUB/SUB mesh with dedup and relay, anti-entropy pulls over ROUTER/DEALER,
 * heartbeats and failure detection, a request/response channel between
 * members, CURVE on every node-to-node socket.
 *
 * The implementation is split by responsibility (gossip_internal.h holds
 * the shared state): gossip.c the lifecycle; transport.c the sockets, the
 * PUB/SUB mesh, envelope receipt and relay, the DEALERs and the fault hooks;
 * sync.c the sync protocol on ROUTER/DEALER (a table keyed by each frame's
 * first byte); request.c the member request channel; membership_driver.c
 * heartbeats, claims, snapshot pulls and the failure-detector timer; zap.c
 * the ZAP handler. The decisions are pure modules: envelope, seen,
 * membership, pull, frame, faults.
 *
 * Sockets (all owned, all on the thread running the caller's evloop):
 *
 * | socket | type   | CURVE  | purpose                                          |
 * |--------|--------|--------|--------------------------------------------------|
 * | pub    | PUB    | server | our envelopes and relays; bound at `gossip`     |
 * | sub    | SUB    | client | connected to the PUB of each mesh peer           |
 * | sync   | ROUTER | server | serves blocks by height range and txs by id;     |
 * |        |        |        | accepts pushed envelopes and member requests;    |
 * |        |        |        | bound at `sync`                                  |
 * | dealer | DEALER | client | one per peer we pull from, push to or ask        |
 * | zap    | REP    | —      | inproc://zeromq.zap.01: admits member keys only  |
 * |        |        |        | (one per process, shared: zap.c)                 |
 *
 * PUB frames: one envelope, or a bundle of heartbeats/joins: 0x00, then
 * per envelope a 4-byte big-endian length and its bytes (frame.h).
 *
 * Sync frames (DEALER -> ROUTER; the ROUTER sees the routing id first). The
 * first byte of the first frame picks the handler (sync.c); any other first
 * byte, frame count or size is counted in stats.sync_malformed and dropped.
 * id = 8 bytes big-endian, chosen by the asker and echoed in the answer.
 *
 * | frames                           | meaning                     | answer               |
 * |----------------------------------|-----------------------------|----------------------|
 * | `E` envelope                     | pushed envelope             | none                 |
 * | `D` envelope                     | direct heartbeat to one of  | none                 |
 * |                                  | the sender's ring monitors  |                      |
 * |                                  | (membership.h); not relayed |                      |
 * | `Q` id SyncRequest               | blocks from a height, txs   | `A` id SyncResponse  |
 * |                                  | by id (id 0: txs only)      |                      |
 * | `H` id [known: n x 32-byte keys] | membership snapshot (asked  | `S` id bundle of the |
 * |                                  | of bootstrap peers at start | latest verified      |
 * |                                  | and while the view is       | heartbeat of each    |
 * |                                  | incomplete)                 | live member unlisted |
 * | `R` id head body                 | member request (request.c): | `P` id status body   |
 * |                                  | head = kind (4) +           |                      |
 * |                                  | timeout_ms (4), big-endian; |                      |
 * |                                  | body <= request_max_bytes   |                      |
 *
 * `P` status: 4 bytes big-endian, 0 = the answer is the body; otherwise
 * minus a VL_ERR_* code and the body is a reason: 10 (VL_ERR_LIMIT) reads
 * as limit, any other as refused (frame.h).
 *
 * CURVE keys come from the Ed25519 identities (curve.h): a node pins each
 * peer's server key when it connects, and the ZAP handler admits a client
 * only when its key is a genesis member's. CURVE authenticates the hop;
 * each envelope keeps its origin's signature, checked on receipt. A member
 * request's sender is the key the ZAP handler authenticated for its
 * connection (ZeroMQ's "User-Id" property), never anything the message says.
 *
 * Receipt of an envelope: parse (malformed -> counted, dropped); hop limit;
 * seen-cache (duplicate -> counted, dropped, before any signature check);
 * origin must be a member; signature; then it is remembered, relayed with
 * hops + 1 (when under the limit) and delivered: heartbeats and joins feed
 * membership, every other type goes to the handler.
 *
 * In a full mesh (admitted members <= full_mesh_max) every member
 * subscribes to every other, so an envelope's origin has already sent it
 * to everyone: a copy that came straight from its origin (hops 0) is
 * relayed only when it is small and without a recovery of its own
 * (heartbeats, joins, claims, votes). Transactions, proposals and blocks
 * are not: relayed, each was received members x (members - 1) times, and
 * each copy CURVE-encrypted, sent, decrypted and parsed; a copy a member
 * missed comes back by the gateway's resend schedule (a transaction), by
 * the next round or a pull (a proposal's block) or by a pull (a block).
 * Counted as relay_skipped. Beyond full mesh every type is relayed.
 *
 * The envelope's signature is skipped for the types the handler names in
 * payload_checked_types: payloads that carry their own signatures, which
 * the handler checks before acting on them (a transaction's creator and
 * endorsers, a vote's or proposal's validator, a block's certificate). For
 * those, the origin's signature would prove only who first published
 * bytes whose author is proven anyway, and checking it was one verify per
 * node per message. Such an envelope's origin is a claim: the handler
 * uses it for no decision of trust (at most as the peer to pull a gap
 * from). Relay was already before the handler's check, so this lets a
 * member relay nothing it could not before: it could always sign junk
 * payloads with its own key. Heartbeats, joins and claims are membership
 * facts about their origin and are always verified. A node never depends on
 * PUB/SUB alone for blocks: peers' heights (heartbeats) drive pulls.
 *
 * Every queue and cache is bounded: socket HWMs, the seen-cache capacity,
 * the pull window, GOSSIP_SYNC_* caps on what one request may ask for, the
 * request channel's body size and outstanding counts (both ways), the fault
 * delay queue (faults.h).
 */
#ifndef VL_GOSSIP_H
#define VL_GOSSIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <czmq.h>

#include "crypto.h"
#include "error.h"
#include "evloop.h"
#include "faults.h"
#include "membership.h"

#define GOSSIP_SYNC_MAX_BLOCKS 256        /* blocks in one answer */
#define GOSSIP_SYNC_MAX_TXS 64            /* txids in one request */
#define GOSSIP_SYNC_MAX_BYTES (4u << 20)  /* payload bytes in one answer */
#define GOSSIP_HEARTBEAT_PEERS 8          /* peer infos per heartbeat */
#define GOSSIP_TICK_MS 100                /* failure-detector tick */
#define GOSSIP_FLOOD_MS_PER_PEER 160      /* flooded heartbeat period >= members x this */
#define GOSSIP_MONITORS 3                 /* ring monitors per member (membership.h) */
#define GOSSIP_REQUEST_MAX_BYTES (1u << 20)   /* default request_max_bytes */
#define GOSSIP_REQUEST_OUTSTANDING 256    /* default request_outstanding */
#define GOSSIP_REQUEST_PER_PEER 16        /* default request_per_peer */
#define GOSSIP_REQUEST_HELD_MAX 1024      /* requests served and not yet answered, all peers */
#define GOSSIP_REQUEST_TIMEOUT_MAX_MS 60000   /* longest timeout_ms of a request */

typedef struct {
    char gossip_endpoint[GOSSIP_ENDPOINT_MAX];   /* PUB bind; port 0 = any */
    char sync_endpoint[GOSSIP_ENDPOINT_MAX];     /* ROUTER bind */
    char advertise_host[GOSSIP_ENDPOINT_MAX];    /* what other hosts dial: heartbeats
                                                  * say tcp://HOST:<bound port>; ""
                                                  * = the bound endpoints as they are */
    uint8_t genesis_hash[32];   /* our network's genesis block hash, carried in
                                 * every heartbeat and join: a member whose
                                 * heartbeat carries another is refused (its
                                 * envelopes dropped, nothing sent to it) until
                                 * one carries ours */
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
    size_t request_max_bytes;   /* body of one member request or answer (1 MiB) */
    size_t request_outstanding; /* our requests awaiting an answer (256) */
    size_t request_per_peer;    /* one peer's requests we hold unanswered (16) */
    bool faults_allowed;        /* gossip_set_faults may be used: tests only (false;
                                 * the node sets it from a test-only command-line
                                 * flag, never from node.json) */
} gossip_config_t;

void gossip_config_defaults(gossip_config_t *c);

/* A member request we were sent and have not answered yet (request.c).
 * Handed to the request handler (gossip_set_request_handler), which owns it
 * until it passes it to gossip_respond. */
typedef struct gossip_responder_t gossip_responder_t;

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
    /* Bit (1u << type) for each envelope type whose payload deliver checks
     * by its own signatures: the envelope's signature is not verified (see
     * above). Heartbeat, join and claim bits are ignored. */
    uint32_t payload_checked_types;
} gossip_handler_t;

typedef struct {
    uint64_t received;          /* envelopes read from SUB or pushes */
    uint64_t delivered;         /* first valid copies (incl. heartbeats) */
    uint64_t duplicates;
    uint64_t relayed;
    uint64_t relay_skipped;     /* full mesh: straight from the origin, not relayed */
    uint64_t published;         /* our own envelopes */
    uint64_t malformed;         /* garbled/truncated envelopes or frames */
    uint64_t bad_signature;     /* forged or unsigned */
    uint64_t payload_checked;   /* first copies whose envelope signature was left to
                                   the handler's payload check (payload_checked_types) */
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
    uint64_t requests_sent;     /* member requests we sent (gossip_request) */
    uint64_t requests_served;   /* member requests handed to the request handler */
    uint64_t request_timeouts;  /* ours that got no answer in time */
    uint64_t requests_refused;  /* answered VL_ERR_REFUSED (no handler, or it refused) */
    uint64_t requests_limited;  /* answered VL_ERR_LIMIT (per-peer or held limit, size) */
    uint64_t late_replies;      /* answers to none of our pending requests (after
                                 * their timeout, or cancelled): dropped */
    uint64_t genesis_refused;   /* envelopes and requests refused: their member's
                                 * last heartbeat carried another genesis hash */
    uint64_t faults_dropped;    /* messages the fault hooks dropped (cut included) */
    uint64_t faults_delayed;    /* messages the fault hooks delayed */
#define GOSSIP_TYPES 16
    uint64_t by_type_delivered[GOSSIP_TYPES];
    uint64_t by_type_received[GOSSIP_TYPES];   /* parsed copies, duplicates included */
} gossip_stats_t;

typedef struct gossip_t gossip_t;

/* key: borrowed for the gossip's lifetime (signs envelopes); key_pem: the
 * same key's file, read once for the CURVE secret. NULL with a message. */
gossip_t *gossip_new(const gossip_config_t *config, const vl_key_t *key, const char *key_pem,
                     const gossip_handler_t *handler, vl_err_t *err);
/* Detaches (see gossip_detach: pending request callbacks are called with
 * VL_ERR_STATE), frees every responder still unanswered, closes the
 * sockets. Not from inside one of this gossip's callbacks. */
void gossip_destroy(gossip_t **self_p);

/* Admits a member key (call for every genesis member before start). */
int gossip_admit(gossip_t *g, const uint8_t key[VL_PUBKEY_SIZE], const char *name);

/* A bootstrap peer's endpoints. VL_ERR_INVALID for a non-member. */
int gossip_add_peer(gossip_t *g, const uint8_t key[VL_PUBKEY_SIZE], const char *gossip_ep,
                    const char *sync_ep);

/* Binds, registers readers and timers on loop (borrowed until
 * gossip_detach), connects the mesh and announces us (a signed join pushed
 * to bootstrap peers). A node runs one gossip; several in one process
 * (tests) share the process's one ZAP handler (zap.c) and must all run on
 * one thread. Call once; after a failure, gossip_detach. */
int gossip_start(gossip_t *g, evloop_t *loop, vl_err_t *err);

/* Unregisters readers and timers from the loop (call before the loop is
 * destroyed); sockets stay open until gossip_destroy. Our pending member
 * requests are cancelled (their callbacks called with VL_ERR_STATE, here)
 * and delayed messages (fault hooks) dropped. */
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

/* --- Member requests -------------------------------------------------------
 * A request/response channel between members on the sync ROUTER/DEALER
 * sockets (frames `R`/`P` above), e.g. transaction proposals sent to other
 * organisations' nodes for endorsement. Authenticated and member-only (CURVE
 * and the ZAP handler), bounded both ways. */

/* A member request (gossip_request on another node), on the loop thread.
 * peer: the sender's key as CURVE authenticated it (a member, or our own
 * key); body borrowed for the call. The handler takes r and must pass it to
 * gossip_respond, at once or later on the loop thread (e.g. after a worker
 * ran an endorsement), and answers kinds it does not know VL_ERR_REFUSED. */
typedef void (*gossip_request_fn)(void *arg, const uint8_t peer[VL_PUBKEY_SIZE], uint32_t kind,
                                  const uint8_t *body, size_t len, gossip_responder_t *r);

/* Sets (fn NULL: removes) the handler of member requests; without one,
 * every request is answered VL_ERR_REFUSED. A setter rather than a field
 * of gossip_handler_t, whose users initialise it positionally. */
void gossip_set_request_handler(gossip_t *g, gossip_request_fn fn, void *arg);

/* Called once per accepted gossip_request, on the loop thread, never from
 * inside gossip_request: status 0 with the answer (body borrowed for the
 * call), or VL_ERR_TIMEOUT (no answer within timeout_ms; an answer after
 * that is dropped and counted in stats.late_replies), VL_ERR_REFUSED (the
 * peer's handler refused, or it has none; body = its reason, may be
 * empty), VL_ERR_LIMIT (the peer holds too many of our requests already,
 * or the body was too large for it), VL_ERR_STATE (gossip_detach or
 * gossip_destroy cancelled the request). */
typedef void (*gossip_reply_fn)(void *arg, int status, const uint8_t *body, size_t len);

/* Sends body (len <= config.request_max_bytes; copied) with an
 * application-defined kind to member peer, to be answered within
 * timeout_ms (1..GOSSIP_REQUEST_TIMEOUT_MAX_MS). On 0, cb(arg, ...) is
 * called exactly once later. Otherwise cb is never called: VL_ERR_STATE
 * (not started, or detached), VL_ERR_INVALID (no cb, a bad timeout, body
 * NULL with len > 0), VL_ERR_NOT_FOUND (peer is not a member, is us, or has
 * no known sync endpoint), VL_ERR_LIMIT (body too large, or
 * config.request_outstanding of ours pending, or the DEALER's queue is
 * full). A request lost on the way (or cut by the fault hooks) times out. */
int gossip_request(gossip_t *g, const uint8_t peer[VL_PUBKEY_SIZE], uint32_t kind,
                   const void *body, size_t len, int timeout_ms, gossip_reply_fn cb, void *arg);

/* Answers a request handed to the request handler, and takes *r_p (sets it to
 * NULL; r is freed whatever the outcome). status: 0 with the answer body,
 * or a negative code with a reason in body; the asker sees every code but
 * VL_ERR_LIMIT as VL_ERR_REFUSED. Returns 0 when the answer was queued,
 * VL_ERR_LIMIT when body exceeded config.request_max_bytes (the asker gets
 * VL_ERR_LIMIT instead), VL_ERR_IO when the ROUTER's queue was full (the
 * asker times out). Answering after the asker's timeout is harmless (it
 * drops the answer). Loop thread only; never after gossip_destroy, which
 * frees every responder still unanswered. */
int gossip_respond(gossip_t *g, gossip_responder_t **r_p, int status, const void *body,
                   size_t len);

/* --- Fault hooks (tests only) ---------------------------------------------
 * Installs faults (copied; NULL removes them) on every message this gossip
 * sends or receives from then on: PUB sends and SUB receipts, pushes, direct
 * heartbeats, sync requests and answers, member requests and answers
 * (faults.h for the decision). Delayed messages wait in a bounded queue
 * served by a loop timer (the loop never blocks; a full queue drops). 0, or
 * VL_ERR_STATE unless the gossip was created with config.faults_allowed,
 * VL_ERR_INVALID for out-of-range values (gossip_faults_check). */
int gossip_set_faults(gossip_t *g, const gossip_faults_t *faults);

const char *gossip_endpoint(const gossip_t *g);      /* as bound */
const char *gossip_sync_endpoint(const gossip_t *g);
/* What our heartbeats tell other members to dial (config.advertise_host
 * with the bound ports, else the bound endpoints); "" before start. */
const char *gossip_advertised_endpoint(const gossip_t *g);
const char *gossip_advertised_sync_endpoint(const gossip_t *g);
gossip_members_t *gossip_members(gossip_t *g);        /* borrowed */
const gossip_stats_t *gossip_stats(const gossip_t *g);
#endif
