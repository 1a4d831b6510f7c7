/*
 * probe_endorse.h — `vledger-sim probe endorse-one` (probe_endorse.c).
 */
#ifndef VL_SIM_PROBE_ENDORSE_H
#define VL_SIM_PROBE_ENDORSE_H

/* argv after "probe endorse-one"; returns the process exit code. */
int probe_endorse_one(int argc, char **argv);

#endif
