/*
 * simnet.c — the simulator's network of vledgerd processes (simnet.h).
 */
#include "simnet.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "genesis.h"

#define SIM_CREATE_ARGS_MAX 40

static void
s_nap_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Runs argv and waits; its output goes to log (or is discarded). */
static int
s_run(char *const argv[], const char *log, vl_err_t *err)
{
    pid_t pid = fork();
    if (pid < 0)
        return vl_err_set(err, VL_ERR_IO, "fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return vl_err_set(err, VL_ERR_IO, "%s %s failed (exit %d); see %s", argv[0], argv[1],
                          WIFEXITED(status) ? WEXITSTATUS(status) : -1, log ? log : "-");
    return 0;
}

int
sim_net_create(sim_net_t *net, const char *self, const char *vledgerd, const char *dir,
               int nodes, const char *orgs, const char *const *extra, vl_err_t *err)
{
    memset(net, 0, sizeof *net);
    pthread_mutex_init(&net->lock, NULL);
    snprintf(net->dir, sizeof net->dir, "%s", dir);
    snprintf(net->vledgerd, sizeof net->vledgerd, "%s", vledgerd);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return vl_err_set(err, VL_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    char nodes_s[16], out[SIM_PATH_MAX + 8], log[SIM_PATH_MAX + 16], port[16];
    snprintf(nodes_s, sizeof nodes_s, "%d", nodes);
    snprintf(out, sizeof out, "%.400s/net", dir);
    snprintf(log, sizeof log, "%s/net-create.log", dir);
    snprintf(net->dir, sizeof net->dir, "%.400s", out);
    /* Ports: a random base below Linux's ephemeral range (32768 up), which
     * the nodes' own API and event sockets and every outgoing connection
     * draw from — a gossip port there can be taken between net create
     * and the node's start. Tried again when one of them is taken. */
    int rc = VL_ERR_IO;
    for (int attempt = 0; attempt < 8 && rc != 0; attempt++) {
        uint8_t r[2];
        vl_random_bytes(r, sizeof r);
        int base = 20000 + (int) (((unsigned) r[0] << 8 | r[1]) % 24) * 512;
        snprintf(port, sizeof port, "%d", base);
        const char *argv[SIM_CREATE_ARGS_MAX] = { self, "net", "create", "--nodes", nodes_s,
                                                  "--out", out, "--base-port", port };
        int argc = 9;
        if (orgs) {
            argv[argc++] = "--orgs";
            argv[argc++] = orgs;
        }
        for (int i = 0; extra && extra[i] && argc < SIM_CREATE_ARGS_MAX - 1; i++)
            argv[argc++] = extra[i];
        argv[argc] = NULL;
        rc = s_run((char *const *) argv, log, err);
        if (rc != 0) {
            char cmd[SIM_PATH_MAX * 2 + 16];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);
            if (system(cmd) != 0) { /* a leftover is overwritten by nothing; next try fails loudly */
            }
        }
    }
    if (rc != 0)
        return rc;

    genesis_t *g = malloc(sizeof *g);
    char path[SIM_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/genesis.json", out);
    if (!g)
        return vl_err_set(err, VL_ERR_NOMEM, "out of memory");
    if (genesis_load(path, g, err) != 0) {
        free(g);
        return VL_ERR_INVALID;
    }
    snprintf(net->chain_id, sizeof net->chain_id, "%s", g->chain_id);
    net->n = nodes;
    for (int i = 0; i < nodes; i++) {
        sim_node_t *nd = &net->node[i];
        nd->index = i;
        snprintf(nd->dir, sizeof nd->dir, "%.400s/node%d", out, i);
        snprintf(nd->key, sizeof nd->key, "%.400s/node%d/node.key", out, i);
        char name[32];
        snprintf(name, sizeof name, "node%d", i);
        for (size_t m = 0; m < g->members.count; m++) {
            const member_t *mb = &g->members.items[m];
            if (strcmp(mb->name, name) != 0)
                continue;
            const org_t *o = genesis_org_of(g, mb);
            snprintf(nd->did, sizeof nd->did, "%s", mb->did);
            snprintf(nd->org, sizeof nd->org, "%s", o ? o->name : name);
            nd->validator = o && org_has_role(o, ORG_ROLE_VALIDATOR);
            nd->issuer = o && org_has_role(o, ORG_ROLE_ISSUER);
            nd->lender = o && org_has_role(o, ORG_ROLE_LENDER);
            nd->agency = o && org_has_role(o, ORG_ROLE_TITLE_AGENCY);
            nd->insurer = o && org_has_role(o, ORG_ROLE_INSURER);
        }
        if (!nd->did[0]) {
            free(g);
            return vl_err_set(err, VL_ERR_INVALID, "%s names no member %s", path, name);
        }
        net->validators += nd->validator;
    }
    free(g);
    return 0;
}

/* The last line of the file at path into out ("" if none). */
static void
s_last_line(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    out[0] = '\0';
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0])
            snprintf(out, size, "%.200s", line);
    }
    if (f)
        fclose(f);
}

/* The api endpoint in DIR/nodeI/data/endpoints.json written by process pid
 * (the file carries the pid), or false. */
static bool
s_read_api(const sim_node_t *nd, pid_t pid, char *out, size_t size)
{
    char path[SIM_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/data/endpoints.json", nd->dir);
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    const char *api = json_string_value(json_object_get(doc, "api"));
    json_t *p = json_object_get(doc, "pid");
    bool ok = api && strlen(api) < size && (!json_is_integer(p) || json_integer_value(p) == pid);
    if (ok)
        snprintf(out, size, "%s", api);
    json_decref(doc);
    return ok;
}

int
sim_node_start(sim_net_t *net, int i, const char *const *flags, int timeout_ms, vl_err_t *err)
{
    int rc = sim_node_spawn(net, i, flags, err);
    return rc != 0 ? rc : sim_node_wait_ready(net, i, timeout_ms, err);
}

int
sim_node_spawn(sim_net_t *net, int i, const char *const *flags, vl_err_t *err)
{
    sim_node_t *nd = &net->node[i];
    pthread_mutex_lock(&net->lock);
    if (nd->state != SIM_NODE_DOWN) {
        pthread_mutex_unlock(&net->lock);
        return vl_err_set(err, VL_ERR_STATE, "node%d is already running", i);
    }
    nd->n_flags = 0;
    for (int f = 0; flags && flags[f] && f < SIM_ARGS_MAX; f++)
        snprintf(nd->flags[nd->n_flags++], sizeof nd->flags[0], "%s", flags[f]);
    pthread_mutex_unlock(&net->lock);

    char config[SIM_PATH_MAX + 16], log[SIM_PATH_MAX + 16];
    snprintf(config, sizeof config, "%s/node.json", nd->dir);
    snprintf(log, sizeof log, "%s.log", nd->dir);
    pid_t pid = fork();
    if (pid < 0)
        return vl_err_set(err, VL_ERR_IO, "fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int devnull = open("/dev/null", O_RDWR);
        if (fd >= 0)
            dup2(fd, 2);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
        }
        /* Its own process group: a terminal's ^C reaches the simulator,
         * which stops the nodes itself. */
        setpgid(0, 0);
        const char *argv[SIM_ARGS_MAX + 6] = { net->vledgerd, "--config", config, "--test-faults" };
        int argc = 4;
        for (int f = 0; f < nd->n_flags; f++)
            argv[argc++] = nd->flags[f];
        argv[argc] = NULL;
        execvp(argv[0], (char *const *) argv);
        _exit(127);
    }
    pthread_mutex_lock(&net->lock);
    nd->pid = pid;
    nd->state = SIM_NODE_PAUSED;   /* not answering yet: workers leave it alone */
    nd->starting = true;
    nd->starts++;
    nd->api[0] = '\0';
    pthread_mutex_unlock(&net->lock);
    return 0;
}

int
sim_node_wait_ready(sim_net_t *net, int i, int timeout_ms, vl_err_t *err)
{
    sim_node_t *nd = &net->node[i];
    pthread_mutex_lock(&net->lock);
    pid_t pid = nd->pid;
    pthread_mutex_unlock(&net->lock);
    if (pid <= 0)
        return vl_err_set(err, VL_ERR_STATE, "node%d was not started", i);
    char log[SIM_PATH_MAX + 16];
    snprintf(log, sizeof log, "%s.log", nd->dir);
    /* Ready when the new process's endpoint answers status. */
    int64_t deadline = vl_wall_ms() + timeout_ms;
    char api[CLIENT_ENDPOINT_MAX];
    while (vl_wall_ms() < deadline) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            pthread_mutex_lock(&net->lock);
            nd->state = SIM_NODE_DOWN;
            nd->pid = 0;
            nd->starting = false;
            pthread_mutex_unlock(&net->lock);
            char last[256] = "";
            s_last_line(log, last, sizeof last);
            return vl_err_set(err, VL_ERR_IO, "node%d exited at start (exit %d): %s (%s)", i,
                              WIFEXITED(status) ? WEXITSTATUS(status) : -1, last, log);
        }
        if (s_read_api(nd, pid, api, sizeof api)) {
            vl_err_t e2 = { "" };
            client_t *c = client_new(api, 1000, &e2);
            json_t *st = NULL;
            int rc = c ? client_call(c, "status", NULL, &st, &e2) : -1;
            json_decref(st);
            client_destroy(&c);
            if (rc == 0) {
                pthread_mutex_lock(&net->lock);
                snprintf(nd->api, sizeof nd->api, "%s", api);
                nd->state = SIM_NODE_UP;
                nd->starting = false;
                pthread_mutex_unlock(&net->lock);
                return 0;
            }
        }
        s_nap_ms(50);
    }
    return vl_err_set(err, VL_ERR_TIMEOUT, "node%d did not answer within %d ms of its start; see %s",
                      i, timeout_ms, log);
}

int
sim_net_poll_starting(sim_net_t *net)
{
    int exited = 0;
    for (int i = 0; i < net->n; i++) {
        sim_node_t *nd = &net->node[i];
        pthread_mutex_lock(&net->lock);
        pid_t pid = nd->starting ? nd->pid : 0;
        pthread_mutex_unlock(&net->lock);
        if (pid <= 0)
            continue;
        int status;
        char api[CLIENT_ENDPOINT_MAX];
        if (waitpid(pid, &status, WNOHANG) == pid) {
            pthread_mutex_lock(&net->lock);
            nd->state = SIM_NODE_DOWN;
            nd->pid = 0;
            nd->starting = false;
            pthread_mutex_unlock(&net->lock);
            exited++;
        } else if (s_read_api(nd, pid, api, sizeof api)) {
            pthread_mutex_lock(&net->lock);
            snprintf(nd->api, sizeof nd->api, "%s", api);
            nd->state = SIM_NODE_UP;
            nd->starting = false;
            pthread_mutex_unlock(&net->lock);
        }
    }
    return exited;
}

static int
s_signal_and_reap(sim_net_t *net, int i, int sig, int timeout_ms, vl_err_t *err)
{
    sim_node_t *nd = &net->node[i];
    pthread_mutex_lock(&net->lock);
    pid_t pid = nd->pid;
    bool paused = nd->state == SIM_NODE_PAUSED;
    if (nd->state == SIM_NODE_DOWN || pid <= 0) {
        pthread_mutex_unlock(&net->lock);
        return vl_err_set(err, VL_ERR_STATE, "node%d is not running", i);
    }
    nd->state = SIM_NODE_PAUSED;   /* workers stop using it at once */
    pthread_mutex_unlock(&net->lock);
    kill(pid, sig);
    if (paused && sig != SIGKILL)
        kill(pid, SIGCONT);
    int64_t deadline = vl_wall_ms() + timeout_ms;
    int status;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (vl_wall_ms() >= deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            break;
        }
        s_nap_ms(10);
    }
    pthread_mutex_lock(&net->lock);
    nd->state = SIM_NODE_DOWN;
    nd->pid = 0;
    nd->starting = false;
    nd->api[0] = '\0';
    pthread_mutex_unlock(&net->lock);
    return 0;
}

int
sim_node_kill(sim_net_t *net, int i, vl_err_t *err)
{
    return s_signal_and_reap(net, i, SIGKILL, 10000, err);
}

int
sim_node_stop(sim_net_t *net, int i, int timeout_ms, vl_err_t *err)
{
    return s_signal_and_reap(net, i, SIGTERM, timeout_ms, err);
}

int
sim_node_pause(sim_net_t *net, int i, vl_err_t *err)
{
    sim_node_t *nd = &net->node[i];
    pthread_mutex_lock(&net->lock);
    int rc = 0;
    if (nd->state != SIM_NODE_UP)
        rc = vl_err_set(err, VL_ERR_STATE, "node%d is not up", i);
    else if (kill(nd->pid, SIGSTOP) != 0)
        rc = vl_err_set(err, VL_ERR_IO, "SIGSTOP node%d: %s", i, strerror(errno));
    else
        nd->state = SIM_NODE_PAUSED;
    pthread_mutex_unlock(&net->lock);
    return rc;
}

int
sim_node_resume(sim_net_t *net, int i, vl_err_t *err)
{
    sim_node_t *nd = &net->node[i];
    pthread_mutex_lock(&net->lock);
    int rc = 0;
    if (nd->state != SIM_NODE_PAUSED || nd->pid <= 0)
        rc = vl_err_set(err, VL_ERR_STATE, "node%d is not paused", i);
    else if (kill(nd->pid, SIGCONT) != 0)
        rc = vl_err_set(err, VL_ERR_IO, "SIGCONT node%d: %s", i, strerror(errno));
    else
        nd->state = SIM_NODE_UP;
    pthread_mutex_unlock(&net->lock);
    return rc;
}

bool
sim_node_up(sim_net_t *net, int i)
{
    pthread_mutex_lock(&net->lock);
    bool up = net->node[i].state == SIM_NODE_UP;
    pthread_mutex_unlock(&net->lock);
    return up;
}

client_t *
sim_net_client(sim_net_t *net, int i, client_t **slot, int timeout_ms)
{
    char api[CLIENT_ENDPOINT_MAX] = "";
    pthread_mutex_lock(&net->lock);
    if (net->node[i].state == SIM_NODE_UP)
        snprintf(api, sizeof api, "%s", net->node[i].api);
    pthread_mutex_unlock(&net->lock);
    if (!api[0])
        return NULL;
    if (*slot && strcmp(client_endpoint(*slot), api) != 0)
        client_destroy(slot);
    if (!*slot) {
        vl_err_t err = { "" };
        *slot = client_new(api, timeout_ms, &err);
    }
    return *slot;
}

int
sim_net_find_org(const sim_net_t *net, const char *org)
{
    for (int i = 0; i < net->n; i++)
        if (strcmp(net->node[i].org, org) == 0)
            return i;
    return -1;
}

int
sim_net_reap(sim_net_t *net)
{
    int reaped = 0;
    pthread_mutex_lock(&net->lock);
    for (int i = 0; i < net->n; i++) {
        sim_node_t *nd = &net->node[i];
        int status;
        if (nd->pid > 0 && waitpid(nd->pid, &status, WNOHANG) == nd->pid) {
            nd->state = SIM_NODE_DOWN;
            nd->pid = 0;
            nd->api[0] = '\0';
            reaped++;
        }
    }
    pthread_mutex_unlock(&net->lock);
    return reaped;
}

void
sim_net_stop_all(sim_net_t *net)
{
    /* SIGTERM to all first, then reap: stopping 128 nodes one by one
     * would take their shutdowns end to end. */
    pthread_mutex_lock(&net->lock);
    for (int i = 0; i < net->n; i++) {
        sim_node_t *nd = &net->node[i];
        if (nd->pid > 0) {
            kill(nd->pid, SIGTERM);
            kill(nd->pid, SIGCONT);
        }
    }
    pthread_mutex_unlock(&net->lock);
    for (int i = 0; i < net->n; i++) {
        vl_err_t err = { "" };
        if (net->node[i].pid > 0)
            sim_node_stop(net, i, 10000, &err);
        client_destroy(&net->own_client[i]);
    }
}

json_t *
sim_net_rpc(sim_net_t *net, int i, const char *method, json_t *params)
{
    json_t *r = NULL;
    vl_err_t err = { "" };
    client_t *c = sim_net_client(net, i, &net->own_client[i], 5000);
    if (c && client_call(c, method, params, &r, &err) == VL_ERR_TIMEOUT)
        client_destroy(&net->own_client[i]);   /* a late answer must not meet the next call */
    json_decref(params);
    return r;
}
