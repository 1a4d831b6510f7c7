/*
 * bench.c — `vledger-sim bench`: the maximum sustained rate of committed
 * ownership-guarded transfers (the load scenario: wallet transfers whose
 * payer's organisation must endorse, ordered by the validators), then the
 * latency at half of that rate, on one network. Each phase runs the load
 * scenario's workers for --duration seconds: first as fast as answers come
 * (closed loop, --clients in flight), then paced to half the peak. The last
 * line is INTERFACE.md's RESULT line, comparable with
 * ../shared/baselines/etcd_ownership.sh run in the same session.
 *
 * With --kill a third phase runs the half load again and kill -9s a
 * validator while it runs: the time from the kill to the next commit any
 * survivor publishes, and how long the height the dead validator was to
 * propose took (its round 0 can only end by the propose timeout).
 */
#include "run.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "record.h"
#include "sampler.h"
#include "scenario.h"
#include "up.h"

#define KILL_COMMITS_MAX 512     /* heights the kill phase watches */
#define KILL_PHASE_MIN_S 6       /* room for the dead validator's turn and its timeout */
#define KILL_WAIT_MS 5000        /* a transfer's wait in the kill phase: those the killed
                                  * node had in flight end as unknown after it */

typedef struct {
    sim_scn_t *scn;
    const sim_scenario_t *ops;
    int worker;
    int64_t end_ms;
} bench_worker_t;

static void *
s_work(void *arg)
{
    bench_worker_t *w = arg;
    w->ops->work(w->scn, w->worker, w->end_ms);
    return NULL;
}

/* One phase: the workers for duration_s at rate (0: closed loop); the
 * recorder is fresh for it. Returns committed/s. */
static double
s_phase(sim_scn_t *scn, const sim_scenario_t *ops, int duration_s, double rate, sim_rec_t *rec)
{
    int64_t t0 = vl_wall_ms();
    sim_rec_init(rec, t0);
    scn->rec = rec;
    scn->rate = rate;
    pthread_t th[SIM_WORKERS_MAX];
    bench_worker_t w[SIM_WORKERS_MAX];
    int n = 0;
    for (int i = 0; i < scn->workers; i++) {
        w[i] = (bench_worker_t) { scn, ops, i, t0 + (int64_t) duration_s * 1000 };
        if (pthread_create(&th[i], NULL, s_work, &w[i]) != 0)
            break;
        n++;
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    double secs = (double) (vl_wall_ms() - t0) / 1000.0;
    return secs > 0 ? (double) rec->count[SIM_OUT_COMMITTED] / secs : 0;
}

typedef struct {
    sim_scn_t *scn;
    const sim_scenario_t *ops;
    int duration_s;
    double rate;
    sim_rec_t *rec;
    double tps;                  /* out */
} bench_phase_t;

static void *
s_phase_thread(void *arg)
{
    bench_phase_t *p = arg;
    p->tps = s_phase(p->scn, p->ops, p->duration_s, p->rate, p->rec);
    return NULL;
}

/* A rise of the survivors' top height, and when the sampler saw it. */
typedef struct {
    int height;
    int64_t at_ms;               /* vl_mono_ms */
} bench_commit_t;

/* The highest height a node other than `skip` published lately. */
static int
s_top(const sim_net_t *net, sim_sampler_t *sampler, int skip)
{
    int h[SIM_NODES_MAX];
    sim_sampler_heights(sampler, h, 2000);
    int top = -1;
    for (int i = 0; i < net->n; i++)
        if (i != skip && h[i] > top)
            top = h[i];
    return top;
}

/* Records each rise of the top height (read every millisecond: the sampler
 * is fed by the nodes' block events) until it reaches `until` or
 * deadline_ms; returns how many were recorded. */
static int
s_watch(const sim_net_t *net, sim_sampler_t *sampler, int skip, int until, int64_t deadline_ms,
        bench_commit_t *out, int max)
{
    int n = 0, last = s_top(net, sampler, skip);
    const struct timespec tick = { 0, 1000000 };
    while (n < max && last < until && vl_mono_ms() < deadline_ms) {
        nanosleep(&tick, NULL);
        int top = s_top(net, sampler, skip);
        if (top > last) {
            out[n++] = (bench_commit_t) { top, vl_mono_ms() };
            last = top;
        }
    }
    return n;
}

static int
s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

/* The validator (not node 0, whose status the bench reads) that proposes
 * round 0 of the nearest height at least 2 above the one node 0 decides,
 * so that the kill lands before its turn; -1 if none. *turn: that height. */
static int
s_victim(sim_net_t *net, long long *turn)
{
    json_t *st = sim_net_rpc(net, 0, "status", NULL);
    json_t *cons = json_object_get(st, "consensus");
    json_t *vals = json_object_get(cons, "validators");
    long long h = json_integer_value(json_object_get(cons, "height"));
    size_t n = json_array_size(vals);
    int victim = -1;
    for (size_t k = 2; victim < 0 && n > 0 && k < 2 + n; k++) {
        const char *did = json_string_value(
            json_object_get(json_array_get(vals, (size_t) (h + (long long) k) % n), "did"));
        for (int i = 1; did && i < net->n; i++)
            if (!strcmp(net->node[i].did, did) && sim_node_up(net, i)) {
                victim = i;
                *turn = h + (long long) k;
            }
    }
    json_decref(st);
    return victim;
}

/* The kill phase: the half load for duration_s (at least KILL_PHASE_MIN_S);
 * a quarter in, kill -9 of a validator; prints what the survivors'
 * commits did. Returns 0, or 1 when nothing could be measured. */
static int
s_kill_phase(sim_scn_t *scn, const sim_scenario_t *ops, int duration_s, double rate)
{
    sim_net_t *net = scn->net;
    vl_err_t err = { "" };
    sim_sampler_t *sampler = sim_sampler_start(net, &err);
    sim_rec_t *rec = malloc(sizeof *rec);   /* s_phase initialises it */
    bench_commit_t *before = malloc(KILL_COMMITS_MAX * sizeof *before),
                   *after = malloc(KILL_COMMITS_MAX * sizeof *after);
    int64_t *gaps = malloc(KILL_COMMITS_MAX * sizeof *gaps);
    if (!sampler || !rec || !before || !after || !gaps) {
        fprintf(stderr, "vledger-sim: kill phase: %s\n", sampler ? "out of memory" : err.msg);
        sim_sampler_stop(&sampler);
        free(rec), free(before), free(after), free(gaps);
        return 1;
    }
    if (duration_s < KILL_PHASE_MIN_S)
        duration_s = KILL_PHASE_MIN_S;
    bench_phase_t ph = { scn, ops, duration_s, rate, rec, 0 };
    int wait_ms = scn->timeout_ms;
    scn->timeout_ms = KILL_WAIT_MS;
    pthread_t load;
    if (pthread_create(&load, NULL, s_phase_thread, &ph) != 0) {
        scn->timeout_ms = wait_ms;
        fprintf(stderr, "vledger-sim: kill phase: cannot start the load\n");
        sim_sampler_stop(&sampler);
        free(rec), free(before), free(after), free(gaps);
        return 1;
    }
    int64_t t0 = vl_mono_ms(), end = t0 + (int64_t) duration_s * 1000;
    const struct timespec tick = { 0, 1000000 };
    while (s_top(net, sampler, -1) < 0 && vl_mono_ms() < t0 + 5000)   /* its subscriptions */
        nanosleep(&tick, NULL);
    int n_before = s_watch(net, sampler, -1, INT32_MAX, t0 + (int64_t) duration_s * 250, before,
                           KILL_COMMITS_MAX);
    long long turn = 0;
    int victim = s_victim(net, &turn);
    int top = s_top(net, sampler, victim);
    int64_t killed_at = vl_mono_ms();
    int n_vals = net->validators;
    int n_after = 0;
    if (victim >= 0 && sim_node_kill(net, victim, &err) == 0)
        n_after = s_watch(net, sampler, victim, (int) turn + n_vals, end, after, KILL_COMMITS_MAX);
    else
        fprintf(stderr, "vledger-sim: kill phase: no validator to kill%s%s\n",
                err.msg[0] ? ": " : "", err.msg);
    pthread_join(load, NULL);
    scn->timeout_ms = wait_ms;
    int rc = 1, n_gaps = 0;
    for (int i = 1; i < n_before; i++)
        gaps[n_gaps++] = before[i].at_ms - before[i - 1].at_ms;
    qsort(gaps, (size_t) n_gaps, sizeof *gaps, s_cmp_i64);
    printf("kill phase: offered %.0f/s for %d s: committed %llu, invalid %llu, refused %llu, "
           "unknown %llu; before the kill a commit every %lld ms (median of %d)\n", rate,
           duration_s, (unsigned long long) rec->count[SIM_OUT_COMMITTED],
           (unsigned long long) rec->count[SIM_OUT_INVALID],
           (unsigned long long) rec->count[SIM_OUT_REFUSED],
           (unsigned long long) rec->count[SIM_OUT_UNKNOWN],
           n_gaps ? (long long) gaps[n_gaps / 2] : -1LL, n_gaps);
    if (victim >= 0 && n_after > 0) {
        /* The dead validator's turn: the first rise to `turn` or past it. */
        int64_t turn_ms = -1, longest = 0;
        int longest_h = 0;
        for (int i = 0; i < n_after; i++) {
            int64_t gap = after[i].at_ms - (i ? after[i - 1].at_ms : killed_at);
            if (gap > longest)
                longest = gap, longest_h = after[i].height;
            if (turn_ms < 0 && after[i].height >= turn)
                turn_ms = gap;
        }
        printf("kill: node%d (validator, proposer of height %lld) killed at height %d; next commit "
               "after %lld ms; height %lld took %lld ms; longest gap %lld ms (to height %d) over "
               "%d commits\n", victim, turn, top, (long long) (after[0].at_ms - killed_at), turn,
               (long long) turn_ms, (long long) longest, longest_h, n_after);
        rc = 0;
    } else if (victim >= 0) {
        printf("kill: node%d killed at height %d; no commit followed within the phase\n", victim,
               top);
    }
    sim_sampler_stop(&sampler);
    sim_rec_free(rec);
    free(rec), free(before), free(after), free(gaps);
    return rc;
}

/* Node 0's height and timeouts fired, from status; false when it does not
 * answer. */
static bool
s_height(sim_net_t *net, long long *height, long long *timeouts)
{
    client_t *c = NULL;
    json_t *st = NULL;
    vl_err_t err = { "" };
    if (sim_net_client(net, 0, &c, 5000))
        client_call(c, "status", NULL, &st, &err);
    client_destroy(&c);
    *height = json_integer_value(json_object_get(st, "height"));
    *timeouts = json_integer_value(
        json_object_get(json_object_get(st, "consensus"), "timeouts_fired"));
    bool ok = st != NULL;
    json_decref(st);
    return ok;
}

/* How the phase's transfers were batched: blocks cut and txs per block. */
static void
s_print_blocks(const char *phase, const sim_rec_t *rec, long long h0, long long h1,
               long long t0, long long t1)
{
    long long blocks = h1 - h0;
    printf("%s: %lld blocks, %.1f committed transfers per block, %lld timeouts fired\n", phase,
           blocks, blocks > 0 ? (double) rec->count[SIM_OUT_COMMITTED] / (double) blocks : 0.0,
           t1 - t0);
}

int
sim_bench(int argc, char **argv)
{
    int nodes = 5, validators = 4, duration = 20, clients = 64;
    bool kill = false;
    const char *vledgerd_opt = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--kill")) {
            kill = true;
            continue;
        }
        char *end = NULL;
        long n = v ? strtol(v, &end, 10) : 0;
        bool num = v && *v && !*end;
        i++;
        if (!strcmp(a, "--nodes") && num && n >= 5 && n <= SIM_NODES_MAX) nodes = (int) n;
        else if (!strcmp(a, "--validators") && num && n >= 1 && n <= SIM_NODES_MAX) validators = (int) n;
        else if (!strcmp(a, "--duration") && num && n >= 2 && n <= 3600) duration = (int) n;
        else if (!strcmp(a, "--clients") && num && n >= 1 && n <= SIM_WORKERS_MAX) clients = (int) n;
        else if (!strcmp(a, "--vledgerd") && v) vledgerd_opt = v;
        else {
            fprintf(stderr, "vledger-sim: bad bench option '%s %s'\nusage: vledger-sim bench "
                            "[--nodes N (5-%d)] [--validators V] [--duration SECONDS (2-3600)] "
                            "[--clients K (1-%d)] [--kill] [--vledgerd PATH]\n", a, v ? v : "",
                    SIM_NODES_MAX, SIM_WORKERS_MAX);
            return 2;
        }
    }
    if (validators > nodes) {
        fprintf(stderr, "vledger-sim: --validators %d is more than --nodes %d\n", validators, nodes);
        return 2;
    }
    const sim_scenario_t *ops = sim_scenario_find("load");
    char self[SIM_PATH_MAX], vledgerd[SIM_PATH_MAX], dir[SIM_PATH_MAX];
    vl_err_t err = { "" };
    if (!ops || sim_paths(vledgerd_opt, self, vledgerd, dir, &err) != 0) {
        fprintf(stderr, "vledger-sim: %s\n", ops ? err.msg : "no load scenario");
        return 1;
    }
    sim_net_t *net = malloc(sizeof *net);
    sim_rec_t *setup_rec = malloc(sizeof *setup_rec), *peak = malloc(sizeof *peak),
              *half = malloc(sizeof *half);
    if (!net || !setup_rec || !peak || !half || sim_rec_init(setup_rec, vl_wall_ms()) != 0) {
        fprintf(stderr, "vledger-sim: out of memory\n");
        return 1;
    }
    sim_scn_t scn = { .net = net, .rec = setup_rec, .seed = 1, .workers = clients,
                      .timeout_ms = 20000, .vins = json_array(), .dids = json_array() };
    pthread_mutex_init(&scn.lock, NULL);
    sim_up_t up = { self, vledgerd, dir, nodes, validators, false, false };
    printf("vledger-sim bench: %d nodes (%d validators), %d clients, %d s per phase; network in "
           "%s\n", nodes, validators, clients, duration, dir);
    fflush(stdout);
    int rc = 1;
    if (sim_up(net, &up, ops, &scn, &err) != 0) {
        fprintf(stderr, "vledger-sim: %s\n", err.msg);
        goto out;
    }
    long long h0 = 0, h1 = 0, h2 = 0, t0 = 0, t1 = 0, t2 = 0;
    bool heights = s_height(net, &h0, &t0);
    double tps = s_phase(&scn, ops, duration, 0, peak);
    heights = heights && s_height(net, &h1, &t1);
    double p50 = sim_rec_percentile(peak, 50), p99 = sim_rec_percentile(peak, 99);
    printf("peak: %.0f committed transfers/s with %d in flight (p50 %.0f ms, p99 %.0f ms; "
           "invalid %llu, refused %llu, unknown %llu)\n", tps, clients, p50, p99,
           (unsigned long long) peak->count[SIM_OUT_INVALID],
           (unsigned long long) peak->count[SIM_OUT_REFUSED],
           (unsigned long long) peak->count[SIM_OUT_UNKNOWN]);
    if (heights)
        s_print_blocks("peak", peak, h0, h1, t0, t1);
    fflush(stdout);
    double half_tps = tps > 0 ? s_phase(&scn, ops, duration, tps / 2, half) : 0;
    heights = heights && tps > 0 && s_height(net, &h2, &t2);
    double h99 = tps > 0 ? sim_rec_percentile(half, 99) : 0;
    if (tps > 0)
        printf("half load: offered %.0f/s, committed %.0f/s (p50 %.0f ms, p99 %.0f ms)\n",
               tps / 2, half_tps, sim_rec_percentile(half, 50), h99);
    if (heights)
        s_print_blocks("half load", half, h1, h2, t1, t2);
    bool killed_ok = !kill || (tps > 0 && s_kill_phase(&scn, ops, duration, tps / 2) == 0);
    printf("RESULT tps=%.0f p50_ms=%.1f p99_ms=%.1f half_load_tps=%.0f half_load_p99_ms=%.1f\n",
           tps, p50, p99, half_tps, h99);
    rc = tps > 0 && killed_ok ? 0 : 1;
    if (tps > 0)
        sim_rec_free(half);
    sim_rec_free(peak);
out:
    sim_net_stop_all(net);
    if (ops->destroy)
        ops->destroy(&scn);
    json_decref(scn.vins);
    json_decref(scn.dids);
    sim_rec_free(setup_rec);
    free(setup_rec);
    free(peak);
    free(half);
    free(net);
    if (rc == 0) {
        char cmd[SIM_PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "vledger-sim: could not remove %s\n", dir);
    }
    return rc;
}
