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
 * Admissions are batched: the ones arriving in one loop iteration (up to
 * ADMIT_BATCH_MAX) go to the pool as one job, flushed by a zero-delay timer
 * at the end of the iteration. A job per transaction cost a queue handoff,
 * a worker wake-up and a completion wake-up each (several syscalls, each a
 * hypervisor round trip on the hosts we measure on) for ~100 us of curve
 * checks.
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

struct node_admit_batch {
    node_t *node;
    s_admit_t *items[ADMIT_BATCH_MAX];
    size_t n;
};

static void
s_check_one(s_admit_t *a)
{
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
s_check(void *job, void *worker_ctx)
{
    node_admit_batch_t *b = job;
    for (size_t i = 0; i < b->n; i++)
        s_check_one(b->items[i]);
}

/* The loop-thread half of one admission; true when it entered the pool. */
static bool
s_admitted_one(s_admit_t *a, bool ran)
{
    node_t *node = a->node;
    if (!ran)
        a->rc = vl_err_set(&a->err, VL_ERR_STATE, "node is shutting down");
    else if (a->rc == 0 && node_failed(node))
        a->rc = vl_err_set(&a->err, VL_ERR_STATE, "node stopped after a failure");
    else if (a->rc == 0)
        a->rc = s_enter(a);
    bool added = ran && a->rc == 0;
    s_finish(a);
    return added;
}

static void
s_admitted(void *job, bool ran)
{
    node_admit_batch_t *b = job;
    node_t *node = b->node;
    bool added = false;
    for (size_t i = 0; i < b->n; i++)
        added |= s_admitted_one(b->items[i], ran);
    free(b);
    if (added)
        node_schedule_cut(node);
}

/* Hands the batch being filled to the pool. */
static void
s_flush(node_t *node)
{
    node_admit_batch_t *b = node->admit_batch;
    node->admit_batch = NULL;
    if (!b)
        return;
    int rc = pool_submit(node->pool, b, s_check, s_admitted);
    if (rc == 0)
        return;
    for (size_t i = 0; i < b->n; i++) {
        s_admit_t *a = b->items[i];
        a->rc = vl_err_set(&a->err, rc == VL_ERR_STATE ? VL_ERR_STATE : VL_ERR_LIMIT,
                           "node is busy (%s); retry later", vl_strerror(rc));
        s_finish(a);
    }
    free(b);
}

static int
s_on_flush(evloop_t *loop, int timer_id, void *arg)
{
    node_t *node = arg;
    node->admit_timer = -1;
    s_flush(node);
    return 0;
}

void
node_admit_flush(node_t *node)
{
    if (node->admit_timer >= 0 && node->loop)
        evloop_timer_end(node->loop, node->admit_timer);
    node->admit_timer = -1;
    s_flush(node);
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
    if (len)
        memcpy(copy, bytes, len);
    *a = (s_admit_t) { .node = node, .bytes = copy, .len = len, .source = source, .cb = cb,
                       .arg = arg };
    if (!node->admit_batch) {
        node->admit_batch = calloc(1, sizeof *node->admit_batch);
        if (!node->admit_batch) {
            a->rc = vl_err_set(&a->err, VL_ERR_NOMEM, "out of memory");
            s_finish(a);
            return;
        }
        node->admit_batch->node = node;
    }
    node->admit_batch->items[node->admit_batch->n++] = a;
    if (node->admit_batch->n == ADMIT_BATCH_MAX || !node->loop)
        node_admit_flush(node);
    else if (node->admit_timer < 0)
        node->admit_timer = evloop_timer(node->loop, 0, 1, s_on_flush, node);
    if (node->admit_batch && node->admit_timer < 0)
        node_admit_flush(node);   /* no timer to be had: do not hold it */
}
