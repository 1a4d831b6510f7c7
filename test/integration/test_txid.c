/*
 * test_txid.c — the one txid rule, end to end: every id that block.get
 * lists, tx.get finds, and the event topics name the same id. The block
 * holds transactions a node's own API would never admit (one that decodes
 * as a Transaction carrying a proposal but fails tx_parse, one that is not a
 * Transaction at all) next to a valid one, so it is built here: a real
 * vledgerd --dev makes its data directory, stops, this program commits
 * block 1 into that ledger through the consensus library (validated like a
 * peer's block, certified with the dev node's own key, the network's sole
 * validator), and the node is started again on it.
 *
 * argv[1] = path of vledgerd. Every wait is bounded by a deadline.
 */
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "block.h"
#include "check.h"
#include "client.h"
#include "clock.h"
#include "codec.h"
#include "crypto.h"
#include "endorser.h"
#include "genesis.h"
#include "ledger.h"
#include "sigcache.h"
#include "tx.h"
#include "validate.h"
#include "vledger.pb-c.h"

extern char **environ;

static char s_dir[256];
static pid_t s_pid;
static client_t *s_client;

static void
s_pause_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int
s_start(const char *vledgerd)
{
    char path[300];
    snprintf(path, sizeof path, "%s/endpoints.json", s_dir);
    unlink(path);
    char *argv[] = { (char *) vledgerd, "--dev", "--data", s_dir, NULL };
    if (posix_spawn(&s_pid, vledgerd, NULL, NULL, argv, environ) != 0)
        return -1;
    int64_t deadline = vl_mono_ms() + 10000;
    char endpoint[256];
    vl_err_t err;
    while (client_resolve_endpoint(NULL, s_dir, endpoint, sizeof endpoint, &err) != 0) {
        if (vl_mono_ms() > deadline)
            return -1;
        s_pause_ms(20);   /* polling a file with a deadline, not synchronising */
    }
    s_client = client_new(endpoint, 5000, &err);
    json_t *status = NULL;
    int rc = s_client && client_call(s_client, "status", NULL, &status, &err) == 0 ? 0 : -1;
    json_decref(status);
    return rc;
}

static int
s_stop(void)
{
    client_destroy(&s_client);
    int st = 0;
    if (kill(s_pid, SIGTERM) != 0 || waitpid(s_pid, &st, 0) != s_pid)
        return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static uint8_t *
s_pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(*len ? *len : 1);
    protobuf_c_message_pack(m, b);
    return b;
}

/* A valid tx: identity.register endorsed by the node's own key. */
static uint8_t *
s_valid_tx(const vl_key_t *key, const char *chain, ledger_t *ledger, const orgs_t *orgs,
           size_t *len)
{
    vm_config_t vmc = vm_config_default();
    vm_t *vm = vm_new(&vmc);
    vl_key_t *user = vl_key_generate();
    json_t *args = json_pack("{s:s, s:s, s:[s]}", "name", "Txid Tester", "org", "dev", "roles", "buyer");
    uint8_t *sp = NULL, txid[32];
    size_t sp_len = 0;
    vl_err_t err;
    uint64_t nonce = 7;
    CHECK_EQ(client_build_proposal(user, chain, "identity", "register", args, nonce,
                                   vl_wall_ms(), &sp, &sp_len, txid, &err), 0);
    json_decref(args);
    endorser_ctx_t ctx = { chain, key, ledger, vm, NULL, vl_wall_ms(), orgs, NULL };
    endorsement_t en = { 0 };
    CHECK_EQ(endorser_endorse(&ctx, sp, sp_len, &en, &err), 0);
    uint8_t *tx = NULL;
    CHECK_EQ(client_build_transaction(sp, sp_len, en.result, en.result_len, vl_key_public(key),
                                      VL_PUBKEY_SIZE, en.signature, VL_SIG_SIZE, &tx, len, &err),
             0);
    endorsement_clear(&en);
    free(sp);
    vl_key_destroy(&user);
    vm_destroy(&vm);
    return tx;
}

/* A Transaction with a signed-looking proposal and no endorsed result: it
 * decodes, carries a proposal (so its id is the proposal's), and fails
 * tx_parse. */
static uint8_t *
s_unparseable_tx(const vl_key_t *key, const char *chain, size_t *len)
{
    Vl__Proposal p = VL__PROPOSAL__INIT;
    p.chain_id = (char *) chain;
    p.contract = "identity";
    p.function = "register";
    p.args_json = "{}";
    p.creator = (ProtobufCBinaryData) { VL_PUBKEY_SIZE, (uint8_t *) vl_key_public(key) };
    p.nonce = 99;
    p.timestamp_ms = vl_wall_ms();
    size_t plen = 0;
    uint8_t *pbytes = s_pack(&p.base, &plen);
    uint8_t sig[VL_SIG_SIZE];
    vl_key_sign(key, pbytes, plen, sig);
    Vl__Transaction t = VL__TRANSACTION__INIT;
    t.proposal = (ProtobufCBinaryData) { plen, pbytes };
    t.proposal_signature = (ProtobufCBinaryData) { VL_SIG_SIZE, sig };
    uint8_t *bytes = s_pack(&t.base, len);
    free(pbytes);
    return bytes;
}

/* Commits block 1 = [valid, unparseable, garbage] into the stopped node's
 * ledger. Fills the three txids as the rule gives them. */
static void
s_commit_block(uint8_t ids[3][32])
{
    char path[300];
    vl_err_t err = { "" };
    genesis_t g;
    snprintf(path, sizeof path, "%s/genesis.json", s_dir);
    CHECK_EQ(genesis_load(path, &g, &err), 0);
    snprintf(path, sizeof path, "%s/node.key", s_dir);
    vl_key_t *key = vl_key_load_pem(path, &err);
    CHECK(key != NULL);
    ledger_t *ledger = NULL;
    snprintf(path, sizeof path, "%s/ledger", s_dir);
    CHECK_EQ(ledger_open(path, g.chain_id, NULL, &ledger, &err), 0);
    if (!key || !ledger)
        return;
    uint8_t *txs[3];
    size_t lens[3];
    txs[0] = s_valid_tx(key, g.chain_id, ledger, &g.orgs, &lens[0]);
    txs[1] = s_unparseable_tx(key, g.chain_id, &lens[1]);
    txs[2] = (uint8_t *) strdup("\x0a\xff not a transaction");
    lens[2] = strlen((char *) txs[2]);
    for (int i = 0; i < 3; i++)
        tx_id(txs[i], lens[i], ids[i]);
    tx_parsed_t *parsed = NULL;
    int code = -1;
    CHECK(tx_parse(txs[1], lens[1], g.chain_id, &parsed, &code, &err) != 0);
    CHECK_EQ(code, VL__TX_CODE__TX_MALFORMED);
    CHECK(tx_id(txs[1], lens[1], ids[1]));   /* a proposal id */
    CHECK(!tx_id(txs[2], lens[2], ids[2]));  /* the hash of the bytes */

    uint8_t data_hash[32], hash[32];
    CHECK_EQ(block_data_hash(txs, lens, 3, data_hash), 0);
    block_header_fields_t f = { g.chain_id, 1, ledger_last_hash(ledger),
                                ledger_state_hash(ledger), data_hash, vl_wall_ms(),
                                vl_key_public(key) };
    uint8_t *header = NULL, *vote = NULL, *block = NULL;
    size_t header_len, vote_len, block_len;
    CHECK_EQ(block_header_pack(&f, &header, &header_len), 0);
    vl_sha256(header, header_len, hash);
    CHECK_EQ(block_sign_precommit(key, g.chain_id, 1, 0, hash, f.timestamp_ms, &vote, &vote_len),
             0);
    CHECK_EQ(block_pack(header, header_len, txs, lens, 3, &vote, &vote_len, 1, 0, &block,
                        &block_len), 0);
    sigcache_t *cache = sigcache_new(64);
    validate_ctx_t ctx = { .ledger = ledger, .chain_id = g.chain_id, .members = &g.members, .sigcache = cache,
                           .orgs = &g.orgs };
    validated_block_t *vb = NULL;
    CHECK_EQ(validate_block(&ctx, block, block_len, &vb, &err), 0);
    if (vb) {
        CHECK_EQ(vb->effects[0].code, VL__TX_CODE__TX_VALID);
        CHECK_EQ(vb->effects[1].code, VL__TX_CODE__TX_MALFORMED);
        CHECK_EQ(vb->effects[2].code, VL__TX_CODE__TX_MALFORMED);
        for (int i = 0; i < 3; i++)
            CHECK(memcmp(vb->effects[i].txid, ids[i], 32) == 0);
        CHECK_EQ(ledger_commit_block(ledger, &vb->commit, &err), 0);
    }
    validated_block_destroy(&vb);
    sigcache_destroy(&cache);
    free(header);
    free(vote);
    free(block);
    for (int i = 0; i < 3; i++)
        free(txs[i]);
    ledger_close(&ledger);
    vl_key_destroy(&key);
}

static void
test_block_get_ids_are_found_by_tx_get(void)
{
    uint8_t ids[3][32];
    s_commit_block(ids);
    CHECK_EQ(s_start(getenv("VLEDGERD_PATH")), 0);
    vl_err_t err = { "" };
    json_t *block = NULL;
    json_t *params = json_pack("{s:i}", "height", 1);   /* client_call borrows it */
    CHECK_EQ(client_call(s_client, "block.get", params, &block, &err), 0);
    json_decref(params);
    json_t *txs = json_object_get(block, "txs");
    CHECK_EQ(json_array_size(txs), 3);
    for (size_t i = 0; i < json_array_size(txs) && i < 3; i++) {
        const char *hex = json_string_value(json_object_get(json_array_get(txs, i), "txid"));
        char want[65];
        vl_hex_encode(ids[i], 32, want);
        CHECK_STR(hex, want);
        json_t *tx = NULL;
        params = json_pack("{s:s}", "txid", hex);
        CHECK_EQ(client_call(s_client, "tx.get", params, &tx, &err), 0);
        json_decref(params);
        CHECK_EQ(json_integer_value(json_object_get(tx, "height")), 1);
        CHECK_EQ(json_integer_value(json_object_get(tx, "index")), (json_int_t) i);
        CHECK_STR(json_string_value(json_object_get(tx, "code_name")),
                  i == 0 ? "VALID" : "MALFORMED");
        json_decref(tx);
    }
    json_decref(block);
    /* The event topics name the same ids. */
    json_t *replay = NULL;
    params = json_pack("{s:i, s:[s]}", "from_height", 1, "topics", "tx");
    CHECK_EQ(client_call(s_client, "events.replay", params, &replay, &err), 0);
    json_decref(params);
    json_t *events = json_object_get(replay, "events");
    size_t seen = 0;
    for (size_t i = 0; i < json_array_size(events); i++) {
        json_t *body = json_object_get(json_array_get(events, i), "body");
        json_int_t index = json_integer_value(json_object_get(json_object_get(body, "pos"), "tx"));
        if (json_integer_value(json_object_get(body, "height")) != 1 || index < 0 || index > 2)
            continue;
        char want[65];
        vl_hex_encode(ids[index], 32, want);
        CHECK_STR(json_string_value(json_object_get(body, "txid")), want);
        seen++;
    }
    CHECK_EQ(seen, 3);
    json_decref(replay);
    CHECK_EQ(s_stop(), 0);
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_txid PATH/TO/vledgerd\n");
        return 2;
    }
    setenv("VLEDGERD_PATH", argv[1], 1);
    char tmp[200];
    if (!check_tmpdir(tmp, sizeof tmp))
        return 1;
    snprintf(s_dir, sizeof s_dir, "%s/node", tmp);
    /* First start: the node makes its key, genesis and ledger; then stops. */
    if (s_start(argv[1]) != 0 || s_stop() != 0)
        return check_bail_out("vledgerd did not start and stop cleanly");
    RUN(test_block_get_ids_are_found_by_tx_get);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "test_txid: could not remove %s\n", tmp);
    return check_done();
}
