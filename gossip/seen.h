/*
 * seen.h — the seen-cache: envelope ids delivered recently, so the first
 * valid copy of a message is delivered and relayed and later copies are
 * dropped (DESIGN §6).
 *
 * Bounded two ways: an entry expires ttl_ms after it was added, and at
 * capacity the oldest entry is evicted (so a flood can shorten how long ids
 * are remembered, never grow memory). Entries are kept in insertion order
 * in a ring, with a hash index over the ring.
 *
 * Invariants: (1) ring times are non-decreasing from head to tail when
 * callers pass non-decreasing now_ms; (2) every ring entry is in the index
 * and vice versa; (3) size <= capacity.
 *
 * Pure: time is passed in. One thread.
 */
#ifndef VL_GOSSIP_SEEN_H
#define VL_GOSSIP_SEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gossip_seen_t gossip_seen_t;

/* capacity >= 1 entries, ttl_ms >= 1. NULL when out of memory. */
gossip_seen_t *gossip_seen_new(size_t capacity, int64_t ttl_ms);
void gossip_seen_destroy(gossip_seen_t **self_p);

/* True when id was added less than ttl_ms before now_ms and not evicted. */
bool gossip_seen_contains(gossip_seen_t *self, const uint8_t id[32], int64_t now_ms);

/* Adds id (no effect when present). Expires old entries first and evicts
 * the oldest when full. Returns true when an entry was evicted early
 * (before its ttl) to make room. */
bool gossip_seen_add(gossip_seen_t *self, const uint8_t id[32], int64_t now_ms);

size_t gossip_seen_size(const gossip_seen_t *self);
#endif
