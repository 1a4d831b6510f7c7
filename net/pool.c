/*
 * pool.c — the worker pool (pool.h): one mutex guards a FIFO of queued jobs
 * and a FIFO of finished ones; workers wait on a condition variable for
 * work, and a finished job is announced to the loop through an eventfd the
 * evloop watches. Jobs travel in small heap entries so the queue costs
 * nothing while empty.
 */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "error.h"

typedef struct s_entry {
    struct s_entry *next;
    void *job;
    pool_work_fn work;
    pool_done_fn done;
    bool ran;
} s_entry_t;

typedef struct {
    s_entry_t *head, *tail;
    size_t count;
} s_fifo_t;

typedef struct {
    pool_t *pool;
    size_t index;
    pthread_t thread;
    bool joinable;
} s_worker_t;

struct pool_t {
    pthread_mutex_t mu;           /* guards everything below but the workers' threads */
    pthread_cond_t work;          /* a job was queued, or stop */
    pthread_cond_t ready;         /* a worker started (or failed to) */
    s_fifo_t queued;
    s_fifo_t finished;
    bool stop;
    size_t started, failed;       /* start handshake */
    int efd;                      /* eventfd: finished jobs to collect */
    evloop_t *loop;               /* borrowed while attached */
    pool_worker_t worker;
    s_worker_t *workers;          /* owned: n_threads */
    size_t n_threads;
    pool_stats_t stats;
};

static void
s_push(s_fifo_t *f, s_entry_t *e)
{
    e->next = NULL;
    if (f->tail)
        f->tail->next = e;
    else
        f->head = e;
    f->tail = e;
    f->count++;
}

static s_entry_t *
s_pop(s_fifo_t *f)
{
    s_entry_t *e = f->head;
    if (e) {
        f->head = e->next;
        if (!f->head)
            f->tail = NULL;
        f->count--;
    }
    return e;
}

static void
s_signal_loop(pool_t *p)
{
    uint64_t one = 1;
    /* Full counter (EAGAIN) still leaves the descriptor readable. */
    ssize_t n = write(p->efd, &one, sizeof one);
    (void) n;
}

static void *
s_worker_main(void *arg)
{
    s_worker_t *w = arg;
    pool_t *p = w->pool;
    void *ctx = p->worker.init ? p->worker.init(p->worker.arg, w->index) : NULL;
    bool ok = !p->worker.init || ctx != NULL;
    pthread_mutex_lock(&p->mu);
    if (ok)
        p->started++;
    else
        p->failed++;
    pthread_cond_broadcast(&p->ready);
    while (ok) {
        s_entry_t *e = NULL;
        while (!p->stop && !(e = s_pop(&p->queued)))
            pthread_cond_wait(&p->work, &p->mu);
        if (!e)
            break;   /* stopping: the rest is returned by pool_destroy */
        pthread_mutex_unlock(&p->mu);
        e->work(e->job, ctx);
        e->ran = true;
        pthread_mutex_lock(&p->mu);
        bool first = p->finished.count == 0;
        s_push(&p->finished, e);
        if (first)
            s_signal_loop(p);
    }
    pthread_mutex_unlock(&p->mu);
    if (ok && p->worker.fini)
        p->worker.fini(ctx);
    return NULL;
}

static size_t
s_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > POOL_THREADS_MAX ? POOL_THREADS_MAX : (size_t) n;
}

pool_t *
pool_new(size_t threads, const pool_worker_t *worker)
{
    pool_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->n_threads = threads ? (threads > POOL_THREADS_MAX ? POOL_THREADS_MAX : threads) : s_cores();
    if (worker)
        p->worker = *worker;
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    p->workers = calloc(p->n_threads, sizeof *p->workers);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->ready, NULL);
    if (p->efd < 0 || !p->workers) {
        pool_destroy(&p);
        return NULL;
    }
    size_t spawned = 0;
    for (; spawned < p->n_threads; spawned++) {
        s_worker_t *w = &p->workers[spawned];
        *w = (s_worker_t) { p, spawned, 0, false };
        if (pthread_create(&w->thread, NULL, s_worker_main, w) != 0)
            break;
        w->joinable = true;
    }
    pthread_mutex_lock(&p->mu);
    while (p->started + p->failed < spawned)
        pthread_cond_wait(&p->ready, &p->mu);
    bool ok = spawned == p->n_threads && p->failed == 0;
    pthread_mutex_unlock(&p->mu);
    if (!ok)
        pool_destroy(&p);
    return p;
}

static int
s_on_finished(evloop_t *loop, int fd, void *arg)
{
    pool_t *p = arg;
    uint64_t count;
    ssize_t n = read(fd, &count, sizeof count);
    (void) n;
    pool_collect(p);
    return 0;
}

int
pool_attach(pool_t *p, evloop_t *loop)
{
    if (evloop_fd(loop, p->efd, s_on_finished, p) != 0)
        return VL_ERR_IO;
    p->loop = loop;
    s_signal_loop(p);   /* jobs that finished before the attach */
    return 0;
}

void
pool_detach(pool_t *p)
{
    if (p && p->loop) {
        evloop_fd_end(p->loop, p->efd);
        p->loop = NULL;
    }
}

int
pool_submit(pool_t *p, void *job, pool_work_fn work, pool_done_fn done)
{
    s_entry_t *e = calloc(1, sizeof *e);
    if (!e)
        return VL_ERR_NOMEM;
    *e = (s_entry_t) { NULL, job, work, done, false };
    pthread_mutex_lock(&p->mu);
    int rc = p->stop ? VL_ERR_STATE : p->queued.count >= POOL_QUEUE_MAX ? VL_ERR_LIMIT : 0;
    if (rc == 0) {
        s_push(&p->queued, e);
        p->stats.submitted++;
        if (p->queued.count > p->stats.queued_max)
            p->stats.queued_max = p->queued.count;
        pthread_cond_signal(&p->work);
    } else if (rc == VL_ERR_LIMIT) {
        p->stats.refused++;
    }
    pthread_mutex_unlock(&p->mu);
    if (rc != 0)
        free(e);
    return rc;
}

size_t
pool_collect(pool_t *p)
{
    pthread_mutex_lock(&p->mu);
    s_fifo_t done = p->finished;
    p->finished = (s_fifo_t) { NULL, NULL, 0 };
    p->stats.completed += done.count;
    pthread_mutex_unlock(&p->mu);
    size_t n = 0;
    for (s_entry_t *e; (e = s_pop(&done)); n++) {
        e->done(e->job, e->ran);
        free(e);
    }
    return n;
}

size_t pool_threads(const pool_t *p) { return p->n_threads; }

pool_stats_t
pool_stats(pool_t *p)
{
    pthread_mutex_lock(&p->mu);
    pool_stats_t s = p->stats;
    pthread_mutex_unlock(&p->mu);
    return s;
}

void
pool_destroy(pool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pool_t *p = *self_p;
    pool_detach(p);
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; p->workers && i < p->n_threads; i++)
        if (p->workers[i].joinable)
            pthread_join(p->workers[i].thread, NULL);
    /* Finished jobs first, then the ones no worker took. */
    pool_collect(p);
    for (s_entry_t *e; (e = s_pop(&p->queued));) {
        e->done(e->job, false);
        free(e);
    }
    if (p->efd >= 0)
        close(p->efd);
    pthread_cond_destroy(&p->ready);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    free(p->workers);
    free(p);
    *self_p = NULL;
}
