/*
 * bench_gossip.c — the gossip figures of issue 5, measured on real vledgerd
 * processes on 127.0.0.1. A benchmark program, not a test: it prints what it
 * measures and the targets beside them; every wait has a deadline.
 *
 * Networks come from `vledger-sim net create` (node0 is the orderer, one
 * block per transaction). Times are read from the nodes' own log lines
 * (wall-clock ms, one host, one clock), so polling the nodes does not blur
 * them:
 *
 *   latency N   N nodes; B registrations submitted to node0 one every
 *               PACE ms; for each block, `block.commit height=H` at node0 vs
 *               `block.gossip height=H` (first copy arrives) and
 *               `block.commit` at every other node -> p50/p99 over all
 *               (node, block) pairs; copies of block envelopes read per
 *               node per block (status gossip.block_copies).
 *               Also the CPU the nodes used until they converged, and
 *               over 5 s of idling after (from /proc/PID/stat).
 *   converge N  (measured while starting the networks above) N processes
 *               spawned at once; per node, the first moment its log has
 *               N-1 peers alive (peer.alive / peer.state lines) -> time
 *               from the first spawn (and from the last spawn, and from
 *               the last node's `gossip ev=start` line) until every node
 *               has seen every other alive.
 *   kill 64     64 nodes, kill -9 one follower per run; per surviving node,
 *               `peer.state name=<victim> state=dead` minus the kill time ->
 *               the time until all see it dead (max) and the median node.
 *   catchup     3 nodes; node2 stopped (SIGTERM) while node0 commits
 *               CATCHUP blocks, then restarted: from its `ready` line (and
 *               from the spawn) to `block.commit height=<target>`; R runs.
 *
 *   bench_gossip VLEDGERD VLEDGER_SIM [latency|kill|catchup|all]...
 *                [--sizes 32,128] [--blocks B] [--pace-ms P] [--runs R]
 *                [--catchup-blocks C] [--kill-nodes K] [--big-heartbeat-ms H] [--keep]
 *
 * --big-heartbeat-ms H writes heartbeat_ms H (suspect 3H, dead 5H) into the
 * node.json of networks over 64 nodes. Not needed with the defaults since
 * liveness is judged by ring monitors (gossip/membership.h) and the flooded
 * heartbeat's period grows with N (160 ms per member); kept to compare.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "client.h"
#include "clock.h"
#include "codec.h"
#include "crypto.h"

extern char **environ;

#define MAX_NODES 256

typedef struct {
    char dir[256];
    int n;
    pid_t pid[MAX_NODES];
    client_t *client[MAX_NODES];
    int64_t spawn_first_ms, spawn_last_ms;   /* wall */
    char chain[128];
} net_t;

static const char *s_vledgerd, *s_sim;
static int s_big_hb_ms;   /* heartbeat_ms for networks over 64 nodes (0 = node defaults) */
static bool s_keep;

static void
s_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int
s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

/* Percentile p (0..1) of v[0..n) (sorted in place); -1 when empty. */
static int64_t
s_pct(int64_t *v, size_t n, double p)
{
    if (n == 0)
        return -1;
    qsort(v, n, sizeof *v, s_cmp_i64);
    size_t i = (size_t) (p * (double) (n - 1) + 0.5);
    return v[i];
}

static pid_t
s_spawn(char *const argv[], const char *log_path)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    pid_t pid = -1;
    if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
        pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

/* Runs argv to completion (bounded by the child itself); exit status. */
static int
s_run(char *const argv[], const char *log_path)
{
    pid_t pid = s_spawn(argv, log_path);
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* --- Log lines --------------------------------------------------------------- */

/* Wall ms of a line's "ts=YYYY-MM-DDTHH:MM:SS.mmmZ", or -1. */
static int64_t
s_line_ts(const char *line)
{
    struct tm tm = { 0 };
    int ms = 0;
    if (sscanf(line, "ts=%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t) timegm(&tm) * 1000 + ms;
}

/* The value of key=VALUE in line (up to a space) into out; false if absent. */
static bool
s_field(const char *line, const char *key, char *out, size_t size)
{
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *p = strstr(line, pat);
    if (!p)
        return false;
    p += strlen(pat);
    size_t n = strcspn(p, " \n");
    if (n >= size)
        n = size - 1;
    memcpy(out, p, n);
    out[n] = 0;
    return true;
}

static void
s_log_path(const net_t *net, int i, char *out, size_t size)
{
    snprintf(out, size, "%s/node%d.log", net->dir, i);
}

/* Wall ms of node i's first `<event> height=h` line for h in [from, to]
 * (out[h - from], -1 when absent). */
static void
s_event_times(const net_t *net, int i, const char *event, uint64_t from, uint64_t to,
              int64_t *out)
{
    for (uint64_t h = from; h <= to; h++)
        out[h - from] = -1;
    char path[300], line[2048], v[64];
    s_log_path(net, i, path, sizeof path);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        if (!strstr(line, event) || !s_field(line, "height", v, sizeof v))
            continue;
        uint64_t h = strtoull(v, NULL, 10);
        if (h >= from && h <= to && out[h - from] < 0)
            out[h - from] = s_line_ts(line);
    }
    fclose(f);
}

static int64_t s_log_event_at(const net_t *net, int i, const char *needle, int64_t since);

/* The first wall ms at which node i had all n-1 peers alive at once, or -1;
 * *flaps counts alive->suspect/dead transitions after that. */
static int64_t
s_converged_at(const net_t *net, int i, int *flaps)
{
    char path[300], line[2048], name[64], state[32];
    s_log_path(net, i, path, sizeof path);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    static bool alive[MAX_NODES];
    memset(alive, 0, sizeof alive);
    int count = 0;
    int64_t at = -1;
    *flaps = 0;
    while (fgets(line, sizeof line, f)) {
        bool up = strstr(line, " ev=peer.alive ") != NULL;
        bool change = !up && strstr(line, " ev=peer.state ") != NULL;
        if ((!up && !change) || !s_field(line, "name", name, sizeof name)
            || strncmp(name, "node", 4) != 0)
            continue;
        int k = atoi(name + 4);
        if (k < 0 || k >= MAX_NODES)
            continue;
        bool now_alive = up;
        if (change)
            now_alive = s_field(line, "state", state, sizeof state) && !strcmp(state, "alive");
        if (now_alive && !alive[k])
            count++;
        if (!now_alive && alive[k]) {
            count--;
            if (at >= 0)
                (*flaps)++;
        }
        alive[k] = now_alive;
        if (count == net->n - 1 && at < 0)
            at = s_line_ts(line);
    }
    fclose(f);
    return at;
}

/* Wall ms of node i's first `peer.state name=<victim> state=dead` at or
 * after since_ms, or -1. */
static int64_t
s_dead_at(const net_t *net, int i, int victim, int64_t since_ms)
{
    char path[300], line[2048], name[64], state[32], want[32];
    snprintf(want, sizeof want, "node%d", victim);
    s_log_path(net, i, path, sizeof path);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int64_t at = -1;
    while (at < 0 && fgets(line, sizeof line, f)) {
        if (!strstr(line, " ev=peer.state ") || !s_field(line, "name", name, sizeof name)
            || strcmp(name, want) != 0 || !s_field(line, "state", state, sizeof state)
            || strcmp(state, "dead") != 0)
            continue;
        int64_t t = s_line_ts(line);
        if (t >= since_ms)
            at = t;
    }
    fclose(f);
    return at;
}

/* --- Networks ---------------------------------------------------------------- */

static int
s_net_create(net_t *net, int n, const char *extra_opt, const char *extra_val)
{
    memset(net, 0, sizeof *net);
    net->n = n;
    snprintf(net->dir, sizeof net->dir, "/tmp/vlbench-gossip.XXXXXX");
    if (!mkdtemp(net->dir))
        return -1;
    char out[300], log[300], nodes[16], base[16];
    snprintf(out, sizeof out, "%s/net", net->dir);
    snprintf(log, sizeof log, "%s/net-create.log", net->dir);
    snprintf(nodes, sizeof nodes, "%d", n);
    for (int attempt = 0; attempt < 5; attempt++) {
        unsigned r;
        vl_random_bytes(&r, sizeof r);
        /* Below the ephemeral range (32768-), where the nodes' own outgoing
         * connections would otherwise take the ports. */
        snprintf(base, sizeof base, "%u", 10000 + (r % 40) * 512);
        char *av[] = { (char *) s_sim, "net", "create", "--nodes", nodes, "--out", out,
                       "--base-port", base, "--block-max-txs", "1",
                       (char *) extra_opt, (char *) extra_val, NULL };
        if (s_run(av, log) == 0)
            return 0;
    }
    fprintf(stderr, "bench_gossip: net create failed (see %s)\n", log);
    return -1;
}

static int
s_node_start(net_t *net, int i)
{
    char cfg[300], log[300];
    snprintf(cfg, sizeof cfg, "%s/net/node%d/node.json", net->dir, i);
    s_log_path(net, i, log, sizeof log);
    char epf[300];
    snprintf(epf, sizeof epf, "%s/net/node%d/data/endpoints.json", net->dir, i);
    unlink(epf);
    client_destroy(&net->client[i]);
    char *av[] = { (char *) s_vledgerd, "--config", cfg, NULL };
    net->pid[i] = s_spawn(av, log);
    return net->pid[i] > 0 ? 0 : -1;
}

/* The API client of node i once its endpoints.json exists; NULL otherwise. */
static client_t *
s_client(net_t *net, int i)
{
    if (net->client[i])
        return net->client[i];
    char path[300];
    snprintf(path, sizeof path, "%s/net/node%d/data/endpoints.json", net->dir, i);
    json_t *doc = json_load_file(path, 0, NULL);
    const char *api = json_string_value(json_object_get(doc, "api"));
    vl_err_t err;
    if (api)
        net->client[i] = client_new(api, 5000, &err);
    json_decref(doc);
    return net->client[i];
}

static json_t *
s_status(net_t *net, int i)
{
    client_t *c = s_client(net, i);
    json_t *st = NULL;
    vl_err_t err;
    if (!c || client_call(c, "status", NULL, &st, &err) != 0)
        return NULL;
    return st;
}

static uint64_t
s_height(net_t *net, int i)
{
    json_t *st = s_status(net, i);
    uint64_t h = st ? (uint64_t) json_integer_value(json_object_get(st, "height")) : 0;
    json_decref(st);
    return h;
}

static void
s_node_stop(net_t *net, int i, int sig)
{
    if (net->pid[i] <= 0)
        return;
    kill(net->pid[i], sig);
    int64_t deadline = vl_mono_ms() + 10000;
    int st;
    while (waitpid(net->pid[i], &st, WNOHANG) == 0) {
        if (vl_mono_ms() > deadline) {
            kill(net->pid[i], SIGKILL);
            waitpid(net->pid[i], &st, 0);
            break;
        }
        s_sleep_ms(10);
    }
    net->pid[i] = 0;
    client_destroy(&net->client[i]);
}

static void
s_net_destroy(net_t *net)
{
    for (int i = 0; i < net->n; i++)
        if (net->pid[i] > 0)
            kill(net->pid[i], SIGTERM);
    for (int i = 0; i < net->n; i++)
        s_node_stop(net, i, SIGTERM);
    if (!s_keep && net->dir[0]) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", net->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_gossip: could not remove %s\n", net->dir);
    } else if (net->dir[0])
        printf("  (kept %s)\n", net->dir);
}

/* Spawns every node at once and reports convergence: the time until each
 * node has had all n-1 peers alive. Returns 0 when all converged within
 * deadline_ms. */
static int
s_start_all(net_t *net, int deadline_ms, int64_t *from_first, int64_t *from_last)
{
    net->spawn_first_ms = vl_wall_ms();
    for (int i = 0; i < net->n; i++)
        if (s_node_start(net, i) != 0)
            return -1;
    net->spawn_last_ms = vl_wall_ms();
    int64_t deadline = vl_mono_ms() + deadline_ms;
    int64_t *at = calloc((size_t) net->n, sizeof *at);
    int done = 0, flaps = 0;
    while (vl_mono_ms() < deadline) {
        done = 0;
        flaps = 0;
        for (int i = 0; i < net->n; i++) {
            int f = 0;
            at[i] = s_converged_at(net, i, &f);
            done += at[i] >= 0;
            flaps += f;
        }
        if (done == net->n)
            break;
        s_sleep_ms(200);   /* polling the logs, bounded by the deadline */
    }
    if (done < net->n) {
        printf("  converge %d: only %d of %d nodes saw all peers alive within %d ms\n", net->n,
               done, net->n, deadline_ms);
        free(at);
        return -1;
    }
    int64_t last = 0;
    for (int i = 0; i < net->n; i++)
        if (at[i] > last)
            last = at[i];
    *from_first = last - net->spawn_first_ms;
    *from_last = last - net->spawn_last_ms;
    int64_t med = s_pct(at, (size_t) net->n, 0.5) - net->spawn_first_ms;
    /* On one 2-core host the processes themselves take seconds to start
     * (each needs ~35 ms of CPU, competing with the running ones), so
     * also report from the moment the last node's gossip was running. */
    int64_t started_last = 0;
    for (int i = 0; i < net->n; i++) {
        int64_t t = s_log_event_at(net, i, " mod=gossip ev=start ", 0);
        if (t > started_last)
            started_last = t;
    }
    printf("  converge %d: all nodes see all %d peers alive %lld ms after the first spawn "
           "(%lld ms after the last; spawning took %lld ms; the last node's gossip started "
           "%lld ms after the first spawn and all converged %lld ms later; median node %lld ms; "
           "flaps after convergence %d)\n",
           net->n, net->n - 1, (long long) *from_first, (long long) *from_last,
           (long long) (net->spawn_last_ms - net->spawn_first_ms),
           (long long) (started_last - net->spawn_first_ms), (long long) (last - started_last),
           (long long) med, flaps);
    free(at);
    /* Every node serves its API (endpoints.json written). */
    for (int i = 0; i < net->n; i++) {
        while (!s_client(net, i) && vl_mono_ms() < deadline + 10000)
            s_sleep_ms(20);
        if (!net->client[i])
            return -1;
    }
    json_t *st = s_status(net, 0);
    snprintf(net->chain, sizeof net->chain, "%s",
             st ? json_string_value(json_object_get(st, "chain_id")) : "");
    json_decref(st);
    return 0;
}

/* Endorses and submits (no wait) one registration through node i. */
static int
s_submit_one(net_t *net, int i, long seq)
{
    client_t *c = s_client(net, i);
    if (!c)
        return -1;
    vl_err_t err = { "" };
    vl_key_t *k = vl_key_generate();
    char name[32];
    snprintf(name, sizeof name, "bench-%ld", seq);
    /* Node i's organisation is nodeI (net create without --orgs). */
    char org[32];
    snprintf(org, sizeof org, "node%d", i);
    json_t *args = json_pack("{s:s, s:s, s:[s]}", "name", name, "org", org, "roles", "buyer");
    uint8_t *sp = NULL, *res = NULL, *endorser = NULL, *sig = NULL, *tx = NULL;
    size_t sp_len = 0, res_len = 0, e_len = 0, sig_len = 0, tx_len = 0;
    uint8_t txid[32];
    uint64_t nonce;
    vl_random_bytes(&nonce, sizeof nonce);
    json_t *en = NULL, *sub = NULL;
    int rc = client_build_proposal(k, net->chain, "identity", "register", args, nonce,
                                   vl_wall_ms(), &sp, &sp_len, txid, &err);
    char *b64 = rc == 0 ? vl_base64_encode(sp, sp_len) : NULL;
    json_t *p = b64 ? json_pack("{s:s}", "proposal", b64) : NULL;
    free(b64);
    if (rc == 0)
        rc = client_call(c, "endorse", p, &en, &err);
    json_decref(p);
    const char *r64 = rc == 0 ? json_string_value(json_object_get(en, "result")) : NULL;
    const char *e64 = rc == 0 ? json_string_value(json_object_get(en, "endorser")) : NULL;
    const char *s64 = rc == 0 ? json_string_value(json_object_get(en, "signature")) : NULL;
    if (rc == 0
        && (!r64 || !e64 || !s64 || vl_base64_decode(r64, &res, &res_len)
            || vl_base64_decode(e64, &endorser, &e_len) || vl_base64_decode(s64, &sig, &sig_len)))
        rc = -1;
    if (rc == 0)
        rc = client_build_transaction(sp, sp_len, res, res_len, endorser, e_len, sig, sig_len,
                                      &tx, &tx_len, &err);
    if (rc == 0) {
        char *t64 = vl_base64_encode(tx, tx_len);
        json_t *sp2 = json_pack("{s:s, s:b}", "transaction", t64, "wait", 0);
        free(t64);
        rc = client_call(c, "submit", sp2, &sub, &err);
        json_decref(sp2);
    }
    if (rc != 0)
        fprintf(stderr, "bench_gossip: submit %ld: %s\n", seq, err.msg);
    json_decref(en);
    json_decref(sub);
    json_decref(args);
    free(sp);
    free(res);
    free(endorser);
    free(sig);
    free(tx);
    vl_key_destroy(&k);
    return rc;
}

/* True when every running node is at height >= h (polls until deadline). */
static bool
s_wait_height(net_t *net, uint64_t h, int timeout_ms)
{
    int64_t deadline = vl_mono_ms() + timeout_ms;
    int next = 0;
    while (vl_mono_ms() < deadline) {
        while (next < net->n && (net->pid[next] <= 0 || s_height(net, next) >= h))
            next++;
        if (next == net->n)
            return true;
        s_sleep_ms(50);
    }
    return false;
}

/* CPU time (user + system, ms) the net's running nodes have used so far,
 * from /proc/PID/stat (fields 14 and 15, in clock ticks). */
static int64_t
s_cpu_ms(const net_t *net)
{
    long hz = sysconf(_SC_CLK_TCK);
    int64_t ticks = 0;
    for (int i = 0; i < net->n; i++) {
        if (net->pid[i] <= 0)
            continue;
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", (int) net->pid[i]);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = 0;
        const char *p = strrchr(buf, ')');   /* the command name may hold spaces */
        unsigned long long ut = 0, st = 0;
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                        &st) == 2)
            ticks += (int64_t) (ut + st);
    }
    return hz > 0 ? ticks * 1000 / hz : 0;
}

/* --- Scenarios ---------------------------------------------------------------- */

static int
s_latency(int n, int blocks, int pace_ms, int64_t *conv_first, int64_t *conv_last)
{
    net_t net;
    int rc = -1;
    char hb[16] = "";
    if (n > 64 && s_big_hb_ms > 0)
        snprintf(hb, sizeof hb, "%d", s_big_hb_ms);
    if (s_net_create(&net, n, hb[0] ? "--heartbeat-ms" : NULL, hb[0] ? hb : NULL) != 0)
        return -1;
    printf("latency/copies, %d nodes (D = 6, full mesh up to 12, 4 bootstrap peers, heartbeat "
           "%s), %d blocks one every %d ms\n",
           n, hb[0] ? hb : "default", blocks, pace_ms);
    fflush(stdout);
    if (s_start_all(&net, 120000, conv_first, conv_last) != 0)
        goto done;
    /* What the idle network costs: a measurement window, not a wait. */
    int64_t cpu0 = s_cpu_ms(&net), w0 = vl_mono_ms();
    s_sleep_ms(5000);
    int64_t cpu1 = s_cpu_ms(&net), w1 = vl_mono_ms();
    printf("  cpu %d nodes: start-up until converged %.1f s of CPU (%.0f ms per node); idle "
           "after: %.0f%% of one core for all nodes (%.2f ms of CPU per node per second)\n",
           n, (double) cpu0 / 1000.0, (double) cpu0 / n,
           100.0 * (double) (cpu1 - cpu0) / (double) (w1 - w0),
           (double) (cpu1 - cpu0) / (double) (w1 - w0) * 1000.0 / n);
    fflush(stdout);
    uint64_t h0 = s_height(&net, 0);
    for (int b = 0; b < blocks; b++) {
        int64_t next = vl_mono_ms() + pace_ms;
        if (s_submit_one(&net, 0, b) != 0)
            goto done;
        int64_t wait = next - vl_mono_ms();
        if (wait > 0)
            s_sleep_ms((int) wait);   /* pacing the load, not synchronising */
    }
    uint64_t h1 = h0 + (uint64_t) blocks;
    if (!s_wait_height(&net, h1, 60000)) {
        printf("  not every node reached height %llu within 60 s\n", (unsigned long long) h1);
        goto done;
    }
    int64_t *ref = calloc((size_t) blocks, sizeof *ref);
    int64_t *t = calloc((size_t) blocks, sizeof *t);
    int64_t *lat = calloc((size_t) blocks * (size_t) n, sizeof *lat);
    int64_t *arr = calloc((size_t) blocks * (size_t) n, sizeof *arr);
    int64_t *ta = calloc((size_t) blocks, sizeof *ta);
    size_t na = 0;
    int64_t *copies = calloc((size_t) n, sizeof *copies);   /* per node, x100 */
    size_t nl = 0, missing = 0;
    long pulled = 0;
    s_event_times(&net, 0, " ev=block.commit ", h0 + 1, h1, ref);
    for (int i = 1; i < n; i++) {
        s_event_times(&net, i, " ev=block.commit ", h0 + 1, h1, t);
        s_event_times(&net, i, " ev=block.gossip ", h0 + 1, h1, ta);
        for (int b = 0; b < blocks; b++) {
            if (t[b] < 0 || ref[b] < 0) {
                missing++;
                continue;
            }
            lat[nl++] = t[b] - ref[b];
            /* Arrival: the first gossip copy, or the commit of a pulled one. */
            arr[na++] = (ta[b] >= 0 && ta[b] < t[b] ? ta[b] : t[b]) - ref[b];
        }
        json_t *st = s_status(&net, i);
        json_t *g = json_object_get(st, "gossip");
        copies[i - 1] = json_integer_value(json_object_get(g, "block_copies")) * 100 / blocks;
        pulled += (long) json_integer_value(json_object_get(g, "blocks_pulled"));
        json_decref(st);
    }
    int64_t a50 = s_pct(arr, na, 0.5), a99 = s_pct(arr, na, 0.99), amx = s_pct(arr, na, 1.0);
    int64_t p50 = s_pct(lat, nl, 0.5), p99 = s_pct(lat, nl, 0.99), mx = s_pct(lat, nl, 1.0);
    printf("  latency %d nodes: block commit at node0 -> first copy arrives at each node: p50 %lld "
           "ms, p99 %lld ms, max %lld ms (target p99 < 500 ms)\n",
           n, (long long) a50, (long long) a99, (long long) amx);
    int64_t c50 = s_pct(copies, (size_t) n - 1, 0.5), cmax = s_pct(copies, (size_t) n - 1, 1.0);
    printf("  latency %d nodes: block commit at node0 -> commit at each node: p50 %lld ms, p99 "
           "%lld ms, max %lld ms over %zu (node, block) pairs (%zu log lines missing); "
           "blocks pulled instead %ld\n",
           n, (long long) p50, (long long) p99, (long long) mx, nl, missing, pulled);
    printf("  copies %d nodes: block envelopes read per node per block: median %.2f, max %.2f "
           "(target <= D+1 = 7)\n",
           n, (double) c50 / 100.0, (double) cmax / 100.0);
    free(ref);
    free(t);
    free(ta);
    free(arr);
    free(lat);
    free(copies);
    rc = 0;
done:
    s_net_destroy(&net);
    return rc;
}

static int
s_kill(int n, int runs, int64_t *conv_first, int64_t *conv_last)
{
    net_t net;
    int rc = -1;
    if (s_net_create(&net, n, NULL, NULL) != 0)
        return -1;
    printf("failure detection, %d nodes, kill -9 of one follower per run (%d runs)\n", n, runs);
    fflush(stdout);
    if (s_start_all(&net, 120000, conv_first, conv_last) != 0)
        goto done;
    int64_t *all_ms = calloc((size_t) runs, sizeof *all_ms);
    int64_t *at = calloc((size_t) n, sizeof *at);
    int done_runs = 0;
    for (int r = 0; r < runs; r++) {
        int victim = 1 + (r * 17 + 5) % (n - 1);
        int64_t t_kill = vl_wall_ms();
        kill(net.pid[victim], SIGKILL);
        waitpid(net.pid[victim], NULL, 0);
        net.pid[victim] = 0;
        client_destroy(&net.client[victim]);
        int64_t deadline = vl_mono_ms() + 30000;
        int seen = 0, alive_nodes = 0;
        while (vl_mono_ms() < deadline) {
            seen = 0;
            alive_nodes = 0;
            for (int i = 0; i < n; i++) {
                if (net.pid[i] <= 0)
                    continue;
                at[alive_nodes] = s_dead_at(&net, i, victim, t_kill);
                seen += at[alive_nodes] >= 0;
                alive_nodes++;
            }
            if (seen == alive_nodes)
                break;
            s_sleep_ms(200);   /* polling the logs, bounded by the deadline */
        }
        if (seen < alive_nodes) {
            printf("  run %d: only %d of %d nodes saw node%d dead within 30 s\n", r, seen,
                   alive_nodes, victim);
            continue;
        }
        for (int i = 0; i < alive_nodes; i++)
            at[i] -= t_kill;
        int64_t med = s_pct(at, (size_t) alive_nodes, 0.5);
        int64_t first = at[0], last = at[alive_nodes - 1];
        all_ms[done_runs++] = last;
        printf("  run %d: node%d killed; seen dead by all %d nodes after %lld ms (first %lld, "
               "median %lld)\n",
               r, victim, alive_nodes, (long long) last, (long long) first, (long long) med);
        fflush(stdout);
    }
    if (done_runs > 0)
        printf("  kill %d nodes: median over %d runs of the time until all see the peer dead: "
               "%lld ms (target < 3000 ms)\n",
               n, done_runs, (long long) s_pct(all_ms, (size_t) done_runs, 0.5));
    rc = done_runs == runs ? 0 : -1;
    free(all_ms);
    free(at);
done:
    s_net_destroy(&net);
    return rc;
}

/* Wall ms of node i's log line containing `needle` after line ts >= since, or -1. */
static int64_t
s_log_event_at(const net_t *net, int i, const char *needle, int64_t since)
{
    char path[300], line[2048];
    s_log_path(net, i, path, sizeof path);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int64_t at = -1;
    while (at < 0 && fgets(line, sizeof line, f))
        if (strstr(line, needle)) {
            int64_t t = s_line_ts(line);
            if (t >= since)
                at = t;
        }
    fclose(f);
    return at;
}

static int
s_catchup(int blocks, int runs)
{
    net_t net;
    int rc = -1;
    if (s_net_create(&net, 3, NULL, NULL) != 0)
        return -1;
    printf("catch-up, 3 nodes: node2 stopped while node0 commits %d blocks, then restarted "
           "(%d runs)\n", blocks, runs);
    fflush(stdout);
    int64_t f, l;
    if (s_start_all(&net, 60000, &f, &l) != 0)
        goto done;
    int64_t *rates = calloc((size_t) runs, sizeof *rates);
    int ok = 0;
    for (int r = 0; r < runs; r++) {
        s_node_stop(&net, 2, SIGTERM);
        uint64_t h0 = s_height(&net, 0);
        int64_t g0 = vl_mono_ms();
        char count[16], node[300], log[300];
        snprintf(count, sizeof count, "%d", blocks);
        json_t *st = s_status(&net, 0);
        snprintf(node, sizeof node, "%s",
                 json_string_value(json_object_get(json_object_get(st, "endpoints"), "api")));
        json_decref(st);
        snprintf(log, sizeof log, "%s/load.log", net.dir);
        char *av[] = { (char *) s_sim, "load", "--node", node, "--count", count,
                       "--timeout-ms", "600000", NULL };
        if (s_run(av, log) != 0) {
            printf("  load failed (see %s)\n", log);
            break;
        }
        uint64_t target = h0 + (uint64_t) blocks;
        if (!s_wait_height(&net, target, 120000)) {
            printf("  the orderer did not reach %llu\n", (unsigned long long) target);
            break;
        }
        printf("  run %d: %d blocks made in %lld ms; restarting node2\n", r, blocks,
               (long long) (vl_mono_ms() - g0));
        fflush(stdout);
        int64_t t_spawn = vl_wall_ms();
        s_node_start(&net, 2);
        if (!s_wait_height(&net, target, 120000)) {
            printf("  node2 did not catch up within 120 s\n");
            break;
        }
        char needle[80];
        snprintf(needle, sizeof needle, " ev=block.commit height=%llu ",
                 (unsigned long long) target);
        int64_t t_ready = s_log_event_at(&net, 2, " ev=ready ", t_spawn);
        int64_t t_done = s_log_event_at(&net, 2, needle, t_spawn);
        if (t_ready < 0 || t_done < 0) {
            printf("  log lines missing\n");
            break;
        }
        int64_t ms = t_done - t_ready;
        rates[ok++] = ms > 0 ? (int64_t) blocks * 1000 / ms : 0;
        printf("  run %d: node2 caught up %d blocks in %lld ms after ready (%lld ms after spawn): "
               "%lld blocks/s\n",
               r, blocks, (long long) ms, (long long) (t_done - t_spawn),
               (long long) rates[ok - 1]);
        fflush(stdout);
    }
    if (ok > 0)
        printf("  catch-up: median %lld blocks/s over %d runs (target >= 2000)\n",
               (long long) s_pct(rates, (size_t) ok, 0.5), ok);
    rc = ok == runs ? 0 : -1;
    free(rates);
done:
    s_net_destroy(&net);
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_gossip VLEDGERD VLEDGER_SIM [latency|kill|catchup|all]... "
                        "[--sizes 32,128] [--blocks B] [--pace-ms P] [--runs R] "
                        "[--catchup-blocks C] [--kill-nodes K] [--big-heartbeat-ms H] "
                        "[--keep]\n");
        return 2;
    }
    s_vledgerd = argv[1];
    s_sim = argv[2];
    bool do_lat = false, do_kill = false, do_catch = false;
    int blocks = 30, pace = 100, runs = 3, catchup = 10000, kill_nodes = 64;
    char sizes[64] = "32,128";
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "latency")) do_lat = true;
        else if (!strcmp(a, "kill")) do_kill = true;
        else if (!strcmp(a, "catchup")) do_catch = true;
        else if (!strcmp(a, "all")) do_lat = do_kill = do_catch = true;
        else if (!strcmp(a, "--keep")) s_keep = true;
        else if (!strcmp(a, "--sizes") && ++i) snprintf(sizes, sizeof sizes, "%s", v);
        else if (!strcmp(a, "--blocks") && ++i) blocks = atoi(v);
        else if (!strcmp(a, "--pace-ms") && ++i) pace = atoi(v);
        else if (!strcmp(a, "--runs") && ++i) runs = atoi(v);
        else if (!strcmp(a, "--catchup-blocks") && ++i) catchup = atoi(v);
        else if (!strcmp(a, "--kill-nodes") && ++i) kill_nodes = atoi(v);
        else if (!strcmp(a, "--big-heartbeat-ms") && ++i) s_big_hb_ms = atoi(v);
        else {
            fprintf(stderr, "bench_gossip: unknown argument '%s'\n", a);
            return 2;
        }
    }
    if (!do_lat && !do_kill && !do_catch)
        do_lat = do_kill = do_catch = true;
    if (blocks < 1 || blocks > 1000 || pace < 0 || pace > 10000 || runs < 1 || runs > 10
        || catchup < 1 || catchup > 100000 || kill_nodes < 3 || kill_nodes > MAX_NODES) {
        fprintf(stderr, "bench_gossip: --blocks 1-1000, --pace-ms 0-10000, --runs 1-10, "
                        "--catchup-blocks 1-100000, --kill-nodes 3-%d\n", MAX_NODES);
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
        setrlimit(RLIMIT_NOFILE, &rl);   /* inherited by the nodes */
    }
    signal(SIGPIPE, SIG_IGN);
    double load[3] = { 0 };
    if (getloadavg(load, 3) > 0)
        printf("host: %ld cores online, load average %.2f %.2f %.2f at start\n",
               sysconf(_SC_NPROCESSORS_ONLN), load[0], load[1], load[2]);
    int rc = 0;
    int64_t f, l;
    if (do_lat) {
        char *save = NULL;
        for (char *tok = strtok_r(sizes, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            int n = atoi(tok);
            if (n < 2 || n > MAX_NODES)
                continue;
            rc |= s_latency(n, blocks, pace, &f, &l);
        }
    }
    if (do_kill)
        rc |= s_kill(kill_nodes, runs, &f, &l);
    if (do_catch)
        rc |= s_catchup(catchup, runs);
    if (getloadavg(load, 3) > 0)
        printf("host: load average %.2f %.2f %.2f at end\n", load[0], load[1], load[2]);
    return rc ? 1 : 0;
}
