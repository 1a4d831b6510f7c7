/*
 * api_internal.h — what api.c (framing, dispatch, deferred answers,
 * waiters) and api_methods.c (the methods) share.
 *
 * Every request is an api_call_t: the answer owed to one client request
 * (inside a batch, one element of it). A method answers at once (returns 0
 * with a result, or -1 with an error) or takes the call (API_DEFERRED,
 * *call set to NULL) and answers later on the loop thread, exactly once,
 * with api_answer / api_answer_error — after a worker finished, or when a
 * transaction committed. A batch is answered when its last element is.
 */
#ifndef VL_API_INTERNAL_H
#define VL_API_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "node_internal.h"

#define API_DEFERRED 1

typedef struct api_batch_t api_batch_t;

typedef struct {
    api_t *api;                   /* borrowed */
    api_batch_t *batch;           /* shared: the batch this element belongs to, or NULL */
    size_t slot;                  /* its position in the batch */
    zframe_t *identity;           /* owned (not in a batch): ROUTER routing id */
    bool delimiter;               /* REQ client: reply with an empty frame first */
    json_t *id;                   /* owned reference; NULL for a notification */
} api_call_t;

typedef struct {
    int code;                     /* RPC_* */
    char message[VL_ERR_MSG_MAX];
} api_error_t;

int api_fail(api_error_t *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Answers the call and releases it (NULL: no-op). result: reference taken. */
void api_answer(api_call_t *call, json_t *result);
void api_answer_error(api_call_t *call, int code, const char *message);

/* Parks the call until txid commits or timeout_ms passes (then answered
 * with RPC_TIMEOUT). Takes the call and extra (may be NULL: an object
 * whose fields are added to the committed answer, e.g. the result). */
void api_wait_commit(api_call_t *call, const uint8_t txid[32], int64_t timeout_ms,
                     json_t *extra);

node_t *api_node(const api_t *api);

/* A method: answers with *result (0), fails with e (-1), or takes *call and
 * answers later (API_DEFERRED). in_batch: the request is a batch element
 * (submit does not wait for the commit then). */
typedef int (*api_method_fn)(api_t *api, json_t *params, api_call_t **call, bool in_batch,
                             json_t **result, api_error_t *e);

/* The method named name, or NULL (api_methods.c). */
api_method_fn api_method(const char *name);
#endif
