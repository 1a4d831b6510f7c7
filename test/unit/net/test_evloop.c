/*
 * test_evloop.c — the event loop's rules (net/evloop.h): readers, bounded
 * drains re-run without a new signal, a signal consumed by a send and
 * reported with evloop_sent, the sweep as the backstop, timers, and
 * readers/timers ended from inside handlers.
 */
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "error.h"
#include "evloop.h"

typedef struct {
    zsock_t *a, *b;     /* inproc PAIR: b sends, a is registered */
    int calls;
    int stop_after;     /* the reader ends the loop after this many calls */
    int per_call;       /* messages read per call (bounded drain) */
    int64_t first_ms;   /* when the reader first ran */
    bool report_send;   /* the timer reports its consuming read with evloop_sent */
    int other_calls;
    zsock_t *victim;    /* ended by the first reader (test_end_inside) */
} fx_t;

static void
s_pair(fx_t *fx, const char *ep)
{
    char bind[64], connect[64];
    snprintf(bind, sizeof bind, "@%s", ep);
    snprintf(connect, sizeof connect, ">%s", ep);
    fx->a = zsock_new_pair(bind);
    fx->b = zsock_new_pair(connect);
}

static int
s_read(evloop_t *loop, zsock_t *sock, void *arg)
{
    fx_t *fx = arg;
    if (fx->calls++ == 0)
        fx->first_ms = vl_mono_ms();
    for (int i = 0; i < fx->per_call; i++) {
        char *s = zstr_recv_nowait(sock);
        if (!s)
            break;
        zstr_free(&s);
    }
    return fx->calls >= fx->stop_after ? -1 : 0;
}

static int
s_stop(evloop_t *loop, int id, void *arg)
{
    return -1;
}

static void
test_reader_runs(void)
{
    fx_t fx = { .stop_after = 1, .per_call = 1 };
    s_pair(&fx, "inproc://t1");
    evloop_t *loop = evloop_new();
    CHECK_EQ(evloop_reader(loop, fx.a, s_read, &fx), 0);
    CHECK_EQ(evloop_reader(loop, fx.a, s_read, &fx), VL_ERR_INVALID);
    evloop_timer(loop, 5000, 1, s_stop, NULL);   /* a deadline, not a wait */
    zstr_send(fx.b, "hello");
    CHECK_EQ(evloop_run(loop), 0);
    CHECK_EQ(fx.calls, 1);
    CHECK_EQ(evloop_stats(loop)->sweep_found, 0);
    evloop_destroy(&loop);
    CHECK(loop == NULL);
    evloop_destroy(&loop);
    zsock_destroy(&fx.a);
    zsock_destroy(&fx.b);
}

/* Ten messages queued, one read per call: the loop calls the reader again
 * for what is left although the descriptor does not fire again (rule 2). */
static void
test_bounded_drain(void)
{
    fx_t fx = { .stop_after = 10, .per_call = 1 };
    s_pair(&fx, "inproc://t2");
    for (int i = 0; i < 10; i++)
        zstr_send(fx.b, "m");
    evloop_t *loop = evloop_new();
    evloop_reader(loop, fx.a, s_read, &fx);
    evloop_timer(loop, 5000, 1, s_stop, NULL);
    int64_t t0 = vl_mono_ms();
    evloop_run(loop);
    CHECK_EQ(fx.calls, 10);
    CHECK(vl_mono_ms() - t0 < EVLOOP_SWEEP_MS);   /* not rescued by the sweep */
    CHECK_EQ(evloop_stats(loop)->sweep_found, 0);
    evloop_destroy(&loop);
    zsock_destroy(&fx.a);
    zsock_destroy(&fx.b);
}

/* A timer makes a message arrive and then reads ZMQ_EVENTS on the reader's
 * socket, as a send on it would: the descriptor's signal is consumed. */
static int
s_arrive_and_consume(evloop_t *loop, int id, void *arg)
{
    fx_t *fx = arg;
    zstr_send(fx->b, "late");
    (void) zsock_events(fx->a);
    if (fx->report_send)
        evloop_sent(loop, fx->a);
    return 0;
}

static void
s_consumed(bool report, int64_t *delay_ms, uint64_t *sweep_found)
{
    fx_t fx = { .stop_after = 1, .per_call = 1, .report_send = report };
    s_pair(&fx, report ? "inproc://t3" : "inproc://t4");
    evloop_t *loop = evloop_new();
    evloop_reader(loop, fx.a, s_read, &fx);
    evloop_timer(loop, 10, 1, s_arrive_and_consume, &fx);
    evloop_timer(loop, 5000, 1, s_stop, NULL);
    int64_t t0 = vl_mono_ms();
    evloop_run(loop);
    CHECK_EQ(fx.calls, 1);
    *delay_ms = fx.first_ms - t0;
    *sweep_found = evloop_stats(loop)->sweep_found;
    evloop_destroy(&loop);
    zsock_destroy(&fx.a);
    zsock_destroy(&fx.b);
}

static void
test_consumed_signal(void)
{
    int64_t ms;
    uint64_t found;
    s_consumed(true, &ms, &found);      /* rule 3: reported, handled at once */
    CHECK(ms < EVLOOP_SWEEP_MS);
    CHECK_EQ(found, 0);
    s_consumed(false, &ms, &found);     /* rule 4: not reported, the sweep finds it */
    CHECK_EQ(found, 1);
    CHECK(ms <= EVLOOP_SWEEP_MS + 100);  /* at the next sweep (on a 500 ms grid) */
}

typedef struct {
    int fired[4];
    int64_t self_end_at;   /* when the repeating timer fired */
    int added;
} timers_t;

static int
s_count(evloop_t *loop, int id, void *arg)
{
    timers_t *t = arg;
    t->fired[0]++;
    return 0;
}

static int
s_self_end(evloop_t *loop, int id, void *arg)
{
    timers_t *t = arg;
    t->fired[1]++;
    t->self_end_at = vl_mono_ms();
    evloop_timer_end(loop, id);   /* a repeating timer ends itself */
    return 0;
}

static int
s_added(evloop_t *loop, int id, void *arg)
{
    timers_t *t = arg;
    t->fired[2]++;
    return 0;
}

static int
s_adder(evloop_t *loop, int id, void *arg)
{
    timers_t *t = arg;
    t->fired[3]++;
    t->added = evloop_timer(loop, 1, 1, s_added, t);
    return 0;
}

static void
test_timers(void)
{
    timers_t t;
    memset(&t, 0, sizeof t);
    evloop_t *loop = evloop_new();
    int64_t t0 = vl_mono_ms();
    evloop_timer(loop, 10, 3, s_count, &t);      /* three times, then gone */
    evloop_timer(loop, 10, 0, s_self_end, &t);
    evloop_timer(loop, 20, 1, s_adder, &t);
    int never = evloop_timer(loop, 30, 1, s_count, &t);
    evloop_timer_end(loop, never);
    evloop_timer_end(loop, 12345);               /* unknown: no-op */
    evloop_timer(loop, 200, 1, s_stop, NULL);
    evloop_run(loop);
    CHECK(vl_mono_ms() - t0 >= 200);
    CHECK_EQ(t.fired[0], 3);
    CHECK(t.self_end_at >= t0 + 10);   /* on its grid, never before its delay */
    CHECK_EQ(t.fired[1], 1);
    CHECK_EQ(t.fired[3], 1);
    CHECK_EQ(t.fired[2], 1);
    CHECK(t.added >= 0);
    evloop_destroy(&loop);
}

/* The first reader ends (and destroys) the second while both are ready:
 * the second is not called, in this iteration or later. */
static int
s_end_other(evloop_t *loop, zsock_t *sock, void *arg)
{
    fx_t *fx = arg;
    fx->calls++;
    zstr_free(&(char *) { zstr_recv_nowait(sock) });
    evloop_reader_end(loop, fx->victim);
    zsock_destroy(&fx->victim);
    return 0;
}

static int
s_other(evloop_t *loop, zsock_t *sock, void *arg)
{
    fx_t *fx = arg;
    fx->other_calls++;
    return 0;
}

static void
test_end_inside(void)
{
    fx_t fx = { 0 };
    s_pair(&fx, "inproc://t5");
    zsock_t *c = zsock_new_pair("@inproc://t6"), *d = zsock_new_pair(">inproc://t6");
    fx.victim = c;
    evloop_t *loop = evloop_new();
    evloop_reader(loop, fx.a, s_end_other, &fx);
    evloop_reader(loop, c, s_other, &fx);
    zstr_send(fx.b, "x");
    zstr_send(d, "y");
    evloop_timer(loop, 50, 1, s_stop, NULL);
    evloop_run(loop);
    CHECK_EQ(fx.calls, 1);
    CHECK_EQ(fx.other_calls, 0);
    CHECK(fx.victim == NULL);
    evloop_reader_end(loop, fx.a);
    evloop_destroy(&loop);
    zsock_destroy(&fx.a);
    zsock_destroy(&fx.b);
    zsock_destroy(&d);
}

static int
s_on_pipe(evloop_t *loop, int fd, void *arg)
{
    char c;
    *(int *) arg += (int) read(fd, &c, 1);
    return -1;
}

static void
test_fd(void)
{
    int p[2];
    CHECK_EQ(pipe(p), 0);
    int got = 0;
    evloop_t *loop = evloop_new();
    CHECK_EQ(evloop_fd(loop, p[0], s_on_pipe, &got), 0);
    CHECK_EQ(evloop_fd(loop, p[0], s_on_pipe, &got), VL_ERR_INVALID);
    evloop_timer(loop, 5000, 1, s_stop, NULL);
    CHECK_EQ(write(p[1], "x", 1), 1);
    evloop_run(loop);
    CHECK_EQ(got, 1);
    evloop_fd_end(loop, p[0]);
    evloop_destroy(&loop);
    close(p[0]);
    close(p[1]);
}

/* --- The time seam (evloop_set_clock) ------------------------------------ */

typedef struct {
    int64_t now;             /* the fake clock */
    int advances;            /* times the advancer ran */
    int64_t step;            /* how far the advancer moves the clock */
    int64_t fired_at;        /* evloop_now when the watched timer fired */
    int fired;
    int64_t early_fired;     /* the later timer: must not fire */
} fake_t;

static int64_t
s_fake_clock(void *arg)
{
    return ((fake_t *) arg)->now;
}

static int
s_advance(evloop_t *loop, int id, void *arg)
{
    fake_t *f = arg;
    f->now += f->step;
    f->advances++;
    return f->advances > 1000 ? -1 : 0;   /* a bound if the watched timer never fires */
}

static int
s_watched(evloop_t *loop, int id, void *arg)
{
    fake_t *f = arg;
    f->fired++;
    f->fired_at = evloop_now(loop);
    return -1;
}

static int
s_too_late(evloop_t *loop, int id, void *arg)
{
    ((fake_t *) arg)->early_fired++;
    return 0;
}

/* A timer fires when the fake clock passes its time, not before and not by
 * the real clock: the clock only moves when the advancer (a timer of delay
 * 0, so the loop never sleeps) moves it, 100 fake ms a pass. */
static void
test_fake_clock(void)
{
    fake_t f = { .now = 5000000, .step = 100 };
    evloop_t *loop = evloop_new();
    int64_t real0 = vl_mono_ms();
    evloop_set_clock(loop, s_fake_clock, &f);
    CHECK_EQ(evloop_now(loop), 5000000);
    /* The watched timer first, so in the pass that reaches its time it runs
     * before the advancer moves the clock on. */
    evloop_timer(loop, 1000, 1, s_watched, &f);
    int late = evloop_timer(loop, 1000 + 100, 1, s_too_late, &f);
    int adv = evloop_timer(loop, 0, 0, s_advance, &f);
    CHECK_EQ(evloop_run(loop), 0);
    CHECK_EQ(f.fired, 1);
    CHECK_EQ(f.fired_at, 5000000 + 1000);
    CHECK_EQ(f.advances, 10);            /* exactly the passes to get there */
    CHECK_EQ(f.early_fired, 0);
    CHECK(vl_mono_ms() - real0 < 1000);  /* no real second went by */
    evloop_timer_end(loop, late);
    evloop_timer_end(loop, adv);

    /* A jump: one step far past both; the next pass fires both. */
    fake_t g = { .now = 0, .step = 1000000 };
    evloop_set_clock(loop, s_fake_clock, &g);
    evloop_timer(loop, 500000, 1, s_too_late, &g);
    evloop_timer(loop, 0, 1, s_advance, &g);
    evloop_timer(loop, 600000, 1, s_watched, &g);
    CHECK_EQ(evloop_run(loop), 0);
    CHECK_EQ(g.advances, 1);
    CHECK_EQ(g.early_fired, 1);
    CHECK_EQ(g.fired_at, 1000000);

    /* NULL restores the monotonic clock. */
    evloop_set_clock(loop, NULL, &g);
    int64_t before = vl_mono_ms();
    int64_t now = evloop_now(loop);
    int64_t after = vl_mono_ms();
    CHECK(now >= before && now <= after);
    evloop_destroy(&loop);
}

int
main(void)
{
    zsys_init();
    zsys_set_linger(0);
    RUN(test_reader_runs);
    RUN(test_bounded_drain);
    RUN(test_consumed_signal);
    RUN(test_timers);
    RUN(test_end_inside);
    RUN(test_fd);
    RUN(test_fake_clock);
    return check_done();
}
