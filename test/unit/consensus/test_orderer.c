/*
 * test_orderer.c — the one-validator orderer (consensus/orderer.h): the
 * role from membership, the cut rule, block time, and blocks built from
 * the mempool that a real ledger validates and commits.
 */
#include <stdlib.h>

#include "blockview.h"
#include "chain_fixture.h"
#include "check.h"
#include "commit.h"
#include "mempool.h"
#include "orderer.h"
#include "tx.h"

static void
test_orderer_role(void)
{
    vl_key_t *me = vl_key_generate(), *other = vl_key_generate();
    members_t m = { .count = 0 };
    /* Not a member at all. */
    CHECK_EQ(orderer_role(&m, vl_key_public(me)), ORDERER_FOLLOWER);
    members_add(&m, vl_key_public(me), "me", -1, true, true);
    CHECK_EQ(orderer_role(&m, vl_key_public(me)), ORDERER_SOLE_VALIDATOR);
    CHECK_EQ(orderer_role(&m, vl_key_public(other)), ORDERER_FOLLOWER);
    /* A member that is not a validator follows the sole validator. */
    members_t n = { .count = 0 };
    members_add(&n, vl_key_public(other), "v", -1, true, true);
    members_add(&n, vl_key_public(me), "e", -1, false, true);
    CHECK_EQ(orderer_role(&n, vl_key_public(me)), ORDERER_FOLLOWER);
    CHECK_EQ(orderer_role(&n, vl_key_public(other)), ORDERER_SOLE_VALIDATOR);
    /* One validator among several: follower, until rounds come. */
    members_add(&m, vl_key_public(other), "other", -1, true, false);
    CHECK_EQ(orderer_role(&m, vl_key_public(me)), ORDERER_FOLLOWER);
    CHECK_EQ(orderer_role(&m, vl_key_public(other)), ORDERER_FOLLOWER);
    vl_key_destroy(&me);
    vl_key_destroy(&other);
}

static void
test_orderer_cut_wait(void)
{
    orderer_config_t d;
    orderer_config_defaults(&d);
    CHECK_EQ(d.block_max_txs, ORDERER_BLOCK_MAX_TXS_DEFAULT);
    CHECK_EQ(d.block_max_bytes, ORDERER_BLOCK_MAX_BYTES_DEFAULT);
    CHECK_EQ(d.block_timeout_ms, ORDERER_BLOCK_TIMEOUT_MS_DEFAULT);
    orderer_config_t c = { 3, 1000, 20 };
    CHECK_EQ(orderer_cut_wait(&c, 0, 100, 105), -1);      /* nothing pending */
    CHECK_EQ(orderer_cut_wait(&c, 0, -1, 1000000), -1);
    CHECK_EQ(orderer_cut_wait(&c, 3, 100, 100), 0);       /* full: now */
    CHECK_EQ(orderer_cut_wait(&c, 7, 100, 100), 0);
    CHECK_EQ(orderer_cut_wait(&c, 1, 100, 100), 20);      /* the oldest just came */
    CHECK_EQ(orderer_cut_wait(&c, 2, 100, 105), 15);
    CHECK_EQ(orderer_cut_wait(&c, 1, 100, 119), 1);
    CHECK_EQ(orderer_cut_wait(&c, 1, 100, 120), 0);       /* deadline */
    CHECK_EQ(orderer_cut_wait(&c, 1, 100, 5000), 0);      /* long past */
    CHECK_EQ(orderer_cut_wait(&c, 2, 100, 50), 70);       /* oldest "in the future" */
}

static void
test_orderer_block_time(void)
{
    CHECK_EQ(orderer_block_time(2000, 1000), 2000);
    CHECK_EQ(orderer_block_time(1000, 1000), 1001);
    CHECK_EQ(orderer_block_time(500, 1000), 1001);        /* the wall clock went back */
    /* A wall clock that jumps around: block times still strictly increase. */
    int64_t wall[] = { 10, 10, 9, 50, 20, 20, 51, 0, 1000 };
    int64_t tip = 5;
    for (size_t i = 0; i < sizeof wall / sizeof wall[0]; i++) {
        int64_t t = orderer_block_time(wall[i], tip);
        CHECK(t > tip);
        CHECK(t >= wall[i]);
        tip = t;
    }
    CHECK_EQ(tip, 1000);
}

/* Five pending txs, admitted at times 1..5. */
static void
s_fill(fixture_t *f, mempool_t *pool, uint8_t ids[5][32], size_t lens[5])
{
    for (int i = 0; i < 5; i++) {
        char key[8];
        snprintf(key, sizeof key, "o%d", i);
        uint8_t *tx = fx_tx(f, &(fx_tx_t) { .nonce = 50 + (uint64_t) i, .write_key = key,
                                            .write_value = "x" },
                            &lens[i]);
        tx_id(tx, lens[i], ids[i]);
        CHECK_EQ(mempool_add(pool, ids[i], &tx, lens[i], 0, 1 + i), 0);
    }
}

static void
test_orderer_build_block(void)
{
    fixture_t f;
    fx_open(&f);
    mempool_t *pool = mempool_new(100, 1 << 20);
    orderer_config_t c = { 3, 1 << 20, 20 };
    orderer_tip_t tip = { FX_CHAIN, ledger_height(f.ledger), ledger_last_hash(f.ledger),
                          ledger_state_hash(f.ledger) };
    uint8_t *out = (uint8_t *) "untouched";
    size_t len = 12345;
    CHECK_EQ(orderer_build_block(&c, pool, &tip, f.validator, 2000, &out, &len),
             VL_ERR_NOT_FOUND);
    CHECK(out == (uint8_t *) "untouched" && len == 12345);

    uint8_t ids[5][32];
    size_t lens[5];
    s_fill(&f, pool, ids, lens);
    out = NULL;
    CHECK_EQ(orderer_build_block(&c, pool, &tip, f.validator, 2000, &out, &len), 0);
    CHECK_EQ(mempool_count(pool), 5);   /* reaped, not removed */

    block_view_t *v = NULL;
    vl_err_t err = { "" };
    CHECK_EQ(block_view_new(out, len, FX_CHAIN, BLOCK_VIEW_HEADER, &v, &err), 0);
    /* The three oldest, oldest first. */
    CHECK_EQ(v->n_txs, 3);
    for (size_t i = 0; i < v->n_txs && i < 3; i++)
        CHECK(memcmp(v->txids[i], ids[i], 32) == 0);
    const Vl__BlockHeader *h = v->header;
    CHECK_STR(h->chain_id, FX_CHAIN);
    CHECK_EQ(h->height, 1);
    CHECK(h->previous_hash.len == 32 && memcmp(h->previous_hash.data, tip.last_hash, 32) == 0);
    CHECK(h->state_hash.len == 32 && memcmp(h->state_hash.data, tip.state_hash, 32) == 0);
    CHECK_EQ(h->timestamp_ms, 2000);
    CHECK(h->proposer.len == 32 && memcmp(h->proposer.data, vl_key_public(f.validator), 32) == 0);
    uint8_t *ptrs[3];
    size_t plens[3];
    for (size_t i = 0; i < 3; i++) {
        ptrs[i] = v->block->transactions[i].data;
        plens[i] = v->block->transactions[i].len;
    }
    uint8_t dh[32];
    CHECK_EQ(block_data_hash(ptrs, plens, 3, dh), 0);
    CHECK(h->data_hash.len == 32 && memcmp(h->data_hash.data, dh, 32) == 0);
    /* The precommit is a whole certificate for one validator. */
    validate_ctx_t ctx = fx_ctx(&f);
    CHECK(v->block->commit && v->block->commit->n_precommits == 1);
    CHECK_EQ(validate_certificate(&ctx, v, &err), 0);
    block_view_destroy(&v);

    /* It commits, and the commit takes its txs out of the pool. */
    commit_config_t cc = { .ledger = f.ledger, .chain_id = FX_CHAIN, .members = &f.g.members,
                           .sigcache = f.cache, .mempool = pool };
    commit_t *cm = commit_new(&cc);
    CHECK_EQ(commit_block(cm, out, len, COMMIT_LOCAL, &err), 0);
    CHECK_EQ(ledger_height(f.ledger), 1);
    CHECK_EQ(commit_tip_time_ms(cm), 2000);
    CHECK_EQ(mempool_count(pool), 2);
    CHECK(!mempool_contains(pool, ids[0]) && mempool_contains(pool, ids[3]));
    Vl__BlockCodes *codes = NULL;
    CHECK_EQ(ledger_block_codes(f.ledger, 1, &codes), 0);
    CHECK(codes && codes->n_codes == 3);
    for (size_t i = 0; codes && i < codes->n_codes; i++)
        CHECK_EQ(codes->codes[i], VL__TX_CODE__TX_VALID);
    vl__block_codes__free_unpacked(codes, NULL);
    free(out);

    /* The next one, on the new tip, with the rest; a byte bound that fits
     * only one of them. */
    tip = (orderer_tip_t) { FX_CHAIN, ledger_height(f.ledger), ledger_last_hash(f.ledger),
                            ledger_state_hash(f.ledger) };
    orderer_config_t small = { 10, lens[3] + lens[4] - 1, 20 };
    int64_t t = orderer_block_time(1500, commit_tip_time_ms(cm));
    CHECK_EQ(t, 2001);
    CHECK_EQ(orderer_build_block(&small, pool, &tip, f.validator, t, &out, &len), 0);
    CHECK_EQ(block_view_new(out, len, FX_CHAIN, BLOCK_VIEW_HEADER, &v, &err), 0);
    CHECK_EQ(v->n_txs, 1);
    CHECK(memcmp(v->txids[0], ids[3], 32) == 0);
    CHECK_EQ(v->header->height, 2);
    block_view_destroy(&v);
    CHECK_EQ(commit_block(cm, out, len, COMMIT_LOCAL, &err), 0);
    CHECK_EQ(ledger_height(f.ledger), 2);
    CHECK_EQ(mempool_count(pool), 1);
    free(out);

    /* Signed by a key that is not the validator: the block is refused. */
    tip = (orderer_tip_t) { FX_CHAIN, ledger_height(f.ledger), ledger_last_hash(f.ledger),
                            ledger_state_hash(f.ledger) };
    CHECK_EQ(orderer_build_block(&c, pool, &tip, f.user, 3000, &out, &len), 0);
    CHECK_EQ(commit_block(cm, out, len, COMMIT_LOCAL, &err), VL_ERR_SIGNATURE);
    CHECK_EQ(ledger_height(f.ledger), 2);
    free(out);
    commit_destroy(&cm);
    mempool_destroy(&pool);
    fx_close(&f);
}

int
main(void)
{
    RUN(test_orderer_role);
    RUN(test_orderer_cut_wait);
    RUN(test_orderer_block_time);
    RUN(test_orderer_build_block);
    return check_done();
}
