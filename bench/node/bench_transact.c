/*
 * bench_transact.c — end-to-end transfers through the gateway on a running
 * network: each transaction is a client's proposal sent to its own
 * organisation's node (`transact`), endorsed as its policy and the ledger's
 * guards require, ordered by the validators and committed, timed from the
 * call to the commit answer.
 *
 * Set-up (not timed): K payers registered at --node (its organisation), K
 * payees registered at --payee-node (another organisation), each payer
 * issued money by --issuer-key at --issuer-node. Run: K client threads,
 * each moving 1 cent from its own payer to its own payee (wallet.transfer:
 * the payer's wallet is guarded by its organisation; no two threads touch
 * one key, so no MVCC conflicts) in a closed loop for --duration seconds.
 * Prints committed/s, invalid, errors and latency p50/p90/p99, and a last
 * line RESULT tps=N p50_ms=X p99_ms=Y clients=K.
 *
 *   bench_transact --node API --payee-node API --issuer-node API --issuer-key PEM
 *                  [--clients K] [--duration S]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "client.h"
#include "clock.h"
#include "crypto.h"
#include "did.h"

#define MAX_CLIENTS 256
#define MAX_SAMPLES 200000

typedef struct {
    const char *node;
    vl_key_t *payer;
    char payee[VL_DID_BUF];
    int64_t end_ms;
    double *lat;          /* owned by the bench; this thread's slice */
    size_t cap, n;
    long committed, invalid, errors;
} worker_t;

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

/* Registers key as an identity of the organisation of the node at api. */
static int
s_register(const char *api, vl_key_t *key, const char *name, vl_err_t *err)
{
    client_t *c = client_new(api, 10000, err);
    json_t *st = NULL, *out = NULL;
    int rc = c ? client_call(c, "status", NULL, &st, err) : VL_ERR_INVALID;
    const char *org = json_string_value(json_object_get(json_object_get(st, "org"), "name"));
    if (rc == 0) {
        json_t *args = json_pack("{s:s, s:s, s:[s]}", "name", name, "org", org ? org : "",
                                 "roles", "buyer");
        rc = client_transact(c, key, NULL, "identity", "register", args, 20000, &out, err);
        json_decref(args);
    }
    json_decref(out);
    json_decref(st);
    client_destroy(&c);
    return rc;
}

static void *
s_run(void *arg)
{
    worker_t *w = arg;
    vl_err_t err = { "" };
    client_t *c = client_new(w->node, 10000, &err);
    if (!c) {
        w->errors++;
        return NULL;
    }
    json_t *args = json_pack("{s:s, s:i}", "to", w->payee, "cents", 1);
    while (vl_mono_ms() < w->end_ms) {
        json_t *out = NULL;
        int64_t t0 = vl_mono_ms();
        int rc = client_transact(c, w->payer, NULL, "wallet", "transfer", args, 20000, &out, &err);
        double ms = (double) (vl_mono_ms() - t0);
        if (rc == 0) {
            w->committed++;
            if (w->n < w->cap)
                w->lat[w->n++] = ms;
        } else if (client_last_tx_fate(c) == CLIENT_TX_INVALID) {
            w->invalid++;
        } else {
            w->errors++;
            if (w->errors <= 3)
                fprintf(stderr, "bench_transact: %s\n", err.msg);
        }
        json_decref(out);
    }
    json_decref(args);
    client_destroy(&c);
    return NULL;
}

int
main(int argc, char **argv)
{
    const char *node = NULL, *payee_node = NULL, *issuer_node = NULL, *issuer_key = NULL;
    long clients = 32, duration = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--node")) node = argv[i + 1];
        else if (!strcmp(argv[i], "--payee-node")) payee_node = argv[i + 1];
        else if (!strcmp(argv[i], "--issuer-node")) issuer_node = argv[i + 1];
        else if (!strcmp(argv[i], "--issuer-key")) issuer_key = argv[i + 1];
        else if (!strcmp(argv[i], "--clients")) clients = strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--duration")) duration = strtol(argv[i + 1], NULL, 10);
    }
    if (!node || !payee_node || !issuer_node || !issuer_key || clients < 1
        || clients > MAX_CLIENTS || duration < 1 || duration > 600) {
        fprintf(stderr, "usage: bench_transact --node API --payee-node API --issuer-node API "
                        "--issuer-key PEM [--clients 1-%d] [--duration 1-600]\n", MAX_CLIENTS);
        return 2;
    }
    vl_err_t err = { "" };
    vl_key_t *issuer = vl_key_load_pem(issuer_key, &err);
    client_t *ic = issuer ? client_new(issuer_node, 10000, &err) : NULL;
    if (!ic) {
        fprintf(stderr, "bench_transact: %s\n", err.msg);
        return 1;
    }
    worker_t *w = calloc((size_t) clients, sizeof *w);
    size_t per = MAX_SAMPLES / (size_t) clients;
    double *lat = malloc(MAX_SAMPLES * sizeof *lat);
    int rc = 0;
    for (long i = 0; i < clients && rc == 0; i++) {
        vl_key_t *payee = vl_key_generate();
        w[i] = (worker_t) { .node = node, .payer = vl_key_generate(), .lat = lat + i * per,
                            .cap = per };
        vl_did_from_public(vl_key_public(payee), w[i].payee);
        char payer_did[VL_DID_BUF];
        vl_did_from_public(vl_key_public(w[i].payer), payer_did);
        json_t *args = json_pack("{s:s, s:i}", "to", payer_did, "cents", 100000000), *out = NULL;
        if ((rc = s_register(node, w[i].payer, "bench-payer", &err)) == 0
            && (rc = s_register(payee_node, payee, "bench-payee", &err)) == 0)
            rc = client_transact(ic, issuer, NULL, "wallet", "issue", args, 20000, &out, &err);
        json_decref(args);
        json_decref(out);
        vl_key_destroy(&payee);
    }
    client_destroy(&ic);
    if (rc != 0) {
        fprintf(stderr, "bench_transact: set-up: %s\n", err.msg);
        return 1;
    }
    printf("%ld clients, %ld s, gateway %s, payees at %s\n", clients, duration, node, payee_node);
    int64_t start = vl_mono_ms();
    pthread_t *t = calloc((size_t) clients, sizeof *t);
    for (long i = 0; i < clients; i++) {
        w[i].end_ms = start + duration * 1000;
        pthread_create(&t[i], NULL, s_run, &w[i]);
    }
    long committed = 0, invalid = 0, errors = 0;
    size_t n = 0;
    for (long i = 0; i < clients; i++) {
        pthread_join(t[i], NULL);
        committed += w[i].committed;
        invalid += w[i].invalid;
        errors += w[i].errors;
        memmove(lat + n, w[i].lat, w[i].n * sizeof *lat);
        n += w[i].n;
        vl_key_destroy(&w[i].payer);
    }
    double secs = (double) (vl_mono_ms() - start) / 1000.0;
    qsort(lat, n, sizeof *lat, s_cmp);
    double p50 = n ? lat[(n - 1) / 2] : 0, p90 = n ? lat[(size_t) (0.9 * (double) (n - 1))] : 0;
    double p99 = n ? lat[(size_t) (0.99 * (double) (n - 1))] : 0;
    printf("committed %ld (%.0f/s), invalid %ld, errors %ld; latency p50 %.1f ms, p90 %.1f ms, "
           "p99 %.1f ms\n", committed, (double) committed / secs, invalid, errors, p50, p90, p99);
    printf("RESULT tps=%.0f p50_ms=%.1f p99_ms=%.1f clients=%ld\n", (double) committed / secs,
           p50, p99, clients);
    free(t);
    free(w);
    free(lat);
    vl_key_destroy(&issuer);
    return errors == 0 ? 0 : 1;
}
