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
#include "codec.h"
#include "json.h"
#include "policy.h"
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
    vmc.policy_check = policy_check;
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

static const char *
s_org_name(const node_t *node)
{
    const member_t *me = members_find(&node->genesis.members, vl_key_public(node->key),
                                      VL_PUBKEY_SIZE);
    const org_t *o = genesis_org_of(&node->genesis, me);
    return o ? o->name : node->did;
}

/* Test-only (vledgerd --test-lie-endorse): sign a result this node did not
 * compute — one extra write — so tests can check that the gateway and every
 * replica catch a lying endorser. */
static int
s_lie(node_t *node, endorsement_t *en, vl_err_t *err)
{
    Vl__EndorsedResult *r = vl__endorsed_result__unpack(NULL, en->result_len, en->result);
    if (!r)
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory");
    Vl__WriteItem extra = VL__WRITE_ITEM__INIT, **writes = calloc(r->n_writes + 1, sizeof *writes);
    int rc = writes ? 0 : vl_err_set(err, VL_ERR_NOMEM, "out of memory");
    if (rc == 0) {
        memcpy(writes, r->writes, r->n_writes * sizeof *writes);
        extra.key = "zz/lie";
        extra.value = (ProtobufCBinaryData) { 4, (uint8_t *) "true" };
        writes[r->n_writes] = &extra;
        Vl__WriteItem **orig = r->writes;
        r->writes = writes;
        r->n_writes++;
        size_t len = vl__endorsed_result__get_packed_size(r);
        uint8_t *bytes = malloc(len);
        if (!bytes) {
            rc = vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        } else {
            vl__endorsed_result__pack(r, bytes);
            free(en->result);
            en->result = bytes;
            en->result_len = len;
            rc = vl_key_sign(node->key, bytes, len, en->signature);
        }
        r->writes = orig;
        r->n_writes--;
    }
    free(writes);
    vl__endorsed_result__free_unpacked(r, NULL);
    return rc;
}

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

/* The organisation's rule for contract.function (config_rule_t): the most
 * specific of "contract.function", "contract.*", "*"; NULL when none. */
static const char *
s_rule_for(const node_config_t *c, const char *contract, const char *function)
{
    const char *best = NULL;
    int rank = 0;
    char exact[140], any_fn[140];
    snprintf(exact, sizeof exact, "%s.%s", contract, function);
    snprintf(any_fn, sizeof any_fn, "%s.*", contract);
    for (size_t i = 0; i < c->n_rules; i++) {
        int r = strcmp(c->rules[i].target, exact) == 0    ? 3
                : strcmp(c->rules[i].target, any_fn) == 0 ? 2
                : strcmp(c->rules[i].target, "*") == 0    ? 1
                                                          : 0;
        if (r > rank) {
            rank = r;
            best = c->rules[i].contract;
        }
    }
    return best;
}

/* The context a rule contract's endorse(ctx) judges: the call and what it
 * would do. Canonical JSON text (owned), or NULL. */
static char *
s_rule_ctx(const Vl__Proposal *p, const char *creator, const endorsement_t *en)
{
    Vl__EndorsedResult *r = vl__endorsed_result__unpack(NULL, en->result_len, en->result);
    if (!r)
        return NULL;
    json_t *writes = json_array(), *events = json_array();
    for (size_t i = 0; i < r->n_writes; i++) {
        const Vl__WriteItem *w = r->writes[i];
        json_t *v = w->is_delete ? NULL : json_loadb((const char *) w->value.data, w->value.len,
                                                     JSON_DECODE_ANY, NULL);
        json_array_append_new(writes, json_pack("{s:s, s:b, s:o}", "key", w->key, "deleted",
                                                w->is_delete, "value", v ? v : json_null()));
    }
    for (size_t i = 0; i < r->n_events; i++) {
        json_t *v = json_loads(r->events[i]->payload_json, JSON_DECODE_ANY, NULL);
        json_array_append_new(events, json_pack("{s:s, s:o}", "name", r->events[i]->name,
                                                "payload", v ? v : json_null()));
    }
    json_t *args = json_loads(p->args_json[0] ? p->args_json : "{}", 0, NULL);
    json_t *result = json_loads(en->result_json ? en->result_json : "null", JSON_DECODE_ANY,
                                NULL);
    json_t *ctx = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "contract", p->contract,
                            "function", p->function, "creator", creator, "args",
                            args ? args : json_object(), "result", result ? result : json_null(),
                            "writes", writes, "events", events);
    char *text = ctx ? vl_json_canonical(ctx) : NULL;
    json_decref(ctx);
    vl__endorsed_result__free_unpacked(r, NULL);
    return text;
}

/* Runs this organisation's rule for the proposal, if it has one, against
 * the endorsement the contract produced. 0, or VL_ERR_REFUSED with why. */
static int
s_apply_rule(node_t *node, vm_t *vm, const uint8_t *bytes, size_t len, const endorsement_t *en,
             vl_err_t *err)
{
    Vl__SignedProposal *sp = vl__signed_proposal__unpack(NULL, len, bytes);
    Vl__Proposal *p = sp ? vl__proposal__unpack(NULL, sp->proposal.len, sp->proposal.data) : NULL;
    const char *rule = p ? s_rule_for(&node->config, p->contract, p->function) : NULL;
    int rc = 0;
    if (rule) {
        char creator[VL_DID_BUF];
        vl_did_from_public(p->creator.data, creator);
        char *ctx = s_rule_ctx(p, creator, en);
        vm_state_t state = vm_state_of_ledger(node->ledger);
        vm_request_t req = { rule, "endorse", ctx ? ctx : "{}", node->did, en->txid,
                             p->timestamp_ms, 0 };
        vm_result_t out = { 0 };
        if (!ctx)
            rc = vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        else if (vm_execute(vm, &state, &req, &out) != 0)
            rc = vl_err_set(err, VL_ERR_REFUSED, "organisation '%s' does not endorse %s.%s: its "
                            "rule '%s' says: %s", s_org_name(node), p->contract, p->function,
                            rule, out.error);
        vm_result_clear(&out);
        free(ctx);
    }
    if (p)
        vl__proposal__free_unpacked(p, NULL);
    if (sp)
        vl__signed_proposal__free_unpacked(sp, NULL);
    return rc;
}

static void
s_endorse_work(void *job, void *worker_ctx)
{
    s_endorse_t *j = job;
    s_worker_t *w = worker_ctx;
    endorser_ctx_t ctx = { j->node->genesis.chain_id, j->node->key, j->node->ledger, w->vm,
                           j->node->sigcache, vl_wall_ms(), &j->node->genesis.orgs,
                           j->node->policies };
    j->rc = endorser_endorse(&ctx, j->bytes, j->len, &j->en, &j->err);
    if (j->rc == 0)
        j->rc = s_apply_rule(j->node, w->vm, j->bytes, j->len, &j->en, &j->err);
    if (j->rc == 0 && j->node->config.test_lie_endorse)
        j->rc = s_lie(j->node, &j->en, &j->err);
}

static void
s_endorse_done(void *job, bool ran)
{
    s_endorse_t *j = job;
    if (!ran)
        j->rc = vl_err_set(&j->err, VL_ERR_STATE, "node is shutting down");
    if (j->rc == 0)
        j->node->endorsements_signed++;
    else
        j->node->endorsements_refused++;
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
