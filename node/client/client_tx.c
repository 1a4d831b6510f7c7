/*
 * client_tx.c — transactions from the client's side (DESIGN §2, docs/api.md,
 * docs/trust.md):
 *
 *   Proposal --sign--> SignedProposal --transact--> the client's own
 *   organisation's node (the gateway): its endorsement, the endorsements of
 *   the other organisations the policy names, the transaction, the commit
 *                               |
 *                               v
 *                   committed (code 0) | invalidated (code != 0)
 *
 * The building and checking steps (proposal, endorsement check,
 * transaction) are pure functions over bytes, used by tools that assemble
 * transactions themselves (the simulator's load, benchmarks, tests through
 * `endorse` and `submit`); client_transact is the path every user takes.
 * The client signs only its proposal: whatever the gateway assembles
 * around it cannot change what was proposed, and the validators check that
 * the endorsements satisfy the policy.
 */
#include "client_private.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "codec.h"
#include "json.h"
#include "vledger.pb-c.h"

int
client_build_proposal(const vl_key_t *key, const char *chain_id, const char *contract,
                      const char *function, const json_t *args, uint64_t nonce,
                      int64_t timestamp_ms, uint8_t **signed_out, size_t *signed_len,
                      uint8_t txid[VL_HASH_SIZE], vl_err_t *err)
{
    if (!key)
        return vl_err_set(err, VL_ERR_INVALID, "no signing key");
    if (!chain_id || !*chain_id)
        return vl_err_set(err, VL_ERR_INVALID, "no chain id");
    if (!contract || !*contract || !function || !*function)
        return vl_err_set(err, VL_ERR_INVALID, "contract and function must be named");
    if (args && !json_is_object(args))
        return vl_err_set(err, VL_ERR_INVALID, "contract arguments must be a JSON object");

    int rc = VL_ERR_NOMEM;
    char *args_json = NULL;
    uint8_t *proposal_bytes = NULL, *packed = NULL;
    json_t *empty = args ? NULL : json_object();
    args_json = vl_json_canonical(args ? args : empty);
    json_decref(empty);
    if (!args_json) {
        vl_err_set(err, VL_ERR_NOMEM, "cannot encode the contract arguments");
        goto done;
    }

    Vl__Proposal proposal = VL__PROPOSAL__INIT;
    proposal.chain_id = (char *) chain_id;
    proposal.contract = (char *) contract;
    proposal.function = (char *) function;
    proposal.args_json = args_json;
    proposal.creator.data = (uint8_t *) vl_key_public(key);
    proposal.creator.len = VL_PUBKEY_SIZE;
    proposal.nonce = nonce;
    proposal.timestamp_ms = timestamp_ms;
    proposal.gas_limit = 0;
    size_t proposal_len = vl__proposal__get_packed_size(&proposal);
    proposal_bytes = malloc(proposal_len ? proposal_len : 1);
    if (!proposal_bytes) {
        vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        goto done;
    }
    vl__proposal__pack(&proposal, proposal_bytes);

    uint8_t sig[VL_SIG_SIZE];
    if (vl_key_sign(key, proposal_bytes, proposal_len, sig) != 0) {
        vl_err_set(err, VL_ERR_NOMEM, "cannot sign the proposal");
        goto done;
    }
    Vl__SignedProposal sp = VL__SIGNED_PROPOSAL__INIT;
    sp.proposal.data = proposal_bytes;
    sp.proposal.len = proposal_len;
    sp.signature.data = sig;
    sp.signature.len = VL_SIG_SIZE;
    size_t packed_len = vl__signed_proposal__get_packed_size(&sp);
    packed = malloc(packed_len);
    if (!packed) {
        vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        goto done;
    }
    vl__signed_proposal__pack(&sp, packed);

    vl_sha256(proposal_bytes, proposal_len, txid);
    *signed_out = packed;
    *signed_len = packed_len;
    packed = NULL;
    rc = 0;
done:
    free(packed);
    free(proposal_bytes);
    free(args_json);
    return rc;
}

int
client_check_endorsement(const uint8_t txid[VL_HASH_SIZE], const uint8_t *result,
                         size_t result_len, const uint8_t *endorser, size_t endorser_len,
                         const uint8_t *signature, size_t signature_len, char **result_json,
                         vl_err_t *err)
{
    if (endorser_len != VL_PUBKEY_SIZE)
        return vl_err_set(err, VL_ERR_INVALID, "endorser key is %zu bytes, not %d",
                          endorser_len, VL_PUBKEY_SIZE);
    if (signature_len != VL_SIG_SIZE)
        return vl_err_set(err, VL_ERR_INVALID, "endorser signature is %zu bytes, not %d",
                          signature_len, VL_SIG_SIZE);
    if (!vl_verify(endorser, result, result_len, signature))
        return vl_err_set(err, VL_ERR_SIGNATURE,
                          "endorser signature does not verify over the result");
    Vl__EndorsedResult *er = vl__endorsed_result__unpack(NULL, result_len, result);
    if (!er)
        return vl_err_set(err, VL_ERR_INVALID, "endorsed result does not decode");
    int rc = 0;
    if (er->txid.len != VL_HASH_SIZE || memcmp(er->txid.data, txid, VL_HASH_SIZE) != 0) {
        rc = vl_err_set(err, VL_ERR_REFUSED, "endorser returned a result for another transaction");
    } else if (result_json) {
        char *copy = strdup(er->result_json ? er->result_json : "");
        if (!copy)
            rc = vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        else
            *result_json = copy;
    }
    vl__endorsed_result__free_unpacked(er, NULL);
    return rc;
}

int
client_build_transaction(const uint8_t *signed_proposal, size_t signed_len, const uint8_t *result,
                         size_t result_len, const uint8_t *endorser, size_t endorser_len,
                         const uint8_t *signature, size_t signature_len, uint8_t **tx_out,
                         size_t *tx_len, vl_err_t *err)
{
    Vl__SignedProposal *sp = vl__signed_proposal__unpack(NULL, signed_len, signed_proposal);
    if (!sp)
        return vl_err_set(err, VL_ERR_INVALID, "signed proposal does not decode");
    Vl__Endorsement endorsement = VL__ENDORSEMENT__INIT;
    endorsement.endorser.data = (uint8_t *) endorser;
    endorsement.endorser.len = endorser_len;
    endorsement.signature.data = (uint8_t *) signature;
    endorsement.signature.len = signature_len;
    Vl__Endorsement *list[1] = { &endorsement };
    Vl__Transaction tx = VL__TRANSACTION__INIT;
    tx.proposal = sp->proposal;
    tx.proposal_signature = sp->signature;
    tx.result.data = (uint8_t *) result;
    tx.result.len = result_len;
    tx.n_endorsements = 1;
    tx.endorsements = list;
    size_t len = vl__transaction__get_packed_size(&tx);
    uint8_t *bytes = malloc(len);
    int rc = 0;
    if (!bytes) {
        rc = vl_err_set(err, VL_ERR_NOMEM, "out of memory");
    } else {
        vl__transaction__pack(&tx, bytes);
        *tx_out = bytes;
        *tx_len = len;
    }
    vl__signed_proposal__free_unpacked(sp, NULL);
    return rc;
}

/* The node's chain id: from its `status` the first time, then remembered
 * (a node's chain never changes, and `status` is no cheap call to make
 * before every transaction). */
static int
s_chain_id(client_t *self, const char **out, vl_err_t *err)
{
    if (!self->chain_id[0]) {
        json_t *status = NULL;
        int rc = client_call(self, "status", NULL, &status, err);
        if (rc)
            return rc;
        const char *id = json_string_value(json_object_get(status, "chain_id"));
        if (!id || !*id || strlen(id) >= sizeof self->chain_id) {
            json_decref(status);
            return vl_err_set(err, VL_ERR_INVALID, "node at %s reports no usable chain_id in "
                              "its status", self->endpoint);
        }
        snprintf(self->chain_id, sizeof self->chain_id, "%s", id);
        json_decref(status);
    }
    *out = self->chain_id;
    return 0;
}

int
client_transact(client_t *self, const vl_key_t *key, const char *chain_id, const char *contract,
                const char *function, json_t *args, int wait_timeout_ms, json_t **outcome,
                vl_err_t *err)
{
    self->last_fate = CLIENT_TX_NONE;
    self->last_txid[0] = '\0';
    if (wait_timeout_ms <= 0)
        return vl_err_set(err, VL_ERR_INVALID, "wait timeout must be positive");

    int rc;
    char *b64 = NULL;
    uint8_t *signed_bytes = NULL;
    size_t signed_len = 0;
    json_t *params = NULL, *reply = NULL;

    if (!chain_id) {
        rc = s_chain_id(self, &chain_id, err);
        if (rc)
            goto done;
    }

    /* 1. Proposal: fresh nonce, wall-clock timestamp. */
    uint64_t nonce;
    if (vl_random_bytes(&nonce, sizeof nonce) != 0) {
        rc = vl_err_set(err, VL_ERR_IO, "cannot read random bytes for the nonce");
        goto done;
    }
    uint8_t txid[VL_HASH_SIZE];
    rc = client_build_proposal(key, chain_id, contract, function, args, nonce, vl_wall_ms(),
                               &signed_bytes, &signed_len, txid, err);
    if (rc)
        goto done;
    vl_hex_encode(txid, VL_HASH_SIZE, self->last_txid);

    /* 2. The gateway gathers the endorsements, submits and waits. */
    rc = VL_ERR_NOMEM;
    b64 = vl_base64_encode(signed_bytes, signed_len);
    if (!b64
        || !(params = json_pack("{s:s, s:b, s:i}", "proposal", b64, "wait", 1, "timeout_ms",
                                wait_timeout_ms))) {
        vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* The node answers after the endorsements, the commit or its own wait:
     * allow for all of them. */
    int call_ms = wait_timeout_ms > INT32_MAX / 2 - self->timeout_ms
                      ? INT32_MAX
                      : wait_timeout_ms + 2 * self->timeout_ms;
    rc = client_call_timeout(self, "transact", params, call_ms, &reply, err);
    if (rc) {
        /* Only an answer that says the node did not take the tx proves it
         * can never commit; silence, a wait timeout or "duplicate" do not. */
        int code = self->last_rpc_code;
        if (code == 0 || code == RPC_TIMEOUT || code == RPC_DUPLICATE)
            self->last_fate = CLIENT_TX_UNKNOWN;
        goto done;
    }
    if (!json_is_object(reply)) {
        self->last_fate = CLIENT_TX_UNKNOWN;
        rc = vl_err_set(err, VL_ERR_INVALID, "the node's transact reply is not an object");
        goto done;
    }
    const char *hex = json_string_value(json_object_get(reply, "txid"));
    if (hex && strcmp(hex, self->last_txid) != 0) {
        self->last_fate = CLIENT_TX_UNKNOWN;
        rc = vl_err_set(err, VL_ERR_REFUSED,
                        "the node answered for transaction %s, not for ours (%s)", hex,
                        self->last_txid);
        goto done;
    }
    const char *status = json_string_value(json_object_get(reply, "status"));
    json_t *code = json_object_get(reply, "code");
    json_object_set_new(reply, "txid", json_string(self->last_txid));
    if (!json_object_get(reply, "result"))
        json_object_set_new(reply, "result", json_null());
    if (!status || strcmp(status, "committed") != 0 || !json_is_integer(code)) {
        /* Not (yet) committed, e.g. a node that ignored wait: not a failure
         * of ours, but nothing is known about its effect yet. */
        self->last_fate = CLIENT_TX_UNKNOWN;
    } else if (json_integer_value(code) != 0) {
        self->last_fate = CLIENT_TX_INVALID;
        const char *name = json_string_value(json_object_get(reply, "code_name"));
        if (!name) {
            const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
                &vl__tx_code__descriptor, (int) json_integer_value(code));
            name = v ? v->name : "unknown code";
        }
        rc = vl_err_set(err, VL_ERR_REFUSED, "transaction %s was invalidated: %s",
                        self->last_txid, name);
        goto done;
    } else {
        self->last_fate = CLIENT_TX_COMMITTED;
    }
    *outcome = reply;
    reply = NULL;
    rc = 0;
done:
    json_decref(reply);
    json_decref(params);
    free(b64);
    free(signed_bytes);
    return rc;
}

client_tx_fate_t
client_last_tx_fate(const client_t *self)
{
    return self->last_fate;
}

const char *
client_last_txid(const client_t *self)
{
    return self->last_txid;
}
