/* tx.c — transaction shape and signature checks shared by submit and commit. */
#include "tx.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "types.h"

const char *
tx_code_name(int code)
{
    switch (code) {
    case VL__TX_CODE__TX_VALID: return "VALID";
    case VL__TX_CODE__TX_MALFORMED: return "MALFORMED";
    case VL__TX_CODE__TX_BAD_CREATOR_SIGNATURE: return "BAD_CREATOR_SIGNATURE";
    case VL__TX_CODE__TX_BAD_ENDORSEMENT: return "BAD_ENDORSEMENT";
    case VL__TX_CODE__TX_DUPLICATE_TXID: return "DUPLICATE_TXID";
    case VL__TX_CODE__TX_MVCC_CONFLICT: return "MVCC_CONFLICT";
    case VL__TX_CODE__TX_PHANTOM_READ: return "PHANTOM_READ";
    case VL__TX_CODE__TX_POLICY_FAILURE: return "POLICY_FAILURE";
    case VL__TX_CODE__TX_WRONG_CHAIN: return "WRONG_CHAIN";
    case VL__TX_CODE__TX_TXID_MISMATCH: return "TXID_MISMATCH";
    case VL__TX_CODE__TX_ENDORSEMENT_POLICY_FAILURE: return "ENDORSEMENT_POLICY_FAILURE";
    case VL__TX_CODE__TX_BAD_ENDORSER: return "BAD_ENDORSER";
    case VL__TX_CODE__TX_RESULT_MISMATCH: return "RESULT_MISMATCH";
    default: return "UNKNOWN";
    }
}

bool
tx_id(const uint8_t *bytes, size_t len, uint8_t out[VL_HASH_SIZE])
{
    const uint8_t *proposal = NULL;
    size_t proposal_len = 0;
    if (vl_pb_find_bytes(bytes, len, 1, &proposal, &proposal_len) && proposal_len > 0) {
        vl_sha256(proposal, proposal_len, out);
        return true;
    }
    vl_sha256(bytes, len, out);
    return false;
}

void
tx_destroy(tx_parsed_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tx_parsed_t *t = *self_p;
    if (t->tx) vl__transaction__free_unpacked(t->tx, NULL);
    if (t->proposal) vl__proposal__free_unpacked(t->proposal, NULL);
    if (t->result) vl__endorsed_result__free_unpacked(t->result, NULL);
    free(t);
    *self_p = NULL;
}

static int
s_fail(tx_parsed_t **t, int *code, int c, vl_err_t *err, const char *msg)
{
    tx_destroy(t);
    *code = c;
    return vl_err_set(err, VL_ERR_INVALID, "%s", msg);
}

int
tx_parse(const uint8_t *bytes, size_t len, const char *chain_id, tx_parsed_t **out, int *code,
         vl_err_t *err)
{
    tx_parsed_t *t = calloc(1, sizeof *t);
    if (!t) {
        *code = VL__TX_CODE__TX_MALFORMED;
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory");
    }
    int bad = VL__TX_CODE__TX_MALFORMED;
    if (len > VL_TX_MAX)
        return s_fail(&t, code, bad, err, "transaction exceeds the 4 MiB limit");
    t->tx = vl__transaction__unpack(NULL, len, bytes);
    if (!t->tx)
        return s_fail(&t, code, bad, err, "transaction is not a valid Transaction message");
    t->proposal = vl__proposal__unpack(NULL, t->tx->proposal.len, t->tx->proposal.data);
    if (!t->proposal || t->tx->proposal.len == 0)
        return s_fail(&t, code, bad, err, "transaction carries no valid proposal");
    t->result = vl__endorsed_result__unpack(NULL, t->tx->result.len, t->tx->result.data);
    if (!t->result || t->tx->result.len == 0)
        return s_fail(&t, code, bad, err, "transaction carries no valid endorsed result");
    if (t->proposal->creator.len != VL_PUBKEY_SIZE)
        return s_fail(&t, code, bad, err, "proposal creator is not a 32-byte public key");
    if (t->tx->proposal_signature.len != VL_SIG_SIZE)
        return s_fail(&t, code, VL__TX_CODE__TX_BAD_CREATOR_SIGNATURE, err,
                      "proposal signature is not 64 bytes");
    if (strcmp(t->proposal->chain_id, chain_id) != 0)
        return s_fail(&t, code, VL__TX_CODE__TX_WRONG_CHAIN, err,
                      "proposal is for another chain");
    tx_id(bytes, len, t->txid);
    if (t->result->txid.len != VL_HASH_SIZE
        || memcmp(t->result->txid.data, t->txid, VL_HASH_SIZE) != 0)
        return s_fail(&t, code, VL__TX_CODE__TX_TXID_MISMATCH, err,
                      "endorsed result belongs to another transaction");
    for (size_t i = 0; i < t->result->n_writes; i++) {
        const Vl__WriteItem *w = t->result->writes[i];
        size_t klen = strlen(w->key);
        if (klen == 0 || klen > VL_KEY_MAX || w->value.len > VL_VALUE_MAX)
            return s_fail(&t, code, bad, err, "write set holds an invalid key or value");
    }
    vl_did_from_public(t->proposal->creator.data, t->creator_did);
    *code = VL__TX_CODE__TX_VALID;
    *out = t;
    return 0;
}

int
tx_check_signatures(const tx_parsed_t *t, const members_t *members, const orgs_t *orgs,
                    sigcache_t *cache, org_set_t *endorsing, int *code, vl_err_t *err)
{
    const Vl__Transaction *tx = t->tx;
    if (!sigcache_verify(cache, t->proposal->creator.data, t->proposal->creator.len,
                         tx->proposal.data, tx->proposal.len, tx->proposal_signature.data,
                         tx->proposal_signature.len)) {
        *code = VL__TX_CODE__TX_BAD_CREATOR_SIGNATURE;
        return vl_err_set(err, VL_ERR_SIGNATURE, "creator signature does not verify");
    }
    org_set_t set = { { 0 } };
    uint8_t result_hash[VL_HASH_SIZE];
    vl_sha256(tx->result.data, tx->result.len, result_hash);
    for (size_t i = 0; i < tx->n_endorsements; i++) {
        const Vl__Endorsement *e = tx->endorsements[i];
        const member_t *m = members_find(members, e->endorser.data, e->endorser.len);
        if (!m || !m->endorser) {
            *code = VL__TX_CODE__TX_BAD_ENDORSER;
            return vl_err_set(err, VL_ERR_SIGNATURE, "endorsement %zu is by a key that is no "
                              "endorsing node of the network", i);
        }
        const org_t *org = orgs && m->org >= 0 && (size_t) m->org < orgs->count
                               ? &orgs->items[m->org] : NULL;
        if (e->org && e->org[0] && (!org || strcmp(e->org, org->name) != 0)) {
            *code = VL__TX_CODE__TX_BAD_ENDORSER;
            return vl_err_set(err, VL_ERR_SIGNATURE, "endorser %s speaks for organisation '%s', "
                              "not '%.63s'", m->did, org ? org->name : "(none)", e->org);
        }
        if (e->result_hash.len
            && (e->result_hash.len != VL_HASH_SIZE
                || memcmp(e->result_hash.data, result_hash, VL_HASH_SIZE) != 0)) {
            *code = VL__TX_CODE__TX_RESULT_MISMATCH;
            return vl_err_set(err, VL_ERR_SIGNATURE, "endorser %s signed another result than the "
                              "one the transaction carries", m->did);
        }
        if (!sigcache_verify(cache, e->endorser.data, e->endorser.len, tx->result.data,
                             tx->result.len, e->signature.data, e->signature.len)) {
            *code = VL__TX_CODE__TX_BAD_ENDORSEMENT;
            return vl_err_set(err, VL_ERR_SIGNATURE, "endorsement signature of %s does not verify",
                              m->did);
        }
        if (org)
            org_set_add(&set, m->org);
    }
    if (tx->n_endorsements == 0) {
        *code = VL__TX_CODE__TX_ENDORSEMENT_POLICY_FAILURE;
        return vl_err_set(err, VL_ERR_SIGNATURE, "transaction has no endorsement");
    }
    if (endorsing)
        *endorsing = set;
    *code = VL__TX_CODE__TX_VALID;
    return 0;
}

int
tx_build(const uint8_t *signed_proposal, size_t signed_len, const uint8_t *result,
         size_t result_len, const tx_endorsement_t *endorsements, size_t n, uint8_t **out,
         size_t *len, vl_err_t *err)
{
    Vl__SignedProposal *sp = vl__signed_proposal__unpack(NULL, signed_len, signed_proposal);
    if (!sp)
        return vl_err_set(err, VL_ERR_INVALID, "signed proposal does not decode");
    Vl__Endorsement *items = calloc(n ? n : 1, sizeof *items);
    Vl__Endorsement **list = calloc(n ? n : 1, sizeof *list);
    int rc = items && list ? 0 : vl_err_set(err, VL_ERR_NOMEM, "out of memory");
    uint8_t result_hash[VL_HASH_SIZE];
    vl_sha256(result, result_len, result_hash);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        vl__endorsement__init(&items[i]);
        items[i].endorser = (ProtobufCBinaryData) { VL_PUBKEY_SIZE,
                                                    (uint8_t *) endorsements[i].endorser };
        items[i].signature = (ProtobufCBinaryData) { VL_SIG_SIZE,
                                                     (uint8_t *) endorsements[i].signature };
        items[i].org = (char *) (endorsements[i].org ? endorsements[i].org : "");
        items[i].result_hash = (ProtobufCBinaryData) { VL_HASH_SIZE, result_hash };
        list[i] = &items[i];
    }
    if (rc == 0) {
        Vl__Transaction tx = VL__TRANSACTION__INIT;
        tx.proposal = sp->proposal;
        tx.proposal_signature = sp->signature;
        tx.result = (ProtobufCBinaryData) { result_len, (uint8_t *) result };
        tx.n_endorsements = n;
        tx.endorsements = list;
        *len = vl__transaction__get_packed_size(&tx);
        *out = malloc(*len ? *len : 1);
        if (!*out)
            rc = vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        else
            vl__transaction__pack(&tx, *out);
    }
    free(items);
    free(list);
    vl__signed_proposal__free_unpacked(sp, NULL);
    return rc;
}
