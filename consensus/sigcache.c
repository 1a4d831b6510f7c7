/*
 * sigcache.c — SIGCACHE_SHARDS open-addressing sets of 32-byte digests,
 * each with a FIFO ring for eviction and its own mutex; a digest's last
 * byte picks its shard, so workers checking different signatures rarely
 * wait for each other. A shard's table is a power of two kept at most half
 * full so probes stay short. The curve check itself runs outside any lock.
 */
#include "sigcache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SIGCACHE_SHARDS 16

typedef struct {
    uint8_t digest[VL_HASH_SIZE];
    bool used;
} slot_t;

typedef struct {
    pthread_mutex_t mu;      /* guards every field below */
    slot_t *slots;           /* owned: >= 2 * capacity slots */
    size_t mask;             /* slots - 1 */
    uint8_t (*ring)[VL_HASH_SIZE]; /* owned: insertion order, capacity entries */
    size_t capacity;
    size_t ring_next;        /* next ring position to fill */
    size_t count;
} shard_t;

struct sigcache_t {
    shard_t shards[SIGCACHE_SHARDS];
    size_t n_init;           /* shards whose mutex was initialised */
    atomic_uint_fast64_t hits, misses;
};

sigcache_t *
sigcache_new(size_t capacity)
{
    sigcache_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    size_t per = (capacity + SIGCACHE_SHARDS - 1) / SIGCACHE_SHARDS;
    if (per == 0)
        per = 1;
    size_t slots = 16;
    while (slots < 2 * per)
        slots <<= 1;
    for (; c->n_init < SIGCACHE_SHARDS; c->n_init++) {
        shard_t *sh = &c->shards[c->n_init];
        if (pthread_mutex_init(&sh->mu, NULL) != 0)
            break;
        sh->capacity = per;
        sh->mask = slots - 1;
        sh->slots = calloc(slots, sizeof *sh->slots);
        sh->ring = calloc(per, sizeof *sh->ring);
        if (!sh->slots || !sh->ring) {
            c->n_init++;
            break;
        }
    }
    bool ok = c->n_init == SIGCACHE_SHARDS;
    for (size_t i = 0; ok && i < SIGCACHE_SHARDS; i++)
        ok = c->shards[i].slots && c->shards[i].ring;
    if (!ok)
        sigcache_destroy(&c);
    return c;
}

void
sigcache_destroy(sigcache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sigcache_t *c = *self_p;
    for (size_t i = 0; i < c->n_init; i++) {
        pthread_mutex_destroy(&c->shards[i].mu);
        free(c->shards[i].slots);
        free(c->shards[i].ring);
    }
    free(c);
    *self_p = NULL;
}

static size_t
s_home(const shard_t *c, const uint8_t *d)
{
    size_t h;
    memcpy(&h, d, sizeof h);
    return h & c->mask;
}

static slot_t *
s_find(shard_t *c, const uint8_t *d)
{
    for (size_t i = s_home(c, d);; i = (i + 1) & c->mask) {
        if (!c->slots[i].used)
            return NULL;
        if (memcmp(c->slots[i].digest, d, VL_HASH_SIZE) == 0)
            return &c->slots[i];
    }
}

/* Removal from linear probing: re-insert the rest of the cluster. */
static void
s_remove(shard_t *c, const uint8_t *d)
{
    slot_t *s = s_find(c, d);
    if (!s)
        return;
    s->used = false;
    for (size_t i = ((size_t) (s - c->slots) + 1) & c->mask; c->slots[i].used;
         i = (i + 1) & c->mask) {
        slot_t moved = c->slots[i];
        c->slots[i].used = false;
        size_t j = s_home(c, moved.digest);
        while (c->slots[j].used)
            j = (j + 1) & c->mask;
        c->slots[j] = moved;
    }
}

static void
s_insert(shard_t *c, const uint8_t *d)
{
    if (c->count == c->capacity) {
        s_remove(c, c->ring[c->ring_next]);
        c->count--;
    }
    size_t i = s_home(c, d);
    while (c->slots[i].used)
        i = (i + 1) & c->mask;
    memcpy(c->slots[i].digest, d, VL_HASH_SIZE);
    c->slots[i].used = true;
    memcpy(c->ring[c->ring_next], d, VL_HASH_SIZE);
    c->ring_next = (c->ring_next + 1) % c->capacity;
    c->count++;
}

static void
s_digest(const uint8_t *pub, const void *msg, size_t msg_len, const uint8_t *sig,
         uint8_t d[VL_HASH_SIZE])
{
    uint8_t buf[VL_PUBKEY_SIZE + VL_SIG_SIZE + VL_HASH_SIZE];
    memcpy(buf, pub, VL_PUBKEY_SIZE);
    memcpy(buf + VL_PUBKEY_SIZE, sig, VL_SIG_SIZE);
    vl_sha256(msg, msg_len, buf + VL_PUBKEY_SIZE + VL_SIG_SIZE);
    vl_sha256(buf, sizeof buf, d);
}

static shard_t *
s_shard(sigcache_t *c, const uint8_t d[VL_HASH_SIZE])
{
    return &c->shards[d[VL_HASH_SIZE - 1] % SIGCACHE_SHARDS];
}

/* Enters digest d unless present. */
static void
s_add(sigcache_t *c, const uint8_t d[VL_HASH_SIZE])
{
    shard_t *sh = s_shard(c, d);
    pthread_mutex_lock(&sh->mu);
    if (!s_find(sh, d))
        s_insert(sh, d);
    pthread_mutex_unlock(&sh->mu);
}

void
sigcache_add(sigcache_t *c, const uint8_t pub[VL_PUBKEY_SIZE], const void *msg, size_t msg_len,
             const uint8_t sig[VL_SIG_SIZE])
{
    uint8_t d[VL_HASH_SIZE];
    s_digest(pub, msg, msg_len, sig, d);
    s_add(c, d);
}

bool
sigcache_verify(sigcache_t *c, const uint8_t *pub, size_t pub_len, const void *msg,
                size_t msg_len, const uint8_t *sig, size_t sig_len)
{
    if (pub_len != VL_PUBKEY_SIZE || sig_len != VL_SIG_SIZE)
        return false;
    uint8_t d[VL_HASH_SIZE];
    s_digest(pub, msg, msg_len, sig, d);
    shard_t *sh = s_shard(c, d);
    pthread_mutex_lock(&sh->mu);
    bool known = s_find(sh, d) != NULL;
    pthread_mutex_unlock(&sh->mu);
    if (known) {
        atomic_fetch_add(&c->hits, 1);
        return true;
    }
    atomic_fetch_add(&c->misses, 1);
    if (!vl_verify(pub, msg, msg_len, sig))
        return false;
    s_add(c, d);
    return true;
}

uint64_t sigcache_hits(const sigcache_t *c) { return atomic_load(&c->hits); }
uint64_t sigcache_misses(const sigcache_t *c) { return atomic_load(&c->misses); }
