/*
 * client.c — the transport half of the client library: one DEALER socket to
 * a node's `api` ROUTER, synchronous JSON-RPC 2.0 calls with ids and a
 * deadline, and raw sends for debugging (docs/api.md).
 *
 * Invariants:
 *   1. At most one call is in flight per client: a call returns only after
 *      its reply or its deadline.
 *   2. Every request carries an id never used before on this client
 *      (next_id only grows), so a late reply to a call that timed out can
 *      never be taken for the answer to a later one; such replies are
 *      discarded while waiting.
 *   3. The wait is a zmq_poll on the remaining time to a monotonic deadline,
 *      never a sleep.
 *
 * Runs on the caller's thread; no background threads, no signal handlers.
 */
#include "client_private.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "clock.h"

client_t *
client_new(const char *endpoint, int timeout_ms, vl_err_t *err)
{
    if (!endpoint || !*endpoint) {
        vl_err_set(err, VL_ERR_INVALID, "no node endpoint given");
        return NULL;
    }
    if (strlen(endpoint) >= CLIENT_ENDPOINT_MAX) {
        vl_err_set(err, VL_ERR_LIMIT, "node endpoint is longer than %d characters",
                   CLIENT_ENDPOINT_MAX - 1);
        return NULL;
    }
    if (timeout_ms <= 0) {
        vl_err_set(err, VL_ERR_INVALID, "timeout must be a positive number of milliseconds");
        return NULL;
    }
    client_t *self = calloc(1, sizeof *self);
    if (!self) {
        vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    strcpy(self->endpoint, endpoint);
    self->timeout_ms = timeout_ms;
    self->next_id = 1;
    self->last_fate = CLIENT_TX_NONE;

    self->ctx = zmq_ctx_new();
    if (!self->ctx) {
        vl_err_set(err, VL_ERR_NOMEM, "cannot create a ZeroMQ context: %s",
                   zmq_strerror(errno));
        goto fail;
    }
    self->socket = zmq_socket(self->ctx, ZMQ_DEALER);
    if (!self->socket) {
        vl_err_set(err, VL_ERR_NOMEM, "cannot create a socket: %s", zmq_strerror(errno));
        goto fail;
    }
    /* Linger 0: see client.h. Send timeout: a DEALER blocks in send when it
     * has no pipe at all; never longer than a call may take. */
    int linger = 0;
    int64_t maxmsg = CLIENT_REPLY_MAX;
    zmq_setsockopt(self->socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(self->socket, ZMQ_SNDTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_setsockopt(self->socket, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (zmq_connect(self->socket, endpoint) != 0) {
        vl_err_set(err, VL_ERR_INVALID, "cannot connect to node endpoint '%s': %s", endpoint,
                   zmq_strerror(errno));
        goto fail;
    }
    return self;
fail:
    client_destroy(&self);
    return NULL;
}

void
client_destroy(client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    client_t *self = *self_p;
    if (self->socket)
        zmq_close(self->socket);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    free(self);
    *self_p = NULL;
}

const char *
client_endpoint(const client_t *self)
{
    return self->endpoint;
}

int
client_last_rpc_code(const client_t *self)
{
    return self->last_rpc_code;
}

int
client_error_from_rpc(int rpc_code)
{
    return rpc_error_of_code(rpc_code);
}

/* Sends one frame; a send that cannot complete within the call's time is a
 * timeout like a missing answer. */
static int
s_send(client_t *self, const void *data, size_t len, int timeout_ms, vl_err_t *err)
{
    zmq_setsockopt(self->socket, ZMQ_SNDTIMEO, &timeout_ms, sizeof timeout_ms);
    if (zmq_send(self->socket, data, len, 0) >= 0)
        return 0;
    if (errno == EAGAIN)
        return vl_err_set(err, VL_ERR_TIMEOUT,
                          "no answer from node at %s within %d ms (is vledgerd running?)",
                          self->endpoint, timeout_ms);
    return vl_err_set(err, VL_ERR_IO, "cannot send to node at %s: %s", self->endpoint,
                      zmq_strerror(errno));
}

/* Waits until deadline_ms (monotonic) for one whole message and returns its
 * last frame (the body; a REQ-style empty delimiter before it is skipped) as
 * a NUL-terminated malloc'd string. */
static int
s_recv(client_t *self, int64_t deadline_ms, int timeout_ms, char **body, size_t *body_len,
       vl_err_t *err)
{
    for (;;) {
        int64_t left = deadline_ms - vl_mono_ms();
        if (left <= 0)
            break;
        zmq_pollitem_t item = { .socket = self->socket, .events = ZMQ_POLLIN };
        int rc = zmq_poll(&item, 1, (long) left);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            return vl_err_set(err, VL_ERR_IO, "cannot poll the node socket: %s",
                              zmq_strerror(errno));
        }
        if (rc == 0)
            continue;   /* loop re-checks the deadline */
        char *last = NULL;
        size_t last_len = 0;
        for (;;) {
            zmq_msg_t frame;
            zmq_msg_init(&frame);
            if (zmq_msg_recv(&frame, self->socket, ZMQ_DONTWAIT) < 0) {
                int e = errno;
                zmq_msg_close(&frame);
                free(last);
                if (e == EAGAIN || e == EINTR)
                    goto next;   /* spurious wake-up: poll again */
                return vl_err_set(err, VL_ERR_IO, "cannot receive from node at %s: %s",
                                  self->endpoint, zmq_strerror(e));
            }
            size_t n = zmq_msg_size(&frame);
            char *copy = malloc(n + 1);
            if (!copy) {
                zmq_msg_close(&frame);
                free(last);
                return vl_err_set(err, VL_ERR_NOMEM, "out of memory for a %zu-byte reply", n);
            }
            memcpy(copy, zmq_msg_data(&frame), n);
            copy[n] = '\0';
            bool more = zmq_msg_more(&frame);
            zmq_msg_close(&frame);
            free(last);
            last = copy;
            last_len = n;
            if (!more)
                break;
        }
        *body = last;
        *body_len = last_len;
        return 0;
    next:;
    }
    return vl_err_set(err, VL_ERR_TIMEOUT,
                      "no answer from node at %s within %d ms (is vledgerd running?)",
                      self->endpoint, timeout_ms);
}

int
client_call_raw(client_t *self, const char *text, size_t len, char **reply, vl_err_t *err)
{
    self->last_rpc_code = 0;
    int64_t deadline = vl_mono_ms() + self->timeout_ms;
    int rc = s_send(self, text, len, self->timeout_ms, err);
    if (rc)
        return rc;
    char *body = NULL;
    size_t body_len = 0;
    rc = s_recv(self, deadline, self->timeout_ms, &body, &body_len, err);
    if (rc)
        return rc;
    *reply = body;
    return 0;
}

/* True when reply answers request id: same integer id, or a null id on an
 * error (the node could not read our id, e.g. an oversized request). */
static bool
s_matches(const json_t *reply, uint64_t id)
{
    json_t *rid = json_object_get(reply, "id");
    if (json_is_integer(rid))
        return (uint64_t) json_integer_value(rid) == id;
    return json_is_null(rid) && json_is_object(json_object_get(reply, "error"));
}

int
client_call_timeout(client_t *self, const char *method, json_t *params, int timeout_ms,
                    json_t **result, vl_err_t *err)
{
    self->last_rpc_code = 0;
    if (!method || !*method)
        return vl_err_set(err, VL_ERR_INVALID, "no method given");
    if (timeout_ms <= 0)
        return vl_err_set(err, VL_ERR_INVALID, "timeout must be positive");
    uint64_t id = self->next_id++;
    /* "O" takes a new reference to the caller's params; "o" steals our {}. */
    json_t *request = params ? json_pack("{s:s, s:I, s:s, s:O}", "jsonrpc", "2.0", "id",
                                         (json_int_t) id, "method", method, "params", params)
                             : json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id",
                                         (json_int_t) id, "method", method, "params",
                                         json_object());
    if (!request)
        return vl_err_set(err, VL_ERR_NOMEM, "cannot build the request for %s", method);
    char *text = json_dumps(request, JSON_COMPACT);
    json_decref(request);
    if (!text)
        return vl_err_set(err, VL_ERR_NOMEM, "cannot encode the request for %s", method);

    size_t len = strlen(text);
    if (len > CLIENT_REQUEST_MAX) {
        free(text);
        return vl_err_set(err, VL_ERR_LIMIT, "request for %s is %zu bytes; the node takes at most %d",
                          method, len, CLIENT_REQUEST_MAX);
    }
    int64_t deadline = vl_mono_ms() + timeout_ms;
    int rc = s_send(self, text, len, timeout_ms, err);
    free(text);
    if (rc)
        return rc;

    for (;;) {
        char *body = NULL;
        size_t body_len = 0;
        rc = s_recv(self, deadline, timeout_ms, &body, &body_len, err);
        if (rc)
            return rc;
        json_t *reply = json_loadb(body, body_len, 0, NULL);
        free(body);
        if (!json_is_object(reply)) {
            /* A batch reply cannot answer us (we never send batches): it is
             * a stray answer to someone's raw send. Anything else is a node
             * that does not speak JSON-RPC. */
            bool stray = json_is_array(reply);
            json_decref(reply);
            if (stray)
                continue;
            return vl_err_set(err, VL_ERR_INVALID,
                              "node at %s sent a reply that is not a JSON-RPC object",
                              self->endpoint);
        }
        if (!s_matches(reply, id)) {
            json_decref(reply);   /* late answer to an earlier call: ignore */
            continue;
        }
        json_t *error = json_object_get(reply, "error");
        if (json_is_object(error)) {
            json_t *code = json_object_get(error, "code");
            const char *message = json_string_value(json_object_get(error, "message"));
            self->last_rpc_code = json_is_integer(code) ? (int) json_integer_value(code)
                                                        : RPC_INTERNAL;
            rc = vl_err_set(err, client_error_from_rpc(self->last_rpc_code), "%s",
                            message && *message ? message : "the node gave no reason");
            json_decref(reply);
            return rc;
        }
        json_t *value = json_object_get(reply, "result");
        if (!value) {
            json_decref(reply);
            return vl_err_set(err, VL_ERR_INVALID,
                              "node at %s replied to %s with neither result nor error",
                              self->endpoint, method);
        }
        *result = json_incref(value);
        json_decref(reply);
        return 0;
    }
}

int
client_call(client_t *self, const char *method, json_t *params, json_t **result, vl_err_t *err)
{
    return client_call_timeout(self, method, params, self->timeout_ms, result, err);
}
