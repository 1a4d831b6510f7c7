/*
 * node_admit.c — transaction admission. A transaction from a client, from
 * gossip, from a peer's answer by id or built by this node's reactor is
 * checked in two halves:
 *
 *   on a worker (s_check): shape (tx_parse) and every signature
 *     (tx_check_signatures through the thread-safe signature cache, so the
 *     block that later carries it costs a hash per signature, not a curve
 *     check);
 *   on the loop thread (s_admitted): not committed valid before (ledger),
 *     not pending (mempool), into the mempool, gossiped when it is ours,
 *     the caller told, and only then a block cut considered — so a caller
 *     that parks a commit waiter from its callback cannot miss the commit.
 *
 * Errors are VL_ERR_* (rpc.h maps them for the API): VL_ERR_INVALID,
 * VL_ERR_SIGNATURE, VL_ERR_EXISTS, VL_ERR_LIMIT, VL_ERR_NOMEM, VL_ERR_STATE.
 */
#include "node_internal.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "tx.h"

typedef struct {
    node_t *node;                 /* borrowed */
    uint8_t *bytes;               /* owned copy */
    size_t len;
    admit_source_t source;
    node_admit_fn cb;
    void *arg;
    /* the worker's verdict */
    int rc;
    bool has_txid;
    uint8_t txid[VL_HASH_SIZE];
    vl_err_t err;
} s_admit_t;

static void
s_check(void *job, void *worker_ctx)
{
    s_admit_t *a = job;
    node_t *node = a->node;
    tx_parsed_t *tx = NULL;
    int code;
    a->rc = tx_parse(a->bytes, a->len, node->genesis.chain_id, &tx, &code, &a->err);
    if (a->rc == 0) {
        memcpy(a->txid, tx->txid, VL_HASH_SIZE);
        a->has_txid = true;
        a->rc = tx_check_signatures(tx, &node->genesis.members, &node->genesis.orgs,
                                    node->sigcache, NULL, &code, &a->err);
    }
    tx_destroy(&tx);
}

static void
s_finish(s_admit_t *a)
{
    if (a->cb)
        a->cb(a->arg, a->rc, a->has_txid ? a->txid : NULL, &a->err);
    free(a->bytes);
    free(a);
}

/* The loop-thread half: duplicates, the mempool, gossip. */
static int
s_enter(s_admit_t *a)
{
    node_t *node = a->node;
    char hex[65];
    vl_hex_encode(a->txid, VL_HASH_SIZE, hex);
    ledger_tx_info_t info;
    if (ledger_tx_get(node->ledger, a->txid, &info) == 0 && info.code == VL__TX_CODE__TX_VALID)
        return vl_err_set(&a->err, VL_ERR_EXISTS,
                          "transaction %s is already committed in block %llu", hex,
                          (unsigned long long) info.height);
    bool ours = a->source == ADMIT_API || a->source == ADMIT_LOCAL;
    /* Ours is resent until it commits, unless we order it ourselves. */
    int flags = ours && node->gossip && node->role != ORDERER_SOLE_VALIDATOR ? MEMPOOL_OURS : 0;
    uint8_t *copy = malloc(a->len ? a->len : 1);
    if (!copy)
        return vl_err_set(&a->err, VL_ERR_NOMEM, "out of memory");
    memcpy(copy, a->bytes, a->len);
    int rc = mempool_add(node->mempool, a->txid, &copy, a->len, flags, node_now_ms(node));
    if (rc == VL_ERR_EXISTS)
        return vl_err_set(&a->err, rc, "transaction %s is already pending", hex);
    if (rc != 0)
        return vl_err_set(&a->err, rc, "mempool is full (%zu transactions); retry later",
                          mempool_count(node->mempool));
    if (ours)
        node_gossip_tx(node, a->bytes, a->len);
    return 0;
}

static void
s_admitted(void *job, bool ran)
{
    s_admit_t *a = job;
    node_t *node = a->node;
    if (!ran)
        a->rc = vl_err_set(&a->err, VL_ERR_STATE, "node is shutting down");
    else if (a->rc == 0 && node_failed(node))
        a->rc = vl_err_set(&a->err, VL_ERR_STATE, "node stopped after a failure");
    else if (a->rc == 0)
        a->rc = s_enter(a);
    bool added = ran && a->rc == 0;
    s_finish(a);
    if (added)
        node_schedule_cut(node);
}

void
node_admit(node_t *node, const uint8_t *bytes, size_t len, admit_source_t source,
           node_admit_fn cb, void *arg)
{
    s_admit_t *a = calloc(1, sizeof *a);
    uint8_t *copy = a ? malloc(len ? len : 1) : NULL;
    if (!copy) {
        free(a);
        vl_err_t err;
        vl_err_set(&err, VL_ERR_NOMEM, "out of memory");
        if (cb)
            cb(arg, VL_ERR_NOMEM, NULL, &err);
        return;
    }
    memcpy(copy, bytes, len);
    *a = (s_admit_t) { .node = node, .bytes = copy, .len = len, .source = source, .cb = cb,
                       .arg = arg };
    int rc = pool_submit(node->pool, a, s_check, s_admitted);
    if (rc != 0) {
        a->rc = vl_err_set(&a->err, rc == VL_ERR_STATE ? VL_ERR_STATE : VL_ERR_LIMIT,
                           "node is busy (%s); retry later", vl_strerror(rc));
        s_finish(a);
    }
}
