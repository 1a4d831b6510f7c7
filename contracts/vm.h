/*
 * vm.h — the contract VM: runs one contract invocation in a deterministic,
 * metered, memory-capped Lua 5.4 sandbox against a read-only view of world
 * state, and returns the endorsed result (read set with versions, write set,
 * events, return value, gas used) as EndorsedResult bytes.
 *
 * Nothing here writes state: the write set is applied only by block commit.
 *
 * Thread rules: a vm_t is used by one thread at a time (a worker owns one).
 * Different vm_t's may run concurrently against the same ledger.
 *
 * What contracts see (details in host.c, sandbox.c, codec.c):
 *   - a refusal's error text is exactly the string given to error(msg) or
 *     vl.require(cond, msg) (no "chunk:line:" prefix); runtime errors keep
 *     Lua's "<contract>:<line>: ..." prefix; gas, memory and call-depth
 *     aborts read "out of gas: used N of limit M", "out of memory: ...",
 *     "call depth limit of 8 exceeded: a -> b -> ...", "reentrant call
 *     refused: a -> b -> a" and cannot be caught by pcall;
 *   - vl.caller() is the proposal creator's DID in the top-level contract
 *     and "contract:<name>" of the calling contract inside vl.call;
 *     vl.creator() is always the creator's DID;
 *   - vl.check_policy(text) is true, or false and the reason, from
 *     vm_config_t.policy_check;
 *   - vl.transfer(from, to, cents) moves integer cents between
 *     wallet/<DID> keys; `from` must be vl.creator() unless the running
 *     contract is a system contract (record author "genesis");
 *   - values crossing the boundary are JSON: integers, strings, booleans,
 *     tables (array iff keys are 1..n), vl.null; floats are refused; an
 *     empty table is [] unless it came from {} or went through vl.object.
 *
 * Status codes: VL_ERR_REFUSED (contract error or limit), VL_ERR_NOT_FOUND
 * (top-level contract or function missing), VL_ERR_INVALID (bad request:
 * names, args not a JSON object), VL_ERR_IO (state read failed),
 * VL_ERR_NOMEM. On any failure endorsed is NULL and gas_used is still set.
 */
#ifndef VL_VM_H
#define VL_VM_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "ledger.h"
#include "types.h"

typedef struct vm_t vm_t;

/* Read access to committed world state. The VM calls get for each key a
 * contract reads (and for contract source, `contract/<name>`), range for
 * vl.range(prefix). The values are as in ledger_get / ledger_range. */
typedef struct {
    void *ctx;
    int (*get)(void *ctx, const char *key, char **value, size_t *len, vl_version_t *version);
    int (*range)(void *ctx, const char *prefix, size_t limit, ledger_range_fn fn, void *arg);
} vm_state_t;

/* A state view straight over a ledger (borrowed; must outlive the view). */
vm_state_t vm_state_of_ledger(ledger_t *ledger);

typedef struct {
    const char *contract;        /* contract name, e.g. "vehicle" */
    const char *function;        /* function in it */
    const char *args_json;       /* JSON object text */
    const char *caller_did;      /* proposal creator's DID: vl.caller() at the top */
    const uint8_t *txid;         /* 32 bytes; vl.txid() */
    int64_t now_ms;              /* proposal timestamp; vl.now() */
    uint64_t gas_limit;          /* 0 = default; capped by the VM's maximum */
} vm_request_t;

typedef struct {
    int status;                  /* 0, or VL_ERR_REFUSED (contract error / limit hit),
                                    VL_ERR_INVALID (bad request), VL_ERR_NOT_FOUND (no
                                    such contract or function), VL_ERR_IO */
    char error[512];             /* when status != 0: names the cause */
    uint8_t *endorsed;           /* owned: packed Vl__EndorsedResult (txid filled) */
    size_t endorsed_len;
    char *result_json;           /* owned: the return value as canonical JSON */
    uint64_t gas_used;
} vm_result_t;

/* Checks one endorsement-policy expression (vl.check_policy): returns 0
 * when text parses, nonzero otherwise with a NUL-terminated reason of at
 * most size bytes in msg. Must be deterministic and pure (it runs inside
 * contract execution, on every endorser alike) and thread-safe (VMs run on
 * several workers). The node passes the policy language's parser
 * (consensus/policy.h, policy_parse); contracts/ does not depend on it. */
typedef int (*vm_policy_check_fn)(const char *text, char *msg, size_t size);

typedef struct {
    uint64_t gas_default;        /* per proposal when the proposal gives 0 */
    uint64_t gas_max;            /* network maximum from genesis */
    size_t memory_max_bytes;     /* per execution */
    int fresh_state;             /* 1 = new lua_State per execution */
    vm_policy_check_fn policy_check; /* NULL: vl.check_policy answers false,
                                        "policy checks are not available" */
} vm_config_t;

/* Defaults: 2,000,000 gas, max 20,000,000, 16 MiB, reused state, no policy
 * checker. */
vm_config_t vm_config_default(void);

vm_t *vm_new(const vm_config_t *config);
void vm_destroy(vm_t **self_p);

/* Runs req against state. Always fills *out (status, error or result);
 * release it with vm_result_clear. Returns out->status. */
int vm_execute(vm_t *vm, const vm_state_t *state, const vm_request_t *req, vm_result_t *out);

void vm_result_clear(vm_result_t *result);

/* Interpreter identity, e.g. "lua-5.4.4/vl-2" (vl-N counts changes to
 * the host API: vl-2 added vl.check_policy): recorded in every result. */
const char *vm_version(void);
#endif
