/*
 * node_internal.h — the node's state, shared by the files of node/ that
 * together make the daemon (node.c: lifecycle, ordering and commit; api.c:
 * JSON-RPC; events.c: external topics). Not for other layers.
 */
#ifndef VL_NODE_INTERNAL_H
#define VL_NODE_INTERNAL_H

#include <czmq.h>
#include <jansson.h>
#include <stdbool.h>

#include "config.h"
#include "crypto.h"
#include "did.h"
#include "genesis.h"
#include "gossip.h"
#include "ledger.h"
#include "mempool.h"
#include "node.h"
#include "sigcache.h"
#include "validate.h"
#include "vm.h"

/* A client request being answered: where the reply goes. */
typedef struct {
    zframe_t *identity;           /* owned: ROUTER routing id */
    bool delimiter;               /* REQ client: reply with an empty frame first */
    json_t *id;                   /* owned reference: JSON-RPC id */
} api_request_t;

/* A client waiting for a tx to commit (submit with wait). */
typedef struct {
    api_request_t req;            /* owned */
    int64_t deadline_ms;          /* monotonic */
} waiter_t;

struct node_t {
    node_config_t config;
    genesis_t genesis;
    vl_key_t *key;                /* owned: node identity, validator and endorser */
    char did[VL_DID_BUF];
    ledger_t *ledger;             /* owned */
    vm_t *vm;                     /* owned */
    sigcache_t *sigcache;         /* owned */
    mempool_t *mempool;           /* owned */
    zsock_t *api;                 /* owned: ROUTER */
    zsock_t *events;              /* owned: PUB */
    evloop_t *loop;               /* owned, exists during node_run */
    int cut_timer;                /* evloop timer id, -1 when none armed */
    zhashx_t *waiters;            /* owned: txid hex -> zlistx_t of waiter_t* */
    zhashx_t *topic_seq;          /* owned: topic -> uint32 sequence (heap) */
    uint64_t stream_id;           /* fixed for the process lifetime */
    char api_bound[256];          /* endpoints as bound (ports resolved) */
    char events_bound[256];
    char endpoints_path[PATH_MAX + 32];
    bool failed;                  /* a fatal environment failure happened */
    int64_t last_block_ms;        /* header timestamp of the tip */
    int heartbeat_tick;           /* housekeeping ticks since the last heartbeat */
    /* gossip (node.c, "Gossip wiring") */
    gossip_t *gossip;             /* owned; NULL when gossip is off (--dev) */
    bool orderer;                 /* we cut blocks: the network's sole validator */
    bool from_gossip;             /* admitting a tx that arrived by gossip */
    struct node_pending *pending; /* owned: NODE_PENDING_MAX reorder slots */
    uint64_t blocks_received;     /* ENV_BLOCK first copies delivered to us */
    uint64_t blocks_pulled;       /* blocks that arrived through pulls */
    uint64_t blocks_committed_remote;   /* blocks from peers we committed */
    uint64_t blocks_rejected;     /* peers' blocks that failed validation */
    struct node_txcache *txcache; /* owned: NODE_TXCACHE_MAX recent admitted txs */
    size_t txcache_next;          /* ring position */
    struct node_resend *resend;   /* owned: NODE_RESEND_MAX txs we submitted */
    uint64_t txs_resent;          /* re-gossips of our pending txs */
    uint64_t txs_served;          /* txs answered by id over the sync ROUTER */
    uint64_t sigs_preverified;    /* tx signatures of pulled blocks checked ahead */
    struct node_preverify *preverify;   /* owned: worker thread (node.c), or NULL */
    int drain_timer;              /* evloop timer committing pulled blocks, -1 none */
};

/* Recently admitted transactions (API or gossip), so the sync ROUTER can
 * serve pending ones by id (the mempool has no lookup by id); committed ones
 * are served from the ledger. */
#define NODE_TXCACHE_MAX 4096
struct node_txcache {
    uint8_t txid[32];
    uint8_t *bytes;               /* owned; NULL = empty */
    size_t len;
};

/* Transactions submitted through this node's API while another node orders:
 * re-gossiped until they commit (PUB/SUB may drop the first copy), at most
 * NODE_RESEND_TRIES times, backing off from NODE_RESEND_FIRST_MS. */
#define NODE_RESEND_MAX 1024
#define NODE_RESEND_TRIES 5
#define NODE_RESEND_FIRST_MS 1000
struct node_resend {
    uint8_t txid[32];
    uint8_t *bytes;               /* owned; NULL = empty */
    size_t len;
    int tries;                    /* re-gossips so far */
    int64_t next_ms;              /* monotonic */
};

/* Out-of-order blocks wait here (slot = height % NODE_PENDING_MAX) until
 * their predecessor commits; at least the gossip pull window deep. */
#define NODE_PENDING_MAX 1024
#define NODE_COMMIT_RUN_MAX 256   /* pulled blocks committed in one synced batch */
struct node_pending {
    uint64_t height;              /* 0 = empty */
    uint8_t *bytes;               /* owned */
    size_t len;
    bool pulled;                  /* arrived by a pull (its txs are new here) */
};

/* api.c */
int api_handle(node_t *node, zmsg_t **msg);
void api_reply_result(node_t *node, api_request_t *req, json_t *result);
void api_reply_error(node_t *node, api_request_t *req, int code, const char *message);
void api_request_clear(api_request_t *req);

/* node.c, used by the API */
int node_admit_tx(node_t *node, const uint8_t *bytes, size_t len, uint8_t txid[32],
                  int *rpc_code, vl_err_t *err);
void node_add_waiter(node_t *node, const uint8_t txid[32], api_request_t *req,
                     int64_t timeout_ms);

/* node.c, gossip wiring: adds peers, endpoints.gossip/sync and gossip
 * counters to a `status` result. */
void node_status_gossip(node_t *node, json_t *status);

/* node.c, gossip wiring: re-gossips our pending transactions that are due
 * (housekeeping timer). */
void node_gossip_housekeeping(node_t *node);

/* events.c */
/* state: the state hash after the block (its own, also when it was
 * committed in a run with later blocks). */
void events_publish_block(node_t *node, const validated_block_t *vb,
                          const uint8_t state[VL_HASH_SIZE]);
void events_publish_heartbeat(node_t *node);
/* Event bodies of committed blocks from `from` to the tip, filtered by topic
 * prefixes (array of strings; NULL or empty = all), at most max_events.
 * *out = {events:[{topic, body}], to_height, truncated, next_from_height}. */
int events_replay(node_t *node, uint64_t from, json_t *topics, size_t max_events, json_t **out);

/* JSON-RPC error codes (docs/api.md) */
enum {
    RPC_PARSE_ERROR = -32700,
    RPC_INVALID_REQUEST = -32600,
    RPC_METHOD_NOT_FOUND = -32601,
    RPC_INVALID_PARAMS = -32602,
    RPC_INTERNAL = -32603,
    RPC_REFUSED = -32001,
    RPC_DUPLICATE = -32002,
    RPC_TIMEOUT = -32003,
    RPC_NOT_FOUND = -32004,
    RPC_BAD_SIGNATURE = -32010,
};
#endif
