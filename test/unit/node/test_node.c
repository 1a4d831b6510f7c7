/*
 * test_node.c — the node's admission path and pool jobs in-process: a real
 * node_t over a dev data directory in a temp dir, its worker pool attached
 * to an evloop this test runs, no client sockets. Admission checks shape
 * and signatures on a worker and enters the mempool on the loop thread;
 * its callback comes before any block is cut (so a commit waiter cannot
 * miss the commit); duplicates (pending, committed), malformed bytes, bad
 * signatures and a full mempool are refused with their codes; the
 * sole validator cuts the admitted tx into a block on its timer; endorse
 * and query run on the workers; the firing rule of time reactors.
 *
 * Waits: the loop runs until a condition holds or a deadline passes
 * (s_run_until), checked by a 1 ms timer; nothing sleeps.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "client.h"
#include "clock.h"
#include "node_internal.h"
#include "node_reactors.h"
#include "tx.h"

typedef struct {
    bool called;
    int rc;
    uint8_t txid[32];
    bool has_txid;
    char msg[VL_ERR_MSG_MAX];
    size_t mempool_at_cb;         /* what the callback saw */
    uint64_t height_at_cb;
    node_t *node;
} s_admit_result_t;

typedef bool (*s_cond_fn)(void *arg);

typedef struct {
    s_cond_fn cond;
    void *arg;
    int64_t deadline_ms;
    bool met;
} s_wait_t;

static int
s_check_cond(evloop_t *loop, int id, void *arg)
{
    s_wait_t *w = arg;
    if (w->cond(w->arg)) {
        w->met = true;
        return -1;
    }
    return vl_mono_ms() > w->deadline_ms ? -1 : 0;
}

/* Runs node's loop until cond(arg) or timeout_ms; true when met. */
static bool
s_run_until(node_t *node, s_cond_fn cond, void *arg, int64_t timeout_ms)
{
    s_wait_t w = { cond, arg, vl_mono_ms() + timeout_ms, false };
    if (cond(arg))
        return true;
    int id = evloop_timer(node->loop, 1, 0, s_check_cond, &w);
    evloop_run(node->loop);
    evloop_timer_end(node->loop, id);
    return w.met;
}

static bool
s_called(void *arg)
{
    return ((s_admit_result_t *) arg)->called;
}

static void
s_admit_cb(void *arg, int rc, const uint8_t *txid, const vl_err_t *err)
{
    s_admit_result_t *r = arg;
    r->called = true;
    r->rc = rc;
    r->has_txid = txid != NULL;
    if (txid)
        memcpy(r->txid, txid, 32);
    snprintf(r->msg, sizeof r->msg, "%s", rc ? err->msg : "");
    r->mempool_at_cb = mempool_count(r->node->mempool);
    r->height_at_cb = ledger_height(r->node->ledger);
}

/* A node over a fresh dev directory with its pool on a loop of ours. */
static node_t *
s_node(char *dir, size_t size, size_t mempool_max, int block_timeout_ms)
{
    char tmp[200];
    if (!check_tmpdir(tmp, sizeof tmp))
        return NULL;
    snprintf(dir, size, "%s/node", tmp);
    node_config_t c;
    vl_err_t err = { "" };
    if (config_dev(dir, &c, &err) != 0)
        return NULL;
    c.mempool_max_txs = mempool_max;
    c.orderer.block_timeout_ms = block_timeout_ms;
    node_t *node = node_new(&c, &err);
    if (!node) {
        fprintf(stderr, "node_new: %s\n", err.msg);
        return NULL;
    }
    node->loop = evloop_new();
    pool_attach(node->pool, node->loop);
    return node;
}

static void
s_node_destroy(node_t **node, const char *dir)
{
    if (!*node)
        return;
    pool_detach((*node)->pool);
    evloop_destroy(&(*node)->loop);
    node_destroy(node);
    char cmd[600];
    size_t n = strlen(dir) - strlen("/node");   /* the test's temp dir: dir's parent */
    snprintf(cmd, sizeof cmd, "rm -rf '%.*s'", (int) n, dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %.*s\n", (int) n, dir);
}

/* identity.register by a fresh user, endorsed by the node's key. */
static uint8_t *
s_register_tx(node_t *node, const char *name, size_t *len)
{
    vl_key_t *user = vl_key_generate();
    json_t *args = json_pack("{s:s, s:s, s:[s]}", "name", name, "org", "dev", "roles", "buyer");
    uint8_t *sp = NULL, txid[32], *tx = NULL;
    size_t sp_len = 0;
    vl_err_t err;
    uint64_t nonce;
    vl_random_bytes(&nonce, sizeof nonce);
    int rc = client_build_proposal(user, node->genesis.chain_id, "identity", "register", args,
                                   nonce, vl_wall_ms(), &sp, &sp_len, txid, &err);
    json_decref(args);
    vm_config_t vmc = vm_config_default();
    vm_t *vm = vm_new(&vmc);
    endorser_ctx_t ctx = { node->genesis.chain_id, node->key, node->ledger, vm, NULL,
                           vl_wall_ms(), &node->genesis.orgs, node->policies };
    endorsement_t en = { 0 };
    if (rc == 0)
        rc = endorser_endorse(&ctx, sp, sp_len, &en, &err);
    if (rc == 0)
        rc = client_build_transaction(sp, sp_len, en.result, en.result_len,
                                      vl_key_public(node->key), VL_PUBKEY_SIZE, en.signature,
                                      VL_SIG_SIZE, &tx, len, &err);
    endorsement_clear(&en);
    vm_destroy(&vm);
    free(sp);
    vl_key_destroy(&user);
    return rc == 0 ? tx : NULL;
}

static s_admit_result_t
s_admit(node_t *node, const uint8_t *bytes, size_t len)
{
    s_admit_result_t r = { .node = node };
    node_admit(node, bytes, len, ADMIT_API, s_admit_cb, &r);
    CHECK(s_run_until(node, s_called, &r, 5000));
    return r;
}

typedef struct {
    node_t *node;
    uint64_t height;
} s_height_t;

static bool
s_reached(void *arg)
{
    s_height_t *h = arg;
    return ledger_height(h->node->ledger) >= h->height;
}

static void
test_admit_then_cut(void)
{
    char dir[256];
    node_t *node = s_node(dir, sizeof dir, 100, 20);
    CHECK(node != NULL);
    if (!node)
        return;
    size_t len = 0;
    uint8_t *tx = s_register_tx(node, "Ada", &len);
    CHECK(tx != NULL);
    s_admit_result_t r = s_admit(node, tx, len);
    CHECK_EQ(r.rc, 0);
    uint8_t want[32];
    tx_id(tx, len, want);
    CHECK(r.has_txid && memcmp(r.txid, want, 32) == 0);
    /* The callback comes after the mempool took it, before any cut. */
    CHECK_EQ(r.mempool_at_cb, 1);
    CHECK_EQ(r.height_at_cb, 0);
    /* Pending: refused as a duplicate. */
    s_admit_result_t again = s_admit(node, tx, len);
    CHECK_EQ(again.rc, VL_ERR_EXISTS);
    CHECK_CONTAINS(again.msg, "already pending");
    /* The sole validator cuts it on its timer. */
    node_schedule_cut(node);
    s_height_t h = { node, 1 };
    CHECK(s_run_until(node, s_reached, &h, 5000));
    CHECK_EQ(mempool_count(node->mempool), 0);
    ledger_tx_info_t info;
    CHECK_EQ(ledger_tx_get(node->ledger, want, &info), 0);
    CHECK_EQ(info.code, VL__TX_CODE__TX_VALID);
    /* Committed: refused as a duplicate with where it landed. */
    s_admit_result_t late = s_admit(node, tx, len);
    CHECK_EQ(late.rc, VL_ERR_EXISTS);
    CHECK_CONTAINS(late.msg, "already committed in block 1");
    free(tx);
    s_node_destroy(&node, dir);
}

static void
test_admit_refusals(void)
{
    char dir[256];
    node_t *node = s_node(dir, sizeof dir, 1, 60000);   /* one slot; no cut in this test */
    CHECK(node != NULL);
    if (!node)
        return;
    s_admit_result_t r = s_admit(node, (const uint8_t *) "garbage", 7);
    CHECK_EQ(r.rc, VL_ERR_INVALID);
    CHECK(!r.has_txid);
    size_t len = 0;
    uint8_t *tx = s_register_tx(node, "Bea", &len);
    /* Flip a byte of the creator's signature: shape fine, signature not. */
    Vl__Transaction *t = vl__transaction__unpack(NULL, len, tx);
    CHECK(t != NULL);
    if (t) {
        t->proposal_signature.data[0] ^= 1;
        size_t bad_len = vl__transaction__get_packed_size(t);
        uint8_t *bad = malloc(bad_len);
        vl__transaction__pack(t, bad);
        r = s_admit(node, bad, bad_len);
        CHECK_EQ(r.rc, VL_ERR_SIGNATURE);
        CHECK_CONTAINS(r.msg, "creator signature");
        free(bad);
        vl__transaction__free_unpacked(t, NULL);
    }
    CHECK_EQ(mempool_count(node->mempool), 0);
    r = s_admit(node, tx, len);
    CHECK_EQ(r.rc, 0);
    size_t len2 = 0;
    uint8_t *tx2 = s_register_tx(node, "Cy", &len2);
    r = s_admit(node, tx2, len2);
    CHECK_EQ(r.rc, VL_ERR_LIMIT);
    CHECK_CONTAINS(r.msg, "mempool is full");
    CHECK_EQ(mempool_count(node->mempool), 1);
    free(tx);
    free(tx2);
    s_node_destroy(&node, dir);
}

typedef struct {
    node_t *node;
    bool called;
    int rc;
    bool verifies;
    char result_json[64];
} s_endorse_result_t;

static bool
s_endorse_called(void *arg)
{
    return ((s_endorse_result_t *) arg)->called;
}

static void
s_endorse_cb(void *arg, int rc, const endorsement_t *en, const vl_err_t *err)
{
    s_endorse_result_t *r = arg;
    r->called = true;
    r->rc = rc;
    if (rc == 0)
        r->verifies = vl_verify(vl_key_public(r->node->key), en->result, en->result_len,
                                en->signature);
}

static void
s_query_cb(void *arg, const vm_result_t *out)
{
    s_endorse_result_t *r = arg;
    r->called = true;
    r->rc = out->status;
    snprintf(r->result_json, sizeof r->result_json, "%s",
             out->result_json ? out->result_json : "");
}

static void
test_endorse_and_query_on_workers(void)
{
    char dir[256];
    node_t *node = s_node(dir, sizeof dir, 100, 60000);
    CHECK(node != NULL);
    if (!node)
        return;
    CHECK(pool_threads(node->pool) >= 1);
    vl_key_t *user = vl_key_generate();
    json_t *args = json_pack("{s:s, s:s, s:[s]}", "name", "Dee", "org", "dev", "roles", "buyer");
    uint8_t *sp = NULL, txid[32];
    size_t sp_len = 0;
    vl_err_t err;
    CHECK_EQ(client_build_proposal(user, node->genesis.chain_id, "identity", "register", args, 1,
                                   vl_wall_ms(), &sp, &sp_len, txid, &err), 0);
    json_decref(args);
    s_endorse_result_t r = { .node = node };
    CHECK_EQ(node_endorse(node, sp, sp_len, s_endorse_cb, &r), 0);
    CHECK(s_run_until(node, s_endorse_called, &r, 5000));
    CHECK_EQ(r.rc, 0);
    CHECK(r.verifies);
    /* A refusal comes back with the contract's code. */
    s_endorse_result_t bad = { .node = node };
    CHECK_EQ(node_endorse(node, (const uint8_t *) "x", 1, s_endorse_cb, &bad), 0);
    CHECK(s_run_until(node, s_endorse_called, &bad, 5000));
    CHECK_EQ(bad.rc, VL_ERR_INVALID);
    s_endorse_result_t q = { .node = node };
    CHECK_EQ(node_query(node, "identity", "get", "{\"did\":\"did:vl:none\"}", s_query_cb, &q), 0);
    CHECK(s_run_until(node, s_endorse_called, &q, 5000));
    CHECK_EQ(q.rc, 0);
    CHECK_STR(q.result_json, "null");
    s_endorse_result_t nf = { .node = node };
    CHECK_EQ(node_query(node, "no_such_contract", "get", "{}", s_query_cb, &nf), 0);
    CHECK(s_run_until(node, s_endorse_called, &nf, 5000));
    CHECK_EQ(nf.rc, VL_ERR_NOT_FOUND);
    free(sp);
    vl_key_destroy(&user);
    s_node_destroy(&node, dir);
}

/* A time rule fires once for the block whose time passes at (or the latest
 * repeat), never for a block before it or for a time an earlier block
 * passed already. */
static void
test_time_rule_due(void)
{
    CHECK_EQ(node_reactors_due(1000, 0, 500, 999), -1);      /* not yet */
    CHECK_EQ(node_reactors_due(1000, 0, 500, 1000), 1000);   /* reached exactly */
    CHECK_EQ(node_reactors_due(1000, 0, 999, 5000), 1000);
    CHECK_EQ(node_reactors_due(1000, 0, 1000, 5000), -1);    /* the previous block passed it */
    CHECK_EQ(node_reactors_due(1000, 0, 4000, 5000), -1);
    /* repeats: the latest one passed, once */
    CHECK_EQ(node_reactors_due(1000, 1000, 500, 1500), 1000);
    CHECK_EQ(node_reactors_due(1000, 1000, 1500, 1999), -1);
    CHECK_EQ(node_reactors_due(1000, 1000, 1500, 2000), 2000);
    CHECK_EQ(node_reactors_due(1000, 1000, 1500, 7400), 7000);   /* a long gap: one firing */
    CHECK_EQ(node_reactors_due(1000, 1000, 7000, 7999), -1);
    /* never before at, whatever the previous block's time */
    CHECK_EQ(node_reactors_due(1000, 1000, -1, 999), -1);
    /* nonsense rules never fire */
    CHECK_EQ(node_reactors_due(0, 0, 0, 5000), -1);
    CHECK_EQ(node_reactors_due(1000, -5, 0, 5000), -1);
}

int
main(void)
{
    RUN(test_time_rule_due);
    RUN(test_admit_then_cut);
    RUN(test_admit_refusals);
    RUN(test_endorse_and_query_on_workers);
    return check_done();
}
