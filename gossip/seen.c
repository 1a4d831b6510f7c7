/* seen.c — bounded, expiring set of envelope ids; see seen.h.
 *
 * The index is open addressing with linear probing over 2x capacity slots
 * (rounded to a power of two) holding ring positions + 1 (0 = empty);
 * removal uses backward-shift deletion so no tombstones accumulate. */
#include "seen.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t id[32];
    int64_t added_ms;
} entry_t;

struct gossip_seen_t {
    entry_t *ring;       /* owned: capacity entries */
    size_t capacity;
    size_t head;         /* oldest entry */
    size_t size;
    uint32_t *slots;     /* owned: ring index + 1, 0 = empty */
    size_t mask;         /* slots - 1 */
    int64_t ttl_ms;
};

static size_t
s_hash(const uint8_t id[32])
{
    uint64_t h;
    memcpy(&h, id, sizeof h);   /* ids are SHA-256 digests: already uniform */
    return (size_t) h;
}

gossip_seen_t *
gossip_seen_new(size_t capacity, int64_t ttl_ms)
{
    assert(capacity >= 1 && capacity < (1u << 30) && ttl_ms >= 1);
    gossip_seen_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    size_t n = 2;
    while (n < capacity * 2)
        n <<= 1;
    self->ring = calloc(capacity, sizeof *self->ring);
    self->slots = calloc(n, sizeof *self->slots);
    if (!self->ring || !self->slots) {
        gossip_seen_destroy(&self);
        return NULL;
    }
    self->capacity = capacity;
    self->mask = n - 1;
    self->ttl_ms = ttl_ms;
    return self;
}

void
gossip_seen_destroy(gossip_seen_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->ring);
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

/* Slot holding id, or the empty slot where it would go. */
static size_t
s_find(const gossip_seen_t *self, const uint8_t id[32], bool *found)
{
    size_t i = s_hash(id) & self->mask;
    while (self->slots[i]) {
        if (memcmp(self->ring[self->slots[i] - 1].id, id, 32) == 0) {
            *found = true;
            return i;
        }
        i = (i + 1) & self->mask;
    }
    *found = false;
    return i;
}

static void
s_remove_slot(gossip_seen_t *self, size_t i)
{
    self->slots[i] = 0;
    size_t j = i;
    for (;;) {
        j = (j + 1) & self->mask;
        if (!self->slots[j])
            return;
        size_t home = s_hash(self->ring[self->slots[j] - 1].id) & self->mask;
        /* Move j back to i when its home is not cyclically in (i, j]. */
        bool in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            self->slots[i] = self->slots[j];
            self->slots[j] = 0;
            i = j;
        }
    }
}

static void
s_pop_head(gossip_seen_t *self)
{
    bool found;
    size_t slot = s_find(self, self->ring[self->head].id, &found);
    assert(found);
    s_remove_slot(self, slot);
    self->head = (self->head + 1) % self->capacity;
    self->size--;
}

static void
s_expire(gossip_seen_t *self, int64_t now_ms)
{
    while (self->size && now_ms - self->ring[self->head].added_ms >= self->ttl_ms)
        s_pop_head(self);
}

bool
gossip_seen_contains(gossip_seen_t *self, const uint8_t id[32], int64_t now_ms)
{
    s_expire(self, now_ms);
    bool found;
    s_find(self, id, &found);
    return found;
}

bool
gossip_seen_add(gossip_seen_t *self, const uint8_t id[32], int64_t now_ms)
{
    s_expire(self, now_ms);
    bool found, evicted = false;
    s_find(self, id, &found);
    if (found)
        return false;
    if (self->size == self->capacity) {
        s_pop_head(self);
        evicted = true;
    }
    size_t pos = (self->head + self->size) % self->capacity;
    memcpy(self->ring[pos].id, id, 32);
    self->ring[pos].added_ms = now_ms;
    self->size++;
    size_t slot = s_find(self, id, &found);
    self->slots[slot] = (uint32_t) pos + 1;
    return evicted;
}

size_t
gossip_seen_size(const gossip_seen_t *self)
{
    return self->size;
}
