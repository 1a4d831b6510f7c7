/* genesis.c — genesis document I/O and block 0. */
#include "genesis.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block.h"
#include "codec.h"
#include "json.h"
#include "stdcontracts.h"
#include "vm.h"

const org_t *
genesis_org_of(const genesis_t *g, const member_t *m)
{
    return m && m->org >= 0 && (size_t) m->org < g->orgs.count ? &g->orgs.items[m->org] : NULL;
}

static json_t *
s_roles_json(const org_t *o)
{
    json_t *roles = json_array();
    for (size_t r = 0; r < o->role_count; r++)
        json_array_append_new(roles, json_string(org_role_name(o->roles[r])));
    return roles;
}

static json_t *
s_to_json(const genesis_t *g)
{
    json_t *orgs = json_array();
    for (size_t i = 0; i < g->orgs.count; i++)
        json_array_append_new(orgs, json_pack("{s:s, s:o}", "name", g->orgs.items[i].name,
                                              "roles", s_roles_json(&g->orgs.items[i])));
    json_t *members = json_array();
    for (size_t i = 0; i < g->members.count; i++) {
        const member_t *m = &g->members.items[i];
        const org_t *o = genesis_org_of(g, m);
        char *b64 = vl_base64_encode(m->public_key, VL_PUBKEY_SIZE);
        json_t *j = json_pack("{s:s, s:s, s:s, s:b, s:b}", "name", m->name, "public_key", b64,
                              "did", m->did, "validator", m->validator, "endorser", m->endorser);
        if (o)
            json_object_set_new(j, "org", json_string(o->name));
        json_array_append_new(members, j);
        free(b64);
    }
    return json_pack("{s:s, s:I, s:I, s:o, s:o}", "chain_id", g->chain_id, "timestamp_ms",
                     (json_int_t) g->timestamp_ms, "gas_max", (json_int_t) g->gas_max,
                     "organisations", orgs, "members", members);
}

/* "organisations": [{name, roles: [...]}] into g->orgs. */
static int
s_load_orgs(json_t *doc, const char *path, genesis_t *g, vl_err_t *err)
{
    json_t *orgs = json_object_get(doc, "organisations");
    if (!json_is_array(orgs) || json_array_size(orgs) == 0)
        return vl_err_set(err, VL_ERR_INVALID, "genesis %s: 'organisations' must be a non-empty "
                          "array of {name, roles} (docs/trust.md)", path);
    size_t i;
    json_t *o;
    json_array_foreach(orgs, i, o) {
        json_t *roles = json_object_get(o, "roles");
        const char *name = json_string_value(json_object_get(o, "name"));
        const char *list[ORG_ROLES_MAX];
        size_t n = json_array_size(roles);
        if (!json_is_object(o) || !name || !json_is_array(roles) || n > ORG_ROLES_MAX)
            return vl_err_set(err, VL_ERR_INVALID, "genesis %s: organisation %zu needs a name "
                              "and an array of at most %d roles", path, i, ORG_ROLES_MAX);
        for (size_t r = 0; r < n; r++) {
            list[r] = json_string_value(json_array_get(roles, r));
            if (!list[r])
                return vl_err_set(err, VL_ERR_INVALID, "genesis %s: organisation '%s': roles "
                                  "must be strings", path, name);
        }
        vl_err_t e;
        if (orgs_add(&g->orgs, name, list, n, &e) != 0)
            return vl_err_set(err, VL_ERR_INVALID, "genesis %s: %s", path, e.msg);
    }
    return 0;
}

void
genesis_defaults(genesis_t *g)
{
    memset(g, 0, sizeof *g);
    g->gas_max = vm_config_default().gas_max;
}

int
genesis_save(const genesis_t *g, const char *path, vl_err_t *err)
{
    json_t *doc = s_to_json(g);
    char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    if (!text)
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(text);
        return vl_err_set(err, errno == EEXIST ? VL_ERR_EXISTS : VL_ERR_IO,
                          "cannot create %s: %s", path, strerror(errno));
    }
    size_t n = strlen(text);
    bool ok = write(fd, text, n) == (ssize_t) n && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    free(text);
    if (!ok) {
        unlink(path);
        return vl_err_set(err, VL_ERR_IO, "cannot write %s", path);
    }
    return 0;
}

bool
genesis_chain_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > GENESIS_CHAIN_ID_MAX)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
            return false;
    return true;
}

int
genesis_load(const char *path, genesis_t *out, vl_err_t *err)
{
    json_error_t jerr;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return vl_err_set(err, access(path, R_OK) == 0 ? VL_ERR_INVALID : VL_ERR_IO,
                          "cannot read genesis %s: %s (line %d)", path, jerr.text, jerr.line);
    genesis_t g;
    memset(&g, 0, sizeof g);
    int rc = VL_ERR_INVALID;
    const char *chain = NULL;
    int64_t ts = 0, gas = 0;
    vl_err_t e;
    json_t *members = json_object_get(doc, "members");
    if (!json_is_object(doc) || vl_json_get_str(doc, "chain_id", true, &chain, &e) != 0
        || vl_json_get_int(doc, "timestamp_ms", true, &ts, &e) != 0
        || vl_json_get_int(doc, "gas_max", true, &gas, &e) != 0) {
        vl_err_set(err, rc, "genesis %s: %s", path, json_is_object(doc) ? e.msg : "not an object");
        goto done;
    }
    if (!genesis_chain_id_valid(chain) || ts <= 0 || gas <= 0) {
        vl_err_set(err, rc, "genesis %s: chain_id must be 1-64 characters of a-z 0-9 - _, "
                            "timestamp_ms and gas_max positive", path);
        goto done;
    }
    if (!json_is_array(members) || json_array_size(members) == 0) {
        vl_err_set(err, rc, "genesis %s: 'members' must be a non-empty array", path);
        goto done;
    }
    if (s_load_orgs(doc, path, &g, err) != 0)
        goto done;
    snprintf(g.chain_id, sizeof g.chain_id, "%s", chain);
    g.timestamp_ms = ts;
    g.gas_max = (uint64_t) gas;
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m) {
        const char *name = NULL, *key = NULL, *org = NULL;
        bool validator = false, endorser = false;
        uint8_t *pub = NULL;
        size_t pub_len = 0;
        if (!json_is_object(m) || vl_json_get_str(m, "name", true, &name, &e) != 0
            || vl_json_get_str(m, "public_key", true, &key, &e) != 0
            || vl_json_get_str(m, "org", true, &org, &e) != 0
            || vl_json_get_bool(m, "validator", false, &validator, &e) != 0
            || vl_json_get_bool(m, "endorser", false, &endorser, &e) != 0
            || vl_base64_decode(key, &pub, &pub_len) != 0 || pub_len != VL_PUBKEY_SIZE) {
            free(pub);
            vl_err_set(err, rc, "genesis %s: member %zu needs a name, an org and a base64 "
                                "32-byte public_key", path, i);
            goto done;
        }
        int org_index = orgs_find(&g.orgs, org);
        if (org_index < 0) {
            free(pub);
            vl_err_set(err, rc, "genesis %s: member '%s' names organisation '%s', which is not "
                       "in 'organisations'", path, name, org);
            goto done;
        }
        bool org_validates = org_has_role(&g.orgs.items[org_index], ORG_ROLE_VALIDATOR);
        if (json_object_get(m, "validator") && validator != org_validates) {
            free(pub);
            vl_err_set(err, rc, "genesis %s: member '%s' says validator=%s but its organisation "
                       "'%s' %s the role validator", path, name, validator ? "true" : "false",
                       org, org_validates ? "holds" : "does not hold");
            goto done;
        }
        int add = members_add(&g.members, pub, name, org_index, org_validates, endorser);
        free(pub);
        if (add != 0) {
            vl_err_set(err, rc, "genesis %s: member %zu is listed twice or too many members",
                       path, i);
            goto done;
        }
    }
    if (members_validator_count(&g.members) == 0) {
        vl_err_set(err, rc, "genesis %s: at least one member must be a validator", path);
        goto done;
    }
    *out = g;
    rc = 0;
done:
    json_decref(doc);
    return rc;
}

void
genesis_block_clear(genesis_block_t *b)
{
    for (size_t i = 0; b->writes && i < b->effect.n_writes; i++) {
        free(b->writes[i]->key);
        free(b->writes[i]->value.data);
        free(b->writes[i]);
    }
    free(b->writes);
    free(b->bytes);
    memset(b, 0, sizeof *b);
}

/* Appends the write key = value (value: malloc'd text, taken) to out and
 * folds it into the data hash: be32 len key be32 len value. */
static int
s_put(genesis_block_t *out, vl_hasher_t *h, const char *key, char *value)
{
    Vl__WriteItem *w = value ? calloc(1, sizeof *w) : NULL;
    if (!w) {
        free(value);
        return VL_ERR_NOMEM;
    }
    vl__write_item__init(w);
    w->key = strdup(key);
    w->value.data = (uint8_t *) value;
    w->value.len = strlen(value);
    out->writes[out->effect.n_writes++] = w;
    if (!w->key)
        return VL_ERR_NOMEM;
    uint8_t len_be[4];
    vl_put_be32(len_be, (uint32_t) strlen(key));
    vl_hasher_update(h, len_be, 4);
    vl_hasher_update(h, key, strlen(key));
    vl_put_be32(len_be, (uint32_t) w->value.len);
    vl_hasher_update(h, len_be, 4);
    vl_hasher_update(h, w->value.data, w->value.len);
    return 0;
}

static char *
s_canonical(json_t *doc)
{
    char *text = doc ? vl_json_canonical(doc) : NULL;
    json_decref(doc);
    return text;
}

/* The organisations, their nodes' identities and wallets, the supply. */
static int
s_put_orgs(const genesis_t *g, genesis_block_t *out, vl_hasher_t *h)
{
    char key[128];
    for (size_t i = 0; i < g->orgs.count; i++) {
        const org_t *o = &g->orgs.items[i];
        json_t *nodes = json_array();
        for (size_t k = 0; k < g->members.count; k++)
            if (g->members.items[k].org == (int) i)
                json_array_append_new(nodes, json_string(g->members.items[k].did));
        snprintf(key, sizeof key, "org/%s", o->name);
        if (s_put(out, h, key, s_canonical(json_pack("{s:s, s:o, s:o}", "name", o->name, "roles",
                                                     s_roles_json(o), "nodes", nodes))) != 0)
            return VL_ERR_NOMEM;
    }
    for (size_t k = 0; k < g->members.count; k++) {
        const member_t *m = &g->members.items[k];
        const org_t *o = genesis_org_of(g, m);
        if (!o)
            continue;
        snprintf(key, sizeof key, "did/%s", m->did);
        json_t *doc = json_pack("{s:s, s:s, s:s, s:b, s:[], s:[], s:[], s:{s:[]}, s:I}", "did",
                                m->did, "name", m->name, "org", o->name, "node", 1, "roles",
                                "owned", "interest", "contracts", "generic", "registered_at",
                                (json_int_t) g->timestamp_ms);
        if (s_put(out, h, key, s_canonical(doc)) != 0)
            return VL_ERR_NOMEM;
        snprintf(key, sizeof key, "wallet/%s", m->did);
        if (s_put(out, h, key, strdup("0")) != 0)
            return VL_ERR_NOMEM;
    }
    if (g->orgs.count == 0)
        return 0;
    return s_put(out, h, "money/supply",
                 s_canonical(json_pack("{s:i, s:i}", "issued", 0, "redeemed", 0)));
}

int
genesis_block_build(const genesis_t *g, genesis_block_t *out, vl_err_t *err)
{
    memset(out, 0, sizeof *out);
    size_t n = 0;
    const contracts_stdlib_entry_t *lib = contracts_stdlib(&n);
    size_t max_writes = n + g->orgs.count + 2 * g->members.count + 1;
    out->writes = calloc(max_writes, sizeof *out->writes);
    char *canon = s_canonical(s_to_json(g));
    vl_hasher_t *h = vl_hasher_new();
    if (!out->writes || !canon || !h)
        goto nomem;
    vl_hasher_update(h, canon, strlen(canon));
    for (size_t i = 0; i < n; i++) {
        char key[128];
        snprintf(key, sizeof key, "contract/%s", lib[i].name);
        if (s_put(out, h, key, contracts_record_json(lib[i].name, lib[i].source, "genesis", 1,
                                                     lib[i].policy_json)) != 0)
            goto nomem;
    }
    if (s_put_orgs(g, out, h) != 0)
        goto nomem;
    uint8_t data_hash[VL_HASH_SIZE], zero[VL_HASH_SIZE] = { 0 };
    vl_hasher_final(h, data_hash);
    const member_t *proposer = NULL;
    for (size_t i = 0; i < g->members.count && !proposer; i++)
        if (g->members.items[i].validator)
            proposer = &g->members.items[i];
    if (!proposer) {
        free(canon);
        vl_hasher_destroy(&h);
        genesis_block_clear(out);
        return vl_err_set(err, VL_ERR_INVALID, "genesis has no validator");
    }
    block_header_fields_t f = {
        .chain_id = g->chain_id, .height = 0, .previous_hash = zero, .state_hash = zero,
        .data_hash = data_hash, .timestamp_ms = g->timestamp_ms,
        .proposer = proposer->public_key,
    };
    uint8_t *header = NULL;
    size_t header_len = 0;
    if (block_header_pack(&f, &header, &header_len) != 0)
        goto nomem;
    vl_sha256(header, header_len, out->hash);
    int rc = block_pack(header, header_len, NULL, NULL, 0, NULL, NULL, 0, 0, &out->bytes,
                        &out->len);
    free(header);
    if (rc != 0)
        goto nomem;
    memcpy(out->effect.txid, data_hash, VL_HASH_SIZE);
    out->effect.code = VL__TX_CODE__TX_VALID;
    out->effect.writes = (const Vl__WriteItem *const *) out->writes;
    out->commit = (ledger_block_t) {
        .height = 0, .block = out->bytes, .block_len = out->len, .chain_id = g->chain_id,
        .txs = &out->effect, .n_txs = 1,
    };
    memcpy(out->commit.block_hash, out->hash, VL_HASH_SIZE);
    free(canon);
    vl_hasher_destroy(&h);
    return 0;
nomem:
    free(canon);
    vl_hasher_destroy(&h);
    genesis_block_clear(out);
    return vl_err_set(err, VL_ERR_NOMEM, "out of memory building the genesis block");
}
