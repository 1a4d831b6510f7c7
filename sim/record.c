/*
 * record.c — what a simulator run saw (record.h).
 */
#include "record.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
sim_rec_init(sim_rec_t *rec, int64_t start_ms)
{
    memset(rec, 0, sizeof *rec);
    pthread_mutex_init(&rec->lock, NULL);
    rec->start_ms = start_ms;
    rec->latency_ms = malloc(sizeof *rec->latency_ms * SIM_REC_SAMPLES_MAX);
    rec->violations = json_array();
    rec->invalid_codes = json_object();
    if (!rec->latency_ms || !rec->violations || !rec->invalid_codes) {
        sim_rec_free(rec);
        return VL_ERR_NOMEM;
    }
    return 0;
}

void
sim_rec_restart(sim_rec_t *rec, int64_t start_ms)
{
    pthread_mutex_lock(&rec->lock);
    rec->start_ms = start_ms;
    memset(rec->count, 0, sizeof rec->count);
    memset(rec->per_second, 0, sizeof rec->per_second);
    rec->n_latency = 0;
    rec->n_sorted = 0;
    json_object_clear(rec->invalid_codes);
    pthread_mutex_unlock(&rec->lock);
}

void
sim_rec_free(sim_rec_t *rec)
{
    free(rec->latency_ms);
    free(rec->acked);
    json_decref(rec->violations);
    json_decref(rec->invalid_codes);
    pthread_mutex_destroy(&rec->lock);
    memset(rec, 0, sizeof *rec);
}

void
sim_rec_tx(sim_rec_t *rec, sim_outcome_t outcome, const char *txid, int64_t sent_ms,
           int64_t done_ms, const char *code_name)
{
    pthread_mutex_lock(&rec->lock);
    rec->count[outcome]++;
    if (outcome == SIM_OUT_COMMITTED) {
        int64_t second = (done_ms - rec->start_ms) / 1000;
        if (second >= 0 && second < SIM_REC_SECONDS_MAX)
            rec->per_second[second]++;
        if (rec->n_latency < SIM_REC_SAMPLES_MAX)
            rec->latency_ms[rec->n_latency++] = (double) (done_ms - sent_ms);
        if (txid && strlen(txid) == SIM_TXID_HEX - 1) {
            if (rec->n_acked == rec->cap_acked) {
                size_t cap = rec->cap_acked ? rec->cap_acked * 2 : 4096;
                sim_acked_t *a = realloc(rec->acked, cap * sizeof *a);
                if (a) {
                    rec->acked = a;
                    rec->cap_acked = cap;
                }
            }
            if (rec->n_acked < rec->cap_acked) {
                sim_acked_t *a = &rec->acked[rec->n_acked++];
                memcpy(a->txid, txid, SIM_TXID_HEX);
                a->committed_ms = done_ms;
            }
        }
    } else if (outcome == SIM_OUT_INVALID) {
        const char *code = code_name && *code_name ? code_name : "?";
        json_t *n = json_object_get(rec->invalid_codes, code);
        json_object_set_new(rec->invalid_codes, code,
                            json_integer(n ? json_integer_value(n) + 1 : 1));
    }
    pthread_mutex_unlock(&rec->lock);
}

void
sim_rec_violation(sim_rec_t *rec, const char *check, int node, long long height,
                  const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    json_t *v = json_pack("{s:s, s:s}", "check", check, "detail", detail);
    if (node >= 0) {
        char name[32];
        snprintf(name, sizeof name, "node%d", node);
        json_object_set_new(v, "node", json_string(name));
    }
    if (height >= 0)
        json_object_set_new(v, "height", json_integer(height));
    pthread_mutex_lock(&rec->lock);
    json_array_append_new(rec->violations, v);
    pthread_mutex_unlock(&rec->lock);
}

sim_outcome_t
sim_outcome_of(int rc, client_tx_fate_t fate)
{
    if (rc == 0 || fate == CLIENT_TX_COMMITTED)
        return SIM_OUT_COMMITTED;
    if (fate == CLIENT_TX_INVALID)
        return SIM_OUT_INVALID;
    if (fate == CLIENT_TX_UNKNOWN)
        return SIM_OUT_UNKNOWN;
    return rc == VL_ERR_TIMEOUT ? SIM_OUT_UNKNOWN : SIM_OUT_REFUSED;
}

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

double
sim_rec_percentile(sim_rec_t *rec, double p)
{
    pthread_mutex_lock(&rec->lock);
    double v = 0;
    if (rec->n_latency) {
        if (rec->n_sorted != rec->n_latency) {
            qsort(rec->latency_ms, rec->n_latency, sizeof *rec->latency_ms, s_cmp);
            rec->n_sorted = rec->n_latency;
        }
        size_t k = (size_t) (p / 100.0 * (double) (rec->n_latency - 1) + 0.5);
        v = rec->latency_ms[k < rec->n_latency ? k : rec->n_latency - 1];
    }
    pthread_mutex_unlock(&rec->lock);
    return v;
}
