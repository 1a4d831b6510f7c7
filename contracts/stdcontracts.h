/*
 * stdcontracts.h — the standard contracts shipped inside the binary
 * (contracts/lib/<name>.lua, embedded at build time by contracts/embed.c), and
 * the record format of a deployed contract.
 *
 * The node writes one record per entry into state at genesis, under
 * `contract/<name>`, with author "genesis" and version 1. A contract whose
 * record author is "genesis" is a system contract (see vl.transfer).
 */
#ifndef VL_STDCONTRACTS_H
#define VL_STDCONTRACTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *name;         /* e.g. "vehicle" */
    const char *source;       /* Lua text, NUL terminated */
    const char *policy_json;  /* endorsement policy per function, JSON object */
} contracts_stdlib_entry_t;

/* The standard contracts, in a fixed order; borrowed, static. */
const contracts_stdlib_entry_t *contracts_stdlib(size_t *count);

/* The JSON document stored at contract/<name>:
 * {"author","name","policy","source","version"} (canonical JSON). policy_json
 * NULL means {"*":"any"}. Returns NULL if policy_json is not a JSON object or
 * on allocation failure. Caller frees. */
char *contracts_record_json(const char *name, const char *source, const char *author_did,
                            int64_t version, const char *policy_json);
#endif
