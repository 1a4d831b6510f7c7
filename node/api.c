/*
 * api.c — the client API: JSON-RPC 2.0 over the node's ZeroMQ ROUTER
 * (docs/api.md). Frames are checked, JSON is parsed with limits, methods
 * are looked up by name (api_methods.c), and every failure becomes a
 * JSON-RPC error with a message naming the cause: bad input never crashes
 * or stalls the node.
 *
 * Answers may be deferred (api_internal.h): endorse, query and submit run
 * their work on the worker pool and answer when it is done; submit with
 * wait parks the call as a waiter, answered when the transaction commits
 * (api_on_commit, a commit-pipeline subscriber) or its timeout passes
 * (api_housekeeping). A batch is answered in one message once every element
 * is. When the node stops, parked waiters are answered with RPC_INTERNAL
 * ("shutting down"); calls still on the pool are answered as the pool
 * returns them.
 *
 * Loop thread only.
 */
#include "api_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "log.h"
#include "sock.h"

#define API_REQUEST_MAX (4u << 20)
#define API_BATCH_MAX 64
#define API_DRAIN_MAX 64             /* requests read per wake-up of the ROUTER */

struct api_batch_t {
    api_t *api;                   /* borrowed */
    zframe_t *identity;           /* owned */
    bool delimiter;
    json_t *responses[API_BATCH_MAX];   /* owned; NULL = none (yet, or a notification) */
    size_t n;                     /* elements */
    size_t pending;               /* elements not answered yet */
};

typedef struct {
    api_call_t *call;             /* owned */
    int64_t deadline_ms;          /* loop clock */
    json_t *extra;                /* owned: fields added to the committed answer */
} s_waiter_t;

struct api_t {
    node_t *node;                 /* borrowed */
    zsock_t *sock;                /* owned: ROUTER */
    char bound[256];
    evloop_t *loop;               /* borrowed while attached */
    zhashx_t *waiters;            /* owned: txid hex -> zlistx_t of s_waiter_t* */
    size_t n_waiters;
    bool detached;                /* stopping: no new waiters */
};

int
api_fail(api_error_t *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    e->code = code;
    return -1;
}

node_t *api_node(const api_t *api) { return api->node; }
const char *api_endpoint(const api_t *api) { return api->bound; }
size_t api_waiting(const api_t *api) { return api->n_waiters; }

/* --- Sending -------------------------------------------------------------- */

static void
s_send(api_t *api, zframe_t *identity, bool delimiter, json_t *response)
{
    char *text = json_dumps(response, JSON_COMPACT);
    if (!text)
        return;
    zmsg_t *msg = zmsg_new();
    zmsg_append(msg, &(zframe_t *) { zframe_dup(identity) });
    if (delimiter)
        zmsg_addmem(msg, "", 0);
    zmsg_addmem(msg, text, strlen(text));
    free(text);
    if (zmsg_send(&msg, api->sock) != 0)
        zmsg_destroy(&msg);   /* client gone; czmq leaves the message with us */
    evloop_sent(api->loop, api->sock);   /* answers also go out from commits and timers */
}

static json_t *
s_error_object(json_t *id, int code, const char *message)
{
    return json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
                     "error", "code", code, "message", message);
}

static void
s_batch_release(api_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        json_decref(b->responses[i]);
    zframe_destroy(&b->identity);
    free(b);
}

/* One more element of the batch is done (or the dispatch hold is let go);
 * the last one sends the answer. */
static void
s_batch_done_one(api_batch_t *b)
{
    if (--b->pending > 0)
        return;
    json_t *all = json_array();
    for (size_t i = 0; i < b->n; i++)
        if (b->responses[i])
            json_array_append(all, b->responses[i]);
    if (json_array_size(all) > 0)
        s_send(b->api, b->identity, b->delimiter, all);
    json_decref(all);
    s_batch_release(b);
}

/* A batch element is answered (response may be NULL: a notification). */
static void
s_batch_answered(api_batch_t *b, size_t slot, json_t *response)
{
    b->responses[slot] = response;
    s_batch_done_one(b);
}

static void
s_call_release(api_call_t *call)
{
    zframe_destroy(&call->identity);
    json_decref(call->id);
    free(call);
}

/* Answers with a complete response object (reference taken); NULL = none
 * (a notification's result). */
static void
s_answer_response(api_call_t *call, json_t *response)
{
    if (call->batch)
        s_batch_answered(call->batch, call->slot, response);
    else if (response)
        s_send(call->api, call->identity, call->delimiter, response);
    if (!call->batch)
        json_decref(response);
    s_call_release(call);
}

void
api_answer(api_call_t *call, json_t *result)
{
    if (!call) {
        json_decref(result);
        return;
    }
    if (!call->id) {   /* a notification: its result is not answered */
        json_decref(result);
        s_answer_response(call, NULL);
        return;
    }
    json_t *r = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id",
                          call->id ? call->id : json_null(), "result",
                          result ? result : json_null());
    s_answer_response(call, r);
}

void
api_answer_error(api_call_t *call, int code, const char *message)
{
    if (call)
        s_answer_response(call, s_error_object(call->id, code, message));
}

/* --- Waiters ---------------------------------------------------------------- */

static void
s_waiter_destroy(void **item)
{
    s_waiter_t *w = *item;
    if (w) {
        if (w->call)
            s_call_release(w->call);
        json_decref(w->extra);
        free(w);
    }
    *item = NULL;
}

static void
s_waiters_destroy(void **item)
{
    zlistx_destroy((zlistx_t **) item);
}

void
api_wait_commit(api_call_t *call, const uint8_t txid[32], int64_t timeout_ms, json_t *extra)
{
    api_t *api = call->api;
    if (api->detached) {
        json_decref(extra);
        api_answer_error(call, RPC_INTERNAL, "node is shutting down");
        return;
    }
    char hex[65];
    vl_hex_encode(txid, 32, hex);
    zlistx_t *list = zhashx_lookup(api->waiters, hex);
    s_waiter_t *w = calloc(1, sizeof *w);
    if (!list && w) {
        list = zlistx_new();
        if (list) {
            zlistx_set_destructor(list, s_waiter_destroy);
            zhashx_insert(api->waiters, hex, list);
        }
    }
    if (!w || !list) {
        free(w);
        json_decref(extra);
        api_answer_error(call, RPC_INTERNAL, "out of memory");
        return;
    }
    w->call = call;
    w->extra = extra;
    w->deadline_ms = node_now_ms(api->node) + timeout_ms;
    zlistx_add_end(list, w);
    api->n_waiters++;
}

void
api_on_commit(void *arg, const commit_event_t *event)
{
    api_t *api = arg;
    const validated_block_t *vb = event->block;
    if (api->n_waiters == 0)
        return;
    for (size_t i = 0; i < vb->view->n_txs; i++) {
        char hex[65];
        vl_hex_encode(vb->effects[i].txid, 32, hex);
        zlistx_t *list = zhashx_lookup(api->waiters, hex);
        if (!list)
            continue;
        int code = vb->effects[i].code;
        for (s_waiter_t *w = zlistx_first(list); w; w = zlistx_next(list)) {
            json_t *r = json_pack("{s:s, s:s, s:I, s:i, s:i, s:s}", "txid", hex, "status",
                                  "committed", "height", (json_int_t) vb->commit.height, "index",
                                  (int) i, "code", code, "code_name", tx_code_name(code));
            if (w->extra)
                json_object_update(r, w->extra);
            api_answer(w->call, r);
            w->call = NULL;
            api->n_waiters--;
        }
        zhashx_delete(api->waiters, hex);
    }
}

/* Answers the waiters past their deadline (all of them when stopping). */
static void
s_expire(api_t *api, int64_t now, bool all)
{
    zlist_t *empty = zlist_new();
    for (zlistx_t *list = zhashx_first(api->waiters); list; list = zhashx_next(api->waiters)) {
        s_waiter_t *w = zlistx_first(list);
        while (w) {
            void *handle = zlistx_cursor(list);
            s_waiter_t *next = zlistx_next(list);
            if (all || w->deadline_ms <= now) {
                api_answer_error(w->call, all ? RPC_INTERNAL : RPC_TIMEOUT,
                                 all ? "node is shutting down; the transaction may still commit "
                                       "after restart if it was ordered"
                                     : "transaction not committed within timeout_ms; it may "
                                       "still commit (check with tx.get)");
                w->call = NULL;
                api->n_waiters--;
                zlistx_delete(list, handle);   /* the cursor already moved on */
            }
            w = next;
        }
        if (zlistx_size(list) == 0)
            zlist_append(empty, (void *) zhashx_cursor(api->waiters));
    }
    for (const char *k = zlist_first(empty); k; k = zlist_next(empty))
        zhashx_delete(api->waiters, k);
    zlist_destroy(&empty);
}

void
api_housekeeping(api_t *api, int64_t now_ms)
{
    if (api->n_waiters > 0)
        s_expire(api, now_ms, false);
}

/* --- Dispatch --------------------------------------------------------------- */

/* Handles one request object, answering through call (taken). */
static void
s_handle_one(api_t *api, json_t *request, api_call_t *call, bool in_batch)
{
    if (!json_is_object(request)) {
        api_answer_error(call, RPC_INVALID_REQUEST, "request must be a JSON object");
        return;
    }
    json_t *id = json_object_get(request, "id");
    if (id && !(json_is_string(id) || json_is_integer(id) || json_is_null(id))) {
        api_answer_error(call, RPC_INVALID_REQUEST, "'id' must be a string or an integer");
        return;
    }
    call->id = json_incref(id);
    const char *version = json_string_value(json_object_get(request, "jsonrpc"));
    const char *method = json_string_value(json_object_get(request, "method"));
    json_t *params = json_object_get(request, "params");
    if (!version || strcmp(version, "2.0") != 0) {
        api_answer_error(call, RPC_INVALID_REQUEST, "'jsonrpc' must be \"2.0\"");
        return;
    }
    if (!method) {
        api_answer_error(call, RPC_INVALID_REQUEST, "'method' must be a string");
        return;
    }
    if (params && !json_is_object(params)) {
        api_answer_error(call, RPC_INVALID_PARAMS, "'params' must be an object");
        return;
    }
    api_method_fn fn = api_method(method);
    if (!fn) {
        char msg[160];
        snprintf(msg, sizeof msg, "method '%.64s' not found", method);
        api_answer_error(call, RPC_METHOD_NOT_FOUND, msg);
        return;
    }
    json_t *empty = params ? NULL : json_object();
    json_t *result = NULL;
    api_error_t e = { RPC_INTERNAL, "internal error" };
    int rc = fn(api, params ? params : empty, &call, in_batch, &result, &e);
    json_decref(empty);
    if (rc == API_DEFERRED)
        return;   /* the method took the call */
    if (rc != 0)
        api_answer_error(call, e.code, e.message);
    else
        api_answer(call, result);
}

static api_call_t *
s_call_new(api_t *api, api_batch_t *batch, size_t slot, zframe_t *identity, bool delimiter)
{
    api_call_t *call = calloc(1, sizeof *call);
    if (!call)
        return NULL;
    *call = (api_call_t) { api, batch, slot, batch ? NULL : zframe_dup(identity), delimiter,
                           NULL };
    return call;
}

static void
s_reply_now(api_t *api, zframe_t *identity, bool delimiter, int code, const char *message)
{
    json_t *r = s_error_object(NULL, code, message);
    s_send(api, identity, delimiter, r);
    json_decref(r);
}

static void
s_handle_batch(api_t *api, json_t *request, zframe_t *identity, bool delimiter)
{
    size_t n = json_array_size(request);
    if (n == 0 || n > API_BATCH_MAX) {
        s_reply_now(api, identity, delimiter, RPC_INVALID_REQUEST,
                    "a batch holds 1 to 64 requests");
        return;
    }
    api_batch_t *b = calloc(1, sizeof *b);
    if (!b) {
        s_reply_now(api, identity, delimiter, RPC_INTERNAL, "out of memory");
        return;
    }
    *b = (api_batch_t) { .api = api, .identity = zframe_dup(identity), .delimiter = delimiter,
                         .n = n, .pending = n + 1 };   /* + 1: held while dispatching */
    for (size_t i = 0; i < n; i++) {
        api_call_t *call = s_call_new(api, b, i, NULL, false);
        if (!call) {
            b->responses[i] = s_error_object(NULL, RPC_INTERNAL, "out of memory");
            b->pending--;
            continue;
        }
        s_handle_one(api, json_array_get(request, i), call, true);
    }
    s_batch_done_one(b);   /* the dispatch hold */
}

static void
s_handle(api_t *api, zmsg_t *msg)
{
    size_t frames = zmsg_size(msg);
    zframe_t *identity = zmsg_pop(msg);
    zframe_t *payload = zmsg_pop(msg);
    bool delimiter = false;
    if (payload && zframe_size(payload) == 0 && frames == 3) {
        delimiter = true;
        zframe_destroy(&payload);
        payload = zmsg_pop(msg);
    }
    if (!identity || !payload || zmsg_size(msg) != 0) {
        /* Not a DEALER or REQ request shape: nothing sensible to answer. */
        vl_warn("api", "bad_frames", "frames=%zu", frames);
    } else if (zframe_size(payload) > API_REQUEST_MAX) {
        s_reply_now(api, identity, delimiter, RPC_INVALID_REQUEST,
                    "request exceeds the 4 MiB limit");
    } else {
        json_error_t jerr;
        json_t *request = json_loadb((const char *) zframe_data(payload), zframe_size(payload),
                                     JSON_DECODE_ANY, &jerr);
        if (!request) {
            char text[300];
            snprintf(text, sizeof text, "parse error at line %d column %d: %s", jerr.line,
                     jerr.column, jerr.text);
            s_reply_now(api, identity, delimiter, RPC_PARSE_ERROR, text);
        } else if (json_is_array(request)) {
            s_handle_batch(api, request, identity, delimiter);
        } else {
            api_call_t *call = s_call_new(api, NULL, 0, identity, delimiter);
            if (call)
                s_handle_one(api, request, call, false);
            else
                s_reply_now(api, identity, delimiter, RPC_INTERNAL, "out of memory");
        }
        json_decref(request);
    }
    zframe_destroy(&payload);
    zframe_destroy(&identity);
}

static int
s_on_api(evloop_t *loop, zsock_t *sock, void *arg)
{
    api_t *api = arg;
    /* A bounded drain: requests that arrive together are handled together,
     * so their work reaches the worker pool in batches (node_admit). */
    for (int i = 0; i < API_DRAIN_MAX && !node_failed(api->node); i++) {
        if (i > 0 && !(zsock_events(sock) & ZMQ_POLLIN))
            break;
        zmsg_t *msg = zmsg_recv(sock);
        if (!msg)
            break;
        s_handle(api, msg);
        zmsg_destroy(&msg);
    }
    return node_failed(api->node) ? -1 : 0;
}

/* --- Lifecycle -------------------------------------------------------------- */

api_t *
api_new(node_t *node, const char *endpoint, vl_err_t *err)
{
    api_t *api = calloc(1, sizeof *api);
    if (!api) {
        vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    api->node = node;
    api->waiters = zhashx_new();
    api->sock = zsock_new(ZMQ_ROUTER);
    if (!api->waiters || !api->sock) {
        vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        api_destroy(&api);
        return NULL;
    }
    zhashx_set_destructor(api->waiters, s_waiters_destroy);
    /* czmq defaults linger to 0; keep it so a stopping node never blocks on
     * a vanished client. */
    zsock_set_linger(api->sock, 0);
    zsock_set_router_mandatory(api->sock, 0);
    zsock_set_maxmsgsize(api->sock, 8 << 20);
    if (vl_sock_bind(api->sock, endpoint, api->bound, sizeof api->bound, err) != 0)
        api_destroy(&api);
    return api;
}

int
api_attach(api_t *api, evloop_t *loop)
{
    if (evloop_reader(loop, api->sock, s_on_api, api) != 0)
        return VL_ERR_IO;
    api->loop = loop;
    return 0;
}

void
api_detach(api_t *api)
{
    if (!api)
        return;
    s_expire(api, 0, true);
    api->detached = true;
    if (api->loop)
        evloop_reader_end(api->loop, api->sock);
    api->loop = NULL;
}

void
api_destroy(api_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    api_t *api = *self_p;
    zhashx_destroy(&api->waiters);
    zsock_destroy(&api->sock);
    free(api);
    *self_p = NULL;
}
