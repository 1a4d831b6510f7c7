/*
 * pace.h — the schedule of a paced scenario worker (pure): when its next
 * send is due, given the rate shared out over all workers. sim_pace
 * (scenario.h) sleeps until then.
 */
#ifndef VL_SIM_PACE_H
#define VL_SIM_PACE_H

#include <stdint.h>

/* The interval between one worker's sends: workers sharing rate tx/s
 * (rate > 0, workers >= 1), at least 1 ms. */
int64_t sim_pace_interval(double rate, int workers);

/* When worker `worker` of `workers` sends next, given its schedule `next`
 * (0 before its first send) and now. The first sends are spread over one
 * interval (worker w at w/W of it), so the workers together offer a steady
 * stream, not a burst of every worker at once each interval. A worker held
 * up by a slow answer catches up at most a second's worth, not with a
 * burst of everything it missed. */
int64_t sim_pace_due(int64_t next, int64_t now, int64_t interval, int worker, int workers);

#endif
