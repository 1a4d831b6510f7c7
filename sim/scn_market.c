/* scn_market.c — placeholder while written. */
#include "scenario.h"
static void s_work(sim_scn_t *s, int worker, int64_t end_ms) { (void) s; (void) worker; (void) end_ms; }
static int s_setup(sim_scn_t *s, vl_err_t *err) { (void) s; (void) err; return 0; }
const sim_scenario_t sim_scenario_market = { .name = "market", .setup = s_setup, .work = s_work };
