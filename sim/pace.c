/*
 * pace.c — a paced worker's schedule (pace.h).
 */
#include "pace.h"

int64_t
sim_pace_interval(double rate, int workers)
{
    int64_t interval = (int64_t) ((double) (workers > 0 ? workers : 1) * 1000.0 / rate);
    return interval < 1 ? 1 : interval;
}

int64_t
sim_pace_due(int64_t next, int64_t now, int64_t interval, int worker, int workers)
{
    if (workers < 1)
        workers = 1;
    if (next == 0)
        return now + interval * (worker % workers) / workers;
    return next < now - 1000 ? now : next;
}
