/* clock.c — wall and monotonic clocks in the project's time units. */
#include "clock.h"

#include <time.h>

static int64_t
s_read(clockid_t id, int64_t div)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t) ts.tv_sec * (1000000000 / div) + ts.tv_nsec / div;
}

int64_t vl_wall_ms(void) { return s_read(CLOCK_REALTIME, 1000000); }
int64_t vl_mono_ms(void) { return s_read(CLOCK_MONOTONIC, 1000000); }
int64_t vl_mono_us(void) { return s_read(CLOCK_MONOTONIC, 1000); }
