/*
 * invariants.h — the checks at the end of a simulator run (DESIGN §8,
 * INTERFACE.md "Simulator"), each violation recorded with the node and the
 * height where it was seen:
 *
 *   same_state     every live replica at one height, with one tip block
 *                  hash and one state hash (the tip hash covers every
 *                  earlier block through the previous-hash chain each
 *                  node checks on apply; block hashes are also compared
 *                  height by height on up to SIM_INV_FULL_NODES nodes);
 *   acked_tx       every tx a client was told committed is in the chain
 *                  exactly once, with code 0;
 *   one_owner      every vehicle the scenario made has exactly one owner,
 *                  a registered identity;
 *   sold_once      every change of a vehicle's owner is the settlement of
 *                  one sale whose seller was the owner before it;
 *   money          Σ wallets of every DID that may hold money = issued −
 *                  redeemed (wallet.supply);
 *   double_sign    no honest validator has evidence against it on any node
 *                  (the run's own equivocators are expected there).
 *
 * sim_inv_compare is pure (over facts gathered from the nodes); the rest
 * read the nodes through their API.
 */
#ifndef VL_SIM_INVARIANTS_H
#define VL_SIM_INVARIANTS_H

#include <stdbool.h>

#include <jansson.h>

#include "record.h"
#include "simnet.h"

#define SIM_INV_FULL_NODES 8

/* One replica's tip, as its status says. */
typedef struct {
    int node;
    bool live;
    long long height;
    char last_hash[65];
    char state_hash[65];
    json_t *evidence;        /* status.consensus.evidence (borrowed; may be NULL) */
} sim_tip_t;

/* Pure: same height, tip hash and state hash over the live tips, and no
 * evidence against a validator DID outside allowed (equivocators the run
 * made; NULL-ended, may be NULL). Violations go to rec. Returns how many
 * were found. */
int sim_inv_compare(const sim_tip_t *tips, int n, const char *const *allowed, sim_rec_t *rec);

/* Every check, on every live node of net. vins and dids: the scenario's
 * facts (arrays of strings). allowed as above. Waits up to converge_ms for
 * the live replicas to reach one tip before comparing. Returns the number
 * of violations found; *summary (owned) gets what was checked. */
int sim_inv_check(sim_net_t *net, sim_rec_t *rec, json_t *vins, json_t *dids,
                  const char *const *allowed, int converge_ms, json_t **summary);

#endif
