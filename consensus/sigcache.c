/*
 * sigcache.c — an open-addressing set of 32-byte digests with a FIFO ring
 * for eviction. Capacity is rounded up to a power of two; the table is kept
 * at most half full so probes stay short.
 */
#include "sigcache.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t digest[VL_HASH_SIZE];
    bool used;
} slot_t;

struct sigcache_t {
    slot_t *slots;           /* owned: 2 * capacity slots */
    size_t mask;             /* slots - 1 */
    uint8_t (*ring)[VL_HASH_SIZE]; /* owned: insertion order, capacity entries */
    size_t capacity;
    size_t ring_next;        /* next ring position to fill */
    size_t count;
    uint64_t hits, misses;
};

sigcache_t *
sigcache_new(size_t capacity)
{
    sigcache_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    size_t slots = 16;
    while (slots < 2 * capacity)
        slots <<= 1;
    c->capacity = capacity ? capacity : 1;
    c->slots = calloc(slots, sizeof *c->slots);
    c->ring = calloc(c->capacity, sizeof *c->ring);
    c->mask = slots - 1;
    if (!c->slots || !c->ring)
        sigcache_destroy(&c);
    return c;
}

void
sigcache_destroy(sigcache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->slots);
    free((*self_p)->ring);
    free(*self_p);
    *self_p = NULL;
}

static size_t
s_home(const sigcache_t *c, const uint8_t *d)
{
    size_t h;
    memcpy(&h, d, sizeof h);
    return h & c->mask;
}

static slot_t *
s_find(sigcache_t *c, const uint8_t *d)
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
s_remove(sigcache_t *c, const uint8_t *d)
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
s_insert(sigcache_t *c, const uint8_t *d)
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

void
sigcache_add(sigcache_t *c, const uint8_t pub[VL_PUBKEY_SIZE], const void *msg, size_t msg_len,
             const uint8_t sig[VL_SIG_SIZE])
{
    uint8_t d[VL_HASH_SIZE];
    s_digest(pub, msg, msg_len, sig, d);
    if (!s_find(c, d))
        s_insert(c, d);
}

bool
sigcache_verify(sigcache_t *c, const uint8_t *pub, size_t pub_len, const void *msg,
                size_t msg_len, const uint8_t *sig, size_t sig_len)
{
    if (pub_len != VL_PUBKEY_SIZE || sig_len != VL_SIG_SIZE)
        return false;
    uint8_t d[VL_HASH_SIZE];
    s_digest(pub, msg, msg_len, sig, d);
    if (s_find(c, d)) {
        c->hits++;
        return true;
    }
    c->misses++;
    if (!vl_verify(pub, msg, msg_len, sig))
        return false;
    s_insert(c, d);
    return true;
}

uint64_t sigcache_hits(const sigcache_t *c) { return c->hits; }
uint64_t sigcache_misses(const sigcache_t *c) { return c->misses; }
