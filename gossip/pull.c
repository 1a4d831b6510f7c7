/* pull.c — anti-entropy pull scheduler; see pull.h. */
#include "pull.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "membership.h"   /* gossip_rand */

#define BACKOFF_MAX 64

typedef struct {
    uint8_t key[VL_PUBKEY_SIZE];
    int64_t until_ms;
} backoff_t;

struct gossip_pull_t {
    size_t max_outstanding;
    uint32_t batch;
    int64_t timeout_ms;
    gossip_pull_req_t reqs[GOSSIP_PULL_MAX_OUTSTANDING];
    size_t n_reqs;
    uint64_t next_id;
    uint64_t frontier;            /* highest height requested */
    backoff_t backoff[BACKOFF_MAX];
    size_t n_backoff;
    int64_t behind_since_ms;      /* since when some peer is ahead of our height
                                   * behind_at; 0 = nobody is */
    uint64_t behind_at;
};

gossip_pull_t *
gossip_pull_new(size_t max_outstanding, uint32_t batch, int64_t timeout_ms)
{
    assert(max_outstanding >= 1 && max_outstanding <= GOSSIP_PULL_MAX_OUTSTANDING && batch >= 1);
    gossip_pull_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->max_outstanding = max_outstanding;
    p->batch = batch;
    p->timeout_ms = timeout_ms;
    p->next_id = 1;
    return p;
}

void
gossip_pull_destroy(gossip_pull_t **self_p)
{
    if (self_p && *self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

static bool
s_busy(const gossip_pull_t *p, const uint8_t key[VL_PUBKEY_SIZE], int64_t now_ms)
{
    for (size_t i = 0; i < p->n_reqs; i++)
        if (memcmp(p->reqs[i].peer, key, VL_PUBKEY_SIZE) == 0)
            return true;
    for (size_t i = 0; i < p->n_backoff; i++)
        if (memcmp(p->backoff[i].key, key, VL_PUBKEY_SIZE) == 0 && p->backoff[i].until_ms > now_ms)
            return true;
    return false;
}

bool
gossip_pull_next(gossip_pull_t *p, uint64_t local_height, const gossip_pull_peer_t *peers,
                 size_t n_peers, int64_t now_ms, uint64_t *rnd, gossip_pull_req_t *out)
{
    if (p->n_reqs >= p->max_outstanding)
        return false;
    /* With nothing in flight, whatever is missing above local is asked
     * again; otherwise continue above the last range requested. */
    if (p->n_reqs == 0 || p->frontier < local_height)
        p->frontier = local_height;
    uint64_t from = p->frontier + 1;
    if (from > local_height + gossip_pull_window(p))
        return false;
    size_t eligible = 0;
    uint64_t best = 0;
    for (size_t i = 0; i < n_peers; i++) {
        if (peers[i].height > best)
            best = peers[i].height;
        eligible += peers[i].height >= from && !s_busy(p, peers[i].key, now_ms);
    }
    if (best < from || eligible == 0)
        return false;
    size_t pick = (size_t) (gossip_rand(rnd) % eligible);
    const gossip_pull_peer_t *peer = NULL;
    for (size_t i = 0; i < n_peers && !peer; i++)
        if (peers[i].height >= from && !s_busy(p, peers[i].key, now_ms) && pick-- == 0)
            peer = &peers[i];
    assert(peer);
    uint64_t count = peer->height - from + 1;
    if (count > p->batch)
        count = p->batch;
    gossip_pull_req_t *r = &p->reqs[p->n_reqs++];
    r->id = p->next_id++;
    memcpy(r->peer, peer->key, VL_PUBKEY_SIZE);
    r->from = from;
    r->count = (uint32_t) count;
    r->deadline_ms = now_ms + p->timeout_ms;
    p->frontier = from + count - 1;
    *out = *r;
    return true;
}

static void
s_remove(gossip_pull_t *p, size_t i)
{
    p->reqs[i] = p->reqs[--p->n_reqs];
}

bool
gossip_pull_due(gossip_pull_t *p, uint64_t local, uint64_t best, bool gap, int64_t now_ms)
{
    if (best <= local) {
        p->behind_since_ms = 0;
        return false;
    }
    if (p->behind_since_ms == 0 || local != p->behind_at) {
        p->behind_since_ms = now_ms;   /* the grace restarts while gossip makes progress */
        p->behind_at = local;
    }
    return gap || best - local > GOSSIP_PULL_GRACE_BLOCKS
           || now_ms - p->behind_since_ms >= GOSSIP_PULL_GRACE_MS;
}

bool
gossip_pull_done(gossip_pull_t *p, uint64_t id, uint32_t got, int64_t now_ms)
{
    for (size_t i = 0; i < p->n_reqs; i++) {
        gossip_pull_req_t *r = &p->reqs[i];
        if (r->id != id)
            continue;
        if (got < r->count && r->from + got - 1 < p->frontier)
            p->frontier = r->from + got - 1;   /* short answer: ask for the rest again */
        s_remove(p, i);
        return true;
    }
    return false;
}

size_t
gossip_pull_expire(gossip_pull_t *p, int64_t now_ms)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_reqs;) {
        gossip_pull_req_t *r = &p->reqs[i];
        if (r->deadline_ms > now_ms) {
            i++;
            continue;
        }
        if (r->from - 1 < p->frontier)
            p->frontier = r->from - 1;
        /* Remember the slow peer for a while (replace the oldest entry). */
        size_t slot = p->n_backoff < BACKOFF_MAX ? p->n_backoff++ : 0;
        for (size_t j = 0; j < p->n_backoff; j++)
            if (p->backoff[j].until_ms < p->backoff[slot].until_ms)
                slot = j;
        memcpy(p->backoff[slot].key, r->peer, VL_PUBKEY_SIZE);
        p->backoff[slot].until_ms = now_ms + p->timeout_ms;
        s_remove(p, i);
        n++;
    }
    return n;
}

size_t
gossip_pull_outstanding(const gossip_pull_t *p)
{
    return p->n_reqs;
}

uint64_t
gossip_pull_window(const gossip_pull_t *p)
{
    return (uint64_t) p->max_outstanding * p->batch;
}
