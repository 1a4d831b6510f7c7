/*
 * scenario.h — what a `vledger-sim run` scenario drives. A scenario makes
 * its parties (keys, identities registered through their organisation's
 * node), funds and vehicles in setup, then its workers send transactions
 * through the nodes' gateways (client_transact) until the run ends; every
 * transaction goes through sim_transact so the recorder sees it. The run
 * (run.c) owns the network, the clock and the faults; a scenario only uses
 * sim_net_client to reach a node, and skips a party whose node is down.
 *
 * The facts a scenario leaves in sim_scn_t (vins, dids) are what the
 * invariant checks read at the end: every vehicle it made, every DID that
 * may hold money.
 */
#ifndef VL_SIM_SCENARIO_H
#define VL_SIM_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "client.h"
#include "crypto.h"
#include "error.h"
#include "record.h"
#include "simnet.h"

#define SIM_WORKERS_MAX 256

typedef struct sim_scn sim_scn_t;

typedef struct {
    const char *name;
    /* After net create, before any node starts (may write node.json
     * "identities" so a node holds a party's key). May be NULL. */
    int (*prepare)(sim_scn_t *s, vl_err_t *err);
    /* Every node up and seeing its peers: parties, money, vehicles, rules. */
    int (*setup)(sim_scn_t *s, vl_err_t *err);
    /* One worker thread's loop, until now >= end_ms (wall clock ms). */
    void (*work)(sim_scn_t *s, int worker, int64_t end_ms);
    /* After the run, faults healed: waits for flows in progress to end
     * (bounded by deadline_ms) and records what did not complete. May be NULL. */
    int (*finish)(sim_scn_t *s, int64_t deadline_ms, vl_err_t *err);
    /* Frees s->state. May be NULL. */
    void (*destroy)(sim_scn_t *s);
} sim_scenario_t;

struct sim_scn {
    sim_net_t *net;              /* borrowed */
    sim_rec_t *rec;              /* borrowed */
    uint64_t seed;               /* --seed: every random choice draws from it */
    double rate;                 /* offered tx/s in all (0: as fast as answers come) */
    int workers;                 /* worker threads the run starts */
    int timeout_ms;              /* a transact's wait for its commit */
    bool quiet;
    void *state;                 /* the scenario's own (owned; destroy frees) */
    json_t *vins;                /* [VIN...] made (owned) */
    json_t *dids;                /* [DID...] that may hold money (owned) */
    pthread_mutex_t lock;        /* guards vins and dids */
};

/* The scenarios (scn_load.c: load and churn, scn_sale.c, scn_market.c). */
extern const sim_scenario_t sim_scenario_load, sim_scenario_churn, sim_scenario_sale,
    sim_scenario_market;

/* The scenario named name (sale, market, load, churn), or NULL. */
const sim_scenario_t *sim_scenario_find(const char *name);

/* client_transact on the client for node i, recorded: signs with key,
 * waits up to s->timeout_ms. Returns client_transact's code; *outcome as
 * client_transact (may be NULL when not wanted). */
int sim_transact(sim_scn_t *s, client_t *c, const vl_key_t *key, const char *contract,
                 const char *function, json_t *args, json_t **outcome, vl_err_t *err);

/* Adds a VIN / a DID to the facts (thread-safe). */
void sim_scn_add_vin(sim_scn_t *s, const char *vin);
void sim_scn_add_did(sim_scn_t *s, const char *did);

/* Paces worker w to s->rate (shared out over s->workers): sleeps until this
 * worker's next send is due (sim_pace_due, pace.h: the workers' sends are
 * spread evenly); returns false when end_ms comes first. With rate 0
 * returns true at once. *next_ms: the worker's schedule (0 at first). */
bool sim_pace(sim_scn_t *s, int worker, int64_t *next_ms, int64_t end_ms);

/* The string at key of o, or "" (borrowed from o). */
const char *sim_str(const json_t *o, const char *key);

/* splitmix64: the scenarios' seeded randomness (*state advances). */
uint64_t sim_rand(uint64_t *state);

/* --- Shared by the scenarios (scenario.c) --------------------------------- */

/* The client for node i from slots[i] (slots: one thread's per-node cache of
 * SIM_NODES_MAX entries, NULL at first, owned by the caller, destroyed with
 * sim_scn_clients_destroy), waiting while the node is not up until until_ms
 * (wall clock; <= now: no wait). NULL when it did not come up in time. */
client_t *sim_scn_client(sim_scn_t *s, int i, client_t **slots, int64_t until_ms);
void sim_scn_clients_destroy(client_t **slots);

/* A read: `query {contract, function, args}` on c; *result (owned) is the
 * contract's return value (JSON null when it returned nothing). */
int sim_scn_query(client_t *c, const char *contract, const char *function, json_t *args,
                  json_t **result, vl_err_t *err);

/* A set-up transaction through node i (waiting up to 30 s for it to be up),
 * recorded like any other; an MVCC loss or an unknown outcome is tried
 * again (bounded), and after an unknown outcome a refusal that says the
 * effect is already there ("already") counts as done. On failure err says
 * "STEP at nodeI: reason". *outcome as sim_transact (may be NULL). */
int sim_scn_setup_tx(sim_scn_t *s, int i, client_t **slots, const vl_key_t *key,
                     const char *step, const char *contract, const char *function,
                     json_t *args, json_t **outcome, vl_err_t *err);

/* Registers key as the identity name (self-declared role) of node i's
 * organisation, through node i (identity.register, policy arg:org). */
int sim_scn_register(sim_scn_t *s, int i, client_t **slots, const vl_key_t *key,
                     const char *name, const char *role, vl_err_t *err);

/* The text of a contract file shipped with the sources, rel relative to
 * contracts/lib/ (e.g. "rules/seller.lua"), found from the working
 * directory or from this binary's build directory. *text malloc'd (caller
 * frees). VL_ERR_NOT_FOUND names the places looked in. */
int sim_scn_read_contract(const char *rel, char **text, vl_err_t *err);

/* Writes a fresh key to DIR/nodeI/NAME.pem (mode 0600) and appends it to
 * node.json "identities", so node i holds it and runs its rules; for
 * `prepare`, before the node starts. *key owned by the caller. */
int sim_scn_hold_key(sim_scn_t *s, int i, const char *name, vl_key_t **key, vl_err_t *err);

/* A VIN (17 characters of the VIN alphabet) unique to (tag, worker, n) with
 * random filler from *rnd. */
void sim_scn_vin(char tag, int worker, uint64_t n, uint64_t *rnd, char out[18]);

/* Sleeps ms (a poll's or a pace's interval, never a synchronisation). */
void sim_scn_nap(int ms);

#endif
