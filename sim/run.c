/*
 * run.c — `vledger-sim run`: a network of real vledgerd processes on this
 * host, a scenario driving it through the nodes' API, faults on a schedule
 * drawn from --seed, and at the end the invariant checks and the report
 * (DESIGN §8, INTERFACE.md "Simulator").
 *
 * The steps: net create (the operators' configuration: the five
 * organisations of the sale — agency, seller, buyer, lender = bank,
 * insurer — then followers of their own organisations), the scenario's
 * prepare, every node started (with --test-faults, so the gossip fault
 * hooks can be set through the API), the scenario's setup, then the load
 * phase: scenario workers on their threads while this thread applies the
 * fault schedule, makes followers join and leave (churn), samples heights,
 * memory and CPU, and prints a progress line each second. Then every
 * fault is healed, the scenario finishes its flows in progress, the
 * invariants are checked on every live replica, and the report written.
 * Exit 0 only when every invariant held.
 */
#include "run.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "faultplan.h"
#include "invariants.h"
#include "report.h"
#include "sampler.h"
#include "scenario.h"
#include "up.h"

#define RUN_START_MS SIM_START_MS
#define RUN_FINISH_MS 60000         /* flows in progress after the load phase */
#define RUN_CONVERGE_MS 60000       /* replicas reaching one tip */
#define RUN_TICK_MS 100
#define RUN_STALE_MS 2500          /* no heartbeat for this long: not answering */

typedef struct {
    int nodes, validators, duration_s, workers;
    double rate;
    uint64_t seed;
    const char *scenario, *faults, *report, *vledgerd;
    bool keep, plan_only;
} run_opts_t;

typedef struct {
    sim_scn_t *scn;
    const sim_scenario_t *ops;
    int worker;
    int64_t end_ms;
    pthread_t thread;
} run_worker_t;

static const char *s_usage =
    "usage: vledger-sim run --nodes N [--validators V] --scenario sale|market|load|churn\n"
    "                       [--duration SECONDS] [--rate TX_PER_S] [--workers W]\n"
    "                       [--faults kill,pause,partition,delay,byzantine] [--seed S]\n"
    "                       [--report DIR] [--vledgerd PATH] [--keep] [--plan]\n"
    "  --plan  print the faults the seed plans for this network (JSON) and exit\n";

static void
s_nap(int ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void *
s_worker(void *arg)
{
    run_worker_t *w = arg;
    w->ops->work(w->scn, w->worker, w->end_ms);
    return NULL;
}

/* --- faults ------------------------------------------------------------- */

typedef struct {
    sim_fault_t f;
    bool started, ended;
    int64_t started_at, ended_at;   /* actual offsets */
    char note[160];
} run_fault_t;

static void
s_fault_start(sim_net_t *net, run_fault_t *rf, uint64_t seed, json_t *byzantine_dids)
{
    sim_fault_t *f = &rf->f;
    vl_err_t err = { "" };
    int rc = 0;
    switch (f->kind) {
    case SIM_FAULT_KILL:
        rc = sim_node_kill(net, f->node, &err);
        snprintf(rf->note, sizeof rf->note, "kill -9 node%d", f->node);
        break;
    case SIM_FAULT_PAUSE:
        rc = sim_node_pause(net, f->node, &err);
        snprintf(rf->note, sizeof rf->note, "SIGSTOP node%d", f->node);
        break;
    case SIM_FAULT_PARTITION: {
        json_t *set = json_array();
        size_t len = (size_t) snprintf(rf->note, sizeof rf->note, "partition {");
        for (int s = 0; s < f->n_set; s++) {
            json_array_append_new(set, json_string(net->node[f->set[s]].did));
            if (len < sizeof rf->note)
                len += (size_t) snprintf(rf->note + len, sizeof rf->note - len, "%snode%d",
                                         s ? " " : "", f->set[s]);
        }
        if (len < sizeof rf->note)
            snprintf(rf->note + len, sizeof rf->note - len, "} | rest");
        /* On the set's own nodes only: a node holding the partition cuts
         * both directions of its links (gossip/faults.h), and the set is
         * the smaller side. */
        json_t *p = json_pack("{s:I, s:o}", "seed", (json_int_t) (seed & 0x7fffffff), "partition",
                              set);
        for (int s = 0; s < f->n_set; s++)
            if (sim_node_up(net, f->set[s]))
                json_decref(sim_net_rpc(net, f->set[s], "test.faults", json_incref(p)));
        json_decref(p);
        break;
    }
    case SIM_FAULT_DELAY: {
        json_t *p = json_pack("{s:I, s:I, s:I, s:i, s:i}", "seed", (json_int_t) (seed & 0x7fffffff),
                              "drop_ppm", (json_int_t) f->drop_ppm, "delay_ppm",
                              (json_int_t) f->delay_ppm, "delay_ms", f->delay_ms,
                              "delay_jitter_ms", f->jitter_ms);
        for (int s = 0; s < f->n_set; s++)
            if (sim_node_up(net, f->set[s]))
                json_decref(sim_net_rpc(net, f->set[s], "test.faults", json_incref(p)));
        json_decref(p);
        snprintf(rf->note, sizeof rf->note, "delay %d+%d ms on %.1f%%, drop %.1f%%, on %d nodes",
                 f->delay_ms, f->jitter_ms, f->delay_ppm / 1e4, f->drop_ppm / 1e4, f->n_set);
        break;
    }
    case SIM_FAULT_BYZANTINE: {
        const char *mode = sim_byz_mode_name(f->byz);
        char flag[40];
        const char *flags[3] = { NULL };
        if (f->byz == SIM_BYZ_LIE_ENDORSE) {
            flags[0] = "--test-lie-endorse";
        } else {
            flags[0] = "--test-byzantine";
            snprintf(flag, sizeof flag, "%s", mode);
            flags[1] = flag;
            json_array_append_new(byzantine_dids, json_string(net->node[f->node].did));
        }
        rc = sim_node_stop(net, f->node, 10000, &err);
        if (rc == 0)
            rc = sim_node_spawn(net, f->node, flags, &err);
        snprintf(rf->note, sizeof rf->note, "node%d byzantine: %s", f->node, mode);
        break;
    }
    default:
        break;
    }
    if (rc != 0)
        snprintf(rf->note + strlen(rf->note), sizeof rf->note - strlen(rf->note),
                 " (not applied: %s)", err.msg);
}

static void
s_fault_end(sim_net_t *net, run_fault_t *rf)
{
    sim_fault_t *f = &rf->f;
    vl_err_t err = { "" };
    int rc = 0;
    switch (f->kind) {
    case SIM_FAULT_KILL:
        rc = sim_node_spawn(net, f->node, NULL, &err);
        break;
    case SIM_FAULT_PAUSE:
        rc = sim_node_resume(net, f->node, &err);
        break;
    case SIM_FAULT_PARTITION:
    case SIM_FAULT_DELAY:
        for (int s = 0; s < f->n_set; s++)
            if (sim_node_up(net, f->set[s]))
                json_decref(sim_net_rpc(net, f->set[s], "test.faults", json_object()));
        break;
    case SIM_FAULT_BYZANTINE:
        rc = sim_node_stop(net, f->node, 10000, &err);
        if (rc == 0)
            rc = sim_node_spawn(net, f->node, NULL, &err);
        break;
    default:
        break;
    }
    if (rc != 0)
        fprintf(stderr, "vledger-sim: ending fault '%s': %s\n", rf->note, err.msg);
}

static json_t *
s_faults_json(const run_fault_t *rf, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        if (!rf[i].started)
            continue;
        const sim_fault_t *f = &rf[i].f;
        json_t *nodes = json_array();
        if (f->node >= 0)
            json_array_append_new(nodes, json_integer(f->node));
        for (int s = 0; s < f->n_set; s++)
            json_array_append_new(nodes, json_integer(f->set[s]));
        json_t *x = json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:o, s:s}", "kind",
                              sim_fault_kind_name(f->kind), "lane", f->lane, "planned_start_ms",
                              (json_int_t) f->start_ms, "planned_end_ms", (json_int_t) f->end_ms,
                              "start_ms", (json_int_t) rf[i].started_at, "end_ms",
                              (json_int_t) rf[i].ended_at, "nodes", nodes, "what", rf[i].note);
        if (f->kind == SIM_FAULT_BYZANTINE)
            json_object_set_new(x, "mode", json_string(sim_byz_mode_name(f->byz)));
        json_array_append_new(a, x);
    }
    return a;
}

/* --- churn: followers leave (SIGTERM) and join (first start, or again) --- */

typedef struct {
    int64_t next_ms;
    uint64_t rng;
    int joins, leaves;
} run_churn_t;

static void
s_churn_tick(sim_net_t *net, run_churn_t *c, int64_t now, int64_t end, bool *in_fault)
{
    if (now < c->next_ms || now > end * 4 / 5)
        return;
    c->next_ms = now + 1000 + (int64_t) (sim_rand(&c->rng) % 2000);
    int up = 0, down = 0;
    for (int i = 5; i < net->n; i++)
        if (!net->node[i].validator && !in_fault[i])
            up += net->node[i].state == SIM_NODE_UP, down += net->node[i].state == SIM_NODE_DOWN;
    bool join = down > 0 && (up == 0 || sim_rand(&c->rng) % 2 == 0);
    int pick = (int) (sim_rand(&c->rng) % (uint64_t) (join ? down : (up ? up : 1)));
    for (int i = 5; i < net->n; i++) {
        if (net->node[i].validator || in_fault[i])
            continue;
        sim_node_state_t st = net->node[i].state;
        if ((join && st == SIM_NODE_DOWN) || (!join && st == SIM_NODE_UP)) {
            if (pick-- > 0)
                continue;
            vl_err_t err = { "" };
            int rc = join ? sim_node_spawn(net, i, NULL, &err)
                          : sim_node_stop(net, i, 10000, &err);
            if (rc != 0)
                fprintf(stderr, "vledger-sim: churn node%d: %s\n", i, err.msg);
            else
                join ? c->joins++ : c->leaves++;
            return;
        }
    }
}

/* --- the run --------------------------------------------------------------- */

/* Committed per second over the load phase's own seconds. */
static double
s_window_tps(const sim_rec_t *rec, int duration_s)
{
    uint64_t n = 0;
    for (int s = 0; s < duration_s && s < SIM_REC_SECONDS_MAX; s++)
        n += rec->per_second[s];
    return duration_s > 0 ? (double) n / duration_s : 0;
}

static int
s_parse(int argc, char **argv, run_opts_t *o)
{
    *o = (run_opts_t) { .nodes = 0, .validators = 4, .duration_s = 30, .seed = 1,
                        .scenario = NULL, .faults = "", .workers = 0 };
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--keep") || !strcmp(a, "--plan")) {
            *(!strcmp(a, "--keep") ? &o->keep : &o->plan_only) = true;
            continue;
        }
        if (!v) {
            fprintf(stderr, "vledger-sim: option '%s' needs a value\n%s", a, s_usage);
            return 2;
        }
        i++;
        char *end = NULL;
        long n = strtol(v, &end, 10);
        bool num = *v && !*end;
        if (!strcmp(a, "--nodes") && num && n >= 5 && n <= SIM_NODES_MAX) o->nodes = (int) n;
        else if (!strcmp(a, "--validators") && num && n >= 1 && n <= SIM_NODES_MAX) o->validators = (int) n;
        else if (!strcmp(a, "--duration") && num && n >= 1 && n <= 3600) o->duration_s = (int) n;
        else if (!strcmp(a, "--workers") && num && n >= 1 && n <= SIM_WORKERS_MAX) o->workers = (int) n;
        else if (!strcmp(a, "--seed") && num && n >= 0) o->seed = (uint64_t) n;
        else if (!strcmp(a, "--rate")) {
            double r = strtod(v, &end);
            if (*end || r < 0 || r > 1e6) {
                fprintf(stderr, "vledger-sim: --rate must be a number of tx/s, not '%s'\n", v);
                return 2;
            }
            o->rate = r;
        }
        else if (!strcmp(a, "--scenario")) o->scenario = v;
        else if (!strcmp(a, "--faults")) o->faults = v;
        else if (!strcmp(a, "--report")) o->report = v;
        else if (!strcmp(a, "--vledgerd")) o->vledgerd = v;
        else {
            fprintf(stderr, "vledger-sim: bad option or value: %s %s (--nodes 5-%d: at least 5, the sale's five organisations; --validators "
                            "1-N, --duration 1-3600 s, --workers 1-%d)\n%s", a, v, SIM_NODES_MAX,
                    SIM_WORKERS_MAX, s_usage);
            return 2;
        }
    }
    if (!o->nodes || !o->scenario) {
        fprintf(stderr, "vledger-sim: run needs --nodes (at least 5: the sale's five "
                        "organisations) and --scenario\n%s", s_usage);
        return 2;
    }
    if (o->validators > o->nodes) {
        fprintf(stderr, "vledger-sim: --validators %d is more than --nodes %d\n", o->validators,
                o->nodes);
        return 2;
    }
    return 0;
}

/* Heights (as the nodes publish them) and /proc usage, one sample. */
static void
s_sample(sim_net_t *net, sim_sampler_t *sampler, sim_report_in_t *in, sim_usage_t *usage,
         int64_t t, int *lo, int *hi, int *up)
{
    *lo = -1;
    *hi = -1;
    *up = 0;
    int *h = calloc((size_t) net->n, sizeof *h);
    if (!h)
        return;
    sim_sampler_heights(sampler, h, RUN_STALE_MS);
    for (int i = 0; i < net->n; i++) {
        pthread_mutex_lock(&net->lock);
        pid_t pid = net->node[i].pid;
        pthread_mutex_unlock(&net->lock);
        sim_usage_sample(&usage[i], pid);
        if (h[i] < 0 || !sim_node_up(net, i)) {
            h[i] = -1;
            continue;
        }
        (*up)++;
        if (*lo < 0 || h[i] < *lo)
            *lo = h[i];
        if (h[i] > *hi)
            *hi = h[i];
    }
    if (in->n_samples < SIM_SAMPLES_MAX)
        in->samples[in->n_samples++] = (sim_sample_t) { t, h };
    else
        free(h);
}

int
sim_run(int argc, char **argv)
{
    run_opts_t o;
    int rc = s_parse(argc, argv, &o);
    if (rc != 0)
        return rc;
    const sim_scenario_t *ops = sim_scenario_find(o.scenario);
    if (!ops) {
        fprintf(stderr, "vledger-sim: unknown scenario '%s' (sale, market, load, churn)\n",
                o.scenario);
        return 2;
    }
    vl_err_t err = { "" };
    unsigned kinds = 0;
    if (sim_fault_kinds_parse(o.faults, &kinds, &err) != 0) {
        fprintf(stderr, "vledger-sim: --faults: %s\n", err.msg);
        return 2;
    }
    if (!o.workers)
        o.workers = !strcmp(o.scenario, "sale") ? 1 : (!strcmp(o.scenario, "market") ? 16 : 32);
    char vledgerd[SIM_PATH_MAX], self[SIM_PATH_MAX], dir[SIM_PATH_MAX], report[SIM_PATH_MAX];
    if (sim_paths(o.vledgerd, self, vledgerd, dir, &err) != 0) {
        fprintf(stderr, "vledger-sim: %s\n", err.msg);
        return 1;
    }
    snprintf(report, sizeof report, "%s", o.report ? o.report : "report");

    sim_net_t *net = malloc(sizeof *net);
    sim_rec_t *rec = malloc(sizeof *rec);
    sim_scn_t scn = { 0 };
    sim_report_in_t rin = { 0 };
    sim_usage_t *usage = calloc(SIM_NODES_MAX, sizeof *usage);
    run_fault_t *faults = calloc(SIM_FAULTS_MAX, sizeof *faults);
    run_worker_t *workers = calloc((size_t) o.workers, sizeof *workers);
    rin.samples = calloc(SIM_SAMPLES_MAX, sizeof *rin.samples);
    json_t *byz = json_array(), *summary = NULL;
    sim_sampler_t *sampler = NULL;
    int exit_code = 1;
    size_t n_faults = 0;
    int64_t t0 = 0, run_end = 0;
    if (!net || !rec || !usage || !faults || !workers || !rin.samples || sim_rec_init(rec, 0)) {
        fprintf(stderr, "vledger-sim: out of memory\n");
        return 1;
    }

    scn = (sim_scn_t) { .net = net, .rec = rec, .seed = o.seed, .rate = o.rate,
                        .workers = o.workers, .timeout_ms = 10000, .vins = json_array(),
                        .dids = json_array() };
    pthread_mutex_init(&scn.lock, NULL);
    bool churn = !strcmp(o.scenario, "churn");
    sim_up_t bring_up = { self, vledgerd, dir, o.nodes, o.validators, churn, o.plan_only };
    fprintf(o.plan_only ? stderr : stdout, "vledger-sim run: %s, %d nodes (%d validators), seed "
           "%llu, %d s, faults %s; network in %s\n", o.scenario, o.nodes, o.validators, (unsigned long long) o.seed,
           o.duration_s, kinds ? o.faults : "none", dir);
    fflush(stdout);
    if (sim_up(net, &bring_up, ops, &scn, &err) != 0) {
        fprintf(stderr, "vledger-sim: %s\n", err.msg);
        goto out;
    }

    /* The faults: the same seed gives the same plan. */
    bool validator[SIM_NODES_MAX], endorser[SIM_NODES_MAX];
    for (int i = 0; i < net->n; i++) {
        validator[i] = net->node[i].validator;
        endorser[i] = i < 5;   /* the sale's organisations endorse what they guard */
    }
    sim_fault_t plan[SIM_FAULTS_MAX];
    sim_plan_in_t pin = { o.seed, (int64_t) o.duration_s * 1000, kinds, net->n, validator,
                          endorser };
    if (kinds && sim_faultplan(&pin, plan, SIM_FAULTS_MAX, &n_faults, &err) != 0) {
        fprintf(stderr, "vledger-sim: --faults: %s\n", err.msg);
        exit_code = 2;
        goto out;
    }
    for (size_t i = 0; i < n_faults; i++)
        faults[i].f = plan[i];
    if (o.plan_only) {
        /* What this seed does to this network, without running it. */
        for (size_t i = 0; i < n_faults; i++)
            faults[i].started = true;
        json_t *p = s_faults_json(faults, n_faults);
        char *text = json_dumps(p, JSON_INDENT(2));
        printf("%s\n", text ? text : "[]");
        free(text);
        json_decref(p);
        exit_code = 0;
        o.keep = false;
        goto out;
    }

    /* The load phase. */
    if (!(sampler = sim_sampler_start(net, &err))) {
        fprintf(stderr, "vledger-sim: %s\n", err.msg);
        goto out;
    }
    t0 = vl_wall_ms();
    sim_rec_restart(rec, t0);
    run_end = t0 + (int64_t) o.duration_s * 1000;
    for (int w = 0; w < o.workers; w++) {
        workers[w] = (run_worker_t) { &scn, ops, w, run_end, 0 };
        if (pthread_create(&workers[w].thread, NULL, s_worker, &workers[w]) != 0) {
            fprintf(stderr, "vledger-sim: cannot start worker %d\n", w);
            o.workers = w;
            break;
        }
    }
    run_churn_t ch = { .next_ms = (int64_t) o.duration_s * 100, .rng = o.seed ^ 0xc4u };
    bool in_fault[SIM_NODES_MAX] = { false };
    int64_t next_sample = 1000;   /* the sampler's first heartbeats come within a second */
    uint64_t last_committed = 0;
    for (;;) {
        int64_t now = vl_wall_ms() - t0;
        bool all_ended = true;
        for (size_t i = 0; i < n_faults; i++) {
            run_fault_t *rf = &faults[i];
            if (!rf->started && now >= rf->f.start_ms) {
                rf->started = true;
                rf->started_at = now;
                s_fault_start(net, rf, o.seed + i, byz);
                if (rf->f.node >= 0)
                    in_fault[rf->f.node] = true;
                printf("[%5.1fs] fault: %s\n", now / 1000.0, rf->note);
            }
            if (rf->started && !rf->ended && now >= rf->f.end_ms) {
                s_fault_end(net, rf);
                rf->ended = true;
                rf->ended_at = vl_wall_ms() - t0;
                if (rf->f.node >= 0)
                    in_fault[rf->f.node] = false;
                printf("[%5.1fs] healed: %s\n", now / 1000.0, rf->note);
            }
            if (!rf->ended && rf->f.start_ms < (int64_t) o.duration_s * 1000)
                all_ended = false;
        }
        if (churn)
            s_churn_tick(net, &ch, now, (int64_t) o.duration_s * 1000, in_fault);
        /* A node that exits by itself (crash, halt) is a finding. */
        pthread_mutex_lock(&net->lock);
        for (int i = 0; i < net->n; i++) {
            int status;
            sim_node_t *nd = &net->node[i];
            if (nd->pid > 0 && waitpid(nd->pid, &status, WNOHANG) == nd->pid) {
                nd->state = SIM_NODE_DOWN;
                nd->pid = 0;
                nd->starting = false;
                pthread_mutex_unlock(&net->lock);
                sim_rec_violation(rec, "node_exited", i, -1, "node%d exited by itself (%s %d); "
                                  "see its log", i, WIFEXITED(status) ? "exit" : "signal",
                                  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
                pthread_mutex_lock(&net->lock);
            }
        }
        pthread_mutex_unlock(&net->lock);
        sim_net_poll_starting(net);   /* restarted nodes become usable without a wait */
        if (now >= next_sample) {
            int lo, hi, up;
            s_sample(net, sampler, &rin, usage, now, &lo, &hi, &up);
            uint64_t committed = rec->count[SIM_OUT_COMMITTED];
            char in_force[256] = "";
            size_t len = 0;
            for (size_t i = 0; i < n_faults && len < sizeof in_force; i++)
                if (faults[i].started && !faults[i].ended)
                    len += (size_t) snprintf(in_force + len, sizeof in_force - len, "%s%s",
                                             len ? "; " : "", faults[i].note);
            printf("[%5.1fs] committed %llu (%.0f tx/s) invalid %llu unknown %llu | heights "
                   "%d-%d on %d up | faults: %s\n", now / 1000.0,
                   (unsigned long long) committed,
                   (double) (committed - last_committed) * 1000.0 / 1000.0,
                   (unsigned long long) rec->count[SIM_OUT_INVALID],
                   (unsigned long long) rec->count[SIM_OUT_UNKNOWN], lo, hi, up,
                   in_force[0] ? in_force : "none");
            fflush(stdout);
            last_committed = committed;
            next_sample = now + 1000;
        }
        if (now >= (int64_t) o.duration_s * 1000 && all_ended)
            break;
        s_nap(RUN_TICK_MS);
    }
    for (int w = 0; w < o.workers; w++)
        pthread_join(workers[w].thread, NULL);
    rin.run_ms = vl_wall_ms() - t0;
    /* Heal anything still in force (a fault planned past the end). */
    for (size_t i = 0; i < n_faults; i++)
        if (faults[i].started && !faults[i].ended) {
            s_fault_end(net, &faults[i]);
            faults[i].ended = true;
            faults[i].ended_at = vl_wall_ms() - t0;
        }
    /* Every node restarted on the way answers before the checks. */
    for (int i = 0; i < net->n; i++)
        if (net->node[i].starting && sim_node_wait_ready(net, i, RUN_START_MS, &err) != 0)
            sim_rec_violation(rec, "node_exited", i, -1, "%s", err.msg);
    if (churn)
        printf("churn: %d joins, %d leaves\n", ch.joins, ch.leaves);
    if (ops->finish && ops->finish(&scn, vl_wall_ms() + RUN_FINISH_MS, &err) != 0)
        sim_rec_violation(rec, "scenario", -1, -1, "%s", err.msg);

    printf("checking invariants on every live replica\n");
    fflush(stdout);
    const char *allowed[SIM_NODES_MAX + 1] = { NULL };
    for (size_t i = 0; i < json_array_size(byz) && i < SIM_NODES_MAX; i++)
        allowed[i] = json_string_value(json_array_get(byz, i));
    sim_inv_check(net, rec, scn.vins, scn.dids, allowed, RUN_CONVERGE_MS, &summary);
    {
        int lo, hi, up;
        s_sample(net, sampler, &rin, usage, vl_wall_ms() - t0, &lo, &hi, &up);
    }
    sim_dissemination(net, &rin.dissemination_p50, &rin.dissemination_p99);
    rin.scenario = o.scenario;
    rin.seed = o.seed;
    rin.duration_s = o.duration_s;
    rin.rate = o.rate;
    rin.faults_asked = o.faults;
    rin.faults = s_faults_json(faults, n_faults);
    rin.invariants_summary = summary;
    rin.usage = usage;
    if (sim_report_write(report, net, rec, &rin, &err) != 0)
        fprintf(stderr, "vledger-sim: report: %s\n", err.msg);
    size_t violations = json_array_size(rec->violations);
    size_t k;
    json_t *v;
    json_array_foreach(rec->violations, k, v) {
        char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
        printf("VIOLATION %s\n", s ? s : "?");
        free(s);
    }
    printf("%s: %llu committed (%.1f tx/s), %llu invalid, %llu refused, %llu unknown; latency "
           "p50 %.0f ms p99 %.0f ms; %zu faults; invariants %s; report in %s/report.json\n",
           o.scenario, (unsigned long long) rec->count[SIM_OUT_COMMITTED],
           s_window_tps(rec, o.duration_s),
           (unsigned long long) rec->count[SIM_OUT_INVALID],
           (unsigned long long) rec->count[SIM_OUT_REFUSED],
           (unsigned long long) rec->count[SIM_OUT_UNKNOWN], sim_rec_percentile(rec, 50),
           sim_rec_percentile(rec, 99), json_array_size(rin.faults),
           violations ? "VIOLATED" : "held", report);
    exit_code = violations ? 1 : 0;

out:
    (void) run_end;
    sim_sampler_stop(&sampler);   /* before net goes: the thread reads it */
    sim_net_stop_all(net);
    if (ops->destroy)
        ops->destroy(&scn);
    json_decref(scn.vins);
    json_decref(scn.dids);
    json_decref(rin.faults);
    json_decref(summary);
    json_decref(byz);
    for (int s = 0; s < rin.n_samples; s++)
        free(rin.samples[s].height);
    free(rin.samples);
    sim_rec_free(rec);
    free(rec);
    free(usage);
    free(faults);
    free(workers);
    if (!o.keep && exit_code == 0) {
        char cmd[SIM_PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "vledger-sim: could not remove %s\n", dir);
    } else {
        printf("network and node logs kept in %s\n", dir);
    }
    free(net);
    return exit_code;
}
