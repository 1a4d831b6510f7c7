/*
 * api_methods.c — the JSON-RPC methods (docs/api.md), looked up by name
 * from api.c. Reads (identity, wallet, vehicle, history, tx, block,
 * events.replay, status) answer at once from the ledger; endorse, query and
 * submit hand their work to the worker pool (node_work.c, node_admit.c) and
 * answer when it is done; submit with wait then parks the call until the
 * transaction commits.
 *
 * Every failure is a JSON-RPC error with a message naming the cause; a
 * VL_ERR_* from below is mapped by rpc_code_of_error (rpc.h) and nowhere
 * else.
 */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "blockview.h"
#include "codec.h"
#include "json.h"
#include "tx.h"

#define SUBMIT_TIMEOUT_DEFAULT_MS 10000
#define SUBMIT_TIMEOUT_MAX_MS 600000
#define REPLAY_MAX_EVENTS 10000

/* --- Parameter helpers ---------------------------------------------------- */

static int
s_param_str(json_t *params, const char *key, const char **out, api_error_t *e)
{
    vl_err_t err;
    if (vl_json_get_str(params, key, true, out, &err) != 0)
        return api_fail(e, RPC_INVALID_PARAMS, "%s", err.msg);
    return 0;
}

static int
s_param_did(json_t *params, const char **out, api_error_t *e)
{
    if (s_param_str(params, "did", out, e) != 0)
        return -1;
    if (!vl_did_valid(*out))
        return api_fail(e, RPC_INVALID_PARAMS,
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
        return api_fail(e, RPC_INVALID_PARAMS,
                        "invalid VIN '%.40s': a VIN is 17 characters from A-H, J-N, P, R-Z and "
                        "0-9", *out);
    return 0;
}

static int
s_param_bytes(json_t *params, const char *key, uint8_t **out, size_t *len, api_error_t *e)
{
    const char *text;
    if (s_param_str(params, key, &text, e) != 0)
        return -1;
    if (vl_base64_decode(text, out, len) != 0)
        return api_fail(e, RPC_INVALID_PARAMS, "parameter '%s' is not valid base64", key);
    return 0;
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

static json_t *
s_b64(const uint8_t *data, size_t len)
{
    char *text = vl_base64_encode(data, len);
    json_t *s = text ? json_string(text) : NULL;
    free(text);
    return s;
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
        return api_fail(e, RPC_NOT_FOUND, "%s is not registered", what);
    if (rc != 0)
        return api_fail(e, RPC_INTERNAL, "cannot read %s: %s", key, vl_strerror(rc));
    json_t *doc = json_loadb(value, len, JSON_DECODE_ANY, NULL);
    free(value);
    if (!doc)
        return api_fail(e, RPC_INTERNAL, "stored value of %s is not JSON", key);
    if (json_is_object(doc))
        json_object_set_new(doc, "_version", json_pack("{s:I, s:i}", "block",
                                                       (json_int_t) v.block, "tx", (int) v.tx));
    *out = doc;
    return 0;
}

/* The committed block at height with its transactions parsed, or NULL. */
static block_view_t *
s_load_block(node_t *node, uint64_t height, int flags)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (ledger_block_get(node->ledger, height, &bytes, &len) != 0)
        return NULL;
    block_view_t *view = NULL;
    vl_err_t err;
    block_view_new(bytes, len, node->genesis.chain_id, flags, &view, &err);
    free(bytes);
    return view;
}

/* --- Reads ------------------------------------------------------------------ */

static int
m_status(api_t *api, json_t *params, api_call_t **call, bool in_batch, json_t **result,
         api_error_t *e)
{
    bool wallets = false;
    vl_err_t err = { "" };
    if (vl_json_get_bool(params, "wallets", false, &wallets, &err) != 0)
        return api_fail(e, RPC_INVALID_PARAMS, "%s", err.msg);
    *result = node_status(api_node(api), wallets);
    return *result ? 0 : api_fail(e, RPC_INTERNAL, "out of memory");
}

static int
m_identity_get(api_t *api, json_t *params, api_call_t **call, bool in_batch, json_t **result,
               api_error_t *e)
{
    const char *did;
    if (s_param_did(params, &did, e) != 0)
        return -1;
    char key[80], what[96];
    snprintf(key, sizeof key, "did/%s", did);
    snprintf(what, sizeof what, "identity %s", did);
    return s_state_doc(api_node(api), key, result, e, what);
}

static int
m_wallet_get(api_t *api, json_t *params, api_call_t **call, bool in_batch, json_t **result,
             api_error_t *e)
{
    node_t *node = api_node(api);
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
m_vehicle_get(api_t *api, json_t *params, api_call_t **call, bool in_batch, json_t **result,
              api_error_t *e)
{
    const char *vin;
    if (s_param_vin(params, &vin, e) != 0)
        return -1;
    char key[64], what[64];
    snprintf(key, sizeof key, "vehicle/%s", vin);
    snprintf(what, sizeof what, "vehicle %s", vin);
    return s_state_doc(api_node(api), key, result, e, what);
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
    block_view_t *view = v.block > 0 ? s_load_block(h->node, v.block, BLOCK_VIEW_PARSE_TXS)
                                     : NULL;
    const tx_parsed_t *tx = view && v.tx < view->n_txs ? view->txs[v.tx] : NULL;
    if (tx) {
        json_object_set_new(entry, "contract", json_string(tx->proposal->contract));
        json_object_set_new(entry, "function", json_string(tx->proposal->function));
        json_object_set_new(entry, "creator", json_string(tx->creator_did));
        json_object_set_new(entry, "timestamp_ms", json_integer(tx->proposal->timestamp_ms));
    }
    block_view_destroy(&view);
    json_array_append_new(h->list, entry);
    return 0;
}

static int
m_vehicle_history(api_t *api, json_t *params, api_call_t **call, bool in_batch,
                  json_t **result, api_error_t *e)
{
    const char *vin;
    if (s_param_vin(params, &vin, e) != 0)
        return -1;
    char key[64];
    snprintf(key, sizeof key, "vehicle/%s", vin);
    history_ctx_t h = { api_node(api), json_array() };
    int rc = ledger_history(h.node->ledger, key, s_history_entry, &h);
    if (rc != 0) {
        json_decref(h.list);
        return api_fail(e, RPC_INTERNAL, "cannot read history: %s", vl_strerror(rc));
    }
    if (json_array_size(h.list) == 0) {
        json_decref(h.list);
        return api_fail(e, RPC_NOT_FOUND, "vehicle %s is not registered", vin);
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

/* The details of a committed, parsed transaction for tx.get. */
static void
s_tx_details(json_t *r, const tx_parsed_t *tx)
{
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
    json_object_set_new(r, "contract", json_string(p->contract));
    json_object_set_new(r, "function", json_string(p->function));
    json_object_set_new(r, "args", args ? args : json_null());
    json_object_set_new(r, "creator", json_string(tx->creator_did));
    json_object_set_new(r, "timestamp_ms", json_integer((json_int_t) p->timestamp_ms));
    json_object_set_new(r, "result", res ? res : json_null());
    json_object_set_new(r, "events", s_events_json(tx->result));
    json_object_set_new(r, "writes", writes);
    json_object_set_new(r, "gas_used", json_integer((json_int_t) tx->result->gas_used));
    json_t *endorsements = json_array();
    for (size_t i = 0; i < tx->tx->n_endorsements; i++) {
        const Vl__Endorsement *en = tx->tx->endorsements[i];
        char did[VL_DID_BUF] = "";
        if (en->endorser.len == VL_PUBKEY_SIZE)
            vl_did_from_public(en->endorser.data, did);
        json_array_append_new(endorsements, json_pack("{s:s, s:s}", "endorser", did, "org",
                                                      en->org ? en->org : ""));
    }
    json_object_set_new(r, "endorsements", endorsements);
}

static int
m_tx_get(api_t *api, json_t *params, api_call_t **call, bool in_batch, json_t **result,
         api_error_t *e)
{
    node_t *node = api_node(api);
    const char *hex;
    uint8_t txid[32];
    if (s_param_str(params, "txid", &hex, e) != 0)
        return -1;
    if (vl_hex_decode(hex, txid, 32) != 0)
        return api_fail(e, RPC_INVALID_PARAMS, "parameter 'txid' must be 64 hex digits");
    ledger_tx_info_t info;
    if (ledger_tx_get(node->ledger, txid, &info) != 0) {
        if (mempool_contains(node->mempool, txid))
            return api_fail(e, RPC_NOT_FOUND, "transaction %s is pending, not yet committed",
                            hex);
        return api_fail(e, RPC_NOT_FOUND, "transaction %s is not known to this node", hex);
    }
    json_t *r = json_pack("{s:o, s:I, s:i, s:i, s:s}", "txid", s_hex(txid, 32), "height",
                          (json_int_t) info.height, "index", (int) info.index, "code", info.code,
                          "code_name", tx_code_name(info.code));
    block_view_t *view = info.height > 0
                             ? s_load_block(node, info.height, BLOCK_VIEW_PARSE_TXS)
                             : NULL;
    if (view && info.index < view->n_txs && view->txs[info.index])
        s_tx_details(r, view->txs[info.index]);
    block_view_destroy(&view);
    *result = r;
    return 0;
}

static int
m_block_get(api_t *api, json_t *params, api_call_t **call, bool in_batch, json_t **result,
            api_error_t *e)
{
    node_t *node = api_node(api);
    int64_t height = -1;
    vl_err_t err;
    if (vl_json_get_int(params, "height", true, &height, &err) != 0)
        return api_fail(e, RPC_INVALID_PARAMS, "%s", err.msg);
    if (height < 0)
        return api_fail(e, RPC_INVALID_PARAMS, "parameter 'height' must not be negative");
    if ((uint64_t) height > ledger_height(node->ledger))
        return api_fail(e, RPC_NOT_FOUND, "block %lld does not exist (height is %llu)",
                        (long long) height, (unsigned long long) ledger_height(node->ledger));
    block_view_t *view = s_load_block(node, (uint64_t) height, BLOCK_VIEW_HEADER);
    if (!view)
        return api_fail(e, RPC_INTERNAL, "stored block %lld does not unpack", (long long) height);
    Vl__BlockCodes *codes = NULL;
    ledger_block_codes(node->ledger, (uint64_t) height, &codes);
    const Vl__BlockHeader *h = view->header;
    json_t *txs = json_array();
    for (size_t i = 0; i < view->n_txs; i++) {
        int code = codes && i < codes->n_codes ? (int) codes->codes[i] : 0;
        json_array_append_new(txs, json_pack("{s:o, s:i, s:s}", "txid", s_hex(view->txids[i], 32),
                                             "code", code, "code_name", tx_code_name(code)));
    }
    char did[VL_DID_BUF] = "";
    if (h->proposer.len == VL_PUBKEY_SIZE)
        vl_did_from_public(h->proposer.data, did);
    json_t *r = json_object();
    json_object_set_new(r, "height", json_integer((json_int_t) h->height));
    json_object_set_new(r, "hash", s_hex(view->hash, 32));
    json_object_set_new(r, "previous_hash", s_hex(h->previous_hash.data, h->previous_hash.len));
    json_object_set_new(r, "data_hash", s_hex(h->data_hash.data, h->data_hash.len));
    json_object_set_new(r, "state_hash", s_hex(h->state_hash.data, h->state_hash.len));
    json_object_set_new(r, "timestamp_ms", json_integer((json_int_t) h->timestamp_ms));
    json_object_set_new(r, "proposer", json_string(did));
    json_object_set_new(r, "txs", txs);
    json_object_set_new(r, "signatures",
                        json_integer(view->block->commit
                                         ? (json_int_t) view->block->commit->n_precommits
                                         : 0));
    json_object_set_new(r, "round", json_integer(view->block->commit
                                                     ? (json_int_t) view->block->commit->round
                                                     : 0));
    if (codes)
        vl__block_codes__free_unpacked(codes, NULL);
    block_view_destroy(&view);
    *result = r;
    return 0;
}

static int
m_events_replay(api_t *api, json_t *params, api_call_t **call, bool in_batch, json_t **result,
                api_error_t *e)
{
    node_t *node = api_node(api);
    int64_t from = 0;
    vl_err_t err;
    if (vl_json_get_int(params, "from_height", false, &from, &err) != 0)
        return api_fail(e, RPC_INVALID_PARAMS, "%s", err.msg);
    if (from < 0)
        return api_fail(e, RPC_INVALID_PARAMS, "parameter 'from_height' must not be negative");
    json_t *topics = json_object_get(params, "topics");
    if (topics && !json_is_array(topics))
        return api_fail(e, RPC_INVALID_PARAMS, "parameter 'topics' must be an array of prefixes");
    size_t i;
    json_t *t;
    json_array_foreach(topics, i, t) {
        if (!json_is_string(t))
            return api_fail(e, RPC_INVALID_PARAMS, "parameter 'topics' must hold strings");
    }
    int64_t max = REPLAY_MAX_EVENTS;
    if (vl_json_get_int(params, "max_events", false, &max, &err) != 0)
        return api_fail(e, RPC_INVALID_PARAMS, "%s", err.msg);
    if (max < 1 || max > REPLAY_MAX_EVENTS)
        return api_fail(e, RPC_INVALID_PARAMS, "parameter 'max_events' must be 1-%d",
                        REPLAY_MAX_EVENTS);
    int rc = events_replay(node->events, (uint64_t) from, topics, (size_t) max, result);
    if (rc != 0)
        return api_fail(e, RPC_INTERNAL, "cannot replay: %s", vl_strerror(rc));
    json_object_set_new(*result, "stream", json_integer((json_int_t) events_stream(node->events)));
    return 0;
}

/* --- Work on the pool --------------------------------------------------------- */

static void
s_endorsed(void *arg, int rc, const endorsement_t *en, const vl_err_t *err)
{
    api_call_t *call = arg;
    if (rc != 0) {
        api_answer_error(call, rpc_code_of_error(rc), err->msg);
        return;
    }
    node_t *node = api_node(call->api);
    json_t *rj = json_loads(en->result_json ? en->result_json : "null", JSON_DECODE_ANY, NULL);
    json_t *r = json_object();
    json_object_set_new(r, "txid", s_hex(en->txid, 32));
    json_object_set_new(r, "result", s_b64(en->result, en->result_len));
    json_object_set_new(r, "endorser", s_b64(vl_key_public(node->key), VL_PUBKEY_SIZE));
    json_object_set_new(r, "signature", s_b64(en->signature, VL_SIG_SIZE));
    json_object_set_new(r, "result_json", rj ? rj : json_null());
    json_object_set_new(r, "gas_used", json_integer((json_int_t) en->gas_used));
    api_answer(call, r);
}

static int
m_endorse(api_t *api, json_t *params, api_call_t **call, bool in_batch, json_t **result,
          api_error_t *e)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (s_param_bytes(params, "proposal", &bytes, &len, e) != 0)
        return -1;
    int rc = node_endorse(api_node(api), bytes, len, s_endorsed, *call);
    free(bytes);
    if (rc != 0)
        return api_fail(e, rpc_code_of_error(rc), "node is busy (%s); retry later",
                        vl_strerror(rc));
    *call = NULL;
    return API_DEFERRED;
}

static void
s_queried(void *arg, const vm_result_t *out)
{
    api_call_t *call = arg;
    if (out->status != 0) {
        api_answer_error(call, rpc_code_of_error(out->status), out->error);
        return;
    }
    json_t *rj = json_loads(out->result_json ? out->result_json : "null", JSON_DECODE_ANY, NULL);
    api_answer(call, json_pack("{s:o, s:I}", "result", rj ? rj : json_null(), "gas_used",
                               (json_int_t) out->gas_used));
}

static int
m_query(api_t *api, json_t *params, api_call_t **call, bool in_batch, json_t **result,
        api_error_t *e)
{
    const char *contract, *function;
    if (s_param_str(params, "contract", &contract, e) != 0
        || s_param_str(params, "function", &function, e) != 0)
        return -1;
    json_t *args = json_object_get(params, "args");
    if (args && !json_is_object(args))
        return api_fail(e, RPC_INVALID_PARAMS, "parameter 'args' must be an object");
    char *args_text = args ? vl_json_canonical(args) : strdup("{}");
    if (!args_text)
        return api_fail(e, RPC_INTERNAL, "out of memory");
    int rc = node_query(api_node(api), contract, function, args_text, s_queried, *call);
    free(args_text);
    if (rc != 0)
        return api_fail(e, rpc_code_of_error(rc), "node is busy (%s); retry later",
                        vl_strerror(rc));
    *call = NULL;
    return API_DEFERRED;
}

/* A submit on its way through admission. */
typedef struct {
    api_call_t *call;             /* owned until answered */
    bool wait;
    int64_t timeout_ms;
} s_submit_t;

static void
s_admitted(void *arg, int rc, const uint8_t *txid, const vl_err_t *err)
{
    s_submit_t *s = arg;
    if (rc != 0)
        api_answer_error(s->call, rpc_code_of_error(rc), err->msg);
    else if (s->wait)
        api_wait_commit(s->call, txid, s->timeout_ms, NULL);
    else
        api_answer(s->call, json_pack("{s:o, s:s}", "txid", s_hex(txid, 32), "status",
                                      "pending"));
    free(s);
}

static int
m_submit(api_t *api, json_t *params, api_call_t **call, bool in_batch, json_t **result,
         api_error_t *e)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    bool wait = true;
    int64_t timeout = SUBMIT_TIMEOUT_DEFAULT_MS;
    vl_err_t err = { "" };
    if (vl_json_get_bool(params, "wait", false, &wait, &err) != 0
        || vl_json_get_int(params, "timeout_ms", false, &timeout, &err) != 0)
        return api_fail(e, RPC_INVALID_PARAMS, "%s", err.msg);
    if (timeout < 1 || timeout > SUBMIT_TIMEOUT_MAX_MS)
        return api_fail(e, RPC_INVALID_PARAMS, "parameter 'timeout_ms' must be 1-%d",
                        SUBMIT_TIMEOUT_MAX_MS);
    if (s_param_bytes(params, "transaction", &bytes, &len, e) != 0)
        return -1;
    s_submit_t *s = calloc(1, sizeof *s);
    if (!s) {
        free(bytes);
        return api_fail(e, RPC_INTERNAL, "out of memory");
    }
    /* In a batch the answer says "pending": a batch is answered at once. */
    *s = (s_submit_t) { *call, wait && !in_batch, timeout };
    *call = NULL;
    node_admit(api_node(api), bytes, len, ADMIT_API, s_admitted, s);
    free(bytes);
    return API_DEFERRED;
}

/* test.faults {seed?, drop_ppm?, delay_ppm?, delay_ms?, delay_jitter_ms?,
 * partition?: [DID...]} — the gossip fault hooks (gossip/faults.h), or {}
 * to clear them. Exists only on a node started with --test-faults. */
static int
m_test_faults(api_t *api, json_t *params, api_call_t **call, bool in_batch, json_t **result,
              api_error_t *e)
{
    node_t *node = api_node(api);
    if (!node->config.test_faults)
        return api_fail(e, RPC_METHOD_NOT_FOUND, "method 'test.faults' not found");
    if (!node->gossip)
        return api_fail(e, RPC_REFUSED, "this node does not gossip");
    gossip_faults_t *f = calloc(1, sizeof *f);
    if (!f)
        return api_fail(e, RPC_INTERNAL, "out of memory");
    int64_t seed = 0, drop = 0, delay = 0, delay_ms = 0, jitter = 0;
    vl_err_t err;
    int rc = 0;
    if (vl_json_get_int(params, "seed", false, &seed, &err) != 0
        || vl_json_get_int(params, "drop_ppm", false, &drop, &err) != 0
        || vl_json_get_int(params, "delay_ppm", false, &delay, &err) != 0
        || vl_json_get_int(params, "delay_ms", false, &delay_ms, &err) != 0
        || vl_json_get_int(params, "delay_jitter_ms", false, &jitter, &err) != 0)
        rc = api_fail(e, RPC_INVALID_PARAMS, "%s", err.msg);
    else if (drop < 0 || drop > 1000000 || delay < 0 || delay > 1000000 || delay_ms < 0
             || delay_ms > 60000 || jitter < 0 || jitter > 60000)
        rc = api_fail(e, RPC_INVALID_PARAMS, "drop_ppm and delay_ppm are 0-1000000, delay_ms and "
                      "delay_jitter_ms 0-60000");
    json_t *part = json_object_get(params, "partition");
    size_t i;
    json_t *d;
    if (rc == 0 && part && (!json_is_array(part) || json_array_size(part) > GOSSIP_FAULT_PARTITION_MAX))
        rc = api_fail(e, RPC_INVALID_PARAMS, "partition must be an array of member DIDs");
    json_array_foreach(part, i, d) {
        const char *did = json_string_value(d);
        const member_t *m = NULL;
        for (size_t k = 0; did && k < node->genesis.members.count && !m; k++)
            if (strcmp(node->genesis.members.items[k].did, did) == 0)
                m = &node->genesis.members.items[k];
        if (rc == 0 && !m)
            rc = api_fail(e, RPC_INVALID_PARAMS, "partition[%zu] is not a member's DID", i);
        if (rc == 0)
            memcpy(f->partition[f->n_partition++], m->public_key, VL_PUBKEY_SIZE);
    }
    if (rc == 0) {
        f->seed = (uint64_t) seed;
        f->drop_ppm = (uint32_t) drop;
        f->delay_ppm = (uint32_t) delay;
        f->delay_ms = (int) delay_ms;
        f->delay_jitter_ms = (int) jitter;
        int r2 = gossip_set_faults(node->gossip, f);
        if (r2 != 0)
            rc = api_fail(e, rpc_code_of_error(r2), "cannot set faults: %s", vl_strerror(r2));
        else
            *result = json_pack("{s:b}", "set", 1);
    }
    free(f);
    return rc;
}

/* transact {proposal, wait?, timeout_ms?}: the gateway (node_gateway.c). */
static void
s_transacted(void *arg, int rc, const uint8_t *txid, const char *result_json, const vl_err_t *err)
{
    s_submit_t *s = arg;
    if (rc != 0) {
        api_answer_error(s->call, rpc_code_of_error(rc), err->msg);
        free(s);
        return;
    }
    json_t *rj = json_loads(result_json ? result_json : "null", JSON_DECODE_ANY, NULL);
    json_t *extra = json_pack("{s:o}", "result", rj ? rj : json_null());
    if (s->wait)
        api_wait_commit(s->call, txid, s->timeout_ms, extra);
    else {
        json_t *r = json_pack("{s:o, s:s}", "txid", s_hex(txid, 32), "status", "pending");
        json_object_update(r, extra);
        json_decref(extra);
        api_answer(s->call, r);
    }
    free(s);
}

static int
m_transact(api_t *api, json_t *params, api_call_t **call, bool in_batch, json_t **result,
           api_error_t *e)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    bool wait = true;
    int64_t timeout = SUBMIT_TIMEOUT_DEFAULT_MS;
    vl_err_t err = { "" };
    if (vl_json_get_bool(params, "wait", false, &wait, &err) != 0
        || vl_json_get_int(params, "timeout_ms", false, &timeout, &err) != 0)
        return api_fail(e, RPC_INVALID_PARAMS, "%s", err.msg);
    if (timeout < 1 || timeout > SUBMIT_TIMEOUT_MAX_MS)
        return api_fail(e, RPC_INVALID_PARAMS, "parameter 'timeout_ms' must be 1-%d",
                        SUBMIT_TIMEOUT_MAX_MS);
    if (s_param_bytes(params, "proposal", &bytes, &len, e) != 0)
        return -1;
    s_submit_t *s = calloc(1, sizeof *s);
    int rc = s ? 0 : VL_ERR_NOMEM;
    if (s) {
        *s = (s_submit_t) { *call, wait && !in_batch, timeout };
        rc = node_transact(api_node(api), bytes, len, s_transacted, s);
    }
    free(bytes);
    if (rc != 0) {
        free(s);
        return api_fail(e, rpc_code_of_error(rc), "node is busy (%s); retry later",
                        vl_strerror(rc));
    }
    *call = NULL;
    return API_DEFERRED;
}

/* verify {peers?}: node_verify.c. */
static void
s_verified(void *arg, json_t *result)
{
    api_answer(arg, result);
}

static int
m_verify(api_t *api, json_t *params, api_call_t **call, bool in_batch, json_t **result,
         api_error_t *e)
{
    bool peers = false;
    vl_err_t err;
    if (vl_json_get_bool(params, "peers", false, &peers, &err) != 0)
        return api_fail(e, RPC_INVALID_PARAMS, "%s", err.msg);
    int rc = node_verify(api_node(api), peers, s_verified, *call);
    if (rc != 0)
        return api_fail(e, RPC_INTERNAL, "out of memory");
    *call = NULL;
    return API_DEFERRED;
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
    { "transact", m_transact },
    { "verify", m_verify },
    { "query", m_query },
    { "events.replay", m_events_replay },
    { "test.faults", m_test_faults },
};

api_method_fn
api_method(const char *name)
{
    for (size_t i = 0; i < sizeof s_methods / sizeof s_methods[0]; i++)
        if (strcmp(s_methods[i].name, name) == 0)
            return s_methods[i].fn;
    return NULL;
}
