/*
 * test_blockview.c — the one txid rule (tx_id in consensus/tx.h) and the
 * block view (consensus/blockview.h): header, hash and txids always; parsed
 * transactions when asked, with a NULL entry and a code for each one that
 * fails tx_parse; refusals; block_view_height.
 */
#include <stdlib.h>

#include "blockview.h"
#include "chain_fixture.h"
#include "check.h"
#include "tx.h"

static uint8_t *
s_cat(const uint8_t *a, size_t an, const uint8_t *b, size_t bn, size_t *n)
{
    uint8_t *p = malloc(an + bn);
    memcpy(p, a, an);
    memcpy(p + an, b, bn);
    *n = an + bn;
    return p;
}

static void
test_tx_id(void)
{
    fixture_t f;
    fx_open(&f);
    size_t len;
    uint8_t *tx = fx_tx(&f, &(fx_tx_t) { .nonce = 1, .write_key = "a", .write_value = "1" }, &len);
    Vl__Transaction *t = vl__transaction__unpack(NULL, len, tx);
    uint8_t want[32], got[32];
    vl_sha256(t->proposal.data, t->proposal.len, want);

    /* A well-formed Transaction: its proposal bytes; tx_parse agrees. */
    CHECK(tx_id(tx, len, got));
    CHECK(memcmp(got, want, 32) == 0);
    tx_parsed_t *p = NULL;
    int code = -1;
    vl_err_t err = { "" };
    CHECK_EQ(tx_parse(tx, len, FX_CHAIN, &p, &code, &err), 0);
    CHECK_EQ(code, VL__TX_CODE__TX_VALID);
    CHECK(p && memcmp(p->txid, want, 32) == 0);
    tx_destroy(&p);
    CHECK(p == NULL);
    tx_destroy(&p);

    /* Garbage, an empty buffer, a message without or with an empty field 1:
     * SHA-256 of the bytes themselves. */
    const uint8_t *garbage = (const uint8_t *) "garbage";
    CHECK(!tx_id(garbage, 7, got));
    vl_sha256(garbage, 7, want);
    CHECK(memcmp(got, want, 32) == 0);
    CHECK(!tx_id(garbage, 0, got));
    vl_sha256(garbage, 0, want);
    CHECK(memcmp(got, want, 32) == 0);
    const uint8_t no_proposal[] = { 0x12, 2, 'h', 'i' }, empty_proposal[] = { 0x0a, 0 };
    CHECK(!tx_id(no_proposal, sizeof no_proposal, got));
    vl_sha256(no_proposal, sizeof no_proposal, want);
    CHECK(memcmp(got, want, 32) == 0);
    CHECK(!tx_id(empty_proposal, sizeof empty_proposal, got));
    vl_sha256(empty_proposal, sizeof empty_proposal, want);
    CHECK(memcmp(got, want, 32) == 0);
    /* A Transaction with a malformed tail is not well formed at the top. */
    size_t tail_len;
    uint8_t *tail = s_cat(tx, len, (const uint8_t *) "\x80", 1, &tail_len);
    CHECK(!tx_id(tail, tail_len, got));
    vl_sha256(tail, tail_len, want);
    CHECK(memcmp(got, want, 32) == 0);
    free(tail);

    /* Field 1 twice: the last occurrence, as protobuf-c decodes it; tx_parse
     * (which unpacks with protobuf-c) names it the same and accepts it. */
    const uint8_t decoy[] = { 0x0a, 3, 'a', 'b', 'c' };
    size_t twice_len;
    uint8_t *twice = s_cat(decoy, sizeof decoy, tx, len, &twice_len);
    vl_sha256(t->proposal.data, t->proposal.len, want);
    CHECK(tx_id(twice, twice_len, got));
    CHECK(memcmp(got, want, 32) == 0);
    CHECK_EQ(tx_parse(twice, twice_len, FX_CHAIN, &p, &code, &err), 0);
    CHECK(p && memcmp(p->txid, want, 32) == 0);
    tx_destroy(&p);
    /* The decoy last: tx_id names the decoy, and tx_parse (the proposal it
     * decodes is the decoy) agrees by refusing the tx, not by another id. */
    uint8_t *decoy_last = s_cat(tx, len, decoy, sizeof decoy, &twice_len);
    CHECK(tx_id(decoy_last, twice_len, got));
    vl_sha256(decoy + 2, 3, want);
    CHECK(memcmp(got, want, 32) == 0);
    CHECK_EQ(tx_parse(decoy_last, twice_len, FX_CHAIN, &p, &code, &err), VL_ERR_INVALID);
    CHECK(p == NULL);
    CHECK_EQ(code, VL__TX_CODE__TX_MALFORMED);
    free(decoy_last);
    free(twice);
    vl__transaction__free_unpacked(t, NULL);
    free(tx);
    fx_close(&f);
}

/* tx_parse's codes, each with *out untouched. */
static void
test_tx_parse_codes(void)
{
    fixture_t f;
    fx_open(&f);
    struct {
        fx_tx_t spec;
        const char *chain;
        int code;
    } cases[] = {
        { { .nonce = 1 }, FX_CHAIN, VL__TX_CODE__TX_VALID },
        { { .nonce = 2 }, "other", VL__TX_CODE__TX_WRONG_CHAIN },
        { { .nonce = 3, .chain_id = "other" }, FX_CHAIN, VL__TX_CODE__TX_WRONG_CHAIN },
        /* Signatures are not tx_parse's business. */
        { { .nonce = 4, .bad_creator_sig = true }, FX_CHAIN, VL__TX_CODE__TX_VALID },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        uint8_t *tx = fx_tx(&f, &cases[i].spec, &len);
        tx_parsed_t *p = (tx_parsed_t *) &f;   /* a sentinel: must stay on failure */
        int code = -1;
        vl_err_t err = { "" };
        int rc = tx_parse(tx, len, cases[i].chain, &p, &code, &err);
        CHECK_EQ(code, cases[i].code);
        CHECK_EQ(rc, cases[i].code == VL__TX_CODE__TX_VALID ? 0 : VL_ERR_INVALID);
        if (rc == 0)
            tx_destroy(&p);
        else
            CHECK(p == (tx_parsed_t *) &f);
        free(tx);
    }
    tx_parsed_t *p = NULL;
    int code = -1;
    vl_err_t err = { "" };
    CHECK_EQ(tx_parse((const uint8_t *) "garbage", 7, FX_CHAIN, &p, &code, &err), VL_ERR_INVALID);
    CHECK_EQ(code, VL__TX_CODE__TX_MALFORMED);
    CHECK(p == NULL);
    CHECK_STR(tx_code_name(VL__TX_CODE__TX_DUPLICATE_TXID), "DUPLICATE_TXID");
    CHECK_STR(tx_code_name(12345), "UNKNOWN");
    fx_close(&f);
}

/* A block of: a good tx, garbage, a tx that decodes as a Transaction but
 * fails tx_parse (another chain's proposal). */
static uint8_t *
s_mixed_block(fixture_t *f, uint8_t *txs[3], size_t lens[3], size_t *len)
{
    txs[0] = fx_tx(f, &(fx_tx_t) { .nonce = 1, .write_key = "a", .write_value = "1" }, &lens[0]);
    txs[1] = (uint8_t *) strdup("garbage");
    lens[1] = 7;
    txs[2] = fx_tx(f, &(fx_tx_t) { .nonce = 2, .chain_id = "other" }, &lens[2]);
    return fx_next_block(f, txs, lens, 3, len);
}

static void
test_block_view(void)
{
    fixture_t f;
    fx_open(&f);
    uint8_t *txs[3];
    size_t lens[3], len;
    uint8_t *block = s_mixed_block(&f, txs, lens, &len);
    Vl__Block *raw = vl__block__unpack(NULL, len, block);
    uint8_t header_hash[32];
    vl_sha256(raw->header.data, raw->header.len, header_hash);
    vl__block__free_unpacked(raw, NULL);
    uint8_t ids[3][32];
    for (int i = 0; i < 3; i++)
        tx_id(txs[i], lens[i], ids[i]);
    vl_err_t err = { "" };

    /* Header only: hash and txids, nothing parsed. */
    block_view_t *v = NULL;
    CHECK_EQ(block_view_new(block, len, NULL, BLOCK_VIEW_HEADER, &v, &err), 0);
    CHECK_EQ(v->header->height, 1);
    CHECK_STR(v->header->chain_id, FX_CHAIN);
    CHECK(memcmp(v->hash, header_hash, 32) == 0);
    CHECK_EQ(v->n_txs, 3);
    for (int i = 0; i < 3; i++)
        CHECK(memcmp(v->txids[i], ids[i], 32) == 0);
    CHECK(v->txs == NULL && v->parse_codes == NULL);
    block_view_destroy(&v);
    CHECK(v == NULL);
    block_view_destroy(&v);

    /* Parsed; and the view outlives the bytes it came from. */
    uint8_t *copy = malloc(len);
    memcpy(copy, block, len);
    CHECK_EQ(block_view_new(copy, len, FX_CHAIN, BLOCK_VIEW_PARSE_TXS, &v, &err), 0);
    memset(copy, 0, len);
    free(copy);
    CHECK(v->txs && v->parse_codes);
    CHECK(v->txs[0] && memcmp(v->txs[0]->txid, ids[0], 32) == 0);
    CHECK_EQ(v->parse_codes[0], VL__TX_CODE__TX_VALID);
    CHECK(v->txs[1] == NULL);
    CHECK_EQ(v->parse_codes[1], VL__TX_CODE__TX_MALFORMED);
    CHECK(v->txs[2] == NULL);
    CHECK_EQ(v->parse_codes[2], VL__TX_CODE__TX_WRONG_CHAIN);
    uint8_t want[32];
    vl_sha256("garbage", 7, want);
    CHECK(memcmp(v->txids[1], want, 32) == 0);
    CHECK(memcmp(v->txids[2], ids[2], 32) == 0);
    uint8_t prop2[32];
    fx_txid(&f, 2, prop2);   /* FX_CHAIN's proposal 2 is another proposal ... */
    CHECK(memcmp(v->txids[2], prop2, 32) != 0);
    CHECK(memcmp(v->header->previous_hash.data, ledger_last_hash(f.ledger), 32) == 0);
    CHECK_STR(v->txs[0]->proposal->chain_id, FX_CHAIN);
    block_view_destroy(&v);

    /* An empty block. */
    size_t elen;
    uint8_t *empty = fx_next_block(&f, NULL, NULL, 0, &elen);
    CHECK_EQ(block_view_new(empty, elen, FX_CHAIN, BLOCK_VIEW_PARSE_TXS, &v, &err), 0);
    CHECK_EQ(v->n_txs, 0);
    block_view_destroy(&v);
    free(empty);
    free(block);
    for (int i = 0; i < 3; i++)
        free(txs[i]);
    fx_close(&f);
}

static void
test_block_view_refused(void)
{
    fixture_t f;
    fx_open(&f);
    block_view_t *sentinel = (block_view_t *) &f, *v = sentinel;
    vl_err_t err = { "" };
    CHECK_EQ(block_view_new((const uint8_t *) "garbage", 7, NULL, 0, &v, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "not a valid Block");
    CHECK(v == sentinel);
    CHECK_EQ(block_view_new((const uint8_t *) "", 0, NULL, 0, &v, &err), VL_ERR_INVALID);
    CHECK(v == sentinel);
    /* A Block without a header, and one whose header is not a BlockHeader. */
    uint8_t *bytes;
    size_t len;
    CHECK_EQ(block_pack(NULL, 0, NULL, NULL, 0, NULL, NULL, 0, 0, &bytes, &len), 0);
    CHECK_EQ(block_view_new(bytes, len, NULL, 0, &v, &err), VL_ERR_INVALID);
    CHECK(v == sentinel);
    uint64_t h = 77;
    CHECK(!block_view_height(bytes, len, &h));
    CHECK_EQ(h, 77);
    free(bytes);
    const uint8_t not_header[] = { 0xff, 0xff };
    CHECK_EQ(block_pack(not_header, 2, NULL, NULL, 0, NULL, NULL, 0, 0, &bytes, &len), 0);
    CHECK_EQ(block_view_new(bytes, len, NULL, 0, &v, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "header does not unpack");
    CHECK(v == sentinel);
    CHECK(!block_view_height(bytes, len, &h));
    free(bytes);

    /* VL_BLOCK_TXS_MAX transactions are a block; one more is not. */
    size_t n = VL_BLOCK_TXS_MAX + 1;
    uint8_t **txs = calloc(n, sizeof *txs);
    size_t *lens = calloc(n, sizeof *lens);
    for (size_t i = 0; i < n; i++) {
        txs[i] = (uint8_t *) "x";
        lens[i] = 1;
    }
    uint8_t dh[32], *header;
    size_t hl;
    block_data_hash(txs, lens, n, dh);
    block_header_fields_t hf = { FX_CHAIN, 1, ledger_last_hash(f.ledger),
                                 ledger_state_hash(f.ledger), dh, 5, vl_key_public(f.validator) };
    CHECK_EQ(block_header_pack(&hf, &header, &hl), 0);
    CHECK_EQ(block_pack(header, hl, txs, lens, n, NULL, NULL, 0, 0, &bytes, &len), 0);
    CHECK_EQ(block_view_new(bytes, len, FX_CHAIN, BLOCK_VIEW_PARSE_TXS, &v, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "transactions (limit");
    CHECK(v == sentinel);
    CHECK(block_view_height(bytes, len, &h));   /* the header alone is fine */
    CHECK_EQ(h, 1);
    free(bytes);
    CHECK_EQ(block_pack(header, hl, txs, lens, n - 1, NULL, NULL, 0, 0, &bytes, &len), 0);
    v = NULL;
    CHECK_EQ(block_view_new(bytes, len, FX_CHAIN, BLOCK_VIEW_PARSE_TXS, &v, &err), 0);
    CHECK(v && v->n_txs == VL_BLOCK_TXS_MAX);
    CHECK(v && v->txs[0] == NULL && v->parse_codes[n - 2] == VL__TX_CODE__TX_MALFORMED);
    block_view_destroy(&v);
    free(bytes);
    free(header);
    free(txs);
    free(lens);
    fx_close(&f);
}

static void
test_block_view_height(void)
{
    fixture_t f;
    fx_open(&f);
    uint8_t zero[32] = { 0 };
    uint64_t heights[] = { 1, 2, 300, (uint64_t) 1 << 40 };
    for (size_t i = 0; i < 4; i++) {
        size_t len;
        uint8_t *b = fx_block(&f, &(fx_block_t) { heights[i], zero, zero, 5, false, false, false },
                              NULL, NULL, 0, &len);
        uint64_t h = 0;
        CHECK(block_view_height(b, len, &h));
        CHECK_EQ(h, heights[i]);
        free(b);
    }
    uint64_t h = 5;
    CHECK(!block_view_height((const uint8_t *) "garbage", 7, &h));
    CHECK(!block_view_height((const uint8_t *) "", 0, &h));
    CHECK_EQ(h, 5);
    /* The genesis block has height 0 and a header. */
    uint8_t *g;
    size_t glen;
    CHECK_EQ(ledger_block_get(f.ledger, 0, &g, &glen), 0);
    h = 5;
    CHECK(block_view_height(g, glen, &h));
    CHECK_EQ(h, 0);
    free(g);
    fx_close(&f);
}

int
main(void)
{
    RUN(test_tx_id);
    RUN(test_tx_parse_codes);
    RUN(test_block_view);
    RUN(test_block_view_refused);
    RUN(test_block_view_height);
    return check_done();
}
