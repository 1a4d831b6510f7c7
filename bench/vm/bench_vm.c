/*
 * bench_vm.c — contract VM throughput (executions per second, one core):
 *   (a) a trivial contract: return its argument;
 *   (b) a contract reading 3 keys and checking conditions (vl.require);
 *   (c) a 5-deep chain of vl.call through five different contracts;
 * each in reused-state and fresh-state mode. Every trial runs a fixed
 * number of executions (bounded by ~0.5 s); the figure is the median of
 * the trials. State is the in-memory fake from the unit tests, so this
 * measures the VM, not LevelDB. Targets (issue B): (a) >= 100,000/s,
 * (c) >= 10,000/s per core.
 *
 *   bench_vm [trials]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fake_state.h"

static const uint8_t s_txid[32] = { 1 };

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static double
s_bench(vm_t *vm, fake_state_t *fs, const char *contract, const char *args, int trials,
        uint64_t *gas)
{
    vm_state_t view = fake_view(fs);
    vm_request_t req = { .contract = contract, .function = "f", .args_json = args,
                         .caller_did = "did:vl:a11ce00000000000000000000000000000000000",
                         .txid = s_txid, .now_ms = 1 };
    double rates[32];
    for (int t = 0; t < trials; t++) {
        double start = s_now(), el = 0;
        long n = 0;
        /* Runs in batches until ~0.5 s or 200,000 executions. */
        while (n < 200000 && (el = s_now() - start) < 0.5) {
            for (int i = 0; i < 200; i++, n++) {
                vm_result_t r;
                if (vm_execute(vm, &view, &req, &r) != 0) {
                    fprintf(stderr, "%s failed: %s\n", contract, r.error);
                    exit(1);
                }
                *gas = r.gas_used;
                vm_result_clear(&r);
            }
        }
        el = s_now() - start;
        rates[t] = (double) n / el;
    }
    qsort(rates, (size_t) trials, sizeof *rates, s_cmp);
    return rates[trials / 2];
}

int
main(int argc, char **argv)
{
    int trials = argc > 1 ? atoi(argv[1]) : 5;
    if (trials < 1 || trials > 31)
        trials = 5;
    fake_state_t fs = { 0 };
    fake_contract(&fs, "triv", "return { f = function(a) return a end }", "genesis");
    fake_put(&fs, "k/1", "{\"owner\":\"x\",\"n\":5}");
    fake_put(&fs, "k/2", "{\"status\":\"ok\"}");
    fake_put(&fs, "k/3", "100");
    fake_contract(&fs, "reads",
                  "return { f = function(a)\n"
                  "  local v = vl.get('k/1') local s = vl.get('k/2') local b = vl.get('k/3')\n"
                  "  vl.require(v ~= nil and v.owner == a.owner, 'not the owner')\n"
                  "  vl.require(s.status == 'ok', 'bad status')\n"
                  "  vl.require(b >= a.min, 'balance too low')\n"
                  "  return {ok = true, n = v.n}\n"
                  "end }",
                  "genesis");
    const char *names[] = { "c1", "c2", "c3", "c4", "c5" };
    for (int i = 0; i < 5; i++) {
        char src[256];
        if (i < 4)
            snprintf(src, sizeof src,
                     "return { f = function(a) local r = vl.call('%s', 'f', {n = a.n + 1}) "
                     "return {n = r.n} end }",
                     names[i + 1]);
        else
            snprintf(src, sizeof src, "return { f = function(a) return {n = a.n} end }");
        fake_contract(&fs, names[i], src, "genesis");
    }
    printf("contract VM throughput (%s), median of %d trials, executions/s on one core\n",
           vm_version(), trials);
    printf("%-34s %14s %14s %10s\n", "scenario", "reused state", "fresh state", "gas");
    struct {
        const char *label, *contract, *args;
    } sc[] = {
        { "(a) trivial", "triv", "{\"x\":1}" },
        { "(b) 3 reads + conditions", "reads", "{\"owner\":\"x\",\"min\":10}" },
        { "(c) 5-deep vl.call chain", "c1", "{\"n\":1}" },
    };
    for (size_t i = 0; i < sizeof sc / sizeof *sc; i++) {
        vm_config_t cfg = vm_config_default();
        vm_t *reused = vm_new(&cfg);
        cfg.fresh_state = 1;
        vm_t *fresh = vm_new(&cfg);
        uint64_t g1 = 0, g2 = 0;
        double r1 = s_bench(reused, &fs, sc[i].contract, sc[i].args, trials, &g1);
        double r2 = s_bench(fresh, &fs, sc[i].contract, sc[i].args, trials, &g2);
        printf("%-34s %14.0f %14.0f %10llu%s\n", sc[i].label, r1, r2,
               (unsigned long long) g1, g1 == g2 ? "" : " (gas differs between modes!)");
        vm_destroy(&reused);
        vm_destroy(&fresh);
    }
    fake_free(&fs);
    return 0;
}
