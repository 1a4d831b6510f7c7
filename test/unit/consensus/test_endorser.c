/*
 * test_endorser.c — endorser_endorse (consensus/endorser.h) against a real
 * ledger in a temp dir holding a genesis with the standard contracts: a good
 * proposal is endorsed (the result signed by the endorser's key, txid =
 * SHA-256 of the Proposal bytes, the signature entered into the sigcache,
 * nothing written), and every refusal: malformed and oversized bytes, a bad
 * or foreign creator signature, the wrong chain, a timestamp beyond
 * ENDORSER_CLOCK_SKEW_MS either way, bad contract and function names, a
 * txid already committed (VL_ERR_EXISTS), and a contract's own refusal
 * (its message passed through). A refusal leaves the output untouched.
 *
 * Proposals are packed here (as client_build_proposal does) so that each
 * field can be made wrong on its own.
 */
#include <stdlib.h>
#include <unistd.h>

#include "block.h"
#include "check.h"
#include "codec.h"
#include "did.h"
#include "endorser.h"
#include "genesis.h"
#include "ledger.h"
#include "sigcache.h"
#include "validate.h"
#include "vledger.pb-c.h"
#include "vm.h"

#define CHAIN "et"
#define NOW_MS 1700000000000LL
#define REGISTER_ARGS "{\"name\":\"Alice\",\"org\":\"o\",\"roles\":[\"buyer\"]}"

typedef struct {
    char dir[256];
    genesis_t g;
    vl_key_t *endorser;      /* the only member: validator and endorser */
    vl_key_t *user;          /* creates the proposals */
    ledger_t *ledger;
    sigcache_t *cache;
    vm_t *vm;
    endorser_ctx_t ctx;
} fixture_t;

static void
s_fixture(fixture_t *f)
{
    memset(f, 0, sizeof *f);
    CHECK(check_tmpdir(f->dir, sizeof f->dir) != NULL);
    snprintf(f->g.chain_id, sizeof f->g.chain_id, CHAIN);
    f->g.timestamp_ms = 1;
    f->g.gas_max = 1000000;
    f->endorser = vl_key_generate();
    f->user = vl_key_generate();
    vl_err_t err = { "" };
    CHECK_EQ(orgs_add(&f->g.orgs, "o", NULL, 0, &err), 0);
    members_add(&f->g.members, vl_key_public(f->endorser), "e", 0, true, true);
    genesis_block_t gb;
    CHECK_EQ(genesis_block_build(&f->g, &gb, &err), 0);
    CHECK_EQ(ledger_open(f->dir, CHAIN, gb.hash, &f->ledger, &err), 0);
    CHECK_EQ(ledger_commit_block(f->ledger, &gb.commit, &err), 0);
    genesis_block_clear(&gb);
    f->cache = sigcache_new(100);
    f->vm = vm_new(NULL);
    f->ctx = (endorser_ctx_t) { CHAIN, f->endorser, f->ledger, f->vm, f->cache, NOW_MS, NULL, NULL };
}

static void
s_fixture_done(fixture_t *f)
{
    vm_destroy(&f->vm);
    ledger_close(&f->ledger);
    sigcache_destroy(&f->cache);
    vl_key_destroy(&f->endorser);
    vl_key_destroy(&f->user);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    CHECK_EQ(system(cmd), 0);
}

/* What goes into one proposal; s_proposal_default fills a good one. */
typedef struct {
    const char *chain_id, *contract, *function, *args_json;
    const vl_key_t *creator;   /* public key in the proposal */
    const vl_key_t *signer;    /* signs it (normally the creator) */
    size_t creator_len;        /* bytes of the public key used (32) */
    size_t sig_len;            /* bytes of the signature kept (64) */
    bool flip_sig;             /* corrupt one signature bit */
    uint64_t nonce;
    int64_t timestamp_ms;
} proposal_t;

static proposal_t
s_proposal_default(const fixture_t *f)
{
    return (proposal_t) { .chain_id = CHAIN, .contract = "identity", .function = "register",
                          .args_json = REGISTER_ARGS, .creator = f->user, .signer = f->user,
                          .creator_len = VL_PUBKEY_SIZE, .sig_len = VL_SIG_SIZE, .nonce = 1,
                          .timestamp_ms = NOW_MS };
}

/* Packs a SignedProposal (malloc'd, *len bytes); txid (if non-NULL) is the
 * SHA-256 of its Proposal bytes. */
static uint8_t *
s_pack(const proposal_t *pp, size_t *len, uint8_t txid[VL_HASH_SIZE])
{
    Vl__Proposal p = VL__PROPOSAL__INIT;
    p.chain_id = (char *) pp->chain_id;
    p.contract = (char *) pp->contract;
    p.function = (char *) pp->function;
    p.args_json = (char *) pp->args_json;
    p.creator = (ProtobufCBinaryData) { pp->creator_len, (uint8_t *) vl_key_public(pp->creator) };
    p.nonce = pp->nonce;
    p.timestamp_ms = pp->timestamp_ms;
    size_t plen = vl__proposal__get_packed_size(&p);
    uint8_t *pbytes = malloc(plen);
    vl__proposal__pack(&p, pbytes);
    if (txid)
        vl_sha256(pbytes, plen, txid);
    uint8_t sig[VL_SIG_SIZE];
    vl_key_sign(pp->signer, pbytes, plen, sig);
    if (pp->flip_sig)
        sig[7] ^= 0x10;
    Vl__SignedProposal sp = VL__SIGNED_PROPOSAL__INIT;
    sp.proposal = (ProtobufCBinaryData) { plen, pbytes };
    sp.signature = (ProtobufCBinaryData) { pp->sig_len, sig };
    *len = vl__signed_proposal__get_packed_size(&sp);
    uint8_t *out = malloc(*len);
    vl__signed_proposal__pack(&sp, out);
    free(pbytes);
    return out;
}

/* Endorses pp with ctx; returns endorser_endorse's code, fills *out. */
static int
s_endorse(const endorser_ctx_t *ctx, const proposal_t *pp, endorsement_t *out, vl_err_t *err)
{
    size_t len;
    uint8_t *bytes = s_pack(pp, &len, NULL);
    int rc = endorser_endorse(ctx, bytes, len, out, err);
    free(bytes);
    return rc;
}

static bool
s_untouched(const endorsement_t *e)
{
    endorsement_t zero;
    memset(&zero, 0, sizeof zero);
    return memcmp(e, &zero, sizeof zero) == 0;
}

/* Expects pp to be refused with code and a message containing text. */
static void
s_refused(fixture_t *f, const proposal_t *pp, int code, const char *text)
{
    endorsement_t en = { 0 };
    vl_err_t err = { "" };
    CHECK_EQ(s_endorse(&f->ctx, pp, &en, &err), code);
    CHECK_CONTAINS(err.msg, text);
    CHECK(s_untouched(&en));
    endorsement_clear(&en);
}

static void
test_endorse_good(void)
{
    fixture_t f;
    s_fixture(&f);
    proposal_t pp = s_proposal_default(&f);
    size_t len;
    uint8_t txid[VL_HASH_SIZE];
    uint8_t *bytes = s_pack(&pp, &len, txid);
    uint64_t height = ledger_height(f.ledger);
    uint8_t state[VL_HASH_SIZE];
    memcpy(state, ledger_state_hash(f.ledger), sizeof state);

    endorsement_t en = { 0 };
    vl_err_t err = { "" };
    CHECK_EQ(endorser_endorse(&f.ctx, bytes, len, &en, &err), 0);
    CHECK(memcmp(en.txid, txid, VL_HASH_SIZE) == 0);
    CHECK(en.result != NULL && en.result_len > 0);
    CHECK(en.gas_used > 0);
    CHECK(vl_verify(vl_key_public(f.endorser), en.result, en.result_len, en.signature));
    CHECK(!vl_verify(vl_key_public(f.user), en.result, en.result_len, en.signature));

    /* The result is for this txid and says what the contract did. */
    Vl__EndorsedResult *r = vl__endorsed_result__unpack(NULL, en.result_len, en.result);
    CHECK(r != NULL);
    if (r) {
        CHECK(r->txid.len == VL_HASH_SIZE && memcmp(r->txid.data, txid, VL_HASH_SIZE) == 0);
        CHECK_EQ(r->gas_used, en.gas_used);
        CHECK_STR(r->result_json, en.result_json);
        char did[VL_DID_BUF], key[VL_DID_BUF + 8];
        vl_did_from_public(vl_key_public(f.user), did);
        snprintf(key, sizeof key, "did/%s", did);
        bool wrote = false;
        for (size_t i = 0; i < r->n_writes; i++)
            wrote = wrote || strcmp(r->writes[i]->key, key) == 0;
        CHECK(wrote);
        CHECK_CONTAINS(en.result_json, did);
        vl__endorsed_result__free_unpacked(r, NULL);
    }

    /* Our own signature is in the cache: verifying it costs no curve check. */
    uint64_t hits = sigcache_hits(f.cache), misses = sigcache_misses(f.cache);
    CHECK(sigcache_verify(f.cache, vl_key_public(f.endorser), VL_PUBKEY_SIZE, en.result,
                          en.result_len, en.signature, VL_SIG_SIZE));
    CHECK_EQ(sigcache_hits(f.cache), hits + 1);
    CHECK_EQ(sigcache_misses(f.cache), misses);

    /* Nothing was written. */
    CHECK_EQ(ledger_height(f.ledger), height);
    CHECK(memcmp(ledger_state_hash(f.ledger), state, sizeof state) == 0);

    /* Without a sigcache (the direct verify path) the same proposal is
     * endorsed the same way: same txid, same result bytes. */
    endorser_ctx_t plain = f.ctx;
    plain.sigcache = NULL;
    endorsement_t again = { 0 };
    CHECK_EQ(endorser_endorse(&plain, bytes, len, &again, &err), 0);
    CHECK(memcmp(again.txid, txid, VL_HASH_SIZE) == 0);
    CHECK(again.result_len == en.result_len
          && memcmp(again.result, en.result, en.result_len) == 0);
    CHECK(vl_verify(vl_key_public(f.endorser), again.result, again.result_len,
                    again.signature));
    endorsement_clear(&again);
    endorsement_clear(&en);
    CHECK(s_untouched(&en));

    /* Empty args_json means {} (identity.get reads the creator's, absent). */
    pp = s_proposal_default(&f);
    pp.function = "get";
    pp.args_json = "";
    CHECK_EQ(s_endorse(&f.ctx, &pp, &again, &err), 0);
    CHECK_STR(again.result_json, "null");
    endorsement_clear(&again);
    free(bytes);
    s_fixture_done(&f);
}

static void
test_endorse_malformed(void)
{
    fixture_t f;
    s_fixture(&f);
    endorsement_t en = { 0 };
    vl_err_t err = { "" };
    CHECK_EQ(endorser_endorse(&f.ctx, (const uint8_t *) "zz", 2, &en, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "not a valid SignedProposal");
    CHECK_EQ(endorser_endorse(&f.ctx, (const uint8_t *) "", 0, &en, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "not a valid SignedProposal");
    CHECK(s_untouched(&en));

    /* A well-formed SignedProposal whose signed bytes are not a Proposal. */
    uint8_t sig[VL_SIG_SIZE] = { 0 };
    Vl__SignedProposal sp = VL__SIGNED_PROPOSAL__INIT;
    sp.proposal = (ProtobufCBinaryData) { 2, (uint8_t *) "zz" };
    sp.signature = (ProtobufCBinaryData) { sizeof sig, sig };
    uint8_t packed[128];
    CHECK(vl__signed_proposal__get_packed_size(&sp) <= sizeof packed);
    size_t n = vl__signed_proposal__pack(&sp, packed);
    CHECK_EQ(endorser_endorse(&f.ctx, packed, n, &en, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "not a valid Proposal");

    /* A creator that is not a 32-byte public key. */
    proposal_t pp = s_proposal_default(&f);
    pp.creator_len = 31;
    s_refused(&f, &pp, VL_ERR_INVALID, "creator is not a 32-byte public key");

    /* Over the size limit: refused before it is parsed. */
    uint8_t *big = calloc(1, VL_TX_MAX + 1);
    CHECK_EQ(endorser_endorse(&f.ctx, big, VL_TX_MAX + 1, &en, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "exceeds the 4 MiB limit");
    CHECK(s_untouched(&en));
    free(big);
    s_fixture_done(&f);
}

static void
test_endorse_bad_signature(void)
{
    fixture_t f;
    s_fixture(&f);
    proposal_t pp = s_proposal_default(&f);
    pp.flip_sig = true;
    s_refused(&f, &pp, VL_ERR_SIGNATURE, "proposal signature does not verify");
    pp = s_proposal_default(&f);
    pp.sig_len = VL_SIG_SIZE - 1;
    s_refused(&f, &pp, VL_ERR_SIGNATURE, "proposal signature does not verify");
    pp = s_proposal_default(&f);
    pp.signer = f.endorser;   /* signed, but not by the creator it names */
    s_refused(&f, &pp, VL_ERR_SIGNATURE, "proposal signature does not verify");

    /* The same without a sigcache. */
    endorser_ctx_t plain = f.ctx;
    plain.sigcache = NULL;
    endorsement_t en = { 0 };
    vl_err_t err = { "" };
    pp = s_proposal_default(&f);
    pp.flip_sig = true;
    CHECK_EQ(s_endorse(&plain, &pp, &en, &err), VL_ERR_SIGNATURE);
    pp = s_proposal_default(&f);
    pp.sig_len = 0;
    CHECK_EQ(s_endorse(&plain, &pp, &en, &err), VL_ERR_SIGNATURE);
    CHECK_CONTAINS(err.msg, "proposal signature does not verify");
    CHECK(s_untouched(&en));
    s_fixture_done(&f);
}

static void
test_endorse_wrong_chain(void)
{
    fixture_t f;
    s_fixture(&f);
    proposal_t pp = s_proposal_default(&f);
    pp.chain_id = "other";
    s_refused(&f, &pp, VL_ERR_INVALID, "proposal is for chain 'other', this node is on 'et'");
    pp.chain_id = "";
    s_refused(&f, &pp, VL_ERR_INVALID, "proposal is for chain ''");
    s_fixture_done(&f);
}

static void
test_endorse_clock_skew(void)
{
    fixture_t f;
    s_fixture(&f);
    endorsement_t en = { 0 };
    vl_err_t err = { "" };
    proposal_t pp = s_proposal_default(&f);
    /* At the limit either way: endorsed. */
    pp.timestamp_ms = NOW_MS + ENDORSER_CLOCK_SKEW_MS;
    CHECK_EQ(s_endorse(&f.ctx, &pp, &en, &err), 0);
    endorsement_clear(&en);
    pp.timestamp_ms = NOW_MS - ENDORSER_CLOCK_SKEW_MS;
    CHECK_EQ(s_endorse(&f.ctx, &pp, &en, &err), 0);
    endorsement_clear(&en);
    /* One millisecond beyond: refused, the message says how far. */
    pp.timestamp_ms = NOW_MS + ENDORSER_CLOCK_SKEW_MS + 1;
    s_refused(&f, &pp, VL_ERR_INVALID, "proposal timestamp is 600 s away from this node's clock");
    pp.timestamp_ms = NOW_MS - ENDORSER_CLOCK_SKEW_MS - 1;
    s_refused(&f, &pp, VL_ERR_INVALID, "proposal timestamp is -600 s away");
    pp.timestamp_ms = 0;
    s_refused(&f, &pp, VL_ERR_INVALID, "away from this node's clock");
    s_fixture_done(&f);
}

static void
test_endorse_bad_names(void)
{
    fixture_t f;
    s_fixture(&f);
    const char *msg = "contract and function names are 1-64 characters from a-z, 0-9, '_' and '.'";
    char long_name[66];
    memset(long_name, 'a', 65);
    long_name[65] = 0;
    const char *bad[] = { "", "Identity", "iden tity", "identity/x", "vehicle-x", "x\n", long_name };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        proposal_t pp = s_proposal_default(&f);
        pp.contract = bad[i];
        s_refused(&f, &pp, VL_ERR_INVALID, msg);
        pp = s_proposal_default(&f);
        pp.function = bad[i];
        s_refused(&f, &pp, VL_ERR_INVALID, msg);
    }
    /* 64 characters from the allowed set pass the name check and reach the
     * VM, which finds no such contract. */
    long_name[64] = 0;
    proposal_t pp = s_proposal_default(&f);
    pp.contract = long_name;
    endorsement_t en = { 0 };
    vl_err_t err = { "" };
    CHECK_EQ(s_endorse(&f.ctx, &pp, &en, &err), VL_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "1-64 characters") == NULL);
    /* '.' passes the endorser's check; the VM's stricter one answers. */
    pp.contract = "a_b.c9";
    CHECK_EQ(s_endorse(&f.ctx, &pp, &en, &err), VL_ERR_INVALID);
    CHECK_STR(err.msg, "invalid contract name 'a_b.c9'");
    CHECK(s_untouched(&en));
    s_fixture_done(&f);
}

/* Orders the endorsed proposal into block 1 (one tx, one endorsement),
 * validates it and commits it. Returns 0 when the tx committed valid. */
static int
s_commit_endorsed(fixture_t *f, const proposal_t *pp, const endorsement_t *en)
{
    size_t sp_len;
    uint8_t *sp_bytes = s_pack(pp, &sp_len, NULL);
    Vl__SignedProposal *sp = vl__signed_proposal__unpack(NULL, sp_len, sp_bytes);
    Vl__Endorsement e = VL__ENDORSEMENT__INIT, *ep = &e;
    e.endorser = (ProtobufCBinaryData) { VL_PUBKEY_SIZE, (uint8_t *) vl_key_public(f->endorser) };
    e.signature = (ProtobufCBinaryData) { VL_SIG_SIZE, (uint8_t *) en->signature };
    Vl__Transaction t = VL__TRANSACTION__INIT;
    t.proposal = sp->proposal;
    t.proposal_signature = sp->signature;
    t.result = (ProtobufCBinaryData) { en->result_len, en->result };
    t.n_endorsements = 1;
    t.endorsements = &ep;
    size_t tx_len = vl__transaction__get_packed_size(&t);
    uint8_t *tx = malloc(tx_len);
    vl__transaction__pack(&t, tx);
    vl__signed_proposal__free_unpacked(sp, NULL);
    free(sp_bytes);

    uint8_t data_hash[VL_HASH_SIZE], hash[VL_HASH_SIZE];
    block_data_hash(&tx, &tx_len, 1, data_hash);
    block_header_fields_t h = { CHAIN, ledger_height(f->ledger) + 1, ledger_last_hash(f->ledger),
                                ledger_state_hash(f->ledger), data_hash, NOW_MS,
                                vl_key_public(f->endorser) };
    uint8_t *header = NULL, *vote = NULL, *block = NULL;
    size_t header_len = 0, vote_len = 0, block_len = 0;
    block_header_pack(&h, &header, &header_len);
    vl_sha256(header, header_len, hash);
    block_sign_precommit(f->endorser, CHAIN, h.height, 0, hash, NOW_MS, &vote, &vote_len);
    block_pack(header, header_len, &tx, &tx_len, 1, &vote, &vote_len, 1, 0, &block, &block_len);
    validate_ctx_t vctx = { .ledger = f->ledger, .chain_id = CHAIN, .members = &f->g.members, .sigcache = f->cache,
                           .orgs = NULL };
    validated_block_t *vb = NULL;
    vl_err_t err = { "" };
    int rc = validate_block(&vctx, block, block_len, &vb, &err);
    if (rc == 0 && vb->effects[0].code != VL__TX_CODE__TX_VALID)
        rc = VL_ERR_INVALID;
    if (rc == 0)
        rc = ledger_commit_block(f->ledger, &vb->commit, &err);
    if (rc != 0)
        fprintf(stderr, "s_commit_endorsed: %s\n", err.msg);
    validated_block_destroy(&vb);
    free(header);
    free(vote);
    free(block);
    free(tx);
    return rc;
}

static void
test_endorse_committed_txid(void)
{
    fixture_t f;
    s_fixture(&f);
    proposal_t pp = s_proposal_default(&f);
    size_t len;
    uint8_t txid[VL_HASH_SIZE];
    uint8_t *bytes = s_pack(&pp, &len, txid);
    endorsement_t en = { 0 };
    vl_err_t err = { "" };
    CHECK_EQ(endorser_endorse(&f.ctx, bytes, len, &en, &err), 0);
    /* The endorsement is one validation accepts. */
    CHECK_EQ(s_commit_endorsed(&f, &pp, &en), 0);
    CHECK_EQ(ledger_height(f.ledger), 1);
    endorsement_clear(&en);

    /* The same proposal again: its txid is committed. */
    char hex[2 * VL_HASH_SIZE + 1], want[200];
    vl_hex_encode(txid, VL_HASH_SIZE, hex);
    snprintf(want, sizeof want, "transaction %s is already committed in block 1", hex);
    CHECK_EQ(endorser_endorse(&f.ctx, bytes, len, &en, &err), VL_ERR_EXISTS);
    CHECK_STR(err.msg, want);
    CHECK(s_untouched(&en));

    /* A new nonce is a new txid; the contract now sees the committed state. */
    pp.nonce = 2;
    s_refused(&f, &pp, VL_ERR_REFUSED, "is already registered");
    free(bytes);
    s_fixture_done(&f);
}

static void
test_endorse_contract_refusal(void)
{
    fixture_t f;
    s_fixture(&f);
    endorsement_t en = { 0 };
    vl_err_t err = { "" };
    proposal_t pp = s_proposal_default(&f);
    pp.args_json = "{\"name\":\"Alice\",\"org\":\"o\",\"roles\":[\"pirate\"]}";
    CHECK_EQ(s_endorse(&f.ctx, &pp, &en, &err), VL_ERR_REFUSED);
    CHECK_STR(err.msg, "unknown role 'pirate'");
    CHECK(s_untouched(&en));
    pp.args_json = "{\"org\":\"o\",\"roles\":[\"buyer\"]}";
    CHECK_EQ(s_endorse(&f.ctx, &pp, &en, &err), VL_ERR_REFUSED);
    CHECK_STR(err.msg, "name must be a non-empty string");

    /* No such contract or function: VL_ERR_NOT_FOUND with the VM's reason. */
    pp = s_proposal_default(&f);
    pp.contract = "no_such_contract";
    CHECK_EQ(s_endorse(&f.ctx, &pp, &en, &err), VL_ERR_NOT_FOUND);
    CHECK_CONTAINS(err.msg, "no_such_contract");
    pp = s_proposal_default(&f);
    pp.function = "no_such_function";
    CHECK_EQ(s_endorse(&f.ctx, &pp, &en, &err), VL_ERR_NOT_FOUND);
    CHECK_CONTAINS(err.msg, "no_such_function");
    CHECK(s_untouched(&en));
    s_fixture_done(&f);
}

int
main(void)
{
    RUN(test_endorse_good);
    RUN(test_endorse_malformed);
    RUN(test_endorse_bad_signature);
    RUN(test_endorse_wrong_chain);
    RUN(test_endorse_clock_skew);
    RUN(test_endorse_bad_names);
    RUN(test_endorse_committed_txid);
    RUN(test_endorse_contract_refusal);
    return check_done();
}
