/* metrics.c — the Prometheus endpoint (metrics.h): the text format and
 * the libmicrohttpd server around the published snapshot. */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#define METRICS_TEXT_MAX (64u << 10)
#define METRICS_CONNECTIONS_MAX 16
#define METRICS_CONNECTION_TIMEOUT_S 10

const int64_t metrics_latency_bounds_ms[METRICS_LATENCY_BUCKETS] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
};

void
metrics_histogram_observe(metrics_histogram_t *h, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    size_t b = 0;
    while (b < METRICS_LATENCY_BUCKETS && ms > metrics_latency_bounds_ms[b])
        b++;
    h->buckets[b]++;
    h->count++;
    h->sum_ms += (uint64_t) ms;
}

/* --- The text format ---------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t size, len;
    bool full;
} s_out_t;

static void __attribute__((format(printf, 2, 3)))
s_put(s_out_t *o, const char *fmt, ...)
{
    if (o->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t) n >= o->size - o->len)
        o->full = true;
    else
        o->len += (size_t) n;
}

static void
s_head(s_out_t *o, const char *name, const char *type, const char *help)
{
    s_put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
s_one(s_out_t *o, const char *name, const char *type, const char *help, uint64_t v)
{
    s_head(o, name, type, help);
    s_put(o, "%s %llu\n", name, (unsigned long long) v);
}

/* A label value as the format wants it: \ " and newline escaped. */
static void
s_label(char *out, size_t size, const char *v)
{
    size_t k = 0;
    for (; *v && k + 2 < size; v++) {
        if (*v == '\\' || *v == '"' || *v == '\n') {
            out[k++] = '\\';
            out[k++] = *v == '\n' ? 'n' : *v;
        } else
            out[k++] = *v;
    }
    out[k] = 0;
}

int
metrics_format(const metrics_snapshot_t *s, char *buf, size_t size)
{
    s_out_t o = { buf, size, 0, size == 0 };
    char chain[140], node[140], org[140];
    s_label(chain, sizeof chain, s->chain_id);
    s_label(node, sizeof node, s->node);
    s_label(org, sizeof org, s->org);
    s_head(&o, "vledger_info", "gauge", "This node: its chain, name and organisation (always 1).");
    s_put(&o, "vledger_info{chain_id=\"%s\",node=\"%s\",org=\"%s\"} 1\n", chain, node, org);
    s_one(&o, "vledger_height", "gauge", "Height of the last committed block.", s->height);
    static const char *states[METRICS_PEER_STATES] = { "alive", "suspect", "dead", "unknown",
                                                       "refused" };
    s_head(&o, "vledger_peers", "gauge",
           "Peers by state (refused: another genesis hash, whatever their liveness).");
    for (int i = 0; i < METRICS_PEER_STATES; i++)
        s_put(&o, "vledger_peers{state=\"%s\"} %llu\n", states[i],
              (unsigned long long) s->peers[i]);
    s_one(&o, "vledger_mempool_transactions", "gauge", "Transactions waiting to be ordered.",
          s->mempool_txs);
    s_one(&o, "vledger_mempool_bytes", "gauge", "Bytes of the transactions waiting.",
          s->mempool_bytes);
    s_one(&o, "vledger_committed_blocks_total", "counter",
          "Blocks committed by this node since it started.", s->blocks_committed);
    s_one(&o, "vledger_committed_transactions_total", "counter",
          "Transactions in the blocks committed since start (valid and invalid).",
          s->txs_committed);
    const metrics_histogram_t *h = &s->commit_latency;
    s_head(&o, "vledger_commit_latency_seconds", "histogram",
           "Seconds from a transaction's admission to this node's mempool to its commit here.");
    uint64_t cum = 0;
    for (int b = 0; b < METRICS_LATENCY_BUCKETS; b++) {
        cum += h->buckets[b];
        s_put(&o, "vledger_commit_latency_seconds_bucket{le=\"%g\"} %llu\n",
              (double) metrics_latency_bounds_ms[b] / 1000.0, (unsigned long long) cum);
    }
    cum += h->buckets[METRICS_LATENCY_BUCKETS];
    s_put(&o, "vledger_commit_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
          (unsigned long long) cum);
    s_put(&o, "vledger_commit_latency_seconds_sum %.3f\n", (double) h->sum_ms / 1000.0);
    s_put(&o, "vledger_commit_latency_seconds_count %llu\n", (unsigned long long) h->count);
    s_one(&o, "vledger_endorsements_served_total", "counter",
          "Endorsements this node signed (for its own gateway, clients and other organisations).",
          s->endorsements_served);
    s_one(&o, "vledger_endorsements_refused_total", "counter",
          "Endorsements this node refused (execution failed or its rules said no).",
          s->endorsements_refused);
    s_head(&o, "vledger_gossip_copies_total", "counter",
           "Gossip envelopes: copies received (duplicates included), duplicates, relayed, "
           "published.");
    s_put(&o, "vledger_gossip_copies_total{kind=\"received\"} %llu\n"
              "vledger_gossip_copies_total{kind=\"duplicate\"} %llu\n"
              "vledger_gossip_copies_total{kind=\"relayed\"} %llu\n"
              "vledger_gossip_copies_total{kind=\"published\"} %llu\n",
          (unsigned long long) s->gossip_received, (unsigned long long) s->gossip_duplicates,
          (unsigned long long) s->gossip_relayed, (unsigned long long) s->gossip_published);
    s_head(&o, "vledger_gossip_pulls_total", "counter",
           "Anti-entropy pulls: requests sent, blocks received, requests timed out.");
    s_put(&o, "vledger_gossip_pulls_total{kind=\"requests\"} %llu\n"
              "vledger_gossip_pulls_total{kind=\"blocks\"} %llu\n"
              "vledger_gossip_pulls_total{kind=\"timeouts\"} %llu\n",
          (unsigned long long) s->pull_requests, (unsigned long long) s->pull_blocks,
          (unsigned long long) s->pull_timeouts);
    s_head(&o, "vledger_gossip_refused_total", "counter",
           "Messages refused: from a member with another genesis, a non-member, a bad "
           "signature.");
    s_put(&o, "vledger_gossip_refused_total{reason=\"genesis\"} %llu\n"
              "vledger_gossip_refused_total{reason=\"not_member\"} %llu\n"
              "vledger_gossip_refused_total{reason=\"bad_signature\"} %llu\n",
          (unsigned long long) s->refused_genesis, (unsigned long long) s->refused_not_member,
          (unsigned long long) s->refused_bad_signature);
    s_one(&o, "vledger_consensus_rounds_total", "counter",
          "Tendermint rounds this validator took part in.", s->consensus_rounds);
    s_one(&o, "vledger_consensus_timeouts_total", "counter",
          "Consensus timeouts that fired while their round was current.", s->consensus_timeouts);
    return o.full ? -1 : (int) o.len;
}

/* --- The server ------------------------------------------------------------------ */

struct metrics_t {
    struct MHD_Daemon *daemon;    /* owned: its thread answers scrapes */
    pthread_mutex_t lock;         /* guards snapshot */
    metrics_snapshot_t snapshot;  /* the latest published */
    char url[160];
};

static enum MHD_Result
s_queue_text(struct MHD_Connection *c, unsigned int status, char *text, size_t len,
             enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            status == MHD_HTTP_OK ? "text/plain; version=0.0.4; charset=utf-8"
                                                  : "text/plain; charset=utf-8");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
s_answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
         const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    metrics_t *m = cls;
    static char not_found[] = "not found: the metrics are at /metrics\n";
    static char not_allowed[] = "only GET /metrics\n";
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return s_queue_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed,
                            sizeof not_allowed - 1, MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/metrics") != 0)
        return s_queue_text(c, MHD_HTTP_NOT_FOUND, not_found, sizeof not_found - 1,
                            MHD_RESPMEM_PERSISTENT);
    metrics_snapshot_t s;
    pthread_mutex_lock(&m->lock);
    s = m->snapshot;
    pthread_mutex_unlock(&m->lock);
    char *text = malloc(METRICS_TEXT_MAX);
    int n = text ? metrics_format(&s, text, METRICS_TEXT_MAX) : -1;
    if (n < 0) {
        free(text);
        return MHD_NO;   /* MHD closes the connection */
    }
    return s_queue_text(c, MHD_HTTP_OK, text, (size_t) n, MHD_RESPMEM_MUST_FREE);
}

metrics_t *
metrics_new(const char *host, int port, vl_err_t *err)
{
    struct sockaddr_in sa = { 0 };
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t) port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        vl_err_set(err, VL_ERR_INVALID, "'metrics': '%s' is not an IPv4 address", host);
        return NULL;
    }
    /* Our own listening socket, so a bind failure says why. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    socklen_t len = sizeof sa;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0
        || bind(fd, (struct sockaddr *) &sa, sizeof sa) != 0 || listen(fd, 16) != 0
        || getsockname(fd, (struct sockaddr *) &sa, &len) != 0) {
        vl_err_set(err, VL_ERR_IO, "cannot serve metrics on %s:%d: %s (set 'metrics' in "
                   "node.json to a free port of this host's)", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    metrics_t *m = calloc(1, sizeof *m);
    if (!m) {
        close(fd);
        vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    snprintf(m->url, sizeof m->url, "http://%s:%u/metrics", host, (unsigned) ntohs(sa.sin_port));
    m->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL,
                                 s_answer, m, MHD_OPTION_LISTEN_SOCKET, fd,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned) METRICS_CONNECTIONS_MAX,
                                 MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned) METRICS_CONNECTION_TIMEOUT_S, MHD_OPTION_END);
    if (!m->daemon) {
        close(fd);
        pthread_mutex_destroy(&m->lock);
        free(m);
        vl_err_set(err, VL_ERR_IO, "cannot start the metrics server on %s:%d", host, port);
        return NULL;
    }
    return m;
}

void
metrics_destroy(metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    metrics_t *m = *self_p;
    MHD_stop_daemon(m->daemon);   /* joins its thread and closes the socket */
    pthread_mutex_destroy(&m->lock);
    free(m);
    *self_p = NULL;
}

void
metrics_publish(metrics_t *m, const metrics_snapshot_t *s)
{
    pthread_mutex_lock(&m->lock);
    m->snapshot = *s;
    pthread_mutex_unlock(&m->lock);
}

const char *
metrics_url(const metrics_t *m)
{
    return m->url;
}
