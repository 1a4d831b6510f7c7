/*
 * test_pool.c — the worker pool (net/pool.h): the start handshake (every
 * worker's init done when pool_new returns; a failed init fails the pool
 * and the others are finished), work on a worker thread with that worker's
 * own context, done on the loop thread in completion order exactly once,
 * the queue bound, and destroy with jobs still queued.
 *
 * Jobs that must stay busy block on a gate (mutex + condition) the test
 * opens; waits for the loop are bounded (s_wait_until: an evloop timer
 * checks the condition every millisecond, with a deadline), never sleeps.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "check.h"
#include "clock.h"
#include "error.h"
#include "evloop.h"
#include "pool.h"

#define WAIT_MS 10000

static pthread_t s_main_thread;

/* --- Worker contexts ----------------------------------------------------- */

typedef struct workers workers_t;

typedef struct {
    workers_t *owner;
    pthread_t thread;           /* where init ran */
    size_t index;
    int finis;                  /* fini calls on this context */
    bool fini_same_thread;
} ctx_t;

struct workers {
    pthread_mutex_t mu;
    ctx_t ctx[8];
    int inits, finis;
    size_t fail_index;          /* init of this index fails; SIZE_MAX = none */
};

static void *
s_init(void *arg, size_t index)
{
    workers_t *w = arg;
    pthread_mutex_lock(&w->mu);
    w->inits++;
    pthread_mutex_unlock(&w->mu);
    if (index == w->fail_index || index >= 8)
        return NULL;
    ctx_t *c = &w->ctx[index];
    c->owner = w;
    c->thread = pthread_self();
    c->index = index;
    return c;
}

static void
s_fini(void *worker_ctx)
{
    ctx_t *c = worker_ctx;
    workers_t *w = c->owner;
    pthread_mutex_lock(&w->mu);
    c->finis++;
    c->fini_same_thread = pthread_equal(c->thread, pthread_self());
    w->finis++;
    pthread_mutex_unlock(&w->mu);
}

static void
s_workers(workers_t *w, size_t fail_index)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    w->fail_index = fail_index;
}

/* --- Jobs ---------------------------------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;                  /* blocked jobs may finish */
    int started;                /* blocking jobs that began */
} gate_t;

static void
s_gate_init(gate_t *g)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->open = false;
    g->started = 0;
}

static void
s_gate_open(gate_t *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Waits until `n` blocking jobs started (bounded). */
static bool
s_gate_wait_started(gate_t *g, int n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&g->mu);
    int rc = 0;
    while (g->started < n && rc == 0)
        rc = pthread_cond_timedwait(&g->cv, &g->mu, &until);
    bool ok = g->started >= n;
    pthread_mutex_unlock(&g->mu);
    return ok;
}

typedef struct job {
    int id;
    gate_t *gate;               /* non-NULL: block in work until the gate opens */
    int works, dones;
    bool ran;
    bool work_off_main;         /* work ran on a thread other than the test's */
    bool work_own_ctx;          /* ... with the context init built on that thread */
    bool done_on_main;
    void *ctx;
    int *order;                 /* done appends id here */
    int *n_order;
} job_t;

static void
s_work(void *arg, void *worker_ctx)
{
    job_t *j = arg;
    j->works++;
    j->ctx = worker_ctx;
    j->work_off_main = !pthread_equal(pthread_self(), s_main_thread);
    ctx_t *c = worker_ctx;
    j->work_own_ctx = c && pthread_equal(c->thread, pthread_self());
    if (j->gate) {
        pthread_mutex_lock(&j->gate->mu);
        j->gate->started++;
        pthread_cond_broadcast(&j->gate->cv);
        while (!j->gate->open)
            pthread_cond_wait(&j->gate->cv, &j->gate->mu);
        pthread_mutex_unlock(&j->gate->mu);
    }
}

static void
s_done(void *arg, bool ran)
{
    job_t *j = arg;
    j->dones++;
    j->ran = ran;
    j->done_on_main = pthread_equal(pthread_self(), s_main_thread);
    if (j->order)
        j->order[(*j->n_order)++] = j->id;
}

/* --- Bounded waits on the loop ------------------------------------------- */

typedef struct {
    bool (*cond)(void *);
    void *arg;
    bool met;
} wait_t;

static int
s_check(evloop_t *loop, int id, void *arg)
{
    wait_t *w = arg;
    if (!w->cond(w->arg))
        return 0;
    w->met = true;
    return -1;
}

static int
s_deadline(evloop_t *loop, int id, void *arg)
{
    return -1;
}

/* Runs the loop until cond holds (true) or ms pass (false). */
static bool
s_wait_until(evloop_t *loop, bool (*cond)(void *), void *arg, int64_t ms)
{
    if (cond(arg))
        return true;
    wait_t w = { cond, arg, false };
    int check = evloop_timer(loop, 1, 0, s_check, &w);
    int deadline = evloop_timer(loop, ms, 1, s_deadline, NULL);
    evloop_run(loop);
    evloop_timer_end(loop, check);
    evloop_timer_end(loop, deadline);
    return w.met;
}

typedef struct {
    int *n;
    int want;
} count_t;

static bool
s_reached(void *arg)
{
    count_t *c = arg;
    return *c->n >= c->want;
}

/* --- Cases --------------------------------------------------------------- */

/* pool_new returns once every worker built its context; destroy finishes
 * each context on its own thread. */
static void
test_pool_start_stop(void)
{
    workers_t w;
    s_workers(&w, SIZE_MAX);
    pool_worker_t pw = { s_init, s_fini, &w };
    pool_t *p = pool_new(3, &pw);
    CHECK(p != NULL);
    pthread_mutex_lock(&w.mu);
    CHECK_EQ(w.inits, 3);      /* no waiting: the handshake is done */
    pthread_mutex_unlock(&w.mu);
    CHECK_EQ(pool_threads(p), 3);
    for (int i = 0; i < 3; i++)
        CHECK(!pthread_equal(w.ctx[i].thread, s_main_thread));
    CHECK(!pthread_equal(w.ctx[0].thread, w.ctx[1].thread));
    pool_destroy(&p);
    CHECK(p == NULL);
    pool_destroy(&p);
    CHECK_EQ(w.finis, 3);      /* joined: every fini has run */
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(w.ctx[i].finis, 1);
        CHECK(w.ctx[i].fini_same_thread);
    }
    pool_stats_t s = pool_stats((p = pool_new(0, NULL)));
    CHECK(p != NULL);
    CHECK(pool_threads(p) >= 1 && pool_threads(p) <= POOL_THREADS_MAX);
    CHECK_EQ(s.submitted + s.completed + s.refused + s.queued_max, 0);
    pool_destroy(&p);
}

/* One init fails: no pool, and the workers that did start are finished. */
static void
test_pool_init_fails(void)
{
    workers_t w;
    s_workers(&w, 1);
    pool_worker_t pw = { s_init, s_fini, &w };
    pool_t *p = pool_new(3, &pw);
    CHECK(p == NULL);
    CHECK_EQ(w.inits, 3);
    CHECK_EQ(w.finis, 2);
    CHECK_EQ(w.ctx[0].finis, 1);
    CHECK_EQ(w.ctx[1].finis, 0);
    CHECK_EQ(w.ctx[2].finis, 1);
    CHECK(w.ctx[0].fini_same_thread && w.ctx[2].fini_same_thread);
}

/* Work off the loop thread with the worker's own context; done on the loop
 * thread, once per job, ran = true; stats. */
static void
test_pool_work_and_done(void)
{
    workers_t w;
    s_workers(&w, SIZE_MAX);
    pool_worker_t pw = { s_init, s_fini, &w };
    pool_t *p = pool_new(2, &pw);
    evloop_t *loop = evloop_new();
    CHECK_EQ(pool_attach(p, loop), 0);
    enum { N = 40 };
    job_t jobs[N];
    int order[N], n_order = 0;
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < N; i++) {
        jobs[i] = (job_t) { .id = i, .order = order, .n_order = &n_order };
        CHECK_EQ(pool_submit(p, &jobs[i], s_work, s_done), 0);
    }
    count_t c = { &n_order, N };
    CHECK(s_wait_until(loop, s_reached, &c, WAIT_MS));
    for (int i = 0; i < N; i++) {
        CHECK_EQ(jobs[i].works, 1);
        CHECK_EQ(jobs[i].dones, 1);
        CHECK(jobs[i].ran);
        CHECK(jobs[i].work_off_main);
        CHECK(jobs[i].work_own_ctx);
        CHECK(jobs[i].ctx == &w.ctx[0] || jobs[i].ctx == &w.ctx[1]);
        CHECK(jobs[i].done_on_main);
    }
    pool_stats_t s = pool_stats(p);
    CHECK_EQ(s.submitted, N);
    CHECK_EQ(s.completed, N);
    CHECK_EQ(s.refused, 0);
    CHECK(s.queued_max >= 1 && s.queued_max <= N);
    CHECK_EQ(pool_collect(p), 0);   /* nothing left */
    pool_destroy(&p);
    for (int i = 0; i < N; i++)
        CHECK_EQ(jobs[i].dones, 1);  /* destroy did not call any again */
    evloop_destroy(&loop);
}

/* done comes in completion order, not submission order: A blocks, B
 * (submitted after A started) finishes first. With one worker, completion
 * order is submission order. */
static void
test_pool_completion_order(void)
{
    pool_t *p = pool_new(2, NULL);
    evloop_t *loop = evloop_new();
    CHECK_EQ(pool_attach(p, loop), 0);
    gate_t g;
    s_gate_init(&g);
    int order[8], n_order = 0;
    job_t a = { .id = 1, .gate = &g, .order = order, .n_order = &n_order };
    job_t b = { .id = 2, .order = order, .n_order = &n_order };
    CHECK_EQ(pool_submit(p, &a, s_work, s_done), 0);
    CHECK(s_gate_wait_started(&g, 1));
    CHECK_EQ(pool_submit(p, &b, s_work, s_done), 0);
    count_t c = { &n_order, 1 };
    CHECK(s_wait_until(loop, s_reached, &c, WAIT_MS));
    CHECK_EQ(n_order, 1);
    CHECK_EQ(order[0], 2);
    CHECK_EQ(a.dones, 0);
    s_gate_open(&g);
    c.want = 2;
    CHECK(s_wait_until(loop, s_reached, &c, WAIT_MS));
    CHECK_EQ(n_order, 2);
    CHECK_EQ(order[1], 1);
    CHECK_EQ(a.dones, 1);
    CHECK_EQ(b.dones, 1);
    CHECK(a.ran && b.ran);
    CHECK(a.ctx == NULL);   /* no worker context was asked for */
    pool_destroy(&p);

    p = pool_new(1, NULL);
    CHECK_EQ(pool_attach(p, loop), 0);
    enum { N = 10 };
    job_t jobs[N];
    int seq[N], n_seq = 0;
    for (int i = 0; i < N; i++) {
        jobs[i] = (job_t) { .id = i, .order = seq, .n_order = &n_seq };
        CHECK_EQ(pool_submit(p, &jobs[i], s_work, s_done), 0);
    }
    c = (count_t) { &n_seq, N };
    CHECK(s_wait_until(loop, s_reached, &c, WAIT_MS));
    for (int i = 0; i < n_seq; i++)
        CHECK_EQ(seq[i], i);
    pool_destroy(&p);
    evloop_destroy(&loop);
}

/* Jobs that finish before the pool is attached are delivered once it is;
 * pool_collect delivers them too, on the calling thread. */
static void
test_pool_collect_and_late_attach(void)
{
    pool_t *p = pool_new(1, NULL);
    job_t j = { .id = 1 };
    CHECK_EQ(pool_submit(p, &j, s_work, s_done), 0);
    size_t got = 0;
    for (int64_t until = vl_mono_ms() + WAIT_MS; got == 0 && vl_mono_ms() < until;) {
        got = pool_collect(p);
        if (got == 0)
            sched_yield();
    }
    CHECK_EQ(got, 1);
    CHECK_EQ(j.dones, 1);
    CHECK(j.done_on_main && j.ran);
    CHECK_EQ(pool_collect(p), 0);

    job_t k = { .id = 2 };
    int n = 0, order[1];
    k.order = order;
    k.n_order = &n;
    CHECK_EQ(pool_submit(p, &k, s_work, s_done), 0);
    /* It may finish before or after the attach: either way it arrives. */
    evloop_t *loop = evloop_new();
    CHECK_EQ(pool_attach(p, loop), 0);
    count_t c = { &n, 1 };
    CHECK(s_wait_until(loop, s_reached, &c, WAIT_MS));
    CHECK_EQ(k.dones, 1);
    pool_detach(p);
    pool_detach(p);           /* twice: no-op */
    pool_destroy(&p);
    CHECK_EQ(k.dones, 1);
    evloop_destroy(&loop);
}

static void
s_never(void *job, void *ctx)
{
    (*(int *) job)++;
}

static void
s_never_done(void *job, bool ran)
{
    (*(int *) job) += 100;
}

/* The queue holds POOL_QUEUE_MAX jobs (the one worker is held busy so none
 * leaves it); one more is refused and stays the caller's. */
static void
test_pool_queue_limit(void)
{
    pool_t *p = pool_new(1, NULL);
    evloop_t *loop = evloop_new();
    CHECK_EQ(pool_attach(p, loop), 0);
    gate_t g;
    s_gate_init(&g);
    int n_done = 0;
    job_t blocker = { .id = -1, .gate = &g };
    CHECK_EQ(pool_submit(p, &blocker, s_work, s_done), 0);
    CHECK(s_gate_wait_started(&g, 1));   /* taken: the queue is empty again */
    job_t *jobs = calloc(POOL_QUEUE_MAX, sizeof *jobs);
    int *order = calloc(POOL_QUEUE_MAX + 1, sizeof *order);
    int refused_at = -1;
    for (int i = 0; i < POOL_QUEUE_MAX; i++) {
        jobs[i] = (job_t) { .id = i, .order = order, .n_order = &n_done };
        if (pool_submit(p, &jobs[i], s_work, s_done) != 0 && refused_at < 0)
            refused_at = i;
    }
    CHECK_EQ(refused_at, -1);
    int extra = 0;
    CHECK_EQ(pool_submit(p, &extra, s_never, s_never_done), VL_ERR_LIMIT);
    pool_stats_t s = pool_stats(p);
    CHECK_EQ(s.submitted, POOL_QUEUE_MAX + 1);
    CHECK_EQ(s.refused, 1);
    CHECK_EQ(s.queued_max, POOL_QUEUE_MAX);
    s_gate_open(&g);
    blocker.order = order;
    blocker.n_order = &n_done;
    count_t c = { &n_done, POOL_QUEUE_MAX + 1 };
    CHECK(s_wait_until(loop, s_reached, &c, WAIT_MS * 3));
    CHECK_EQ(n_done, POOL_QUEUE_MAX + 1);
    CHECK_EQ(extra, 0);        /* neither work nor done of the refused job */
    CHECK_EQ(blocker.dones, 1);
    bool once = true;
    for (int i = 0; i < POOL_QUEUE_MAX; i++)
        once &= jobs[i].dones == 1 && jobs[i].works == 1;
    CHECK(once);
    s = pool_stats(p);
    CHECK_EQ(s.completed, POOL_QUEUE_MAX + 1);
    /* Room again. */
    job_t again = { .id = 0 };
    CHECK_EQ(pool_submit(p, &again, s_work, s_done), 0);
    pool_destroy(&p);
    CHECK_EQ(again.dones, 1);
    free(jobs);
    free(order);
    evloop_destroy(&loop);
}

/* destroy while the one worker is busy and jobs wait: the running job
 * finishes (ran = true), each queued one gets done(ran = false) exactly
 * once, in queue order, on the destroying thread, and the workers are
 * joined. The busy job may finish only once destroy has stopped the pool;
 * a helper thread learns that from pool_submit answering VL_ERR_STATE (a
 * bounded wait), then opens the gate. Jobs the helper got in before the
 * stop are queued ones like the others. */
typedef struct {
    pool_t *pool;
    gate_t *gate;
    job_t *late;                /* POOL_QUEUE_MAX: past that the queue is full and
                                   probes add nothing */
    int n_late;
    bool saw_stop;
} helper_t;

static void *
s_helper(void *arg)
{
    helper_t *h = arg;
    for (int64_t until = vl_mono_ms() + WAIT_MS; vl_mono_ms() < until;) {
        job_t probe = { .id = -2 };
        job_t *j = h->n_late < POOL_QUEUE_MAX ? &h->late[h->n_late] : &probe;
        j->id = 1000 + h->n_late;
        int rc = pool_submit(h->pool, j, s_work, s_done);
        if (rc == VL_ERR_STATE) {
            h->saw_stop = true;
            break;
        }
        if (rc == 0)
            h->n_late++;
        sched_yield();
    }
    s_gate_open(h->gate);
    return NULL;
}

static void
test_pool_destroy_with_queued(void)
{
    workers_t w;
    s_workers(&w, SIZE_MAX);
    pool_worker_t pw = { s_init, s_fini, &w };
    pool_t *p = pool_new(1, &pw);
    evloop_t *loop = evloop_new();
    CHECK_EQ(pool_attach(p, loop), 0);
    gate_t g;
    s_gate_init(&g);
    int order[16], n_order = 0;
    job_t busy = { .id = 0, .gate = &g, .order = order, .n_order = &n_order };
    CHECK_EQ(pool_submit(p, &busy, s_work, s_done), 0);
    CHECK(s_gate_wait_started(&g, 1));
    job_t queued[5];
    for (int i = 0; i < 5; i++) {
        queued[i] = (job_t) { .id = 1 + i, .order = order, .n_order = &n_order };
        CHECK_EQ(pool_submit(p, &queued[i], s_work, s_done), 0);
    }
    helper_t h = { .pool = p, .gate = &g, .late = calloc(POOL_QUEUE_MAX, sizeof(job_t)) };
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, s_helper, &h), 0);
    pool_destroy(&p);
    CHECK(p == NULL);
    pthread_join(t, NULL);
    CHECK(h.saw_stop);
    CHECK_EQ(w.finis, 1);      /* joined */
    CHECK_EQ(busy.dones, 1);
    CHECK(busy.ran);
    CHECK(order[0] == 0);      /* finished jobs first, then the queue in order */
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(queued[i].works, 0);
        CHECK_EQ(queued[i].dones, 1);
        CHECK(!queued[i].ran);
        CHECK(queued[i].done_on_main);
        CHECK_EQ(order[1 + i], 1 + i);
    }
    for (int i = 0; i < h.n_late; i++) {
        CHECK_EQ(h.late[i].works, 0);
        CHECK_EQ(h.late[i].dones, 1);
        CHECK(!h.late[i].ran);
    }
    CHECK_EQ(n_order, 6);
    free(h.late);
    evloop_destroy(&loop);
}

int
main(void)
{
    s_main_thread = pthread_self();
    RUN(test_pool_start_stop);
    RUN(test_pool_init_fails);
    RUN(test_pool_work_and_done);
    RUN(test_pool_completion_order);
    RUN(test_pool_collect_and_late_attach);
    RUN(test_pool_queue_limit);
    RUN(test_pool_destroy_with_queued);
    return check_done();
}
