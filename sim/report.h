/*
 * report.h — a simulator run's report directory: report.json (the fields
 * INTERFACE.md "Simulator" lists, plus memory and CPU per node), the
 * series behind the plots, the PNG plots drawn by gnuplot (throughput over
 * time with the fault windows shaded, the latency CDF, height per node
 * over time) and report.md embedding them.
 */
#ifndef VL_SIM_REPORT_H
#define VL_SIM_REPORT_H

#include <stdint.h>

#include <jansson.h>

#include "record.h"
#include "simnet.h"

#define SIM_SAMPLES_MAX 4096          /* height samples kept (one per tick) */

/* Heights of every node at one moment (-1: not answering). */
typedef struct {
    int64_t t_ms;                     /* offset into the run */
    int *height;                      /* [net->n], owned */
} sim_sample_t;

/* Per node: what its processes used (summed over restarts). */
typedef struct {
    long rss_max_kb;
    double cpu_s;                     /* user + system, every process of the node */
    double cpu_s_current;             /* of the process running now */
    pid_t pid_current;
} sim_usage_t;

typedef struct {
    const char *scenario;
    uint64_t seed;
    int duration_s;
    double rate;
    const char *faults_asked;
    json_t *faults;                   /* [{kind, lane, start_ms, end_ms, nodes, mode}] */
    json_t *invariants_summary;       /* sim_inv_check's summary */
    sim_sample_t *samples;
    int n_samples;
    sim_usage_t *usage;               /* [net->n] */
    double dissemination_p50, dissemination_p99;
    int64_t run_ms;                   /* measured length of the load phase */
} sim_report_in_t;

/* Samples /proc for node i's process (rss, cpu). */
void sim_usage_sample(sim_usage_t *u, pid_t pid);

/* Per height, the spread of `block.commit` log times over the nodes that
 * committed it within 10 s of the first (later ones caught up after a
 * fault); p50 and p99 of the spread over heights. */
void sim_dissemination(const sim_net_t *net, double *p50, double *p99);

/* Writes DIR/report.json, the data files, the plots (when gnuplot is
 * there: otherwise says so on stderr) and DIR/report.md. */
int sim_report_write(const char *dir, const sim_net_t *net, sim_rec_t *rec,
                     const sim_report_in_t *in, vl_err_t *err);

#endif
