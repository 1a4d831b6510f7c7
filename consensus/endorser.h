/*
 * endorser.h — step 2 of execute-order-validate (DESIGN §3): check a signed
 * proposal, run its contract against this node's committed state, and sign
 * the result. Nothing is written: the result only takes effect if it is
 * ordered into a block and passes validation.
 */
#ifndef VL_ENDORSER_H
#define VL_ENDORSER_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "error.h"
#include "ledger.h"
#include "orgs.h"
#include "requirement.h"
#include "sigcache.h"
#include "vm.h"

/* How far a proposal's timestamp may be from the endorser's clock. It is the
 * contract's notion of "now", so a wildly wrong one is refused. */
#define ENDORSER_CLOCK_SKEW_MS (10 * 60 * 1000)

typedef struct {
    uint8_t txid[VL_HASH_SIZE];
    uint8_t *result;               /* owned: EndorsedResult bytes */
    size_t result_len;
    uint8_t signature[VL_SIG_SIZE];/* endorser's signature over result */
    char *result_json;             /* owned: the function's return value */
    uint64_t gas_used;
} endorsement_t;

typedef struct {
    const char *chain_id;          /* borrowed */
    const vl_key_t *key;           /* borrowed: the endorser's identity */
    ledger_t *ledger;              /* borrowed: committed state */
    vm_t *vm;                      /* borrowed: used by this thread only */
    sigcache_t *sigcache;          /* borrowed, may be NULL */
    int64_t now_ms;                /* endorser's wall clock */
    const orgs_t *orgs;            /* borrowed; NULL: no requirement is resolved (the
                                      result's read set is the contract's alone) */
    requirement_cache_t *policies; /* borrowed, may be NULL */
} endorser_ctx_t;

/* Endorses a SignedProposal: the contract runs against committed state;
 * then (with orgs) the transaction's endorsement requirement is resolved
 * against the same state (requirement.h) and every key that read is added
 * to the read set signed, so validation can check the policy was judged on
 * current state. Returns 0 and fills *out, or:
 * VL_ERR_INVALID (malformed / wrong chain / clock skew), VL_ERR_SIGNATURE,
 * VL_ERR_EXISTS (txid already committed valid), VL_ERR_REFUSED or
 * VL_ERR_NOT_FOUND (the contract refused, or the policy cannot be resolved;
 * err holds the message), VL_ERR_CONFLICT (a block committed while
 * endorsing changed what the policy read: try again), VL_ERR_IO. */
int endorser_endorse(const endorser_ctx_t *ctx, const uint8_t *signed_proposal, size_t len,
                     endorsement_t *out, vl_err_t *err);

void endorsement_clear(endorsement_t *e);
#endif
