/*
 * rwset.c — the overlay one transaction executes against: what it read
 * from committed state (with versions), what it wrote, which prefixes it
 * ranged over, which events it emitted, and savepoints to undo a failed
 * vl.call or pcall.
 *
 * Plain C, no Lua: every function here either succeeds or returns
 * VL_ERR_NOMEM leaving the set as it was, so host functions can call it
 * between Lua calls without holding resources across a longjmp.
 *
 * Invariants:
 *   1. reads[] and writes[] are sorted by key (memcmp, then length) with
 *      unique keys; ranges[] is sorted by prefix with unique prefixes.
 *   2. A key is in reads[] only if it was read from committed state, i.e.
 *      while it was not in writes[] (read-your-writes reads never reach the
 *      read set). Its value is cached so a second read sees the same bytes.
 *   3. Every change to writes[] pushes one undo entry holding the previous
 *      entry, so rolling back to a savepoint replays undo[] backwards.
 *   4. Reads and ranges are never rolled back: what the code saw stays in
 *      the read set, so MVCC still protects it.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "vm_internal.h"

static int
s_keycmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = memcmp(a, b, n);
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static char *
s_dup(const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (p) {
        if (len)
            memcpy(p, s, len);
        p[len] = 0;
    }
    return p;
}

static int
s_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return VL_ERR_NOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

void
rwset_init(rwset_t *rw)
{
    memset(rw, 0, sizeof *rw);
}

void
rwset_clear(rwset_t *rw)
{
    for (size_t i = 0; i < rw->n_reads; i++) {
        free(rw->reads[i].key);
        free(rw->reads[i].value);
    }
    for (size_t i = 0; i < rw->n_writes; i++) {
        free(rw->writes[i].key);
        free(rw->writes[i].value);
    }
    for (size_t i = 0; i < rw->n_undo; i++) {
        free(rw->undo[i].key);
        if (rw->undo[i].had) {
            free(rw->undo[i].old.key);
            free(rw->undo[i].old.value);
        }
    }
    for (size_t i = 0; i < rw->n_events; i++) {
        free(rw->events[i].name);
        free(rw->events[i].payload);
    }
    for (size_t i = 0; i < rw->n_ranges; i++) {
        for (size_t j = 0; j < rw->ranges[i].n_items; j++)
            free(rw->ranges[i].items[j].key);
        free(rw->ranges[i].items);
        free(rw->ranges[i].prefix);
    }
    /* Keep the arrays' capacity for the next execution. */
    rw->n_reads = rw->n_writes = rw->n_undo = rw->n_events = rw->n_ranges = 0;
    rw->write_bytes = 0;
}

static void
s_free_arrays(rwset_t *rw)
{
    free(rw->reads);
    free(rw->writes);
    free(rw->undo);
    free(rw->events);
    free(rw->ranges);
}

/* Binary search: index of key, or -(insertion point)-1. */
#define BSEARCH_BODY(arr, n, field_key, field_len)                                    \
    size_t lo = 0, hi = (n);                                                           \
    while (lo < hi) {                                                                  \
        size_t mid = (lo + hi) / 2;                                                    \
        int c = s_keycmp((arr)[mid].field_key, (arr)[mid].field_len, key, key_len);    \
        if (c == 0)                                                                    \
            return (long) mid;                                                         \
        if (c < 0)                                                                     \
            lo = mid + 1;                                                              \
        else                                                                           \
            hi = mid;                                                                  \
    }                                                                                  \
    return -(long) lo - 1;

static long
s_find_write(const rwset_t *rw, const char *key, size_t key_len)
{
    BSEARCH_BODY(rw->writes, rw->n_writes, key, key_len)
}

static long
s_find_read(const rwset_t *rw, const char *key, size_t key_len)
{
    BSEARCH_BODY(rw->reads, rw->n_reads, key, key_len)
}

const rw_write_t *
rwset_find_write(const rwset_t *rw, const char *key, size_t key_len)
{
    long i = s_find_write(rw, key, key_len);
    return i >= 0 ? &rw->writes[i] : NULL;
}

const rw_read_t *
rwset_find_read(const rwset_t *rw, const char *key, size_t key_len)
{
    long i = s_find_read(rw, key, key_len);
    return i >= 0 ? &rw->reads[i] : NULL;
}

int
rwset_add_read(rwset_t *rw, const char *key, size_t key_len, const char *value,
               size_t value_len, bool exists, vl_version_t version, const rw_read_t **out)
{
    long i = s_find_read(rw, key, key_len);
    if (i >= 0) {
        *out = &rw->reads[i];
        return 0;
    }
    size_t at = (size_t) (-i - 1);
    if (s_grow((void **) &rw->reads, &rw->cap_reads, rw->n_reads + 1, sizeof *rw->reads))
        return VL_ERR_NOMEM;
    rw_read_t r = { .key = s_dup(key, key_len), .key_len = key_len, .exists = exists,
                    .version = version };
    if (value)
        r.value = s_dup(value, value_len), r.value_len = value_len;
    if (!r.key || (value && !r.value)) {
        free(r.key);
        free(r.value);
        return VL_ERR_NOMEM;
    }
    memmove(&rw->reads[at + 1], &rw->reads[at], (rw->n_reads - at) * sizeof *rw->reads);
    rw->reads[at] = r;
    rw->n_reads++;
    *out = &rw->reads[at];
    return 0;
}

int
rwset_put(rwset_t *rw, const char *key, size_t key_len, const char *value, size_t value_len)
{
    long i = s_find_write(rw, key, key_len);
    if (s_grow((void **) &rw->undo, &rw->cap_undo, rw->n_undo + 1, sizeof *rw->undo))
        return VL_ERR_NOMEM;
    if (i < 0 && s_grow((void **) &rw->writes, &rw->cap_writes, rw->n_writes + 1,
                        sizeof *rw->writes))
        return VL_ERR_NOMEM;
    rw_write_t w = { .key = s_dup(key, key_len), .key_len = key_len, .is_delete = !value };
    rw_undo_t u = { .key = s_dup(key, key_len), .key_len = key_len, .had = i >= 0 };
    if (value)
        w.value = s_dup(value, value_len), w.value_len = value_len;
    if (!w.key || !u.key || (value && !w.value)) {
        free(w.key);
        free(w.value);
        free(u.key);
        return VL_ERR_NOMEM;
    }
    if (i >= 0) {
        u.old = rw->writes[i];
        rw->write_bytes -= rw->writes[i].key_len + rw->writes[i].value_len;
        rw->writes[i] = w;
    } else {
        size_t at = (size_t) (-i - 1);
        memmove(&rw->writes[at + 1], &rw->writes[at], (rw->n_writes - at) * sizeof *rw->writes);
        rw->writes[at] = w;
        rw->n_writes++;
    }
    rw->write_bytes += w.key_len + w.value_len;
    rw->undo[rw->n_undo++] = u;
    return 0;
}

int
rwset_add_event(rwset_t *rw, const char *name, const char *payload, size_t payload_len)
{
    if (s_grow((void **) &rw->events, &rw->cap_events, rw->n_events + 1, sizeof *rw->events))
        return VL_ERR_NOMEM;
    rw_event_t e = { .name = s_dup(name, strlen(name)),
                     .payload = s_dup(payload, payload_len), .payload_len = payload_len };
    if (!e.name || !e.payload) {
        free(e.name);
        free(e.payload);
        return VL_ERR_NOMEM;
    }
    rw->events[rw->n_events++] = e;
    return 0;
}

static void
s_free_items(rw_range_item_t *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i].key);
    free(items);
}

int
rwset_add_range(rwset_t *rw, const char *prefix, rw_range_item_t *items, size_t n_items)
{
    size_t plen = strlen(prefix);
    size_t lo = 0, hi = rw->n_ranges;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = s_keycmp(rw->ranges[mid].prefix, strlen(rw->ranges[mid].prefix), prefix, plen);
        if (c == 0) {
            /* Committed state does not change during execution: same items. */
            s_free_items(items, n_items);
            return 0;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    char *p = s_dup(prefix, plen);
    if (!p || s_grow((void **) &rw->ranges, &rw->cap_ranges, rw->n_ranges + 1,
                     sizeof *rw->ranges)) {
        free(p);
        s_free_items(items, n_items);
        return VL_ERR_NOMEM;
    }
    memmove(&rw->ranges[lo + 1], &rw->ranges[lo], (rw->n_ranges - lo) * sizeof *rw->ranges);
    rw->ranges[lo] = (rw_range_t) { .prefix = p, .items = items, .n_items = n_items };
    rw->n_ranges++;
    return 0;
}

rw_savepoint_t
rwset_savepoint(const rwset_t *rw)
{
    return (rw_savepoint_t) { .n_undo = rw->n_undo, .n_events = rw->n_events };
}

void
rwset_rollback(rwset_t *rw, rw_savepoint_t sp)
{
    while (rw->n_undo > sp.n_undo) {
        rw_undo_t *u = &rw->undo[--rw->n_undo];
        long i = s_find_write(rw, u->key, u->key_len);
        /* Invariant 3: the key is in writes[] since this undo entry's write. */
        assert(i >= 0 && "rwset_rollback: undo entry without its write");
        rw_write_t *w = &rw->writes[i];
        rw->write_bytes -= w->key_len + w->value_len;
        free(w->key);
        free(w->value);
        if (u->had) {
            *w = u->old;
            rw->write_bytes += w->key_len + w->value_len;
        } else {
            memmove(&rw->writes[i], &rw->writes[i + 1],
                    (rw->n_writes - (size_t) i - 1) * sizeof *rw->writes);
            rw->n_writes--;
        }
        free(u->key);
    }
    while (rw->n_events > sp.n_events) {
        rw_event_t *e = &rw->events[--rw->n_events];
        free(e->name);
        free(e->payload);
    }
}

void
rwset_destroy(rwset_t *rw)
{
    rwset_clear(rw);
    s_free_arrays(rw);
    rwset_init(rw);
}
