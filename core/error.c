/* error.c — names of the VL_ERR_* codes and the message-buffer helper. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

const char *
vl_strerror(int code)
{
    switch (code) {
    case VL_OK: return "ok";
    case VL_ERR_NOMEM: return "out of memory";
    case VL_ERR_IO: return "i/o error";
    case VL_ERR_NOT_FOUND: return "not found";
    case VL_ERR_INVALID: return "invalid input";
    case VL_ERR_SIGNATURE: return "bad signature";
    case VL_ERR_CORRUPT: return "corrupt data";
    case VL_ERR_EXISTS: return "already exists";
    case VL_ERR_CONFLICT: return "version conflict";
    case VL_ERR_REFUSED: return "refused";
    case VL_ERR_LIMIT: return "limit exceeded";
    case VL_ERR_LOCKED: return "locked by another process";
    case VL_ERR_FOREIGN: return "belongs to another chain";
    case VL_ERR_TIMEOUT: return "timed out";
    case VL_ERR_STATE: return "wrong state";
    default: return "unknown error";
    }
}

int
vl_err_set(vl_err_t *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}
