/*
 * metrics.h — the node's Prometheus endpoint (node.json "metrics"): text
 * format 0.0.4 at http://HOST:PORT/metrics, served by libmicrohttpd.
 *
 * Threads: MHD answers on a thread of its own and never touches node state.
 * The node's loop thread fills a metrics_snapshot_t (plain numbers) and
 * publishes a copy with metrics_publish once per housekeeping tick; the
 * MHD thread copies the latest one out under the same mutex and formats it
 * (metrics_format, pure). A scrape therefore sees values at most one tick
 * old, and always a consistent set.
 *
 * Exposed (HELP and TYPE for each; counters end in _total):
 *
 * | metric                                   | type      | from                     |
 * |------------------------------------------|-----------|--------------------------|
 * | vledger_info{chain_id,node,org}          | gauge 1   | genesis, node.json       |
 * | vledger_height                           | gauge     | the ledger's height      |
 * | vledger_peers{state}                     | gauge     | alive, suspect, dead,    |
 * |                                          |           | unknown, refused         |
 * | vledger_mempool_transactions, _bytes     | gauge     | the mempool              |
 * | vledger_committed_blocks_total           | counter   | the commit pipeline      |
 * | vledger_committed_transactions_total     | counter   | (valid and invalid)      |
 * | vledger_commit_latency_seconds           | histogram | admission here -> commit |
 * | vledger_endorsements_served_total        | counter   | endorsements signed      |
 * | vledger_endorsements_refused_total       | counter   | endorsements refused     |
 * | vledger_gossip_copies_total{kind}        | counter   | received, duplicate,     |
 * |                                          |           | relayed, published       |
 * | vledger_gossip_pulls_total{kind}         | counter   | requests, blocks,        |
 * |                                          |           | timeouts                 |
 * | vledger_gossip_refused_total{reason}     | counter   | genesis, not_member,     |
 * |                                          |           | bad_signature            |
 * | vledger_consensus_rounds_total           | counter   | Tendermint rounds        |
 * | vledger_consensus_timeouts_total         | counter   | round timeouts fired     |
 */
#ifndef VL_METRICS_H
#define VL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Upper bounds of the commit latency buckets, milliseconds (+Inf last). */
#define METRICS_LATENCY_BUCKETS 12
extern const int64_t metrics_latency_bounds_ms[METRICS_LATENCY_BUCKETS];

typedef struct {
    uint64_t buckets[METRICS_LATENCY_BUCKETS + 1];   /* not cumulative; last = +Inf */
    uint64_t count;
    uint64_t sum_ms;
} metrics_histogram_t;

/* Adds one observation (negative values count as 0). */
void metrics_histogram_observe(metrics_histogram_t *h, int64_t ms);

enum { METRICS_PEER_ALIVE, METRICS_PEER_SUSPECT, METRICS_PEER_DEAD, METRICS_PEER_UNKNOWN,
       METRICS_PEER_REFUSED, METRICS_PEER_STATES };

typedef struct {
    char chain_id[65];
    char node[64];
    char org[64];
    uint64_t height;
    uint64_t peers[METRICS_PEER_STATES];
    uint64_t mempool_txs, mempool_bytes;
    uint64_t blocks_committed, txs_committed;
    metrics_histogram_t commit_latency;
    uint64_t endorsements_served, endorsements_refused;
    uint64_t gossip_received, gossip_duplicates, gossip_relayed, gossip_published;
    uint64_t pull_requests, pull_blocks, pull_timeouts;
    uint64_t refused_genesis, refused_not_member, refused_bad_signature;
    uint64_t consensus_rounds, consensus_timeouts;
} metrics_snapshot_t;

/* The text exposition of s into buf (size bytes, NUL-terminated). Returns
 * the length, or -1 when buf is too small. Pure. */
int metrics_format(const metrics_snapshot_t *s, char *buf, size_t size);

typedef struct metrics_t metrics_t;

/* Listens on host (numeric IPv4) : port (0 = any free) and serves /metrics
 * on MHD's own thread. NULL with VL_ERR_IO naming the address and the
 * reason (e.g. in use) when it cannot. */
metrics_t *metrics_new(const char *host, int port, vl_err_t *err);

/* Stops the server (waits for its thread) and frees; accepts NULL. */
void metrics_destroy(metrics_t **self_p);

/* Replaces the snapshot scrapes see (copied). Any thread; the node's loop. */
void metrics_publish(metrics_t *m, const metrics_snapshot_t *s);

/* "http://HOST:PORT/metrics" with the bound port. Borrowed until destroy. */
const char *metrics_url(const metrics_t *m);
#endif
