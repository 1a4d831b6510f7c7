/*
 * client.h — the vledger client library: JSON-RPC 2.0 over ZeroMQ to one
 * node's `api` endpoint (docs/api.md), transaction building and signing,
 * and endpoint discovery. The `vledger` CLI, the simulator and integration
 * tests speak to nodes only through this interface.
 *
 * Transport: one DEALER socket per client_t (one frame: the JSON text),
 * with its own ZeroMQ context. Calls are synchronous: send one request with
 * a fresh id, poll until the reply with that id arrives or the deadline
 * passes. Replies that carry another id (late answers to a call that timed
 * out earlier) are discarded, so a client stays usable after a timeout.
 *
 * Thread rules: a client_t is used from one thread at a time (ZeroMQ sockets
 * are not thread-safe). The pure functions (client_build_proposal,
 * client_check_endorsement, client_build_transaction, client_resolve_endpoint,
 * client_default_data_dir) are thread-safe except that the resolvers read
 * the environment.
 *
 * Errors: every fallible function returns 0 or a negative VL_ERR_* and writes
 * one line into err; outputs are untouched on failure.
 */
#ifndef VL_CLIENT_H
#define VL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "crypto.h"
#include "error.h"
#include "rpc.h"

/* Named limits. */
#define CLIENT_REPLY_MAX (64 * 1024 * 1024)   /* bytes in one reply; larger drops the link */
#define CLIENT_REQUEST_MAX (4 * 1024 * 1024)  /* bytes in one request (the node's limit) */
#define CLIENT_ENDPOINT_MAX 256               /* chars in an endpoint string */
#define CLIENT_DEFAULT_TIMEOUT_MS 5000        /* CLI default per call */
#define CLIENT_DEFAULT_WAIT_MS 10000          /* the node's default submit wait */

typedef struct client_t client_t;

/* --- Connection and calls ------------------------------------------------ */

/* Creates a DEALER socket connected to endpoint (e.g. "tcp://127.0.0.1:7001").
 * timeout_ms (> 0) bounds each call's wait for its reply. Linger is 0 on
 * purpose: a call returns only after its reply (or gives up), so anything
 * still queued at destroy is a request nobody waits for, and a CLI pointed
 * at a dead node must exit at once rather than hang in close.
 * Returns NULL with a message (bad endpoint, out of memory). czmq is not
 * used, so no signal handler is installed behind the caller's back. */
client_t *client_new(const char *endpoint, int timeout_ms, vl_err_t *err);

/* Closes the socket and context; accepts NULL and nulls *self_p. */
void client_destroy(client_t **self_p);

/* The endpoint given to client_new, borrowed for the client's lifetime. */
const char *client_endpoint(const client_t *self);

/* Calls method with params (borrowed; NULL sends {}). On success *result is
 * the reply's `result` (owned by the caller). On a JSON-RPC error returns a
 * negative VL_ERR_* mapped from the RPC code (client_error_from_rpc) with
 * err->msg = the node's message, and client_last_rpc_code() gives the RPC
 * code. On no reply within the timeout: VL_ERR_TIMEOUT, "no answer from node
 * at ENDPOINT within N ms (is vledgerd running?)". A reply that is not a
 * JSON object: VL_ERR_INVALID. A request over CLIENT_REQUEST_MAX is refused
 * locally (VL_ERR_LIMIT) since the node would refuse it anyway. */
int client_call(client_t *self, const char *method, json_t *params, json_t **result,
                vl_err_t *err);

/* client_call with its own timeout for this call only (e.g. submit with
 * wait, whose reply comes after the commit). */
int client_call_timeout(client_t *self, const char *method, json_t *params, int timeout_ms,
                        json_t **result, vl_err_t *err);

/* The JSON-RPC error code of the last call, or 0 when the last call
 * succeeded or failed locally (timeout, bad reply). */
int client_last_rpc_code(const client_t *self);

/* Sends len bytes verbatim as one frame and waits for the next reply frame,
 * whatever it holds; *reply is a NUL-terminated malloc'd copy (caller
 * frees). For debugging and tests of malformed input: no id matching, so
 * use a client that has no call outstanding. */
int client_call_raw(client_t *self, const char *text, size_t len, char **reply, vl_err_t *err);

/* Maps a JSON-RPC error code to a VL_ERR_* code:
 * -32700/-32600/-32601/-32602 invalid, -32001 refused, -32002 exists,
 * -32003 timeout, -32004 not found, -32010 signature, -32603 and others i/o. */
int client_error_from_rpc(int rpc_code);

/* --- Transactions -------------------------------------------------------- */

/* What is known about the last client_transact's transaction. */
typedef enum {
    CLIENT_TX_NONE,        /* never accepted by a node: it cannot take effect */
    CLIENT_TX_UNKNOWN,     /* submitted, but no commit seen (timeout, duplicate) */
    CLIENT_TX_COMMITTED,   /* committed with code 0 */
    CLIENT_TX_INVALID,     /* committed with code != 0: it changed nothing */
} client_tx_fate_t;

/* Builds a Vl__Proposal {chain_id, contract, function, args_json = canonical
 * JSON of args (an object; NULL means {}), creator = key's raw public key,
 * nonce, timestamp_ms, gas_limit 0}, signs its packed bytes with key and
 * packs the Vl__SignedProposal into *signed_out (malloc'd, caller frees;
 * length *signed_len). txid = SHA-256 of the Proposal bytes.
 * Errors: VL_ERR_INVALID (args not an object, empty names), VL_ERR_NOMEM. */
int client_build_proposal(const vl_key_t *key, const char *chain_id, const char *contract,
                          const char *function, const json_t *args, uint64_t nonce,
                          int64_t timestamp_ms, uint8_t **signed_out, size_t *signed_len,
                          uint8_t txid[VL_HASH_SIZE], vl_err_t *err);

/* Checks an endorsement: signature (64 bytes) by endorser (32-byte public
 * key) over the EndorsedResult bytes, and that the result's txid is txid.
 * Errors: VL_ERR_SIGNATURE ("endorser signature does not verify"),
 * VL_ERR_INVALID (result bytes do not decode, wrong key/signature length),
 * VL_ERR_REFUSED ("endorser returned a result for another transaction").
 * On success and when result_json is non-NULL, *result_json is a malloc'd
 * copy of the result's result_json (caller frees). */
int client_check_endorsement(const uint8_t txid[VL_HASH_SIZE], const uint8_t *result,
                             size_t result_len, const uint8_t *endorser, size_t endorser_len,
                             const uint8_t *signature, size_t signature_len,
                             char **result_json, vl_err_t *err);

/* Packs a Vl__Transaction {proposal, proposal_signature, result,
 * endorsements: [{endorser, signature}]} from a packed SignedProposal and one
 * endorsement into *tx_out (malloc'd, caller frees). */
int client_build_transaction(const uint8_t *signed_proposal, size_t signed_len,
                             const uint8_t *result, size_t result_len, const uint8_t *endorser,
                             size_t endorser_len, const uint8_t *signature,
                             size_t signature_len, uint8_t **tx_out, size_t *tx_len,
                             vl_err_t *err);

/* Runs contract.function(args) as a transaction signed by key: builds and
 * signs the proposal and sends it to `transact` on the node (the client's
 * own organisation's gateway), which gathers the endorsements the policy
 * needs, submits and waits up to wait_timeout_ms for the commit. chain_id
 * NULL asks the node (`status`). On success *outcome (owned) is the reply
 * {txid, status, height, index, code, code_name, result (the contract's
 * return value)}.
 * Errors: a refusal (by the contract or an organisation's endorser, or
 * endorsers that disagree) is VL_ERR_REFUSED with the node's message; a
 * commit with code != 0 is VL_ERR_REFUSED "transaction TXID was
 * invalidated: CODE_NAME"; others as client_call. client_last_tx_fate() and
 * client_last_txid() then tell whether the tx can still take effect. */
int client_transact(client_t *self, const vl_key_t *key, const char *chain_id,
                    const char *contract, const char *function, json_t *args,
                    int wait_timeout_ms, json_t **outcome, vl_err_t *err);

/* Fate of the last client_transact (CLIENT_TX_NONE before any). */
client_tx_fate_t client_last_tx_fate(const client_t *self);

/* Hex txid of the last client_transact ("" before any proposal was built);
 * borrowed until the next client_transact. */
const char *client_last_txid(const client_t *self);

/* --- Endpoint discovery -------------------------------------------------- */

/* Writes the default data directory into out: $VLEDGER_DATA, else
 * $HOME/.vledger. VL_ERR_NOT_FOUND when neither is set, VL_ERR_LIMIT when
 * the path does not fit. */
int client_default_data_dir(char *out, size_t size, vl_err_t *err);

/* Writes the node's api endpoint into out: node_opt if non-NULL, else
 * $VLEDGER_NODE if set and non-empty, else the "api" string of
 * DATA/endpoints.json where DATA is data_dir (NULL: the default data dir).
 * Missing file: VL_ERR_NOT_FOUND "no node endpoint: DATA/endpoints.json not
 * found (start one with `vledgerd --dev --data DATA` or pass --node)".
 * Unreadable or malformed file, or no "api" string: VL_ERR_INVALID.
 * Too long for out: VL_ERR_LIMIT. */
int client_resolve_endpoint(const char *node_opt, const char *data_dir, char *out,
                            size_t size, vl_err_t *err);

#endif
