/*
 * record.h — what a simulator run saw, as the clients saw it: every
 * transaction it sent (its txid, when it was sent, when and how it ended),
 * per-second counters for the throughput plot, latency samples, and the
 * violations the checks found. The invariant checks read the acknowledged
 * txids (committed, as the node told the client) back from here.
 *
 * Thread-safe: scenario workers record concurrently (one mutex).
 */
#ifndef VL_SIM_RECORD_H
#define VL_SIM_RECORD_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "client.h"

#define SIM_REC_SECONDS_MAX 7200      /* per-second buckets kept */
#define SIM_REC_SAMPLES_MAX 2000000   /* latency samples kept */
#define SIM_TXID_HEX 65

typedef enum {
    SIM_OUT_COMMITTED = 0,   /* acknowledged: committed with code 0 */
    SIM_OUT_INVALID,         /* committed with a code (MVCC, policy): changed nothing */
    SIM_OUT_REFUSED,         /* refused before ordering (contract, endorser) */
    SIM_OUT_UNKNOWN,         /* sent, fate not known (timeout, node down) */
    SIM_OUT_KINDS
} sim_outcome_t;

typedef struct {
    char txid[SIM_TXID_HEX];
    int64_t committed_ms;    /* when the client learnt of it */
} sim_acked_t;

typedef struct {
    pthread_mutex_t lock;
    int64_t start_ms;                     /* the run's clock zero */
    uint64_t count[SIM_OUT_KINDS];
    uint64_t per_second[SIM_REC_SECONDS_MAX];   /* committed, by second of the run */
    double *latency_ms;                   /* committed: send to commit answer */
    size_t n_latency;
    size_t n_sorted;                      /* latency_ms[0..n_sorted) is sorted */
    sim_acked_t *acked;                   /* every acknowledged tx */
    size_t n_acked, cap_acked;
    json_t *violations;                   /* [{check, node, height, detail}] */
    json_t *invalid_codes;                /* {CODE_NAME: count} */
} sim_rec_t;

int sim_rec_init(sim_rec_t *rec, int64_t start_ms);
void sim_rec_free(sim_rec_t *rec);

/* The clock starts again at start_ms: counters, per-second buckets and
 * latency samples cleared (the set-up's transactions are not the load's);
 * acknowledged txids and violations kept, since they are still checked. */
void sim_rec_restart(sim_rec_t *rec, int64_t start_ms);

/* One transaction's end: outcome with its txid (may be "" for one never
 * built), when it was sent and when the answer came. code_name for an
 * invalid one (may be NULL). */
void sim_rec_tx(sim_rec_t *rec, sim_outcome_t outcome, const char *txid, int64_t sent_ms,
                int64_t done_ms, const char *code_name);

/* A violated invariant: check names it ("same_state", "money", ...), node
 * the replica (-1: the network), height where it was seen (-1: none). */
void sim_rec_violation(sim_rec_t *rec, const char *check, int node, long long height,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The outcome of client_transact's return code and the client's fate. */
sim_outcome_t sim_outcome_of(int rc, client_tx_fate_t fate);

/* Latency percentile p (0..100) over committed txs; 0 when none. Sorts the
 * samples once, when new ones came (call after the run). */
double sim_rec_percentile(sim_rec_t *rec, double p);

#endif
