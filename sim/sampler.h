/*
 * sampler.h — every node's height as the node itself publishes it: one
 * thread subscribed to each node's event topics (`sys.heartbeat`, once a
 * second, and `block`, at each commit; INTERFACE.md "External event
 * topics"), reconnecting when a node restarts on a new endpoint. Reading
 * the heights costs the run nothing per node, so the progress line and the
 * fault schedule keep time with 128 nodes on a busy host (a status call to
 * each in turn took tens of seconds a round).
 *
 * Thread rules: sim_sampler_heights may be called from any thread; the
 * sampler's own thread owns its ZeroMQ sockets.
 */
#ifndef VL_SIM_SAMPLER_H
#define VL_SIM_SAMPLER_H

#include <stdint.h>

#include "error.h"
#include "simnet.h"

typedef struct sim_sampler sim_sampler_t;

/* Starts the thread (net borrowed for the sampler's life). */
sim_sampler_t *sim_sampler_start(sim_net_t *net, vl_err_t *err);

/* height[i] <- node i's last published height, or -1 when nothing came
 * from it in the last stale_ms (down, paused, cut off). */
void sim_sampler_heights(sim_sampler_t *s, int *height, int64_t stale_ms);

/* Stops the thread and frees the sampler; accepts NULL, nulls *s. */
void sim_sampler_stop(sim_sampler_t **s);

#endif
