/*
 * ledger.c — the node's replica on top of store.c (key schema in ledger.h).
 *
 * The ledger owns one store and keeps the tip (has-genesis, height, last
 * block hash, running state hash) in memory. The tip changes only after the
 * block's single synced WriteBatch was written, so a failed commit leaves
 * memory and disk as they were and the next attempt starts from the same
 * tip. ledger_open checks the invariants of ledger.h before handing out a
 * ledger:
 *
 *   1. "m:tip" exists iff "m:genesis" and "m:chain" exist (genesis was
 *      committed); without a tip there is no block 0;
 *   2. block H (the tip's height) exists and SHA-256(its header bytes) equals
 *      the tip's hash (and, at H = 0, the recorded genesis hash);
 *   3. the stored chain id and genesis hash equal the caller's, when given.
 *
 * Violations of 1 and 2 (and anything LevelDB itself finds) are
 * VL_ERR_CORRUPT; 3 is VL_ERR_FOREIGN. Corrupt data read from disk is never
 * asserted on; only caller contract violations are.
 *
 * Threads: ledger_commit_block and the tip accessors run on the writer (the
 * node's loop thread); ledger_get/range/history/block_get/block_codes/tx_get
 * touch only the store and per-call buffers, so they may run on any thread.
 */
#include "ledger.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "store.h"

#define LEDGER_FORMAT "vledger-ledger-1"
#define LEDGER_TIP_LEN (8 + VL_HASH_SIZE + VL_HASH_SIZE)
#define LEDGER_VERSION_LEN 12 /* be64 block | be32 tx */
#define LEDGER_HIST_HEAD (VL_HASH_SIZE + 1) /* txid | flag */

static const char KEY_FORMAT[] = "m:format";
static const char KEY_CHAIN[] = "m:chain";
static const char KEY_GENESIS[] = "m:genesis";
static const char KEY_TIP[] = "m:tip";

/* A growable byte buffer (scratch for building keys and values). */
typedef struct {
    uint8_t *data; /* owned */
    size_t len;
    size_t cap;
} s_buf_t;

struct ledger_t {
    store_t *store;                          /* owned */
    char *dir;                               /* owned; for messages */
    char *expect_chain;                      /* owned, NULL = none given to open */
    bool has_expect_genesis;                 /* expect_genesis was given to open */
    uint8_t expect_genesis[VL_HASH_SIZE];
    bool has_genesis;                        /* tip: genesis committed */
    uint64_t height;                         /* tip: last committed height */
    uint8_t last_hash[VL_HASH_SIZE];         /* tip: hash of block `height` header */
    uint8_t state_hash[VL_HASH_SIZE];        /* tip: state hash after block `height` */
    vl_hasher_t *hasher;                     /* owned; writer only */
    store_batch_t *batch;                    /* owned; writer only, reused per block */
    s_buf_t key;                             /* owned scratch; writer only */
    s_buf_t val;                             /* owned scratch; writer only */
    bool skew_next;                          /* test seam: ledger_test_skew_state */
};

/* --- Small helpers ------------------------------------------------------- */

static int
s_buf_reserve(s_buf_t *b, size_t cap)
{
    if (cap <= b->cap)
        return 0;
    size_t n = b->cap ? b->cap : 256;
    while (n < cap)
        n *= 2;
    uint8_t *p = realloc(b->data, n);
    if (!p)
        return VL_ERR_NOMEM;
    b->data = p;
    b->cap = n;
    return 0;
}

/* Sets the buffer to prefix (2 bytes) || body; 0 or VL_ERR_NOMEM. */
static int
s_buf_set(s_buf_t *b, const char *prefix, const void *body, size_t body_len, size_t extra)
{
    size_t plen = strlen(prefix);
    if (s_buf_reserve(b, plen + body_len + extra + 1) != 0)
        return VL_ERR_NOMEM;
    memcpy(b->data, prefix, plen);
    if (body_len)
        memcpy(b->data + plen, body, body_len);
    b->len = plen + body_len;
    return 0;
}

static void
s_buf_free(s_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Copies data into b with a trailing NUL, for handing borrowed bytes to a
 * callback as a C string. */
static int
s_buf_copy_z(s_buf_t *b, const void *data, size_t len)
{
    if (s_buf_reserve(b, len + 1) != 0)
        return VL_ERR_NOMEM;
    if (len)
        memcpy(b->data, data, len);
    b->data[len] = 0;
    b->len = len;
    return 0;
}

/* "b:" / "c:" height be64. */
static void
s_height_key(char tag, uint64_t height, uint8_t out[10])
{
    out[0] = (uint8_t) tag;
    out[1] = ':';
    vl_put_be64(out + 2, height);
}

/* First 16 hex digits of a hash, for messages. */
static void
s_short_hex(const uint8_t *hash, char out[17])
{
    vl_hex_encode(hash, 8, out);
}

/* Copies at most size-1 bytes of text into out, replacing non-printable
 * bytes, so stored text is safe to quote in a message. */
static void
s_printable(const uint8_t *text, size_t len, char *out, size_t size)
{
    size_t n = len < size - 1 ? len : size - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (text[i] >= 0x20 && text[i] < 0x7f) ? (char) text[i] : '?';
    out[n] = 0;
}

/* --- Open ---------------------------------------------------------------- */

/* Checks "m:format"; writes it into a new, empty store. */
static int
s_check_format(ledger_t *self, vl_err_t *err)
{
    uint8_t *v = NULL;
    size_t len = 0;
    int rc = store_get(self->store, KEY_FORMAT, strlen(KEY_FORMAT), &v, &len, err);
    if (rc == VL_ERR_NOT_FOUND) {
        if (!store_is_empty(self->store))
            return vl_err_set(err, VL_ERR_CORRUPT,
                              "data directory %s holds a LevelDB database that is not a "
                              "vledger ledger (no format marker)",
                              self->dir);
        store_batch_clear(self->batch);
        store_batch_put(self->batch, KEY_FORMAT, strlen(KEY_FORMAT), LEDGER_FORMAT,
                        strlen(LEDGER_FORMAT));
        rc = store_write(self->store, self->batch, err);
        store_batch_clear(self->batch);
        return rc;
    }
    if (rc != 0)
        return rc;
    if (len != strlen(LEDGER_FORMAT) || memcmp(v, LEDGER_FORMAT, len) != 0) {
        char shown[48];
        s_printable(v, len, shown, sizeof shown);
        free(v);
        return vl_err_set(err, VL_ERR_CORRUPT,
                          "data directory %s has ledger format \"%s\"; this build reads \"%s\"",
                          self->dir, shown, LEDGER_FORMAT);
    }
    free(v);
    return 0;
}

/* Reads a meta key; NOT_FOUND is not an error here (*found says). */
static int
s_get_meta(ledger_t *self, const char *key, uint8_t **v, size_t *len, bool *found,
           vl_err_t *err)
{
    int rc = store_get(self->store, key, strlen(key), v, len, err);
    *found = rc == 0;
    return rc == VL_ERR_NOT_FOUND ? 0 : rc;
}

/* Invariant 2: block `height` exists and its header hashes to `hash`. */
static int
s_check_tip_block(ledger_t *self, uint64_t height, const uint8_t *hash, vl_err_t *err)
{
    uint8_t key[10];
    s_height_key('b', height, key);
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = store_get(self->store, key, sizeof key, &bytes, &len, err);
    if (rc == VL_ERR_NOT_FOUND)
        return vl_err_set(err, VL_ERR_CORRUPT,
                          "data directory %s is corrupt: the tip block %" PRIu64 " is missing",
                          self->dir, height);
    if (rc != 0)
        return rc;
    Vl__Block *block = vl__block__unpack(NULL, len, bytes);
    free(bytes);
    if (!block)
        return vl_err_set(err, VL_ERR_CORRUPT,
                          "data directory %s is corrupt: the tip block %" PRIu64
                          " does not decode",
                          self->dir, height);
    uint8_t got[VL_HASH_SIZE];
    vl_sha256(block->header.data, block->header.len, got);
    vl__block__free_unpacked(block, NULL);
    if (memcmp(got, hash, VL_HASH_SIZE) != 0) {
        char a[17], b[17];
        s_short_hex(got, a);
        s_short_hex(hash, b);
        return vl_err_set(err, VL_ERR_CORRUPT,
                          "data directory %s is corrupt: block %" PRIu64
                          " hashes to %s..., the tip says %s...",
                          self->dir, height, a, b);
    }
    return 0;
}

/* Loads the tip and checks invariants 1-3. */
static int
s_load_tip(ledger_t *self, vl_err_t *err)
{
    uint8_t *tip = NULL, *genesis = NULL, *chain = NULL;
    size_t tip_len = 0, genesis_len = 0, chain_len = 0;
    bool has_tip = false, has_genesis = false, has_chain = false;
    int rc = s_get_meta(self, KEY_TIP, &tip, &tip_len, &has_tip, err);
    if (rc == 0)
        rc = s_get_meta(self, KEY_GENESIS, &genesis, &genesis_len, &has_genesis, err);
    if (rc == 0)
        rc = s_get_meta(self, KEY_CHAIN, &chain, &chain_len, &has_chain, err);
    if (rc != 0)
        goto done;

    /* Invariant 1. */
    if (!has_tip) {
        uint8_t b0[10];
        s_height_key('b', 0, b0);
        if (has_genesis || has_chain || store_has(self->store, b0, sizeof b0))
            rc = vl_err_set(err, VL_ERR_CORRUPT,
                            "data directory %s is corrupt: a genesis is recorded but the tip "
                            "(m:tip) is missing",
                            self->dir);
        goto done; /* no genesis yet: tip stays zero */
    }
    if (tip_len != LEDGER_TIP_LEN || !has_genesis || genesis_len != VL_HASH_SIZE || !has_chain) {
        rc = vl_err_set(err, VL_ERR_CORRUPT,
                        "data directory %s is corrupt: malformed metadata (tip %zu bytes, "
                        "genesis %s, chain id %s)",
                        self->dir, has_tip ? tip_len : 0,
                        has_genesis ? (genesis_len == VL_HASH_SIZE ? "ok" : "malformed")
                                    : "missing",
                        has_chain ? "ok" : "missing");
        goto done;
    }

    /* Invariant 3. */
    bool chain_differs = self->expect_chain && (strlen(self->expect_chain) != chain_len
                                                || memcmp(self->expect_chain, chain, chain_len));
    bool genesis_differs =
        self->has_expect_genesis && memcmp(self->expect_genesis, genesis, VL_HASH_SIZE) != 0;
    if (chain_differs || genesis_differs) {
        char stored_chain[80], stored_hex[17], want_hex[17], want[120];
        s_printable(chain, chain_len, stored_chain, sizeof stored_chain);
        s_short_hex(genesis, stored_hex);
        if (self->has_expect_genesis) {
            s_short_hex(self->expect_genesis, want_hex);
            snprintf(want, sizeof want, "%.80s (genesis %s...)",
                     self->expect_chain ? self->expect_chain : stored_chain, want_hex);
        } else {
            snprintf(want, sizeof want, "%.80s", self->expect_chain);
        }
        rc = vl_err_set(err, VL_ERR_FOREIGN,
                        "data directory %s belongs to chain %s (genesis %s...), not %s",
                        self->dir, stored_chain, stored_hex, want);
        goto done;
    }

    /* Invariant 2. */
    uint64_t height = vl_get_be64(tip);
    const uint8_t *last = tip + 8;
    if (height == 0 && memcmp(last, genesis, VL_HASH_SIZE) != 0) {
        rc = vl_err_set(err, VL_ERR_CORRUPT,
                        "data directory %s is corrupt: tip at height 0 is not the genesis",
                        self->dir);
        goto done;
    }
    rc = s_check_tip_block(self, height, last, err);
    if (rc != 0)
        goto done;

    self->has_genesis = true;
    self->height = height;
    memcpy(self->last_hash, last, VL_HASH_SIZE);
    memcpy(self->state_hash, tip + 8 + VL_HASH_SIZE, VL_HASH_SIZE);
done:
    free(chain);
    free(genesis);
    free(tip);
    return rc;
}

int
ledger_open(const char *dir, const char *chain_id, const uint8_t *genesis_hash, ledger_t **out,
            vl_err_t *err)
{
    assert(dir && out);
    int rc = 0;
    ledger_t *self = calloc(1, sizeof *self);
    if (!self)
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory opening ledger %s", dir);
    self->dir = strdup(dir);
    self->hasher = vl_hasher_new();
    self->batch = store_batch_new();
    if (chain_id)
        self->expect_chain = strdup(chain_id);
    if (!self->dir || !self->hasher || !self->batch || (chain_id && !self->expect_chain)) {
        rc = vl_err_set(err, VL_ERR_NOMEM, "out of memory opening ledger %s", dir);
        goto fail;
    }
    if (genesis_hash) {
        self->has_expect_genesis = true;
        memcpy(self->expect_genesis, genesis_hash, VL_HASH_SIZE);
    }
    rc = store_open(dir, &self->store, err);
    if (rc == 0)
        rc = s_check_format(self, err);
    if (rc == 0)
        rc = s_load_tip(self, err);
    if (rc != 0)
        goto fail;
    *out = self;
    return 0;
fail:
    ledger_close(&self);
    return rc;
}

void
ledger_close(ledger_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ledger_t *self = *self_p;
    store_close(&self->store);
    store_batch_destroy(&self->batch);
    vl_hasher_destroy(&self->hasher);
    s_buf_free(&self->key);
    s_buf_free(&self->val);
    free(self->expect_chain);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

/* --- Tip ----------------------------------------------------------------- */

bool
ledger_has_genesis(const ledger_t *ledger)
{
    assert(ledger);
    return ledger->has_genesis;
}

uint64_t
ledger_height(const ledger_t *ledger)
{
    assert(ledger);
    return ledger->height;
}

const uint8_t *
ledger_last_hash(const ledger_t *ledger)
{
    assert(ledger);
    return ledger->last_hash;
}

const uint8_t *
ledger_state_hash(const ledger_t *ledger)
{
    assert(ledger);
    return ledger->state_hash;
}

void
ledger_test_skew_state(ledger_t *ledger)
{
    ledger->skew_next = true;
}

struct store_t *
ledger_store(ledger_t *ledger)
{
    assert(ledger);
    return ledger->store;
}

/* --- Reads --------------------------------------------------------------- */

int
ledger_get(ledger_t *ledger, const char *key, char **value, size_t *len, vl_version_t *version)
{
    assert(ledger && key && value && len);
    s_buf_t k = { 0 };
    if (s_buf_set(&k, "s:", key, strlen(key), 0) != 0)
        return VL_ERR_NOMEM;
    uint8_t *v = NULL;
    size_t vlen = 0;
    int rc = store_get(ledger->store, k.data, k.len, &v, &vlen, NULL);
    s_buf_free(&k);
    if (rc != 0)
        return rc;
    if (vlen < LEDGER_VERSION_LEN) {
        free(v);
        return VL_ERR_CORRUPT;
    }
    if (version) {
        version->block = vl_get_be64(v);
        version->tx = vl_get_be32(v + 8);
    }
    /* Drop the version in place; store_get's copy has room for the NUL. */
    size_t n = vlen - LEDGER_VERSION_LEN;
    memmove(v, v + LEDGER_VERSION_LEN, n);
    v[n] = 0;
    *value = (char *) v;
    *len = n;
    return 0;
}

int
ledger_range(ledger_t *ledger, const char *prefix, size_t limit, ledger_range_fn fn, void *arg)
{
    assert(ledger && prefix && fn);
    s_buf_t p = { 0 }, kz = { 0 }, vz = { 0 };
    if (s_buf_set(&p, "s:", prefix, strlen(prefix), 0) != 0)
        return VL_ERR_NOMEM;
    store_iter_t *it = store_iter_new(ledger->store, p.data, p.len);
    s_buf_free(&p);
    if (!it)
        return VL_ERR_NOMEM;
    int rc = 0;
    size_t seen = 0;
    for (; store_iter_valid(it) && (limit == 0 || seen < limit); store_iter_next(it)) {
        size_t klen = 0, vlen = 0;
        const uint8_t *k = store_iter_key(it, &klen);
        const uint8_t *v = store_iter_value(it, &vlen);
        if (vlen < LEDGER_VERSION_LEN) {
            rc = VL_ERR_CORRUPT;
            break;
        }
        vl_version_t version = { vl_get_be64(v), vl_get_be32(v + 8) };
        if (s_buf_copy_z(&kz, k + 2, klen - 2) != 0
            || s_buf_copy_z(&vz, v + LEDGER_VERSION_LEN, vlen - LEDGER_VERSION_LEN) != 0) {
            rc = VL_ERR_NOMEM;
            break;
        }
        seen++;
        rc = fn(arg, (const char *) kz.data, kz.len, (const char *) vz.data, vz.len, version);
        if (rc != 0)
            break;
    }
    if (rc == 0)
        rc = store_iter_status(it, NULL);
    store_iter_destroy(&it);
    s_buf_free(&kz);
    s_buf_free(&vz);
    return rc;
}

int
ledger_history(ledger_t *ledger, const char *key, ledger_history_fn fn, void *arg)
{
    assert(ledger && key && fn);
    s_buf_t p = { 0 }, vz = { 0 };
    size_t key_len = strlen(key);
    if (s_buf_set(&p, "h:", key, key_len, 1) != 0)
        return VL_ERR_NOMEM;
    p.data[p.len++] = 0; /* "h:" key 0x00: keys hold no NUL, so no other key matches */
    store_iter_t *it = store_iter_new(ledger->store, p.data, p.len);
    size_t prefix_len = p.len;
    s_buf_free(&p);
    if (!it)
        return VL_ERR_NOMEM;
    int rc = 0;
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t klen = 0, vlen = 0;
        const uint8_t *k = store_iter_key(it, &klen);
        const uint8_t *v = store_iter_value(it, &vlen);
        if (klen != prefix_len + LEDGER_VERSION_LEN || vlen < LEDGER_HIST_HEAD || v[32] > 1) {
            rc = VL_ERR_CORRUPT;
            break;
        }
        vl_version_t version = { vl_get_be64(k + prefix_len), vl_get_be32(k + prefix_len + 8) };
        if (s_buf_copy_z(&vz, v + LEDGER_HIST_HEAD, vlen - LEDGER_HIST_HEAD) != 0) {
            rc = VL_ERR_NOMEM;
            break;
        }
        uint8_t txid[VL_HASH_SIZE];
        memcpy(txid, v, VL_HASH_SIZE);
        rc = fn(arg, version, txid, v[32] == 1, (const char *) vz.data, vz.len);
        if (rc != 0)
            break;
    }
    if (rc == 0)
        rc = store_iter_status(it, NULL);
    store_iter_destroy(&it);
    s_buf_free(&vz);
    return rc;
}

int
ledger_block_get(ledger_t *ledger, uint64_t height, uint8_t **bytes, size_t *len)
{
    assert(ledger && bytes && len);
    uint8_t key[10];
    s_height_key('b', height, key);
    return store_get(ledger->store, key, sizeof key, bytes, len, NULL);
}

int
ledger_block_codes(ledger_t *ledger, uint64_t height, Vl__BlockCodes **out)
{
    assert(ledger && out);
    uint8_t key[10];
    s_height_key('c', height, key);
    uint8_t *v = NULL;
    size_t len = 0;
    int rc = store_get(ledger->store, key, sizeof key, &v, &len, NULL);
    if (rc != 0)
        return rc;
    Vl__BlockCodes *codes = vl__block_codes__unpack(NULL, len, v);
    free(v);
    if (!codes)
        return VL_ERR_CORRUPT;
    *out = codes;
    return 0;
}

int
ledger_tx_get(ledger_t *ledger, const uint8_t txid[32], ledger_tx_info_t *info)
{
    assert(ledger && txid && info);
    uint8_t key[2 + VL_HASH_SIZE] = { 't', ':' };
    memcpy(key + 2, txid, VL_HASH_SIZE);
    uint8_t *v = NULL;
    size_t len = 0;
    int rc = store_get(ledger->store, key, sizeof key, &v, &len, NULL);
    if (rc != 0)
        return rc;
    Vl__TxRecord *rec = vl__tx_record__unpack(NULL, len, v);
    free(v);
    if (!rec)
        return VL_ERR_CORRUPT;
    info->height = rec->height;
    info->index = rec->index;
    info->code = rec->code;
    vl__tx_record__free_unpacked(rec, NULL);
    return 0;
}

/* --- Commit -------------------------------------------------------------- */

/* Caller contract: block_hash is SHA-256 of the header inside the bytes. */
static void
s_assert_block_hash(const ledger_block_t *block)
{
    Vl__Block *b = vl__block__unpack(NULL, block->block_len, block->block);
    assert(b && "ledger_commit_block: block bytes do not decode");
    if (!b)
        abort(); /* never reached while asserts are on (b_ndebug=false) */
    uint8_t got[VL_HASH_SIZE];
    vl_sha256(b->header.data, b->header.len, got);
    vl__block__free_unpacked(b, NULL);
    assert(memcmp(got, block->block_hash, VL_HASH_SIZE) == 0
           && "ledger_commit_block: block_hash is not the hash of the header");
    (void) got;
}

/* Adds "t:" txid -> TxRecord. */
static void
s_put_tx_index(ledger_t *self, uint64_t height, uint32_t index, const ledger_tx_effect_t *tx)
{
    uint8_t key[2 + VL_HASH_SIZE] = { 't', ':' };
    memcpy(key + 2, tx->txid, VL_HASH_SIZE);
    Vl__TxRecord rec = VL__TX_RECORD__INIT;
    rec.height = height;
    rec.index = index;
    rec.code = (Vl__TxCode) tx->code;
    uint8_t buf[64];
    assert(vl__tx_record__get_packed_size(&rec) <= sizeof buf);
    size_t n = vl__tx_record__pack(&rec, buf);
    store_batch_put(self->batch, key, sizeof key, buf, n);
}

/* The state hash fold of one valid write:
 * be32 len(key) key u8 is_delete be32 len(value) value. */
static void
s_fold_write(vl_hasher_t *hasher, const Vl__WriteItem *w)
{
    size_t klen = strlen(w->key);
    const uint8_t *value = w->value.len ? w->value.data : (const uint8_t *) "";
    size_t vlen = w->value.len;
    uint8_t n[4];
    vl_put_be32(n, (uint32_t) klen);
    vl_hasher_update(hasher, n, 4);
    vl_hasher_update(hasher, w->key, klen);
    uint8_t flag = w->is_delete ? 1 : 0;
    vl_hasher_update(hasher, &flag, 1);
    vl_put_be32(n, (uint32_t) vlen);
    vl_hasher_update(hasher, n, 4);
    vl_hasher_update(hasher, value, vlen);
}

/* Adds state and history for one valid write and folds it into the hasher. */
static int
s_put_write(ledger_t *self, uint64_t height, uint32_t index, const uint8_t *txid,
            const Vl__WriteItem *w)
{
    assert(w && w->key);
    size_t klen = strlen(w->key);
    const uint8_t *value = w->value.len ? w->value.data : (const uint8_t *) "";
    size_t vlen = w->value.len;
    uint8_t ver[LEDGER_VERSION_LEN];
    vl_put_be64(ver, height);
    vl_put_be32(ver + 8, index);

    /* State: "s:" key -> version | value, or removed on delete. */
    if (s_buf_set(&self->key, "s:", w->key, klen, LEDGER_VERSION_LEN + 1) != 0)
        return VL_ERR_NOMEM;
    if (w->is_delete) {
        store_batch_delete(self->batch, self->key.data, self->key.len);
    } else {
        if (s_buf_reserve(&self->val, LEDGER_VERSION_LEN + vlen) != 0)
            return VL_ERR_NOMEM;
        memcpy(self->val.data, ver, LEDGER_VERSION_LEN);
        if (vlen)
            memcpy(self->val.data + LEDGER_VERSION_LEN, value, vlen);
        store_batch_put(self->batch, self->key.data, self->key.len, self->val.data,
                        LEDGER_VERSION_LEN + vlen);
    }

    /* History: "h:" key 0x00 version -> txid | flag | value. */
    self->key.data[0] = 'h';
    self->key.data[self->key.len++] = 0;
    memcpy(self->key.data + self->key.len, ver, LEDGER_VERSION_LEN);
    self->key.len += LEDGER_VERSION_LEN;
    if (s_buf_reserve(&self->val, LEDGER_HIST_HEAD + vlen) != 0)
        return VL_ERR_NOMEM;
    memcpy(self->val.data, txid, VL_HASH_SIZE);
    self->val.data[VL_HASH_SIZE] = w->is_delete ? 1 : 0;
    if (vlen)
        memcpy(self->val.data + LEDGER_HIST_HEAD, value, vlen);
    store_batch_put(self->batch, self->key.data, self->key.len, self->val.data,
                    LEDGER_HIST_HEAD + vlen);

    s_fold_write(self->hasher, w);
    return 0;
}

/* Checks a genesis block against what ledger_open was told to expect. */
static int
s_check_genesis(ledger_t *self, const ledger_block_t *block, vl_err_t *err)
{
    if (self->expect_chain && strcmp(self->expect_chain, block->chain_id) != 0)
        return vl_err_set(err, VL_ERR_FOREIGN,
                          "genesis block is for chain %.80s, this ledger was opened for %.80s",
                          block->chain_id, self->expect_chain);
    if (self->has_expect_genesis
        && memcmp(self->expect_genesis, block->block_hash, VL_HASH_SIZE) != 0) {
        char a[17], b[17];
        s_short_hex(block->block_hash, a);
        s_short_hex(self->expect_genesis, b);
        return vl_err_set(err, VL_ERR_FOREIGN,
                          "genesis block hash %s... differs from the expected %s...", a, b);
    }
    return 0;
}

int
ledger_state_fold(const uint8_t prev[VL_HASH_SIZE], const ledger_block_t *block,
                  uint8_t out[VL_HASH_SIZE])
{
    vl_hasher_t *hasher = vl_hasher_new();
    if (!hasher)
        return VL_ERR_NOMEM;
    vl_hasher_update(hasher, prev, VL_HASH_SIZE);
    uint8_t be_h[8];
    vl_put_be64(be_h, block->height);
    vl_hasher_update(hasher, be_h, 8);
    for (size_t i = 0; i < block->n_txs; i++) {
        const ledger_tx_effect_t *tx = &block->txs[i];
        if (tx->code != VL__TX_CODE__TX_VALID)
            continue;
        for (size_t j = 0; j < tx->n_writes; j++)
            s_fold_write(hasher, tx->writes[j]);
    }
    vl_hasher_final(hasher, out);
    vl_hasher_destroy(&hasher);
    return 0;
}

/* Adds one block (bytes, codes, tx index, valid writes) to self->batch and
 * computes the state hash after it from `prev`. VL_ERR_NOMEM on failure
 * (the caller clears the batch). */
static int
s_stage_block(ledger_t *self, const ledger_block_t *block, const uint8_t prev[VL_HASH_SIZE],
              uint8_t state[VL_HASH_SIZE])
{
    uint64_t h = block->height;
    int rc = VL_ERR_NOMEM;
    Vl__TxCode *codes = NULL;
    uint8_t *codes_buf = NULL;

    /* Block bytes. */
    uint8_t hkey[10];
    s_height_key('b', h, hkey);
    store_batch_put(self->batch, hkey, sizeof hkey, block->block, block->block_len);

    /* Validation codes. */
    Vl__BlockCodes bc = VL__BLOCK_CODES__INIT;
    if (block->n_txs) {
        codes = malloc(block->n_txs * sizeof *codes);
        if (!codes)
            goto done;
        for (size_t i = 0; i < block->n_txs; i++)
            codes[i] = (Vl__TxCode) block->txs[i].code;
        bc.codes = codes;
        bc.n_codes = block->n_txs;
    }
    size_t codes_len = vl__block_codes__get_packed_size(&bc);
    codes_buf = malloc(codes_len ? codes_len : 1);
    if (!codes_buf)
        goto done;
    vl__block_codes__pack(&bc, codes_buf);
    s_height_key('c', h, hkey);
    store_batch_put(self->batch, hkey, sizeof hkey, codes_buf, codes_len);

    /* Tx index, state, history and the state hash fold:
     * S_h = SHA-256(S_{h-1} || be64 h || valid writes in order). */
    vl_hasher_update(self->hasher, prev, VL_HASH_SIZE);
    uint8_t be_h[8];
    vl_put_be64(be_h, h);
    vl_hasher_update(self->hasher, be_h, 8);
    for (size_t i = 0; i < block->n_txs; i++) {
        const ledger_tx_effect_t *tx = &block->txs[i];
        /* A duplicate must not overwrite where the original landed. */
        if (tx->code != VL__TX_CODE__TX_DUPLICATE_TXID && !tx->skip_index)
            s_put_tx_index(self, h, (uint32_t) i, tx);
        if (tx->code != VL__TX_CODE__TX_VALID)
            continue;
        assert(tx->n_writes == 0 || tx->writes);
        for (size_t j = 0; j < tx->n_writes; j++) {
            if (s_put_write(self, h, (uint32_t) i, tx->txid, tx->writes[j]) != 0) {
                vl_hasher_final(self->hasher, state);   /* resets the hasher */
                goto done;
            }
        }
    }
    if (self->skew_next) {   /* test seam: a replica that folds its state wrongly */
        vl_hasher_update(self->hasher, "skew", 4);
        self->skew_next = false;
    }
    vl_hasher_final(self->hasher, state);
    rc = 0;
done:
    free(codes_buf);
    free(codes);
    return rc;
}

int
ledger_commit_blocks(ledger_t *ledger, const ledger_block_t *const *blocks, size_t n,
                     vl_err_t *err)
{
    assert(ledger && blocks && n > 0);
    ledger_t *self = ledger;
    if (!self->has_genesis && n != 1)
        return vl_err_set(err, VL_ERR_STATE, "the genesis block commits alone");
    uint64_t want = self->has_genesis ? self->height + 1 : 0;
    for (size_t i = 0; i < n; i++) {
        const ledger_block_t *block = blocks[i];
        assert(block && block->block && block->block_len > 0);
        assert(block->n_txs == 0 || block->txs);
        assert(block->n_txs <= VL_BLOCK_TXS_MAX);
        if (block->height != want + i || (self->has_genesis && want + i == 0))
            return vl_err_set(err, VL_ERR_STATE,
                              "block height %" PRIu64 " does not follow the tip (expected %" PRIu64
                              ")",
                              block->height, want + i);
        s_assert_block_hash(block);
    }
    if (!self->has_genesis) {
        assert(blocks[0]->chain_id && "ledger_commit_block: genesis needs a chain id");
        int rc = s_check_genesis(self, blocks[0], err);
        if (rc != 0)
            return rc;
    }

    int rc = 0;
    store_batch_clear(self->batch);
    uint8_t state[VL_HASH_SIZE];
    memcpy(state, self->state_hash, VL_HASH_SIZE);
    for (size_t i = 0; i < n; i++) {
        uint8_t prev[VL_HASH_SIZE];
        memcpy(prev, state, VL_HASH_SIZE);
        if (s_stage_block(self, blocks[i], prev, state) != 0) {
            rc = vl_err_set(err, VL_ERR_NOMEM, "out of memory committing block %" PRIu64,
                            blocks[i]->height);
            goto done;
        }
    }

    /* Tip and, at genesis, the chain identity. */
    const ledger_block_t *last = blocks[n - 1];
    uint8_t tip[LEDGER_TIP_LEN];
    vl_put_be64(tip, last->height);
    memcpy(tip + 8, last->block_hash, VL_HASH_SIZE);
    memcpy(tip + 8 + VL_HASH_SIZE, state, VL_HASH_SIZE);
    store_batch_put(self->batch, KEY_TIP, strlen(KEY_TIP), tip, sizeof tip);
    if (last->height == 0) {
        store_batch_put(self->batch, KEY_GENESIS, strlen(KEY_GENESIS), last->block_hash,
                        VL_HASH_SIZE);
        store_batch_put(self->batch, KEY_CHAIN, strlen(KEY_CHAIN), last->chain_id,
                        strlen(last->chain_id));
    }

    rc = store_write(self->store, self->batch, err);
    if (rc != 0)
        goto done;
    self->has_genesis = true;
    self->height = last->height;
    memcpy(self->last_hash, last->block_hash, VL_HASH_SIZE);
    memcpy(self->state_hash, state, VL_HASH_SIZE);
done:
    store_batch_clear(self->batch);
    return rc;
}

int
ledger_commit_block(ledger_t *ledger, const ledger_block_t *block, vl_err_t *err)
{
    return ledger_commit_blocks(ledger, &block, 1, err);
}
