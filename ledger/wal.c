/*
 * wal.c — consensus write-ahead records on top of store.c (key schema in
 * wal.h and ledger.h).
 *
 * The WAL keeps no records in memory, only the next sequence number: open
 * scans the "w:" keys once (the WAL holds the records of the heights not
 * yet committed, so a handful) and sets it past the largest stored one.
 * Each append is its own synced batch of one put; prune is one synced batch
 * of deletes. A failed write changes neither the store nor next_seq, so a
 * retry appends the same key.
 *
 * Invariant: every "w:" key is WAL_KEY_LEN bytes and its seq is < next_seq
 * (checked by wal_open; a shorter or longer key is VL_ERR_CORRUPT, never an
 * assert: it came from disk).
 *
 * Threads: the writer thread owns next_seq and the scratch batch; wal_load
 * touches only the store and a per-call iterator.
 */
#include "wal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

#define WAL_PREFIX "w:"
#define WAL_PREFIX_LEN 2
/* "w:" | be64 height | be32 round | u8 type | be64 seq */
#define WAL_KEY_LEN (WAL_PREFIX_LEN + 8 + 4 + 1 + 8)

struct wal_t {
    store_t *store;        /* borrowed: the ledger's */
    store_batch_t *batch;  /* owned; writer only, cleared after each write */
    uint64_t next_seq;     /* sequence of the next append */
};

static void
s_key(uint8_t key[WAL_KEY_LEN], uint64_t height, uint32_t round, uint8_t type, uint64_t seq)
{
    memcpy(key, WAL_PREFIX, WAL_PREFIX_LEN);
    vl_put_be64(key + 2, height);
    vl_put_be32(key + 10, round);
    key[14] = type;
    vl_put_be64(key + 15, seq);
}

/* Decodes a key the iterator found under "w:"; VL_ERR_CORRUPT on a bad
 * length. */
static int
s_parse(const uint8_t *key, size_t len, wal_record_t *rec, vl_err_t *err)
{
    if (len != WAL_KEY_LEN)
        return vl_err_set(err, VL_ERR_CORRUPT,
                          "consensus WAL key of %zu bytes (expected %d): store corrupt", len,
                          WAL_KEY_LEN);
    rec->height = vl_get_be64(key + 2);
    rec->round = vl_get_be32(key + 10);
    rec->type = key[14];
    rec->seq = vl_get_be64(key + 15);
    return 0;
}

int
wal_open(store_t *store, wal_t **out, vl_err_t *err)
{
    assert(store && out);
    wal_t *self = calloc(1, sizeof *self);
    if (!self || !(self->batch = store_batch_new())) {
        free(self);
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory opening the consensus WAL");
    }
    self->store = store;
    store_iter_t *it = store_iter_new(store, WAL_PREFIX, WAL_PREFIX_LEN);
    if (!it) {
        wal_close(&self);
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory opening the consensus WAL");
    }
    int rc = 0;
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t klen = 0;
        const uint8_t *k = store_iter_key(it, &klen);
        wal_record_t rec;
        if ((rc = s_parse(k, klen, &rec, err)) != 0)
            break;
        if (rec.seq >= self->next_seq)
            self->next_seq = rec.seq + 1;
    }
    if (rc == 0)
        rc = store_iter_status(it, err);
    store_iter_destroy(&it);
    if (rc != 0) {
        wal_close(&self);
        return rc;
    }
    *out = self;
    return 0;
}

void
wal_close(wal_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    store_batch_destroy(&(*self_p)->batch);
    free(*self_p);
    *self_p = NULL;
}

int
wal_append(wal_t *wal, uint64_t height, uint32_t round, uint8_t type, const void *bytes,
           size_t len, uint64_t *seq_out, vl_err_t *err)
{
    assert(wal && (bytes || len == 0));
    if (len > WAL_RECORD_MAX_BYTES)
        return vl_err_set(err, VL_ERR_LIMIT, "consensus WAL record of %zu bytes exceeds %u",
                          len, WAL_RECORD_MAX_BYTES);
    uint8_t key[WAL_KEY_LEN];
    s_key(key, height, round, type, wal->next_seq);
    store_batch_clear(wal->batch);
    store_batch_put(wal->batch, key, sizeof key, len ? bytes : "", len);
    int rc = store_write(wal->store, wal->batch, err);
    store_batch_clear(wal->batch);
    if (rc != 0)
        return rc;
    if (seq_out)
        *seq_out = wal->next_seq;
    wal->next_seq++;
    return 0;
}

int
wal_append_many(wal_t *wal, const wal_entry_t *entries, size_t n, vl_err_t *err)
{
    assert(wal && (entries || n == 0));
    store_batch_clear(wal->batch);
    for (size_t i = 0; i < n; i++) {
        if (entries[i].len > WAL_RECORD_MAX_BYTES) {
            store_batch_clear(wal->batch);
            return vl_err_set(err, VL_ERR_LIMIT, "consensus WAL record of %zu bytes exceeds %u",
                              entries[i].len, WAL_RECORD_MAX_BYTES);
        }
        uint8_t key[WAL_KEY_LEN];
        s_key(key, entries[i].height, entries[i].round, entries[i].type, wal->next_seq + i);
        store_batch_put(wal->batch, key, sizeof key, entries[i].len ? entries[i].bytes : "",
                        entries[i].len);
    }
    int rc = n ? store_write(wal->store, wal->batch, err) : 0;
    store_batch_clear(wal->batch);
    if (rc == 0)
        wal->next_seq += n;
    return rc;
}

int
wal_load(wal_t *wal, uint64_t height, wal_record_fn fn, void *arg, vl_err_t *err)
{
    assert(wal && fn);
    uint8_t prefix[WAL_PREFIX_LEN + 8];
    memcpy(prefix, WAL_PREFIX, WAL_PREFIX_LEN);
    vl_put_be64(prefix + 2, height);
    store_iter_t *it = store_iter_new(wal->store, prefix, sizeof prefix);
    if (!it)
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory reading the consensus WAL");
    int rc = 0;
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t klen = 0, vlen = 0;
        const uint8_t *k = store_iter_key(it, &klen);
        wal_record_t rec;
        if ((rc = s_parse(k, klen, &rec, err)) != 0)
            break;
        rec.bytes = store_iter_value(it, &vlen);
        rec.len = vlen;
        if ((rc = fn(arg, &rec)) != 0)
            break;
    }
    if (rc == 0)
        rc = store_iter_status(it, err);
    store_iter_destroy(&it);
    return rc;
}

int
wal_prune(wal_t *wal, uint64_t below_height, size_t *deleted, vl_err_t *err)
{
    assert(wal);
    store_iter_t *it = store_iter_new(wal->store, WAL_PREFIX, WAL_PREFIX_LEN);
    if (!it)
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory pruning the consensus WAL");
    store_batch_clear(wal->batch);
    size_t n = 0;
    int rc = 0;
    /* Keys sort by height first, so the records to delete are a prefix of
     * the walk. A key of the wrong length fails the prune with nothing
     * deleted: deleting it would hide the corruption. */
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t klen = 0;
        const uint8_t *k = store_iter_key(it, &klen);
        wal_record_t rec;
        if ((rc = s_parse(k, klen, &rec, err)) != 0)
            break;
        if (rec.height >= below_height)
            break;
        store_batch_delete(wal->batch, k, klen);
        n++;
    }
    if (rc == 0)
        rc = store_iter_status(it, err);
    store_iter_destroy(&it);
    if (rc == 0 && n > 0)
        rc = store_write(wal->store, wal->batch, err);
    store_batch_clear(wal->batch);
    if (rc != 0)
        return rc;
    if (deleted)
        *deleted = n;
    return 0;
}

long
wal_count(wal_t *wal)
{
    assert(wal);
    store_iter_t *it = store_iter_new(wal->store, WAL_PREFIX, WAL_PREFIX_LEN);
    if (!it)
        return -1;
    long n = 0;
    for (; store_iter_valid(it); store_iter_next(it))
        n++;
    int rc = store_iter_status(it, NULL);
    store_iter_destroy(&it);
    return rc == 0 ? n : -1;
}
