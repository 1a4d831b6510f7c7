/*
 * test_validate.c — validation in parts and the duplicate rule
 * (consensus/validate.h): validate_header / validate_certificate /
 * validate_txs separately; "only a VALID tx makes its txid taken" across
 * blocks, inside one block and inside a run; and an I/O error while
 * reading the replica during validation (the store's read-fault seam,
 * store_fail_nth_read) failing the whole block with VL_ERR_IO.
 */
#include <stdlib.h>

#include "blockview.h"
#include "chain_fixture.h"
#include "check.h"
#include "commit.h"
#include "store.h"
#include "tx.h"

/* A block without a certificate passes the header and tx checks and fails
 * only the certificate; each part catches its own defects. */
static void
test_validate_parts(void)
{
    fixture_t f;
    fx_open(&f);
    validate_ctx_t ctx = fx_ctx(&f);
    vl_err_t err = { "" };
    size_t tlen;
    uint8_t *tx = fx_tx(&f, &(fx_tx_t) { .nonce = 1, .write_key = "a", .write_value = "1" }, &tlen);
    const uint8_t *prev = ledger_last_hash(f.ledger), *state = ledger_state_hash(f.ledger);

    size_t len;
    uint8_t *block = fx_block(&f, &(fx_block_t) { 1, prev, state, 5, true, false, false }, &tx,
                              &tlen, 1, &len);
    validate_run_t *run = validate_run_new(f.ledger);
    block_view_t *v = NULL;
    CHECK_EQ(block_view_new(block, len, FX_CHAIN, BLOCK_VIEW_PARSE_TXS, &v, &err), 0);
    CHECK_EQ(validate_header(&ctx, run, v, &err), 0);
    CHECK_EQ(validate_certificate(&ctx, v, &err), VL_ERR_SIGNATURE);
    CHECK_CONTAINS(err.msg, "no commit certificate");
    validated_block_t *vb = NULL;
    CHECK_EQ(validate_txs(&ctx, run, &v, block, len, &vb, &err), 0);
    CHECK(v == NULL);                       /* taken */
    CHECK(vb && vb->n_valid == 1 && vb->effects[0].code == VL__TX_CODE__TX_VALID);
    CHECK(vb && vb->commit.block == block && vb->commit.height == 1);
    CHECK_EQ(validate_run_count(run), 1);
    validated_block_destroy(&vb);
    validate_run_destroy(&run);
    free(block);

    /* A bad data hash: the header fails; the certificate (over that header)
     * is fine. */
    block = fx_block(&f, &(fx_block_t) { 1, prev, state, 5, false, true, false }, &tx, &tlen, 1,
                     &len);
    run = validate_run_new(f.ledger);
    CHECK_EQ(block_view_new(block, len, FX_CHAIN, BLOCK_VIEW_PARSE_TXS, &v, &err), 0);
    CHECK_EQ(validate_header(&ctx, run, v, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "data hash");
    CHECK_EQ(validate_certificate(&ctx, v, &err), 0);
    block_view_destroy(&v);
    free(block);

    /* Wrong height: VL_ERR_STATE from the header; a certificate for another
     * height would not count either. */
    block = fx_block(&f, &(fx_block_t) { 2, prev, state, 5, false, false, false }, &tx, &tlen, 1,
                     &len);
    CHECK_EQ(block_view_new(block, len, FX_CHAIN, BLOCK_VIEW_PARSE_TXS, &v, &err), 0);
    CHECK_EQ(validate_header(&ctx, run, v, &err), VL_ERR_STATE);
    CHECK_EQ(validate_certificate(&ctx, v, &err), 0);   /* it certifies height 2 */
    block_view_destroy(&v);
    free(block);

    /* validate_txs needs parsed transactions, and takes the view anyway. */
    block = fx_block(&f, &(fx_block_t) { 1, prev, state, 5, false, false, false }, &tx, &tlen, 1,
                     &len);
    CHECK_EQ(block_view_new(block, len, FX_CHAIN, BLOCK_VIEW_HEADER, &v, &err), 0);
    vb = NULL;
    CHECK_EQ(validate_txs(&ctx, run, &v, block, len, &vb, &err), VL_ERR_INVALID);
    CHECK(v == NULL && vb == NULL);
    CHECK_EQ(validate_run_count(run), 0);
    validate_run_destroy(&run);
    CHECK(run == NULL);
    validate_run_destroy(&run);
    free(block);
    free(tx);
    fx_close(&f);
}

/* Validates and commits one block of txs on the tip; codes[] and
 * skip[] (may be NULL) get each effect. */
static int
s_block(fixture_t *f, uint8_t **txs, size_t *lens, size_t n, int *codes, bool *skip)
{
    size_t len;
    uint8_t *block = fx_next_block(f, txs, lens, n, &len);
    validate_ctx_t ctx = fx_ctx(f);
    validated_block_t *vb = NULL;
    vl_err_t err = { "" };
    int rc = validate_block(&ctx, block, len, &vb, &err);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            codes[i] = vb->effects[i].code;
            if (skip)
                skip[i] = vb->effects[i].skip_index;
        }
        rc = ledger_commit_block(f->ledger, &vb->commit, &err);
    }
    validated_block_destroy(&vb);
    free(block);
    return rc;
}

static void
s_index(fixture_t *f, const uint8_t txid[32], uint64_t height, uint32_t index, int code)
{
    ledger_tx_info_t info = { 0, 0, -1 };
    CHECK_EQ(ledger_tx_get(f->ledger, txid, &info), 0);
    CHECK_EQ(info.height, height);
    CHECK_EQ(info.index, index);
    CHECK_EQ(info.code, code);
}

static void
s_value(fixture_t *f, const char *key, const char *want)
{
    char *v = NULL;
    size_t len;
    int rc = ledger_get(f->ledger, key, &v, &len, NULL);
    if (!want) {
        CHECK_EQ(rc, VL_ERR_NOT_FOUND);
    } else {
        CHECK_EQ(rc, 0);
        CHECK_STR(v, want);
    }
    free(v);
}

/* Across blocks: invalid copies of a proposal (a bad endorsement, then a
 * stale read) do not take its txid; the genuine tx later is VALID and the
 * index moves to it; a second valid copy is a duplicate. */
static void
test_invalid_copy_does_not_take_txid(void)
{
    fixture_t f;
    fx_open(&f);
    uint8_t txid[32];
    fx_txid(&f, 7, txid);
    fx_read_t stale = { "p", true, { 9, 9 } };
    size_t l[1];
    uint8_t *t[1];
    int code[1];
    bool skip[1];

    t[0] = fx_tx(&f, &(fx_tx_t) { .nonce = 7, .write_key = "p", .write_value = "bad",
                                  .bad_endorsement = true }, &l[0]);
    CHECK_EQ(s_block(&f, t, l, 1, code, skip), 0);
    CHECK_EQ(code[0], VL__TX_CODE__TX_BAD_ENDORSEMENT);
    CHECK(!skip[0]);
    s_index(&f, txid, 1, 0, VL__TX_CODE__TX_BAD_ENDORSEMENT);   /* indexed while alone */
    s_value(&f, "p", NULL);
    free(t[0]);

    t[0] = fx_tx(&f, &(fx_tx_t) { .nonce = 7, .reads = &stale, .n_reads = 1, .write_key = "p",
                                  .write_value = "stale" }, &l[0]);
    CHECK_EQ(s_block(&f, t, l, 1, code, skip), 0);
    CHECK_EQ(code[0], VL__TX_CODE__TX_MVCC_CONFLICT);
    CHECK(skip[0]);                                             /* the first entry stays */
    s_index(&f, txid, 1, 0, VL__TX_CODE__TX_BAD_ENDORSEMENT);
    free(t[0]);

    t[0] = fx_tx(&f, &(fx_tx_t) { .nonce = 7, .write_key = "p", .write_value = "good" }, &l[0]);
    CHECK_EQ(s_block(&f, t, l, 1, code, skip), 0);
    CHECK_EQ(code[0], VL__TX_CODE__TX_VALID);                  /* not DUPLICATE_TXID */
    CHECK(!skip[0]);
    s_index(&f, txid, 3, 0, VL__TX_CODE__TX_VALID);
    s_value(&f, "p", "good");
    free(t[0]);

    /* Another valid copy (a different result, same proposal) and the exact
     * replay: duplicates, the index and the state stay. */
    uint8_t *t2[2];
    size_t l2[2];
    int c2[2];
    t2[0] = fx_tx(&f, &(fx_tx_t) { .nonce = 7, .write_key = "p", .write_value = "again" }, &l2[0]);
    t2[1] = fx_tx(&f, &(fx_tx_t) { .nonce = 7, .write_key = "p", .write_value = "good" }, &l2[1]);
    CHECK_EQ(s_block(&f, t2, l2, 2, c2, NULL), 0);
    CHECK_EQ(c2[0], VL__TX_CODE__TX_DUPLICATE_TXID);
    CHECK_EQ(c2[1], VL__TX_CODE__TX_DUPLICATE_TXID);
    s_index(&f, txid, 3, 0, VL__TX_CODE__TX_VALID);
    s_value(&f, "p", "good");
    /* Even a broken copy after the valid one is only a duplicate. */
    free(t2[0]);
    t2[0] = fx_tx(&f, &(fx_tx_t) { .nonce = 7, .bad_creator_sig = true }, &l2[0]);
    CHECK_EQ(s_block(&f, t2, l2, 1, c2, NULL), 0);
    CHECK_EQ(c2[0], VL__TX_CODE__TX_DUPLICATE_TXID);
    s_index(&f, txid, 3, 0, VL__TX_CODE__TX_VALID);
    free(t2[0]);
    free(t2[1]);
    fx_close(&f);
}

/* Inside one block: a broken copy, the genuine tx, a second genuine copy. */
static void
test_invalid_copy_same_block(void)
{
    fixture_t f;
    fx_open(&f);
    uint8_t txid[32];
    fx_txid(&f, 8, txid);
    uint8_t *t[4];
    size_t l[4];
    int code[4];
    bool skip[4];
    t[0] = fx_tx(&f, &(fx_tx_t) { .nonce = 8, .write_key = "q", .write_value = "x",
                                  .bad_creator_sig = true }, &l[0]);
    t[1] = fx_tx(&f, &(fx_tx_t) { .nonce = 8, .write_key = "q", .write_value = "x",
                                  .bad_endorsement = true }, &l[1]);
    t[2] = fx_tx(&f, &(fx_tx_t) { .nonce = 8, .write_key = "q", .write_value = "1" }, &l[2]);
    t[3] = fx_tx(&f, &(fx_tx_t) { .nonce = 8, .write_key = "q", .write_value = "2" }, &l[3]);
    CHECK_EQ(s_block(&f, t, l, 4, code, skip), 0);
    CHECK_EQ(code[0], VL__TX_CODE__TX_BAD_CREATOR_SIGNATURE);
    CHECK(!skip[0]);
    CHECK_EQ(code[1], VL__TX_CODE__TX_BAD_ENDORSEMENT);
    CHECK(skip[1]);
    CHECK_EQ(code[2], VL__TX_CODE__TX_VALID);
    CHECK(!skip[2]);
    CHECK_EQ(code[3], VL__TX_CODE__TX_DUPLICATE_TXID);
    s_index(&f, txid, 1, 2, VL__TX_CODE__TX_VALID);
    s_value(&f, "q", "1");
    for (int i = 0; i < 4; i++)
        free(t[i]);
    fx_close(&f);
}

/* Inside a run (blocks validated before any commits): a broken copy in the
 * first block, the genuine tx in the second; committed in one batch, the
 * index points at the genuine one. */
static void
test_invalid_copy_in_run(void)
{
    fixture_t f;
    fx_open(&f);
    validate_ctx_t ctx = fx_ctx(&f);
    vl_err_t err = { "" };
    uint8_t txid[32];
    fx_txid(&f, 9, txid);
    uint8_t *t1, *t2, *t3;
    size_t l1, l2, l3;
    t1 = fx_tx(&f, &(fx_tx_t) { .nonce = 9, .write_key = "r", .write_value = "x",
                                .bad_endorsement = true }, &l1);
    t2 = fx_tx(&f, &(fx_tx_t) { .nonce = 9, .write_key = "r", .write_value = "1" }, &l2);
    t3 = fx_tx(&f, &(fx_tx_t) { .nonce = 9, .write_key = "r", .write_value = "2" }, &l3);
    validate_run_t *run = validate_run_new(f.ledger);
    size_t b1_len, b2_len, b3_len;
    uint8_t *b1 = fx_next_block(&f, &t1, &l1, 1, &b1_len);
    validated_block_t *v1 = NULL, *v2 = NULL, *v3 = NULL;
    CHECK_EQ(validate_block_in_run(&ctx, run, b1, b1_len, &v1, &err), 0);
    CHECK_EQ(v1->effects[0].code, VL__TX_CODE__TX_BAD_ENDORSEMENT);
    uint8_t s1[32];
    ledger_state_fold(ledger_state_hash(f.ledger), &v1->commit, s1);
    uint8_t *b2 = fx_block(&f, &(fx_block_t) { 2, v1->view->hash, s1, 300, false, false, false },
                           &t2, &l2, 1, &b2_len);
    CHECK_EQ(validate_block_in_run(&ctx, run, b2, b2_len, &v2, &err), 0);
    CHECK_EQ(v2->effects[0].code, VL__TX_CODE__TX_VALID);
    CHECK(!v2->effects[0].skip_index);
    uint8_t s2[32];
    ledger_state_fold(s1, &v2->commit, s2);
    uint8_t *b3 = fx_block(&f, &(fx_block_t) { 3, v2->view->hash, s2, 400, false, false, false },
                           &t3, &l3, 1, &b3_len);
    CHECK_EQ(validate_block_in_run(&ctx, run, b3, b3_len, &v3, &err), 0);
    CHECK_EQ(v3->effects[0].code, VL__TX_CODE__TX_DUPLICATE_TXID);
    const ledger_block_t *all[] = { &v1->commit, &v2->commit, &v3->commit };
    CHECK_EQ(ledger_commit_blocks(f.ledger, all, 3, &err), 0);
    s_index(&f, txid, 2, 0, VL__TX_CODE__TX_VALID);
    s_value(&f, "r", "1");
    validated_block_destroy(&v1);
    validated_block_destroy(&v2);
    validated_block_destroy(&v3);
    validate_run_destroy(&run);
    free(b1);
    free(b2);
    free(b3);
    free(t1);
    free(t2);
    free(t3);
    fx_close(&f);
}

/* An I/O error while reading the replica (the tx index, a read's key, a
 * range) fails the whole block with VL_ERR_IO: nothing is judged, *out is
 * untouched; and the commit pipeline stops (an environment failure). The
 * same block validates once the store reads again.
 *
 * Reads of validate_block for the one tx below, in order: 1 the tx index
 * (is the txid taken?), 2 the read key, 3 the range. */
static void
test_validate_read_io_error(void)
{
    fixture_t f;
    fx_open(&f);
    validate_ctx_t ctx = fx_ctx(&f);
    size_t l0;
    uint8_t *t0 = fx_tx(&f, &(fx_tx_t) { .nonce = 1, .write_key = "k", .write_value = "1" }, &l0);
    int code0;
    CHECK_EQ(s_block(&f, &t0, &l0, 1, &code0, NULL), 0);
    fx_read_t cur = { "k", true, { 1, 0 } };
    size_t l1;
    uint8_t *t1 = fx_tx(&f, &(fx_tx_t) { .nonce = 2, .reads = &cur, .n_reads = 1,
                                         .write_key = "m", .write_value = "2",
                                         .range_prefix = "zz" }, &l1);
    size_t len;
    uint8_t *block = fx_next_block(&f, &t1, &l1, 1, &len);
    store_t *store = ledger_store(f.ledger);
    for (unsigned nth = 1; nth <= 3; nth++) {
        validated_block_t *sentinel = (validated_block_t *) &f, *vb = sentinel;
        vl_err_t err = { "" };
        store_fail_nth_read(store, nth);
        int rc = validate_block(&ctx, block, len, &vb, &err);
        store_fail_nth_read(store, 0);
        if (rc != VL_ERR_IO) {
            CHECK_FAIL_PREFIX_();
            fprintf(stderr, "read %u failed, validate_block returned %d (%s), not VL_ERR_IO\n",
                    nth, rc, vl_strerror(rc));
            check_failures_++;
        }
        CHECK(vb == sentinel);
        if (rc == 0 && vb != sentinel)
            validated_block_destroy(&vb);
    }
    /* The fourth read does not happen: the block validates. */
    validated_block_t *vb = NULL;
    vl_err_t err = { "" };
    store_fail_nth_read(store, 4);
    CHECK_EQ(validate_block(&ctx, block, len, &vb, &err), 0);
    store_fail_nth_read(store, 0);
    CHECK(vb && vb->effects[0].code == VL__TX_CODE__TX_VALID);
    validated_block_destroy(&vb);

    /* Through the pipeline: commit_failed, nothing written. */
    commit_config_t cc = { .ledger = f.ledger, .chain_id = FX_CHAIN, .members = &f.g.members,
                           .sigcache = f.cache, .mempool = NULL };
    commit_t *cm = commit_new(&cc);
    store_fail_nth_read(store, 2);
    CHECK_EQ(commit_block(cm, block, len, COMMIT_GOSSIP, &err), VL_ERR_IO);
    store_fail_nth_read(store, 0);
    CHECK(commit_failed(cm));
    CHECK_EQ(commit_stats(cm)->rejected, 0);
    CHECK_EQ(ledger_height(f.ledger), 1);
    commit_destroy(&cm);
    free(block);
    free(t0);
    free(t1);
    fx_close(&f);
}

/* The tx-index read matters for replays: if it failed silently, a replayed
 * tx would be judged VALID again (and its writes applied twice). */
static void
test_validate_replay_index_io_error(void)
{
    fixture_t f;
    fx_open(&f);
    validate_ctx_t ctx = fx_ctx(&f);
    size_t l0;
    uint8_t *t0 = fx_tx(&f, &(fx_tx_t) { .nonce = 1, .write_key = "k", .write_value = "1" }, &l0);
    int code0;
    CHECK_EQ(s_block(&f, &t0, &l0, 1, &code0, NULL), 0);
    size_t len;
    uint8_t *block = fx_next_block(&f, &t0, &l0, 1, &len);   /* the replay */
    validated_block_t *vb = NULL;
    vl_err_t err = { "" };
    CHECK_EQ(validate_block(&ctx, block, len, &vb, &err), 0);
    CHECK(vb && vb->effects[0].code == VL__TX_CODE__TX_DUPLICATE_TXID);
    validated_block_destroy(&vb);
    store_fail_nth_read(ledger_store(f.ledger), 1);
    int rc = validate_block(&ctx, block, len, &vb, &err);
    store_fail_nth_read(ledger_store(f.ledger), 0);
    CHECK_EQ(rc, VL_ERR_IO);
    if (rc == 0) {
        CHECK(vb->effects[0].code != VL__TX_CODE__TX_VALID);
        validated_block_destroy(&vb);
    }
    free(block);
    free(t0);
    fx_close(&f);
}

int
main(void)
{
    RUN(test_validate_parts);
    RUN(test_invalid_copy_does_not_take_txid);
    RUN(test_invalid_copy_same_block);
    RUN(test_invalid_copy_in_run);
    RUN(test_validate_read_io_error);
    RUN(test_validate_replay_index_io_error);
    return check_done();
}
