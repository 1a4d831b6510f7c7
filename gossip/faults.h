/*
 * faults.h — test-only fault injection for the gossip transport: which
 * messages to drop, which to delay and by how much, and a network
 * partition, decided by a pure, seeded function; and the bounded queue
 * that holds delayed messages until they are due.
 *
 * The transport (transport.c) asks gossip_faults_decide once per message it
 * sends or receives on any of its sockets, in the order the messages pass,
 * with a per-gossip sequence number: the same seed and the same traffic give
 * the same decisions, so a failing run replays. Nothing here is reachable
 * unless the gossip was created with config.faults_allowed, which the node
 * sets only from a test-only command-line flag (never from node.json).
 *
 * Partition: the set S splits the network in two, S and everyone else; a
 * message between a and b is cut when exactly one of them is in S. The same
 * set can be installed on every node, and the cut is symmetric by
 * construction (gossip_faults_cut(a, b) == gossip_faults_cut(b, a)); one
 * node holding it is enough to cut both directions of its links, because it
 * applies the cut on send and on receipt.
 *
 * Pure: no sockets, no clock reads, no randomness but the seed. One thread.
 */
#ifndef VL_GOSSIP_FAULTS_H
#define VL_GOSSIP_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "membership.h"

#define GOSSIP_FAULT_PARTITION_MAX GOSSIP_PEERS_MAX
#define GOSSIP_FAULT_PPM 1000000u             /* "every message" in *_ppm */
#define GOSSIP_FAULT_DELAY_MAX_MS 60000       /* delay_ms + delay_jitter_ms at most */
#define GOSSIP_FAULT_QUEUE_MAX 4096           /* delayed messages held at once */
#define GOSSIP_FAULT_QUEUE_MAX_BYTES (64u << 20)

typedef struct {
    uint64_t seed;              /* same seed, same traffic -> same decisions */
    uint32_t drop_ppm;          /* messages dropped, per million */
    uint32_t delay_ppm;         /* of the rest, messages delayed, per million */
    int delay_ms;               /* a delayed message waits this long ... */
    int delay_jitter_ms;        /* ... plus 0..this (so delayed messages reorder) */
    size_t n_partition;         /* 0 = no partition */
    uint8_t partition[GOSSIP_FAULT_PARTITION_MAX][VL_PUBKEY_SIZE];   /* the set S */
} gossip_faults_t;

typedef enum {
    GOSSIP_FAULT_SEND = 0,
    GOSSIP_FAULT_RECV = 1,
} gossip_fault_dir_t;

typedef enum {
    GOSSIP_FAULT_PASS = 0,
    GOSSIP_FAULT_DROP = 1,
    GOSSIP_FAULT_DELAY = 2,
} gossip_fault_action_t;

/* 0, or VL_ERR_INVALID: a rate above GOSSIP_FAULT_PPM, a negative delay,
 * delay_ms + delay_jitter_ms above GOSSIP_FAULT_DELAY_MAX_MS, n_partition
 * above GOSSIP_FAULT_PARTITION_MAX. */
int gossip_faults_check(const gossip_faults_t *f);

/* Whether the partition separates a and b (exactly one of them in S). */
bool gossip_faults_cut(const gossip_faults_t *f, const uint8_t a[VL_PUBKEY_SIZE],
                       const uint8_t b[VL_PUBKEY_SIZE]);

/* The fate of the seq-th message that we (self) send to or receive from
 * peer (NULL when the other end is not known: a PUB send goes to every
 * subscriber, and a SUB does not say which publisher a message came from;
 * the transport then applies the cut to each envelope's origin). A cut
 * message is dropped; otherwise drop_ppm, then delay_ppm, are drawn from
 * (seed, dir, seq). On GOSSIP_FAULT_DELAY *delay_ms is set to
 * delay_ms + a draw in [0, delay_jitter_ms]. */
gossip_fault_action_t gossip_faults_decide(const gossip_faults_t *f,
                                           const uint8_t self[VL_PUBKEY_SIZE],
                                           const uint8_t *peer, gossip_fault_dir_t dir,
                                           uint64_t seq, int64_t *delay_ms);

/* --- The delay queue ------------------------------------------------------
 * Items (opaque to the queue, owned by it while queued) in order of due
 * time, first in first out among equal times; bounded by a count and a byte
 * total. */
typedef struct gossip_delayq_t gossip_delayq_t;

/* NULL when out of memory. */
gossip_delayq_t *gossip_delayq_new(size_t max_items, size_t max_bytes);
/* Frees the queue and, with free_fn (may be NULL), each item still in it. */
void gossip_delayq_destroy(gossip_delayq_t **self_p, void (*free_fn)(void *item));

/* Queues item (taken over; bytes is its size, for the bound) to be due at
 * due_ms. VL_ERR_LIMIT when full, VL_ERR_NOMEM: the item stays the
 * caller's. */
int gossip_delayq_push(gossip_delayq_t *q, int64_t due_ms, void *item, size_t bytes);

/* The earliest item due at or before now_ms (the caller owns it now), or
 * NULL. */
void *gossip_delayq_pop_due(gossip_delayq_t *q, int64_t now_ms);

/* The earliest due time, or INT64_MAX when empty. */
int64_t gossip_delayq_next_ms(const gossip_delayq_t *q);
size_t gossip_delayq_size(const gossip_delayq_t *q);
#endif
