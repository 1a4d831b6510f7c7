/*
 * faults.c — the fault decision function and the delay queue (faults.h).
 * Pure; one thread.
 *
 * Draws: each decision hashes (seed, dir, seq) with the SplitMix64
 * finaliser, a bijection with good avalanche, so consecutive sequence
 * numbers give independent-looking draws and no state is carried between
 * decisions: a decision depends on its inputs only.
 */
#include "faults.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

static uint64_t
s_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* A draw in [0, n) from 64 random bits (multiply-shift: no modulo bias
 * worth the name for n <= 2^32). */
static uint32_t
s_below(uint64_t r, uint32_t n)
{
    return (uint32_t) (((r >> 32) * (uint64_t) n) >> 32);
}

int
gossip_faults_check(const gossip_faults_t *f)
{
    if (f->drop_ppm > GOSSIP_FAULT_PPM || f->delay_ppm > GOSSIP_FAULT_PPM || f->delay_ms < 0
        || f->delay_jitter_ms < 0 || f->delay_ms > GOSSIP_FAULT_DELAY_MAX_MS
        || f->delay_jitter_ms > GOSSIP_FAULT_DELAY_MAX_MS - f->delay_ms
        || f->n_partition > GOSSIP_FAULT_PARTITION_MAX)
        return VL_ERR_INVALID;
    return 0;
}

static bool
s_in_set(const gossip_faults_t *f, const uint8_t key[VL_PUBKEY_SIZE])
{
    for (size_t i = 0; i < f->n_partition; i++)
        if (memcmp(f->partition[i], key, VL_PUBKEY_SIZE) == 0)
            return true;
    return false;
}

bool
gossip_faults_cut(const gossip_faults_t *f, const uint8_t a[VL_PUBKEY_SIZE],
                  const uint8_t b[VL_PUBKEY_SIZE])
{
    return f->n_partition > 0 && s_in_set(f, a) != s_in_set(f, b);
}

gossip_fault_action_t
gossip_faults_decide(const gossip_faults_t *f, const uint8_t self[VL_PUBKEY_SIZE],
                     const uint8_t *peer, gossip_fault_dir_t dir, uint64_t seq,
                     int64_t *delay_ms)
{
    if (peer && gossip_faults_cut(f, self, peer))
        return GOSSIP_FAULT_DROP;
    uint64_t r = s_mix(f->seed ^ s_mix(seq << 1 | (uint64_t) dir));
    if (s_below(r, GOSSIP_FAULT_PPM) < f->drop_ppm)
        return GOSSIP_FAULT_DROP;
    r = s_mix(r);
    if (s_below(r, GOSSIP_FAULT_PPM) >= f->delay_ppm)
        return GOSSIP_FAULT_PASS;
    r = s_mix(r);
    *delay_ms = f->delay_ms + (int64_t) s_below(r, (uint32_t) f->delay_jitter_ms + 1);
    return GOSSIP_FAULT_DELAY;
}

/* --- Delay queue ------------------------------------------------------------
 * A sorted array: items[head..n) by due time, FIFO among equals (a push goes
 * after every item due at or before it). Pops advance head; a push that
 * finds the array full compacts it first. Test-only traffic, bounded by
 * max_items: linear moves are fine. */

typedef struct {
    int64_t due_ms;
    void *item;
    size_t bytes;
} slot_t;

struct gossip_delayq_t {
    slot_t *slots;              /* owned, max_items */
    size_t head, n;             /* live: slots[head..n) */
    size_t max_items, max_bytes, bytes;
};

gossip_delayq_t *
gossip_delayq_new(size_t max_items, size_t max_bytes)
{
    gossip_delayq_t *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->slots = calloc(max_items ? max_items : 1, sizeof *q->slots);
    if (!q->slots) {
        free(q);
        return NULL;
    }
    q->max_items = max_items;
    q->max_bytes = max_bytes;
    return q;
}

void
gossip_delayq_destroy(gossip_delayq_t **self_p, void (*free_fn)(void *item))
{
    if (!self_p || !*self_p)
        return;
    gossip_delayq_t *q = *self_p;
    for (size_t i = q->head; i < q->n && free_fn; i++)
        free_fn(q->slots[i].item);
    free(q->slots);
    free(q);
    *self_p = NULL;
}

int
gossip_delayq_push(gossip_delayq_t *q, int64_t due_ms, void *item, size_t bytes)
{
    if (q->n - q->head >= q->max_items || bytes > q->max_bytes - q->bytes)
        return VL_ERR_LIMIT;
    if (q->n == q->max_items) {
        memmove(q->slots, q->slots + q->head, (q->n - q->head) * sizeof *q->slots);
        q->n -= q->head;
        q->head = 0;
    }
    size_t lo = q->head, hi = q->n;   /* first slot due after due_ms */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (q->slots[mid].due_ms <= due_ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(q->slots + lo + 1, q->slots + lo, (q->n - lo) * sizeof *q->slots);
    q->slots[lo] = (slot_t) { .due_ms = due_ms, .item = item, .bytes = bytes };
    q->n++;
    q->bytes += bytes;
    return 0;
}

void *
gossip_delayq_pop_due(gossip_delayq_t *q, int64_t now_ms)
{
    if (q->head == q->n || q->slots[q->head].due_ms > now_ms)
        return NULL;
    slot_t s = q->slots[q->head++];
    q->bytes -= s.bytes;
    if (q->head == q->n)
        q->head = q->n = 0;
    return s.item;
}

int64_t
gossip_delayq_next_ms(const gossip_delayq_t *q)
{
    return q->head == q->n ? INT64_MAX : q->slots[q->head].due_ms;
}

size_t
gossip_delayq_size(const gossip_delayq_t *q)
{
    return q->n - q->head;
}
