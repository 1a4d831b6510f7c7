/*
 * api.c — the client API: JSON-RPC 2.0 over the node's ZeroMQ ROUTER
 * (docs/api.md). Frames are checked, JSON is parsed with limits, methods
 * are looked up in one table, and every failure becomes a JSON-RPC error
 * with a message naming the cause: bad input never crashes or stalls the
 * node. `submit` with wait parks the request as a waiter (node.c) and is
 * answered when its transaction commits.
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "codec.h"
#include "endorser.h"
#include "json.h"
#include "log.h"
#include "node_internal.h"
#include "tx.h"

#define API_REQUEST_MAX (4u << 20)
#define API_BATCH_MAX 64
#define API_DEFERRED 1           /* handler parked the request; no reply now */
#define SUBMIT_TIMEOUT_DEFAULT_MS 10000
#define SUBMIT_TIMEOUT_MAX_MS 600000

typedef struct {
    int code;
    char message[VL_ERR_MSG_MAX];
} api_error_t;

typedef int (*api_method_fn)(node_t *node, json_t *params, api_request_t *req, bool batch,
                             json_t **result, api_error_t *e);

static int
s_fail(api_error_t *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
s_fail(api_error_t *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    e->code = code;
    return -1;
}

void
api_request_clear(api_request_t *req)
{
    zframe_destroy(&req->identity);
    json_decref(req->id);
    req->id = NULL;
}

static void
s_send(node_t *node, const api_request_t *req, json_t *response)
{
    char *text = json_dumps(response, JSON_COMPACT);
    if (!text)
        return;
    zmsg_t *msg = zmsg_new();
    zmsg_append(msg, &(zframe_t *) { zframe_dup(req->identity) });
    if (req->delimiter)
        zmsg_addmem(msg, "", 0);
    zmsg_addmem(msg, text, strlen(text));
    free(text);
    if (zmsg_send(&msg, node->api) != 0)
        zmsg_destroy(&msg);   /* client gone; czmq leaves the message with us */
    evloop_sent(node->loop, node->api);   /* replies also go out from commits and timers */
}

static json_t *
s_error_object(json_t *id, int code, const char *message)
{
    return json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
                     "error", "code", code, "message", message);
}

void
api_reply_result(node_t *node, api_request_t *req, json_t *result)
{
    json_t *r = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id",
                          req->id ? req->id : json_null(), "result", result);
    s_send(node, req, r);
    json_decref(r);
}

void
api_reply_error(node_t *node, api_request_t *req, int code, const char *message)
{
    json_t *r = s_error_object(req->id, code, message);
    s_send(node, req, r);
    json_decref(r);
}

/* --- Parameter helpers ---------------------------------------------------- */

static int
s_param_str(json_t *params, const char *key, const char **out, api_error_t *e)
{
    vl_err_t err;
    if (vl_json_get_str(params, key, true, out, &err) != 0)
        return s_fail(e, RPC_INVALID_PARAMS, "%s", err.msg);
    return 0;
}

static int
s_param_did(json_t *params, const char **out, api_error_t *e)
{
    if (s_param_str(params, "did", out, e) != 0)
        return -1;
    if (!vl_did_valid(*out))
        return s_fail(e, RPC_INVALID_PARAMS,
                      "parameter 'did' is not a DID (did:vl: followed by 40 hex digits)");
    return 0;
}

static bool
s_vin_valid(const char *vin)
{
    if (strlen(vin) != 17)
        return false;
    for (const char *p = vin; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z' && *p != 'I' && *p != 'O' && *p != 'Q')
              || (*p >= '0' && *p <= '9')))
            return false;
    return true;
}

static int
s_param_vin(json_t *params, const char **out, api_error_t *e)
{
    if (s_param_str(params, "vin", out, e) != 0)
        return -1;
    if (!s_vin_valid(*out))
        return s_fail(e, RPC_INVALID_PARAMS,
                      "invalid VIN '%.40s': a VIN is 17 characters from A-H, J-N, P, R-Z and 0-9",
                      *out);
    return 0;
}

static int
s_param_bytes(json_t *params, const char *key, uint8_t **out, size_t *len, api_error_t *e)
{
    const char *text;
    if (s_param_str(params, key, &text, e) != 0)
        return -1;
    if (vl_base64_decode(text, out, len) != 0)
        return s_fail(e, RPC_INVALID_PARAMS, "parameter '%s' is not valid base64", key);
    return 0;
}

static char *
s_b64(const uint8_t *data, size_t len)
{
    return vl_base64_encode(data, len);
}

static json_t *
s_hex(const uint8_t *data, size_t len)
{
    char buf[2 * 64 + 1];
    if (len > 64)
        len = 64;
    vl_hex_encode(data, len, buf);
    return json_string(buf);
}

/* A state document as JSON with its version added as `_version`. */
static int
s_state_doc(node_t *node, const char *key, json_t **out, api_error_t *e, const char *what)
{
    char *value = NULL;
    size_t len = 0;
    vl_version_t v;
    int rc = ledger_get(node->ledger, key, &value, &len, &v);
    if (rc == VL_ERR_NOT_FOUND)
        return s_fail(e, RPC_NOT_FOUND, "%s is not registered", what);
    if (rc != 0)
        return s_fail(e, RPC_INTERNAL, "cannot read %s: %s", key, vl_strerror(rc));
    json_t *doc = json_loadb(value, len, JSON_DECODE_ANY, NULL);
    free(value);
    if (!doc)
        return s_fail(e, RPC_INTERNAL, "stored value of %s is not JSON", key);
    if (json_is_object(doc))
        json_object_set_new(doc, "_version", json_pack("{s:I, s:i}", "block",
                                                       (json_int_t) v.block, "tx", (int) v.tx));
    *out = doc;
    return 0;
}

/* --- Methods -------------------------------------------------------------- */

static int
m_status(node_t *node, json_t *params, api_request_t *req, bool batch, json_t **result,
         api_error_t *e)
{
    json_t *validators = json_array(), *roles = json_array();
    for (size_t i = 0; i < node->genesis.members.count; i++) {
        const member_t *m = &node->genesis.members.items[i];
        if (m->validator)
            json_array_append_new(validators, json_string(m->did));
        if (strcmp(m->did, node->did) == 0) {
            if (m->validator)
                json_array_append_new(roles, json_string("validator"));
            if (m->endorser)
                json_array_append_new(roles, json_string("endorser"));
        }
    }
    char *pub = s_b64(vl_key_public(node->key), VL_PUBKEY_SIZE);
    *result = json_pack(
        "{s:s, s:I, s:o, s:o, s:s, s:s, s:o, s:o, s:[], s:I, s:{s:s, s:s, s:n, s:n}, s:s, s:s}",
        "chain_id", node->genesis.chain_id, "height", (json_int_t) ledger_height(node->ledger),
        "state_hash", s_hex(ledger_state_hash(node->ledger), 32), "last_hash",
        s_hex(ledger_last_hash(node->ledger), 32), "did", node->did, "public_key", pub, "roles",
        roles, "validators", validators, "peers", "mempool",
        (json_int_t) mempool_count(node->mempool), "endpoints", "api", node->api_bound,
        "events", node->events_bound, "gossip", "sync", "name", node->config.name, "version",
        "vledger 0.1.0");
    node_status_gossip(node, *result);   /* peers, gossip endpoints and counters */
    if (*result && node->loop) {
        /* sweep_found > 0 means a socket's message waited for the loop's
         * sweep: a missed evloop_sent (net/evloop.h, rule 4). */
        const evloop_stats_t *ls = evloop_stats(node->loop);
        json_object_set_new(*result, "loop",
                            json_pack("{s:I, s:I, s:I}", "wakeups", (json_int_t) ls->wakeups,
                                      "dispatches", (json_int_t) ls->dispatches, "sweep_found",
                                      (json_int_t) ls->sweep_found));
    }
    free(pub);
    return *result ? 0 : s_fail(e, RPC_INTERNAL, "out of memory");
}

static int
m_identity_get(node_t *node, json_t *params, api_request_t *req, bool batch, json_t **result,
               api_error_t *e)
{
    const char *did;
    if (s_param_did(params, &did, e) != 0)
        return -1;
    char key[80], what[96];
    snprintf(key, sizeof key, "did/%s", did);
    snprintf(what, sizeof what, "identity %s", did);
    return s_state_doc(node, key, result, e, what);
}

static int
m_wallet_get(node_t *node, json_t *params, api_request_t *req, bool batch, json_t **result,
             api_error_t *e)
{
    const char *did;
    if (s_param_did(params, &did, e) != 0)
        return -1;
    char key[80], what[96];
    json_t *doc = NULL;
    snprintf(key, sizeof key, "did/%s", did);
    snprintf(what, sizeof what, "identity %s", did);
    if (s_state_doc(node, key, &doc, e, what) != 0)
        return -1;
    json_decref(doc);
    json_int_t balance = 0;
    snprintf(key, sizeof key, "wallet/%s", did);
    api_error_t ignore;
    if (s_state_doc(node, key, &doc, &ignore, "wallet") == 0) {
        if (json_is_integer(doc))
            balance = json_integer_value(doc);
        json_decref(doc);
    }
    *result = json_pack("{s:s, s:I}", "did", did, "balance", balance);
    return 0;
}

static int
m_vehicle_get(node_t *node, json_t *params, api_request_t *req, bool batch, json_t **result,
              api_error_t *e)
{
    const char *vin;
    if (s_param_vin(params, &vin, e) != 0)
        return -1;
    char key[64], what[64];
    snprintf(key, sizeof key, "vehicle/%s", vin);
    snprintf(what, sizeof what, "vehicle %s", vin);
    return s_state_doc(node, key, result, e, what);
}

/* The transaction at (height, index), parsed; NULL if missing or malformed. */
static tx_parsed_t *
s_load_tx(node_t *node, uint64_t height, uint32_t index)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (ledger_block_get(node->ledger, height, &bytes, &len) != 0)
        return NULL;
    Vl__Block *b = vl__block__unpack(NULL, len, bytes);
    free(bytes);
    tx_parsed_t *tx = NULL;
    int code;
    vl_err_t err;
    if (b && index < b->n_transactions)
        tx_parse(b->transactions[index].data, b->transactions[index].len,
                 node->genesis.chain_id, &tx, &code, &err);
    if (b)
        vl__block__free_unpacked(b, NULL);
    return tx;
}

typedef struct {
    node_t *node;
    json_t *list;
} history_ctx_t;

static int
s_history_entry(void *arg, vl_version_t v, const uint8_t txid[32], bool is_delete,
                const char *value, size_t value_len)
{
    history_ctx_t *h = arg;
    json_t *doc = is_delete ? json_null() : json_loadb(value, value_len, JSON_DECODE_ANY, NULL);
    json_t *entry = json_pack("{s:o, s:I, s:i, s:b, s:o}", "txid", s_hex(txid, 32), "block",
                              (json_int_t) v.block, "tx", (int) v.tx, "deleted", is_delete,
                              "value", doc ? doc : json_null());
    tx_parsed_t *tx = v.block > 0 ? s_load_tx(h->node, v.block, v.tx) : NULL;
    if (tx) {
        json_object_set_new(entry, "contract", json_string(tx->proposal->contract));
        json_object_set_new(entry, "function", json_string(tx->proposal->function));
        json_object_set_new(entry, "creator", json_string(tx->creator_did));
        json_object_set_new(entry, "timestamp_ms", json_integer(tx->proposal->timestamp_ms));
        tx_destroy(&tx);
    }
    json_array_append_new(h->list, entry);
    return 0;
}

static int
m_vehicle_history(node_t *node, json_t *params, api_request_t *req, bool batch, json_t **result,
                  api_error_t *e)
{
    const char *vin;
    if (s_param_vin(params, &vin, e) != 0)
        return -1;
    char key[64];
    snprintf(key, sizeof key, "vehicle/%s", vin);
    history_ctx_t h = { node, json_array() };
    int rc = ledger_history(node->ledger, key, s_history_entry, &h);
    if (rc != 0) {
        json_decref(h.list);
        return s_fail(e, RPC_INTERNAL, "cannot read history: %s", vl_strerror(rc));
    }
    if (json_array_size(h.list) == 0) {
        json_decref(h.list);
        return s_fail(e, RPC_NOT_FOUND, "vehicle %s is not registered", vin);
    }
    *result = json_pack("{s:s, s:o}", "vin", vin, "history", h.list);
    return 0;
}

static json_t *
s_events_json(const Vl__EndorsedResult *r)
{
    json_t *events = json_array();
    for (size_t i = 0; i < r->n_events; i++) {
        json_t *payload = json_loads(r->events[i]->payload_json, JSON_DECODE_ANY, NULL);
        json_array_append_new(events, json_pack("{s:s, s:o}", "name", r->events[i]->name,
                                                "payload", payload ? payload : json_null()));
    }
    return events;
}

static int
m_tx_get(node_t *node, json_t *params, api_request_t *req, bool batch, json_t **result,
         api_error_t *e)
{
    const char *hex;
    uint8_t txid[32];
    if (s_param_str(params, "txid", &hex, e) != 0)
        return -1;
    if (vl_hex_decode(hex, txid, 32) != 0)
        return s_fail(e, RPC_INVALID_PARAMS, "parameter 'txid' must be 64 hex digits");
    ledger_tx_info_t info;
    if (ledger_tx_get(node->ledger, txid, &info) != 0) {
        if (mempool_contains(node->mempool, txid))
            return s_fail(e, RPC_NOT_FOUND, "transaction %s is pending, not yet committed", hex);
        return s_fail(e, RPC_NOT_FOUND, "transaction %s is not known to this node", hex);
    }
    json_t *r = json_pack("{s:o, s:I, s:i, s:i, s:s}", "txid", s_hex(txid, 32), "height",
                          (json_int_t) info.height, "index", (int) info.index, "code", info.code,
                          "code_name", tx_code_name(info.code));
    tx_parsed_t *tx = info.height > 0 ? s_load_tx(node, info.height, info.index) : NULL;
    if (tx) {
        const Vl__Proposal *p = tx->proposal;
        json_t *args = json_loads(p->args_json, JSON_DECODE_ANY, NULL);
        json_t *res = json_loads(tx->result->result_json, JSON_DECODE_ANY, NULL);
        json_t *writes = json_array();
        for (size_t i = 0; i < tx->result->n_writes; i++) {
            const Vl__WriteItem *w = tx->result->writes[i];
            json_t *v = w->is_delete ? NULL
                                     : json_loadb((const char *) w->value.data, w->value.len,
                                                  JSON_DECODE_ANY, NULL);
            json_array_append_new(writes, json_pack("{s:s, s:b, s:o}", "key", w->key, "deleted",
                                                    w->is_delete, "value", v ? v : json_null()));
        }
        json_object_update_new(
            r, json_pack("{s:s, s:s, s:o, s:s, s:I, s:o, s:o, s:o, s:I}", "contract",
                         p->contract, "function", p->function, "args", args ? args : json_null(),
                         "creator", tx->creator_did, "timestamp_ms",
                         (json_int_t) p->timestamp_ms, "result", res ? res : json_null(),
                         "events", s_events_json(tx->result), "writes", writes, "gas_used",
                         (json_int_t) tx->result->gas_used));
        tx_destroy(&tx);
    }
    *result = r;
    return 0;
}

static int
m_block_get(node_t *node, json_t *params, api_request_t *req, bool batch, json_t **result,
            api_error_t *e)
{
    int64_t height = -1;
    vl_err_t err;
    if (vl_json_get_int(params, "height", true, &height, &err) != 0)
        return s_fail(e, RPC_INVALID_PARAMS, "%s", err.msg);
    if (height < 0)
        return s_fail(e, RPC_INVALID_PARAMS, "parameter 'height' must not be negative");
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = ledger_block_get(node->ledger, (uint64_t) height, &bytes, &len);
    if (rc == VL_ERR_NOT_FOUND)
        return s_fail(e, RPC_NOT_FOUND, "block %lld does not exist (height is %llu)",
                      (long long) height, (unsigned long long) ledger_height(node->ledger));
    if (rc != 0)
        return s_fail(e, RPC_INTERNAL, "cannot read block: %s", vl_strerror(rc));
    Vl__Block *b = vl__block__unpack(NULL, len, bytes);
    free(bytes);
    Vl__BlockHeader *h = b ? vl__block_header__unpack(NULL, b->header.len, b->header.data) : NULL;
    Vl__BlockCodes *codes = NULL;
    ledger_block_codes(node->ledger, (uint64_t) height, &codes);
    if (!h) {
        if (b) vl__block__free_unpacked(b, NULL);
        if (codes) vl__block_codes__free_unpacked(codes, NULL);
        return s_fail(e, RPC_INTERNAL, "stored block %lld does not unpack", (long long) height);
    }
    uint8_t hash[32];
    vl_sha256(b->header.data, b->header.len, hash);
    json_t *txs = json_array();
    for (size_t i = 0; i < b->n_transactions; i++) {
        uint8_t txid[32];
        Vl__Transaction *t = vl__transaction__unpack(NULL, b->transactions[i].len,
                                                     b->transactions[i].data);
        if (t)
            vl_sha256(t->proposal.data, t->proposal.len, txid);
        else
            vl_sha256(b->transactions[i].data, b->transactions[i].len, txid);
        if (t) vl__transaction__free_unpacked(t, NULL);
        int code = codes && i < codes->n_codes ? (int) codes->codes[i] : 0;
        json_array_append_new(txs, json_pack("{s:o, s:i, s:s}", "txid", s_hex(txid, 32), "code",
                                             code, "code_name", tx_code_name(code)));
    }
    char did[VL_DID_BUF] = "";
    if (h->proposer.len == VL_PUBKEY_SIZE)
        vl_did_from_public(h->proposer.data, did);
    *result = json_pack("{s:I, s:o, s:o, s:o, s:o, s:I, s:s, s:o, s:i}", "height",
                        (json_int_t) h->height, "hash", s_hex(hash, 32), "previous_hash",
                        s_hex(h->previous_hash.data, h->previous_hash.len), "data_hash",
                        s_hex(h->data_hash.data, h->data_hash.len), "state_hash",
                        s_hex(h->state_hash.data, h->state_hash.len), "timestamp_ms",
                        (json_int_t) h->timestamp_ms, "proposer", did, "txs", txs, "signatures",
                        b->commit ? (int) b->commit->n_precommits : 0);
    vl__block_header__free_unpacked(h, NULL);
    vl__block__free_unpacked(b, NULL);
    if (codes) vl__block_codes__free_unpacked(codes, NULL);
    return 0;
}

static int
s_rpc_code_of(int rc)
{
    switch (rc) {
    case VL_ERR_SIGNATURE: return RPC_BAD_SIGNATURE;
    case VL_ERR_INVALID: return RPC_INVALID_PARAMS;
    case VL_ERR_EXISTS: return RPC_DUPLICATE;
    case VL_ERR_REFUSED:
    case VL_ERR_NOT_FOUND:
    case VL_ERR_LIMIT: return RPC_REFUSED;
    default: return RPC_INTERNAL;
    }
}

static int
m_endorse(node_t *node, json_t *params, api_request_t *req, bool batch, json_t **result,
          api_error_t *e)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (s_param_bytes(params, "proposal", &bytes, &len, e) != 0)
        return -1;
    endorser_ctx_t ctx = { node->genesis.chain_id, node->key, node->ledger, node->vm,
                           node->sigcache, vl_wall_ms() };
    endorsement_t en = { 0 };
    vl_err_t err = { "" };
    int rc = endorser_endorse(&ctx, bytes, len, &en, &err);
    free(bytes);
    if (rc != 0)
        return s_fail(e, s_rpc_code_of(rc), "%s", err.msg);
    char *res = s_b64(en.result, en.result_len);
    char *pub = s_b64(vl_key_public(node->key), VL_PUBKEY_SIZE);
    char *sig = s_b64(en.signature, VL_SIG_SIZE);
    json_t *rj = json_loads(en.result_json ? en.result_json : "null", JSON_DECODE_ANY, NULL);
    *result = json_pack("{s:o, s:s, s:s, s:s, s:o, s:I}", "txid", s_hex(en.txid, 32), "result",
                        res, "endorser", pub, "signature", sig, "result_json",
                        rj ? rj : json_null(), "gas_used", (json_int_t) en.gas_used);
    free(res);
    free(pub);
    free(sig);
    endorsement_clear(&en);
    return 0;
}

static int
m_submit(node_t *node, json_t *params, api_request_t *req, bool batch, json_t **result,
         api_error_t *e)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    bool wait = true;
    int64_t timeout = SUBMIT_TIMEOUT_DEFAULT_MS;
    vl_err_t err = { "" };
    if (vl_json_get_bool(params, "wait", false, &wait, &err) != 0
        || vl_json_get_int(params, "timeout_ms", false, &timeout, &err) != 0)
        return s_fail(e, RPC_INVALID_PARAMS, "%s", err.msg);
    if (timeout < 1 || timeout > SUBMIT_TIMEOUT_MAX_MS)
        return s_fail(e, RPC_INVALID_PARAMS, "parameter 'timeout_ms' must be 1-%d",
                      SUBMIT_TIMEOUT_MAX_MS);
    if (s_param_bytes(params, "transaction", &bytes, &len, e) != 0)
        return -1;
    uint8_t txid[32];
    int rpc_code = RPC_INTERNAL;
    int rc = node_admit_tx(node, bytes, len, txid, &rpc_code, &err);
    free(bytes);
    if (rc != 0)
        return s_fail(e, rpc_code, "%s", err.msg);
    if (wait && !batch && req->identity) {
        node_add_waiter(node, txid, req, timeout);
        return API_DEFERRED;
    }
    *result = json_pack("{s:o, s:s}", "txid", s_hex(txid, 32), "status", "pending");
    return 0;
}

static int
m_query(node_t *node, json_t *params, api_request_t *req, bool batch, json_t **result,
        api_error_t *e)
{
    const char *contract, *function;
    if (s_param_str(params, "contract", &contract, e) != 0
        || s_param_str(params, "function", &function, e) != 0)
        return -1;
    json_t *args = json_object_get(params, "args");
    if (args && !json_is_object(args))
        return s_fail(e, RPC_INVALID_PARAMS, "parameter 'args' must be an object");
    char *args_text = args ? vl_json_canonical(args) : strdup("{}");
    uint8_t txid[32] = { 0 };
    vm_state_t state = vm_state_of_ledger(node->ledger);
    vm_request_t vr = { contract, function, args_text, node->did, txid, vl_wall_ms(), 0 };
    vm_result_t out = { 0 };
    int rc = vm_execute(node->vm, &state, &vr, &out);
    free(args_text);
    if (rc != 0) {
        s_fail(e, s_rpc_code_of(rc), "%s", out.error);
        vm_result_clear(&out);
        return -1;
    }
    json_t *rj = json_loads(out.result_json ? out.result_json : "null", JSON_DECODE_ANY, NULL);
    *result = json_pack("{s:o, s:I}", "result", rj ? rj : json_null(), "gas_used",
                        (json_int_t) out.gas_used);
    vm_result_clear(&out);
    return 0;
}

#define REPLAY_MAX_EVENTS 10000

static int
m_events_replay(node_t *node, json_t *params, api_request_t *req, bool batch, json_t **result,
                api_error_t *e)
{
    int64_t from = 0;
    vl_err_t err;
    if (vl_json_get_int(params, "from_height", false, &from, &err) != 0)
        return s_fail(e, RPC_INVALID_PARAMS, "%s", err.msg);
    if (from < 0)
        return s_fail(e, RPC_INVALID_PARAMS, "parameter 'from_height' must not be negative");
    json_t *topics = json_object_get(params, "topics");
    if (topics && !json_is_array(topics))
        return s_fail(e, RPC_INVALID_PARAMS, "parameter 'topics' must be an array of prefixes");
    size_t i;
    json_t *t;
    json_array_foreach(topics, i, t) {
        if (!json_is_string(t))
            return s_fail(e, RPC_INVALID_PARAMS, "parameter 'topics' must hold strings");
    }
    int64_t max = REPLAY_MAX_EVENTS;
    if (vl_json_get_int(params, "max_events", false, &max, &err) != 0)
        return s_fail(e, RPC_INVALID_PARAMS, "%s", err.msg);
    if (max < 1 || max > REPLAY_MAX_EVENTS)
        return s_fail(e, RPC_INVALID_PARAMS, "parameter 'max_events' must be 1-%d",
                      REPLAY_MAX_EVENTS);
    int rc = events_replay(node, (uint64_t) from, topics, (size_t) max, result);
    if (rc != 0)
        return s_fail(e, RPC_INTERNAL, "cannot replay: %s", vl_strerror(rc));
    json_object_set_new(*result, "stream", json_integer((json_int_t) node->stream_id));
    return 0;
}

static const struct {
    const char *name;
    api_method_fn fn;
} s_methods[] = {
    { "status", m_status },
    { "identity.get", m_identity_get },
    { "wallet.get", m_wallet_get },
    { "vehicle.get", m_vehicle_get },
    { "vehicle.history", m_vehicle_history },
    { "tx.get", m_tx_get },
    { "block.get", m_block_get },
    { "endorse", m_endorse },
    { "submit", m_submit },
    { "query", m_query },
    { "events.replay", m_events_replay },
};

/* --- Dispatch --------------------------------------------------------------- */

/* Handles one request object; returns the response (NULL for a
 * notification or a deferred reply). req->id is set from the request. */
static json_t *
s_handle_one(node_t *node, json_t *request, api_request_t *req, bool batch)
{
    if (!json_is_object(request))
        return s_error_object(NULL, RPC_INVALID_REQUEST, "request must be a JSON object");
    json_t *id = json_object_get(request, "id");
    if (id && !(json_is_string(id) || json_is_integer(id) || json_is_null(id)))
        return s_error_object(NULL, RPC_INVALID_REQUEST, "'id' must be a string or an integer");
    json_decref(req->id);
    req->id = json_incref(id);
    const char *version = json_string_value(json_object_get(request, "jsonrpc"));
    const char *method = json_string_value(json_object_get(request, "method"));
    json_t *params = json_object_get(request, "params");
    if (!version || strcmp(version, "2.0") != 0)
        return s_error_object(id, RPC_INVALID_REQUEST, "'jsonrpc' must be \"2.0\"");
    if (!method)
        return s_error_object(id, RPC_INVALID_REQUEST, "'method' must be a string");
    if (params && !json_is_object(params))
        return s_error_object(id, RPC_INVALID_PARAMS, "'params' must be an object");
    json_t *empty = NULL;
    if (!params)
        params = empty = json_object();
    api_method_fn fn = NULL;
    for (size_t i = 0; i < sizeof s_methods / sizeof s_methods[0] && !fn; i++)
        if (strcmp(s_methods[i].name, method) == 0)
            fn = s_methods[i].fn;
    json_t *response = NULL;
    if (!fn) {
        char msg[160];
        snprintf(msg, sizeof msg, "method '%.64s' not found", method);
        response = s_error_object(id, RPC_METHOD_NOT_FOUND, msg);
    } else {
        json_t *result = NULL;
        api_error_t e = { RPC_INTERNAL, "internal error" };
        int rc = fn(node, params, req, batch, &result, &e);
        if (rc == API_DEFERRED)
            response = NULL;
        else if (rc != 0)
            response = s_error_object(id, e.code, e.message);
        else if (!id)
            json_decref(result);   /* notification: no reply */
        else
            response = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result",
                                 result ? result : json_null());
    }
    json_decref(empty);
    return response;
}

int
api_handle(node_t *node, zmsg_t **msg_p)
{
    zmsg_t *msg = *msg_p;
    size_t frames = zmsg_size(msg);
    api_request_t req = { 0 };
    req.identity = zmsg_pop(msg);
    zframe_t *payload = zmsg_pop(msg);
    if (payload && zframe_size(payload) == 0 && frames == 3) {
        req.delimiter = true;
        zframe_destroy(&payload);
        payload = zmsg_pop(msg);
    }
    if (!req.identity || !payload || zmsg_size(msg) != 0) {
        /* Not a DEALER or REQ request shape: nothing sensible to answer. */
        vl_warn("api", "bad_frames", "frames=%zu", frames);
        zframe_destroy(&payload);
        api_request_clear(&req);
        return 0;
    }
    json_t *response = NULL;
    if (zframe_size(payload) > API_REQUEST_MAX) {
        response = s_error_object(NULL, RPC_INVALID_REQUEST, "request exceeds the 4 MiB limit");
    } else {
        json_error_t jerr;
        json_t *request = json_loadb((const char *) zframe_data(payload), zframe_size(payload),
                                     JSON_DECODE_ANY, &jerr);
        if (!request) {
            char msg_text[300];
            snprintf(msg_text, sizeof msg_text, "parse error at line %d column %d: %s", jerr.line,
                     jerr.column, jerr.text);
            response = s_error_object(NULL, RPC_PARSE_ERROR, msg_text);
        } else if (json_is_array(request)) {
            size_t n = json_array_size(request);
            if (n == 0 || n > API_BATCH_MAX) {
                response = s_error_object(NULL, RPC_INVALID_REQUEST,
                                          "a batch holds 1 to 64 requests");
            } else {
                response = json_array();
                for (size_t i = 0; i < n; i++) {
                    json_t *one = s_handle_one(node, json_array_get(request, i), &req, true);
                    if (one)
                        json_array_append_new(response, one);
                }
                if (json_array_size(response) == 0) {
                    json_decref(response);
                    response = NULL;
                }
            }
        } else {
            response = s_handle_one(node, request, &req, false);
        }
        json_decref(request);
    }
    if (response)
        s_send(node, &req, response);
    json_decref(response);
    zframe_destroy(&payload);
    api_request_clear(&req);
    return 0;
}
