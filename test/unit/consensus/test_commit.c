/*
 * test_commit.c — the commit pipeline (consensus/commit.h) against real
 * ledgers: a "source" ledger where a chain is built and committed the
 * ordinary way, and a replica (same genesis) that receives those blocks
 * through commit_block / commit_offer / commit_drain, as a node does from
 * its orderer, from gossip and while catching up.
 *
 * Write counts come from the store's write hook (ledger/store.h): a pulled
 * run is one synced write, a block by gossip one write each.
 */
#include <stdlib.h>

#include "chain_fixture.h"
#include "check.h"
#include "codec.h"
#include "blockview.h"
#include "commit.h"
#include "mempool.h"
#include "store.h"
#include "tx.h"

#define CHAIN_MAX 8

/* A chain of blocks 1..n built on the fixture's ledger, each with one tx
 * that reads the previous block's key and writes its own, kept as stored
 * bytes with the state hash after each block. */
typedef struct {
    size_t n;
    uint8_t *bytes[CHAIN_MAX + 1];     /* [h], owned */
    size_t len[CHAIN_MAX + 1];
    uint8_t state[CHAIN_MAX + 1][32];  /* state hash after block h */
    uint8_t txid[CHAIN_MAX + 1][32];   /* the tx of block h */
    uint8_t *tx[CHAIN_MAX + 1];        /* owned: the tx of block h */
    size_t tx_len[CHAIN_MAX + 1];
} chain_t;

static void
s_chain(fixture_t *f, chain_t *c, size_t n)
{
    memset(c, 0, sizeof *c);
    c->n = n;
    for (size_t h = 1; h <= n; h++) {
        char key[16], prev[16];
        snprintf(key, sizeof key, "k%zu", h);
        snprintf(prev, sizeof prev, "k%zu", h - 1);
        fx_read_t r = { prev, h > 1, { h - 1, 0 } };
        c->tx[h] = fx_tx(f, &(fx_tx_t) { .nonce = 100 + h, .reads = &r, .n_reads = 1,
                                         .write_key = key, .write_value = "v" },
                         &c->tx_len[h]);
        tx_id(c->tx[h], c->tx_len[h], c->txid[h]);
        size_t blen;
        uint8_t *block = fx_next_block(f, &c->tx[h], &c->tx_len[h], 1, &blen);
        int code = -1;
        CHECK_EQ(fx_commit(f, block, blen, &code), 0);
        CHECK_EQ(code, VL__TX_CODE__TX_VALID);
        free(block);
        CHECK_EQ(ledger_block_get(f->ledger, h, &c->bytes[h], &c->len[h]), 0);
        memcpy(c->state[h], ledger_state_hash(f->ledger), 32);
    }
}

static void
s_chain_free(chain_t *c)
{
    for (size_t h = 0; h <= CHAIN_MAX; h++) {
        free(c->bytes[h]);
        free(c->tx[h]);
    }
}

/* A malloc'd copy of block h, for commit_offer (which takes it). */
static uint8_t *
s_copy(const chain_t *c, uint64_t h)
{
    uint8_t *p = malloc(c->len[h]);
    memcpy(p, c->bytes[h], c->len[h]);
    return p;
}

/* Block bytes without their commit certificate (malloc'd). */
static uint8_t *
s_strip_certificate(const uint8_t *bytes, size_t len, size_t *out_len)
{
    Vl__Block *b = vl__block__unpack(NULL, len, bytes);
    CHECK(b != NULL);
    Vl__Commit *keep = b->commit;
    b->commit = NULL;
    *out_len = vl__block__get_packed_size(b);
    uint8_t *out = malloc(*out_len);
    vl__block__pack(b, out);
    b->commit = keep;
    vl__block__free_unpacked(b, NULL);
    return out;
}

/* --- Subscribers that record what they saw ------------------------------- */

#define EVENTS_MAX 16

typedef struct {
    int order;                 /* global call sequence number */
    uint64_t height;
    uint8_t state[32];
    uint8_t block_hash[32];
    commit_source_t source;
    size_t n_valid;
    uint64_t ledger_height;    /* the ledger's tip while the subscriber ran */
    bool txs_in_mempool;       /* any of the block's txs still pending then */
} seen_t;

typedef struct {
    int *clock;                /* shared sequence counter */
    ledger_t *ledger;
    mempool_t *mempool;
    size_t n;
    seen_t ev[EVENTS_MAX];
} sub_t;

static void
s_record(void *arg, const commit_event_t *e)
{
    sub_t *s = arg;
    if (s->n == EVENTS_MAX)
        return;
    seen_t *x = &s->ev[s->n++];
    x->order = (*s->clock)++;
    x->height = e->block->commit.height;
    memcpy(x->state, e->state_hash, 32);
    memcpy(x->block_hash, e->block->view->hash, 32);
    x->source = e->source;
    x->n_valid = e->block->n_valid;
    x->ledger_height = ledger_height(s->ledger);
    x->txs_in_mempool = false;
    for (size_t i = 0; s->mempool && i < e->block->view->n_txs; i++)
        x->txs_in_mempool |= mempool_contains(s->mempool, e->block->view->txids[i]);
}

typedef struct {
    int writes;
} write_count_t;

static int
s_count_write(void *arg)
{
    ((write_count_t *) arg)->writes++;
    return 0;
}

/* A replica with a pipeline, a mempool and two recording subscribers. */
typedef struct {
    char dir[256];
    ledger_t *ledger;
    mempool_t *mempool;
    commit_t *commit;
    int clock;
    sub_t a, b;
    write_count_t wc;
} node_t;

static void
s_node(fixture_t *f, node_t *n)
{
    memset(n, 0, sizeof *n);
    n->ledger = fx_replica(f, n->dir);
    n->mempool = mempool_new(100, 1 << 20);
    commit_config_t cfg = { .ledger = n->ledger, .chain_id = FX_CHAIN, .members = &f->g.members,
                           .sigcache = f->cache, .mempool = n->mempool };
    n->commit = commit_new(&cfg);
    CHECK(n->commit != NULL);
    n->a = (sub_t) { &n->clock, n->ledger, n->mempool, 0, { { 0 } } };
    n->b = (sub_t) { &n->clock, n->ledger, n->mempool, 0, { { 0 } } };
    CHECK_EQ(commit_subscribe(n->commit, s_record, &n->a), 0);
    CHECK_EQ(commit_subscribe(n->commit, s_record, &n->b), 0);
    store_set_write_hook(ledger_store(n->ledger), s_count_write, &n->wc);
}

static void
s_node_done(node_t *n)
{
    commit_destroy(&n->commit);
    CHECK(n->commit == NULL);
    commit_destroy(&n->commit);   /* NULL: no-op */
    mempool_destroy(&n->mempool);
    fx_replica_close(&n->ledger, n->dir);
}

/* The ledger's tip: its last block hash and the state after it. */
static void
s_tip(ledger_t *ledger, uint8_t hash[32], uint8_t state[32])
{
    memcpy(hash, ledger_last_hash(ledger), 32);
    memcpy(state, ledger_state_hash(ledger), 32);
}

static void
s_pend(node_t *n, const uint8_t *tx, size_t len)
{
    uint8_t txid[32];
    tx_id(tx, len, txid);
    uint8_t *copy = malloc(len);
    memcpy(copy, tx, len);
    CHECK_EQ(mempool_add(n->mempool, txid, &copy, len, 0, 0), 0);
}

/* --- Cases --------------------------------------------------------------- */

/* A valid block commits: the tip moves, its txs leave the mempool (before
 * the subscribers run), each subscriber is called once, in subscription
 * order, with the block and the state hash after it. */
static void
test_commit_block_valid(void)
{
    fixture_t f;
    fx_open(&f);
    chain_t c;
    s_chain(&f, &c, 2);
    node_t n;
    s_node(&f, &n);
    size_t other_len;
    uint8_t *other = fx_tx(&f, &(fx_tx_t) { .nonce = 999, .write_key = "o", .write_value = "1" },
                           &other_len);
    s_pend(&n, c.tx[1], c.tx_len[1]);
    s_pend(&n, other, other_len);
    vl_err_t err = { "" };

    CHECK_EQ(commit_block(n.commit, c.bytes[1], c.len[1], COMMIT_LOCAL, &err), 0);
    CHECK_EQ(ledger_height(n.ledger), 1);
    CHECK(memcmp(ledger_state_hash(n.ledger), c.state[1], 32) == 0);
    CHECK_EQ(n.a.n, 1);
    CHECK_EQ(n.b.n, 1);
    CHECK(n.a.ev[0].order < n.b.ev[0].order);
    CHECK_EQ(n.a.ev[0].height, 1);
    CHECK(memcmp(n.a.ev[0].state, c.state[1], 32) == 0);
    CHECK(memcmp(n.b.ev[0].state, c.state[1], 32) == 0);
    CHECK_EQ(n.a.ev[0].source, COMMIT_LOCAL);
    CHECK_EQ(n.a.ev[0].n_valid, 1);
    CHECK_EQ(n.a.ev[0].ledger_height, 1);      /* durable before anyone hears of it */
    CHECK(!n.a.ev[0].txs_in_mempool);          /* the mempool was cleaned first */
    CHECK(!mempool_contains(n.mempool, c.txid[1]));
    uint8_t other_id[32];
    tx_id(other, other_len, other_id);
    CHECK(mempool_contains(n.mempool, other_id));   /* not in the block: stays */
    CHECK_EQ(mempool_count(n.mempool), 1);
    CHECK_EQ(n.wc.writes, 1);
    CHECK_EQ(commit_stats(n.commit)->committed_remote, 0);   /* local blocks are not remote */
    CHECK(!commit_failed(n.commit));

    /* A peer's block counts as committed_remote and reports its source. */
    CHECK_EQ(commit_block(n.commit, c.bytes[2], c.len[2], COMMIT_GOSSIP, &err), 0);
    CHECK_EQ(ledger_height(n.ledger), 2);
    CHECK_EQ(n.a.n, 2);
    CHECK_EQ(n.b.n, 2);
    CHECK(n.a.ev[1].order < n.b.ev[1].order && n.b.ev[0].order < n.a.ev[1].order);
    CHECK_EQ(n.b.ev[1].source, COMMIT_GOSSIP);
    CHECK(memcmp(n.b.ev[1].state, c.state[2], 32) == 0);
    CHECK_EQ(commit_stats(n.commit)->committed_remote, 1);
    CHECK_EQ(commit_stats(n.commit)->rejected, 0);

    free(other);
    s_node_done(&n);
    s_chain_free(&c);
    fx_close(&f);
}

/* A refused block changes nothing: tip, state, mempool, subscribers; it is
 * counted as rejected when it came from a peer; the pipeline goes on. */
static void
test_commit_block_refused(void)
{
    fixture_t f;
    fx_open(&f);
    chain_t c;
    s_chain(&f, &c, 1);
    node_t n;
    s_node(&f, &n);
    s_pend(&n, c.tx[1], c.tx_len[1]);
    uint8_t genesis_hash[32], genesis_state[32];
    s_tip(n.ledger, genesis_hash, genesis_state);
    const uint8_t *prev = genesis_hash, *state = genesis_state;
    uint8_t bogus[32] = { 7 };
    struct {
        fx_block_t b;
        int rc;
        const char *msg;
    } bad[] = {
        { { 1, prev, state, 5, false, false, true }, VL_ERR_SIGNATURE, "validator signatures" },
        { { 1, prev, state, 5, true, false, false }, VL_ERR_SIGNATURE, "no commit certificate" },
        { { 2, prev, state, 5, false, false, false }, VL_ERR_STATE, "expected 1" },
        { { 1, prev, state, 5, false, true, false }, VL_ERR_INVALID, "data hash" },
        { { 1, bogus, state, 5, false, false, false }, VL_ERR_INVALID, "does not extend" },
        /* a different state hash without a certificate is anyone's forgery */
        { { 1, prev, bogus, 5, true, false, false }, VL_ERR_SIGNATURE, "no commit certificate" },
    };
    uint64_t rejected = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len;
        uint8_t *block = fx_block(&f, &bad[i].b, &c.tx[1], &c.tx_len[1], 1, &len);
        commit_source_t src = i % 2 ? COMMIT_LOCAL : COMMIT_GOSSIP;
        vl_err_t err = { "" };
        CHECK_EQ(commit_block(n.commit, block, len, src, &err), bad[i].rc);
        CHECK_CONTAINS(err.msg, bad[i].msg);
        if (src != COMMIT_LOCAL)
            rejected++;
        CHECK_EQ(commit_stats(n.commit)->rejected, rejected);
        CHECK_EQ(ledger_height(n.ledger), 0);
        CHECK(memcmp(ledger_state_hash(n.ledger), genesis_state, 32) == 0);
        CHECK_EQ(n.a.n + n.b.n, 0);
        CHECK(mempool_contains(n.mempool, c.txid[1]));
        CHECK(!commit_failed(n.commit));
        free(block);
    }
    CHECK_EQ(rejected, 3);
    CHECK_EQ(n.wc.writes, 0);
    CHECK_EQ(commit_stats(n.commit)->committed_remote, 0);
    vl_err_t err = { "" };
    CHECK_EQ(commit_block(n.commit, (const uint8_t *) "junk", 4, COMMIT_PULLED, &err),
             VL_ERR_INVALID);
    CHECK_EQ(commit_stats(n.commit)->rejected, 4);
    /* The genuine block still commits afterwards. */
    CHECK_EQ(commit_block(n.commit, c.bytes[1], c.len[1], COMMIT_GOSSIP, &err), 0);
    CHECK_EQ(ledger_height(n.ledger), 1);
    CHECK_EQ(n.a.n, 1);
    s_node_done(&n);
    s_chain_free(&c);
    fx_close(&f);
}

/* What a validator judged before the certificate existed (validate_header
 * and validate_txs against its tip), the way node_bft keeps it. */
static validated_block_t *
s_judge(fixture_t *f, node_t *n, const uint8_t *bytes, size_t len)
{
    validate_ctx_t ctx = { n->ledger, FX_CHAIN, &f->g.members, f->cache, NULL, NULL };
    validate_run_t *run = validate_run_new(n->ledger);
    block_view_t *view = NULL;
    validated_block_t *vb = NULL;
    vl_err_t err = { "" };
    CHECK_EQ(block_view_new(bytes, len, FX_CHAIN, BLOCK_VIEW_PARSE_TXS, &view, &err), 0);
    CHECK_EQ(validate_header(&ctx, run, view, &err), 0);
    CHECK_EQ(validate_txs(&ctx, run, &view, bytes, len, &vb, &err), 0);
    validate_run_destroy(&run);
    return vb;
}

/* A judged block commits with only its certificate checked, from the
 * sealed bytes (stored as such); sealed bytes of another block, a bad
 * certificate, or a tip that moved since the judgement change nothing and
 * say why (VL_ERR_STATE: the caller validates afresh). The judgement is
 * consumed every time. */
static void
test_commit_block_judged(void)
{
    fixture_t f;
    fx_open(&f);
    chain_t c;
    s_chain(&f, &c, 2);
    node_t n;
    s_node(&f, &n);
    s_pend(&n, c.tx[1], c.tx_len[1]);
    uint8_t genesis_hash[32], genesis_state[32];
    s_tip(n.ledger, genesis_hash, genesis_state);
    fx_block_t hb = { 1, genesis_hash, genesis_state, FX_GENESIS_MS + 100, true, false, false };
    size_t proposal_len, forged_len;
    uint8_t *proposal = fx_block(&f, &hb, &c.tx[1], &c.tx_len[1], 1, &proposal_len);
    hb.no_certificate = false;
    hb.bad_certificate = true;
    uint8_t *forged = fx_block(&f, &hb, &c.tx[1], &c.tx_len[1], 1, &forged_len);
    vl_err_t err = { "" };

    validated_block_t *vb = s_judge(&f, &n, proposal, proposal_len);
    CHECK_EQ(commit_block_judged(n.commit, &vb, c.bytes[2], c.len[2], COMMIT_LOCAL, &err),
             VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "not the judged block 1");
    CHECK(vb == NULL);
    vb = s_judge(&f, &n, proposal, proposal_len);
    CHECK_EQ(commit_block_judged(n.commit, &vb, forged, forged_len, COMMIT_LOCAL, &err),
             VL_ERR_SIGNATURE);
    vb = s_judge(&f, &n, proposal, proposal_len);
    CHECK_EQ(commit_block_judged(n.commit, &vb, proposal, proposal_len, COMMIT_LOCAL, &err),
             VL_ERR_SIGNATURE);
    CHECK_CONTAINS(err.msg, "no commit certificate");
    CHECK_EQ(ledger_height(n.ledger), 0);
    CHECK_EQ(n.a.n + n.b.n, 0);
    CHECK_EQ(n.wc.writes, 0);
    CHECK(mempool_contains(n.mempool, c.txid[1]));

    vb = s_judge(&f, &n, proposal, proposal_len);
    validated_block_t *stale = s_judge(&f, &n, proposal, proposal_len);
    CHECK_EQ(commit_block_judged(n.commit, &vb, c.bytes[1], c.len[1], COMMIT_LOCAL, &err), 0);
    CHECK(vb == NULL);
    CHECK_EQ(ledger_height(n.ledger), 1);
    CHECK(memcmp(ledger_state_hash(n.ledger), c.state[1], 32) == 0);
    CHECK_EQ(n.a.n, 1);
    CHECK_EQ(n.a.ev[0].n_valid, 1);
    CHECK(!mempool_contains(n.mempool, c.txid[1]));
    CHECK_EQ(n.wc.writes, 1);
    uint8_t *stored = NULL;
    size_t stored_len = 0;
    CHECK_EQ(ledger_block_get(n.ledger, 1, &stored, &stored_len), 0);
    CHECK(stored_len == c.len[1] && memcmp(stored, c.bytes[1], stored_len) == 0);
    free(stored);

    /* Judged against genesis; the tip is block 1 now. */
    CHECK_EQ(commit_block_judged(n.commit, &stale, c.bytes[1], c.len[1], COMMIT_LOCAL, &err),
             VL_ERR_STATE);
    CHECK(stale == NULL);
    CHECK_EQ(ledger_height(n.ledger), 1);
    CHECK_EQ(n.a.n, 1);
    CHECK(!commit_failed(n.commit));
    /* The next block still commits the ordinary way. */
    CHECK_EQ(commit_block(n.commit, c.bytes[2], c.len[2], COMMIT_LOCAL, &err), 0);
    CHECK_EQ(ledger_height(n.ledger), 2);
    free(proposal);
    free(forged);
    s_node_done(&n);
    s_chain_free(&c);
    fx_close(&f);
}

/* commit_offer's answers, and it always takes the bytes (ASan/valgrind
 * would report a leak or a double free otherwise). */
static void
test_commit_offer(void)
{
    fixture_t f;
    fx_open(&f);
    chain_t c;
    s_chain(&f, &c, 2);
    node_t n;
    s_node(&f, &n);
    vl_err_t err = { "" };
    CHECK_EQ(commit_block(n.commit, c.bytes[1], c.len[1], COMMIT_GOSSIP, &err), 0);
    uint64_t h = 99;

    /* At or below the tip. */
    uint8_t *p = s_copy(&c, 1);
    CHECK_EQ(commit_offer(n.commit, &p, c.len[1], COMMIT_GOSSIP, &h), VL_ERR_EXISTS);
    CHECK(p == NULL);
    CHECK_EQ(h, 1);
    size_t glen;
    CHECK_EQ(ledger_block_get(n.ledger, 0, &p, &glen), 0);
    CHECK_EQ(commit_offer(n.commit, &p, glen, COMMIT_PULLED, &h), VL_ERR_EXISTS);
    CHECK(p == NULL);
    CHECK_EQ(h, 0);

    /* Not a block: no header. */
    p = (uint8_t *) strdup("not a block at all");
    h = 99;
    CHECK_EQ(commit_offer(n.commit, &p, 18, COMMIT_GOSSIP, &h), VL_ERR_INVALID);
    CHECK(p == NULL);
    CHECK_EQ(h, 0);
    p = malloc(1);
    CHECK_EQ(commit_offer(n.commit, &p, 0, COMMIT_GOSSIP, NULL), VL_ERR_INVALID);
    CHECK(p == NULL);

    /* The window: tip+1 .. tip+COMMIT_WINDOW (tip is 1). */
    uint8_t zero[32] = { 0 };
    size_t len;
    p = fx_block(&f, &(fx_block_t) { 1 + COMMIT_WINDOW + 1, zero, zero, 5, false, false, false },
                 NULL, NULL, 0, &len);
    CHECK_EQ(commit_offer(n.commit, &p, len, COMMIT_GOSSIP, &h), VL_ERR_LIMIT);
    CHECK(p == NULL);
    CHECK_EQ(h, 1 + COMMIT_WINDOW + 1);
    p = fx_block(&f, &(fx_block_t) { 1 + COMMIT_WINDOW, zero, zero, 5, false, false, false },
                 NULL, NULL, 0, &len);
    CHECK_EQ(commit_offer(n.commit, &p, len, COMMIT_GOSSIP, &h), 0);
    CHECK(p == NULL);
    CHECK_EQ(h, 1 + COMMIT_WINDOW);

    /* An equal height already waiting keeps the first copy: a broken copy
     * offered second does not displace the genuine one ... */
    p = s_copy(&c, 2);
    CHECK_EQ(commit_offer(n.commit, &p, c.len[2], COMMIT_GOSSIP, &h), 0);
    CHECK(p == NULL);
    size_t bad_len;
    p = s_strip_certificate(c.bytes[2], c.len[2], &bad_len);
    CHECK_EQ(commit_offer(n.commit, &p, bad_len, COMMIT_GOSSIP, &h), 0);
    CHECK(p == NULL);
    CHECK_EQ(h, 2);
    CHECK_EQ(n.wc.writes, 1);
    CHECK_EQ(commit_drain(n.commit), 1);
    CHECK_EQ(ledger_height(n.ledger), 2);
    CHECK_EQ(commit_stats(n.commit)->rejected, 0);
    /* The far block waits in the window (a gap) and is freed by destroy. */
    CHECK_EQ(commit_drain(n.commit), 0);
    s_node_done(&n);

    /* ... and a broken copy offered first is not replaced by the genuine one:
     * drain refuses it and the height stays open. */
    s_node(&f, &n);
    p = s_strip_certificate(c.bytes[1], c.len[1], &bad_len);
    CHECK_EQ(commit_offer(n.commit, &p, bad_len, COMMIT_GOSSIP, &h), 0);
    p = s_copy(&c, 1);
    CHECK_EQ(commit_offer(n.commit, &p, c.len[1], COMMIT_GOSSIP, &h), 0);
    CHECK_EQ(commit_drain(n.commit), 0);
    CHECK_EQ(ledger_height(n.ledger), 0);
    CHECK_EQ(commit_stats(n.commit)->rejected, 1);
    CHECK(!commit_failed(n.commit));
    /* The refused slot was emptied: the genuine copy is taken now. */
    p = s_copy(&c, 1);
    CHECK_EQ(commit_offer(n.commit, &p, c.len[1], COMMIT_GOSSIP, &h), 0);
    CHECK_EQ(commit_drain(n.commit), 1);
    CHECK_EQ(ledger_height(n.ledger), 1);
    s_node_done(&n);
    s_chain_free(&c);
    fx_close(&f);
}

/* Gossip blocks arriving out of order commit in height order, one write
 * each, once the gap closes. */
static void
test_commit_drain_order(void)
{
    fixture_t f;
    fx_open(&f);
    chain_t c;
    s_chain(&f, &c, 5);
    node_t n;
    s_node(&f, &n);
    uint64_t order[] = { 3, 2, 5, 4 };
    for (size_t i = 0; i < 4; i++) {
        uint8_t *p = s_copy(&c, order[i]);
        CHECK_EQ(commit_offer(n.commit, &p, c.len[order[i]], COMMIT_GOSSIP, NULL), 0);
        CHECK_EQ(commit_drain(n.commit), 0);   /* block 1 is missing */
    }
    CHECK_EQ(ledger_height(n.ledger), 0);
    uint8_t *p = s_copy(&c, 1);
    CHECK_EQ(commit_offer(n.commit, &p, c.len[1], COMMIT_GOSSIP, NULL), 0);
    CHECK_EQ(commit_drain(n.commit), 5);
    CHECK_EQ(ledger_height(n.ledger), 5);
    CHECK(memcmp(ledger_state_hash(n.ledger), c.state[5], 32) == 0);
    CHECK_EQ(n.a.n, 5);
    for (size_t i = 0; i < n.a.n; i++) {
        CHECK_EQ(n.a.ev[i].height, i + 1);
        CHECK_EQ(n.a.ev[i].source, COMMIT_GOSSIP);
        CHECK(memcmp(n.a.ev[i].state, c.state[i + 1], 32) == 0);
    }
    CHECK_EQ(n.wc.writes, 5);                  /* gossip: a synced write per block */
    CHECK_EQ(commit_stats(n.commit)->committed_remote, 5);
    CHECK_EQ(commit_drain(n.commit), 0);
    s_node_done(&n);
    s_chain_free(&c);
    fx_close(&f);
}

/* Pulled blocks commit as one run: one synced write, subscribers called per
 * block in order with each block's own state hash. */
static void
test_commit_pulled_run(void)
{
    fixture_t f;
    fx_open(&f);
    chain_t c;
    s_chain(&f, &c, 5);
    node_t n;
    s_node(&f, &n);
    for (uint64_t h = 5; h >= 1; h--) {
        uint8_t *p = s_copy(&c, h);
        CHECK_EQ(commit_offer(n.commit, &p, c.len[h], COMMIT_PULLED, NULL), 0);
    }
    CHECK_EQ(commit_drain(n.commit), 5);
    CHECK_EQ(n.wc.writes, 1);
    CHECK_EQ(ledger_height(n.ledger), 5);
    CHECK(memcmp(ledger_state_hash(n.ledger), c.state[5], 32) == 0);
    CHECK_EQ(n.a.n, 5);
    CHECK_EQ(n.b.n, 5);
    for (size_t i = 0; i < n.a.n; i++) {
        CHECK_EQ(n.a.ev[i].height, i + 1);
        CHECK_EQ(n.a.ev[i].source, COMMIT_PULLED);
        CHECK(memcmp(n.a.ev[i].state, c.state[i + 1], 32) == 0);
        CHECK(n.a.ev[i].order < n.b.ev[i].order);
        CHECK_EQ(n.a.ev[i].ledger_height, 5);   /* the run was durable as a whole */
    }
    CHECK_EQ(commit_stats(n.commit)->committed_remote, 5);
    s_node_done(&n);

    /* A run stops at a gossip block; that one commits on its own. */
    s_node(&f, &n);
    for (uint64_t h = 1; h <= 4; h++) {
        uint8_t *p = s_copy(&c, h);
        CHECK_EQ(commit_offer(n.commit, &p, c.len[h], h == 3 ? COMMIT_GOSSIP : COMMIT_PULLED,
                              NULL), 0);
    }
    CHECK_EQ(commit_drain(n.commit), 4);
    CHECK_EQ(n.wc.writes, 3);                  /* run {1,2}, block 3, run {4} */
    CHECK_EQ(ledger_height(n.ledger), 4);
    s_node_done(&n);
    s_chain_free(&c);
    fx_close(&f);
}

/* A refused block in the middle of a pulled run: the ones before it are
 * committed, it is dropped (the gossip layer pulls it again), the ones
 * after it wait; the genuine copy then lets them through. */
static void
test_commit_pulled_run_refused(void)
{
    fixture_t f;
    fx_open(&f);
    chain_t c;
    s_chain(&f, &c, 5);
    node_t n;
    s_node(&f, &n);
    for (uint64_t h = 1; h <= 5; h++) {
        size_t len = c.len[h];
        uint8_t *p = h == 3 ? s_strip_certificate(c.bytes[h], c.len[h], &len) : s_copy(&c, h);
        CHECK_EQ(commit_offer(n.commit, &p, len, COMMIT_PULLED, NULL), 0);
    }
    CHECK_EQ(commit_drain(n.commit), 2);
    CHECK_EQ(ledger_height(n.ledger), 2);
    CHECK(memcmp(ledger_state_hash(n.ledger), c.state[2], 32) == 0);
    CHECK_EQ(n.wc.writes, 1);
    CHECK_EQ(n.a.n, 2);
    CHECK_EQ(commit_stats(n.commit)->rejected, 1);
    CHECK(!commit_failed(n.commit));
    CHECK_EQ(commit_drain(n.commit), 0);       /* height 3 is open again */
    uint8_t *p = s_copy(&c, 3);
    CHECK_EQ(commit_offer(n.commit, &p, c.len[3], COMMIT_PULLED, NULL), 0);
    CHECK_EQ(commit_drain(n.commit), 3);
    CHECK_EQ(ledger_height(n.ledger), 5);
    CHECK(memcmp(ledger_state_hash(n.ledger), c.state[5], 32) == 0);
    CHECK_EQ(n.wc.writes, 2);
    CHECK_EQ(n.a.n, 5);
    s_node_done(&n);
    s_chain_free(&c);
    fx_close(&f);
}

/* A failed write is an environment failure: commit_failed, nothing
 * written, no subscriber, mempool untouched, and the pipeline refuses to
 * go on. Both for one block and for a pulled run. */
static void
test_commit_write_failure(void)
{
    fixture_t f;
    fx_open(&f);
    chain_t c;
    s_chain(&f, &c, 3);
    node_t n;
    s_node(&f, &n);
    s_pend(&n, c.tx[1], c.tx_len[1]);
    store_fail_next_write(ledger_store(n.ledger));
    vl_err_t err = { "" };
    CHECK_EQ(commit_block(n.commit, c.bytes[1], c.len[1], COMMIT_GOSSIP, &err), VL_ERR_IO);
    CHECK_CONTAINS(err.msg, "injected");
    CHECK(commit_failed(n.commit));
    CHECK_EQ(ledger_height(n.ledger), 0);
    uint8_t *got = NULL;
    size_t got_len;
    CHECK_EQ(ledger_block_get(n.ledger, 1, &got, &got_len), VL_ERR_NOT_FOUND);
    CHECK_EQ(n.a.n + n.b.n, 0);
    CHECK(mempool_contains(n.mempool, c.txid[1]));
    CHECK_EQ(commit_stats(n.commit)->committed_remote, 0);
    CHECK_EQ(commit_stats(n.commit)->rejected, 0);   /* not the block's fault */
    /* Stopped: no more commits, even of a good block with a good store. */
    CHECK_EQ(commit_block(n.commit, c.bytes[1], c.len[1], COMMIT_GOSSIP, &err), VL_ERR_STATE);
    uint8_t *p = s_copy(&c, 1);
    CHECK_EQ(commit_offer(n.commit, &p, c.len[1], COMMIT_GOSSIP, NULL), 0);
    CHECK_EQ(commit_drain(n.commit), 0);
    CHECK_EQ(ledger_height(n.ledger), 0);
    s_node_done(&n);

    /* A pulled run whose one write fails. */
    s_node(&f, &n);
    for (uint64_t h = 1; h <= 3; h++) {
        p = s_copy(&c, h);
        CHECK_EQ(commit_offer(n.commit, &p, c.len[h], COMMIT_PULLED, NULL), 0);
    }
    store_fail_next_write(ledger_store(n.ledger));
    CHECK_EQ(commit_drain(n.commit), 0);
    CHECK(commit_failed(n.commit));
    CHECK_EQ(ledger_height(n.ledger), 0);
    CHECK_EQ(ledger_block_get(n.ledger, 1, &got, &got_len), VL_ERR_NOT_FOUND);
    CHECK_EQ(n.a.n, 0);
    s_node_done(&n);
    s_chain_free(&c);
    fx_close(&f);
}

/* Divergence is loud: a certified block whose state hash differs from this
 * replica's halts the pipeline, naming the height and both hashes, and
 * writes nothing. */
static void
test_commit_divergence_halts(void)
{
    fixture_t f;
    fx_open(&f);
    chain_t c;
    s_chain(&f, &c, 1);
    node_t n;
    s_node(&f, &n);
    uint8_t genesis_hash[32], bogus[32] = { 7 };
    memcpy(genesis_hash, ledger_last_hash(n.ledger), 32);
    fx_block_t b = { 1, genesis_hash, bogus, 5, false, false, false };
    size_t len;
    uint8_t *block = fx_block(&f, &b, &c.tx[1], &c.tx_len[1], 1, &len);
    vl_err_t err = { "" };
    CHECK_EQ(commit_block(n.commit, block, len, COMMIT_GOSSIP, &err), VL_ERR_CORRUPT);
    CHECK_CONTAINS(err.msg, "this replica diverged");
    CHECK_CONTAINS(err.msg, "after height 0");
    char ours[17];
    vl_hex_encode(ledger_state_hash(n.ledger), 8, ours);
    CHECK_CONTAINS(err.msg, ours);
    CHECK_CONTAINS(err.msg, "0700000000000000");
    CHECK(commit_failed(n.commit));
    CHECK_EQ(ledger_height(n.ledger), 0);
    CHECK_EQ(n.a.n + n.b.n, 0);
    free(block);
    s_node_done(&n);
    s_chain_free(&c);
    fx_close(&f);
}

/* The tip's block time: genesis time after open on a fresh ledger, the
 * committed block's time after each commit, and the stored tip's time when
 * a pipeline opens over a ledger that already has blocks. */
static void
test_commit_tip_time(void)
{
    fixture_t f;
    fx_open(&f);
    chain_t c;
    s_chain(&f, &c, 2);
    node_t n;
    s_node(&f, &n);
    CHECK_EQ(commit_tip_time_ms(n.commit), FX_GENESIS_MS);
    vl_err_t err = { "" };
    CHECK_EQ(commit_block(n.commit, c.bytes[1], c.len[1], COMMIT_GOSSIP, &err), 0);
    CHECK_EQ(commit_tip_time_ms(n.commit), FX_GENESIS_MS + 100);
    /* A refused block does not move it. */
    uint8_t *p = NULL;
    size_t len;
    p = s_strip_certificate(c.bytes[2], c.len[2], &len);
    CHECK(commit_block(n.commit, p, len, COMMIT_GOSSIP, &err) != 0);
    free(p);
    CHECK_EQ(commit_tip_time_ms(n.commit), FX_GENESIS_MS + 100);
    CHECK_EQ(commit_block(n.commit, c.bytes[2], c.len[2], COMMIT_GOSSIP, &err), 0);
    CHECK_EQ(commit_tip_time_ms(n.commit), FX_GENESIS_MS + 200);
    /* The source ledger is at height 2: a new pipeline over it reads it. */
    commit_config_t cfg = { .ledger = f.ledger, .chain_id = FX_CHAIN, .members = &f.g.members,
                           .sigcache = f.cache, .mempool = NULL };
    commit_t *again = commit_new(&cfg);
    CHECK_EQ(commit_tip_time_ms(again), FX_GENESIS_MS + 200);
    commit_destroy(&again);
    s_node_done(&n);
    s_chain_free(&c);
    fx_close(&f);
}

static void
s_nothing(void *arg, const commit_event_t *e)
{
    (*(int *) arg)++;
}

/* COMMIT_SUBSCRIBERS_MAX subscribers, then VL_ERR_LIMIT; a pipeline with
 * no mempool commits too. */
static void
test_commit_subscribers_max(void)
{
    fixture_t f;
    fx_open(&f);
    chain_t c;
    s_chain(&f, &c, 1);
    char dir[256];
    ledger_t *l = fx_replica(&f, dir);
    commit_config_t cfg = { .ledger = l, .chain_id = FX_CHAIN, .members = &f.g.members,
                           .sigcache = f.cache, .mempool = NULL };
    commit_t *cm = commit_new(&cfg);
    int calls[COMMIT_SUBSCRIBERS_MAX + 1] = { 0 };
    for (int i = 0; i < COMMIT_SUBSCRIBERS_MAX; i++)
        CHECK_EQ(commit_subscribe(cm, s_nothing, &calls[i]), 0);
    CHECK_EQ(commit_subscribe(cm, s_nothing, &calls[COMMIT_SUBSCRIBERS_MAX]), VL_ERR_LIMIT);
    vl_err_t err = { "" };
    CHECK_EQ(commit_block(cm, c.bytes[1], c.len[1], COMMIT_LOCAL, &err), 0);
    for (int i = 0; i < COMMIT_SUBSCRIBERS_MAX; i++)
        CHECK_EQ(calls[i], 1);
    CHECK_EQ(calls[COMMIT_SUBSCRIBERS_MAX], 0);
    commit_destroy(&cm);
    fx_replica_close(&l, dir);
    s_chain_free(&c);
    fx_close(&f);
}

int
main(void)
{
    RUN(test_commit_block_valid);
    RUN(test_commit_block_refused);
    RUN(test_commit_block_judged);
    RUN(test_commit_offer);
    RUN(test_commit_drain_order);
    RUN(test_commit_pulled_run);
    RUN(test_commit_pulled_run_refused);
    RUN(test_commit_write_failure);
    RUN(test_commit_divergence_halts);
    RUN(test_commit_tip_time);
    RUN(test_commit_subscribers_max);
    return check_done();
}
