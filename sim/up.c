/*
 * up.c — bringing a simulated network up (up.h).
 */
#include "up.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

static void
s_nap(int ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* The organisations of the network: the sale's five, validator roles on
 * the first V of agency, seller, lender, insurer, buyer, then on followers. */
static void
s_orgs_spec(int nodes, int validators, char *out, size_t size)
{
    static const char *const names[5] = { "agency", "seller", "buyer", "lender", "insurer" };
    static const char *const roles[5] = { "title_agency+registration_authority", "dealer", "",
                                          "lender+issuer", "insurer" };
    static const int validator_rank[5] = { 0, 1, 4, 2, 3 };
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < 5 && i < nodes; i++) {
        bool v = validator_rank[i] < validators;
        len += (size_t) snprintf(out + len, size - len, "%s%s%s%s%s%s", i ? "," : "", names[i],
                                 roles[i][0] || v ? ":" : "", roles[i],
                                 roles[i][0] && v ? "+" : "", v ? "validator" : "");
    }
    for (int i = 5; i < validators && len < size; i++)
        len += (size_t) snprintf(out + len, size - len, ",node%d:validator", i);
}

/* The vledgerd next to this binary in a build tree (BUILD/sim/vledger-sim
 * -> BUILD/node/vledgerd), else on PATH. */
static void
s_default_vledgerd(char out[static SIM_PATH_MAX])
{
    char self[SIM_PATH_MAX], cand[3][SIM_PATH_MAX];
    int n_cand = 0;
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    char *slash = n > 0 ? (self[n] = '\0', strrchr(self, '/')) : NULL;
    if (slash) {
        *slash = '\0';
        snprintf(cand[n_cand++], SIM_PATH_MAX, "%.480s/../node/vledgerd", self);
        snprintf(cand[n_cand++], SIM_PATH_MAX, "%.480s/vledgerd", self);
    }
    snprintf(cand[n_cand++], SIM_PATH_MAX, "/usr/local/bin/vledgerd");
    for (int i = 0; i < n_cand; i++)
        if (access(cand[i], X_OK) == 0) {
            memcpy(out, cand[i], SIM_PATH_MAX);
            return;
        }
    memcpy(out, "vledgerd", sizeof "vledgerd");   /* PATH decides */
}

/* Every node sees all its peers alive (the mesh formed). */
static int
s_wait_mesh(sim_net_t *net, int timeout_ms, vl_err_t *err)
{
    int64_t deadline = vl_wall_ms() + timeout_ms;
    int want = net->n - 1, worst = 0, worst_node = 0;
    while (vl_wall_ms() < deadline) {
        worst = want;
        for (int i = 0; i < net->n; i++) {
            json_t *st = sim_net_rpc(net, i, "status", NULL);
            int alive = 0;
            size_t k;
            json_t *p;
            json_array_foreach(json_object_get(st, "peers"), k, p)
                alive += !strcmp(json_string_value(json_object_get(p, "state")) ?: "", "alive");
            json_decref(st);
            if (alive < worst) {
                worst = alive;
                worst_node = i;
            }
            if (alive < want)
                break;
        }
        if (worst >= want)
            return 0;
        s_nap(200);   /* polling other processes' progress, bounded by deadline */
    }
    return vl_err_set(err, VL_ERR_TIMEOUT, "node%d sees %d of its %d peers alive after %d ms",
                      worst_node, worst, want, timeout_ms);
}


int
sim_paths(const char *vledgerd_opt, char *self, char *vledgerd, char *dir, vl_err_t *err)
{
    if (vledgerd_opt)
        snprintf(vledgerd, SIM_PATH_MAX, "%s", vledgerd_opt);
    else
        s_default_vledgerd(vledgerd);
    ssize_t n = readlink("/proc/self/exe", self, SIM_PATH_MAX - 1);
    if (n <= 0)
        return vl_err_set(err, VL_ERR_IO, "cannot find its own binary: %s", strerror(errno));
    self[n] = '\0';
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(dir, SIM_PATH_MAX, "%s/vledger-sim.XXXXXX", tmp);
    if (!mkdtemp(dir))
        return vl_err_set(err, VL_ERR_IO, "cannot make a directory in %s: %s", tmp,
                          strerror(errno));
    return 0;
}

int
sim_up(sim_net_t *net, const sim_up_t *up, const sim_scenario_t *ops, sim_scn_t *scn,
       vl_err_t *err)
{
    char orgs[4096];
    s_orgs_spec(up->nodes, up->validators, orgs, sizeof orgs);
    vl_err_t e = { "" };
    if (sim_net_create(net, up->self, up->vledgerd, up->dir, up->nodes, orgs, NULL, &e) != 0)
        return vl_err_set(err, VL_ERR_IO, "net create: %s", e.msg);
    if (up->create_only)
        return 0;
    if (ops->prepare && ops->prepare(scn, &e) != 0)
        return vl_err_set(err, VL_ERR_IO, "%s: prepare: %s", ops->name, e.msg);
    for (int i = 0; i < net->n; i++) {
        if (up->churn && i >= 5 && !net->node[i].validator && i % 4 == 0)
            continue;
        if (sim_node_spawn(net, i, NULL, err) != 0)
            return VL_ERR_IO;
    }
    int started = 0;
    for (int i = 0; i < net->n; i++) {
        if (net->node[i].pid <= 0)
            continue;
        if (sim_node_wait_ready(net, i, SIM_START_MS, err) != 0)
            return VL_ERR_IO;
        started++;
    }
    /* Churn: the absent followers are dead to the others; the formed part
     * is enough, as the nodes' own status will show. */
    if (!up->churn && s_wait_mesh(net, SIM_MESH_MS, &e) != 0)
        return vl_err_set(err, VL_ERR_TIMEOUT, "the network did not form: %s", e.msg);
    printf("%d nodes up; setting up the %s scenario\n", started, ops->name);
    fflush(stdout);
    if (ops->setup(scn, &e) != 0)
        return vl_err_set(err, VL_ERR_IO, "%s: setup: %s", ops->name, e.msg);
    return 0;
}
