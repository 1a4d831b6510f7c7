/*
 * error.h — the error codes every vledger layer returns.
 *
 * Fallible functions return int: 0 on success or a negative VL_ERR_* code.
 * Outputs are left untouched on failure. Where a human needs more than the
 * code, the function also takes a caller-owned message buffer (vl_err_t) and
 * writes one bounded line into it.
 */
#ifndef VL_ERROR_H
#define VL_ERROR_H

#include <stddef.h>

enum {
    VL_OK = 0,
    VL_ERR_NOMEM = -1,        /* allocation failed */
    VL_ERR_IO = -2,           /* file or store I/O failed */
    VL_ERR_NOT_FOUND = -3,    /* key, block, tx or file does not exist */
    VL_ERR_INVALID = -4,      /* malformed input (peer, client, config) */
    VL_ERR_SIGNATURE = -5,    /* signature does not verify */
    VL_ERR_CORRUPT = -6,      /* stored data fails its own checks */
    VL_ERR_EXISTS = -7,       /* already present (duplicate txid, file) */
    VL_ERR_CONFLICT = -8,     /* MVCC: a read version is stale */
    VL_ERR_REFUSED = -9,      /* a contract or policy refused */
    VL_ERR_LIMIT = -10,       /* a named limit was exceeded */
    VL_ERR_LOCKED = -11,      /* resource held by another process */
    VL_ERR_FOREIGN = -12,     /* data belongs to another chain */
    VL_ERR_TIMEOUT = -13,     /* a deadline passed */
    VL_ERR_STATE = -14,       /* call not valid in the current state */
};

/* A bounded, caller-owned message buffer for the human-readable reason. */
#define VL_ERR_MSG_MAX 256
typedef struct {
    char msg[VL_ERR_MSG_MAX];
} vl_err_t;

/* Name of an error code ("not found", ...); never NULL. */
const char *vl_strerror(int code);

/* Formats into err (if non-NULL) and returns code, so a failure path reads
 * `return vl_err_set(err, VL_ERR_INVALID, "vin must be 17 characters");`. */
int vl_err_set(vl_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
