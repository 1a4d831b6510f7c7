/*
 * test_consensus.c — members, signature cache, mempool, blocks and commit
 * certificates, genesis documents, and block validation (signatures,
 * duplicates, MVCC and phantom reads) against a real ledger in a temp dir.
 */
#include <stdlib.h>
#include <unistd.h>

#include "block.h"
#include "check.h"
#include "clock.h"
#include "codec.h"
#include "genesis.h"
#include "ledger.h"
#include "members.h"
#include "orgs.h"
#include "mempool.h"
#include "sigcache.h"
#include "tx.h"
#include "validate.h"

static void
test_members(void)
{
    members_t m = { .count = 0 };
    vl_key_t *a = vl_key_generate(), *b = vl_key_generate();
    CHECK_EQ(members_add(&m, vl_key_public(a), "a", -1, true, true), 0);
    CHECK_EQ(members_add(&m, vl_key_public(a), "a2", -1, true, true), VL_ERR_EXISTS);
    CHECK_EQ(members_add(&m, vl_key_public(b), "b", -1, false, true), 0);
    CHECK_EQ(members_validator_count(&m), 1);
    const member_t *x = members_find(&m, vl_key_public(b), 32);
    CHECK(x && !x->validator && x->endorser);
    CHECK(members_find(&m, vl_key_public(b), 31) == NULL);
    vl_key_destroy(&a);
    vl_key_destroy(&b);
}

static void
test_sigcache(void)
{
    sigcache_t *c = sigcache_new(4);
    vl_key_t *k = vl_key_generate();
    uint8_t sig[64];
    vl_key_sign(k, "m1", 2, sig);
    CHECK(sigcache_verify(c, vl_key_public(k), 32, "m1", 2, sig, 64));
    CHECK(sigcache_verify(c, vl_key_public(k), 32, "m1", 2, sig, 64));
    CHECK_EQ(sigcache_hits(c), 1);
    /* A cached (key, signature) never vouches for another message. */
    CHECK(!sigcache_verify(c, vl_key_public(k), 32, "m2", 2, sig, 64));
    CHECK(!sigcache_verify(c, vl_key_public(k), 32, "m1", 2, sig, 63));
    /* Eviction keeps it bounded and correct. */
    for (int i = 0; i < 20; i++) {
        char msg[16];
        snprintf(msg, sizeof msg, "x%d", i);
        uint8_t s[64];
        vl_key_sign(k, msg, strlen(msg), s);
        CHECK(sigcache_verify(c, vl_key_public(k), 32, msg, strlen(msg), s, 64));
    }
    CHECK(sigcache_verify(c, vl_key_public(k), 32, "m1", 2, sig, 64));
    sig[0] ^= 1;
    CHECK(!sigcache_verify(c, vl_key_public(k), 32, "m1", 2, sig, 64));
    /* A signature we made ourselves is known valid without a curve check. */
    uint8_t own[64];
    vl_key_sign(k, "own", 3, own);
    uint64_t misses = sigcache_misses(c);
    sigcache_add(c, vl_key_public(k), "own", 3, own);
    CHECK(sigcache_verify(c, vl_key_public(k), 32, "own", 3, own, 64));
    CHECK_EQ(sigcache_misses(c), misses);
    CHECK(!sigcache_verify(c, vl_key_public(k), 32, "own!", 4, own, 64));
    sigcache_destroy(&c);
    vl_key_destroy(&k);
}

static uint8_t *
s_dup(const char *s)
{
    return (uint8_t *) strdup(s);
}

static void
test_mempool(void)
{
    mempool_t *m = mempool_new(3, 1000);
    uint8_t id[4][32];
    for (int i = 0; i < 4; i++)
        vl_sha256(&i, sizeof i, id[i]);
    uint8_t *b = s_dup("aa");
    CHECK_EQ(mempool_add(m, id[0], &b, 2, 0, 10), 0);
    CHECK(b == NULL);
    b = s_dup("aa");
    CHECK_EQ(mempool_add(m, id[0], &b, 2, 0, 11), VL_ERR_EXISTS);
    CHECK(b == NULL);
    b = s_dup("bb");
    CHECK_EQ(mempool_add(m, id[1], &b, 2, 0, 12), 0);
    b = s_dup("cc");
    CHECK_EQ(mempool_add(m, id[2], &b, 2, 0, 13), 0);
    b = s_dup("dd");
    CHECK_EQ(mempool_add(m, id[3], &b, 2, 0, 14), VL_ERR_LIMIT);
    CHECK_EQ(mempool_count(m), 3);
    CHECK_EQ(mempool_bytes(m), 6);
    CHECK_EQ(mempool_oldest_ms(m), 10);
    mempool_entry_t one;
    CHECK(mempool_get(m, id[1], &one));
    CHECK(one.len == 2 && memcmp(one.bytes, "bb", 2) == 0 && one.added_ms == 12);
    CHECK(!mempool_get(m, id[3], &one));
    mempool_remove(m, id[1]);
    CHECK(!mempool_contains(m, id[1]));
    mempool_remove(m, id[1]);   /* unknown id: no-op */
    /* Reaped, not removed: a failed round keeps its txs. */
    mempool_entry_t out[3];
    CHECK_EQ(mempool_reap(m, 3, SIZE_MAX, out) + 0, 2);
    CHECK(memcmp(out[0].txid, id[0], 32) == 0);
    CHECK(memcmp(out[1].txid, id[2], 32) == 0);
    CHECK_EQ(mempool_count(m), 2);
    CHECK_EQ(mempool_reap(m, 1, SIZE_MAX, out) + 0, 1);
    mempool_remove(m, id[0]);
    mempool_remove(m, id[2]);
    CHECK_EQ(mempool_count(m), 0);
    CHECK_EQ(mempool_bytes(m), 0);
    CHECK_EQ(mempool_oldest_ms(m), -1);
    mempool_t *big = mempool_new(10, 3);
    b = s_dup("abcd");
    CHECK_EQ(mempool_add(big, id[0], &b, 4, 0, 1), VL_ERR_LIMIT);
    mempool_destroy(&big);
    mempool_destroy(&m);
    mempool_destroy(&m);
}

static void
test_mempool_reap_limits(void)
{
    mempool_t *m = mempool_new(10, 1000);
    uint8_t id[3][32];
    for (int i = 0; i < 3; i++) {
        vl_sha256(&i, sizeof i, id[i]);
        uint8_t *b = malloc(100);
        memset(b, 'a' + i, 100);
        CHECK_EQ(mempool_add(m, id[i], &b, 100, 0, i), 0);
    }
    mempool_entry_t out[3];
    CHECK_EQ(mempool_reap(m, 3, 250, out) + 0, 2);   /* a third would pass 250 bytes */
    CHECK_EQ(mempool_reap(m, 3, 10, out) + 0, 1);    /* an oversized first still goes */
    CHECK_EQ(mempool_reap(m, 2, 1000, out) + 0, 2);  /* count bound */
    mempool_destroy(&m);
}

static void
test_mempool_resend(void)
{
    mempool_t *m = mempool_new(10, 1000);
    uint8_t id[2][32];
    for (int i = 0; i < 2; i++)
        vl_sha256(&i, sizeof i, id[i]);
    uint8_t *b = s_dup("ours");
    CHECK_EQ(mempool_add(m, id[0], &b, 4, MEMPOOL_OURS, 0), 0);
    b = s_dup("gossiped");
    CHECK_EQ(mempool_add(m, id[1], &b, 8, 0, 0), 0);
    mempool_entry_t due[4];
    size_t gave_up = 99;
    CHECK_EQ(mempool_due_resends(m, MEMPOOL_RESEND_FIRST_MS - 1, due, 4, &gave_up) + 0, 0);
    CHECK_EQ(gave_up, 0);
    /* Each try doubles the wait; only ours is resent; after the last try
     * the schedule ends but the tx stays pending. */
    int64_t t = 0, wait = MEMPOOL_RESEND_FIRST_MS;
    for (int k = 0; k < MEMPOOL_RESEND_TRIES; k++) {
        t += wait;
        CHECK_EQ(mempool_due_resends(m, t - 1, due, 4, &gave_up) + 0, 0);
        CHECK_EQ(mempool_due_resends(m, t, due, 4, &gave_up) + 0, 1);
        CHECK(memcmp(due[0].txid, id[0], 32) == 0);
        CHECK_EQ(gave_up, k == MEMPOOL_RESEND_TRIES - 1 ? 1 : 0);
        wait *= 2;
    }
    CHECK_EQ(mempool_due_resends(m, t + 1000000, due, 4, &gave_up) + 0, 0);
    CHECK(mempool_contains(m, id[0]));
    /* Committed (removed) ends the schedule at once. */
    uint8_t id2[32];
    vl_sha256("x", 1, id2);
    b = s_dup("x");
    CHECK_EQ(mempool_add(m, id2, &b, 1, MEMPOOL_OURS, 0), 0);
    mempool_remove(m, id2);
    CHECK_EQ(mempool_due_resends(m, 1000000, due, 4, &gave_up) + 0, 0);
    /* The max bound leaves the rest due for the next call. */
    for (int i = 0; i < 3; i++) {
        uint8_t x[32];
        vl_sha256(&i, 1, x);
        x[0] ^= 0xff;
        b = s_dup("y");
        CHECK_EQ(mempool_add(m, x, &b, 1, MEMPOOL_OURS, 0), 0);
    }
    CHECK_EQ(mempool_due_resends(m, 1000, due, 2, NULL) + 0, 2);
    CHECK_EQ(mempool_due_resends(m, 1000, due, 2, NULL) + 0, 1);
    mempool_destroy(&m);
}

static void
test_commit_certificate(void)
{
    members_t m = { .count = 0 };
    vl_key_t *k[4];
    for (int i = 0; i < 4; i++) {
        k[i] = vl_key_generate();
        members_add(&m, vl_key_public(k[i]), "v", -1, true, true);
    }
    uint8_t hash[32], other[32];
    vl_sha256("block", 5, hash);
    vl_sha256("other", 5, other);
    uint8_t *votes[5];
    size_t lens[5];
    for (int i = 0; i < 4; i++)
        CHECK_EQ(block_sign_precommit(k[i], "c1", 7, 0, hash, 1, &votes[i], &lens[i]), 0);
    /* a vote for another block does not count */
    CHECK_EQ(block_sign_precommit(k[3], "c1", 7, 0, other, 1, &votes[4], &lens[4]), 0);
    uint8_t header[] = { 1, 2, 3 };
    vl_err_t err = { "" };
    for (size_t n = 1; n <= 4; n++) {
        uint8_t *bytes;
        size_t len;
        /* with the first n votes (duplicated votes from one validator count once) */
        uint8_t *use[5];
        size_t use_len[5];
        for (size_t i = 0; i < n; i++) {
            use[i] = votes[i];
            use_len[i] = lens[i];
        }
        use[n] = votes[0];
        use_len[n] = lens[0];
        CHECK_EQ(block_pack(header, 3, NULL, NULL, 0, use, use_len, n + 1, 0, &bytes, &len), 0);
        Vl__Block *b = vl__block__unpack(NULL, len, bytes);
        int rc = block_verify_commit(b->commit, "c1", 7, hash, &m, NULL, &err);
        CHECK_EQ(rc, n >= 3 ? 0 : VL_ERR_SIGNATURE);
        if (n < 3)
            CHECK_CONTAINS(err.msg, "needs more than 2/3");
        CHECK_EQ(block_verify_commit(b->commit, "c1", 8, hash, &m, NULL, &err), VL_ERR_SIGNATURE);
        CHECK_EQ(block_verify_commit(b->commit, "c2", 7, hash, &m, NULL, &err), VL_ERR_SIGNATURE);
        vl__block__free_unpacked(b, NULL);
        free(bytes);
    }
    CHECK_EQ(block_verify_commit(NULL, "c1", 7, hash, &m, NULL, &err), VL_ERR_SIGNATURE);
    CHECK_CONTAINS(err.msg, "no commit certificate");
    for (int i = 0; i < 5; i++)
        free(votes[i]);
    for (int i = 0; i < 4; i++)
        vl_key_destroy(&k[i]);
}

static void
s_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void
test_genesis_files(void)
{
    char dir[256], path[300];
    check_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/genesis.json", dir);
    genesis_t g;
    memset(&g, 0, sizeof g);
    snprintf(g.chain_id, sizeof g.chain_id, "test-chain");
    g.timestamp_ms = 1000;
    g.gas_max = 5;
    vl_key_t *k = vl_key_generate();
    const char *roles[] = { "validator", "issuer" };
    vl_err_t err = { "" };
    CHECK_EQ(orgs_add(&g.orgs, "solo-org", roles, 2, &err), 0);
    members_add(&g.members, vl_key_public(k), "solo", 0, true, true);
    CHECK_EQ(genesis_save(&g, path, &err), 0);
    CHECK_EQ(genesis_save(&g, path, &err), VL_ERR_EXISTS);
    genesis_t back;
    CHECK_EQ(genesis_load(path, &back, &err), 0);
    CHECK_STR(back.chain_id, "test-chain");
    CHECK_EQ(back.members.count, 1);
    CHECK(memcmp(back.members.items[0].public_key, vl_key_public(k), 32) == 0);
    CHECK_EQ(back.orgs.count, 1);
    CHECK_EQ(back.members.items[0].org, 0);
    CHECK(back.members.items[0].validator);
    CHECK_STR(genesis_org_of(&back, &back.members.items[0])->name, "solo-org");
    genesis_block_t a, b;
    CHECK_EQ(genesis_block_build(&g, &a, &err), 0);
    CHECK_EQ(genesis_block_build(&back, &b, &err), 0);
    CHECK(memcmp(a.hash, b.hash, 32) == 0);   /* same document, same genesis */
    CHECK(a.effect.n_writes >= 3);            /* the standard contracts */
    /* ... then the organisation, the node's identity and wallet, the supply. */
    bool org_doc = false, node_doc = false, supply = false;
    for (size_t i = 0; i < a.effect.n_writes; i++) {
        const Vl__WriteItem *w = a.writes[i];
        org_doc |= strcmp(w->key, "org/solo-org") == 0
                   && strstr((const char *) w->value.data, back.members.items[0].did);
        node_doc |= strncmp(w->key, "did/", 4) == 0
                    && strstr((const char *) w->value.data, "\"org\":\"solo-org\"");
        supply |= strcmp(w->key, "money/supply") == 0;
    }
    CHECK(org_doc && node_doc && supply);
    genesis_block_clear(&a);
    genesis_block_clear(&b);

    struct {
        const char *text, *msg;
    } bad[] = {
        { "{", "cannot read genesis" },
        { "[]", "not an object" },
        { "{\"chain_id\":\"x\",\"timestamp_ms\":1}", "missing parameter 'gas_max'" },
        { "{\"chain_id\":\"Bad Id\",\"timestamp_ms\":1,\"gas_max\":1,\"members\":[]}",
          "chain_id must be" },
        { "{\"chain_id\":\"x\",\"timestamp_ms\":1,\"gas_max\":1,\"members\":[]}",
          "non-empty array" },
        { "{\"chain_id\":\"x\",\"timestamp_ms\":1,\"gas_max\":1,\"members\":[{\"name\":\"a\","
          "\"public_key\":\"AAAA\"}]}",
          "'organisations' must be" },
        { "{\"chain_id\":\"x\",\"timestamp_ms\":1,\"gas_max\":1,\"organisations\":[{\"name\":"
          "\"o\",\"roles\":[\"validator\"]}],\"members\":[{\"name\":\"a\",\"org\":\"o\","
          "\"public_key\":\"AAAA\"}]}",
          "32-byte public_key" },
        { "{\"chain_id\":\"x\",\"timestamp_ms\":1,\"gas_max\":1,\"organisations\":[{\"name\":"
          "\"o\",\"roles\":[\"wizard\"]}],\"members\":[{\"name\":\"a\",\"org\":\"o\","
          "\"public_key\":\"AAAA\"}]}",
          "wizard" },
        { "{\"chain_id\":\"x\",\"timestamp_ms\":1,\"gas_max\":1,\"organisations\":[{\"name\":"
          "\"o\",\"roles\":[]}],\"members\":[{\"name\":\"a\",\"org\":\"p\","
          "\"public_key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}]}",
          "organisation 'p', which is not in 'organisations'" },
        { "{\"chain_id\":\"x\",\"timestamp_ms\":1,\"gas_max\":1,\"organisations\":[{\"name\":"
          "\"o\",\"roles\":[]}],\"members\":[{\"name\":\"a\",\"org\":\"o\",\"validator\":true,"
          "\"public_key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}]}",
          "does not hold the role validator" },
        { "{\"chain_id\":\"x\",\"timestamp_ms\":1,\"gas_max\":1,\"organisations\":[{\"name\":"
          "\"o\",\"roles\":[]}],\"members\":[{\"name\":\"a\",\"org\":\"o\","
          "\"public_key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}]}",
          "at least one member must be a validator" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unlink(path);
        s_write_file(path, bad[i].text);
        CHECK_EQ(genesis_load(path, &back, &err) < 0, 1);
        CHECK_CONTAINS(err.msg, bad[i].msg);
    }
    unlink(path);
    CHECK_EQ(genesis_load(path, &back, &err), VL_ERR_IO);
    rmdir(dir);
    vl_key_destroy(&k);
}

/* --- Validation against a real ledger ------------------------------------ */

typedef struct {
    char dir[256];
    genesis_t g;
    vl_key_t *validator;     /* also the endorser */
    vl_key_t *user;
    ledger_t *ledger;
    sigcache_t *cache;
} fixture_t;

static void
s_fixture(fixture_t *f)
{
    memset(f, 0, sizeof *f);
    check_tmpdir(f->dir, sizeof f->dir);
    snprintf(f->g.chain_id, sizeof f->g.chain_id, "vt");
    f->g.timestamp_ms = 1;
    f->g.gas_max = 1000000;
    f->validator = vl_key_generate();
    f->user = vl_key_generate();
    members_add(&f->g.members, vl_key_public(f->validator), "v", -1, true, true);
    genesis_block_t gb;
    vl_err_t err;
    CHECK_EQ(genesis_block_build(&f->g, &gb, &err), 0);
    CHECK_EQ(ledger_open(f->dir, "vt", gb.hash, &f->ledger, &err), 0);
    CHECK_EQ(ledger_commit_block(f->ledger, &gb.commit, &err), 0);
    genesis_block_clear(&gb);
    f->cache = sigcache_new(100);
}

static void
s_fixture_done(fixture_t *f)
{
    ledger_close(&f->ledger);
    sigcache_destroy(&f->cache);
    vl_key_destroy(&f->validator);
    vl_key_destroy(&f->user);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    CHECK_EQ(system(cmd), 0);
}

typedef struct {
    const char *key;
    bool exists;
    vl_version_t v;
} read_t;

/* A transaction as an endorser would have produced it. */
static uint8_t *
s_make_tx(fixture_t *f, uint64_t nonce, const read_t *reads, size_t n_reads, const char *write_key,
          const char *write_value, const char *range_prefix, size_t *len, bool bad_creator_sig)
{
    Vl__Proposal p = VL__PROPOSAL__INIT;
    p.chain_id = "vt";
    p.contract = "c";
    p.function = "f";
    p.args_json = "{}";
    p.creator = (ProtobufCBinaryData) { 32, (uint8_t *) vl_key_public(f->user) };
    p.nonce = nonce;
    size_t plen = vl__proposal__get_packed_size(&p);
    uint8_t *pbytes = malloc(plen);
    vl__proposal__pack(&p, pbytes);
    uint8_t txid[32], psig[64];
    vl_sha256(pbytes, plen, txid);
    vl_key_sign(f->user, pbytes, plen, psig);
    if (bad_creator_sig)
        psig[5] ^= 1;

    Vl__EndorsedResult r = VL__ENDORSED_RESULT__INIT;
    r.txid = (ProtobufCBinaryData) { 32, txid };
    Vl__ReadItem ri[4], *rp[4];
    for (size_t i = 0; i < n_reads; i++) {
        vl__read_item__init(&ri[i]);
        ri[i].key = (char *) reads[i].key;
        ri[i].exists = reads[i].exists;
        ri[i].block = reads[i].v.block;
        ri[i].tx = reads[i].v.tx;
        rp[i] = &ri[i];
    }
    r.n_reads = n_reads;
    r.reads = rp;
    Vl__WriteItem w = VL__WRITE_ITEM__INIT, *wp = &w;
    if (write_key) {
        w.key = (char *) write_key;
        w.value = (ProtobufCBinaryData) { strlen(write_value), (uint8_t *) write_value };
        r.n_writes = 1;
        r.writes = &wp;
    }
    Vl__RangeRead rr = VL__RANGE_READ__INIT, *rrp = &rr;
    if (range_prefix) {
        rr.prefix = (char *) range_prefix;
        r.n_ranges = 1;
        r.ranges = &rrp;
    }
    r.result_json = "null";
    size_t rlen = vl__endorsed_result__get_packed_size(&r);
    uint8_t *rbytes = malloc(rlen), esig[64];
    vl__endorsed_result__pack(&r, rbytes);
    vl_key_sign(f->validator, rbytes, rlen, esig);

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

/* Builds, certifies, validates and commits a block of txs; returns the
 * validation codes in codes[]. */
static int
s_commit(fixture_t *f, uint8_t **txs, size_t *lens, size_t n, int *codes, bool certify)
{
    uint8_t data_hash[32], hash[32];
    block_data_hash(txs, lens, n, data_hash);
    block_header_fields_t h = { "vt", ledger_height(f->ledger) + 1, ledger_last_hash(f->ledger),
                                ledger_state_hash(f->ledger), data_hash, 5,
                                vl_key_public(f->validator) };
    uint8_t *header, *vote = NULL, *block;
    size_t header_len, vote_len = 0, block_len;
    block_header_pack(&h, &header, &header_len);
    vl_sha256(header, header_len, hash);
    block_sign_precommit(f->validator, "vt", h.height, 0, hash, 5, &vote, &vote_len);
    block_pack(header, header_len, txs, lens, n, &vote, &vote_len, certify ? 1 : 0, 0, &block,
               &block_len);
    validate_ctx_t ctx = { .ledger = f->ledger, .chain_id = "vt", .members = &f->g.members, .sigcache = f->cache,
                           .orgs = NULL };
    validated_block_t *vb = NULL;
    vl_err_t err = { "" };
    int rc = validate_block(&ctx, block, block_len, &vb, &err);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            codes[i] = vb->effects[i].code;
        rc = ledger_commit_block(f->ledger, &vb->commit, &err);
    }
    validated_block_destroy(&vb);
    free(header);
    free(vote);
    free(block);
    return rc;
}

static void
test_validate_block(void)
{
    fixture_t f;
    s_fixture(&f);
    size_t lens[6];
    uint8_t *txs[6];
    int codes[6];
    /* Block 1: write a; then a second tx reading a as absent conflicts with
     * the first's write (MVCC within one block); a bad creator signature; a
     * duplicate of the first. */
    read_t absent_a = { "a", false, { 0, 0 } };
    txs[0] = s_make_tx(&f, 1, &absent_a, 1, "a", "1", NULL, &lens[0], false);
    txs[1] = s_make_tx(&f, 2, &absent_a, 1, "a", "2", NULL, &lens[1], false);
    txs[2] = s_make_tx(&f, 3, NULL, 0, "b", "3", NULL, &lens[2], true);
    txs[3] = malloc(lens[0]);
    memcpy(txs[3], txs[0], lens[0]);
    lens[3] = lens[0];
    txs[4] = (uint8_t *) strdup("garbage");
    lens[4] = 7;
    CHECK_EQ(s_commit(&f, txs, lens, 5, codes, true), 0);
    CHECK_EQ(codes[0], VL__TX_CODE__TX_VALID);
    CHECK_EQ(codes[1], VL__TX_CODE__TX_MVCC_CONFLICT);
    CHECK_EQ(codes[2], VL__TX_CODE__TX_BAD_CREATOR_SIGNATURE);
    CHECK_EQ(codes[3], VL__TX_CODE__TX_DUPLICATE_TXID);
    CHECK_EQ(codes[4], VL__TX_CODE__TX_MALFORMED);
    char *value = NULL;
    size_t vlen;
    vl_version_t v;
    CHECK_EQ(ledger_get(f.ledger, "a", &value, &vlen, &v), 0);
    CHECK_STR(value, "1");
    CHECK_EQ(v.block, 1);
    CHECK_EQ(v.tx, 0);
    free(value);
    CHECK_EQ(ledger_get(f.ledger, "b", &value, &vlen, &v), VL_ERR_NOT_FOUND);
    /* The first tx's index entry survives its replay in the same block. */
    uint8_t txid[32];
    tx_parsed_t *p = NULL;
    int code;
    vl_err_t err;
    CHECK_EQ(tx_parse(txs[0], lens[0], "vt", &p, &code, &err), 0);
    memcpy(txid, p->txid, 32);
    tx_destroy(&p);
    ledger_tx_info_t info;
    CHECK_EQ(ledger_tx_get(f.ledger, txid, &info), 0);
    CHECK_EQ(info.code, VL__TX_CODE__TX_VALID);
    CHECK_EQ(info.index, 0);
    for (int i = 0; i < 5; i++)
        free(txs[i]);

    /* Block 2: a stale read of a (version {0,0}) conflicts; a current read
     * {1,0} passes; a replay of block 1's tx is a duplicate; a range read of
     * "a" recorded as empty is a phantom. */
    read_t stale = { "a", true, { 0, 0 } }, current = { "a", true, { 1, 0 } };
    txs[0] = s_make_tx(&f, 4, &stale, 1, "c", "4", NULL, &lens[0], false);
    txs[1] = s_make_tx(&f, 5, &current, 1, "c", "5", NULL, &lens[1], false);
    txs[2] = s_make_tx(&f, 1, &absent_a, 1, "a", "1", NULL, &lens[2], false);
    txs[3] = s_make_tx(&f, 6, NULL, 0, "d", "6", "a", &lens[3], false);
    CHECK_EQ(s_commit(&f, txs, lens, 4, codes, true), 0);
    CHECK_EQ(codes[0], VL__TX_CODE__TX_MVCC_CONFLICT);
    CHECK_EQ(codes[1], VL__TX_CODE__TX_VALID);
    CHECK_EQ(codes[2], VL__TX_CODE__TX_DUPLICATE_TXID);
    CHECK_EQ(codes[3], VL__TX_CODE__TX_PHANTOM_READ);
    CHECK_EQ(ledger_tx_get(f.ledger, txid, &info), 0);
    CHECK_EQ(info.height, 1);     /* the replay did not overwrite the record */
    for (int i = 0; i < 4; i++)
        free(txs[i]);

    /* A block without a commit certificate is refused whole. */
    uint64_t h = ledger_height(f.ledger);
    txs[0] = s_make_tx(&f, 7, NULL, 0, "e", "7", NULL, &lens[0], false);
    CHECK_EQ(s_commit(&f, txs, lens, 1, codes, false), VL_ERR_SIGNATURE);
    CHECK_EQ(ledger_height(f.ledger), h);
    free(txs[0]);
    s_fixture_done(&f);
}

/* A certified block over txs on top of the given tip (malloc'd). */
static uint8_t *
s_build_block(fixture_t *f, uint64_t height, const uint8_t *prev, const uint8_t *state,
              uint8_t **txs, size_t *lens, size_t n, size_t *block_len)
{
    uint8_t data_hash[32], hash[32];
    block_data_hash(txs, lens, n, data_hash);
    block_header_fields_t h = { "vt", height, prev, state, data_hash, 5,
                                vl_key_public(f->validator) };
    uint8_t *header, *vote = NULL, *block;
    size_t header_len, vote_len = 0;
    block_header_pack(&h, &header, &header_len);
    vl_sha256(header, header_len, hash);
    block_sign_precommit(f->validator, "vt", height, 0, hash, 5, &vote, &vote_len);
    block_pack(header, header_len, txs, lens, n, &vote, &vote_len, 1, 0, &block, block_len);
    free(header);
    free(vote);
    return block;
}

/* A run (validate_run_t): the second block is judged against the state,
 * txids and tip the first leaves though the first is not committed; a
 * block refused whole leaves the run usable; ledger_commit_blocks then
 * commits both in one batch to the state sequential commits would reach. */
static void
test_validate_run(void)
{
    fixture_t f;
    s_fixture(&f);
    validate_ctx_t ctx = { .ledger = f.ledger, .chain_id = "vt", .members = &f.g.members, .sigcache = f.cache,
                           .orgs = NULL };
    validate_run_t *run = validate_run_new(f.ledger);
    uint64_t h0 = ledger_height(f.ledger);
    uint8_t s0[32];
    memcpy(s0, ledger_state_hash(f.ledger), 32);
    vl_err_t err = { "" };

    read_t absent_r = { "r", false, { 0, 0 } };
    uint8_t *t1[1];
    size_t l1[1];
    t1[0] = s_make_tx(&f, 11, &absent_r, 1, "r", "1", NULL, &l1[0], false);
    size_t b1_len;
    uint8_t *b1 = s_build_block(&f, h0 + 1, ledger_last_hash(f.ledger), s0, t1, l1, 1, &b1_len);
    validated_block_t *v1 = NULL, *v2 = NULL;
    CHECK_EQ(validate_block_in_run(&ctx, run, b1, b1_len, &v1, &err), 0);
    CHECK_EQ(validate_run_count(run), 1);
    CHECK_EQ(ledger_height(f.ledger), h0);   /* nothing committed yet */
    uint8_t s1[32];
    CHECK_EQ(ledger_state_fold(s0, &v1->commit, s1), 0);

    read_t current = { "r", true, { h0 + 1, 0 } };
    uint8_t *t2[4];
    size_t l2[4];
    t2[0] = s_make_tx(&f, 12, &current, 1, "q", "2", NULL, &l2[0], false);
    t2[1] = s_make_tx(&f, 13, &absent_r, 1, "q", "3", NULL, &l2[1], false);
    t2[2] = malloc(l1[0]);
    memcpy(t2[2], t1[0], l1[0]);
    l2[2] = l1[0];
    t2[3] = s_make_tx(&f, 14, NULL, 0, "z", "4", "r", &l2[3], false);
    /* A certified block carrying the state before block 1: the validators
     * agreed on another state, so this replica diverged (it must halt,
     * naming both hashes); the run itself is left as it was. */
    size_t bad_len, b2_len;
    uint8_t *bad = s_build_block(&f, h0 + 2, v1->view->hash, s0, t2, l2, 4, &bad_len);
    CHECK_EQ(validate_block_in_run(&ctx, run, bad, bad_len, &v2, &err), VL_ERR_CORRUPT);
    CHECK_CONTAINS(err.msg, "this replica diverged");
    CHECK_CONTAINS(err.msg, "carries state hash");
    CHECK_EQ(validate_run_count(run), 1);
    uint8_t *b2 = s_build_block(&f, h0 + 2, v1->view->hash, s1, t2, l2, 4, &b2_len);
    CHECK_EQ(validate_block_in_run(&ctx, run, b2, b2_len, &v2, &err), 0);
    CHECK_EQ(v2->effects[0].code, VL__TX_CODE__TX_VALID);
    CHECK_EQ(v2->effects[1].code, VL__TX_CODE__TX_MVCC_CONFLICT);
    CHECK_EQ(v2->effects[2].code, VL__TX_CODE__TX_DUPLICATE_TXID);
    CHECK_EQ(v2->effects[3].code, VL__TX_CODE__TX_PHANTOM_READ);

    const ledger_block_t *both[] = { &v1->commit, &v2->commit };
    CHECK_EQ(ledger_commit_blocks(f.ledger, both, 2, &err), 0);
    CHECK_EQ(ledger_height(f.ledger), h0 + 2);
    uint8_t s2[32];
    CHECK_EQ(ledger_state_fold(s1, &v2->commit, s2), 0);
    CHECK(memcmp(ledger_state_hash(f.ledger), s2, 32) == 0);
    char *value = NULL;
    size_t vlen;
    vl_version_t v;
    CHECK_EQ(ledger_get(f.ledger, "q", &value, &vlen, &v), 0);
    CHECK_STR(value, "2");
    CHECK_EQ(v.block, h0 + 2);
    free(value);

    validated_block_destroy(&v1);
    validated_block_destroy(&v2);
    validate_run_destroy(&run);
    free(t1[0]);
    for (int i = 0; i < 4; i++)
        free(t2[i]);
    free(b1);
    free(b2);
    free(bad);
    s_fixture_done(&f);
}

static void
test_validate_block_shape(void)
{
    fixture_t f;
    s_fixture(&f);
    validate_ctx_t ctx = { .ledger = f.ledger, .chain_id = "vt", .members = &f.g.members, .sigcache = f.cache,
                           .orgs = NULL };
    validated_block_t *vb = NULL;
    vl_err_t err = { "" };
    CHECK_EQ(validate_block(&ctx, (const uint8_t *) "zz", 2, &vb, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "not a valid Block");
    /* wrong height */
    uint8_t dh[32], *header, *block;
    size_t hl, bl;
    block_data_hash(NULL, NULL, 0, dh);
    block_header_fields_t h = { "vt", 5, ledger_last_hash(f.ledger), ledger_state_hash(f.ledger),
                                dh, 5, vl_key_public(f.validator) };
    block_header_pack(&h, &header, &hl);
    block_pack(header, hl, NULL, NULL, 0, NULL, NULL, 0, 0, &block, &bl);
    CHECK_EQ(validate_block(&ctx, block, bl, &vb, &err), VL_ERR_STATE);
    CHECK_CONTAINS(err.msg, "expected 1");
    free(header);
    free(block);
    /* a different state hash without a certificate: anyone's forgery,
     * refused for the certificate (it must not halt the replica) */
    uint8_t bogus[32] = { 1 };
    h.height = 1;
    h.state_hash = bogus;
    block_header_pack(&h, &header, &hl);
    block_pack(header, hl, NULL, NULL, 0, NULL, NULL, 0, 0, &block, &bl);
    CHECK_EQ(validate_block(&ctx, block, bl, &vb, &err), VL_ERR_SIGNATURE);
    CHECK_CONTAINS(err.msg, "no commit certificate");
    free(header);
    free(block);
    s_fixture_done(&f);
}

int
main(void)
{
    RUN(test_members);
    RUN(test_sigcache);
    RUN(test_mempool);
    RUN(test_mempool_reap_limits);
    RUN(test_mempool_resend);
    RUN(test_commit_certificate);
    RUN(test_genesis_files);
    RUN(test_validate_block);
    RUN(test_validate_block_shape);
    RUN(test_validate_run);
    return check_done();
}
