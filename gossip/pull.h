/*
 * pull.h — the anti-entropy pull scheduler (DESIGN §6, research note §9.3):
 * decides which block ranges to request from which peers when peers report
 * heights above ours.
 *
 * Rules: at most max_outstanding requests in flight, at most one per peer;
 * each request asks for at most `batch` blocks; nothing is requested beyond
 * local + max_outstanding * batch (the receiver's reorder buffer is at least
 * that deep); the peer is picked at random among those whose advertised
 * height covers the range start, so a burst of requests is spread across
 * peers; a peer whose request timed out is not asked again for timeout_ms.
 *
 * `frontier` is the highest height already requested: ranges go out in
 * order above it. A short answer or a timeout pulls the frontier back, so a
 * gap is asked again (a few blocks may be fetched twice: harmless, the node
 * ignores heights it already has).
 *
 * Grace (gossip_pull_due): a peer's height usually arrives in a heartbeat
 * while the block itself is still being gossiped to us, so a lag of at most
 * GOSSIP_PULL_GRACE_BLOCKS is pulled only once our height has not moved for
 * GOSSIP_PULL_GRACE_MS; a larger lag (a restart, a partition) or a gap the
 * node saw in the blocks it received is pulled at once.
 *
 * Pure: time and randomness are passed in. One thread.
 */
#ifndef VL_GOSSIP_PULL_H
#define VL_GOSSIP_PULL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

#define GOSSIP_PULL_MAX_OUTSTANDING 16
#define GOSSIP_PULL_GRACE_MS 400
#define GOSSIP_PULL_GRACE_BLOCKS 8

typedef struct {
    uint8_t key[VL_PUBKEY_SIZE];
    uint64_t height;
} gossip_pull_peer_t;

typedef struct {
    uint64_t id;                  /* unique per scheduler, echoed by the reply */
    uint8_t peer[VL_PUBKEY_SIZE];
    uint64_t from;
    uint32_t count;
    int64_t deadline_ms;
} gossip_pull_req_t;

typedef struct gossip_pull_t gossip_pull_t;

/* 1 <= max_outstanding <= GOSSIP_PULL_MAX_OUTSTANDING, batch >= 1. */
gossip_pull_t *gossip_pull_new(size_t max_outstanding, uint32_t batch, int64_t timeout_ms);
void gossip_pull_destroy(gossip_pull_t **self_p);

/* Whether pulls may go out now: local is our height, best the highest a
 * live peer reports, gap whether the node saw a hole in received blocks.
 * Tracks how long we have been behind without progress (see Grace). */
bool gossip_pull_due(gossip_pull_t *p, uint64_t local, uint64_t best, bool gap, int64_t now_ms);

/* The next request to send, recorded as outstanding; false when nothing
 * should go out now (caught up, all slots busy, window full, or no peer
 * has the next range). */
bool gossip_pull_next(gossip_pull_t *p, uint64_t local_height, const gossip_pull_peer_t *peers,
                      size_t n_peers, int64_t now_ms, uint64_t *rnd, gossip_pull_req_t *out);

/* The answer to request id arrived holding `got` consecutive blocks from
 * its start. Returns false for an unknown id (late or forged answer). */
bool gossip_pull_done(gossip_pull_t *p, uint64_t id, uint32_t got, int64_t now_ms);

/* Drops requests past their deadline; returns how many. */
size_t gossip_pull_expire(gossip_pull_t *p, int64_t now_ms);

size_t gossip_pull_outstanding(const gossip_pull_t *p);
/* The window: the deepest reorder buffer the node needs. */
uint64_t gossip_pull_window(const gossip_pull_t *p);
#endif
