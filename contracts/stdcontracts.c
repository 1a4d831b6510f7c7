/*
 * stdcontracts.c — access to the embedded standard contracts and the contract
 * record format (stdcontracts.h). The data array is generated at build time
 * (embed.c -> stdlib_data.c).
 */
#include <jansson.h>

#include "json.h"
#include "stdcontracts.h"

extern const contracts_stdlib_entry_t contracts_stdlib_data[];
extern const size_t contracts_stdlib_count;

const contracts_stdlib_entry_t *
contracts_stdlib(size_t *count)
{
    if (count)
        *count = contracts_stdlib_count;
    return contracts_stdlib_data;
}

char *
contracts_record_json(const char *name, const char *source, const char *author_did,
                      int64_t version, const char *policy_json)
{
    if (!name || !source || !author_did)
        return NULL;
    json_t *policy = json_loads(policy_json ? policy_json : "{\"*\":\"any\"}", 0, NULL);
    if (!policy || !json_is_object(policy)) {
        json_decref(policy);
        return NULL;
    }
    json_t *rec = json_pack("{s:s, s:s, s:s, s:I, s:o}", "name", name, "source", source,
                            "author", author_did, "version", (json_int_t) version, "policy",
                            policy);
    if (!rec)
        return NULL;
    char *text = vl_json_canonical(rec);
    json_decref(rec);
    return text;
}
