/*
 * evloop.c — epoll over the ZMQ_FD of each registered socket, plus plain
 * descriptors and timers; see evloop.h for the rules that keep a socket's
 * messages from being missed.
 *
 * Invariants:
 *   1. entries[i].kind == ENTRY_FREE or the entry's descriptor is in the
 *      epoll set, tagged with (i, entries[i].gen).
 *   2. An epoll event whose tag's generation differs from its slot's is
 *      stale (the slot was freed, maybe reused, this iteration) and ignored.
 *   3. A socket entry with `check` set has its ZMQ_EVENTS read before the
 *      evloop next sleeps.
 *   4. timers[0..ntimers) are in creation order; dead ones are removed only
 *      between passes, so a pass's indices stay valid while callbacks add
 *      timers (appended) or end them (marked dead).
 */
#include "evloop.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "clock.h"
#include "crypto.h"
#include "error.h"

#define EVLOOP_EVENTS_MAX 64

typedef enum { ENTRY_FREE = 0, ENTRY_SOCK, ENTRY_FD } entry_kind_t;

typedef struct {
    entry_kind_t kind;
    uint32_t gen;              /* bumped when the slot is freed (invariant 2) */
    zsock_t *sock;             /* borrowed (ENTRY_SOCK) */
    void *handle;              /* its libzmq socket */
    int fd;                    /* ZMQ_FD, or the plain descriptor */
    evloop_sock_fn *sock_fn;
    evloop_fd_fn *fd_fn;
    void *arg;                 /* borrowed: the handler's */
    bool check;                /* invariant 3 */
} entry_t;

typedef struct {
    int id;
    bool live;
    int64_t when_ms;           /* monotonic: next firing */
    int64_t delay_ms;
    size_t times;              /* firings left; 0 = until ended */
    evloop_timer_fn *fn;
    void *arg;                 /* borrowed: the handler's */
} rtimer_t;

struct evloop_t {
    int ep;                    /* owned: the epoll descriptor */
    entry_t *entries;          /* owned, cap slots */
    size_t cap;
    rtimer_t *timers;          /* owned, ntimers of tcap */
    size_t ntimers, tcap;
    int next_id;
    int64_t next_sweep_ms;
    int64_t phase_ms;          /* this loop's offset of the timer grid (s_grid) */
    bool stop;
    evloop_stats_t stats;
    evloop_clock_fn *clock;    /* the time source: vl_mono_ms unless a test set one */
    void *clock_arg;
};

static int64_t
s_mono(void *arg)
{
    return vl_mono_ms();
}

int64_t
evloop_now(const evloop_t *r)
{
    return r->clock(r->clock_arg);
}

void
evloop_set_clock(evloop_t *r, evloop_clock_fn *fn, void *arg)
{
    r->clock = fn ? fn : s_mono;
    r->clock_arg = fn ? arg : NULL;
}

evloop_t *
evloop_new(void)
{
    evloop_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->clock = s_mono;
    r->ep = epoll_create1(EPOLL_CLOEXEC);
    if (r->ep < 0) {
        free(r);
        return NULL;
    }
    uint32_t phase = 0;
    vl_random_bytes(&phase, sizeof phase);
    r->phase_ms = phase % 1000;
    return r;
}

void
evloop_destroy(evloop_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    evloop_t *r = *self_p;
    close(r->ep);
    free(r->entries);
    free(r->timers);
    free(r);
    *self_p = NULL;
}

/* A free slot (growing the table), or -1. */
static int
s_slot(evloop_t *r)
{
    for (size_t i = 0; i < r->cap; i++)
        if (r->entries[i].kind == ENTRY_FREE)
            return (int) i;
    size_t cap = r->cap ? r->cap * 2 : 16;
    entry_t *e = realloc(r->entries, cap * sizeof *e);
    if (!e)
        return -1;
    memset(e + r->cap, 0, (cap - r->cap) * sizeof *e);
    r->entries = e;
    int slot = (int) r->cap;
    r->cap = cap;
    return slot;
}

static int
s_add(evloop_t *r, int slot, int fd)
{
    struct epoll_event ev = { .events = EPOLLIN };
    ev.data.u64 = (uint64_t) (uint32_t) slot | (uint64_t) r->entries[slot].gen << 32;
    return epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : VL_ERR_IO;
}

static void
s_free(evloop_t *r, size_t slot)
{
    entry_t *e = &r->entries[slot];
    epoll_ctl(r->ep, EPOLL_CTL_DEL, e->fd, NULL);
    uint32_t gen = e->gen + 1;
    memset(e, 0, sizeof *e);
    e->gen = gen;
}

/* The slot of the registered socket sock, or of the plain descriptor fd
 * (sock NULL); -1 when there is none. */
static int
s_find(const evloop_t *r, const zsock_t *sock, int fd)
{
    for (size_t i = 0; i < r->cap; i++) {
        const entry_t *e = &r->entries[i];
        if (sock ? e->kind == ENTRY_SOCK && e->sock == sock : e->kind == ENTRY_FD && e->fd == fd)
            return (int) i;
    }
    return -1;
}

int
evloop_reader(evloop_t *r, zsock_t *sock, evloop_sock_fn *fn, void *arg)
{
    void *handle = zsock_resolve(sock);
    int fd = -1;
    size_t size = sizeof fd;
    if (!handle || zmq_getsockopt(handle, ZMQ_FD, &fd, &size) != 0 || fd < 0)
        return VL_ERR_INVALID;
    if (s_find(r, sock, -1) >= 0)
        return VL_ERR_INVALID;
    int slot = s_slot(r);
    if (slot < 0)
        return VL_ERR_NOMEM;
    entry_t *e = &r->entries[slot];
    e->sock = sock;
    e->handle = handle;
    e->fd = fd;
    e->sock_fn = fn;
    e->arg = arg;
    e->check = true;   /* messages may have arrived before registration */
    if (s_add(r, slot, fd) != 0) {
        e->kind = ENTRY_FREE;
        return VL_ERR_IO;
    }
    e->kind = ENTRY_SOCK;
    return 0;
}

void
evloop_reader_end(evloop_t *r, zsock_t *sock)
{
    int slot = s_find(r, sock, -1);
    if (slot >= 0)
        s_free(r, (size_t) slot);
}

int
evloop_fd(evloop_t *r, int fd, evloop_fd_fn *fn, void *arg)
{
    for (size_t i = 0; i < r->cap; i++)   /* a socket's ZMQ_FD counts too */
        if (r->entries[i].kind != ENTRY_FREE && r->entries[i].fd == fd)
            return VL_ERR_INVALID;
    int slot = s_slot(r);
    if (slot < 0)
        return VL_ERR_NOMEM;
    entry_t *e = &r->entries[slot];
    e->fd = fd;
    e->fd_fn = fn;
    e->arg = arg;
    if (s_add(r, slot, fd) != 0)
        return VL_ERR_IO;
    e->kind = ENTRY_FD;
    return 0;
}

void
evloop_fd_end(evloop_t *r, int fd)
{
    int slot = s_find(r, NULL, fd);
    if (slot >= 0)
        s_free(r, (size_t) slot);
}

/* The first point of this loop's grid for period_ms after t: multiples of
 * the period, shifted by the loop's phase so that the processes on one host
 * (128 nodes in the benchmarks) do not all wake in the same millisecond. */
static int64_t
s_grid(const evloop_t *r, int64_t t, int64_t period_ms)
{
    int64_t phase = r->phase_ms % period_ms;
    return ((t - phase) / period_ms + 1) * period_ms + phase;
}

int
evloop_timer(evloop_t *r, int64_t delay_ms, size_t times, evloop_timer_fn *fn, void *arg)
{
    if (r->ntimers == r->tcap) {
        size_t cap = r->tcap ? r->tcap * 2 : 8;
        rtimer_t *t = realloc(r->timers, cap * sizeof *t);
        if (!t)
            return -1;
        r->timers = t;
        r->tcap = cap;
    }
    if (delay_ms < 0)
        delay_ms = 0;
    int id = r->next_id;
    r->next_id = r->next_id == INT_MAX ? 0 : r->next_id + 1;
    int64_t when = evloop_now(r) + delay_ms;
    if (times == 0 && delay_ms > 0)
        when = s_grid(r, when - 1, delay_ms);   /* evloop.h: the period's grid */
    r->timers[r->ntimers++] = (rtimer_t) { .id = id, .live = true,
                                           .when_ms = when,
                                           .delay_ms = delay_ms, .times = times, .fn = fn,
                                           .arg = arg };
    return id;
}

void
evloop_timer_end(evloop_t *r, int timer_id)
{
    for (size_t i = 0; i < r->ntimers; i++)
        if (r->timers[i].live && r->timers[i].id == timer_id)
            r->timers[i].live = false;
}

void
evloop_sent(evloop_t *r, zsock_t *sock)
{
    int slot = r ? s_find(r, sock, -1) : -1;
    if (slot >= 0)
        r->entries[slot].check = true;
}

const evloop_stats_t *
evloop_stats(const evloop_t *r)
{
    return &r->stats;
}

/* --- The loop ------------------------------------------------------------ */

static bool
s_readable(void *handle)
{
    int events = 0;
    size_t size = sizeof events;
    return zmq_getsockopt(handle, ZMQ_EVENTS, &events, &size) == 0 && (events & ZMQ_POLLIN);
}

/* Whether a socket's descriptor has an unread signal. */
static bool
s_signalled(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, 0) > 0;
}

/* Runs the handler of every socket whose `check` is set (or every socket, on
 * a sweep) and that has a message; afterwards re-arms `check` for those still
 * readable (evloop.h, rules 1-4). Each socket runs at most once per pass. */
static void
s_service(evloop_t *r, bool sweep)
{
    for (size_t i = 0; i < r->cap && !r->stop; i++) {
        entry_t *e = &r->entries[i];
        if (e->kind != ENTRY_SOCK || !(e->check || sweep))
            continue;
        bool flagged = e->check;
        if (!flagged && s_signalled(e->fd))
            continue;   /* epoll reports it next: arrived during this iteration */
        e->check = false;
        if (!s_readable(e->handle))
            continue;
        if (!flagged)
            r->stats.sweep_found++;
        uint32_t gen = e->gen;
        zsock_t *sock = e->sock;
        r->stats.dispatches++;
        if (e->sock_fn(r, sock, e->arg) < 0)
            r->stop = true;
        e = &r->entries[i];   /* the table may have grown */
        if (e->kind == ENTRY_SOCK && e->gen == gen && s_readable(e->handle))
            e->check = true;
    }
}

static void
s_run_timers(evloop_t *r, int64_t now)
{
    size_t n = r->ntimers;   /* timers added by callbacks wait for the next pass */
    for (size_t i = 0; i < n && !r->stop; i++) {
        rtimer_t *t = &r->timers[i];
        if (!t->live || t->when_ms > now)
            continue;
        int id = t->id;
        evloop_timer_fn *fn = t->fn;
        void *arg = t->arg;
        if (t->times == 1)
            t->live = false;
        else if (t->times > 1) {
            t->times--;
            t->when_ms = now + t->delay_ms;
        } else {   /* repeating: the next point of its grid after now */
            t->when_ms = t->delay_ms > 0 ? s_grid(r, now, t->delay_ms) : now;
        }
        r->stats.dispatches++;
        if (fn(r, id, arg) < 0)
            r->stop = true;
    }
    size_t k = 0;
    for (size_t i = 0; i < r->ntimers; i++)
        if (r->timers[i].live)
            r->timers[k++] = r->timers[i];
    r->ntimers = k;
}

static int
s_timeout(evloop_t *r, int64_t now)
{
    for (size_t i = 0; i < r->cap; i++)
        if (r->entries[i].kind == ENTRY_SOCK && r->entries[i].check)
            return 0;
    int64_t next = r->next_sweep_ms;
    for (size_t i = 0; i < r->ntimers; i++)
        if (r->timers[i].live && r->timers[i].when_ms < next)
            next = r->timers[i].when_ms;
    return next <= now ? 0 : (int) (next - now);
}

int
evloop_run(evloop_t *r)
{
    struct epoll_event evs[EVLOOP_EVENTS_MAX];
    r->stop = false;
    r->next_sweep_ms = s_grid(r, evloop_now(r), EVLOOP_SWEEP_MS);   /* on the timers' grid */
    while (!r->stop) {
        int n = epoll_wait(r->ep, evs, EVLOOP_EVENTS_MAX, s_timeout(r, evloop_now(r)));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return VL_ERR_IO;
        }
        r->stats.wakeups++;
        for (int k = 0; k < n && !r->stop; k++) {
            size_t slot = (size_t) (evs[k].data.u64 & 0xffffffffu);
            uint32_t gen = (uint32_t) (evs[k].data.u64 >> 32);
            entry_t *e = slot < r->cap ? &r->entries[slot] : NULL;
            if (!e || e->kind == ENTRY_FREE || e->gen != gen)
                continue;   /* invariant 2 */
            if (e->kind == ENTRY_SOCK) {
                e->check = true;
                continue;
            }
            r->stats.dispatches++;
            if (e->fd_fn(r, e->fd, e->arg) < 0)
                r->stop = true;
        }
        s_service(r, false);
        int64_t now = evloop_now(r);
        s_run_timers(r, now);
        bool sweep = now >= r->next_sweep_ms;
        if (sweep)
            r->next_sweep_ms = s_grid(r, now, EVLOOP_SWEEP_MS);
        s_service(r, sweep);
    }
    return 0;
}
