/*
 * store.c — LevelDB behind a small interface (see store.h).
 *
 * Every leveldb_* call in vledger is in this file. The rules of LevelDB's C
 * API that it enforces: each call taking `char **errptr` has it checked and
 * freed at once; a missing key is NULL with no error; iterator key/value
 * pointers are borrowed until the next move; writes are synced; one process
 * holds a data directory (the LOCK file) and a second open fails, which is
 * reported as VL_ERR_LOCKED rather than as a generic I/O error.
 *
 * The options objects (cache, filter policy) must outlive the database, so
 * the store owns them and frees them after leveldb_close.
 *
 * LevelDB locks a directory with an fcntl lock, and POSIX drops all of a
 * process's fcntl locks on a file when ANY descriptor of it is closed. A
 * second leveldb_open of an open directory in the same process opens LOCK,
 * finds it held, and closes that descriptor — which silently releases the
 * first handle's lock, letting another process open the directory too. So
 * the store keeps a process-wide list of the directories it has open
 * (s_open_dirs, by real path) and refuses a second open itself, before
 * LevelDB is asked.
 */
#include "store.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <leveldb/c.h>

/* Directories open in this process (see the top comment). */
typedef struct s_open_dir {
    char *path;                       /* owned; realpath of the directory */
    struct s_open_dir *next;          /* owned */
} s_open_dir_t;
static pthread_mutex_t s_open_mutex = PTHREAD_MUTEX_INITIALIZER;
static s_open_dir_t *s_open_dirs;     /* guarded by s_open_mutex */

struct store_t {
    leveldb_t *db;                    /* owned */
    leveldb_options_t *options;       /* owned; referenced by db until close */
    leveldb_cache_t *cache;           /* owned; referenced by options */
    leveldb_filterpolicy_t *filter;   /* owned; referenced by options */
    leveldb_readoptions_t *read_opts; /* owned; immutable after open, shared by readers */
    leveldb_writeoptions_t *write_opts; /* owned; sync = 1 */
    char *dir;                        /* owned; for messages */
    char *real_dir;                   /* owned; key in s_open_dirs, NULL if not listed */
    bool fail_next_write;             /* test seam: fail the next store_write */
    store_write_hook_fn write_hook;   /* test seam, may be NULL */
    void *write_hook_arg;             /* borrowed */
    unsigned fail_read_in;            /* test seam: reads until an injected fault, 0 = none */
};

struct store_batch_t {
    leveldb_writebatch_t *wb;         /* owned */
};

struct store_iter_t {
    leveldb_iterator_t *it;           /* owned */
    uint8_t *prefix;                  /* owned copy, may be NULL when prefix_len 0 */
    const char *dir;                  /* borrowed from the store, for messages */
    size_t prefix_len;
    bool failed;                      /* test seam: an injected read fault */
};

/* The read-fault seam (store_fail_nth_read): true for the read that fails.
 * Writes the counter only while armed, so unarmed readers on other threads
 * never race on it. */
static bool
s_read_fault(store_t *store)
{
    if (store->fail_read_in == 0)
        return false;
    return --store->fail_read_in == 0;
}

/* Reports a LevelDB error from a read, write or iteration (not open):
 * corruption is VL_ERR_CORRUPT, anything else VL_ERR_IO. */
static int
s_error(const char *dir, const char *what, const char *msg, vl_err_t *err)
{
    if (strncmp(msg, "Corruption:", 11) == 0)
        return vl_err_set(err, VL_ERR_CORRUPT, "data directory %s is corrupt: %s", dir, msg);
    return vl_err_set(err, VL_ERR_IO, "%s data directory %s failed: %s", what, dir, msg);
}

/* 1 when dir does not exist or holds no entries, 0 when it holds some, and
 * -1 when it cannot be read (LevelDB will then report why). */
static int
s_dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 1 : -1;
    int empty = 1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    }
    closedir(d);
    return empty;
}

/* Maps an error from leveldb_open to a code and the message for the user. */
static int
s_open_error(const char *dir, const char *msg, vl_err_t *err)
{
    if (strncmp(msg, "IO error: lock ", 15) == 0)
        return vl_err_set(err, VL_ERR_LOCKED,
                          "data directory %s is in use by another vledgerd (LevelDB lock held)",
                          dir);
    if (strncmp(msg, "Corruption:", 11) == 0)
        return vl_err_set(err, VL_ERR_CORRUPT, "data directory %s is corrupt: %s", dir, msg);
    if (strstr(msg, "create_if_missing is false"))
        return vl_err_set(err, VL_ERR_CORRUPT,
                          "data directory %s is not empty and holds no ledger database "
                          "(no LevelDB CURRENT file)",
                          dir);
    return vl_err_set(err, VL_ERR_IO, "cannot open data directory %s: %s", dir, msg);
}

/* Caller holds s_open_mutex. */
static bool
s_dir_listed(const char *real_dir)
{
    for (s_open_dir_t *d = s_open_dirs; d; d = d->next)
        if (strcmp(d->path, real_dir) == 0)
            return true;
    return false;
}

/* Caller holds s_open_mutex. Takes ownership of real_dir on success. */
static int
s_dir_list(char *real_dir)
{
    s_open_dir_t *d = malloc(sizeof *d);
    if (!d)
        return VL_ERR_NOMEM;
    d->path = real_dir;
    d->next = s_open_dirs;
    s_open_dirs = d;
    return 0;
}

static void
s_dir_unlist(const char *real_dir)
{
    pthread_mutex_lock(&s_open_mutex);
    for (s_open_dir_t **p = &s_open_dirs; *p; p = &(*p)->next) {
        if (strcmp((*p)->path, real_dir) == 0) {
            s_open_dir_t *d = *p;
            *p = d->next;
            free(d);
            break;
        }
    }
    pthread_mutex_unlock(&s_open_mutex);
}

void
store_close(store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    store_t *self = *self_p;
    if (self->db)
        leveldb_close(self->db);
    if (self->options)
        leveldb_options_destroy(self->options);
    if (self->filter)
        leveldb_filterpolicy_destroy(self->filter);
    if (self->cache)
        leveldb_cache_destroy(self->cache);
    if (self->read_opts)
        leveldb_readoptions_destroy(self->read_opts);
    if (self->write_opts)
        leveldb_writeoptions_destroy(self->write_opts);
    if (self->real_dir) /* after leveldb_close: the lock is gone by now */
        s_dir_unlist(self->real_dir);
    free(self->real_dir);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

int
store_open(const char *dir, store_t **out, vl_err_t *err)
{
    assert(dir && out);
    int empty = s_dir_is_empty(dir);
    if (empty < 0)
        return vl_err_set(err, VL_ERR_IO, "cannot read data directory %s: %s", dir,
                          strerror(errno));
    store_t *self = calloc(1, sizeof *self);
    if (!self)
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory opening %s", dir);
    self->dir = strdup(dir);
    self->options = leveldb_options_create();
    self->cache = leveldb_cache_create_lru(STORE_CACHE_BYTES);
    self->filter = leveldb_filterpolicy_create_bloom(STORE_BLOOM_BITS);
    self->read_opts = leveldb_readoptions_create();
    self->write_opts = leveldb_writeoptions_create();
    if (!self->dir || !self->options || !self->cache || !self->filter || !self->read_opts
        || !self->write_opts) {
        store_close(&self);
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory opening %s", dir);
    }
    /* A non-empty directory must already be a database: never create one in
     * the middle of someone else's files (or over a database that lost its
     * CURRENT file, which LevelDB would silently replace). */
    leveldb_options_set_create_if_missing(self->options, empty);
    leveldb_options_set_paranoid_checks(self->options, 1);
    leveldb_options_set_cache(self->options, self->cache);
    leveldb_options_set_filter_policy(self->options, self->filter);
    leveldb_readoptions_set_verify_checksums(self->read_opts, 1);
    leveldb_writeoptions_set_sync(self->write_opts, 1);

    /* Opens are serialised so the check and the listing are one step. */
    int rc = 0;
    pthread_mutex_lock(&s_open_mutex);
    char *real_dir = realpath(dir, NULL); /* NULL while dir does not exist */
    if (real_dir && s_dir_listed(real_dir)) {
        free(real_dir);
        pthread_mutex_unlock(&s_open_mutex);
        store_close(&self);
        return s_open_error(dir, "IO error: lock (already open in this process)", err);
    }
    free(real_dir);
    char *lerr = NULL;
    self->db = leveldb_open(self->options, dir, &lerr);
    if (lerr) {
        rc = s_open_error(dir, lerr, err);
        leveldb_free(lerr);
        if (self->db) { /* not expected with an error, but never leak it */
            leveldb_close(self->db);
            self->db = NULL;
        }
    } else {
        assert(self->db);
        real_dir = realpath(dir, NULL);
        if (!real_dir || s_dir_list(real_dir) != 0) {
            rc = vl_err_set(err, real_dir ? VL_ERR_NOMEM : VL_ERR_IO,
                            "cannot resolve data directory %s: %s", dir,
                            real_dir ? "out of memory" : strerror(errno));
            free(real_dir);
        } else {
            self->real_dir = real_dir;
        }
    }
    pthread_mutex_unlock(&s_open_mutex);
    if (rc != 0) {
        store_close(&self);
        return rc;
    }
    *out = self;
    return 0;
}

int
store_get(store_t *store, const void *key, size_t key_len, uint8_t **value, size_t *value_len,
          vl_err_t *err)
{
    assert(store && key && value && value_len);
    if (s_read_fault(store))
        return vl_err_set(err, VL_ERR_IO, "read from %s failed: injected fault", store->dir);
    char *lerr = NULL;
    size_t len = 0;
    char *v = leveldb_get(store->db, store->read_opts, key, key_len, &len, &lerr);
    if (lerr) {
        int rc = s_error(store->dir, "read from", lerr, err);
        leveldb_free(lerr);
        if (v)
            leveldb_free(v);
        return rc;
    }
    if (!v)
        return VL_ERR_NOT_FOUND;
    uint8_t *copy = malloc(len + 1);
    if (!copy) {
        leveldb_free(v);
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory reading %s", store->dir);
    }
    memcpy(copy, v, len);
    copy[len] = 0;
    leveldb_free(v);
    *value = copy;
    *value_len = len;
    return 0;
}

bool
store_has(store_t *store, const void *key, size_t key_len)
{
    uint8_t *v = NULL;
    size_t len = 0;
    if (store_get(store, key, key_len, &v, &len, NULL) != 0)
        return false;
    free(v);
    return true;
}

bool
store_is_empty(store_t *store)
{
    store_iter_t *it = store_iter_new(store, NULL, 0);
    if (!it)
        return false;
    bool empty = !store_iter_valid(it);
    store_iter_destroy(&it);
    return empty;
}

store_batch_t *
store_batch_new(void)
{
    store_batch_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->wb = leveldb_writebatch_create();
    if (!self->wb) {
        free(self);
        return NULL;
    }
    return self;
}

void
store_batch_put(store_batch_t *batch, const void *key, size_t key_len, const void *value,
                size_t value_len)
{
    assert(batch && key);
    leveldb_writebatch_put(batch->wb, key, key_len, value_len ? value : "", value_len);
}

void
store_batch_delete(store_batch_t *batch, const void *key, size_t key_len)
{
    assert(batch && key);
    leveldb_writebatch_delete(batch->wb, key, key_len);
}

void
store_batch_clear(store_batch_t *batch)
{
    assert(batch);
    leveldb_writebatch_clear(batch->wb);
}

void
store_batch_destroy(store_batch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    leveldb_writebatch_destroy((*self_p)->wb);
    free(*self_p);
    *self_p = NULL;
}

int
store_write(store_t *store, store_batch_t *batch, vl_err_t *err)
{
    assert(store && batch);
    if (store->fail_next_write) {
        store->fail_next_write = false;
        return vl_err_set(err, VL_ERR_IO, "write to %s failed: injected fault", store->dir);
    }
    if (store->write_hook && store->write_hook(store->write_hook_arg) != 0)
        return vl_err_set(err, VL_ERR_IO, "write to %s failed: injected by write hook",
                          store->dir);
    char *lerr = NULL;
    leveldb_write(store->db, store->write_opts, batch->wb, &lerr);
    if (lerr) {
        int rc = s_error(store->dir, "write to", lerr, err);
        leveldb_free(lerr);
        return rc;
    }
    return 0;
}

void
store_fail_next_write(store_t *store)
{
    assert(store);
    store->fail_next_write = true;
}

void
store_set_write_hook(store_t *store, store_write_hook_fn fn, void *arg)
{
    assert(store);
    store->write_hook = fn;
    store->write_hook_arg = arg;
}

void
store_fail_nth_read(store_t *store, unsigned nth)
{
    assert(store);
    store->fail_read_in = nth;
}

store_iter_t *
store_iter_new(store_t *store, const void *prefix, size_t prefix_len)
{
    assert(store && (prefix || prefix_len == 0));
    store_iter_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (prefix_len) {
        self->prefix = malloc(prefix_len);
        if (!self->prefix) {
            free(self);
            return NULL;
        }
        memcpy(self->prefix, prefix, prefix_len);
        self->prefix_len = prefix_len;
    }
    self->dir = store->dir;
    self->failed = s_read_fault(store);
    self->it = leveldb_create_iterator(store->db, store->read_opts);
    if (!self->it) {
        free(self->prefix);
        free(self);
        return NULL;
    }
    if (prefix_len)
        leveldb_iter_seek(self->it, (const char *) self->prefix, prefix_len);
    else
        leveldb_iter_seek_to_first(self->it);
    return self;
}

bool
store_iter_valid(const store_iter_t *it)
{
    assert(it);
    if (it->failed || !leveldb_iter_valid(it->it))
        return false;
    size_t len = 0;
    const char *k = leveldb_iter_key(it->it, &len);
    return len >= it->prefix_len && memcmp(k, it->prefix ? (const char *) it->prefix : "",
                                           it->prefix_len) == 0;
}

void
store_iter_next(store_iter_t *it)
{
    assert(it && leveldb_iter_valid(it->it));
    leveldb_iter_next(it->it);
}

const uint8_t *
store_iter_key(const store_iter_t *it, size_t *len)
{
    assert(it && len);
    return (const uint8_t *) leveldb_iter_key(it->it, len);
}

const uint8_t *
store_iter_value(const store_iter_t *it, size_t *len)
{
    assert(it && len);
    return (const uint8_t *) leveldb_iter_value(it->it, len);
}

int
store_iter_status(const store_iter_t *it, vl_err_t *err)
{
    assert(it);
    if (it->failed)
        return vl_err_set(err, VL_ERR_IO, "iteration over %s failed: injected fault", it->dir);
    char *lerr = NULL;
    leveldb_iter_get_error(it->it, &lerr);
    if (!lerr)
        return 0;
    int rc = s_error(it->dir, "iteration over", lerr, err);
    leveldb_free(lerr);
    return rc;
}

void
store_iter_destroy(store_iter_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    leveldb_iter_destroy((*self_p)->it);
    free((*self_p)->prefix);
    free(*self_p);
    *self_p = NULL;
}
