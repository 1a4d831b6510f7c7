/*
 * requirement.h — what a transaction's endorsements must satisfy
 * (docs/trust.md, "Endorsement policies"): the contract record's policy for
 * the called function, the written keys' own policies and the ledger's
 * guards, resolved (policy.h, policy_resolve_tx) as of a state. One
 * function serves the three places that ask:
 *
 *   - the endorser, which adds every key the resolution read to the read
 *     set it signs, so MVCC covers a change of owner between endorsement and
 *     commit;
 *   - the gateway, which plans whom to ask (policy_plan);
 *   - validation, which judges the endorsing organisations
 *     (policy_satisfied) after checking the resolution read nothing the
 *     endorsed result does not list at the same version.
 *
 * The function's policy is record.policy[function], else record.policy["*"],
 * else "any", from contract/<name>. Parsed policies are cached by contract
 * name and record version (a record's policy never changes without its
 * version), so a busy node parses each once; the cache is bounded and
 * thread-safe (the endorser runs on the worker pool, validation and the
 * gateway on the loop thread).
 */
#ifndef VL_REQUIREMENT_H
#define VL_REQUIREMENT_H

#include <stddef.h>

#include "error.h"
#include "orgs.h"
#include "policy.h"
#include "vledger.pb-c.h"

#define REQUIREMENT_CACHE_MAX 256     /* (contract, version, function) entries */

typedef struct requirement_cache_t requirement_cache_t;

/* NULL when out of memory. */
requirement_cache_t *requirement_cache_new(void);
void requirement_cache_destroy(requirement_cache_t **self_p);

typedef struct {
    policy_get_fn get;                /* world state as of the transaction */
    void *ctx;
    const orgs_t *orgs;               /* borrowed */
    requirement_cache_t *cache;       /* borrowed, may be NULL (no caching) */
} requirement_env_t;

/* Resolves what a transaction of proposal p (creator creator_did) with
 * the endorsed result r must satisfy, into *out (owned by the caller,
 * release with policy_resolved_destroy). Errors: VL_ERR_REFUSED with the
 * principal that cannot be resolved or an unknown contract;
 * VL_ERR_CORRUPT (a stored record or policy that does not parse); the
 * errors of policy_resolve_tx; VL_ERR_NOMEM; env->get's I/O errors. */
int requirement_resolve(const requirement_env_t *env, const Vl__Proposal *p,
                        const char *creator_did, const Vl__EndorsedResult *r,
                        policy_resolved_t **out, vl_err_t *err);

/* True when every key the resolution read is in r's read set with the
 * same existence and version; else false with the first one that is not
 * in *why (may be NULL). */
bool requirement_reads_covered(const policy_resolved_t *resolved, const Vl__EndorsedResult *r,
                               vl_err_t *why);
#endif
