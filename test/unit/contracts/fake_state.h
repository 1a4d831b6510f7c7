/*
 * fake_state.h — an in-memory vm_state_t for the contract tests: a sorted
 * array of key -> (value, version), plus helpers to seed contracts and to
 * commit an EndorsedResult's write set the way a block would. No ledger.
 */
#ifndef VL_TEST_FAKE_STATE_H
#define VL_TEST_FAKE_STATE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stdcontracts.h"
#include "vledger.pb-c.h"
#include "vm.h"

typedef struct {
    char *key;
    char *value;
    size_t len;
    vl_version_t version;
} fake_kv_t;

typedef struct {
    fake_kv_t *kv;
    size_t n, cap;
    uint64_t height;
    int range_calls;
    int fail_get;       /* nonzero: get returns VL_ERR_IO */
} fake_state_t;

static inline long
fake_find(fake_state_t *fs, const char *key)
{
    size_t lo = 0, hi = fs->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(fs->kv[mid].key, key);
        if (!c)
            return (long) mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long) lo - 1;
}

static inline void
fake_set(fake_state_t *fs, const char *key, const char *value, size_t len, vl_version_t ver)
{
    long i = fake_find(fs, key);
    if (i >= 0) {
        free(fs->kv[i].value);
        if (!value) {
            free(fs->kv[i].key);
            memmove(&fs->kv[i], &fs->kv[i + 1], (fs->n - (size_t) i - 1) * sizeof *fs->kv);
            fs->n--;
            return;
        }
        fs->kv[i].value = strndup(value, len);
        fs->kv[i].len = len;
        fs->kv[i].version = ver;
        return;
    }
    if (!value)
        return;
    if (fs->n == fs->cap) {
        fs->cap = fs->cap ? fs->cap * 2 : 64;
        fs->kv = realloc(fs->kv, fs->cap * sizeof *fs->kv);
    }
    size_t at = (size_t) (-i - 1);
    memmove(&fs->kv[at + 1], &fs->kv[at], (fs->n - at) * sizeof *fs->kv);
    fs->kv[at] = (fake_kv_t) { strdup(key), strndup(value, len), len, ver };
    fs->n++;
}

static inline void
fake_put(fake_state_t *fs, const char *key, const char *value)
{
    fake_set(fs, key, value, strlen(value), (vl_version_t) { fs->height, 0 });
}

static inline const char *
fake_value(fake_state_t *fs, const char *key)
{
    long i = fake_find(fs, key);
    return i >= 0 ? fs->kv[i].value : NULL;
}

static inline void
fake_free(fake_state_t *fs)
{
    for (size_t i = 0; i < fs->n; i++) {
        free(fs->kv[i].key);
        free(fs->kv[i].value);
    }
    free(fs->kv);
    memset(fs, 0, sizeof *fs);
}

static inline int
fake_get(void *ctx, const char *key, char **value, size_t *len, vl_version_t *version)
{
    fake_state_t *fs = ctx;
    if (fs->fail_get)
        return VL_ERR_IO;
    long i = fake_find(fs, key);
    if (i < 0)
        return VL_ERR_NOT_FOUND;
    *value = strndup(fs->kv[i].value, fs->kv[i].len);
    *len = fs->kv[i].len;
    if (version)
        *version = fs->kv[i].version;
    return 0;
}

static inline int
fake_range(void *ctx, const char *prefix, size_t limit, ledger_range_fn fn, void *arg)
{
    fake_state_t *fs = ctx;
    fs->range_calls++;
    size_t plen = strlen(prefix), n = 0;
    long i = fake_find(fs, prefix);
    for (size_t j = i >= 0 ? (size_t) i : (size_t) (-i - 1); j < fs->n; j++) {
        if (strncmp(fs->kv[j].key, prefix, plen) != 0)
            break;
        if (limit && n++ >= limit)
            break;
        int rc = fn(arg, fs->kv[j].key, strlen(fs->kv[j].key), fs->kv[j].value, fs->kv[j].len,
                    fs->kv[j].version);
        if (rc)
            return rc;
    }
    return 0;
}

static inline vm_state_t
fake_view(fake_state_t *fs)
{
    return (vm_state_t) { .ctx = fs, .get = fake_get, .range = fake_range };
}

/* Applies the write set of a packed EndorsedResult as block ++height. */
static inline void
fake_commit(fake_state_t *fs, const uint8_t *endorsed, size_t len)
{
    Vl__EndorsedResult *er = vl__endorsed_result__unpack(NULL, len, endorsed);
    if (!er)
        abort();
    fs->height++;
    for (size_t i = 0; i < er->n_writes; i++) {
        Vl__WriteItem *w = er->writes[i];
        fake_set(fs, w->key, w->is_delete ? NULL : (const char *) w->value.data, w->value.len,
                 (vl_version_t) { fs->height, 0 });
    }
    vl__endorsed_result__free_unpacked(er, NULL);
}

/* Seeds a contract record (author "genesis" unless given). */
static inline void
fake_contract(fake_state_t *fs, const char *name, const char *source, const char *author)
{
    char *rec = contracts_record_json(name, source, author ? author : "genesis", 1, NULL);
    char key[128];
    snprintf(key, sizeof key, "contract/%s", name);
    fake_put(fs, key, rec);
    free(rec);
}

/* Seeds every standard contract and an empty money supply
 * (money/supply = {issued: 0, redeemed: 0}) as genesis would. */
static inline void
fake_genesis(fake_state_t *fs)
{
    size_t n;
    const contracts_stdlib_entry_t *e = contracts_stdlib(&n);
    for (size_t i = 0; i < n; i++)
        fake_contract(fs, e[i].name, e[i].source, "genesis");
    fake_put(fs, "money/supply", "{\"issued\":0,\"redeemed\":0}");
}

/* Seeds an organisation as genesis writes it (docs/trust.md):
 * org/<name> = {name, nodes, roles}; roles_json and nodes_json are JSON
 * arrays (role names, node DIDs). */
static inline void
fake_org(fake_state_t *fs, const char *name, const char *roles_json, const char *nodes_json)
{
    char key[128], val[2048];
    snprintf(key, sizeof key, "org/%s", name);
    snprintf(val, sizeof val, "{\"name\":\"%s\",\"nodes\":%s,\"roles\":%s}", name,
             nodes_json, roles_json);
    fake_put(fs, key, val);
}

/* Seeds a node identity as genesis writes it: did/<did> = {did, name, node:
 * true, org, roles: []} and wallet/<did> = 0. */
static inline void
fake_node(fake_state_t *fs, const char *did, const char *name, const char *org)
{
    char key[128], val[1024];
    snprintf(key, sizeof key, "did/%s", did);
    snprintf(val, sizeof val,
             "{\"did\":\"%s\",\"name\":\"%s\",\"node\":true,\"org\":\"%s\",\"roles\":[]}",
             did, name, org);
    fake_put(fs, key, val);
    snprintf(key, sizeof key, "wallet/%s", did);
    fake_put(fs, key, "0");
}
#endif
