/* validate.c — block and transaction validation before commit. */
#include "validate.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "codec.h"

/* A key written by an earlier valid tx of the block being validated. */
typedef struct {
    vl_version_t version;
    bool deleted;
} overlay_entry_t;

void
validated_block_destroy(validated_block_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    validated_block_t *v = *self_p;
    for (size_t i = 0; v->txs && i < v->n_txs; i++)
        tx_destroy(&v->txs[i]);
    free(v->txs);
    free(v->effects);
    if (v->header) vl__block_header__free_unpacked(v->header, NULL);
    if (v->block) vl__block__free_unpacked(v->block, NULL);
    free(v);
    *self_p = NULL;
}

/* Current version of key as seen by tx i: earlier writes in this block
 * first, then the committed state. */
static int
s_current(ledger_t *ledger, zhashx_t *overlay, const char *key, bool *exists,
          vl_version_t *version)
{
    overlay_entry_t *e = zhashx_lookup(overlay, key);
    if (e) {
        *exists = !e->deleted;
        *version = e->version;
        return 0;
    }
    char *value = NULL;
    size_t len = 0;
    int rc = ledger_get(ledger, key, &value, &len, version);
    free(value);
    if (rc == VL_ERR_NOT_FOUND) {
        *exists = false;
        return 0;
    }
    *exists = rc == 0;
    return rc;
}

static bool
s_read_current(const Vl__ReadItem *r, bool exists, vl_version_t v)
{
    if (r->exists != exists)
        return false;
    return !exists || (r->block == v.block && r->tx == v.tx);
}

typedef struct {
    char **keys;
    vl_version_t *versions;
    size_t n, cap;
} keylist_t;

static int
s_collect(void *arg, const char *key, size_t key_len, const char *value, size_t value_len,
          vl_version_t version)
{
    keylist_t *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **k = realloc(l->keys, cap * sizeof *k);
        if (!k)
            return VL_ERR_NOMEM;
        l->keys = k;
        vl_version_t *v = realloc(l->versions, cap * sizeof *v);
        if (!v)
            return VL_ERR_NOMEM;
        l->versions = v;
        l->cap = cap;
    }
    l->keys[l->n] = strndup(key, key_len);
    l->versions[l->n++] = version;
    return l->keys[l->n - 1] ? 0 : VL_ERR_NOMEM;
}

/* A range read is still valid when the live keys under its prefix (state
 * plus this block's earlier writes) are exactly the recorded ones, at the
 * recorded versions. */
static bool
s_range_current(ledger_t *ledger, zhashx_t *overlay, const Vl__RangeRead *r)
{
    keylist_t l = { 0 };
    bool ok = ledger_range(ledger, r->prefix, 0, s_collect, &l) == 0;
    size_t plen = strlen(r->prefix);
    /* Apply the overlay: replace versions, drop deletes, add inserts. */
    for (overlay_entry_t *e = zhashx_first(overlay); ok && e; e = zhashx_next(overlay)) {
        const char *key = zhashx_cursor(overlay);
        if (strncmp(key, r->prefix, plen) != 0)
            continue;
        size_t i = 0;
        while (i < l.n && strcmp(l.keys[i], key) != 0)
            i++;
        if (i < l.n) {
            if (e->deleted) {
                free(l.keys[i]);
                l.keys[i] = l.keys[--l.n];
                l.versions[i] = l.versions[l.n];
            } else
                l.versions[i] = e->version;
        } else if (!e->deleted)
            ok = s_collect(&l, key, strlen(key), NULL, 0, e->version) == 0;
    }
    if (ok && l.n != r->n_items)
        ok = false;
    for (size_t j = 0; ok && j < r->n_items; j++) {
        const Vl__ReadItem *it = r->items[j];
        size_t i = 0;
        while (i < l.n && strcmp(l.keys[i], it->key) != 0)
            i++;
        ok = i < l.n && l.versions[i].block == it->block && l.versions[i].tx == it->tx;
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.keys[i]);
    free(l.keys);
    free(l.versions);
    return ok;
}

static int
s_validate_tx(const validate_ctx_t *ctx, zhashx_t *overlay, zhashx_t *seen, uint64_t height,
              uint32_t index, const ProtobufCBinaryData *bytes, tx_parsed_t **out)
{
    int code = VL__TX_CODE__TX_VALID;
    vl_err_t err;
    if (tx_parse(bytes->data, bytes->len, ctx->chain_id, out, &code, &err) != 0)
        return code;
    tx_parsed_t *t = *out;
    char hex[65];
    vl_hex_encode(t->txid, VL_HASH_SIZE, hex);
    ledger_tx_info_t info;
    if (zhashx_lookup(seen, hex) || ledger_tx_get(ctx->ledger, t->txid, &info) == 0)
        return VL__TX_CODE__TX_DUPLICATE_TXID;
    zhashx_insert(seen, hex, (void *) 1);
    if (tx_check_signatures(t, ctx->members, ctx->sigcache, &code, &err) != 0)
        return code;
    for (size_t i = 0; i < t->result->n_reads; i++) {
        const Vl__ReadItem *r = t->result->reads[i];
        bool exists;
        vl_version_t v;
        if (s_current(ctx->ledger, overlay, r->key, &exists, &v) != 0
            || !s_read_current(r, exists, v))
            return VL__TX_CODE__TX_MVCC_CONFLICT;
    }
    for (size_t i = 0; i < t->result->n_ranges; i++)
        if (!s_range_current(ctx->ledger, overlay, t->result->ranges[i]))
            return VL__TX_CODE__TX_PHANTOM_READ;
    /* Valid: later txs in this block see its writes. */
    for (size_t i = 0; i < t->result->n_writes; i++) {
        const Vl__WriteItem *w = t->result->writes[i];
        overlay_entry_t *e = malloc(sizeof *e);
        if (!e)
            abort();
        e->version = (vl_version_t) { height, index };
        e->deleted = w->is_delete;
        zhashx_update(overlay, w->key, e);
    }
    return VL__TX_CODE__TX_VALID;
}

static void
s_free_entry(void **item)
{
    free(*item);
    *item = NULL;
}

struct validate_run_t {
    zhashx_t *overlay;            /* key -> overlay_entry_t: valid writes so far */
    zhashx_t *seen;               /* hex txid -> 1: txids so far */
    bool has_genesis;
    uint64_t height;              /* the run's tip: the last block validated */
    uint8_t last_hash[VL_HASH_SIZE];
    uint8_t state_hash[VL_HASH_SIZE];
    size_t count;
};

validate_run_t *
validate_run_new(ledger_t *ledger)
{
    validate_run_t *run = calloc(1, sizeof *run);
    if (!run)
        return NULL;
    run->overlay = zhashx_new();
    run->seen = zhashx_new();
    if (!run->overlay || !run->seen) {
        validate_run_destroy(&run);
        return NULL;
    }
    zhashx_set_destructor(run->overlay, s_free_entry);
    run->has_genesis = ledger_has_genesis(ledger);
    run->height = ledger_height(ledger);
    memcpy(run->last_hash, ledger_last_hash(ledger), VL_HASH_SIZE);
    memcpy(run->state_hash, ledger_state_hash(ledger), VL_HASH_SIZE);
    return run;
}

void
validate_run_destroy(validate_run_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->overlay);
    zhashx_destroy(&(*self_p)->seen);
    free(*self_p);
    *self_p = NULL;
}

size_t
validate_run_count(const validate_run_t *run)
{
    return run->count;
}

int
validate_block(const validate_ctx_t *ctx, const uint8_t *bytes, size_t len,
               validated_block_t **out, vl_err_t *err)
{
    validate_run_t *run = validate_run_new(ctx->ledger);
    if (!run)
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory");
    int rc = validate_block_in_run(ctx, run, bytes, len, out, err);
    validate_run_destroy(&run);
    return rc;
}

int
validate_block_in_run(const validate_ctx_t *ctx, validate_run_t *run, const uint8_t *bytes,
                      size_t len, validated_block_t **out, vl_err_t *err)
{
    int rc = VL_ERR_INVALID;
    validated_block_t *v = calloc(1, sizeof *v);
    zhashx_t *overlay = run->overlay, *seen = run->seen;
    if (!v) {
        rc = vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        goto fail;
    }
    v->block = vl__block__unpack(NULL, len, bytes);
    if (!v->block || v->block->header.len == 0) {
        vl_err_set(err, VL_ERR_INVALID, "not a valid Block message");
        goto fail;
    }
    v->header = vl__block_header__unpack(NULL, v->block->header.len, v->block->header.data);
    const Vl__BlockHeader *h = v->header;
    if (!h) {
        vl_err_set(err, VL_ERR_INVALID, "block header does not unpack");
        goto fail;
    }
    vl_sha256(v->block->header.data, v->block->header.len, v->hash);
    uint64_t expect = run->has_genesis ? run->height + 1 : 0;
    if (strcmp(h->chain_id, ctx->chain_id) != 0) {
        vl_err_set(err, VL_ERR_INVALID, "block is for chain '%s'", h->chain_id);
        goto fail;
    }
    if (h->height != expect) {
        rc = vl_err_set(err, VL_ERR_STATE, "block height %llu, expected %llu",
                        (unsigned long long) h->height, (unsigned long long) expect);
        goto fail;
    }
    if (h->previous_hash.len != VL_HASH_SIZE
        || memcmp(h->previous_hash.data, run->last_hash, VL_HASH_SIZE) != 0) {
        vl_err_set(err, VL_ERR_INVALID, "block %llu does not extend our tip",
                   (unsigned long long) h->height);
        goto fail;
    }
    if (h->state_hash.len != VL_HASH_SIZE
        || memcmp(h->state_hash.data, run->state_hash, VL_HASH_SIZE) != 0) {
        vl_err_set(err, VL_ERR_INVALID,
                   "block %llu carries a state hash that differs from this replica's",
                   (unsigned long long) h->height);
        goto fail;
    }
    size_t n = v->block->n_transactions;
    if (n > VL_BLOCK_TXS_MAX) {
        vl_err_set(err, VL_ERR_INVALID, "block holds %zu transactions (limit %d)", n,
                   VL_BLOCK_TXS_MAX);
        goto fail;
    }
    uint8_t data_hash[VL_HASH_SIZE];
    {
        uint8_t **ptrs = calloc(n ? n : 1, sizeof *ptrs);
        size_t *lens = calloc(n ? n : 1, sizeof *lens);
        if (!ptrs || !lens) {
            free(ptrs);
            free(lens);
            rc = vl_err_set(err, VL_ERR_NOMEM, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < n; i++) {
            ptrs[i] = v->block->transactions[i].data;
            lens[i] = v->block->transactions[i].len;
        }
        block_data_hash(ptrs, lens, n, data_hash);
        free(ptrs);
        free(lens);
    }
    if (h->data_hash.len != VL_HASH_SIZE
        || memcmp(h->data_hash.data, data_hash, VL_HASH_SIZE) != 0) {
        vl_err_set(err, VL_ERR_INVALID, "block %llu data hash does not match its transactions",
                   (unsigned long long) h->height);
        goto fail;
    }
    rc = block_verify_commit(v->block->commit, ctx->chain_id, h->height, v->hash, ctx->members,
                             err);
    if (rc != 0)
        goto fail;

    v->n_txs = n;
    v->txs = calloc(n ? n : 1, sizeof *v->txs);
    v->effects = calloc(n ? n : 1, sizeof *v->effects);
    if (!v->txs || !v->effects) {
        rc = vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        ledger_tx_effect_t *e = &v->effects[i];
        e->code = s_validate_tx(ctx, overlay, seen, h->height, (uint32_t) i,
                                &v->block->transactions[i], &v->txs[i]);
        if (v->txs[i])
            memcpy(e->txid, v->txs[i]->txid, VL_HASH_SIZE);
        else   /* unparseable: index it under the hash of its bytes */
            vl_sha256(v->block->transactions[i].data, v->block->transactions[i].len, e->txid);
        if (e->code == VL__TX_CODE__TX_VALID) {
            e->writes = (const Vl__WriteItem *const *) v->txs[i]->result->writes;
            e->n_writes = v->txs[i]->result->n_writes;
            v->n_valid++;
        }
    }
    v->commit.height = h->height;
    v->commit.block = bytes;
    v->commit.block_len = len;
    memcpy(v->commit.block_hash, v->hash, VL_HASH_SIZE);
    v->commit.chain_id = ctx->chain_id;
    v->commit.txs = v->effects;
    v->commit.n_txs = n;
    /* The run's tip moves to this block (its writes are in the overlay). */
    uint8_t state[VL_HASH_SIZE];
    if (ledger_state_fold(run->state_hash, &v->commit, state) != 0) {
        rc = vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        goto fail;
    }
    run->has_genesis = true;
    run->height = h->height;
    memcpy(run->last_hash, v->hash, VL_HASH_SIZE);
    memcpy(run->state_hash, state, VL_HASH_SIZE);
    run->count++;
    *out = v;
    return 0;
fail:
    validated_block_destroy(&v);
    return rc;
}
