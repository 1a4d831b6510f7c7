/*
 * chain_fixture.h — a real one-validator chain for the consensus tests: a
 * genesis committed to a ledger in a temporary directory, a validator key
 * (also the network's one endorser), a user key that creates proposals,
 * and builders for signed transactions and certified blocks.
 *
 *   fixture_t f;
 *   fx_open(&f);
 *   size_t len;
 *   uint8_t *tx = fx_tx(&f, &(fx_tx_t) { .nonce = 1, .write_key = "a", .write_value = "1" },
 *                       &len);
 *   size_t block_len;
 *   uint8_t *block = fx_next_block(&f, &tx, &len, 1, &block_len);
 *   ...
 *   fx_close(&f);
 *
 * Everything returned is malloc'd and the caller's. Single-threaded, like
 * check.h. The genesis time is FX_GENESIS_MS, so tests can tell it from
 * block times.
 */
#ifndef VL_TEST_CHAIN_FIXTURE_H
#define VL_TEST_CHAIN_FIXTURE_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "check.h"
#include "genesis.h"
#include "ledger.h"
#include "members.h"
#include "sigcache.h"
#include "validate.h"

#define FX_CHAIN "vt"
#define FX_GENESIS_MS 1000

typedef struct {
    char dir[256];
    genesis_t g;
    vl_key_t *validator;     /* also the endorser */
    vl_key_t *user;          /* the proposals' creator */
    ledger_t *ledger;
    sigcache_t *cache;
} fixture_t;

static inline void
fx_open(fixture_t *f)
{
    memset(f, 0, sizeof *f);
    CHECK(check_tmpdir(f->dir, sizeof f->dir) != NULL);
    snprintf(f->g.chain_id, sizeof f->g.chain_id, FX_CHAIN);
    f->g.timestamp_ms = FX_GENESIS_MS;
    f->g.gas_max = 1000000;
    f->validator = vl_key_generate();
    f->user = vl_key_generate();
    members_add(&f->g.members, vl_key_public(f->validator), "v", -1, true, true);
    genesis_block_t gb;
    vl_err_t err = { "" };
    CHECK_EQ(genesis_block_build(&f->g, &gb, &err), 0);
    CHECK_EQ(ledger_open(f->dir, FX_CHAIN, gb.hash, &f->ledger, &err), 0);
    CHECK_EQ(ledger_commit_block(f->ledger, &gb.commit, &err), 0);
    genesis_block_clear(&gb);
    f->cache = sigcache_new(100);
}

static inline void
fx_close(fixture_t *f)
{
    ledger_close(&f->ledger);
    sigcache_destroy(&f->cache);
    vl_key_destroy(&f->validator);
    vl_key_destroy(&f->user);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    CHECK_EQ(system(cmd), 0);
}

/* A second ledger from the same genesis (another node's replica), in its
 * own temporary directory written into dir (256 bytes). */
static inline ledger_t *
fx_replica(fixture_t *f, char *dir)
{
    genesis_block_t gb;
    vl_err_t err = { "" };
    ledger_t *l = NULL;
    CHECK(check_tmpdir(dir, 256) != NULL);
    CHECK_EQ(genesis_block_build(&f->g, &gb, &err), 0);
    CHECK_EQ(ledger_open(dir, FX_CHAIN, gb.hash, &l, &err), 0);
    CHECK_EQ(ledger_commit_block(l, &gb.commit, &err), 0);
    genesis_block_clear(&gb);
    return l;
}

static inline void
fx_replica_close(ledger_t **l, const char *dir)
{
    ledger_close(l);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ(system(cmd), 0);
}

static inline validate_ctx_t
fx_ctx(fixture_t *f)
{
    return (validate_ctx_t) { .ledger = f->ledger, .chain_id = FX_CHAIN,
                              .members = &f->g.members, .sigcache = f->cache };
}

typedef struct {
    const char *key;
    bool exists;
    vl_version_t v;
} fx_read_t;

/* What a transaction holds. Two specs with the same nonce (and chain) have
 * the same proposal bytes, so the same txid, whatever their results. */
typedef struct {
    uint64_t nonce;
    const fx_read_t *reads;      /* up to 4 */
    size_t n_reads;
    const char *write_key;       /* NULL = no write */
    const char *write_value;
    const char *write_key2;      /* a second write, NULL = none */
    const char *range_prefix;    /* a range read, NULL = none ... */
    const fx_read_t *range_items;   /* ... that saw these keys (up to 4; none = empty) */
    size_t n_range_items;
    bool bad_creator_sig;
    bool bad_endorsement;        /* the endorser's signature is broken */
    const char *chain_id;        /* NULL = FX_CHAIN */
} fx_tx_t;

/* A transaction as an endorser would have produced it (malloc'd). */
static inline uint8_t *
fx_tx(fixture_t *f, const fx_tx_t *s, size_t *len)
{
    Vl__Proposal p = VL__PROPOSAL__INIT;
    p.chain_id = (char *) (s->chain_id ? s->chain_id : FX_CHAIN);
    p.contract = "c";
    p.function = "f";
    p.args_json = "{}";
    p.creator = (ProtobufCBinaryData) { 32, (uint8_t *) vl_key_public(f->user) };
    p.nonce = s->nonce;
    size_t plen = vl__proposal__get_packed_size(&p);
    uint8_t *pbytes = malloc(plen);
    vl__proposal__pack(&p, pbytes);
    uint8_t txid[32], psig[64];
    vl_sha256(pbytes, plen, txid);
    vl_key_sign(f->user, pbytes, plen, psig);
    if (s->bad_creator_sig)
        psig[5] ^= 1;

    Vl__EndorsedResult r = VL__ENDORSED_RESULT__INIT;
    r.txid = (ProtobufCBinaryData) { 32, txid };
    Vl__ReadItem ri[4], *rp[4];
    for (size_t i = 0; i < s->n_reads && i < 4; i++) {
        vl__read_item__init(&ri[i]);
        ri[i].key = (char *) s->reads[i].key;
        ri[i].exists = s->reads[i].exists;
        ri[i].block = s->reads[i].v.block;
        ri[i].tx = s->reads[i].v.tx;
        rp[i] = &ri[i];
    }
    r.n_reads = s->n_reads;
    r.reads = rp;
    Vl__WriteItem w[2] = { VL__WRITE_ITEM__INIT, VL__WRITE_ITEM__INIT };
    Vl__WriteItem *wp[2] = { &w[0], &w[1] };
    if (s->write_key) {
        w[0].key = (char *) s->write_key;
        w[0].value = (ProtobufCBinaryData) { strlen(s->write_value), (uint8_t *) s->write_value };
        r.n_writes = 1;
        if (s->write_key2) {
            w[1].key = (char *) s->write_key2;
            w[1].value = (ProtobufCBinaryData) { 1, (uint8_t *) "2" };
            r.n_writes = 2;
        }
        r.writes = wp;
    }
    Vl__RangeRead rr = VL__RANGE_READ__INIT, *rrp = &rr;
    Vl__ReadItem rit[4], *ritp[4];
    for (size_t i = 0; i < s->n_range_items && i < 4; i++) {
        vl__read_item__init(&rit[i]);
        rit[i].key = (char *) s->range_items[i].key;
        rit[i].exists = true;
        rit[i].block = s->range_items[i].v.block;
        rit[i].tx = s->range_items[i].v.tx;
        ritp[i] = &rit[i];
    }
    if (s->range_prefix) {
        rr.prefix = (char *) s->range_prefix;
        rr.n_items = s->n_range_items;
        rr.items = ritp;
        r.n_ranges = 1;
        r.ranges = &rrp;
    }
    r.result_json = "null";
    size_t rlen = vl__endorsed_result__get_packed_size(&r);
    uint8_t *rbytes = malloc(rlen), esig[64];
    vl__endorsed_result__pack(&r, rbytes);
    vl_key_sign(f->validator, rbytes, rlen, esig);
    if (s->bad_endorsement)
        esig[7] ^= 1;

    Vl__Endorsement e = VL__ENDORSEMENT__INIT, *ep = &e;
    e.endorser = (ProtobufCBinaryData) { 32, (uint8_t *) vl_key_public(f->validator) };
    e.signature = (ProtobufCBinaryData) { 64, esig };
    Vl__Transaction t = VL__TRANSACTION__INIT;
    t.proposal = (ProtobufCBinaryData) { plen, pbytes };
    t.proposal_signature = (ProtobufCBinaryData) { 64, psig };
    t.result = (ProtobufCBinaryData) { rlen, rbytes };
    t.n_endorsements = 1;
    t.endorsements = &ep;
    *len = vl__transaction__get_packed_size(&t);
    uint8_t *out = malloc(*len);
    vl__transaction__pack(&t, out);
    free(pbytes);
    free(rbytes);
    return out;
}

/* The txid of a proposal with this nonce (SHA-256 of its bytes). */
static inline void
fx_txid(fixture_t *f, uint64_t nonce, uint8_t out[32])
{
    size_t len;
    uint8_t *tx = fx_tx(f, &(fx_tx_t) { .nonce = nonce }, &len);
    Vl__Transaction *t = vl__transaction__unpack(NULL, len, tx);
    vl_sha256(t->proposal.data, t->proposal.len, out);
    vl__transaction__free_unpacked(t, NULL);
    free(tx);
}

/* What a block's header carries, when a test wants it wrong. */
typedef struct {
    uint64_t height;
    const uint8_t *prev;         /* 32 bytes */
    const uint8_t *state;        /* 32 bytes */
    int64_t time_ms;
    bool no_certificate;
    bool bad_data_hash;
    bool bad_certificate;        /* the vote signs another block hash */
} fx_block_t;

/* A block over txs with the header of b, certified by the validator unless
 * b says otherwise (malloc'd). */
static inline uint8_t *
fx_block(fixture_t *f, const fx_block_t *b, uint8_t **txs, size_t *lens, size_t n,
         size_t *block_len)
{
    uint8_t data_hash[32], hash[32];
    block_data_hash(txs, lens, n, data_hash);
    if (b->bad_data_hash)
        data_hash[0] ^= 1;
    block_header_fields_t h = { FX_CHAIN, b->height, b->prev, b->state, data_hash, b->time_ms,
                                vl_key_public(f->validator) };
    uint8_t *header, *vote = NULL, *block = NULL;
    size_t header_len, vote_len = 0;
    CHECK_EQ(block_header_pack(&h, &header, &header_len), 0);
    vl_sha256(header, header_len, hash);
    if (b->bad_certificate)
        hash[3] ^= 1;
    CHECK_EQ(block_sign_precommit(f->validator, FX_CHAIN, b->height, 0, hash, b->time_ms, &vote,
                                  &vote_len), 0);
    CHECK_EQ(block_pack(header, header_len, txs, lens, n, &vote, &vote_len,
                        b->no_certificate ? 0 : 1, 0, &block, block_len), 0);
    free(header);
    free(vote);
    return block;
}

/* A certified block over txs that extends the ledger's tip, at time
 * FX_GENESIS_MS + 100 x its height. */
static inline uint8_t *
fx_next_block(fixture_t *f, uint8_t **txs, size_t *lens, size_t n, size_t *block_len)
{
    uint64_t h = ledger_height(f->ledger) + 1;
    fx_block_t b = { h, ledger_last_hash(f->ledger), ledger_state_hash(f->ledger),
                     FX_GENESIS_MS + 100 * (int64_t) h, false, false, false };
    return fx_block(f, &b, txs, lens, n, block_len);
}

/* Validates and commits bytes; the codes go to codes[] (may be NULL). */
static inline int
fx_commit(fixture_t *f, const uint8_t *block, size_t len, int *codes)
{
    validate_ctx_t ctx = fx_ctx(f);
    validated_block_t *vb = NULL;
    vl_err_t err = { "" };
    int rc = validate_block(&ctx, block, len, &vb, &err);
    if (rc == 0) {
        for (size_t i = 0; codes && i < vb->view->n_txs; i++)
            codes[i] = vb->effects[i].code;
        rc = ledger_commit_block(f->ledger, &vb->commit, &err);
    }
    validated_block_destroy(&vb);
    return rc;
}
#endif
