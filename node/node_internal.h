/*
 * node_internal.h — the node's state, shared by the files of node/ that
 * together make the daemon. Not for other layers.
 *
 *   node.c         lifecycle, the loop, the ordering driver
 *   node_admit.c   transaction admission (checks on the worker pool)
 *   node_work.c    the worker pool's jobs and per-worker VMs
 *   node_gossip.c  gossip wiring: blocks and txs in and out, status
 *   node_status.c  the `status` result
 *   node_metrics.c the Prometheus endpoint's counters and snapshot
 *   api.c          JSON-RPC framing, dispatch, deferred answers, waiters
 *   api_methods.c  the API methods
 *   events.c       external event topics and replay
 *   reactor.c      scheduled payments after each block
 *   node_reactors.c participants' rules: follow-ups proposed by their own node
 *
 * Everything runs on the loop thread except the `work` half of pool jobs
 * (node_work.c), which touches only its job, its worker's VM, the ledger's
 * thread-safe reads and the thread-safe signature cache.
 */
#ifndef VL_NODE_INTERNAL_H
#define VL_NODE_INTERNAL_H

#include <czmq.h>
#include <jansson.h>
#include <stdbool.h>

#include "commit.h"
#include "config.h"
#include "crypto.h"
#include "did.h"
#include "endorser.h"
#include "evloop.h"
#include "genesis.h"
#include "gossip.h"
#include "ledger.h"
#include "mempool.h"
#include "metrics.h"
#include "node.h"
#include "orderer.h"
#include "pool.h"
#include "requirement.h"
#include "rpc.h"
#include "sigcache.h"
#include "validate.h"
#include "vm.h"

typedef struct api_t api_t;
typedef struct node_bft node_bft_t;
typedef struct node_admit_batch node_admit_batch_t;
#define ADMIT_BATCH_MAX 64
typedef struct events_t events_t;
typedef struct node_reactors node_reactors_t;

struct node_t {
    node_config_t config;
    genesis_t genesis;
    uint8_t genesis_hash[VL_HASH_SIZE];   /* block 0's hash: compared with every peer's */
    vl_key_t *key;                /* owned: node identity, validator and endorser */
    char did[VL_DID_BUF];
    orderer_role_t role;          /* what this node is in ordering */
    ledger_t *ledger;             /* owned */
    sigcache_t *sigcache;         /* owned; shared with the workers (thread-safe) */
    requirement_cache_t *policies;/* owned; functions' policies by record version (thread-safe) */
    mempool_t *mempool;           /* owned */
    commit_t *commit;             /* owned: the commit pipeline */
    pool_t *pool;                 /* owned: workers, each with its own VM */
    api_t *api;                   /* owned: the JSON-RPC ROUTER and its waiters */
    events_t *events;             /* owned: the event topics PUB */
    gossip_t *gossip;             /* owned; NULL when gossip is off (--dev) */
    node_bft_t *bft;              /* owned: Tendermint driver (a follower's only tracks heights) */
    evloop_t *loop;               /* owned, exists during node_run */
    int cut_timer;                /* evloop timer id, -1 when none armed */
    int drain_timer;              /* evloop timer committing pulled blocks, -1 none */
    node_admit_batch_t *admit_batch;   /* owned: admissions not yet handed to the pool */
    int admit_timer;              /* evloop timer flushing admit_batch, -1 none */
    char endpoints_path[PATH_MAX + 32];
    int heartbeat_tick;           /* housekeeping ticks since the last heartbeat */
    uint64_t blocks_received;     /* ENV_BLOCK first copies delivered to us */
    uint64_t block_gossip_height; /* highest block height gossip brought us */
    uint8_t *held_block;          /* owned: a block we committed but did not propose,
                                     published only if its proposer's copy never comes */
    size_t held_block_len;
    uint64_t held_block_height;
    int held_block_timer;         /* evloop timer id, -1 when none */
    uint64_t blocks_published_late;   /* held blocks published (the proposer's never came) */
    uint64_t blocks_pulled;       /* blocks that arrived through pulls */
    uint64_t txs_resent;          /* re-gossips of our pending txs */
    uint64_t txs_served;          /* txs answered by id over the sync ROUTER */
    uint64_t sigs_preverified;    /* signatures of peers' blocks checked on the pool */
    uint64_t endorsements_asked;  /* endorsement requests from other organisations */
    uint64_t endorsements_signed; /* endorsements this node signed, for anyone */
    uint64_t endorsements_refused;/* and refused */
    uint64_t blocks_committed;    /* since start, any source */
    uint64_t txs_committed;       /* in those blocks */
    metrics_histogram_t commit_latency;   /* admission here -> commit, ms */
    metrics_t *metrics;           /* owned; NULL unless node.json "metrics" */
    node_reactors_t *reactors;    /* owned: participants' rules (node_reactors.c) */
};

/* The node's time for decisions: the loop's clock (a test seam), or the
 * monotonic clock before the loop exists. */
int64_t node_now_ms(const node_t *node);

/* --- node.c: the ordering driver ---------------------------------------- */

/* Cuts now while a full block is waiting, else arms the cut timer (sole
 * validator only; a follower receives blocks). Call after the mempool grew. */
void node_schedule_cut(node_t *node);

/* True once the node must stop (the commit pipeline failed). */
bool node_failed(const node_t *node);

/* The cut timer's handler (node.c): the block the cut rule waited for is due. */
int node_on_cut_timer(evloop_t *loop, int timer_id, void *arg);

/* --- node_bft.c: Tendermint among the genesis validators ----------------------- */

enum { NODE_BYZ_NONE = 0, NODE_BYZ_EQUIVOCATE, NODE_BYZ_UNKNOWN, NODE_BYZ_GARBAGE };

/* The driver for this node (a validator's, or a follower's that only
 * tracks heights). byzantine: a test-only NODE_BYZ_* mode. */
node_bft_t *node_bft_new(node_t *node, int byzantine, vl_err_t *err);
/* Registers its timers on loop and replays its WAL (after a restart). */
int node_bft_attach(node_bft_t *nb, evloop_t *loop);
void node_bft_destroy(node_bft_t **self_p);
bool node_bft_is_validator(const node_bft_t *nb);
/* The first validator in genesis order: the one that proposes scheduled
 * work (reactor.c), so the network does not race copies of it. */
bool node_bft_is_first(const node_bft_t *nb);
/* Work may have arrived (the mempool grew, the cut timer fired): starts the
 * next height when the cut rule says a block is due. */
void node_bft_kick(node_bft_t *nb);
/* A consensus envelope (ENV_PROPOSAL, ENV_VOTE) from gossip. */
void node_bft_on_message(node_bft_t *nb, int type, const uint8_t *bytes, size_t len);
/* Commit subscriber: a block committed (ours or a peer's): next height. */
void node_bft_on_commit(void *arg, const commit_event_t *event);
/* status.consensus */
json_t *node_bft_status(node_bft_t *nb);
/* Rounds taken and timeouts fired so far (0 for a follower's). */
void node_bft_counters(const node_bft_t *nb, uint64_t *rounds, uint64_t *timeouts);

/* --- node_admit.c ---------------------------------------------------------- */

typedef enum {
    ADMIT_API = 0,                /* a client's submit: gossiped, resent until committed */
    ADMIT_LOCAL = 1,              /* built by this node (reactor): as ADMIT_API */
    ADMIT_GOSSIP = 2,             /* relayed by the gossip layer already: not republished */
    ADMIT_PULLED = 3,             /* answered by a peer by id: not republished */
} admit_source_t;

/* Called on the loop thread with the outcome: 0 and the txid, or a
 * VL_ERR_* with err (VL_ERR_INVALID shape, VL_ERR_SIGNATURE, VL_ERR_EXISTS
 * pending or committed, VL_ERR_LIMIT mempool full or pool busy,
 * VL_ERR_NOMEM, VL_ERR_STATE stopping). txid is NULL when the bytes carried
 * none. */
typedef void (*node_admit_fn)(void *arg, int rc, const uint8_t *txid, const vl_err_t *err);

/* Admits a transaction: shape and signatures checked on the worker pool,
 * then (loop thread) not committed or pending already, into the mempool,
 * gossiped when it is ours; cb (may be NULL) is called before any block is
 * cut, so a caller may register a commit waiter from it. bytes are copied. */
void node_admit(node_t *node, const uint8_t *bytes, size_t len, admit_source_t source,
                node_admit_fn cb, void *arg);

/* Hands the admissions batched so far to the pool now (stopping). */
void node_admit_flush(node_t *node);

/* --- node_work.c: jobs on the worker pool ------------------------------------ */

/* The per-worker context builder for pool_new (each worker owns a VM). */
pool_worker_t node_work_worker(node_t *node);

/* Endorses a signed proposal on a worker (endorser_endorse with the
 * worker's VM against this node's replica); cb on the loop thread with the
 * endorsement (borrowed for the call) or an error. bytes are copied. */
typedef void (*node_endorse_fn)(void *arg, int rc, const endorsement_t *en, const vl_err_t *err);
int node_endorse(node_t *node, const uint8_t *bytes, size_t len, node_endorse_fn cb, void *arg);

/* Runs a read-only contract call on a worker; cb gets the VM's result
 * (borrowed for the call; status 0 or VL_ERR_*). */
typedef void (*node_query_fn)(void *arg, const vm_result_t *result);
int node_query(node_t *node, const char *contract, const char *function, const char *args_json,
               node_query_fn cb, void *arg);

/* Checks the signatures a peer's block carries (transactions' creators
 * and endorsers, commit votes) on a worker, entering the good ones in the
 * signature cache, then calls cb with the bytes (ownership passes to cb).
 * Validation still decides; this only moves the curve checks off the loop
 * thread. Falls back to calling cb at once when the pool is busy. */
typedef void (*node_block_fn)(node_t *node, uint8_t *bytes, size_t len, void *arg);
void node_preverify_block(node_t *node, uint8_t *bytes, size_t len, node_block_fn cb, void *arg);

/* --- node_gateway.c --------------------------------------------------------- */

/* Answers other organisations' endorsement requests (call once gossip is
 * made; no-op without gossip). */
void node_gateway_attach(node_t *node);

/* The gateway: endorses the signed proposal here, asks the other
 * organisations the transaction's requirement needs, checks their results
 * agree, assembles and admits the transaction. cb on the loop thread: 0
 * with the txid and the contract's return value (JSON text, borrowed for
 * the call), or a VL_ERR_* with err naming the organisations that failed
 * (VL_ERR_TIMEOUT: one did not answer; VL_ERR_REFUSED: one refused or
 * results disagree) or admission's error. Returns 0 (cb will be called) or
 * VL_ERR_NOMEM / VL_ERR_LIMIT (pool busy; cb is not called). */
typedef void (*node_transact_fn)(void *arg, int rc, const uint8_t *txid,
                                 const char *result_json, const vl_err_t *err);
int node_transact(node_t *node, const uint8_t *proposal, size_t len, node_transact_fn cb,
                  void *arg);

/* Member request kinds this node answers (gossip_request). */
enum { NODE_REQ_ENDORSE = 1, NODE_REQ_TIP = 2 };

/* --- node_verify.c ----------------------------------------------------------- */

/* Answers a peer's tip request (NODE_REQ_TIP); takes r. */
void node_verify_serve(node_t *node, const uint8_t *body, size_t len, gossip_responder_t *r);
/* This replica's height, block and state hash, and with peers every live
 * member's compared at a common height; cb (loop thread) gets the result
 * (reference passed) {height, block_hash, state_hash, peers: [...], agree,
 * first_difference?}. 0, or VL_ERR_NOMEM (cb not called). */
typedef void (*node_verify_fn)(void *arg, json_t *result);
int node_verify(node_t *node, bool peers, node_verify_fn cb, void *arg);

/* --- node_gossip.c --------------------------------------------------------- */

/* Joins the mesh when node.json names a gossip endpoint (no-op otherwise). */
int node_gossip_new(node_t *node, vl_err_t *err);
/* Commit subscriber: publishes blocks this node built. */
void node_gossip_on_commit(void *arg, const commit_event_t *event);
/* Frees a block held for late publication (node_gossip.c); before the loop goes. */
void node_gossip_release(node_t *node);
/* Gossips a tx we admitted from a client or built ourselves. */
void node_gossip_tx(node_t *node, const uint8_t *bytes, size_t len);
/* Re-gossips our pending transactions that are due (housekeeping timer). */
void node_gossip_housekeeping(node_t *node);
/* Adds peers, endpoints.gossip/sync and gossip counters to a status result. */
void node_gossip_status(node_t *node, json_t *status);

/* --- node_metrics.c ---------------------------------------------------------- */

/* Starts the Prometheus endpoint when node.json names one (no-op
 * otherwise); VL_ERR_IO with the address when it cannot listen. */
int node_metrics_new(node_t *node, vl_err_t *err);
/* Commit subscriber: blocks, transactions and commit latency. */
void node_metrics_on_commit(void *arg, const commit_event_t *event);
/* Publishes the current snapshot to the endpoint (housekeeping; no-op
 * without one). */
void node_metrics_publish(node_t *node);

/* --- node_status.c --------------------------------------------------------- */

/* The `status` result (owned by the caller), or NULL when out of memory.
 * wallets: add money.wallets, the sum of every wallet — a walk over all of
 * them on the calling (loop) thread, so only for who asks. */
json_t *node_status(node_t *node, bool wallets);

/* --- api.c ----------------------------------------------------------------- */

/* Binds the ROUTER at endpoint. node is borrowed for the api's lifetime. */
api_t *api_new(node_t *node, const char *endpoint, vl_err_t *err);
int api_attach(api_t *api, evloop_t *loop);
/* Answers every commit waiter (the node is stopping) and leaves the loop. */
void api_detach(api_t *api);
void api_destroy(api_t **self_p);
const char *api_endpoint(const api_t *api);   /* as bound */
/* Commit subscriber: answers the waiters of the block's transactions. */
void api_on_commit(void *arg, const commit_event_t *event);
/* Expires waiters whose deadline passed. */
void api_housekeeping(api_t *api, int64_t now_ms);
size_t api_waiting(const api_t *api);          /* waiters parked */

/* --- events.c -------------------------------------------------------------- */

/* Binds the PUB at endpoint. ledger and chain_id borrowed. */
events_t *events_new(const char *endpoint, ledger_t *ledger, const char *chain_id,
                     vl_err_t *err);
void events_destroy(events_t **self_p);
const char *events_endpoint(const events_t *events);   /* as bound */
uint64_t events_stream(const events_t *events);        /* fixed for the process */
/* Commit subscriber: publishes the block's topics. */
void events_on_commit(void *arg, const commit_event_t *event);
void events_publish_heartbeat(events_t *events, uint64_t height, size_t mempool);
/* Event bodies of committed blocks from `from` to the tip, filtered by topic
 * prefixes (array of strings; NULL or empty = all), at most max_events.
 * *out = {events:[{topic, body}], to_height, truncated, next_from_height}. */
int events_replay(events_t *events, uint64_t from, json_t *topics, size_t max_events,
                  json_t **out);

/* --- reactor.c ------------------------------------------------------------- */

/* Commit subscriber: proposes schedule.run_due when block time reached the
 * earliest due entry (sole validator only). */
void reactor_on_commit(void *arg, const commit_event_t *event);
#endif
