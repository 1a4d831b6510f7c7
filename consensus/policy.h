/*
 * policy.h — endorsement policies (DESIGN §3, "Endorsement policies";
 * docs/trust.md): the language, its resolution against world state to
 * organisations together with the ledger's own guards on what a transaction
 * writes, and the two questions asked of a resolved policy — is it
 * satisfied by these endorsing organisations (validation, the gateway's
 * assembly), and which organisations should be asked (the gateway's plan).
 *
 * Pure decision logic: no sockets, no clock, no logging. State is read only
 * through the caller's get callback (the shape of contracts/vm.h's
 * vm_state_t.get), so the same code runs at the gateway, at an endorser and
 * in block validation, against whatever view of state each has.
 *
 * ── Grammar (EBNF; ws = { " " | "\t" | "\r" | "\n" } may appear between
 *    any two tokens, and nowhere inside a name) ──────────────────────────
 *
 *   policy    = ws expr ws ;
 *   expr      = gate | principal ;
 *   gate      = ( "all" | "any" ) "(" list ")"
 *             | "k_of" "(" k "," list ")" ;
 *   list      = expr { "," expr } ;
 *   k         = digit { digit } ;                 (1 <= k <= entries)
 *   principal = fixed | ( "owner" | "lienholder" | "vehicle" ":" field
 *                         | "arg" ":" field ) [ "?" ] ;
 *   fixed     = "role" ":" role | "org" ":" org | "id" ":" did | "creator"
 *             | "any" ;
 *   role      = one of ORG_ROLE_LIST (consensus/orgs.h) ;
 *   org       = ( "a".."z" | "0".."9" | "_" | "-" ) × 1..63 ;
 *   did       = "did:vl:" hex × 40 ;
 *   field     = name { "." name } ;               (at most 63 bytes)
 *   name      = ( "A".."Z" | "a".."z" | "0".."9" | "_" ) × 1.. ;
 *
 * `any` followed by "(" is the combinator, otherwise the principal. Only
 * `owner`, `lienholder`, `vehicle:` and `arg:` may carry "?": they are the
 * principals that can legitimately name nothing; a fixed principal that
 * names nothing is a mistake in the policy, and is refused rather than
 * silently dropped. `owner` means the same as `vehicle:owner` and
 * `lienholder` the same as `vehicle:financing.lender`; each keeps the
 * spelling it was written with (canonical text is never rewritten).
 * Limits: POLICY_TEXT_MAX bytes of text, POLICY_NODES_MAX principals and
 * combinators, combinators nested at most POLICY_DEPTH_MAX deep.
 *
 * Canonical text (policy_text): the same tree with no whitespace, k in
 * decimal without leading zeros, e.g. "all(owner,arg:buyer,lienholder?)".
 * Parsing the canonical text gives the same tree and the same text.
 *
 * ── Meaning ─────────────────────────────────────────────────────────────
 *
 * Each principal resolves (policy_resolve) to a set of candidate
 * organisations, any one of which satisfies it:
 *   role:<r>    every organisation holding role r (at least one must)
 *   org:<name>  that organisation
 *   id:<DID>    the organisation of identity DID: did/<DID> field "org"
 *   creator     the organisation of the proposal's creator identity
 *               (policy_env_t.creator_did), as id:<creator DID>
 *   vehicle:<p> the organisation of the identity whose DID is at dotted
 *               path p of the document vehicle/<VIN>, where VIN is args.vin
 *               (or policy_env_t.vin, or the key's own VIN for a key policy,
 *               see policy_resolve_tx), e.g. vehicle:title.issuer
 *   owner       vehicle:owner
 *   lienholder  vehicle:financing.lender
 *   arg:<f>     args.<f> (a dotted field walks nested objects:
 *               arg:finance.lender) is a DID: that identity's organisation;
 *               or an organisation's name: that organisation
 *   any         every organisation of the network
 * all(...) needs every entry, any(...) one, k_of(k, ...) k of them.
 *
 * The vehicle fields `owner` and `financing.lender` have the shape the
 * vehicle schema fixes: a registered vehicle always has an owner DID (a
 * missing or malformed one is VL_ERR_CORRUPT state), and a financing that
 * is not an object, or a lender that is not a DID, is corrupt too. Any
 * other path is the policy's own choice, so a value there that is not a
 * DID (or an object on the way that is not an object) is VL_ERR_REFUSED.
 *
 * Optional principals ("?") drop out when they name nothing: args.vin or
 * the argument is missing or null, the vehicle is not registered, or the
 * vehicle path holds nothing or null (no financing, financing without a
 * lender). When they name something that cannot be resolved (a DID that is
 * not registered, an identity with no organisation, a name no organisation
 * has), resolution fails exactly as for a required principal: "?" means
 * "if there is one", never "if it happens to check out".
 * A dropped entry is removed from its combinator: all/any count only the
 * remaining entries, and k_of's k is capped at the number remaining (with
 * no lien, k_of(2, owner, lienholder?) is just owner). A combinator whose
 * entries all dropped drops itself. A policy that drops entirely still
 * needs one endorsement from any organisation, because a transaction
 * without an endorsement has no executed result to commit.
 *
 * Organisations, not signatures, satisfy principals: one organisation's
 * endorsement satisfies every principal that resolves to it (with
 * all(owner, arg:buyer), one endorsement suffices when owner and buyer
 * belong to the same organisation). An endorsement is one organisation's
 * statement about the result, and an organisation runs one node, so there
 * is no second signature from it to ask for. k_of therefore counts
 * satisfied entries, not distinct organisations. (Fabric's cauthdsl spends
 * each signature on one principal; with one node per organisation that
 * would make such policies unsatisfiable.)
 *
 * ── The ledger's own guards (docs/trust.md, "Endorsement policies" 3) ────
 *
 * policy_resolve_tx adds, for what a transaction writes, requirements that
 * no function or key policy can waive (see policy_resolve_tx for the exact
 * rules): a write to a vehicle without a key policy needs its owner's
 * organisation, a write that lowers a wallet needs its identity's
 * organisation, and a write to an identity needs the organisation it
 * belongs to and the one it moves to. Each guard names one organisation;
 * a message about a missing guard says why, e.g. "needs an endorsement
 * from org 'bank' (wallet/did:vl:… is debited)".
 *
 * ── Ownership and errors ────────────────────────────────────────────────
 *
 * policy_t and policy_resolved_t are opaque, owned by the caller, released
 * with their _destroy (which accept NULL and null the pointer). A resolved
 * policy borrows env->orgs, which must outlive it; it owns everything else
 * (its copy of the policies, the read keys).
 *
 * Every fallible function returns 0 or a negative VL_ERR_* and leaves its
 * outputs untouched on failure, with one bounded line in *err (may be NULL):
 *   policy_parse: VL_ERR_INVALID (syntax, unknown principal/role, bad
 *     name, bad k) or VL_ERR_LIMIT (length, depth, node count); the message
 *     starts "policy: " and ends with the 1-based byte position,
 *     e.g. "policy: unknown principal 'ownr' at 5".
 *   policy_resolve / policy_resolve_tx: VL_ERR_REFUSED when a principal
 *     or a guard cannot be resolved ("policy principal 'owner': vehicle V
 *     is not registered", "policy guard for did/D: its new 'org' 'x' is
 *     not an organisation of the network"), VL_ERR_INVALID when args_json
 *     is not a JSON object, env->vin is not a VIN, env->creator_did is not
 *     a DID, or a written value a guard must read is not what its key
 *     holds (a wallet that is not a JSON integer, an identity that is not
 *     a JSON object), VL_ERR_CORRUPT when a state document is not the JSON
 *     expected or a key's stored policy does not parse, VL_ERR_LIMIT past
 *     the limits below, VL_ERR_NOMEM, and any other error of env->get as
 *     is (VL_ERR_IO).
 *
 * Thread rules: none of its own. A policy_t is immutable after parsing and
 * may be shared read-only between threads; so may a policy_resolved_t.
 */
#ifndef VL_POLICY_H
#define VL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "orgs.h"
#include "types.h"

#define POLICY_TEXT_MAX 1024        /* bytes of policy text */
#define POLICY_NODES_MAX 64         /* principals + combinators in one policy */
#define POLICY_DEPTH_MAX 8          /* combinators nested in one another */
#define POLICY_KEY_PARTS_MAX 32     /* distinct key policies in one transaction */
#define POLICY_WRITES_MAX 4096      /* writes passed to policy_resolve_tx
                                       (= the VM's VM_WRITES_MAX) */
#define POLICY_WRITE_BYTES_MAX (2 * 1024 * 1024)  /* bytes of their keys and
                                       values (= VM_WRITESET_BYTES_MAX) */
#define POLICY_GUARDS_MAX ORGS_MAX  /* guards kept for one transaction: one per
                                       organisation, so never past this */

/* The top-level field of a state document that holds the key's own policy
 * (text in this language), e.g. in vehicle/<VIN>. See policy_resolve_tx. */
#define POLICY_KEY_FIELD "endorsement_policy"

typedef struct policy_t policy_t;
typedef struct policy_resolved_t policy_resolved_t;

/* Parses text (NUL-terminated) into a new policy in *out. Errors as in the
 * file comment; *out is untouched on failure. */
int policy_parse(const char *text, policy_t **out, vl_err_t *err);

void policy_destroy(policy_t **self_p);

/* Whether text parses: 0, or the parse error's code with its message in
 * msg (size bytes). The shape of vm_config_t.policy_check, so the contract
 * VM can check policies (contract.deploy, vehicle.set_policy) without
 * depending on this layer. */
int policy_check(const char *text, char *msg, size_t size);

/* Canonical text; borrowed, valid until policy_destroy. */
const char *policy_text(const policy_t *policy);

/* Reads one state value: 0 with *value malloc'd (freed by the caller with
 * free), *len and *version set; VL_ERR_NOT_FOUND when absent; any other
 * negative code is an environment failure and is returned as is. The same
 * contract as vm_state_t.get, so a vm_state_t's ctx and get can be passed. */
typedef int (*policy_get_fn)(void *ctx, const char *key, char **value, size_t *len,
                             vl_version_t *version);

/* What a policy is resolved against. All pointers are borrowed for the call
 * (orgs: for the life of the resolved policy). */
typedef struct {
    void *ctx;                  /* passed to get */
    policy_get_fn get;          /* world state as of the transaction */
    const char *args_json;      /* the proposal's args, a JSON object; NULL = {} */
    const orgs_t *orgs;         /* the network's organisations */
    const char *vin;            /* NULL: owner/lienholder/vehicle: use args.vin;
                                   else this VIN (a call that knows the vehicle
                                   another way) */
    const char *creator_did;    /* the proposal creator's DID, for `creator`;
                                   NULL: none (then `creator` is refused) */
} policy_env_t;

/* One write of the transaction's write set, as its execution produced it
 * (vm.h's write set, an EndorsedResult's WriteItem). Borrowed for the call. */
typedef struct {
    const char *key;            /* NUL-terminated world-state key */
    const uint8_t *value;       /* len bytes written; ignored when is_delete */
    size_t len;
    bool is_delete;             /* the write removes key */
} policy_write_t;

/* One state key read during resolution. */
typedef struct {
    const char *key;            /* borrowed from the resolved policy */
    bool found;                 /* false: the key was absent (version is {0,0}) */
    vl_version_t version;       /* the version read when found */
} policy_read_t;

/* Resolves policy against env into a new *out. Every key read is recorded
 * (policy_resolved_read), so the caller can add them to the transaction's
 * read set: then MVCC refuses the transaction if, say, the vehicle changed
 * owner between endorsement and commit. Errors as in the file comment, e.g.
 * "policy principal 'arg:buyer': identity did:vl:… is not registered". */
int policy_resolve(const policy_t *policy, const policy_env_t *env, policy_resolved_t **out,
                   vl_err_t *err);

/* Everything a transaction with the write set writes[0..n_writes) must
 * satisfy: the function's policy, the keys' own policies (state-based
 * endorsement, as Fabric's key-level endorsement) and the ledger's guards.
 * State (env->get) is as of the transaction, i.e. before its writes.
 *
 * Key policies. For each written key the current document is read and
 * recorded; when it is a JSON object with a string field POLICY_KEY_FIELD,
 * that text is the key's own policy. Then:
 *   - each distinct key policy must be satisfied, instead of the
 *     function's, for that key; `owner`, `lienholder` and `vehicle:` in the
 *     policy of vehicle/<VIN> refer to that VIN (whatever args.vin says),
 *     in other keys' policies to env->vin / args.vin as usual;
 *   - function_policy must be satisfied too if some written key has no
 *     policy of its own, or nothing is written at all; when every written
 *     key has its own policy, the function's is not resolved (and its
 *     principals need not resolve).
 * Consequences, as in Fabric: setting a key's first policy needs the
 * function's policy (the key has none yet), and changing or removing it
 * needs the current one (the write is checked against the stored policy,
 * not the one being written).
 *
 * Guards, required in addition whatever those policies say (each needs the
 * one organisation named; VIN and DID as in the grammar above; keys of any
 * other shape carry no guard):
 *   - vehicle/<VIN> written (or deleted) while its current document has no
 *     key policy: the current owner's organisation (as `owner` for that
 *     VIN); a vehicle not registered yet has no guard (creating one is the
 *     function policy's business).
 *   - wallet/<DID> lowered: the organisation of identity DID (as id:<DID>).
 *     The written value must be a JSON integer; a delete writes 0; the
 *     current value is read (absent: 0). Equal or higher values, and a
 *     delete of a wallet holding 0 or less, carry no guard.
 *   - did/<DID> written (or deleted): the organisation named by the
 *     current document's "org", when it exists and names one; and when the
 *     written document (a JSON object) names an "org" other than that one
 *     (or there was none, e.g. a new identity), that organisation too.
 * Every key a guard reads is recorded like the others. Guards naming the
 * same organisation are one requirement (the first write's reason is kept).
 *
 * The result is the conjunction of those parts; policy_satisfied and
 * policy_plan treat it as one policy, reporting the function's policy
 * first, then the key policies, then the guards.
 *
 * Errors as policy_resolve, with a message prefixed by the key for a key
 * policy ("key vehicle/V: policy principal 'owner': ...") and naming the
 * guard for a guard ("policy guard for wallet/D: identity D is not
 * registered"); a stored policy that does not parse is VL_ERR_CORRUPT; a
 * wallet write whose value is not a JSON integer, or an identity write
 * that is not a JSON object, is VL_ERR_INVALID; a new "org" that is not an
 * organisation of the network is VL_ERR_REFUSED; more than
 * POLICY_KEY_PARTS_MAX distinct key policies, POLICY_WRITES_MAX writes or
 * POLICY_WRITE_BYTES_MAX bytes of keys and values is VL_ERR_LIMIT.
 * policy_resolve(p, env, out, err) is policy_resolve_tx(p, NULL, 0, ...). */
int policy_resolve_tx(const policy_t *function_policy, const policy_write_t *writes,
                      size_t n_writes, const policy_env_t *env, policy_resolved_t **out,
                      vl_err_t *err);

void policy_resolved_destroy(policy_resolved_t **self_p);

/* The keys read while resolving, each once, in the order first read. */
size_t policy_resolved_read_count(const policy_resolved_t *resolved);

/* The i-th read (i < policy_resolved_read_count); borrowed, valid until
 * policy_resolved_destroy. */
const policy_read_t *policy_resolved_read(const policy_resolved_t *resolved, size_t i);

/* True when the organisations in endorsing satisfy the resolved policy.
 * When false and why is non-NULL, why says the first part missing, e.g.
 * "needs an endorsement from org 'lender1' (lienholder)" or "needs 2 of
 * k_of(2,org:a,org:b,org:c), has 1"; a key policy's message starts with
 * "key <key>: "; a guard's says why the organisation is needed: "needs an
 * endorsement from org 'bank' (wallet/did:vl:… is debited)". Indices
 * outside the network are ignored. */
bool policy_satisfied(const policy_resolved_t *resolved, const org_set_t *endorsing,
                      vl_err_t *why);

/* A smallest set of organisations whose endorsements satisfy the resolved
 * policy (guards included), into *out; returns its size (>= 1 when the
 * network has an organisation). Among the smallest sets it takes one with preferred_org
 * (the gateway's own; -1 for none) if there is one, and otherwise breaks
 * ties towards lower indices, so every gateway plans the same way. Exact
 * for the policies we write (the search collapses interchangeable
 * organisations first, and takes as given the organisations a guard, or a
 * part that is a single principal with one candidate, forces, so many
 * guards do not widen it); past a fixed search budget it falls back to a
 * greedy plan, which always satisfies the policy but may not be smallest. */
size_t policy_plan(const policy_resolved_t *resolved, int preferred_org, org_set_t *out);
#endif
