/*
 * store.h — the thin wrapper around LevelDB's C API (the only file that calls
 * leveldb_* is store.c; STYLE "LevelDB").
 *
 * A store_t is one open LevelDB database with the options the ledger wants:
 * paranoid checks, an 8 MiB LRU block cache, a 10-bit bloom filter (point
 * lookups of tx ids stay fast), checksum verification on every read and a
 * synced write for every batch. It turns LevelDB's errptr strings into
 * VL_ERR_* codes plus a bounded message, and it is the seam through which
 * tests inject write and read faults (store_fail_next_write,
 * store_set_write_hook, store_fail_nth_read).
 *
 * Thread rules: store_get and iterators may be used from any thread at the
 * same time as store_write (LevelDB is internally synchronised and gives each
 * read a consistent view). store_write, the fault seams and store_close
 * belong to one thread (the ledger's writer).
 *
 * Ownership: everything store_* returns is owned by the caller except what
 * store_iter_key / store_iter_value return, which is borrowed until the next
 * store_iter_next or store_iter_destroy.
 */
#ifndef VL_STORE_H
#define VL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct store_t store_t;
typedef struct store_batch_t store_batch_t;
typedef struct store_iter_t store_iter_t;

/* Size of the LevelDB block cache and bits per key of the bloom filter. */
#define STORE_CACHE_BYTES (8u * 1024 * 1024)
#define STORE_BLOOM_BITS 10

/* Opens the database in directory dir. A directory that is absent or empty
 * is created as a new database; a non-empty directory must already hold one.
 * Errors (message in err):
 *   VL_ERR_LOCKED  another process or handle holds the LevelDB lock;
 *   VL_ERR_CORRUPT LevelDB reports corruption, or dir is non-empty but holds
 *                  no LevelDB database;
 *   VL_ERR_IO      anything else (permissions, not a directory, ...);
 *   VL_ERR_NOMEM. */
int store_open(const char *dir, store_t **out, vl_err_t *err);

/* Closes the database (releasing its lock) and nulls *self_p; accepts NULL. */
void store_close(store_t **self_p);

/* Reads key. *value is malloc'd, owned by the caller and NUL terminated (len
 * excludes the NUL). Returns 0, VL_ERR_NOT_FOUND, VL_ERR_CORRUPT, VL_ERR_IO
 * or VL_ERR_NOMEM; err may be NULL. Outputs untouched on failure. */
int store_get(store_t *store, const void *key, size_t key_len, uint8_t **value,
              size_t *value_len, vl_err_t *err);

/* True when key exists. Errors count as absent; use store_get to tell. */
bool store_has(store_t *store, const void *key, size_t key_len);

/* True when the database holds no key at all. */
bool store_is_empty(store_t *store);

/* A write batch: puts and deletes applied atomically by store_write in the
 * order they were added. NULL on allocation failure. LevelDB copies key and
 * value bytes, so the caller's buffers may be reused at once. */
store_batch_t *store_batch_new(void);
void store_batch_put(store_batch_t *batch, const void *key, size_t key_len, const void *value,
                     size_t value_len);
void store_batch_delete(store_batch_t *batch, const void *key, size_t key_len);
/* Empties the batch for reuse. */
void store_batch_clear(store_batch_t *batch);
void store_batch_destroy(store_batch_t **self_p);

/* Applies the batch atomically with a synced write (it survives a machine
 * crash once this returns 0). Returns 0, VL_ERR_IO or VL_ERR_CORRUPT with a
 * message; on failure nothing of the batch was applied. The batch is left
 * as it was either way. */
int store_write(store_t *store, store_batch_t *batch, vl_err_t *err);

/* Fault-injection seams for tests. store_fail_next_write makes the next
 * store_write fail with VL_ERR_IO without touching the database. A write
 * hook, when set, is called before every write; a non-zero return fails that
 * write the same way. Pass fn = NULL to remove the hook. */
void store_fail_next_write(store_t *store);
typedef int (*store_write_hook_fn)(void *arg);
void store_set_write_hook(store_t *store, store_write_hook_fn fn, void *arg);

/* Read-fault seam for tests: the nth read from now (1 = the next; a read is
 * a store_get, store_has or store_iter_new) fails with VL_ERR_IO without
 * touching the database; 0 disarms. An iterator that fails this way is
 * never valid and store_iter_status reports VL_ERR_IO. Unlike the rest of
 * the read path this is not thread-safe: arm it only while the test's one
 * thread is the only reader. */
void store_fail_nth_read(store_t *store, unsigned nth);

/* An iterator over the keys starting with prefix (prefix_len 0 = all keys),
 * in byte order, positioned at the first one. It reads a consistent view of
 * the database as of its creation. NULL on allocation failure. */
store_iter_t *store_iter_new(store_t *store, const void *prefix, size_t prefix_len);

/* True while the iterator is at a key that starts with the prefix. */
bool store_iter_valid(const store_iter_t *it);

/* Moves to the next key; precondition: store_iter_valid. */
void store_iter_next(store_iter_t *it);

/* The current key and value, borrowed until the next move or destroy; not
 * NUL terminated. Precondition: store_iter_valid. */
const uint8_t *store_iter_key(const store_iter_t *it, size_t *len);
const uint8_t *store_iter_value(const store_iter_t *it, size_t *len);

/* After iteration stops: 0 when it stopped because the keys ran out, else
 * VL_ERR_CORRUPT or VL_ERR_IO with a message (err may be NULL). */
int store_iter_status(const store_iter_t *it, vl_err_t *err);

void store_iter_destroy(store_iter_t **self_p);

#endif
