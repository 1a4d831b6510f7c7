/*
 * pool.h — the worker pool: a fixed set of threads, sized to the cores,
 * that run the node's parallel work (contract execution for endorsements,
 * queries and reactors; signature checks of incoming transactions and
 * blocks) off the loop thread, and hand each finished job back to the loop
 * thread (DESIGN §7).
 *
 * A job is the caller's struct; the pool only carries a pointer. Its
 * `work` runs on some worker thread with that worker's context (e.g. the
 * worker's own contract VM: a VM is used by one thread at a time); its
 * `done` runs later on the loop thread, from the evloop, in the order jobs
 * finished. `done` is called exactly once per accepted job: with
 * ran = true after work, or ran = false when the pool was destroyed before
 * a worker took the job (the job must still be released).
 *
 * Start and stop are handshakes, never sleeps: pool_new returns once every
 * worker has started and built its context; pool_destroy sets the stop
 * flag, wakes the workers, joins them (each finishes the job it is running)
 * and then calls `done` for whatever is left (ran or not).
 *
 * Bounded: at most POOL_QUEUE_MAX jobs wait; pool_submit refuses more with
 * VL_ERR_LIMIT (the caller answers "busy" rather than queue without end).
 *
 * Threads: pool_new, pool_attach, pool_submit, pool_destroy and every
 * `done` run on the loop thread; `work` on the workers.
 */
#ifndef VL_POOL_H
#define VL_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evloop.h"

#define POOL_QUEUE_MAX 65536
#define POOL_THREADS_MAX 64

typedef struct pool_t pool_t;

typedef void (*pool_work_fn)(void *job, void *worker_ctx);
typedef void (*pool_done_fn)(void *job, bool ran);

/* Builds a worker's context on that worker's thread (NULL = failure, the
 * pool is not made); fini releases it on the same thread at stop. */
typedef struct {
    void *(*init)(void *arg, size_t index);
    void (*fini)(void *worker_ctx);
    void *arg;
} pool_worker_t;

typedef struct {
    uint64_t submitted;
    uint64_t completed;
    uint64_t refused;             /* queue full */
    size_t queued_max;            /* deepest the queue got */
} pool_stats_t;

/* threads: 0 = one per online core (at least 1, at most POOL_THREADS_MAX).
 * worker may be NULL (no per-worker context). NULL when a thread, its
 * context or memory could not be had. */
pool_t *pool_new(size_t threads, const pool_worker_t *worker);

/* Delivers finished jobs on loop (borrowed until pool_detach/destroy).
 * 0 or VL_ERR_IO. Jobs submitted before attach finish once attached. */
int pool_attach(pool_t *pool, evloop_t *loop);
void pool_detach(pool_t *pool);

/* Queues a job. 0, or VL_ERR_LIMIT (queue full) / VL_ERR_STATE (stopping):
 * then neither work nor done will be called, the job stays the caller's. */
int pool_submit(pool_t *pool, void *job, pool_work_fn work, pool_done_fn done);

/* Runs the `done` of every finished job now (the evloop handler does this;
 * tests and shutdown paths may call it). Returns how many. */
size_t pool_collect(pool_t *pool);

size_t pool_threads(const pool_t *pool);
pool_stats_t pool_stats(pool_t *pool);

void pool_destroy(pool_t **self_p);
#endif
