/*
 * node_work.c — the node's jobs on the worker pool (net/pool.h): contract
 * executions (endorse, query) and the signature checks of peers' blocks.
 * Each worker owns one contract VM (a VM is used by one thread at a time),
 * built on the worker's thread when the pool starts; the loop thread owns
 * no VM and never runs a contract.
 *
 * The `work` half of a job reads only its own copy of the input, the
 * ledger's thread-safe reads (ledger.h: concurrent with the loop's commits;
 * MVCC at validation catches anything stale) and the thread-safe signature
 * cache; the `done` half runs on the loop thread and calls the caller back.
 */
#include "node_internal.h"

#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "blockview.h"
#include "clock.h"
#include "tx.h"

typedef struct {
    vm_t *vm;                     /* owned: this worker's */
} s_worker_t;

static void *
s_worker_init(void *arg, size_t index)
{
    node_t *node = arg;
    s_worker_t *w = calloc(1, sizeof *w);
    vm_config_t vmc = vm_config_default();
    vmc.gas_max = node->genesis.gas_max;
    if (w && !(w->vm = vm_new(&vmc))) {
        free(w);
        w = NULL;
    }
    return w;
}

static void
s_worker_fini(void *ctx)
{
    s_worker_t *w = ctx;
    if (w) {
        vm_destroy(&w->vm);
        free(w);
    }
}

pool_worker_t
node_work_worker(node_t *node)
{
    return (pool_worker_t) { s_worker_init, s_worker_fini, node };
}

/* --- endorse ----------------------------------------------------------------- */

typedef struct {
    node_t *node;
    uint8_t *bytes;               /* owned */
    size_t len;
    node_endorse_fn cb;
    void *arg;
    int rc;
    endorsement_t en;             /* owned */
    vl_err_t err;
} s_endorse_t;

static void
s_endorse_work(void *job, void *worker_ctx)
{
    s_endorse_t *j = job;
    s_worker_t *w = worker_ctx;
    endorser_ctx_t ctx = { j->node->genesis.chain_id, j->node->key, j->node->ledger, w->vm,
                           j->node->sigcache, vl_wall_ms() };
    j->rc = endorser_endorse(&ctx, j->bytes, j->len, &j->en, &j->err);
}

static void
s_endorse_done(void *job, bool ran)
{
    s_endorse_t *j = job;
    if (!ran)
        j->rc = vl_err_set(&j->err, VL_ERR_STATE, "node is shutting down");
    j->cb(j->arg, j->rc, j->rc == 0 ? &j->en : NULL, &j->err);
    endorsement_clear(&j->en);
    free(j->bytes);
    free(j);
}

int
node_endorse(node_t *node, const uint8_t *bytes, size_t len, node_endorse_fn cb, void *arg)
{
    s_endorse_t *j = calloc(1, sizeof *j);
    uint8_t *copy = j ? malloc(len ? len : 1) : NULL;
    if (!copy) {
        free(j);
        return VL_ERR_NOMEM;
    }
    memcpy(copy, bytes, len);
    *j = (s_endorse_t) { .node = node, .bytes = copy, .len = len, .cb = cb, .arg = arg };
    int rc = pool_submit(node->pool, j, s_endorse_work, s_endorse_done);
    if (rc != 0) {
        free(copy);
        free(j);
    }
    return rc;
}

/* --- query ------------------------------------------------------------------- */

typedef struct {
    node_t *node;
    char *contract, *function, *args;   /* owned */
    node_query_fn cb;
    void *arg;
    vm_result_t result;           /* owned */
} s_query_t;

static void
s_query_work(void *job, void *worker_ctx)
{
    s_query_t *j = job;
    s_worker_t *w = worker_ctx;
    uint8_t txid[VL_HASH_SIZE] = { 0 };
    vm_state_t state = vm_state_of_ledger(j->node->ledger);
    vm_request_t req = { j->contract, j->function, j->args, j->node->did, txid, vl_wall_ms(), 0 };
    vm_execute(w->vm, &state, &req, &j->result);
}

static void
s_query_done(void *job, bool ran)
{
    s_query_t *j = job;
    if (!ran) {
        j->result.status = VL_ERR_STATE;
        snprintf(j->result.error, sizeof j->result.error, "node is shutting down");
    }
    j->cb(j->arg, &j->result);
    vm_result_clear(&j->result);
    free(j->contract);
    free(j->function);
    free(j->args);
    free(j);
}

int
node_query(node_t *node, const char *contract, const char *function, const char *args_json,
           node_query_fn cb, void *arg)
{
    s_query_t *j = calloc(1, sizeof *j);
    if (!j)
        return VL_ERR_NOMEM;
    *j = (s_query_t) { .node = node, .contract = strdup(contract), .function = strdup(function),
                       .args = strdup(args_json), .cb = cb, .arg = arg };
    int rc = j->contract && j->function && j->args ? 0 : VL_ERR_NOMEM;
    if (rc == 0)
        rc = pool_submit(node->pool, j, s_query_work, s_query_done);
    if (rc != 0) {
        free(j->contract);
        free(j->function);
        free(j->args);
        free(j);
    }
    return rc;
}

/* --- signature checks of a peer's block ------------------------------------------ */

typedef struct {
    node_t *node;
    uint8_t *bytes;               /* owned until handed to cb */
    size_t len;
    node_block_fn cb;
    void *arg;
    uint64_t checked;             /* signatures that verified (now cached) */
} s_preverify_t;

static void
s_preverify_work(void *job, void *worker_ctx)
{
    s_preverify_t *j = job;
    node_t *node = j->node;
    block_view_t *view = NULL;
    vl_err_t err;
    if (block_view_new(j->bytes, j->len, node->genesis.chain_id, BLOCK_VIEW_HEADER, &view,
                       &err) != 0)
        return;   /* validation will say what is wrong with it */
    for (size_t i = 0; i < view->n_txs; i++) {
        const ProtobufCBinaryData *t = &view->block->transactions[i];
        Vl__Transaction *tx = vl__transaction__unpack(NULL, t->len, t->data);
        Vl__Proposal *p = tx ? vl__proposal__unpack(NULL, tx->proposal.len, tx->proposal.data)
                             : NULL;
        if (p && sigcache_verify(node->sigcache, p->creator.data, p->creator.len,
                                 tx->proposal.data, tx->proposal.len,
                                 tx->proposal_signature.data, tx->proposal_signature.len))
            j->checked++;
        for (size_t k = 0; p && k < tx->n_endorsements; k++) {
            const Vl__Endorsement *e = tx->endorsements[k];
            if (sigcache_verify(node->sigcache, e->endorser.data, e->endorser.len,
                                tx->result.data, tx->result.len, e->signature.data,
                                e->signature.len))
                j->checked++;
        }
        if (p)
            vl__proposal__free_unpacked(p, NULL);
        if (tx)
            vl__transaction__free_unpacked(tx, NULL);
    }
    j->checked += block_precheck_commit(view->block->commit, &node->genesis.members,
                                        node->sigcache);
    block_view_destroy(&view);
}

static void
s_preverify_done(void *job, bool ran)
{
    s_preverify_t *j = job;
    j->node->sigs_preverified += j->checked;
    if (ran)
        j->cb(j->node, j->bytes, j->len, j->arg);
    else
        free(j->bytes);   /* stopping: the block is pulled again after restart */
    free(j);
}

void
node_preverify_block(node_t *node, uint8_t *bytes, size_t len, node_block_fn cb, void *arg)
{
    s_preverify_t *j = calloc(1, sizeof *j);
    if (j) {
        *j = (s_preverify_t) { .node = node, .bytes = bytes, .len = len, .cb = cb, .arg = arg };
        if (pool_submit(node->pool, j, s_preverify_work, s_preverify_done) == 0)
            return;
        free(j);
    }
    cb(node, bytes, len, arg);   /* validation checks the signatures itself */
}
