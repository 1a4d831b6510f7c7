/*
 * test_api.c — the node's transaction path under hostile input, through the
 * client library against a real vledgerd --dev process on 127.0.0.1:
 * proposals and transactions with bad signatures, endorsements by
 * non-members or over tampered results, wrong chain, clock skew, unknown
 * contracts, a replayed txid (pending and committed), and an MVCC conflict
 * between two txs endorsed against the same state. After each, the node
 * keeps serving and its state is unchanged.
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

#include "check.h"
#include "client.h"
#include "clock.h"
#include "codec.h"
#include "crypto.h"
#include "did.h"
#include "vledger.pb-c.h"

extern char **environ;

static char s_dir[256];
static pid_t s_pid;
static client_t *s_client;
static char s_chain[80];

static void
s_pause_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Starts the node and connects once endpoints.json names its API and it
 * answers `status`. */
static int
s_start(const char *vledgerd)
{
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
    if (!s_client || client_call(s_client, "status", NULL, &status, &err) != 0)
        return -1;
    snprintf(s_chain, sizeof s_chain, "%s", json_string_value(json_object_get(status, "chain_id")));
    json_decref(status);
    return 0;
}

static json_t *
s_call(const char *method, json_t *params, int *rpc_code, char *msg, size_t msg_size)
{
    json_t *result = NULL;
    vl_err_t err = { "" };
    int rc = client_call(s_client, method, params, &result, &err);
    json_decref(params);
    *rpc_code = rc == 0 ? 0 : client_last_rpc_code(s_client);
    snprintf(msg, msg_size, "%s", rc == 0 ? "" : err.msg);
    return result;
}

typedef struct {
    uint8_t *proposal;      /* SignedProposal bytes */
    size_t proposal_len;
    uint8_t txid[32];
    uint8_t *result;        /* EndorsedResult bytes from the node */
    size_t result_len;
    uint8_t *endorser, *signature;
    size_t endorser_len, signature_len;
} endorsed_t;

static void
s_endorsed_free(endorsed_t *e)
{
    free(e->proposal);
    free(e->result);
    free(e->endorser);
    free(e->signature);
    memset(e, 0, sizeof *e);
}

static int
s_endorse(const vl_key_t *key, const char *chain, const char *contract, const char *fn,
          json_t *args, int64_t ts, endorsed_t *out, int *rpc_code, char *msg, size_t msg_size)
{
    vl_err_t err;
    uint64_t nonce;
    vl_random_bytes(&nonce, sizeof nonce);
    memset(out, 0, sizeof *out);
    int built = client_build_proposal(key, chain, contract, fn, args, nonce, ts, &out->proposal,
                                      &out->proposal_len, out->txid, &err);
    json_decref(args);   /* borrowed by the builder; this helper owns it */
    if (built != 0)
        return -1;
    char *b64 = vl_base64_encode(out->proposal, out->proposal_len);
    json_t *r = s_call("endorse", json_pack("{s:s}", "proposal", b64), rpc_code, msg, msg_size);
    free(b64);
    if (!r) {
        s_endorsed_free(out);
        return -1;
    }
    vl_base64_decode(json_string_value(json_object_get(r, "result")), &out->result,
                     &out->result_len);
    vl_base64_decode(json_string_value(json_object_get(r, "endorser")), &out->endorser,
                     &out->endorser_len);
    vl_base64_decode(json_string_value(json_object_get(r, "signature")), &out->signature,
                     &out->signature_len);
    json_decref(r);
    return 0;
}

static json_t *
s_submit(const uint8_t *tx, size_t len, bool wait, int *rpc_code, char *msg, size_t msg_size)
{
    char *b64 = vl_base64_encode(tx, len);
    json_t *r = s_call("submit", json_pack("{s:s, s:b}", "transaction", b64, "wait", wait),
                       rpc_code, msg, msg_size);
    free(b64);
    return r;
}

static uint8_t *
s_tx(const endorsed_t *e, size_t *len)
{
    uint8_t *tx = NULL;
    vl_err_t err;
    client_build_transaction(e->proposal, e->proposal_len, e->result, e->result_len, e->endorser,
                             e->endorser_len, e->signature, e->signature_len, &tx, len, &err);
    return tx;
}

static vl_key_t *s_user;
static char s_user_did[64];
static vl_key_t *s_issuer;   /* the dev node's own identity: the issuer */

/* wallet.issue {to: the user, cents} by the issuer: a transaction whose
 * contract succeeds. */
static int
s_endorse_issue(int64_t cents, endorsed_t *e, int *code, char *msg, size_t size)
{
    return s_endorse(s_issuer, s_chain, "wallet", "issue",
                     json_pack("{s:s, s:I}", "to", s_user_did, "cents", (json_int_t) cents),
                     vl_wall_ms(), e, code, msg, size);
}

static void
test_register_user(void)
{
    s_user = vl_key_generate();
    json_t *outcome = NULL;
    vl_err_t err;
    char path[300];
    snprintf(path, sizeof path, "%s/node.key", s_dir);
    s_issuer = vl_key_load_pem(path, &err);
    CHECK(s_issuer != NULL);
    json_t *args = json_pack("{s:s, s:s, s:[s]}", "name", "Tester", "org", "dev", "roles", "buyer");
    CHECK_EQ(client_transact(s_client, s_user, s_chain, "identity", "register", args, 10000,
                             &outcome, &err),
             0);
    json_decref(args);
    json_decref(outcome);
    vl_did_from_public(vl_key_public(s_user), s_user_did);
}

static void
test_bad_proposal_signature(void)
{
    vl_err_t err;
    uint8_t *sp = NULL, txid[32];
    size_t len;
    json_t *args = json_pack("{s:i}", "cents", 5);
    client_build_proposal(s_user, s_chain, "wallet", "deposit", args, 1, vl_wall_ms(), &sp, &len,
                          txid, &err);
    json_decref(args);
    Vl__SignedProposal *p = vl__signed_proposal__unpack(NULL, len, sp);
    p->signature.data[3] ^= 0x40;
    vl__signed_proposal__pack(p, sp);
    vl__signed_proposal__free_unpacked(p, NULL);
    char *b64 = vl_base64_encode(sp, len);
    int code;
    char msg[256];
    json_t *r = s_call("endorse", json_pack("{s:s}", "proposal", b64), &code, msg, sizeof msg);
    CHECK(r == NULL);
    CHECK_EQ(code, RPC_BAD_SIGNATURE);
    CHECK_CONTAINS(msg, "proposal signature does not verify");
    free(b64);
    free(sp);
}

static void
test_wrong_chain_and_skew(void)
{
    endorsed_t e;
    int code;
    char msg[256];
    CHECK_EQ(s_endorse(s_user, "another-chain", "wallet", "deposit",
                       json_pack("{s:i}", "cents", 5), vl_wall_ms(), &e, &code, msg, sizeof msg),
             -1);
    CHECK_EQ(code, RPC_INVALID_PARAMS);
    CHECK_CONTAINS(msg, "for chain 'another-chain'");
    CHECK_EQ(s_endorse(s_user, s_chain, "wallet", "deposit", json_pack("{s:i}", "cents", 5),
                       vl_wall_ms() + 3600 * 1000, &e, &code, msg, sizeof msg),
             -1);
    CHECK_CONTAINS(msg, "away from this node's clock");
    CHECK_EQ(s_endorse(s_user, s_chain, "nosuchcontract", "f", NULL, vl_wall_ms(), &e, &code,
                       msg, sizeof msg),
             -1);
    CHECK_EQ(code, RPC_REFUSED);
    CHECK_CONTAINS(msg, "nosuchcontract");
}

static void
test_bad_transaction_signatures(void)
{
    endorsed_t e;
    int code;
    char msg[256];
    CHECK_EQ(s_endorse_issue(7, &e, &code, msg, sizeof msg),
             0);
    size_t len;
    uint8_t *tx = s_tx(&e, &len);
    Vl__Transaction *t = vl__transaction__unpack(NULL, len, tx);

    /* creator signature broken */
    t->proposal_signature.data[0] ^= 1;
    uint8_t *bad = malloc(vl__transaction__get_packed_size(t));
    size_t bad_len = vl__transaction__pack(t, bad);
    CHECK(s_submit(bad, bad_len, false, &code, msg, sizeof msg) == NULL);
    CHECK_EQ(code, RPC_BAD_SIGNATURE);
    CHECK_CONTAINS(msg, "creator signature does not verify");
    t->proposal_signature.data[0] ^= 1;
    free(bad);

    /* endorsement signed by a key that is not a network member */
    vl_key_t *stranger = vl_key_generate();
    uint8_t sig[64];
    vl_key_sign(stranger, e.result, e.result_len, sig);
    ProtobufCBinaryData keep_key = t->endorsements[0]->endorser;
    ProtobufCBinaryData keep_sig = t->endorsements[0]->signature;
    t->endorsements[0]->endorser = (ProtobufCBinaryData) { 32, (uint8_t *) vl_key_public(stranger) };
    t->endorsements[0]->signature = (ProtobufCBinaryData) { 64, sig };
    bad = malloc(vl__transaction__get_packed_size(t));
    bad_len = vl__transaction__pack(t, bad);
    CHECK(s_submit(bad, bad_len, false, &code, msg, sizeof msg) == NULL);
    CHECK_EQ(code, RPC_BAD_SIGNATURE);
    CHECK_CONTAINS(msg, "no endorsing node of the network");
    free(bad);
    t->endorsements[0]->endorser = keep_key;
    t->endorsements[0]->signature = keep_sig;

    /* the result changed after the node signed it */
    Vl__EndorsedResult *res = vl__endorsed_result__unpack(NULL, t->result.len, t->result.data);
    res->gas_used += 1;
    uint8_t *res_bytes = malloc(vl__endorsed_result__get_packed_size(res));
    size_t res_len = vl__endorsed_result__pack(res, res_bytes);
    ProtobufCBinaryData keep_res = t->result;
    t->result = (ProtobufCBinaryData) { res_len, res_bytes };
    bad = malloc(vl__transaction__get_packed_size(t));
    bad_len = vl__transaction__pack(t, bad);
    CHECK(s_submit(bad, bad_len, false, &code, msg, sizeof msg) == NULL);
    CHECK_EQ(code, RPC_BAD_SIGNATURE);
    CHECK_CONTAINS(msg, "does not verify");
    free(bad);
    t->result = keep_res;
    free(res_bytes);
    vl__endorsed_result__free_unpacked(res, NULL);

    /* no endorsement at all */
    size_t n = t->n_endorsements;
    t->n_endorsements = 0;
    bad = malloc(vl__transaction__get_packed_size(t));
    bad_len = vl__transaction__pack(t, bad);
    CHECK(s_submit(bad, bad_len, false, &code, msg, sizeof msg) == NULL);
    CHECK_CONTAINS(msg, "no endorsement");
    free(bad);
    t->n_endorsements = n;

    vl__transaction__free_unpacked(t, NULL);
    vl_key_destroy(&stranger);
    free(tx);
    s_endorsed_free(&e);
}

static json_t *
s_balance(void)
{
    int code;
    char msg[256];
    return s_call("wallet.get", json_pack("{s:s}", "did", s_user_did), &code, msg, sizeof msg);
}

static int64_t
s_balance_cents(void)
{
    json_t *b = s_balance();
    int64_t v = b ? json_integer_value(json_object_get(b, "balance")) : -1;
    json_decref(b);
    return v;
}

/* Polls tx.get until the tx is committed or the deadline passes. */
static json_t *
s_wait_committed(const uint8_t txid[32])
{
    char hex[65];
    vl_hex_encode(txid, 32, hex);
    int64_t deadline = vl_mono_ms() + 10000;
    while (vl_mono_ms() < deadline) {
        int code;
        char msg[256];
        json_t *r = s_call("tx.get", json_pack("{s:s}", "txid", hex), &code, msg, sizeof msg);
        if (r)
            return r;
        s_pause_ms(10);
    }
    return NULL;
}

static void
test_replayed_txid(void)
{
    int64_t before = s_balance_cents();
    endorsed_t e;
    int code;
    char msg[256];
    CHECK_EQ(s_endorse_issue(11, &e, &code, msg, sizeof msg),
             0);
    size_t len;
    uint8_t *tx = s_tx(&e, &len);
    json_t *r = s_submit(tx, len, false, &code, msg, sizeof msg);
    CHECK(r != NULL);
    json_decref(r);
    /* the same bytes again while pending, or just committed */
    r = s_submit(tx, len, false, &code, msg, sizeof msg);
    CHECK(r == NULL);
    CHECK_EQ(code, RPC_DUPLICATE);
    json_t *committed = s_wait_committed(e.txid);
    CHECK(committed != NULL);
    json_decref(committed);
    r = s_submit(tx, len, true, &code, msg, sizeof msg);
    CHECK(r == NULL);
    CHECK_EQ(code, RPC_DUPLICATE);
    CHECK_CONTAINS(msg, "already committed in block");
    /* endorsing the same proposal again is refused too */
    char *b64 = vl_base64_encode(e.proposal, e.proposal_len);
    r = s_call("endorse", json_pack("{s:s}", "proposal", b64), &code, msg, sizeof msg);
    free(b64);
    CHECK(r == NULL);
    CHECK_EQ(code, RPC_DUPLICATE);
    CHECK_EQ(s_balance_cents(), before + 11);   /* paid once */
    free(tx);
    s_endorsed_free(&e);
}

static void
test_mvcc_conflict(void)
{
    int64_t before = s_balance_cents();
    endorsed_t a, b;
    int code;
    char msg[256];
    /* Both endorsed against the same committed balance... */
    CHECK_EQ(s_endorse_issue(100, &a, &code, msg, sizeof msg),
             0);
    CHECK_EQ(s_endorse_issue(200, &b, &code, msg, sizeof msg),
             0);
    size_t la, lb;
    uint8_t *ta = s_tx(&a, &la), *tb = s_tx(&b, &lb);
    json_t *r = s_submit(ta, la, false, &code, msg, sizeof msg);
    json_decref(r);
    r = s_submit(tb, lb, false, &code, msg, sizeof msg);
    json_decref(r);
    json_t *ra = s_wait_committed(a.txid), *rb = s_wait_committed(b.txid);
    CHECK(ra && rb);
    if (ra && rb) {
        /* ...so exactly the first one ordered wins; the other is kept,
         * marked MVCC_CONFLICT, and changes nothing. */
        const char *ca = json_string_value(json_object_get(ra, "code_name"));
        const char *cb = json_string_value(json_object_get(rb, "code_name"));
        CHECK_STR(ca, "VALID");
        CHECK_STR(cb, "MVCC_CONFLICT");
        CHECK_EQ(s_balance_cents(), before + 100);
    }
    json_decref(ra);
    json_decref(rb);
    free(ta);
    free(tb);
    s_endorsed_free(&a);
    s_endorsed_free(&b);
}

static void
test_still_serving(void)
{
    int code;
    char msg[256];
    json_t *r = s_call("status", NULL, &code, msg, sizeof msg);
    CHECK(r != NULL);
    CHECK_EQ(json_integer_value(json_object_get(r, "mempool")), 0);
    json_decref(r);
}

/* money.wallets (a walk over every wallet) only with {wallets: true}; a
 * wallets that is not a boolean is refused by name. */
static void
test_status_wallets(void)
{
    int code;
    char msg[256];
    json_t *r = s_call("status", NULL, &code, msg, sizeof msg);
    json_t *money = json_object_get(r, "money");
    CHECK(json_is_integer(json_object_get(money, "issued")));
    CHECK(json_object_get(money, "wallets") == NULL);
    json_decref(r);
    r = s_call("status", json_pack("{s:b}", "wallets", 1), &code, msg, sizeof msg);
    money = json_object_get(r, "money");
    CHECK(json_is_integer(json_object_get(money, "wallets")));
    CHECK_EQ(json_integer_value(json_object_get(money, "wallets")),
             json_integer_value(json_object_get(money, "issued"))
                 - json_integer_value(json_object_get(money, "redeemed")));
    json_decref(r);
    r = s_call("status", json_pack("{s:s}", "wallets", "yes"), &code, msg, sizeof msg);
    CHECK(r == NULL);
    CHECK_EQ(code, RPC_INVALID_PARAMS);
    CHECK(strstr(msg, "'wallets' must be true or false") != NULL);
}

int
main(int argc, char **argv)
{
    if (argc < 2 || !check_tmpdir(s_dir, sizeof s_dir) || s_start(argv[1]) != 0) {
        if (s_pid > 0)
            kill(s_pid, SIGKILL);
        return check_bail_out("cannot start vledgerd");
    }
    RUN(test_register_user);
    RUN(test_bad_proposal_signature);
    RUN(test_wrong_chain_and_skew);
    RUN(test_bad_transaction_signatures);
    RUN(test_replayed_txid);
    RUN(test_mvcc_conflict);
    RUN(test_status_wallets);
    RUN(test_still_serving);
    client_destroy(&s_client);
    vl_key_destroy(&s_user);
    vl_key_destroy(&s_issuer);
    kill(s_pid, SIGTERM);
    int status = 0;
    waitpid(s_pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", s_dir);
    return check_done();
}
