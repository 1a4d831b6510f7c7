/*
 * bench_submit.c — one-node throughput through the real API: a vledgerd
 * --dev process on 127.0.0.1, driven by pipelined JSON-RPC requests.
 *
 * Each round: R fresh users are registered (identity.register with the
 * dev organisation, no MVCC conflicts between them), then each registers a
 * vehicle of its own (vehicle.register, distinct VINs). For each batch the
 * bench measures
 *   - endorse/s: pipelined `endorse` calls (contract execution + signing);
 *   - submitted-to-committed tx/s: from the first `submit` to the `tx`
 *     event of the last transaction on the node's event topic, and the
 *     per-transaction submit-to-commit latency (p50, p99).
 * It prints every round and the medians. Bounded: ROUNDS rounds of BATCH
 * transactions, and every wait has a deadline.
 *
 * With SUBSCRIBERS > 0, that many external consumers (a thread and a SUB
 * socket each, subscribed to every topic) listen to the node's event
 * topics during the run; the bench adds the events each received per
 * second of the submit phases. Run it with 0 and with 8 to see what they
 * cost the node's throughput; each submit phase also reports the CPU time
 * the node's process and this one (its subscribers, client and ZeroMQ
 * threads) used per committed transaction, which says whether the node
 * itself paid for the subscribers or only shared the host's cores with
 * them. With EVENTS > 0 a last phase measures the
 * event topics' own rate: BATCH / 10 transactions of a contract that emits
 * EVENTS events each (at most 256), and the events the subscribers receive
 * per second while they commit.
 *
 *   bench_submit PATH/TO/vledgerd [BATCH] [ROUNDS] [SUBSCRIBERS] [EVENTS]
 */
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>

#include "client.h"
#include "clock.h"
#include "codec.h"
#include "crypto.h"

extern char **environ;

typedef struct {
    void *dealer, *sub;
    char chain[80];
    char org[80];          /* the node's organisation: the users join it */
    unsigned long vins;    /* vehicles registered so far (distinct VINs) */
} bench_t;

#define SUBSCRIBERS_MAX 32
#define BURST_TOPIC "event.bench.burst"   /* what the burst phase's contract emits */

/* One external consumer of the event topics. */
typedef struct {
    void *ctx;                   /* borrowed */
    const char *endpoint;        /* borrowed */
    atomic_bool *stop;           /* borrowed */
    atomic_ulong events;         /* whole messages received */
    atomic_ulong burst;          /* of them, on BURST_TOPIC */
    atomic_llong last_burst_us;  /* when the latest of those arrived (vl_mono_us) */
    pthread_t thread;
} subscriber_t;

static void *
s_subscriber(void *arg)
{
    subscriber_t *s = arg;
    void *sub = zmq_socket(s->ctx, ZMQ_SUB);
    int hwm = 0;
    zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    zmq_connect(sub, s->endpoint);
    zmq_msg_t m;
    zmq_msg_init(&m);
    bool first = true, burst = false;   /* at a message's topic frame; its topic */
    while (!atomic_load(s->stop)) {
        zmq_pollitem_t it = { sub, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        while (zmq_msg_recv(&m, sub, ZMQ_DONTWAIT) >= 0) {
            if (first)
                burst = zmq_msg_size(&m) == strlen(BURST_TOPIC)
                        && memcmp(zmq_msg_data(&m), BURST_TOPIC, strlen(BURST_TOPIC)) == 0;
            first = !zmq_msg_more(&m);
            if (!first)
                continue;
            atomic_fetch_add(&s->events, 1);
            if (burst) {
                atomic_fetch_add(&s->burst, 1);
                atomic_store(&s->last_burst_us, (long long) vl_mono_us());
            }
        }
    }
    zmq_msg_close(&m);
    zmq_close(sub);
    return NULL;
}

/* Waits until every subscriber holds `want` burst events, or none has
 * received one for 1 s (bounded at 20 s); returns the fewest any holds. */
static unsigned long
s_burst_settle(subscriber_t *subs, int n, unsigned long want)
{
    int64_t deadline = vl_mono_ms() + 20000;
    unsigned long least = 0;
    for (;;) {
        least = ULONG_MAX;
        long long latest = 0;
        for (int i = 0; i < n; i++) {
            unsigned long got = atomic_load(&subs[i].burst);
            least = got < least ? got : least;
            long long t = atomic_load(&subs[i].last_burst_us);
            latest = t > latest ? t : latest;
        }
        if (n == 0 || least >= want || vl_mono_ms() > deadline
            || (long long) vl_mono_us() - latest > 1000000)
            return n == 0 ? 0 : least;
        zmq_poll(NULL, 0, 10);
    }
}

static unsigned long
s_events_total(subscriber_t *subs, int n)
{
    unsigned long t = 0;
    for (int i = 0; i < n; i++)
        t += atomic_load(&subs[i].events);
    return t;
}

/* CPU time in ns every thread of process pid has used so far (the first
 * field of /proc/PID/task/TID/schedstat), or -1. */
static long long
s_proc_cpu_ns(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int) pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    long long total = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char stat[96];
        snprintf(stat, sizeof stat, "%s/%.20s/schedstat", path, e->d_name);
        FILE *f = fopen(stat, "r");
        long long ns = 0;
        if (f && fscanf(f, "%lld", &ns) == 1)
            total += ns;
        if (f)
            fclose(f);
    }
    closedir(d);
    return total;
}

/* CPU time in ns this process has used so far. */
static long long
s_self_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int
s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static double
s_pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, s_cmp_double);
    size_t i = (size_t) (p * (double) (n - 1) + 0.5);
    return v[i];
}

static void
s_send_json(void *sock, json_t *req)
{
    char *text = json_dumps(req, JSON_COMPACT);
    zmq_send(sock, text, strlen(text), 0);
    free(text);
    json_decref(req);
}

/* Receives one reply (5 s deadline); NULL on timeout. */
static json_t *
s_recv_json(void *sock)
{
    zmq_pollitem_t it = { sock, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll(&it, 1, 5000) <= 0)
        return NULL;
    zmq_msg_t m;
    zmq_msg_init(&m);
    zmq_msg_recv(&m, sock, 0);
    json_t *j = json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), 0, NULL);
    zmq_msg_close(&m);
    return j;
}

typedef struct {
    uint8_t *signed_proposal;
    size_t len;
    uint8_t txid[32];
    char hex[65];
    char *tx_b64;
    double submit_ms, commit_ms;
} item_t;

/* Endorses every item (pipelined) and builds its transaction. Returns the
 * wall time in ms, or -1. */
static double
s_endorse_all(bench_t *b, item_t *items, size_t n)
{
    int64_t t0 = vl_mono_us();
    for (size_t i = 0; i < n; i++) {
        char *p = vl_base64_encode(items[i].signed_proposal, items[i].len);
        s_send_json(b->dealer, json_pack("{s:s, s:I, s:s, s:{s:s}}", "jsonrpc", "2.0", "id",
                                         (json_int_t) i, "method", "endorse", "params",
                                         "proposal", p));
        free(p);
    }
    for (size_t k = 0; k < n; k++) {
        json_t *r = s_recv_json(b->dealer);
        json_t *res = json_object_get(r, "result");
        if (!res) {
            char *t = r ? json_dumps(r, 0) : NULL;
            fprintf(stderr, "endorse failed: %s\n", t ? t : "timeout");
            free(t);
            json_decref(r);
            return -1;
        }
        size_t i = (size_t) json_integer_value(json_object_get(r, "id"));
        uint8_t *result, *endorser, *sig, *tx;
        size_t rl, el, sl, tl;
        vl_err_t err;
        vl_base64_decode(json_string_value(json_object_get(res, "result")), &result, &rl);
        vl_base64_decode(json_string_value(json_object_get(res, "endorser")), &endorser, &el);
        vl_base64_decode(json_string_value(json_object_get(res, "signature")), &sig, &sl);
        client_build_transaction(items[i].signed_proposal, items[i].len, result, rl, endorser, el,
                                 sig, sl, &tx, &tl, &err);
        items[i].tx_b64 = vl_base64_encode(tx, tl);
        free(result);
        free(endorser);
        free(sig);
        free(tx);
        json_decref(r);
    }
    return (double) (vl_mono_us() - t0) / 1000.0;
}

/* Submits all (pipelined, wait=false) and waits for each `tx` event.
 * Returns ms from first submit to last commit, or -1. */
static double
s_submit_all(bench_t *b, item_t *items, size_t n, size_t *invalid)
{
    double start = (double) vl_mono_us() / 1000.0;
    for (size_t i = 0; i < n; i++) {
        items[i].submit_ms = (double) vl_mono_us() / 1000.0;
        s_send_json(b->dealer, json_pack("{s:s, s:I, s:s, s:{s:s, s:b}}", "jsonrpc", "2.0", "id",
                                         (json_int_t) i, "method", "submit", "params",
                                         "transaction", items[i].tx_b64, "wait", 0));
    }
    size_t replies = 0, committed = 0;
    *invalid = 0;
    int64_t deadline = vl_mono_ms() + 60000;
    while ((replies < n || committed < n) && vl_mono_ms() < deadline) {
        zmq_pollitem_t it[2] = { { b->dealer, 0, ZMQ_POLLIN, 0 }, { b->sub, 0, ZMQ_POLLIN, 0 } };
        if (zmq_poll(it, 2, 1000) <= 0)
            continue;
        if (it[0].revents & ZMQ_POLLIN) {
            json_t *r = s_recv_json(b->dealer);
            if (r && json_object_get(r, "error")) {
                char *t = json_dumps(r, 0);
                fprintf(stderr, "submit failed: %s\n", t);
                free(t);
            }
            json_decref(r);
            replies++;
        }
        if (it[1].revents & ZMQ_POLLIN) {
            zmq_msg_t parts[3];
            for (int k = 0; k < 3; k++) {
                zmq_msg_init(&parts[k]);
                zmq_msg_recv(&parts[k], b->sub, 0);
            }
            double now = (double) vl_mono_us() / 1000.0;
            json_t *body = json_loadb(zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]), 0, NULL);
            const char *txid = json_string_value(json_object_get(body, "txid"));
            for (size_t i = 0; txid && i < n; i++)
                if (items[i].commit_ms == 0 && strcmp(items[i].hex, txid) == 0) {
                    items[i].commit_ms = now;
                    committed++;
                    if (json_integer_value(json_object_get(body, "code")) != 0)
                        (*invalid)++;
                    break;
                }
            json_decref(body);
            for (int k = 0; k < 3; k++)
                zmq_msg_close(&parts[k]);
        }
    }
    if (committed < n)
        return -1;
    double last = 0;
    for (size_t i = 0; i < n; i++)
        if (items[i].commit_ms > last)
            last = items[i].commit_ms;
    return last - start;
}

static void
s_free_items(item_t *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(items[i].signed_proposal);
        free(items[i].tx_b64);
    }
}

/* item = key's proposal of contract.function(args); args is consumed. */
static void
s_make_call(bench_t *b, item_t *item, vl_key_t *key, const char *contract, const char *function,
            json_t *args)
{
    memset(item, 0, sizeof *item);
    vl_err_t err;
    uint64_t nonce;
    vl_random_bytes(&nonce, sizeof nonce);
    client_build_proposal(key, b->chain, contract, function, args, nonce, vl_wall_ms(),
                          &item->signed_proposal, &item->len, item->txid, &err);
    vl_hex_encode(item->txid, 32, item->hex);
    json_decref(args);
}

static void
s_make(bench_t *b, item_t *items, vl_key_t **keys, size_t n, bool vehicle)
{
    for (size_t i = 0; i < n; i++) {
        char vin[18];
        snprintf(vin, sizeof vin, "1VLBN%012lu", b->vins++);
        json_t *args = vehicle ? json_pack("{s:s, s:s, s:s, s:i}", "vin", vin, "make", "Bench",
                                           "model", "B", "year", 2020)
                               : json_pack("{s:s, s:s, s:[s]}", "name", "bench", "org", b->org,
                                           "roles", "buyer");
        s_make_call(b, &items[i], keys[i], vehicle ? "vehicle" : "identity", "register", args);
    }
}

/* One item through endorse and submit; 0 when it committed valid. */
static int
s_one(bench_t *b, item_t *item)
{
    size_t invalid = 0;
    int rc = s_endorse_all(b, item, 1) < 0 || s_submit_all(b, item, 1, &invalid) < 0 || invalid;
    s_free_items(item, 1);
    return rc;
}

static const char s_burst_source[] =
    "local M = {}\n"
    "function M.tick(args)\n"
    "  for k = 1, args.n do vl.emit('bench.burst', { k = k, from = args.from }) end\n"
    "  return { emitted = args.n }\n"
    "end\n"
    "return M\n";

/* The event topics' rate: n transactions of events_per_tx events each. */
static int
s_burst(bench_t *b, item_t *items, size_t n, int events_per_tx, subscriber_t *subs, int n_subs)
{
    vl_key_t *key = vl_key_generate();
    int rc = key ? 0 : 1;
    if (rc == 0) {
        s_make_call(b, &items[0], key, "identity", "register",
                    json_pack("{s:s, s:s, s:[s]}", "name", "burst", "org", b->org, "roles",
                              "owner"));
        rc = s_one(b, &items[0]);
    }
    if (rc == 0) {
        s_make_call(b, &items[0], key, "contract", "deploy",
                    json_pack("{s:s, s:s}", "name", "bench_burst", "source", s_burst_source));
        rc = s_one(b, &items[0]);
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        s_make_call(b, &items[i], key, "bench_burst", "tick",
                    json_pack("{s:i, s:I}", "n", events_per_tx, "from", (json_int_t) i));
    size_t invalid = 0;
    double c_ms = -1;
    unsigned long ev0 = 0, ev1 = 0;
    int64_t start_us = 0;
    if (rc == 0 && s_endorse_all(b, items, n) >= 0) {
        ev0 = s_events_total(subs, n_subs);
        start_us = vl_mono_us();
        c_ms = s_submit_all(b, items, n, &invalid);
        ev1 = s_events_total(subs, n_subs);
        s_free_items(items, n);
    }
    unsigned long want = (unsigned long) n * (unsigned long) events_per_tx;
    unsigned long least = s_burst_settle(subs, n_subs, want);
    long long last_us = 0;
    for (int i = 0; i < n_subs; i++) {
        long long t = atomic_load(&subs[i].last_burst_us);
        last_us = t > last_us ? t : last_us;
    }
    if (c_ms <= 0 || invalid) {
        fprintf(stderr, "burst phase failed\n");
        rc = 1;
    } else {
        double all = (double) (ev1 - ev0) / (c_ms / 1000.0);
        printf("events: %zu txs of %d events committed in %.0f ms (%.0f events/s emitted); "
               "received by %d subscribers %.0f/s (%.0f/s each)\n",
               n, events_per_tx, c_ms, (double) n * events_per_tx / (c_ms / 1000.0), n_subs,
               all, n_subs ? all / n_subs : 0.0);
        if (n_subs)
            printf("events delivered: the slowest of %d subscribers got %lu of %lu (%.2f%%); "
                   "the last arrived %.0f ms after the first submit (%.0f events/s each)\n",
                   n_subs, least, want, 100.0 * (double) least / (double) want,
                   (double) (last_us - start_us) / 1000.0,
                   (double) least / ((double) (last_us - start_us) / 1e6));
    }
    vl_key_destroy(&key);
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_submit PATH/TO/vledgerd [BATCH] [ROUNDS] [SUBSCRIBERS]\n");
        return 2;
    }
    size_t batch = argc > 2 ? (size_t) atoi(argv[2]) : 2000;
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    int n_subs = argc > 4 ? atoi(argv[4]) : 0;
    int burst = argc > 5 ? atoi(argv[5]) : 0;
    if (batch < 10 || batch > 20000 || rounds < 1 || rounds > 20 || n_subs < 0
        || n_subs > SUBSCRIBERS_MAX || burst < 0 || burst > 256) {
        fprintf(stderr, "BATCH 10-20000, ROUNDS 1-20, SUBSCRIBERS 0-%d, EVENTS 0-256\n",
                SUBSCRIBERS_MAX);
        return 2;
    }
    char dir[] = "/tmp/vlbench.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    pid_t pid;
    char *av[] = { argv[1], "--dev", "--data", dir, NULL };
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 0, 0);   /* quiet logs */
    if (posix_spawn(&pid, argv[1], &fa, NULL, av, environ) != 0)
        return 1;
    char api[256], events[256] = "";
    vl_err_t err;
    int64_t deadline = vl_mono_ms() + 10000;
    while (client_resolve_endpoint(NULL, dir, api, sizeof api, &err) != 0
           && vl_mono_ms() < deadline) {
        struct timespec ts = { 0, 20000000 };
        nanosleep(&ts, NULL);   /* polling for the file, bounded */
    }
    char path[300];
    snprintf(path, sizeof path, "%s/endpoints.json", dir);
    json_t *eps = json_load_file(path, 0, NULL);
    snprintf(events, sizeof events, "%s", json_string_value(json_object_get(eps, "events")));
    json_decref(eps);

    bench_t b = { 0 };
    void *ctx = zmq_ctx_new();
    b.dealer = zmq_socket(ctx, ZMQ_DEALER);
    b.sub = zmq_socket(ctx, ZMQ_SUB);
    int hwm = 0;
    zmq_setsockopt(b.dealer, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(b.dealer, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(b.sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(b.sub, ZMQ_SUBSCRIBE, "tx", 2);
    zmq_connect(b.dealer, api);
    zmq_connect(b.sub, events);
    client_t *c = client_new(api, 5000, &err);
    json_t *status = NULL;
    if (!c || client_call(c, "status", NULL, &status, &err) != 0) {
        fprintf(stderr, "node not answering: %s\n", err.msg);
        kill(pid, SIGKILL);
        return 1;
    }
    snprintf(b.chain, sizeof b.chain, "%s", json_string_value(json_object_get(status, "chain_id")));
    const char *org = json_string_value(json_object_get(json_object_get(status, "org"), "name"));
    snprintf(b.org, sizeof b.org, "%s", org ? org : "dev");
    json_decref(status);
    client_destroy(&c);
    atomic_bool stop = false;
    subscriber_t subs[SUBSCRIBERS_MAX];
    for (int i = 0; i < n_subs; i++) {
        subs[i] = (subscriber_t) { .ctx = ctx, .endpoint = events, .stop = &stop };
        atomic_init(&subs[i].events, 0);
        atomic_init(&subs[i].burst, 0);
        atomic_init(&subs[i].last_burst_us, 0);
        if (pthread_create(&subs[i].thread, NULL, s_subscriber, &subs[i]) != 0) {
            fprintf(stderr, "cannot start subscriber %d\n", i);
            n_subs = i;
            break;
        }
    }

    double *events_rate = calloc((size_t) rounds * 2, sizeof(double));
    double *endorse_rate = calloc((size_t) rounds * 2, sizeof(double));
    double *commit_rate = calloc((size_t) rounds * 2, sizeof(double));
    double *lat = malloc(batch * sizeof(double));
    double *p50s = calloc((size_t) rounds * 2, sizeof(double));
    double *p99s = calloc((size_t) rounds * 2, sizeof(double));
    double *node_cpu = calloc((size_t) rounds * 2, sizeof(double));   /* us per tx */
    double *self_cpu = calloc((size_t) rounds * 2, sizeof(double));
    item_t *items = calloc(batch, sizeof *items);
    vl_key_t **keys = calloc(batch, sizeof *keys);
    int runs = 0, rc = 0;
    printf("batch %zu txs, %d rounds (identity + vehicle register batches), %d subscribers, "
           "node %s\n", batch, rounds, n_subs, api);
    for (int r = 0; r < rounds && rc == 0; r++) {
        for (size_t i = 0; i < batch; i++)
            keys[i] = vl_key_generate();
        for (int phase = 0; phase < 2 && rc == 0; phase++) {
            s_make(&b, items, keys, batch, phase == 1);
            double e_ms = s_endorse_all(&b, items, batch);
            size_t invalid = 0;
            unsigned long ev0 = s_events_total(subs, n_subs);
            long long node0 = s_proc_cpu_ns(pid), self0 = s_self_cpu_ns();
            double c_ms = e_ms < 0 ? -1 : s_submit_all(&b, items, batch, &invalid);
            long long node1 = s_proc_cpu_ns(pid), self1 = s_self_cpu_ns();
            unsigned long ev1 = s_events_total(subs, n_subs);
            if (e_ms < 0 || c_ms < 0) {
                fprintf(stderr, "round %d failed\n", r);
                rc = 1;
                break;
            }
            for (size_t i = 0; i < batch; i++)
                lat[i] = items[i].commit_ms - items[i].submit_ms;
            endorse_rate[runs] = (double) batch / (e_ms / 1000.0);
            commit_rate[runs] = (double) batch / (c_ms / 1000.0);
            p50s[runs] = s_pct(lat, batch, 0.50);
            p99s[runs] = s_pct(lat, batch, 0.99);
            events_rate[runs] = (double) (ev1 - ev0) / (c_ms / 1000.0);
            node_cpu[runs] = node0 < 0 || node1 < 0 ? -1 : (double) (node1 - node0) / 1e3 / batch;
            self_cpu[runs] = (double) (self1 - self0) / 1e3 / (double) batch;
            printf("round %d %-8s endorse %8.0f/s   submit->commit %8.0f tx/s   latency p50 %6.1f "
                   "ms p99 %6.1f ms   invalid %zu   events received %8.0f/s   CPU per tx: node "
                   "%.0f us, bench %.0f us\n",
                   r, phase ? "vehicle" : "identity", endorse_rate[runs], commit_rate[runs],
                   p50s[runs], p99s[runs], invalid, events_rate[runs], node_cpu[runs],
                   self_cpu[runs]);
            runs++;
            s_free_items(items, batch);
        }
        for (size_t i = 0; i < batch; i++)
            vl_key_destroy(&keys[i]);
    }
    if (runs > 0)
        printf("median over %d batches: endorse %.0f/s, submitted-to-committed %.0f tx/s, latency "
               "p50 %.1f ms, p99 %.1f ms, events received by %d subscribers %.0f/s\n",
               runs, s_pct(endorse_rate, (size_t) runs, 0.5),
               s_pct(commit_rate, (size_t) runs, 0.5), s_pct(p50s, (size_t) runs, 0.5),
               s_pct(p99s, (size_t) runs, 0.5), n_subs, s_pct(events_rate, (size_t) runs, 0.5));
    if (runs > 0)
        printf("median CPU per committed tx in the submit phases: node %.0f us, bench process "
               "(client, %d subscribers, ZeroMQ) %.0f us\n", s_pct(node_cpu, (size_t) runs, 0.5),
               n_subs, s_pct(self_cpu, (size_t) runs, 0.5));
    if (rc == 0 && burst > 0)
        rc = s_burst(&b, items, batch / 10, burst, subs, n_subs);
    atomic_store(&stop, true);
    for (int i = 0; i < n_subs; i++)
        pthread_join(subs[i].thread, NULL);
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    zmq_close(b.dealer);
    zmq_close(b.sub);
    zmq_ctx_term(ctx);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        rc = 1;
    free(items);
    free(keys);
    free(lat);
    free(endorse_rate);
    free(events_rate);
    free(commit_rate);
    free(p50s);
    free(p99s);
    free(node_cpu);
    free(self_cpu);
    return rc;
}
