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

static json_t *
s_to_json(const genesis_t *g)
{
    json_t *members = json_array();
    for (size_t i = 0; i < g->members.count; i++) {
        const member_t *m = &g->members.items[i];
        char *b64 = vl_base64_encode(m->public_key, VL_PUBKEY_SIZE);
        json_array_append_new(members, json_pack("{s:s, s:s, s:s, s:b, s:b}", "name", m->name,
                                                 "public_key", b64, "did", m->did, "validator",
                                                 m->validator, "endorser", m->endorser));
        free(b64);
    }
    return json_pack("{s:s, s:I, s:I, s:o}", "chain_id", g->chain_id, "timestamp_ms",
                     (json_int_t) g->timestamp_ms, "gas_max", (json_int_t) g->gas_max, "members",
                     members);
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

static bool
s_chain_id_ok(const char *s)
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
    if (!s_chain_id_ok(chain) || ts <= 0 || gas <= 0) {
        vl_err_set(err, rc, "genesis %s: chain_id must be 1-64 characters of a-z 0-9 - _, "
                            "timestamp_ms and gas_max positive", path);
        goto done;
    }
    if (!json_is_array(members) || json_array_size(members) == 0) {
        vl_err_set(err, rc, "genesis %s: 'members' must be a non-empty array", path);
        goto done;
    }
    snprintf(g.chain_id, sizeof g.chain_id, "%s", chain);
    g.timestamp_ms = ts;
    g.gas_max = (uint64_t) gas;
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m) {
        const char *name = NULL, *key = NULL;
        bool validator = false, endorser = false;
        uint8_t *pub = NULL;
        size_t pub_len = 0;
        if (!json_is_object(m) || vl_json_get_str(m, "name", true, &name, &e) != 0
            || vl_json_get_str(m, "public_key", true, &key, &e) != 0
            || vl_json_get_bool(m, "validator", false, &validator, &e) != 0
            || vl_json_get_bool(m, "endorser", false, &endorser, &e) != 0
            || vl_base64_decode(key, &pub, &pub_len) != 0 || pub_len != VL_PUBKEY_SIZE) {
            free(pub);
            vl_err_set(err, rc, "genesis %s: member %zu needs a name and a base64 32-byte "
                                "public_key", path, i);
            goto done;
        }
        int add = members_add(&g.members, pub, name, validator, endorser);
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

int
genesis_block_build(const genesis_t *g, genesis_block_t *out, vl_err_t *err)
{
    memset(out, 0, sizeof *out);
    size_t n = 0;
    const contracts_stdlib_entry_t *lib = contracts_stdlib(&n);
    out->writes = calloc(n ? n : 1, sizeof *out->writes);
    json_t *doc = s_to_json(g);
    char *canon = doc ? vl_json_canonical(doc) : NULL;
    json_decref(doc);
    vl_hasher_t *h = vl_hasher_new();
    if (!out->writes || !canon || !h)
        goto nomem;
    vl_hasher_update(h, canon, strlen(canon));
    for (size_t i = 0; i < n; i++) {
        char *record = contracts_record_json(lib[i].name, lib[i].source, "genesis", 1,
                                             lib[i].policy_json);
        Vl__WriteItem *w = calloc(1, sizeof *w);
        char key[128];
        snprintf(key, sizeof key, "contract/%s", lib[i].name);
        if (!record || !w) {
            free(record);
            free(w);
            goto nomem;
        }
        vl__write_item__init(w);
        w->key = strdup(key);
        w->value.data = (uint8_t *) record;
        w->value.len = strlen(record);
        out->writes[out->effect.n_writes++] = w;
        if (!w->key)
            goto nomem;
        uint8_t len_be[4];
        vl_put_be32(len_be, (uint32_t) strlen(key));
        vl_hasher_update(h, len_be, 4);
        vl_hasher_update(h, key, strlen(key));
        vl_put_be32(len_be, (uint32_t) w->value.len);
        vl_hasher_update(h, len_be, 4);
        vl_hasher_update(h, w->value.data, w->value.len);
    }
    uint8_t data_hash[VL_HASH_SIZE], zero[VL_HASH_SIZE] = { 0 };
    vl_hasher_final(h, data_hash);
    const member_t *proposer = NULL;
    for (size_t i = 0; i < g->members.count && !proposer; i++)
        if (g->members.items[i].validator)
            proposer = &g->members.items[i];
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
