/*
 * faultplan.h — the faults of a simulator run, decided before it starts
 * from --seed alone, so a failing run replays with the same seed: which
 * kind, when (offsets into the run), on which nodes, with which settings.
 *
 * Two lanes. Lane A holds one fault at a time anywhere in the network and
 * is the only lane that touches validators, so at most one validator is
 * faulty at any moment (f = 1 of 4: the chain can go on). Lane B, when
 * there are at least two followers, kills and pauses followers one at a
 * time alongside, so faults overlap. Every fault ends before the run's
 * last fifth, leaving the network time to heal before the checks.
 *
 * Pure: no clock, no I/O; deterministic in its inputs.
 */
#ifndef VL_SIM_FAULTPLAN_H
#define VL_SIM_FAULTPLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define SIM_FAULTS_MAX 512
#define SIM_FAULT_SET_MAX 64

typedef enum {
    SIM_FAULT_KILL = 0,      /* kill -9, restarted at the end */
    SIM_FAULT_PAUSE,         /* SIGSTOP, SIGCONT at the end */
    SIM_FAULT_PARTITION,     /* set cut from the rest (gossip fault hooks) */
    SIM_FAULT_DELAY,         /* messages delayed and dropped on set's nodes */
    SIM_FAULT_BYZANTINE,     /* node restarted in a test-only Byzantine mode */
    SIM_FAULT_KINDS
} sim_fault_kind_t;

typedef enum {
    SIM_BYZ_EQUIVOCATE = 0,  /* validator: two proposals/votes per (height, round) */
    SIM_BYZ_UNKNOWN,         /* validator: votes for a block nobody proposed */
    SIM_BYZ_GARBAGE,         /* validator: garbage consensus messages */
    SIM_BYZ_LIE_ENDORSE,     /* endorser: signs results it did not compute */
    SIM_BYZ_MODES
} sim_byz_mode_t;

typedef struct {
    sim_fault_kind_t kind;
    int64_t start_ms, end_ms;        /* offsets from the run's start */
    int lane;                        /* 0 = A, 1 = B */
    int node;                        /* kill, pause, byzantine; -1 otherwise */
    int set[SIM_FAULT_SET_MAX];      /* partition: one side; delay: the nodes */
    int n_set;
    sim_byz_mode_t byz;              /* byzantine */
    uint32_t drop_ppm, delay_ppm;    /* delay */
    int delay_ms, jitter_ms;         /* delay */
} sim_fault_t;

typedef struct {
    uint64_t seed;
    int64_t duration_ms;
    unsigned kinds;                  /* bit (1 << sim_fault_kind_t) per kind wanted */
    int n;                           /* nodes */
    const bool *validator;           /* [n] */
    const bool *endorser;            /* [n]: may run --test-lie-endorse (NULL: none) */
} sim_plan_in_t;

/* Fills out[0..*n) (at most max, ordered by start) with the faults of the
 * run. VL_ERR_INVALID: a kind wanted that no node can take (byzantine with
 * no validator, ...), or no room in the run for any fault (duration under
 * 5 s). */
int sim_faultplan(const sim_plan_in_t *in, sim_fault_t *out, size_t max, size_t *n,
                  vl_err_t *err);

/* "kill,pause,partition,delay,byzantine" -> kinds bits; VL_ERR_INVALID
 * naming an unknown one. "" or "none" -> 0. */
int sim_fault_kinds_parse(const char *list, unsigned *kinds, vl_err_t *err);

const char *sim_fault_kind_name(sim_fault_kind_t kind);
const char *sim_byz_mode_name(sim_byz_mode_t mode);     /* the vledgerd flag's value */

#endif
