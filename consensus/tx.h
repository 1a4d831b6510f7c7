/*
 * tx.h — a transaction taken apart and checked, as the mempool (at submit)
 * and the validator (at commit) both need it.
 *
 * tx_parse checks shape only: the Transaction, its Proposal and its
 * EndorsedResult unpack; the chain id is ours; the result is for this
 * proposal (txid); sizes are within limits. tx_check_signatures checks the
 * creator's signature and each endorsement (its signer an endorsing node of
 * the organisation it claims, the result it signed the one the transaction
 * carries, its signature valid), through the signature cache, and gives the
 * set of organisations that endorsed; whether that set satisfies the
 * transaction's policies is validation's business (policy.h).
 */
#ifndef VL_TX_H
#define VL_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "did.h"
#include "error.h"
#include "members.h"
#include "orgs.h"
#include "sigcache.h"
#include "vledger.pb-c.h"

/* The one txid rule. A transaction is named by SHA-256 of its proposal
 * bytes (field 1 of the Transaction message, the last occurrence as
 * protobuf decoders take it) when its bytes are a well-formed protobuf
 * message at the top level carrying a non-empty proposal; otherwise by
 * SHA-256 of the bytes themselves. Validation, the tx index, the mempool,
 * block.get, tx.get and the event topics all name transactions through this
 * function and nothing else, so every id one of them shows the others find.
 * Returns true when the id is a proposal id. Pure, thread-safe, no
 * allocation. */
bool tx_id(const uint8_t *bytes, size_t len, uint8_t out[VL_HASH_SIZE]);

typedef struct {
    Vl__Transaction *tx;          /* owned (unpacked) */
    Vl__Proposal *proposal;       /* owned (unpacked from tx->proposal) */
    Vl__EndorsedResult *result;   /* owned (unpacked from tx->result) */
    uint8_t txid[VL_HASH_SIZE];   /* SHA-256 of the proposal bytes */
    char creator_did[VL_DID_BUF];
} tx_parsed_t;

/* Parses bytes into *out (owned by the caller, release with tx_destroy);
 * (*out)->txid is tx_id(bytes). On failure *out is untouched and *code is
 * always set: VL_ERR_INVALID with the Vl__TxCode of the defect, or
 * VL_ERR_NOMEM with *code = TX_MALFORMED (nothing was judged; the caller
 * must not treat the tx as valid). */
int tx_parse(const uint8_t *bytes, size_t len, const char *chain_id, tx_parsed_t **out,
             int *code, vl_err_t *err);

/* Checks signatures as described above; orgs (may be NULL: no
 * organisations, as in some unit tests) names each member's organisation.
 * Returns 0 with *endorsing (may be NULL) = the endorsing organisations, or
 * VL_ERR_SIGNATURE with *code = TX_BAD_CREATOR_SIGNATURE, TX_BAD_ENDORSER
 * (no endorsing node, or not of the organisation it names),
 * TX_RESULT_MISMATCH (it signed another result), TX_BAD_ENDORSEMENT (bad
 * signature) or TX_ENDORSEMENT_POLICY_FAILURE (no endorsement at all). */
int tx_check_signatures(const tx_parsed_t *tx, const members_t *members, const orgs_t *orgs,
                        sigcache_t *cache, org_set_t *endorsing, int *code, vl_err_t *err);

void tx_destroy(tx_parsed_t **self_p);

/* One organisation's endorsement as the gateway assembles it (borrowed). */
typedef struct {
    const uint8_t *endorser;      /* 32-byte public key */
    const uint8_t *signature;     /* 64 bytes, over the result */
    const char *org;              /* the organisation it speaks for */
} tx_endorsement_t;

/* A Transaction from a SignedProposal, the one result every endorser
 * signed, and their endorsements (each naming its organisation and the
 * result's hash). *out malloc'd. VL_ERR_INVALID (proposal does not
 * decode), VL_ERR_NOMEM. */
int tx_build(const uint8_t *signed_proposal, size_t signed_len, const uint8_t *result,
             size_t result_len, const tx_endorsement_t *endorsements, size_t n, uint8_t **out,
             size_t *len, vl_err_t *err);

/* Printable name of a Vl__TxCode ("VALID", "MVCC_CONFLICT", ...). */
const char *tx_code_name(int code);
#endif
