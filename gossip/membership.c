/* membership.c — peer table, failure detector, mesh selection; see
 * membership.h for the state diagram and invariants. */
#include "membership.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gossip_members_t {
    uint8_t self[VL_PUBKEY_SIZE];
    uint64_t incarnation;
    int64_t suspect_ms;           /* near: peers we monitor, heard directly */
    int64_t dead_ms;
    int64_t far_suspect_ms;       /* everyone else */
    int64_t far_dead_ms;
    gossip_peer_t peers[GOSSIP_PEERS_MAX];
    size_t count;
    size_t k;                     /* monitors per member (set_monitors) */
    size_t n_successors;          /* our monitors: indexes into peers */
    size_t successors[GOSSIP_MONITORS_MAX];
};

uint64_t
gossip_rand(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

gossip_members_t *
gossip_members_new(const uint8_t self[VL_PUBKEY_SIZE], uint64_t incarnation, int64_t suspect_ms,
                   int64_t dead_ms)
{
    assert(suspect_ms > 0 && dead_ms > suspect_ms);
    gossip_members_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    memcpy(m->self, self, VL_PUBKEY_SIZE);
    m->incarnation = incarnation;
    m->suspect_ms = m->far_suspect_ms = suspect_ms;
    m->dead_ms = m->far_dead_ms = dead_ms;
    return m;
}

void
gossip_members_destroy(gossip_members_t **self_p)
{
    if (self_p && *self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

void
gossip_members_set_timeouts(gossip_members_t *m, int64_t suspect_ms, int64_t dead_ms)
{
    assert(suspect_ms > 0 && dead_ms > suspect_ms);
    m->suspect_ms = m->far_suspect_ms = suspect_ms;
    m->dead_ms = m->far_dead_ms = dead_ms;
}

void
gossip_members_set_far_timeouts(gossip_members_t *m, int64_t suspect_ms, int64_t dead_ms)
{
    assert(suspect_ms > 0 && dead_ms > suspect_ms);
    m->far_suspect_ms = suspect_ms;
    m->far_dead_ms = dead_ms;
}

/* --- Rings --------------------------------------------------------------- */

static int
s_key_cmp(const void *a, const void *b)
{
    return memcmp(*(const uint8_t *const *) a, *(const uint8_t *const *) b, VL_PUBKEY_SIZE);
}

/* Every member's key and ours, sorted: the ring. Returns its size. */
static size_t
s_ring(const gossip_members_t *m, const uint8_t **ring)
{
    size_t n = 0;
    ring[n++] = m->self;
    for (size_t i = 0; i < m->count; i++)
        ring[n++] = m->peers[i].key;
    qsort(ring, n, sizeof *ring, s_key_cmp);
    return n;
}

static size_t
s_ring_pos(const uint8_t **ring, size_t n, const uint8_t *key)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(ring[i], key, VL_PUBKEY_SIZE) == 0)
            return i;
    return n;
}

size_t
gossip_members_set_monitors(gossip_members_t *m, size_t k)
{
    const uint8_t *ring[GOSSIP_PEERS_MAX + 1];
    size_t n = s_ring(m, ring), me = s_ring_pos(ring, n, m->self);
    if (k > GOSSIP_MONITORS_MAX)
        k = GOSSIP_MONITORS_MAX;
    if (k > n - 1)
        k = n - 1;
    m->k = k;
    m->n_successors = 0;
    size_t monitored = 0;
    for (size_t i = 0; i < m->count; i++)
        m->peers[i].monitored = false;
    for (size_t j = 1; j <= k; j++) {
        gossip_peer_t *pred = gossip_members_find(m, ring[(me + n - j) % n], VL_PUBKEY_SIZE);
        gossip_peer_t *succ = gossip_members_find(m, ring[(me + j) % n], VL_PUBKEY_SIZE);
        if (pred && !pred->monitored) {
            pred->monitored = true;
            monitored++;
        }
        if (succ)
            m->successors[m->n_successors++] = (size_t) (succ - m->peers);
    }
    return monitored;
}

size_t
gossip_members_monitors(gossip_members_t *m, gossip_peer_t **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_successors && n < max; i++)
        out[n++] = &m->peers[m->successors[i]];
    return n;
}

bool
gossip_members_is_monitor(const gossip_members_t *m, const uint8_t monitor[VL_PUBKEY_SIZE],
                          const uint8_t subject[VL_PUBKEY_SIZE])
{
    const uint8_t *ring[GOSSIP_PEERS_MAX + 1];
    size_t n = s_ring(m, ring), at = s_ring_pos(ring, n, subject);
    if (at == n)
        return false;
    for (size_t j = 1; j <= m->k; j++)
        if (memcmp(ring[(at + j) % n], monitor, VL_PUBKEY_SIZE) == 0)
            return true;
    return false;
}

gossip_peer_t *
gossip_members_find(gossip_members_t *m, const uint8_t *key, size_t len)
{
    if (!key || len != VL_PUBKEY_SIZE)
        return NULL;
    for (size_t i = 0; i < m->count; i++)
        if (memcmp(m->peers[i].key, key, VL_PUBKEY_SIZE) == 0)
            return &m->peers[i];
    return NULL;
}

bool
gossip_members_is_admitted(const gossip_members_t *m, const uint8_t *key, size_t len)
{
    if (!key || len != VL_PUBKEY_SIZE)
        return false;
    if (memcmp(key, m->self, VL_PUBKEY_SIZE) == 0)
        return true;
    return gossip_members_find((gossip_members_t *) m, key, len) != NULL;
}

int
gossip_members_admit(gossip_members_t *m, const uint8_t key[VL_PUBKEY_SIZE], const char *name)
{
    if (memcmp(key, m->self, VL_PUBKEY_SIZE) == 0 || gossip_members_find(m, key, VL_PUBKEY_SIZE))
        return 0;
    if (m->count == GOSSIP_PEERS_MAX)
        return VL_ERR_LIMIT;
    gossip_peer_t *p = &m->peers[m->count++];
    memset(p, 0, sizeof *p);
    memcpy(p->key, key, VL_PUBKEY_SIZE);
    vl_did_from_public(key, p->did);
    snprintf(p->name, sizeof p->name, "%s", name ? name : "");
    p->state = GOSSIP_PEER_UNKNOWN;
    return 0;
}

bool
gossip_members_set_endpoints(gossip_members_t *m, const uint8_t key[VL_PUBKEY_SIZE],
                             const char *gossip_ep, const char *sync_ep)
{
    gossip_peer_t *p = gossip_members_find(m, key, VL_PUBKEY_SIZE);
    bool changed = false;
    if (!p)
        return false;
    if (gossip_ep && *gossip_ep && strlen(gossip_ep) < GOSSIP_ENDPOINT_MAX
        && strcmp(p->gossip_ep, gossip_ep) != 0) {
        snprintf(p->gossip_ep, sizeof p->gossip_ep, "%s", gossip_ep);
        changed = true;
    }
    if (sync_ep && *sync_ep && strlen(sync_ep) < GOSSIP_ENDPOINT_MAX
        && strcmp(p->sync_ep, sync_ep) != 0) {
        snprintf(p->sync_ep, sizeof p->sync_ep, "%s", sync_ep);
        changed = true;
    }
    return changed;
}

static void
s_set_state(gossip_peer_t *p, gossip_peer_state_t s, int64_t now_ms)
{
    if (p->state != s) {
        p->state = s;
        p->state_since_ms = now_ms;
    }
}

gossip_heard_t
gossip_members_heard(gossip_members_t *m, const uint8_t key[VL_PUBKEY_SIZE],
                     uint64_t incarnation, uint64_t height, const char *gossip_ep,
                     const char *sync_ep, int64_t now_ms)
{
    gossip_peer_t *p = gossip_members_find(m, key, VL_PUBKEY_SIZE);
    if (!p)
        return GOSSIP_HEARD_NOT_MEMBER;
    if (incarnation < p->incarnation
        || (p->claimed_dead && p->state == GOSSIP_PEER_DEAD && incarnation == p->incarnation))
        return GOSSIP_HEARD_STALE;
    if (incarnation > p->incarnation) {
        p->height = 0;                /* a restarted peer reports afresh */
        p->last_direct_ms = 0;        /* and may not reach us directly yet */
    }
    p->incarnation = incarnation;
    if (height > p->height)
        p->height = height;
    if (now_ms > p->last_seen_ms)
        p->last_seen_ms = now_ms;
    gossip_members_set_endpoints(m, key, gossip_ep, sync_ep);
    if (p->state == GOSSIP_PEER_ALIVE)
        return GOSSIP_HEARD_ALIVE;
    p->claimed_dead = false;
    s_set_state(p, GOSSIP_PEER_ALIVE, now_ms);
    return GOSSIP_HEARD_UP;
}

void
gossip_members_heard_direct(gossip_members_t *m, const uint8_t key[VL_PUBKEY_SIZE],
                            int64_t now_ms)
{
    gossip_peer_t *p = gossip_members_find(m, key, VL_PUBKEY_SIZE);
    if (p && p->monitored && p->state == GOSSIP_PEER_ALIVE && now_ms > p->last_direct_ms)
        p->last_direct_ms = now_ms;
}

gossip_claim_t
gossip_members_claim(gossip_members_t *m, const uint8_t claimer[VL_PUBKEY_SIZE],
                     const uint8_t subject[VL_PUBKEY_SIZE], uint64_t incarnation, int64_t now_ms)
{
    if (!gossip_members_is_admitted(m, claimer, VL_PUBKEY_SIZE)
        || !gossip_members_is_monitor(m, claimer, subject))
        return GOSSIP_CLAIM_REFUSED;
    if (memcmp(subject, m->self, VL_PUBKEY_SIZE) == 0) {
        if (incarnation < m->incarnation)
            return GOSSIP_CLAIM_STALE;
        m->incarnation = incarnation + 1;
        return GOSSIP_CLAIM_REFUTED;
    }
    gossip_peer_t *p = gossip_members_find(m, subject, VL_PUBKEY_SIZE);
    if (!p || incarnation < p->incarnation || p->state == GOSSIP_PEER_DEAD
        || p->state == GOSSIP_PEER_UNKNOWN)
        return GOSSIP_CLAIM_STALE;
    p->incarnation = incarnation;
    p->claimed_dead = true;
    s_set_state(p, GOSSIP_PEER_DEAD, now_ms);
    return GOSSIP_CLAIM_ACCEPTED;
}

bool
gossip_members_report(gossip_members_t *m, const uint8_t key[VL_PUBKEY_SIZE],
                      uint64_t incarnation, int state)
{
    if (memcmp(key, m->self, VL_PUBKEY_SIZE) == 0) {
        if ((state == GOSSIP_PEER_SUSPECT || state == GOSSIP_PEER_DEAD)
            && incarnation >= m->incarnation) {
            m->incarnation = incarnation + 1;
            return true;
        }
    }
    return false;
}

size_t
gossip_members_tick(gossip_members_t *m, int64_t now_ms)
{
    size_t changed = 0;
    for (size_t i = 0; i < m->count; i++) {
        gossip_peer_t *p = &m->peers[i];
        int64_t silent = now_ms - p->last_seen_ms;
        bool near = p->monitored && p->last_direct_ms > 0;
        int64_t suspect = near ? m->suspect_ms : m->far_suspect_ms;
        int64_t dead = near ? m->dead_ms : m->far_dead_ms;
        if (p->state == GOSSIP_PEER_ALIVE && silent > suspect) {
            s_set_state(p, GOSSIP_PEER_SUSPECT, now_ms);
            changed++;
        }
        if (p->state == GOSSIP_PEER_SUSPECT && silent > dead) {
            s_set_state(p, GOSSIP_PEER_DEAD, now_ms);
            changed++;
        }
    }
    return changed;
}

void
gossip_members_pause(gossip_members_t *m, int64_t gap_ms)
{
    for (size_t i = 0; i < m->count && gap_ms > 0; i++) {
        gossip_peer_t *p = &m->peers[i];
        if (p->last_seen_ms > 0)
            p->last_seen_ms += gap_ms;
    }
}

size_t
gossip_members_select_mesh(gossip_members_t *m, size_t degree, size_t full_max, uint64_t *rnd)
{
    size_t size = 0;
    if (m->count <= full_max) {
        for (size_t i = 0; i < m->count; i++) {
            gossip_peer_t *p = &m->peers[i];
            p->in_mesh = p->gossip_ep[0] != 0 && !p->refused;
            size += p->in_mesh;
        }
        return size;
    }
    for (size_t i = 0; i < m->count; i++) {
        gossip_peer_t *p = &m->peers[i];
        if (p->in_mesh && (p->state == GOSSIP_PEER_DEAD || !p->gossip_ep[0] || p->refused))
            p->in_mesh = false;
        size += p->in_mesh;
    }
    /* Fill by preference class: alive, unknown, suspect, dead. A random
     * start and stride-1 walk per class keeps the choice uniform enough
     * without allocating. */
    static const gossip_peer_state_t order[] = { GOSSIP_PEER_ALIVE, GOSSIP_PEER_UNKNOWN,
                                                 GOSSIP_PEER_SUSPECT, GOSSIP_PEER_DEAD };
    for (size_t c = 0; c < 4 && size < degree; c++) {
        size_t avail = 0;
        for (size_t i = 0; i < m->count; i++) {
            gossip_peer_t *p = &m->peers[i];
            avail += !p->in_mesh && p->gossip_ep[0] && !p->refused && p->state == order[c];
        }
        while (avail > 0 && size < degree) {
            size_t pick = (size_t) (gossip_rand(rnd) % avail);
            for (size_t i = 0; i < m->count; i++) {
                gossip_peer_t *p = &m->peers[i];
                if (p->in_mesh || !p->gossip_ep[0] || p->refused || p->state != order[c])
                    continue;
                if (pick-- == 0) {
                    p->in_mesh = true;
                    break;
                }
            }
            avail--;
            size++;
        }
    }
    return size;
}

bool
gossip_members_rotate_mesh(gossip_members_t *m, size_t degree, size_t full_max, uint64_t *rnd)
{
    if (m->count <= full_max)
        return false;
    size_t size = 0;
    for (size_t i = 0; i < m->count; i++)
        size += m->peers[i].in_mesh;
    if (size == 0 || size < degree)
        return false;
    size_t pick = (size_t) (gossip_rand(rnd) % size);
    for (size_t i = 0; i < m->count; i++)
        if (m->peers[i].in_mesh && pick-- == 0) {
            m->peers[i].in_mesh = false;
            return true;
        }
    return false;
}

size_t
gossip_members_count(const gossip_members_t *m)
{
    return m->count;
}

gossip_peer_t *
gossip_members_at(gossip_members_t *m, size_t i)
{
    return i < m->count ? &m->peers[i] : NULL;
}

uint64_t
gossip_members_incarnation(const gossip_members_t *m)
{
    return m->incarnation;
}

uint64_t
gossip_members_max_height(const gossip_members_t *m)
{
    uint64_t h = 0;
    for (size_t i = 0; i < m->count; i++)
        if ((m->peers[i].state == GOSSIP_PEER_ALIVE || m->peers[i].state == GOSSIP_PEER_SUSPECT)
            && m->peers[i].height > h)
            h = m->peers[i].height;
    return h;
}

const char *
gossip_peer_state_name(gossip_peer_state_t s)
{
    switch (s) {
    case GOSSIP_PEER_ALIVE: return "alive";
    case GOSSIP_PEER_SUSPECT: return "suspect";
    case GOSSIP_PEER_DEAD: return "dead";
    default: return "unknown";
    }
}
