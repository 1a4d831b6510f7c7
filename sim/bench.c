/*
 * bench.c — `vledger-sim bench`: the maximum sustained rate of committed
 * ownership-guarded transfers (the load scenario: wallet transfers whose
 * payer's organisation must endorse, ordered by the validators), then the
 * latency at half of that rate, on one network. Each phase runs the load
 * scenario's workers for --duration seconds: first as fast as answers come
 * (closed loop, --clients in flight), then paced to half the peak. The last
 * line is INTERFACE.md's RESULT line, comparable with
 * ../shared/baselines/etcd_ownership.sh run in the same session.
 */
#include "run.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "record.h"
#include "scenario.h"
#include "up.h"

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
    const char *vledgerd_opt = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
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
                            "[--clients K (1-%d)] [--vledgerd PATH]\n", a, v ? v : "",
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
    printf("RESULT tps=%.0f p50_ms=%.1f p99_ms=%.1f half_load_tps=%.0f half_load_p99_ms=%.1f\n",
           tps, p50, p99, half_tps, h99);
    rc = tps > 0 ? 0 : 1;
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
