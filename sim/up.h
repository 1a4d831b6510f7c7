/*
 * up.h — bringing a simulated network up, shared by `run` and `bench`:
 * the binaries and a fresh directory, then net create (the operators'
 * configuration: the sale's five organisations — agency, seller, buyer,
 * lender = bank, insurer — then followers of their own organisations),
 * the scenario's prepare, every node started at once, the mesh formed,
 * and the scenario's setup.
 */
#ifndef VL_SIM_UP_H
#define VL_SIM_UP_H

#include <stdbool.h>

#include "error.h"
#include "scenario.h"
#include "simnet.h"

#define SIM_START_MS 60000          /* a node's start, at most */
#define SIM_MESH_MS 120000          /* every node seeing every peer, at most */

typedef struct {
    const char *self;           /* this binary (net create runs it) */
    const char *vledgerd;
    const char *dir;            /* the run's directory (made by sim_paths) */
    int nodes, validators;
    bool churn;                 /* a quarter of the followers start later (they join) */
    bool create_only;           /* net create and nothing more (the fault plan alone) */
} sim_up_t;

/* self <- this binary; vledgerd <- vledgerd_opt, else the one next to this
 * binary in a build tree, else on PATH; dir <- a fresh directory under
 * $TMPDIR or /tmp. Each buffer SIM_PATH_MAX. */
int sim_paths(const char *vledgerd_opt, char *self, char *vledgerd, char *dir, vl_err_t *err);

/* net create, prepare, start, mesh, setup (scn filled by the caller); with
 * create_only, net create alone. The error names the step. */
int sim_up(sim_net_t *net, const sim_up_t *up, const sim_scenario_t *ops, sim_scn_t *scn,
           vl_err_t *err);

#endif
