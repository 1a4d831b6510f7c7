/* validate.c — block and transaction validation before commit. */
#include "validate.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "codec.h"
#include "requirement.h"

/* A key written by an earlier valid tx of the block being validated. */
/* A key written by a valid transaction earlier in the run: its version and
 * value (a copy), so later transactions of the run — in later blocks of a
 * pulled run, not yet in the ledger — are judged against it: MVCC and the
 * values their endorsement policies resolve against. */
typedef struct {
    vl_version_t version;
    bool deleted;
    char *value;                  /* owned, NUL terminated; NULL when deleted */
    size_t len;
} overlay_entry_t;

void
validated_block_destroy(validated_block_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    validated_block_t *v = *self_p;
    block_view_destroy(&v->view);
    free(v->effects);
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
 * recorded versions. Returns 0 with *current, or VL_ERR_IO / VL_ERR_NOMEM /
 * VL_ERR_CORRUPT when the state could not be read (nothing is judged). */
static int
s_range_current(ledger_t *ledger, zhashx_t *overlay, const Vl__RangeRead *r, bool *current)
{
    keylist_t l = { 0 };
    int rc = ledger_range(ledger, r->prefix, 0, s_collect, &l);
    bool ok = rc == 0;
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
        } else if (!e->deleted) {
            rc = s_collect(&l, key, strlen(key), NULL, 0, e->version);
            ok = rc == 0;
        }
    }
    bool same = ok && l.n == r->n_items;
    for (size_t j = 0; same && j < r->n_items; j++) {
        const Vl__ReadItem *it = r->items[j];
        size_t i = 0;
        while (i < l.n && strcmp(l.keys[i], it->key) != 0)
            i++;
        same = i < l.n && l.versions[i].block == it->block && l.versions[i].tx == it->tx;
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.keys[i]);
    free(l.keys);
    free(l.versions);
    if (!ok)
        return rc < 0 ? rc : VL_ERR_NOMEM;
    *current = same;
    return 0;
}

typedef struct {
    ledger_t *ledger;
    zhashx_t *overlay;
} s_state_t;

/* The state as of the transaction being judged: the run's writes over the
 * committed ledger (policy_get_fn). */
static int
s_state_get(void *ctx, const char *key, char **value, size_t *len, vl_version_t *version)
{
    const s_state_t *st = ctx;
    const overlay_entry_t *e = zhashx_lookup(st->overlay, key);
    if (!e)
        return ledger_get(st->ledger, key, value, len, version);
    if (e->deleted)
        return VL_ERR_NOT_FOUND;
    char *copy = malloc(e->len + 1);
    if (!copy)
        return VL_ERR_NOMEM;
    memcpy(copy, e->value, e->len + 1);
    *value = copy;
    *len = e->len;
    if (version)
        *version = e->version;
    return 0;
}

/* The transaction's endorsement requirement (requirement.h), judged after
 * MVCC: its reads are then current as of this transaction, so resolving
 * against the committed state — with every key the resolution reads among
 * those reads at the same version — is resolving as of the transaction.
 * Sets *code to TX_ENDORSEMENT_POLICY_FAILURE when it is not met (or cannot
 * be resolved: deterministic on every replica); returns VL_ERR_NOMEM /
 * VL_ERR_IO when this node could not judge. */
static int
s_check_policy(const validate_ctx_t *ctx, zhashx_t *overlay, const tx_parsed_t *t,
               const org_set_t *endorsing, int *code)
{
    s_state_t st = { ctx->ledger, overlay };
    requirement_env_t env = { s_state_get, &st, ctx->orgs, ctx->policies };
    policy_resolved_t *res = NULL;
    vl_err_t err;
    int rc = requirement_resolve(&env, t->proposal, t->creator_did, t->result, &res, &err);
    if (rc == VL_ERR_NOMEM || rc == VL_ERR_IO)
        return rc;
    if (rc != 0 || !requirement_reads_covered(res, t->result, &err)
        || !policy_satisfied(res, endorsing, &err))
        *code = VL__TX_CODE__TX_ENDORSEMENT_POLICY_FAILURE;
    policy_resolved_destroy(&res);
    return 0;
}

/* What the run knows of a txid: not seen, seen on an invalid tx (indexed,
 * replaceable by a valid one), or taken by a valid tx. */
enum { SEEN_NONE = 0, SEEN_INVALID = 1, SEEN_VALID = 2 };

/* Returns a SEEN_* value, or VL_ERR_IO / VL_ERR_CORRUPT / VL_ERR_NOMEM when
 * the tx index could not be read (only "not found" means not seen: taking
 * a failed read for it would judge a replay VALID again). */
static int
s_seen(const validate_ctx_t *ctx, zhashx_t *seen, const char *hex, const uint8_t txid[32])
{
    intptr_t in_run = (intptr_t) zhashx_lookup(seen, hex);
    if (in_run)
        return (int) in_run;
    ledger_tx_info_t info;
    int rc = ledger_tx_get(ctx->ledger, txid, &info);
    if (rc == VL_ERR_NOT_FOUND)
        return SEEN_NONE;
    if (rc != 0)
        return rc;
    return info.code == VL__TX_CODE__TX_VALID ? SEEN_VALID : SEEN_INVALID;
}

/* Judges transaction `index` of the block: *code is its Vl__TxCode.
 * Returns 0, or VL_ERR_NOMEM / VL_ERR_IO when it could not be judged. */
static int
s_validate_tx(const validate_ctx_t *ctx, zhashx_t *overlay, zhashx_t *seen, uint64_t height,
              uint32_t index, const block_view_t *view, ledger_tx_effect_t *e)
{
    const tx_parsed_t *t = view->txs[index];
    vl_err_t err;
    char hex[65];
    memcpy(e->txid, view->txids[index], VL_HASH_SIZE);
    vl_hex_encode(e->txid, VL_HASH_SIZE, hex);
    int before = s_seen(ctx, seen, hex, e->txid);
    if (before < 0)
        return before;
    if (before == SEEN_VALID) {
        e->code = VL__TX_CODE__TX_DUPLICATE_TXID;
        return 0;
    }
    e->code = VL__TX_CODE__TX_VALID;
    org_set_t endorsing = { { 0 } };
    if (!t)
        e->code = view->parse_codes[index];
    else
        tx_check_signatures(t, ctx->members, ctx->orgs, ctx->sigcache, &endorsing, &e->code,
                            &err);   /* sets the code */
    for (size_t i = 0; e->code == VL__TX_CODE__TX_VALID && i < t->result->n_reads; i++) {
        const Vl__ReadItem *r = t->result->reads[i];
        bool exists;
        vl_version_t v;
        int rc = s_current(ctx->ledger, overlay, r->key, &exists, &v);
        if (rc != 0)
            return rc;
        if (!s_read_current(r, exists, v))
            e->code = VL__TX_CODE__TX_MVCC_CONFLICT;
    }
    for (size_t i = 0; e->code == VL__TX_CODE__TX_VALID && i < t->result->n_ranges; i++) {
        bool current = false;
        int rc = s_range_current(ctx->ledger, overlay, t->result->ranges[i], &current);
        if (rc != 0)
            return rc;
        if (!current)
            e->code = VL__TX_CODE__TX_PHANTOM_READ;
    }
    if (e->code == VL__TX_CODE__TX_VALID && ctx->orgs) {
        int rc = s_check_policy(ctx, overlay, t, &endorsing, &e->code);
        if (rc != 0)
            return rc;
    }
    if (e->code != VL__TX_CODE__TX_VALID) {
        /* The first entry for an id stays; this one is only in the codes. */
        e->skip_index = before == SEEN_INVALID;
        if (before == SEEN_NONE)
            zhashx_update(seen, hex, (void *) (intptr_t) SEEN_INVALID);
        return 0;
    }
    /* Valid: later txs in this block see its writes. */
    for (size_t i = 0; i < t->result->n_writes; i++) {
        const Vl__WriteItem *w = t->result->writes[i];
        overlay_entry_t *oe = calloc(1, sizeof *oe);
        if (!oe)
            return VL_ERR_NOMEM;
        oe->version = (vl_version_t) { height, index };
        oe->deleted = w->is_delete;
        if (!w->is_delete) {
            oe->value = malloc(w->value.len + 1);
            if (!oe->value) {
                free(oe);
                return VL_ERR_NOMEM;
            }
            memcpy(oe->value, w->value.data, w->value.len);
            oe->value[w->value.len] = '\0';
            oe->len = w->value.len;
        }
        zhashx_update(overlay, w->key, oe);
    }
    zhashx_update(seen, hex, (void *) (intptr_t) SEEN_VALID);
    e->writes = (const Vl__WriteItem *const *) t->result->writes;
    e->n_writes = t->result->n_writes;
    return 0;
}

static void
s_free_entry(void **item)
{
    overlay_entry_t *e = *item;
    if (e)
        free(e->value);
    free(e);
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
validate_header(const validate_ctx_t *ctx, const validate_run_t *run, const block_view_t *view,
                vl_err_t *err)
{
    const Vl__BlockHeader *h = view->header;
    uint64_t expect = run->has_genesis ? run->height + 1 : 0;
    if (strcmp(h->chain_id, ctx->chain_id) != 0)
        return vl_err_set(err, VL_ERR_INVALID, "block is for chain '%.64s'", h->chain_id);
    if (h->height != expect)
        return vl_err_set(err, VL_ERR_STATE, "block height %llu, expected %llu",
                          (unsigned long long) h->height, (unsigned long long) expect);
    if (h->previous_hash.len != VL_HASH_SIZE
        || memcmp(h->previous_hash.data, run->last_hash, VL_HASH_SIZE) != 0)
        return vl_err_set(err, VL_ERR_INVALID, "block %llu does not extend our tip",
                          (unsigned long long) h->height);
    size_t n = view->n_txs;
    uint8_t data_hash[VL_HASH_SIZE];
    uint8_t **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    size_t *lens = calloc(n ? n : 1, sizeof *lens);
    int rc = ptrs && lens ? 0 : VL_ERR_NOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        ptrs[i] = view->block->transactions[i].data;
        lens[i] = view->block->transactions[i].len;
    }
    if (rc == 0)
        rc = block_data_hash(ptrs, lens, n, data_hash);
    free(ptrs);
    free(lens);
    if (rc != 0)
        return vl_err_set(err, rc, "out of memory");
    if (h->data_hash.len != VL_HASH_SIZE
        || memcmp(h->data_hash.data, data_hash, VL_HASH_SIZE) != 0)
        return vl_err_set(err, VL_ERR_INVALID, "block %llu data hash does not match its "
                          "transactions", (unsigned long long) h->height);
    /* Last: with everything else right, a different state hash means the
     * replicas disagree about the state after the tip. */
    if (h->state_hash.len != VL_HASH_SIZE
        || memcmp(h->state_hash.data, run->state_hash, VL_HASH_SIZE) != 0) {
        char ours[65], theirs[65] = "(none)";
        vl_hex_encode(run->state_hash, VL_HASH_SIZE, ours);
        if (h->state_hash.len == VL_HASH_SIZE)
            vl_hex_encode(h->state_hash.data, VL_HASH_SIZE, theirs);
        return vl_err_set(err, VL_ERR_CONFLICT, "block %llu carries state hash %.16s after "
                          "height %llu, this replica's is %.16s", (unsigned long long) h->height,
                          theirs, (unsigned long long) h->height - 1, ours);
    }
    return 0;
}

int
validate_certificate(const validate_ctx_t *ctx, const block_view_t *view, vl_err_t *err)
{
    return block_verify_commit(view->block->commit, ctx->chain_id, view->header->height,
                               view->hash, ctx->members, ctx->sigcache, err);
}

int
validate_txs(const validate_ctx_t *ctx, validate_run_t *run, block_view_t **view_p,
             const uint8_t *bytes, size_t len, validated_block_t **out, vl_err_t *err)
{
    int rc = VL_ERR_NOMEM;
    validated_block_t *v = calloc(1, sizeof *v);
    if (!v) {
        block_view_destroy(view_p);
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory");
    }
    v->view = *view_p;
    *view_p = NULL;
    const block_view_t *view = v->view;
    uint64_t height = view->header->height;
    size_t n = view->n_txs;
    if (!view->txs) {
        rc = vl_err_set(err, VL_ERR_INVALID, "block view without parsed transactions");
        goto fail;
    }
    v->effects = calloc(n ? n : 1, sizeof *v->effects);
    if (!v->effects) {
        rc = vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        rc = s_validate_tx(ctx, run->overlay, run->seen, height, (uint32_t) i, view,
                           &v->effects[i]);
        if (rc != 0) {
            vl_err_set(err, rc, "cannot judge transaction %zu of block %llu: %s", i,
                       (unsigned long long) height, vl_strerror(rc));
            goto fail;
        }
        if (v->effects[i].code == VL__TX_CODE__TX_VALID)
            v->n_valid++;
    }
    v->commit.height = height;
    v->commit.block = bytes;
    v->commit.block_len = len;
    memcpy(v->commit.block_hash, view->hash, VL_HASH_SIZE);
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
    run->height = height;
    memcpy(run->last_hash, view->hash, VL_HASH_SIZE);
    memcpy(run->state_hash, state, VL_HASH_SIZE);
    run->count++;
    *out = v;
    return 0;
fail:
    validated_block_destroy(&v);
    return rc;
}

int
validate_block_in_run(const validate_ctx_t *ctx, validate_run_t *run, const uint8_t *bytes,
                      size_t len, validated_block_t **out, vl_err_t *err)
{
    block_view_t *view = NULL;
    int rc = block_view_new(bytes, len, ctx->chain_id, BLOCK_VIEW_PARSE_TXS, &view, err);
    if (rc == 0)
        rc = validate_header(ctx, run, view, err);
    if (rc == VL_ERR_CONFLICT) {
        /* A state hash that differs: anyone can send such a block, but a
         * certified one says the validators agreed on another state than
         * ours. That replica must stop, loudly, never diverge silently. */
        vl_err_t why = *err, cert;
        rc = validate_certificate(ctx, view, &cert);
        if (rc == 0)
            rc = vl_err_set(err, VL_ERR_CORRUPT, "this replica diverged: %s", why.msg);
        else
            *err = cert;
    }
    if (rc == 0)
        rc = validate_certificate(ctx, view, err);
    if (rc == 0)
        return validate_txs(ctx, run, &view, bytes, len, out, err);
    block_view_destroy(&view);
    return rc;
}
