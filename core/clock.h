/* clock.h — the one time type: int64 milliseconds. Wall clock for
 * timestamps that go on the ledger, monotonic for timers. */
#ifndef VL_CLOCK_H
#define VL_CLOCK_H
#include <stdint.h>

int64_t vl_wall_ms(void);       /* milliseconds since the Unix epoch */
int64_t vl_mono_ms(void);       /* monotonic milliseconds, for deadlines */
int64_t vl_mono_us(void);       /* monotonic microseconds, for measurements */
#endif
