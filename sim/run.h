/*
 * run.h — `vledger-sim run` and `vledger-sim bench` (run.c, bench.c).
 */
#ifndef VL_SIM_RUN_H
#define VL_SIM_RUN_H

/* The subcommand's arguments after "run"; returns the exit code. */
int sim_run(int argc, char **argv);

/* The subcommand's arguments after "bench"; returns the exit code. */
int sim_bench(int argc, char **argv);

#endif
