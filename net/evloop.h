/*
 * evloop.h — the node's event loop: ZeroMQ sockets, plain file descriptors
 * and timers on one thread, each ready one dispatched to its handler.
 *
 * Why not czmq's zloop: zloop calls zmq_poll, which on every wake-up asks
 * each registered socket for its events (a getpid and a poll(…, 0) per
 * socket, twice: once before sleeping and once after) whether or not
 * anything arrived for it. A node has eight or more sockets and wakes a few
 * hundred times a second; at 128 nodes on one 2-core host those syscalls
 * were a quarter of all CPU samples (perf -a, bench_gossip). The evloop
 * puts each socket's ZMQ_FD in one epoll set and asks only the sockets whose
 * descriptor fired.
 *
 * The ZMQ_FD contract (zmq_getsockopt(3)): the descriptor signals that the
 * socket's state *may* have changed; ZMQ_EVENTS tells what it is. It does
 * not fire again for messages that arrived before the last ZMQ_EVENTS,
 * send or receive on that socket. So, for each socket:
 *
 *   1. after its descriptor fires, ZMQ_EVENTS is read; on ZMQ_POLLIN the
 *      handler runs;
 *   2. after the handler, ZMQ_EVENTS is read again: a handler may leave
 *      messages (ours drain a bounded number) and its own sends may have
 *      consumed the signal; still readable -> run again next iteration,
 *      without sleeping;
 *   3. code that sends on, connects or disconnects a registered socket
 *      outside that socket's handler (each of these may process the
 *      socket's pending commands) calls evloop_sent(), and the socket is
 *      checked before the loop next sleeps, for the same reason;
 *   4. every EVLOOP_SWEEP_MS every socket is checked anyway; a socket with
 *      a message but no pending signal on its descriptor (so 1-3 missed it)
 *      is counted in stats.sweep_found: a bug to look for, not a normal
 *      path. (A socket whose descriptor is signalled is left to epoll: its
 *      message arrived during this iteration. Without that check, 60 s of a
 *      128-node network counted 0-4 such arrivals per node.)
 *
 * Handlers return 0 to go on, -1 to end evloop_run. Readers and timers may
 * be added and removed from inside any handler, including their own: a
 * removed one is never called again, even later in the same iteration.
 *
 * Threads: one evloop, its sockets and its handlers belong to the thread
 * that calls evloop_run.
 */
#ifndef VL_EVLOOP_H
#define VL_EVLOOP_H

#include <stddef.h>
#include <stdint.h>

#include <czmq.h>

#define EVLOOP_SWEEP_MS 500

typedef struct evloop_t evloop_t;

typedef int(evloop_sock_fn)(evloop_t *r, zsock_t *sock, void *arg);
typedef int(evloop_fd_fn)(evloop_t *r, int fd, void *arg);
typedef int(evloop_timer_fn)(evloop_t *r, int timer_id, void *arg);

typedef struct {
    uint64_t wakeups;       /* epoll_wait returns */
    uint64_t dispatches;    /* handler calls, all kinds */
    uint64_t sweep_found;   /* sockets found readable only by the sweep */
} evloop_stats_t;

/* NULL when out of memory or file descriptors. */
evloop_t *evloop_new(void);
/* Unregisters everything; the sockets and descriptors stay the caller's. */
void evloop_destroy(evloop_t **self_p);

/* Calls fn whenever sock has a message to read. sock: borrowed, must stay
 * open until evloop_reader_end. 0, or VL_ERR_INVALID (already registered,
 * no descriptor) / VL_ERR_NOMEM / VL_ERR_IO. */
int evloop_reader(evloop_t *r, zsock_t *sock, evloop_sock_fn *fn, void *arg);
void evloop_reader_end(evloop_t *r, zsock_t *sock);   /* unknown sock: no-op */

/* Calls fn whenever fd is readable (level-triggered). */
int evloop_fd(evloop_t *r, int fd, evloop_fd_fn *fn, void *arg);
void evloop_fd_end(evloop_t *r, int fd);

/* Calls fn after delay_ms, `times` times (0 = until ended), delay_ms apart.
 * A repeating timer (times 0) fires on a grid: multiples of delay_ms of the
 * monotonic clock, shifted by a random phase per loop (so processes on one
 * host do not all wake at once). The first firing comes delay_ms to
 * 2 x delay_ms after this call, and a loop's repeating timers whose periods
 * divide one another wake the thread together: a node's 100 ms
 * housekeeping and gossip ticks are one wake-up, not two. After a stall
 * it fires once, then resumes on the grid. Returns the timer's id (>= 0),
 * or -1 when out of memory. */
int evloop_timer(evloop_t *r, int64_t delay_ms, size_t times, evloop_timer_fn *fn, void *arg);
void evloop_timer_end(evloop_t *r, int timer_id);   /* unknown or fired id: no-op */

/* We sent on, connected or disconnected sock outside its own handler
 * (rule 3 above); an unregistered sock (or a NULL loop) is ignored. */
void evloop_sent(evloop_t *r, zsock_t *sock);

/* The loop's time: monotonic milliseconds (vl_mono_ms) unless a test
 * replaced the source. Timers, the sweep and the node's decisions read
 * time through here. */
typedef int64_t(evloop_clock_fn)(void *arg);
int64_t evloop_now(const evloop_t *r);

/* Test seam: replaces the time source (fn NULL restores vl_mono_ms). The
 * loop still sleeps in epoll_wait for real milliseconds computed from this
 * clock, so a test that advances it from a handler sees timers fire at
 * the advanced times. */
void evloop_set_clock(evloop_t *r, evloop_clock_fn *fn, void *arg);

/* Runs until a handler returns -1 (0) or epoll fails (VL_ERR_IO). */
int evloop_run(evloop_t *r);

const evloop_stats_t *evloop_stats(const evloop_t *r);
#endif
