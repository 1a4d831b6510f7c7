/*
 * report.c — the report directory of a simulator run (report.h).
 */
#include "report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SIM_LATE_MS 10000       /* a commit this long after the first is a catch-up */
#define SIM_HEIGHTS_MAX 200000

void
sim_usage_sample(sim_usage_t *u, pid_t pid)
{
    if (pid <= 0)
        return;
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command's closing parenthesis: utime is the 14th
     * field of the line, stime the 15th. */
    const char *p = strrchr(buf, ')');
    unsigned long utime = 0, stime = 0;
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                    &stime) == 2) {
        double s = (double) (utime + stime) / (double) sysconf(_SC_CLK_TCK);
        if (pid != u->pid_current) {
            u->cpu_s += u->cpu_s_current;
            u->pid_current = pid;
        }
        u->cpu_s_current = s;
    }
    snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
    f = fopen(path, "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        long kb;
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1 && kb > u->rss_max_kb)
            u->rss_max_kb = kb;
    }
    fclose(f);
}

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

static int
s_cmp_d(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

void
sim_dissemination(const sim_net_t *net, double *p50, double *p99)
{
    *p50 = *p99 = 0;
    int64_t *first = calloc(SIM_HEIGHTS_MAX, sizeof *first);
    int64_t *last = calloc(SIM_HEIGHTS_MAX, sizeof *last);
    double *spread = calloc(SIM_HEIGHTS_MAX, sizeof *spread);
    if (!first || !last || !spread)
        goto done;
    /* Two passes over the logs: the first commit of each height, then the
     * last one within SIM_LATE_MS of it. */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < net->n; i++) {
            char path[SIM_PATH_MAX + 8], line[1024];
            snprintf(path, sizeof path, "%s.log", net->node[i].dir);
            FILE *f = fopen(path, "r");
            while (f && fgets(line, sizeof line, f)) {
                const char *h = strstr(line, "ev=block.commit height=");
                if (!h)
                    continue;
                long height = strtol(h + strlen("ev=block.commit height="), NULL, 10);
                int64_t ts = s_line_ts(line);
                if (height <= 0 || height >= SIM_HEIGHTS_MAX || ts < 0)
                    continue;
                if (pass == 0 && (!first[height] || ts < first[height]))
                    first[height] = ts;
                if (pass == 1 && ts - first[height] <= SIM_LATE_MS && ts > last[height])
                    last[height] = ts;
            }
            if (f)
                fclose(f);
        }
    size_t n = 0;
    for (long h = 1; h < SIM_HEIGHTS_MAX; h++)
        if (first[h] && last[h])
            spread[n++] = (double) (last[h] - first[h]);
    if (n) {
        qsort(spread, n, sizeof *spread, s_cmp_d);
        *p50 = spread[(size_t) (0.50 * (double) (n - 1) + 0.5)];
        *p99 = spread[(size_t) (0.99 * (double) (n - 1) + 0.5)];
    }
done:
    free(first);
    free(last);
    free(spread);
}

static FILE *
s_open(const char *dir, const char *name, vl_err_t *err)
{
    char path[SIM_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        vl_err_set(err, VL_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    return f;
}

/* The series the plots read. */
static int
s_data(const char *dir, const sim_net_t *net, sim_rec_t *rec, const sim_report_in_t *in,
       vl_err_t *err)
{
    FILE *f = s_open(dir, "throughput.dat", err);
    if (!f)
        return VL_ERR_IO;
    fprintf(f, "# second committed_tx\n");
    int seconds = (int) (in->run_ms / 1000) + 1;
    for (int s = 0; s < seconds && s < SIM_REC_SECONDS_MAX; s++)
        fprintf(f, "%d %llu\n", s, (unsigned long long) rec->per_second[s]);
    fclose(f);

    if (!(f = s_open(dir, "faults.dat", err)))
        return VL_ERR_IO;
    fprintf(f, "# start_s end_s lane kind\n");
    size_t k;
    json_t *x;
    json_array_foreach(in->faults, k, x)
        fprintf(f, "%.3f %.3f %lld %s\n", (double) json_integer_value(json_object_get(x, "start_ms")) / 1000,
                (double) json_integer_value(json_object_get(x, "end_ms")) / 1000,
                (long long) json_integer_value(json_object_get(x, "lane")),
                json_string_value(json_object_get(x, "kind")));
    fclose(f);

    if (!(f = s_open(dir, "latency.dat", err)))
        return VL_ERR_IO;
    fprintf(f, "# latency_ms fraction (committed txs, sorted)\n");
    sim_rec_percentile(rec, 50);   /* sorts */
    size_t step = rec->n_latency > 2000 ? rec->n_latency / 2000 : 1;
    for (size_t i = 0; i < rec->n_latency; i += step)
        fprintf(f, "%.1f %.5f\n", rec->latency_ms[i], (double) (i + 1) / (double) rec->n_latency);
    if (rec->n_latency)
        fprintf(f, "%.1f 1\n", rec->latency_ms[rec->n_latency - 1]);
    fclose(f);

    if (!(f = s_open(dir, "heights.dat", err)))
        return VL_ERR_IO;
    fprintf(f, "# t_s height_of_node0 ... (NaN: not answering)\n");
    for (int s = 0; s < in->n_samples; s++) {
        fprintf(f, "%.2f", (double) in->samples[s].t_ms / 1000);
        for (int i = 0; i < net->n; i++)
            in->samples[s].height[i] < 0 ? fprintf(f, " NaN")
                                         : fprintf(f, " %d", in->samples[s].height[i]);
        fprintf(f, "\n");
    }
    fclose(f);
    return 0;
}

/* Writes plots.gp and runs gnuplot on it in dir. */
static bool
s_plots(const char *dir, const sim_net_t *net, bool faults, vl_err_t *err)
{
    FILE *f = s_open(dir, "plots.gp", err);
    if (!f)
        return false;
    fprintf(f,
            "# drawn by vledger-sim run: gnuplot plots.gp (in the report directory)\n"
            "set terminal pngcairo size 1000,480 font 'sans,10'\n"
            "set grid\n"
            "set key outside right\n"
            "set output 'throughput.png'\n"
            "set title 'Committed transactions per second (shaded: faults; dark: lane A, light: lane B)'\n"
            "set xlabel 'seconds into the run'\nset ylabel 'committed tx/s'\n"
            "set style fill transparent solid 0.18 noborder\n"
            "stats 'throughput.dat' using 2 nooutput\n"
            "ymax = STATS_max > 0 ? STATS_max * 1.1 : 1\n"
            "set yrange [0:ymax]\n"
            "plot %s'throughput.dat' using 1:2 with lines lw 2 lc rgb '#222222' title 'committed/s'\n"
            "set output 'latency_cdf.png'\n"
            "set title 'Submit-to-commit latency, CDF (committed transactions)'\n"
            "set xlabel 'ms'\nset ylabel 'fraction'\nset yrange [0:1]\nset logscale x\n"
            "plot 'latency.dat' using 1:2 with lines lw 2 title 'latency'\n"
            "unset logscale x\n"
            "set output 'heights.png'\n"
            "set title 'Height per node over time'\n"
            "set xlabel 'seconds into the run'\nset ylabel 'height'\nset autoscale y\n"
            "set key off\n"
            "plot for [i=2:%d] 'heights.dat' using 1:i with lines\n",
            faults ? "'faults.dat' using (($1+$2)/2):(ymax/2):(($2-$1)/2):(ymax/2):($3 == 0 ? "
                     "0xcc3333 : 0x3366cc) with boxxyerror lc rgb variable title 'fault windows', "
                   : "",
            net->n + 1);
    fclose(f);
    char cmd[SIM_PATH_MAX * 2 + 64];
    snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot plots.gp >gnuplot.log 2>&1", dir);
    if (system(cmd) != 0) {
        vl_err_set(err, VL_ERR_IO, "gnuplot failed or is not installed (see %s/gnuplot.log); "
                                   "the data files are there", dir);
        return false;
    }
    return true;
}

static json_t *
s_pct_obj(sim_rec_t *rec)
{
    json_t *o = json_object();
    json_object_set_new(o, "p50", json_real(sim_rec_percentile(rec, 50)));
    json_object_set_new(o, "p90", json_real(sim_rec_percentile(rec, 90)));
    json_object_set_new(o, "p99", json_real(sim_rec_percentile(rec, 99)));
    json_object_set_new(o, "max", json_real(sim_rec_percentile(rec, 100)));
    return o;
}

int
sim_report_write(const char *dir, const sim_net_t *net, sim_rec_t *rec,
                 const sim_report_in_t *in, vl_err_t *err)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return vl_err_set(err, VL_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    json_t *r = json_object();
    uint64_t submitted = 0;
    for (int k = 0; k < SIM_OUT_KINDS; k++)
        submitted += rec->count[k];
    double run_s = (double) in->run_ms / 1000;
    json_object_set_new(r, "nodes", json_integer(net->n));
    json_object_set_new(r, "validators", json_integer(net->validators));
    json_object_set_new(r, "scenario", json_string(in->scenario));
    json_object_set_new(r, "seed", json_integer((json_int_t) in->seed));
    json_object_set_new(r, "duration_s", json_integer(in->duration_s));
    json_object_set_new(r, "rate", json_real(in->rate));
    json_object_set_new(r, "submitted", json_integer((json_int_t) submitted));
    json_object_set_new(r, "committed", json_integer((json_int_t) rec->count[SIM_OUT_COMMITTED]));
    json_object_set_new(r, "invalid", json_integer((json_int_t) rec->count[SIM_OUT_INVALID]));
    json_object_set_new(r, "invalid_codes", json_incref(rec->invalid_codes));
    json_object_set_new(r, "refused", json_integer((json_int_t) rec->count[SIM_OUT_REFUSED]));
    json_object_set_new(r, "unknown", json_integer((json_int_t) rec->count[SIM_OUT_UNKNOWN]));
    /* tps over the load phase's own seconds: commits answered after it
     * (calls still waiting when it ended) are counted but not in the rate. */
    uint64_t in_window = 0;
    for (int s = 0; s < in->duration_s && s < SIM_REC_SECONDS_MAX; s++)
        in_window += rec->per_second[s];
    json_object_set_new(r, "tps", json_real(in->duration_s > 0 ? (double) in_window / in->duration_s : 0));
    json_object_set_new(r, "load_phase_s", json_real(run_s));
    json_object_set_new(r, "latency_ms", s_pct_obj(rec));
    json_object_set_new(r, "dissemination_ms", json_pack("{s:f, s:f}", "p50", in->dissemination_p50,
                                                         "p99", in->dissemination_p99));
    json_t *heights = json_object(), *nodes = json_array();
    const sim_sample_t *last = in->n_samples ? &in->samples[in->n_samples - 1] : NULL;
    for (int i = 0; i < net->n; i++) {
        char name[32];
        snprintf(name, sizeof name, "node%d", i);
        int h = last ? last->height[i] : -1;
        json_object_set_new(heights, name, h < 0 ? json_null() : json_integer(h));
        const sim_usage_t *u = &in->usage[i];
        json_array_append_new(nodes, json_pack("{s:s, s:s, s:b, s:f, s:f, s:i}", "node", name,
                                               "org", net->node[i].org, "validator",
                                               net->node[i].validator, "rss_max_mb",
                                               (double) u->rss_max_kb / 1024.0, "cpu_s",
                                               u->cpu_s + u->cpu_s_current, "starts",
                                               net->node[i].starts));
    }
    json_object_set_new(r, "heights", heights);
    json_object_set_new(r, "per_node", nodes);
    json_t *inv = in->invariants_summary;
    json_t *violations = rec->violations;
    bool same = true;
    size_t k;
    json_t *v;
    json_array_foreach(violations, k, v)
        same &= strcmp(json_string_value(json_object_get(v, "check")) ?: "", "same_state") != 0;
    json_object_set_new(r, "state_hashes_equal", json_boolean(same));
    json_object_set_new(r, "invariants", json_pack("{s:b, s:O, s:O}", "ok",
                                                   json_array_size(violations) == 0,
                                                   "violations", violations, "checked",
                                                   inv ? inv : json_null()));
    json_object_set_new(r, "faults", json_pack("{s:s, s:O}", "asked", in->faults_asked ?: "",
                                               "injected", in->faults));
    char path[SIM_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/report.json", dir);
    int rc = json_dump_file(r, path, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (rc != 0) {
        json_decref(r);
        return vl_err_set(err, VL_ERR_IO, "cannot write %s", path);
    }
    if (s_data(dir, net, rec, in, err) != 0) {
        json_decref(r);
        return VL_ERR_IO;
    }
    vl_err_t perr = { "" };
    bool plots = s_plots(dir, net, json_array_size(in->faults) > 0, &perr);
    if (!plots)
        fprintf(stderr, "vledger-sim: %s\n", perr.msg);

    FILE *md = s_open(dir, "report.md", err);
    if (!md) {
        json_decref(r);
        return VL_ERR_IO;
    }
    double rss_sum = 0, cpu_sum = 0;
    for (int i = 0; i < net->n; i++) {
        rss_sum += (double) in->usage[i].rss_max_kb / 1024.0;
        cpu_sum += in->usage[i].cpu_s + in->usage[i].cpu_s_current;
    }
    fprintf(md, "# vledger-sim run: %s\n\n", in->scenario);
    fprintf(md, "%d nodes (%d validators), seed %llu, %d s, faults: %s.\n\n", net->n,
            net->validators, (unsigned long long) in->seed, in->duration_s,
            in->faults_asked && *in->faults_asked ? in->faults_asked : "none");
    fprintf(md, "| | |\n|---|---|\n");
    fprintf(md, "| submitted | %llu |\n| committed | %llu |\n| invalid | %llu |\n"
                "| refused | %llu |\n| fate unknown | %llu |\n",
            (unsigned long long) submitted, (unsigned long long) rec->count[SIM_OUT_COMMITTED],
            (unsigned long long) rec->count[SIM_OUT_INVALID],
            (unsigned long long) rec->count[SIM_OUT_REFUSED],
            (unsigned long long) rec->count[SIM_OUT_UNKNOWN]);
    fprintf(md, "| committed tx/s | %.1f |\n", json_real_value(json_object_get(r, "tps")));
    fprintf(md, "| latency p50 / p99 / max | %.0f / %.0f / %.0f ms |\n",
            sim_rec_percentile(rec, 50), sim_rec_percentile(rec, 99), sim_rec_percentile(rec, 100));
    fprintf(md, "| block dissemination p50 / p99 | %.0f / %.0f ms |\n", in->dissemination_p50,
            in->dissemination_p99);
    fprintf(md, "| faults injected | %zu |\n", json_array_size(in->faults));
    fprintf(md, "| memory per node (max RSS, mean) | %.1f MB |\n", rss_sum / net->n);
    fprintf(md, "| CPU per node (mean) | %.2f s |\n", cpu_sum / net->n);
    fprintf(md, "| invariants | %s |\n\n", json_array_size(violations) ? "**VIOLATED**" : "all held");
    json_array_foreach(violations, k, v) {
        char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
        fprintf(md, "- violation: `%s`\n", s ? s : "?");
        free(s);
    }
    if (plots)
        fprintf(md, "\n![throughput](throughput.png)\n\n![latency CDF](latency_cdf.png)\n\n"
                    "![heights](heights.png)\n");
    else
        fprintf(md, "\n(no plots: %s)\n", perr.msg);
    fprintf(md, "\nEvery number above is in report.json; the series behind the plots are the "
                "*.dat files, drawn by plots.gp.\n");
    fclose(md);
    json_decref(r);
    return 0;
}
