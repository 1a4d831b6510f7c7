/*
 * simnet.h — the simulator's running network: the nodes `vledger-sim net
 * create` wrote (DIR/nodeI/), the vledgerd process of each, and the faults
 * a run applies to a process (kill -9, SIGSTOP/SIGCONT, restart with other
 * flags). Nodes are reached only through their public interfaces: the API
 * endpoint a started node writes to DIR/nodeI/data/endpoints.json.
 *
 * Thread rules: the run's main thread (and its fault schedule) starts,
 * stops, kills and pauses nodes; scenario workers read a node's state and
 * endpoint concurrently. net->lock guards every node's pid, state and api;
 * sim_net_client takes it itself.
 */
#ifndef VL_SIM_SIMNET_H
#define VL_SIM_SIMNET_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "client.h"
#include "did.h"
#include "error.h"

#define SIM_NODES_MAX 256
#define SIM_PATH_MAX 512
#define SIM_ARGS_MAX 8

typedef enum {
    SIM_NODE_DOWN = 0,    /* never started, stopped or killed */
    SIM_NODE_UP,          /* running and answering */
    SIM_NODE_PAUSED,      /* SIGSTOPped */
} sim_node_state_t;

typedef struct {
    int index;                        /* node I of the network */
    char dir[SIM_PATH_MAX];           /* DIR/nodeI */
    char key[SIM_PATH_MAX];           /* DIR/nodeI/node.key: the organisation's node key */
    char org[64];                     /* its organisation's name (genesis) */
    char did[VL_DID_BUF];             /* the node's own member DID */
    bool validator;                   /* its organisation holds validator */
    bool issuer;                      /* ... issuer (may issue money) */
    bool lender, agency, insurer;     /* ... lender, title_agency, insurer */
    char api[CLIENT_ENDPOINT_MAX];    /* while up: its API endpoint */
    pid_t pid;                        /* while up or paused */
    sim_node_state_t state;
    char flags[SIM_ARGS_MAX][40];     /* test-only flags of its current process */
    int n_flags;
    int starts;                       /* processes started for it so far */
    bool starting;                    /* spawned, its API not yet seen */
} sim_node_t;

typedef struct {
    char dir[SIM_PATH_MAX];           /* the network directory */
    char vledgerd[SIM_PATH_MAX];      /* the daemon binary */
    char chain_id[80];
    int n;
    int validators;
    sim_node_t node[SIM_NODES_MAX];
    client_t *own_client[SIM_NODES_MAX];   /* sim_net_rpc's, main thread only */
    pthread_mutex_t lock;
} sim_net_t;

/* Writes the network with `SELF net create --nodes N --orgs ORGS --out DIR
 * ...` (the operators' configuration; SELF is this binary), then reads
 * DIR/genesis.json into net. extra: more net create options (NULL-ended,
 * may be NULL). Nothing is started. */
int sim_net_create(sim_net_t *net, const char *self, const char *vledgerd, const char *dir,
                   int nodes, const char *orgs, const char *const *extra, vl_err_t *err);

/* Starts node i (`vledgerd --config DIR/nodeI/node.json --test-faults
 * FLAGS...`; flags NULL-ended, may be NULL), its stderr appended to
 * DIR/nodeI.log, and waits up to timeout_ms for the new process's API to
 * answer `status`. VL_ERR_STATE if it is not down. */
int sim_node_start(sim_net_t *net, int i, const char *const *flags, int timeout_ms,
                   vl_err_t *err);

/* sim_node_start in two halves, so many nodes start at once: spawn forks
 * the process (its state stays "paused" — not to be used — until ready);
 * wait_ready waits for its API as sim_node_start does. */
int sim_node_spawn(sim_net_t *net, int i, const char *const *flags, vl_err_t *err);
int sim_node_wait_ready(sim_net_t *net, int i, int timeout_ms, vl_err_t *err);

/* For every node spawned and not yet ready: up once its process wrote its
 * endpoints (no call: a busy node must not hold the caller up), down if it
 * exited. Returns how many exited at start. */
int sim_net_poll_starting(sim_net_t *net);

/* kill -9 and reap. */
int sim_node_kill(sim_net_t *net, int i, vl_err_t *err);

/* SIGTERM and reap (a clean stop); SIGKILL after timeout_ms. */
int sim_node_stop(sim_net_t *net, int i, int timeout_ms, vl_err_t *err);

/* SIGSTOP / SIGCONT. */
int sim_node_pause(sim_net_t *net, int i, vl_err_t *err);
int sim_node_resume(sim_net_t *net, int i, vl_err_t *err);

/* Whether node i is up (running, not paused). */
bool sim_node_up(sim_net_t *net, int i);

/* A client for node i in *slot (a per-thread cache: owned by the caller,
 * NULL at first, destroyed by the caller with client_destroy), made again
 * when the node's endpoint changed (restarted). NULL when the node is not
 * up. timeout_ms bounds each call. */
client_t *sim_net_client(sim_net_t *net, int i, client_t **slot, int timeout_ms);

/* One call to node i from the main thread (through net->own_client[i],
 * kept between calls; 5 s); the result (owned) or
 * NULL when the node is not up or the call failed. params: owned (taken). */
json_t *sim_net_rpc(sim_net_t *net, int i, const char *method, json_t *params);

/* The first node whose organisation is org (-1 if none). */
int sim_net_find_org(const sim_net_t *net, const char *org);

/* Reaps any node process that exited by itself (marks it down; returns how
 * many). */
int sim_net_reap(sim_net_t *net);

/* Stops every node (SIGCONT first for a paused one) and closes the main
 * thread's clients. */
void sim_net_stop_all(sim_net_t *net);

#endif
