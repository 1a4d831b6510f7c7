/*
 * test_client.c — the client library (node/client) and the `vledger` CLI
 * (node/cli) without a real node.
 *
 * A fake node runs in a thread: a ROUTER on tcp://127.0.0.1 (ephemeral port)
 * that answers docs/api.md methods from a script — echo, errors, silence, a
 * stale reply with another id, and an endorser/committer good enough for
 * client_transact (it checks the proposal signature and the transaction it
 * is given, signs results with its own key). The CLI tests spawn the built
 * `vledger` ($VLEDGER_BIN) against the same fake and check exit codes,
 * output and the exact arguments the contract would have received.
 *
 * Synchronisation is by request/reply only: the fake is bound before its
 * thread starts, and stops when asked by a "stop" request. No sleeps.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zmq.h>

#include "check.h"
#include "client.h"
#include "codec.h"
#include "crypto.h"
#include "did.h"
#include "json.h"
#include "vledger.pb-c.h"

extern char **environ;

static char s_tmp[256];   /* this run's scratch directory */

/* --- Fake node ------------------------------------------------------------ */

typedef struct {
    void *ctx;
    void *router;
    char endpoint[128];
    vl_key_t *key;              /* endorser key */
    pthread_t thread;
    pthread_mutex_t lock;       /* guards the fields below */
    bool refuse;                /* endorse answers -32001 */
    bool silent_submit;         /* submit never answers */
    char last_function[64];     /* of the last endorsed proposal */
    char *last_args;            /* args_json of the last endorsed proposal (owned) */
    char last_creator[VL_DID_BUF];
    int submits;                /* well-formed transactions received */
    int statuses;               /* status calls answered */
} fake_t;

static void
s_send_json(fake_t *f, zmq_msg_t *identity, json_t *reply)
{
    char *text = json_dumps(reply, JSON_COMPACT);
    zmq_msg_send(identity, f->router, ZMQ_SNDMORE);
    zmq_send(f->router, text, strlen(text), 0);
    free(text);
}

static json_t *
s_error(json_t *id, int code, const char *message)
{
    return json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
                     "error", "code", code, "message", message);
}

static json_t *
s_result(json_t *id, json_t *result /* stolen */)
{
    return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result);
}

static char *
s_b64(const uint8_t *data, size_t len)
{
    return vl_base64_encode(data, len);
}

/* Decodes params.proposal (a base64 SignedProposal), checks its signature
 * and records it as the last call. NULL with *sp and *p (owned by the
 * caller) on success, else the error reply. */
static json_t *
s_open_proposal(fake_t *f, json_t *id, json_t *params, Vl__SignedProposal **sp_out,
                Vl__Proposal **p_out)
{
    const char *b64 = json_string_value(json_object_get(params, "proposal"));
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (!b64 || vl_base64_decode(b64, &bytes, &len) != 0)
        return s_error(id, -32602, "proposal must be base64");
    Vl__SignedProposal *sp = vl__signed_proposal__unpack(NULL, len, bytes);
    free(bytes);
    if (!sp)
        return s_error(id, -32602, "proposal does not decode");
    Vl__Proposal *p = vl__proposal__unpack(NULL, sp->proposal.len, sp->proposal.data);
    if (!p || p->creator.len != 32 || sp->signature.len != 64
        || !vl_verify(p->creator.data, sp->proposal.data, sp->proposal.len, sp->signature.data)) {
        vl__proposal__free_unpacked(p, NULL);
        vl__signed_proposal__free_unpacked(sp, NULL);
        return s_error(id, -32010, "bad proposal signature");
    }
    pthread_mutex_lock(&f->lock);
    snprintf(f->last_function, sizeof f->last_function, "%s.%s", p->contract, p->function);
    free(f->last_args);
    f->last_args = strdup(p->args_json);
    vl_did_from_public(p->creator.data, f->last_creator);
    pthread_mutex_unlock(&f->lock);
    *sp_out = sp;
    *p_out = p;
    return NULL;
}

/* endorse: checks the proposal's signature; the function name picks the
 * misbehaviour: "wrongtx" signs a result for another txid, "badsig" sends a
 * signature that does not verify. */
static json_t *
s_endorse(fake_t *f, json_t *id, json_t *params)
{
    Vl__SignedProposal *sp = NULL;
    Vl__Proposal *p = NULL;
    json_t *reply = s_open_proposal(f, id, params, &sp, &p);
    if (reply)
        return reply;
    pthread_mutex_lock(&f->lock);
    bool refuse = f->refuse;
    pthread_mutex_unlock(&f->lock);
    if (refuse) {
        reply = s_error(id, -32001, "the contract says no");
        goto done;
    }
    uint8_t txid[32];
    vl_sha256(sp->proposal.data, sp->proposal.len, txid);
    if (strcmp(p->function, "wrongtx") == 0)
        txid[0] ^= 1;
    char result_json[512];
    snprintf(result_json, sizeof result_json, "{\"ok\":true,\"fn\":\"%s\"}", p->function);
    Vl__EndorsedResult er = VL__ENDORSED_RESULT__INIT;
    er.txid.data = txid;
    er.txid.len = 32;
    er.result_json = result_json;
    er.gas_used = 7;
    er.vm_version = "fake";
    size_t rlen = vl__endorsed_result__get_packed_size(&er);
    uint8_t *rbytes = malloc(rlen);
    vl__endorsed_result__pack(&er, rbytes);
    uint8_t sig[64];
    vl_key_sign(f->key, rbytes, rlen, sig);
    if (strcmp(p->function, "badsig") == 0)
        sig[5] ^= 1;
    char hex[65];
    vl_hex_encode(txid, 32, hex);
    char *r64 = s_b64(rbytes, rlen), *e64 = s_b64(vl_key_public(f->key), 32),
         *s64 = s_b64(sig, 64);
    reply = s_result(id, json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "txid", hex, "result", r64,
                                   "endorser", e64, "signature", s64, "result_json",
                                   result_json, "gas_used", 7));
    free(r64);
    free(e64);
    free(s64);
    free(rbytes);
done:
    vl__proposal__free_unpacked(p, NULL);
    vl__signed_proposal__free_unpacked(sp, NULL);
    return reply;
}

/* transact: the gateway. Checks the proposal's signature and records it;
 * the function name picks the outcome: "wrongtx" answers for another txid,
 * "invalid" commits with TX_MVCC_CONFLICT, "slow" never answers (*silent). */
static json_t *
s_transact(fake_t *f, json_t *id, json_t *params, bool *silent)
{
    if (!json_is_true(json_object_get(params, "wait"))
        || !json_is_integer(json_object_get(params, "timeout_ms")))
        return s_error(id, -32602, "expected wait and timeout_ms");
    Vl__SignedProposal *sp = NULL;
    Vl__Proposal *p = NULL;
    json_t *reply = s_open_proposal(f, id, params, &sp, &p);
    if (reply)
        return reply;
    pthread_mutex_lock(&f->lock);
    bool refuse = f->refuse;
    if (!refuse)
        f->submits++;
    bool hush = f->silent_submit;
    pthread_mutex_unlock(&f->lock);
    if (refuse) {
        reply = s_error(id, -32001, "the contract says no");
        goto done;
    }
    if (hush || strcmp(p->function, "slow") == 0) {
        *silent = true;
        goto done;
    }
    uint8_t txid[32];
    char hex[65];
    vl_sha256(sp->proposal.data, sp->proposal.len, txid);
    if (strcmp(p->function, "wrongtx") == 0)
        txid[0] ^= 1;
    vl_hex_encode(txid, 32, hex);
    bool invalid = strcmp(p->function, "invalid") == 0;
    reply = s_result(id, json_pack("{s:s, s:s, s:i, s:i, s:i, s:s, s:{s:b, s:s}}", "txid", hex,
                                   "status", "committed", "height", 5, "index", 0, "code",
                                   invalid ? 5 : 0, "code_name",
                                   invalid ? "TX_MVCC_CONFLICT" : "TX_VALID", "result", "ok", 1,
                                   "fn", p->function));
done:
    vl__proposal__free_unpacked(p, NULL);
    vl__signed_proposal__free_unpacked(sp, NULL);
    return reply;
}

/* submit: checks the transaction's shape and both signatures. The function
 * name picks the outcome: "invalid" commits with TX_MVCC_CONFLICT, "slow"
 * never answers. *silent is set when no reply must be sent. */
static json_t *
s_submit(fake_t *f, json_t *id, json_t *params, bool *silent)
{
    const char *b64 = json_string_value(json_object_get(params, "transaction"));
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (!b64 || vl_base64_decode(b64, &bytes, &len) != 0)
        return s_error(id, -32602, "transaction must be base64");
    if (!json_is_true(json_object_get(params, "wait"))
        || !json_is_integer(json_object_get(params, "timeout_ms")))
        return free(bytes), s_error(id, -32602, "expected wait and timeout_ms");
    Vl__Transaction *tx = vl__transaction__unpack(NULL, len, bytes);
    free(bytes);
    if (!tx)
        return s_error(id, -32602, "transaction does not decode");
    Vl__Proposal *p = vl__proposal__unpack(NULL, tx->proposal.len, tx->proposal.data);
    json_t *reply = NULL;
    if (!p || tx->proposal_signature.len != 64 || tx->n_endorsements != 1
        || !vl_verify(p->creator.data, tx->proposal.data, tx->proposal.len,
                      tx->proposal_signature.data)
        || tx->endorsements[0]->endorser.len != 32 || tx->endorsements[0]->signature.len != 64
        || memcmp(tx->endorsements[0]->endorser.data, vl_key_public(f->key), 32) != 0
        || !vl_verify(tx->endorsements[0]->endorser.data, tx->result.data, tx->result.len,
                      tx->endorsements[0]->signature.data)) {
        reply = s_error(id, -32010, "bad transaction");
        goto done;
    }
    pthread_mutex_lock(&f->lock);
    f->submits++;
    bool hush = f->silent_submit;
    pthread_mutex_unlock(&f->lock);
    if (hush || strcmp(p->function, "slow") == 0) {
        *silent = true;
        goto done;
    }
    uint8_t txid[32];
    char hex[65];
    vl_sha256(tx->proposal.data, tx->proposal.len, txid);
    vl_hex_encode(txid, 32, hex);
    bool invalid = strcmp(p->function, "invalid") == 0;
    reply = s_result(id, json_pack("{s:s, s:s, s:i, s:i, s:i, s:s}", "txid", hex, "status",
                                   "committed", "height", 5, "index", 0, "code", invalid ? 5 : 0,
                                   "code_name", invalid ? "TX_MVCC_CONFLICT" : "TX_VALID"));
done:
    vl__proposal__free_unpacked(p, NULL);
    vl__transaction__free_unpacked(tx, NULL);
    return reply;
}

static void *
s_fake_run(void *arg)
{
    fake_t *f = arg;
    for (;;) {
        zmq_msg_t identity, body;
        zmq_msg_init(&identity);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&identity, f->router, 0) < 0) {   /* safety timeout */
            zmq_msg_close(&identity);
            zmq_msg_close(&body);
            break;
        }
        zmq_msg_recv(&body, f->router, 0);
        json_t *req = json_loadb(zmq_msg_data(&body), zmq_msg_size(&body), 0, NULL);
        zmq_msg_close(&body);
        if (!json_is_object(req)) {
            json_t *e = s_error(NULL, -32700, "parse error: the request is not JSON");
            s_send_json(f, &identity, e);
            json_decref(e);
            json_decref(req);
            zmq_msg_close(&identity);
            continue;
        }
        json_t *id = json_object_get(req, "id");
        const char *method = json_string_value(json_object_get(req, "method"));
        json_t *params = json_object_get(req, "params");
        json_t *reply = NULL;
        bool stop = false, silent = false;
        if (!method) {
            reply = s_error(id, -32600, "invalid request");
        } else if (strcmp(method, "stop") == 0) {
            reply = s_result(id, json_string("bye"));
            stop = true;
        } else if (strcmp(method, "echo") == 0) {
            reply = s_result(id, json_incref(params));
        } else if (strcmp(method, "fail") == 0) {
            reply = s_error(id, -32001, "vehicle 1HGCM82633A004352 is already registered");
        } else if (strcmp(method, "missing") == 0) {
            reply = s_error(id, -32004, "no such vehicle");
        } else if (strcmp(method, "silent") == 0) {
            silent = true;
        } else if (strcmp(method, "nullid") == 0) {
            reply = s_error(NULL, -32600, "request too large");
        } else if (strcmp(method, "garbage") == 0) {
            zmq_msg_send(&identity, f->router, ZMQ_SNDMORE);
            zmq_send(f->router, "<html>", 6, 0);
            silent = true;
        } else if (strcmp(method, "mismatch") == 0) {
            json_t *other = json_integer(json_integer_value(id) + 1000);
            json_t *stale = s_result(other, json_string("wrong"));
            zmq_msg_t copy;
            zmq_msg_init(&copy);
            zmq_msg_copy(&copy, &identity);
            s_send_json(f, &copy, stale);
            zmq_msg_close(&copy);
            json_decref(stale);
            json_decref(other);
            reply = s_result(id, json_string("right"));
        } else if (strcmp(method, "status") == 0) {
            pthread_mutex_lock(&f->lock);
            f->statuses++;
            pthread_mutex_unlock(&f->lock);
            reply = s_result(id, json_pack("{s:s, s:i, s:s, s:s, s:[s], s:[], s:[], s:i, s:{s:s},"
                                           " s:{s:s, s:[s]}}",
                                           "chain_id", "test-chain", "height", 4, "state_hash",
                                           "ab", "did", "did:vl:fake", "roles", "validator",
                                           "validators", "peers", "mempool", 0, "endpoints",
                                           "api", f->endpoint, "org", "name", "fakeorg", "roles",
                                           "validator"));
        } else if (strcmp(method, "tx.get") == 0) {
            reply = s_error(id, -32004, "no such transaction");
        } else if (strcmp(method, "block.get") == 0) {
            reply = s_result(id, json_pack("{s:O, s:s, s:[{s:s, s:i, s:s}]}", "height",
                                           json_object_get(params, "height"), "hash", "cafe",
                                           "txs", "txid", "aa", "code", 0, "code_name",
                                           "VALID"));
        } else if (strcmp(method, "vehicle.get") == 0) {
            reply = s_result(id, json_pack("{s:O, s:s, s:[{s:s},{s:s}], s:{s:i, s:i}}", "vin",
                                           json_object_get(params, "vin"), "make", "Honda",
                                           "owners", "did", "did:vl:a", "did", "did:vl:b",
                                           "_version", "block", 3, "tx", 1));
        } else if (strcmp(method, "vehicle.history") == 0) {
            reply = s_result(
                id, json_pack("{s:O, s:[{s:s, s:i, s:i, s:b, s:{s:s, s:[{s:s}]}},"
                              "{s:s, s:i, s:i, s:b, s:{s:s, s:[{s:s},{s:s}]}}]}",
                              "vin", json_object_get(params, "vin"), "history",
                              "txid", "aa", "block", 2, "tx", 0, "deleted", 0, "value", "make",
                              "Honda", "owners", "did", "did:vl:a",
                              "txid", "bb", "block", 3, "tx", 1, "deleted", 0, "value", "make",
                              "Honda", "owners", "did", "did:vl:a", "did", "did:vl:b"));
        } else if (strcmp(method, "endorse") == 0) {
            reply = s_endorse(f, id, params);
        } else if (strcmp(method, "submit") == 0) {
            reply = s_submit(f, id, params, &silent);
        } else if (strcmp(method, "transact") == 0) {
            reply = s_transact(f, id, params, &silent);
        } else {
            char msg[128];
            snprintf(msg, sizeof msg, "method not found: %s", method);
            reply = s_error(id, -32601, msg);
        }
        if (reply && !silent)
            s_send_json(f, &identity, reply);
        json_decref(reply);
        json_decref(req);
        zmq_msg_close(&identity);
        if (stop)
            break;
    }
    return NULL;
}

static fake_t *
fake_start(void)
{
    fake_t *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    f->key = vl_key_generate();
    f->ctx = zmq_ctx_new();
    f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
    int linger = 0, safety_ms = 30000;
    zmq_setsockopt(f->router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(f->router, ZMQ_RCVTIMEO, &safety_ms, sizeof safety_ms);
    CHECK_EQ(zmq_bind(f->router, "tcp://127.0.0.1:*"), 0);
    size_t size = sizeof f->endpoint;
    zmq_getsockopt(f->router, ZMQ_LAST_ENDPOINT, f->endpoint, &size);
    pthread_create(&f->thread, NULL, s_fake_run, f);
    return f;
}

static void
fake_stop(fake_t **fp)
{
    fake_t *f = *fp;
    vl_err_t err = { "" };
    client_t *c = client_new(f->endpoint, 5000, &err);
    json_t *r = NULL;
    CHECK_EQ(client_call(c, "stop", NULL, &r, &err), 0);
    json_decref(r);
    client_destroy(&c);
    pthread_join(f->thread, NULL);
    zmq_close(f->router);
    zmq_ctx_term(f->ctx);
    vl_key_destroy(&f->key);
    free(f->last_args);
    pthread_mutex_destroy(&f->lock);
    free(f);
    *fp = NULL;
}

static fake_t *s_fake;   /* the fake node the tests below talk to */

/* Copy of the fake's last endorsed args (caller frees). */
static char *
fake_last_args(fake_t *f)
{
    pthread_mutex_lock(&f->lock);
    char *a = f->last_args ? strdup(f->last_args) : NULL;
    pthread_mutex_unlock(&f->lock);
    return a;
}

/* --- Proposal building and checks -------------------------------------------- */

static void
test_build_proposal(void)
{
    vl_key_t *key = vl_key_generate();
    vl_err_t err = { "" };
    json_t *args = json_pack("{s:i, s:[i,s], s:{s:b, s:n}}", "zeta", 1, "alpha", 2, "x", "mid",
                             "y", true, "a", 0);
    uint8_t *sp_bytes = NULL, txid[VL_HASH_SIZE];
    size_t sp_len = 0;
    CHECK_EQ(client_build_proposal(key, "chain-1", "vehicle", "register", args, 42, 1700000000123,
                                   &sp_bytes, &sp_len, txid, &err),
             0);
    Vl__SignedProposal *sp = vl__signed_proposal__unpack(NULL, sp_len, sp_bytes);
    CHECK(sp != NULL);
    if (sp) {
        uint8_t expect[VL_HASH_SIZE];
        vl_sha256(sp->proposal.data, sp->proposal.len, expect);
        CHECK(memcmp(expect, txid, VL_HASH_SIZE) == 0);
        CHECK_EQ(sp->signature.len, VL_SIG_SIZE);
        CHECK(vl_verify(vl_key_public(key), sp->proposal.data, sp->proposal.len,
                        sp->signature.data));
        Vl__Proposal *p = vl__proposal__unpack(NULL, sp->proposal.len, sp->proposal.data);
        CHECK(p != NULL);
        if (p) {
            CHECK_STR(p->chain_id, "chain-1");
            CHECK_STR(p->contract, "vehicle");
            CHECK_STR(p->function, "register");
            CHECK_STR(p->args_json, "{\"alpha\":[2,\"x\"],\"mid\":{\"a\":null,\"y\":true},"
                                    "\"zeta\":1}");
            CHECK_EQ(p->creator.len, VL_PUBKEY_SIZE);
            CHECK(memcmp(p->creator.data, vl_key_public(key), VL_PUBKEY_SIZE) == 0);
            CHECK_EQ(p->nonce, 42);
            CHECK_EQ(p->timestamp_ms, 1700000000123LL);
            CHECK_EQ(p->gas_limit, 0);
            vl__proposal__free_unpacked(p, NULL);
        }
        vl__signed_proposal__free_unpacked(sp, NULL);
    }
    free(sp_bytes);

    /* Same inputs, same bytes; another nonce, another txid. */
    uint8_t *b2 = NULL, t2[VL_HASH_SIZE], *b3 = NULL, t3[VL_HASH_SIZE];
    size_t l2 = 0, l3 = 0;
    client_build_proposal(key, "chain-1", "vehicle", "register", args, 42, 1700000000123, &b2,
                          &l2, t2, &err);
    client_build_proposal(key, "chain-1", "vehicle", "register", args, 43, 1700000000123, &b3,
                          &l3, t3, &err);
    CHECK(memcmp(t2, txid, VL_HASH_SIZE) == 0);
    CHECK(memcmp(t3, txid, VL_HASH_SIZE) != 0);
    free(b2);
    free(b3);

    /* NULL args is {}; non-object args and missing names are refused. */
    uint8_t *b4 = NULL, t4[VL_HASH_SIZE];
    size_t l4 = 0;
    CHECK_EQ(client_build_proposal(key, "c", "wallet", "get", NULL, 1, 1, &b4, &l4, t4, &err), 0);
    Vl__SignedProposal *sp4 = vl__signed_proposal__unpack(NULL, l4, b4);
    Vl__Proposal *p4 = sp4 ? vl__proposal__unpack(NULL, sp4->proposal.len, sp4->proposal.data)
                           : NULL;
    CHECK(p4 && strcmp(p4->args_json, "{}") == 0);
    vl__proposal__free_unpacked(p4, NULL);
    vl__signed_proposal__free_unpacked(sp4, NULL);
    free(b4);
    json_t *arr = json_array();
    uint8_t *untouched = NULL;
    CHECK_EQ(client_build_proposal(key, "c", "wallet", "get", arr, 1, 1, &untouched, &l4, t4,
                                   &err),
             VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "must be a JSON object");
    CHECK(untouched == NULL);
    CHECK_EQ(client_build_proposal(key, "", "wallet", "get", NULL, 1, 1, &untouched, &l4, t4,
                                   &err),
             VL_ERR_INVALID);
    CHECK_EQ(client_build_proposal(key, "c", "", "get", NULL, 1, 1, &untouched, &l4, t4, &err),
             VL_ERR_INVALID);
    CHECK_EQ(client_build_proposal(NULL, "c", "w", "get", NULL, 1, 1, &untouched, &l4, t4, &err),
             VL_ERR_INVALID);
    json_decref(arr);
    json_decref(args);
    vl_key_destroy(&key);
}

/* An EndorsedResult for txid signed by key, packed into *out. */
static size_t
s_endorsed(const vl_key_t *key, const uint8_t txid[32], uint8_t **out, uint8_t sig[64])
{
    Vl__EndorsedResult er = VL__ENDORSED_RESULT__INIT;
    er.txid.data = (uint8_t *) txid;
    er.txid.len = 32;
    er.result_json = "{\"balance\":5}";
    size_t len = vl__endorsed_result__get_packed_size(&er);
    *out = malloc(len);
    vl__endorsed_result__pack(&er, *out);
    vl_key_sign(key, *out, len, sig);
    return len;
}

static void
test_check_endorsement(void)
{
    vl_key_t *endorser = vl_key_generate();
    vl_err_t err = { "" };
    uint8_t txid[32], other[32], sig[64], *res = NULL;
    vl_sha256("proposal", 8, txid);
    vl_sha256("another", 7, other);
    size_t len = s_endorsed(endorser, txid, &res, sig);
    const uint8_t *pub = vl_key_public(endorser);

    char *rj = NULL;
    CHECK_EQ(client_check_endorsement(txid, res, len, pub, 32, sig, 64, &rj, &err), 0);
    CHECK_STR(rj, "{\"balance\":5}");
    free(rj);
    rj = NULL;
    CHECK_EQ(client_check_endorsement(other, res, len, pub, 32, sig, 64, &rj, &err),
             VL_ERR_REFUSED);
    CHECK_STR(err.msg, "endorser returned a result for another transaction");
    CHECK(rj == NULL);
    sig[0] ^= 1;
    CHECK_EQ(client_check_endorsement(txid, res, len, pub, 32, sig, 64, NULL, &err),
             VL_ERR_SIGNATURE);
    CHECK_CONTAINS(err.msg, "does not verify");
    sig[0] ^= 1;
    CHECK_EQ(client_check_endorsement(txid, res, len, pub, 31, sig, 64, NULL, &err),
             VL_ERR_INVALID);
    CHECK_EQ(client_check_endorsement(txid, res, len, pub, 32, sig, 63, NULL, &err),
             VL_ERR_INVALID);
    /* Signed garbage is still garbage. */
    uint8_t junk[3] = { 0xff, 0xff, 0xff }, jsig[64];
    vl_key_sign(endorser, junk, 3, jsig);
    CHECK_EQ(client_check_endorsement(txid, junk, 3, pub, 32, jsig, 64, NULL, &err),
             VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "does not decode");
    free(res);
    vl_key_destroy(&endorser);
}

static void
test_build_transaction(void)
{
    vl_key_t *creator = vl_key_generate(), *endorser = vl_key_generate();
    vl_err_t err = { "" };
    uint8_t *sp = NULL, txid[32], sig[64], *res = NULL, *tx_bytes = NULL;
    size_t sp_len = 0, tx_len = 0;
    client_build_proposal(creator, "c", "wallet", "deposit", NULL, 9, 9, &sp, &sp_len, txid, &err);
    size_t res_len = s_endorsed(endorser, txid, &res, sig);
    CHECK_EQ(client_build_transaction(sp, sp_len, res, res_len, vl_key_public(endorser), 32, sig,
                                      64, &tx_bytes, &tx_len, &err),
             0);
    Vl__Transaction *tx = vl__transaction__unpack(NULL, tx_len, tx_bytes);
    CHECK(tx != NULL);
    if (tx) {
        uint8_t t[32];
        vl_sha256(tx->proposal.data, tx->proposal.len, t);
        CHECK(memcmp(t, txid, 32) == 0);
        CHECK(vl_verify(vl_key_public(creator), tx->proposal.data, tx->proposal.len,
                        tx->proposal_signature.data));
        CHECK_EQ(tx->result.len, res_len);
        CHECK_EQ(tx->n_endorsements, 1);
        CHECK(memcmp(tx->endorsements[0]->endorser.data, vl_key_public(endorser), 32) == 0);
        CHECK(memcmp(tx->endorsements[0]->signature.data, sig, 64) == 0);
        vl__transaction__free_unpacked(tx, NULL);
    }
    uint8_t bad[2] = { 0xff, 0xff };
    CHECK_EQ(client_build_transaction(bad, 2, res, res_len, vl_key_public(endorser), 32, sig, 64,
                                      &tx_bytes, &tx_len, &err),
             VL_ERR_INVALID);
    free(tx_bytes);
    free(res);
    free(sp);
    vl_key_destroy(&creator);
    vl_key_destroy(&endorser);
}

static void
test_error_mapping(void)
{
    CHECK_EQ(client_error_from_rpc(-32700), VL_ERR_INVALID);
    CHECK_EQ(client_error_from_rpc(-32600), VL_ERR_INVALID);
    CHECK_EQ(client_error_from_rpc(-32601), VL_ERR_INVALID);
    CHECK_EQ(client_error_from_rpc(-32602), VL_ERR_INVALID);
    CHECK_EQ(client_error_from_rpc(-32001), VL_ERR_REFUSED);
    CHECK_EQ(client_error_from_rpc(-32002), VL_ERR_EXISTS);
    CHECK_EQ(client_error_from_rpc(-32003), VL_ERR_TIMEOUT);
    CHECK_EQ(client_error_from_rpc(-32004), VL_ERR_NOT_FOUND);
    CHECK_EQ(client_error_from_rpc(-32010), VL_ERR_SIGNATURE);
    CHECK_EQ(client_error_from_rpc(-32603), VL_ERR_IO);
    CHECK_EQ(client_error_from_rpc(-1), VL_ERR_IO);
}

/* --- Endpoint resolution ------------------------------------------------------ */

static void
s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void
test_resolve_endpoint(void)
{
    char dir[300], path[400], out[CLIENT_ENDPOINT_MAX], home[300];
    vl_err_t err = { "" };
    snprintf(dir, sizeof dir, "%s/data", s_tmp);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/endpoints.json", dir);

    /* Missing file: the message says what to do. */
    CHECK_EQ(client_resolve_endpoint(NULL, dir, out, sizeof out, &err), VL_ERR_NOT_FOUND);
    char expect[1024];
    snprintf(expect, sizeof expect,
             "no node endpoint: %s not found (start one with `vledgerd --dev --data %s` or "
             "pass --node)",
             path, dir);
    CHECK_STR(err.msg, expect);

    s_write(path, "{\"api\":\"tcp://127.0.0.1:7001\",\"events\":\"tcp://127.0.0.1:7002\"}");
    CHECK_EQ(client_resolve_endpoint(NULL, dir, out, sizeof out, &err), 0);
    CHECK_STR(out, "tcp://127.0.0.1:7001");

    /* $VLEDGER_NODE beats the file; an empty one is unset; --node beats both. */
    setenv("VLEDGER_NODE", "tcp://127.0.0.1:8001", 1);
    CHECK_EQ(client_resolve_endpoint(NULL, dir, out, sizeof out, &err), 0);
    CHECK_STR(out, "tcp://127.0.0.1:8001");
    CHECK_EQ(client_resolve_endpoint("tcp://127.0.0.1:9001", dir, out, sizeof out, &err), 0);
    CHECK_STR(out, "tcp://127.0.0.1:9001");
    setenv("VLEDGER_NODE", "", 1);
    CHECK_EQ(client_resolve_endpoint(NULL, dir, out, sizeof out, &err), 0);
    CHECK_STR(out, "tcp://127.0.0.1:7001");
    unsetenv("VLEDGER_NODE");

    /* Too small an output buffer: untouched, VL_ERR_LIMIT. */
    char small[8] = "keep";
    CHECK_EQ(client_resolve_endpoint(NULL, dir, small, sizeof small, &err), VL_ERR_LIMIT);
    CHECK_STR(small, "keep");

    /* Malformed files. */
    s_write(path, "{\"api\": 7}");
    CHECK_EQ(client_resolve_endpoint(NULL, dir, out, sizeof out, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "no \"api\" endpoint");
    s_write(path, "{not json");
    CHECK_EQ(client_resolve_endpoint(NULL, dir, out, sizeof out, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "not valid JSON");

    /* Default data dir: $VLEDGER_DATA, else $HOME/.vledger. */
    const char *saved_home = getenv("HOME");
    snprintf(home, sizeof home, "%s", saved_home ? saved_home : "");
    setenv("VLEDGER_DATA", dir, 1);
    CHECK_EQ(client_default_data_dir(out, sizeof out, &err), 0);
    CHECK_STR(out, dir);
    s_write(path, "{\"api\":\"ipc:///tmp/x\"}");
    CHECK_EQ(client_resolve_endpoint(NULL, NULL, out, sizeof out, &err), 0);
    CHECK_STR(out, "ipc:///tmp/x");
    unsetenv("VLEDGER_DATA");
    setenv("HOME", "/h", 1);
    CHECK_EQ(client_default_data_dir(out, sizeof out, &err), 0);
    CHECK_STR(out, "/h/.vledger");
    CHECK_EQ(client_resolve_endpoint(NULL, NULL, out, sizeof out, &err), VL_ERR_NOT_FOUND);
    CHECK_CONTAINS(err.msg, "/h/.vledger/endpoints.json not found");
    unsetenv("HOME");
    CHECK_EQ(client_default_data_dir(out, sizeof out, &err), VL_ERR_NOT_FOUND);
    setenv("HOME", home, 1);
    unlink(path);
    rmdir(dir);
}

/* --- Calls against the fake node ------------------------------------------------ */

static void
test_client_new(void)
{
    vl_err_t err = { "" };
    client_t *c = client_new("nonsense", 1000, &err);
    CHECK(c == NULL);
    CHECK_CONTAINS(err.msg, "cannot connect to node endpoint 'nonsense'");
    CHECK(client_new("tcp://127.0.0.1:1", 0, &err) == NULL);
    CHECK(client_new("", 100, &err) == NULL);
    client_destroy(&c);   /* NULL is fine */
    c = client_new("tcp://127.0.0.1:1", 100, &err);
    CHECK(c != NULL);
    if (c)
        CHECK_STR(client_endpoint(c), "tcp://127.0.0.1:1");
    client_destroy(&c);
    CHECK(c == NULL);
}

static void
test_call(void)
{
    fake_t *f = s_fake;
    vl_err_t err = { "" };
    client_t *c = client_new(f->endpoint, 300, &err);
    CHECK(c != NULL);
    if (!c)
        return;
    json_t *r = NULL, *params = json_pack("{s:s, s:i}", "vin", "V1", "n", 3);

    /* Success: the result is ours; params are borrowed; NULL params is {}. */
    CHECK_EQ(client_call(c, "echo", params, &r, &err), 0);
    CHECK(json_equal(r, params));
    CHECK_EQ(params->refcount, 1);
    json_decref(r);
    r = NULL;
    CHECK_EQ(client_call(c, "echo", NULL, &r, &err), 0);
    CHECK(json_is_object(r) && json_object_size(r) == 0);
    json_decref(r);
    r = NULL;
    CHECK_EQ(client_last_rpc_code(c), 0);

    /* JSON-RPC errors map to codes; the node's message is kept verbatim. */
    CHECK_EQ(client_call(c, "fail", params, &r, &err), VL_ERR_REFUSED);
    CHECK_STR(err.msg, "vehicle 1HGCM82633A004352 is already registered");
    CHECK_EQ(client_last_rpc_code(c), -32001);
    CHECK(r == NULL);
    CHECK_EQ(client_call(c, "missing", NULL, &r, &err), VL_ERR_NOT_FOUND);
    CHECK_EQ(client_last_rpc_code(c), -32004);
    CHECK_EQ(client_call(c, "no.such", NULL, &r, &err), VL_ERR_INVALID);
    CHECK_EQ(client_last_rpc_code(c), -32601);
    CHECK_STR(err.msg, "method not found: no.such");
    /* An error that could not carry our id is still our answer. */
    CHECK_EQ(client_call(c, "nullid", NULL, &r, &err), VL_ERR_INVALID);
    CHECK_STR(err.msg, "request too large");

    /* A reply with another id is ignored; the right one is taken. */
    CHECK_EQ(client_call(c, "mismatch", NULL, &r, &err), 0);
    CHECK(json_is_string(r) && strcmp(json_string_value(r), "right") == 0);
    json_decref(r);
    r = NULL;

    /* No answer: a timeout naming the endpoint; the client stays usable. */
    CHECK_EQ(client_call(c, "silent", NULL, &r, &err), VL_ERR_TIMEOUT);
    char expect[300];
    snprintf(expect, sizeof expect,
             "no answer from node at %s within 300 ms (is vledgerd running?)", f->endpoint);
    CHECK_STR(err.msg, expect);
    CHECK_EQ(client_last_rpc_code(c), 0);
    CHECK_EQ(client_call_timeout(c, "silent", NULL, 50, &r, &err), VL_ERR_TIMEOUT);
    CHECK_CONTAINS(err.msg, "within 50 ms");
    CHECK_EQ(client_call(c, "echo", params, &r, &err), 0);
    json_decref(r);
    r = NULL;

    /* Oversized requests never leave. */
    char *big = malloc(CLIENT_REQUEST_MAX + 1);
    memset(big, 'x', CLIENT_REQUEST_MAX);
    big[CLIENT_REQUEST_MAX] = '\0';
    json_t *huge = json_pack("{s:s}", "blob", big);
    free(big);
    CHECK_EQ(client_call(c, "echo", huge, &r, &err), VL_ERR_LIMIT);
    CHECK_CONTAINS(err.msg, "at most");
    json_decref(huge);

    /* A reply that is not JSON. */
    CHECK_EQ(client_call(c, "garbage", NULL, &r, &err), VL_ERR_INVALID);
    CHECK_CONTAINS(err.msg, "not a JSON-RPC object");

    /* Raw: bytes out, bytes back. */
    char *raw = NULL;
    CHECK_EQ(client_call_raw(c, "this is not json", 16, &raw, &err), 0);
    CHECK_CONTAINS(raw, "-32700");
    free(raw);
    raw = NULL;
    const char *req = "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"echo\",\"params\":{\"a\":1}}";
    CHECK_EQ(client_call_raw(c, req, strlen(req), &raw, &err), 0);
    CHECK_STR(raw, "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":{\"a\":1}}");
    free(raw);
    json_decref(params);
    client_destroy(&c);
}

static void
test_transact(void)
{
    fake_t *f = s_fake;
    vl_err_t err = { "" };
    client_t *c = client_new(f->endpoint, 2000, &err);
    vl_key_t *key = vl_key_generate();
    json_t *out = NULL, *args = json_pack("{s:i}", "cents", 100);
    CHECK_EQ(client_last_tx_fate(c), CLIENT_TX_NONE);
    CHECK_STR(client_last_txid(c), "");

    /* Committed: the submit reply, the parsed result, our txid. chain_id
     * NULL asks the node. */
    CHECK_EQ(client_transact(c, key, NULL, "wallet", "deposit", args, 1000, &out, &err), 0);
    CHECK_EQ(client_last_tx_fate(c), CLIENT_TX_COMMITTED);
    CHECK_STR(json_string_value(json_object_get(out, "txid")), client_last_txid(c));
    CHECK_EQ(strlen(client_last_txid(c)), 64);
    CHECK_STR(json_string_value(json_object_get(out, "status")), "committed");
    CHECK_EQ(json_integer_value(json_object_get(out, "height")), 5);
    CHECK_EQ(json_integer_value(json_object_get(out, "code")), 0);
    CHECK(json_is_true(json_object_get(json_object_get(out, "result"), "ok")));
    json_decref(out);
    out = NULL;
    char *a = fake_last_args(f);
    CHECK_STR(a, "{\"cents\":100}");
    free(a);
    /* The chain id is asked once per client, not before every transaction. */
    pthread_mutex_lock(&f->lock);
    int statuses = f->statuses;
    pthread_mutex_unlock(&f->lock);
    CHECK_EQ(client_transact(c, key, NULL, "wallet", "deposit", args, 1000, &out, &err), 0);
    json_decref(out);
    out = NULL;
    pthread_mutex_lock(&f->lock);
    CHECK_EQ(f->statuses, statuses);
    pthread_mutex_unlock(&f->lock);

    /* Refused (by the contract or an endorser): the node's message, nothing
     * submitted. */
    pthread_mutex_lock(&f->lock);
    f->refuse = true;
    int submits = f->submits;
    pthread_mutex_unlock(&f->lock);
    CHECK_EQ(client_transact(c, key, "test-chain", "wallet", "deposit", args, 1000, &out, &err),
             VL_ERR_REFUSED);
    CHECK_STR(err.msg, "the contract says no");
    CHECK_EQ(client_last_tx_fate(c), CLIENT_TX_NONE);
    pthread_mutex_lock(&f->lock);
    f->refuse = false;
    CHECK_EQ(f->submits, submits);
    pthread_mutex_unlock(&f->lock);

    /* A node that answers for another transaction: nothing is known of
     * ours. */
    CHECK_EQ(client_transact(c, key, "test-chain", "t", "wrongtx", NULL, 1000, &out, &err),
             VL_ERR_REFUSED);
    CHECK_CONTAINS(err.msg, "not for ours");
    CHECK_EQ(client_last_tx_fate(c), CLIENT_TX_UNKNOWN);
    CHECK(out == NULL);

    /* Committed but invalid. */
    CHECK_EQ(client_transact(c, key, "test-chain", "t", "invalid", NULL, 1000, &out, &err),
             VL_ERR_REFUSED);
    char expect[200];
    snprintf(expect, sizeof expect, "transaction %s was invalidated: TX_MVCC_CONFLICT",
             client_last_txid(c));
    CHECK_STR(err.msg, expect);
    CHECK_EQ(client_last_tx_fate(c), CLIENT_TX_INVALID);

    /* Submitted, never answered: unknown fate. */
    client_t *quick = client_new(f->endpoint, 100, &err);
    CHECK_EQ(client_transact(quick, key, "test-chain", "t", "slow", NULL, 100, &out, &err),
             VL_ERR_TIMEOUT);
    CHECK_CONTAINS(err.msg, "within 300 ms");
    CHECK_EQ(client_last_tx_fate(quick), CLIENT_TX_UNKNOWN);
    CHECK(out == NULL);

    /* Bad arguments never reach the node. */
    json_t *arr = json_array();
    CHECK_EQ(client_transact(c, key, "test-chain", "t", "f", arr, 1000, &out, &err),
             VL_ERR_INVALID);
    CHECK_EQ(client_transact(c, key, "test-chain", "t", "f", NULL, 0, &out, &err),
             VL_ERR_INVALID);
    json_decref(arr);
    client_destroy(&quick);
    json_decref(args);
    vl_key_destroy(&key);
    client_destroy(&c);
}

/* --- The vledger binary ------------------------------------------------------------ */

typedef struct {
    int status;          /* exit code, or -1 when it did not exit normally */
    char out[8192];
    char err[8192];
} run_t;

static void
s_slurp(const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Runs $VLEDGER_BIN with the NULL-terminated argument list. */
static void
s_run(run_t *r, const char *first, ...)
{
    const char *bin = getenv("VLEDGER_BIN");
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *) bin;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 63; a = va_arg(ap, const char *))
        argv[argc++] = (char *) a;
    va_end(ap);
    argv[argc] = NULL;
    char out_path[400], err_path[400];
    snprintf(out_path, sizeof out_path, "%s/cli.out", s_tmp);
    snprintf(err_path, sizeof err_path, "%s/cli.err", s_tmp);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    r->status = -1;
    if (posix_spawn(&pid, bin, &fa, NULL, argv, environ) == 0) {
        int st = 0;
        waitpid(pid, &st, 0);
        r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
    posix_spawn_file_actions_destroy(&fa);
    s_slurp(out_path, r->out, sizeof r->out);
    s_slurp(err_path, r->err, sizeof r->err);
}

static void
test_cli_usage(void)
{
    run_t r;
    s_run(&r, NULL);
    CHECK_EQ(r.status, 2);
    CHECK_CONTAINS(r.err, "usage: vledger");
    s_run(&r, "frobnicate", NULL);
    CHECK_EQ(r.status, 2);
    CHECK_CONTAINS(r.err, "unknown command 'frobnicate'");
    s_run(&r, "--bogus", "status", NULL);
    CHECK_EQ(r.status, 2);
    CHECK_CONTAINS(r.err, "unknown option '--bogus'");
    s_run(&r, "--timeout", "soon", "status", NULL);
    CHECK_EQ(r.status, 2);
    s_run(&r, "--node", NULL);
    CHECK_EQ(r.status, 2);
    s_run(&r, "--help", NULL);
    CHECK_EQ(r.status, 0);
    CHECK_CONTAINS(r.out, "vehicle register");
    s_run(&r, "vehicle", "--help", NULL);
    CHECK_EQ(r.status, 0);
    CHECK_CONTAINS(r.out, "--history");
    s_run(&r, "vehicle", NULL);
    CHECK_EQ(r.status, 2);
    s_run(&r, "vehicle", "fly", NULL);
    CHECK_EQ(r.status, 2);
    CHECK_CONTAINS(r.err, "unknown vehicle verb 'fly'");
    s_run(&r, "vehicle", "register", "--vin", "V", NULL);
    CHECK_EQ(r.status, 2);
    CHECK_CONTAINS(r.err, "needs --vin, --make, --model and --year");
    s_run(&r, "vehicle", "register", "--vin", "V", "--make", "M", "--model", "X", "--year",
          "new", NULL);
    CHECK_EQ(r.status, 2);
    s_run(&r, "vehicle", "register", "--vin", NULL);
    CHECK_EQ(r.status, 2);
    s_run(&r, "wallet", "issue", "--to", "did:vl:0123456789012345678901234567890123456789", "abc",
          NULL);
    CHECK_EQ(r.status, 2);
    CHECK_CONTAINS(r.err, "'abc' is not a number");
    s_run(&r, "wallet", "issue", "5", NULL);
    CHECK_EQ(r.status, 2);
    CHECK_CONTAINS(r.err, "needs --to DID");
    s_run(&r, "wallet", "transfer", "--to", "bob", "5", NULL);
    CHECK_EQ(r.status, 2);
    CHECK_CONTAINS(r.err, "'bob' is not a DID");
    s_run(&r, "wallet", "deposit", "5", NULL);
    CHECK_EQ(r.status, 1);
    CHECK_CONTAINS(r.err, "wallet issue --to DID CENTS");
    s_run(&r, "identity", "enrol", "did:vl:0123456789012345678901234567890123456789", NULL);
    CHECK_EQ(r.status, 2);
    CHECK_CONTAINS(r.err, "--role");
    s_run(&r, "wallet", "balance", "bob", NULL);
    CHECK_EQ(r.status, 2);
    s_run(&r, "identity", "new", "--name", "x", NULL);
    CHECK_EQ(r.status, 2);
    CHECK_CONTAINS(r.err, "--role");
    s_run(&r, "tx", "show", "123", NULL);
    CHECK_EQ(r.status, 2);
    s_run(&r, "block", "show", "-1", NULL);
    CHECK_EQ(r.status, 2);
    s_run(&r, "rpc", "status", "{bad", NULL);
    CHECK_EQ(r.status, 2);
    s_run(&r, "status", "now", NULL);
    CHECK_EQ(r.status, 2);
}

static void
test_cli_no_node(void)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/empty", s_tmp);
    mkdir(dir, 0700);
    run_t r;
    s_run(&r, "--data", dir, "status", NULL);
    CHECK_EQ(r.status, 1);
    CHECK_CONTAINS(r.err, "endpoints.json not found");
    CHECK_CONTAINS(r.err, "vledgerd --dev --data");
    s_run(&r, "--data", dir, "--node", "tcp://127.0.0.1:1", "wallet", "balance", NULL);
    CHECK_EQ(r.status, 1);
    CHECK_CONTAINS(r.err, "node.key");
    rmdir(dir);
}

static void
test_cli_fake(void)
{
    fake_t *f = s_fake;
    run_t r;
    char keyfile[400], dir[300], path[400];
    snprintf(keyfile, sizeof keyfile, "%s/signer.pem", s_tmp);
    vl_key_t *key = vl_key_generate();
    vl_err_t err = { "" };
    vl_key_save_pem(key, keyfile, &err);
    char did[VL_DID_BUF];
    vl_did_from_public(vl_key_public(key), did);
    vl_key_destroy(&key);

    s_run(&r, "--node", f->endpoint, "--json", "status", NULL);
    CHECK_EQ(r.status, 0);
    json_t *st = json_loads(r.out, 0, NULL);
    CHECK_STR(json_string_value(json_object_get(st, "chain_id")), "test-chain");
    json_decref(st);
    s_run(&r, "--node", f->endpoint, "status", NULL);
    CHECK_EQ(r.status, 0);
    CHECK_CONTAINS(r.out, "test-chain");

    s_run(&r, "--node", f->endpoint, "rpc", "echo", "{\"a\":[1,2]}", NULL);
    CHECK_EQ(r.status, 0);
    CHECK_STR(r.out, "{\"a\":[1,2]}\n");
    s_run(&r, "--node", f->endpoint, "rpc", "fail", NULL);
    CHECK_EQ(r.status, 1);
    CHECK_CONTAINS(r.err, "-32001");
    s_run(&r, "--node", f->endpoint, "rpc", "--raw", "{{{", NULL);
    CHECK_EQ(r.status, 0);
    CHECK_CONTAINS(r.out, "-32700");
    s_run(&r, "--node", f->endpoint, "--timeout", "150", "rpc", "silent", NULL);
    CHECK_EQ(r.status, 1);
    CHECK_CONTAINS(r.err, "no answer from node at tcp://127.0.0.1:");
    CHECK_CONTAINS(r.err, "within 150 ms (is vledgerd running?)");

    /* Transactions: the contract gets exactly what the user typed. */
    const char *bob = "did:vl:0123456789012345678901234567890123456789";
    s_run(&r, "--node", f->endpoint, "--key", keyfile, "wallet", "issue", "--to", bob, "12.5",
          NULL);
    CHECK_EQ(r.status, 0);
    char *a = fake_last_args(f);
    CHECK_STR(a, "{\"cents\":12.5,\"to\":\"did:vl:0123456789012345678901234567890123456789\"}");
    free(a);
    CHECK_CONTAINS(r.out, "issued");
    s_run(&r, "--node", f->endpoint, "--key", keyfile, "wallet", "transfer", "-5", "--to", bob,
          NULL);
    CHECK_EQ(r.status, 0);
    CHECK_CONTAINS(r.out, did);
    a = fake_last_args(f);
    CHECK_STR(a, "{\"cents\":-5,\"to\":\"did:vl:0123456789012345678901234567890123456789\"}");
    free(a);
    pthread_mutex_lock(&f->lock);
    CHECK_STR(f->last_function, "wallet.transfer");
    pthread_mutex_unlock(&f->lock);
    s_run(&r, "--node", f->endpoint, "--key", keyfile, "wallet", "redeem", "--from", bob, "7",
          NULL);
    CHECK_EQ(r.status, 0);
    pthread_mutex_lock(&f->lock);
    CHECK_STR(f->last_function, "wallet.redeem");
    pthread_mutex_unlock(&f->lock);
    s_run(&r, "--node", f->endpoint, "--key", keyfile, "identity", "enrol", bob, "--role",
          "title_agency", NULL);
    CHECK_EQ(r.status, 0);
    a = fake_last_args(f);
    CHECK_STR(a, "{\"did\":\"did:vl:0123456789012345678901234567890123456789\","
                 "\"role\":\"title_agency\"}");
    free(a);

    s_run(&r, "--node", f->endpoint, "--key", keyfile, "vehicle", "register", "--vin",
          "1HGCM82633A004352", "--make", "Honda", "--model=Civic", "--year", "2003", "--color",
          "blue", "--set", "doors=4", "--set", "trim=EX", "--set", "tags=[\"a\"]", NULL);
    CHECK_EQ(r.status, 0);
    CHECK_CONTAINS(r.out, "registered vehicle 1HGCM82633A004352 in block 5 (tx ");
    a = fake_last_args(f);
    CHECK_STR(a, "{\"color\":\"blue\",\"extra\":{\"doors\":4,\"tags\":[\"a\"],\"trim\":\"EX\"},"
                 "\"make\":\"Honda\",\"model\":\"Civic\",\"vin\":\"1HGCM82633A004352\","
                 "\"year\":2003}");
    free(a);
    s_run(&r, "--node", f->endpoint, "--key", keyfile, "--json", "vehicle", "register", "--vin",
          "V2", "--make", "M", "--model", "X", "--year", "2020", NULL);
    CHECK_EQ(r.status, 0);
    json_t *o = json_loads(r.out, 0, NULL);
    CHECK_EQ(strlen(json_string_value(json_object_get(o, "txid")) ?: ""), 64);
    json_decref(o);

    /* A refusal: exit 1, "vledger: refused: <the node's message>". */
    pthread_mutex_lock(&f->lock);
    f->refuse = true;
    pthread_mutex_unlock(&f->lock);
    s_run(&r, "--node", f->endpoint, "--key", keyfile, "wallet", "transfer", "--to", bob, "5",
          NULL);
    CHECK_EQ(r.status, 1);
    CHECK_CONTAINS(r.err, "vledger: refused: the contract says no");

    /* identity new: a refused registration leaves no key behind. */
    snprintf(dir, sizeof dir, "%s/d", s_tmp);
    snprintf(path, sizeof path, "%s/keys/bob.pem", dir);
    s_run(&r, "--data", dir, "--node", f->endpoint, "identity", "new", "--name", "bob", "--role",
          "buyer", NULL);
    CHECK_EQ(r.status, 1);
    CHECK_CONTAINS(r.err, "removed its key file");
    CHECK(access(path, F_OK) != 0);
    pthread_mutex_lock(&f->lock);
    f->refuse = false;
    pthread_mutex_unlock(&f->lock);

    /* ... and a registered one is signed by the new key, saved 0600. */
    snprintf(path, sizeof path, "%s/keys/alice.pem", dir);
    s_run(&r, "--data", dir, "--node", f->endpoint, "identity", "new", "--name", "alice",
          "--role", "seller", "--role", "buyer", "--id-number", "X-1", NULL);
    CHECK_EQ(r.status, 0);
    CHECK_CONTAINS(r.out, "registered identity did:vl:");
    CHECK_CONTAINS(r.out, path);
    a = fake_last_args(f);
    CHECK_STR(a, "{\"id_number\":\"X-1\",\"name\":\"alice\",\"org\":\"fakeorg\","
                 "\"roles\":[\"seller\",\"buyer\"]}");
    CHECK_CONTAINS(r.out, "of organisation fakeorg");
    free(a);
    struct stat sb;
    CHECK_EQ(stat(path, &sb), 0);
    CHECK_EQ(sb.st_mode & 0777, 0600);
    snprintf(keyfile, sizeof keyfile, "%s/keys", dir);
    CHECK_EQ(stat(keyfile, &sb), 0);
    CHECK_EQ(sb.st_mode & 0777, 0700);
    vl_key_t *alice = vl_key_load_pem(path, &err);
    CHECK(alice != NULL);
    if (alice) {
        vl_did_from_public(vl_key_public(alice), did);
        CHECK_CONTAINS(r.out, did);
        pthread_mutex_lock(&f->lock);
        CHECK_STR(f->last_creator, did);
        pthread_mutex_unlock(&f->lock);
    }
    vl_key_destroy(&alice);
    /* Never overwrites a key. */
    s_run(&r, "--data", dir, "--node", f->endpoint, "identity", "new", "--name", "alice",
          "--role", "seller", NULL);
    CHECK_EQ(r.status, 1);
    CHECK_CONTAINS(r.err, "already exists");
    /* Outcome unknown (submitted, no answer): the key is kept. */
    pthread_mutex_lock(&f->lock);
    f->silent_submit = true;
    pthread_mutex_unlock(&f->lock);
    snprintf(path, sizeof path, "%s/keys/carol.pem", dir);
    s_run(&r, "--data", dir, "--node", f->endpoint, "--timeout", "100", "identity", "new",
          "--name", "carol", "--role", "lender", NULL);
    CHECK_EQ(r.status, 1);
    CHECK_CONTAINS(r.err, "may still commit");
    CHECK_CONTAINS(r.err, "kept the key");
    CHECK_EQ(access(path, F_OK), 0);
    pthread_mutex_lock(&f->lock);
    f->silent_submit = false;
    pthread_mutex_unlock(&f->lock);
    snprintf(path, sizeof path, "%s/keys/alice.pem", dir);

    /* Chain views. */
    s_run(&r, "--node", f->endpoint, "tx", "show",
          "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789", NULL);
    CHECK_EQ(r.status, 1);
    CHECK_STR(r.err, "vledger: not found: no such transaction\n");
    s_run(&r, "--node", f->endpoint, "block", "show", "7", NULL);
    CHECK_EQ(r.status, 0);
    CHECK_CONTAINS(r.out, "block 7\n");
    CHECK_CONTAINS(r.out, "aa VALID");

    /* Vehicle views. */
    s_run(&r, "--node", f->endpoint, "vehicle", "show", "V9", "--history", NULL);
    CHECK_EQ(r.status, 0);
    CHECK_CONTAINS(r.out, "vehicle V9 owned by did:vl:b");
    CHECK_CONTAINS(r.out, "version: block 3 tx 1");
    CHECK_CONTAINS(r.out, "block 2 tx 0 aa created; owner did:vl:a");
    CHECK_CONTAINS(r.out, "block 3 tx 1 bb changed owners; owner did:vl:b");
    s_run(&r, "--node", f->endpoint, "--json", "vehicle", "show", "V9", "--history", NULL);
    CHECK_EQ(r.status, 0);
    o = json_loads(r.out, 0, NULL);
    CHECK_EQ(json_array_size(json_object_get(o, "history")), 2);
    CHECK_STR(json_string_value(json_object_get(json_object_get(o, "vehicle"), "vin")), "V9");
    json_decref(o);

    vl_key_t *again = vl_key_load_pem(path, &err);
    char did2[VL_DID_BUF] = "";
    if (again)
        vl_did_from_public(vl_key_public(again), did2);
    CHECK_STR(did2, did);
    vl_key_destroy(&again);
}

int
main(void)
{
    CHECK(check_tmpdir(s_tmp, sizeof s_tmp) != NULL);
    /* Nothing from the caller's environment may steer the tests. */
    unsetenv("VLEDGER_NODE");
    unsetenv("VLEDGER_DATA");
    setenv("HOME", s_tmp, 1);

    RUN(test_build_proposal);
    RUN(test_check_endorsement);
    RUN(test_build_transaction);
    RUN(test_error_mapping);
    RUN(test_resolve_endpoint);
    RUN(test_client_new);
    s_fake = fake_start();
    RUN(test_call);
    RUN(test_transact);
    if (getenv("VLEDGER_BIN")) {
        RUN(test_cli_usage);
        RUN(test_cli_no_node);
        RUN(test_cli_fake);
    } else {
        SKIP(test_cli_usage, "VLEDGER_BIN not set");
        SKIP(test_cli_no_node, "VLEDGER_BIN not set");
        SKIP(test_cli_fake, "VLEDGER_BIN not set");
    }
    fake_stop(&s_fake);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_tmp);
    CHECK_EQ(system(cmd), 0);
    return check_done();
}
