/*
 * rpc.h — the JSON-RPC error codes of the client API (docs/api.md), and the
 * one mapping each way between them and VL_ERR_* codes. The node answers
 * with rpc_code_of_error; the client library turns an answer back into a
 * VL_ERR_* with rpc_error_of_code.
 */
#ifndef VL_RPC_H
#define VL_RPC_H

#include "error.h"

enum {
    RPC_PARSE_ERROR = -32700,     /* the request is not JSON */
    RPC_INVALID_REQUEST = -32600, /* not a JSON-RPC 2.0 request */
    RPC_METHOD_NOT_FOUND = -32601,
    RPC_INVALID_PARAMS = -32602,  /* bad or malformed parameters */
    RPC_INTERNAL = -32603,        /* this node failed (I/O, memory, stopping) */
    RPC_REFUSED = -32001,         /* a contract, policy or limit refused */
    RPC_DUPLICATE = -32002,       /* already pending or committed */
    RPC_TIMEOUT = -32003,         /* not committed (or answered) in time */
    RPC_NOT_FOUND = -32004,       /* no such identity, vehicle, tx or block */
    RPC_BAD_SIGNATURE = -32010,   /* a signature does not verify */
};

/* The answer to a failed endorse, query, submit or other transaction
 * call. A contract or function that does not exist refuses the call like a
 * contract error does (the API's reads answer RPC_NOT_FOUND themselves). */
static inline int
rpc_code_of_error(int vl_err)
{
    switch (vl_err) {
    case VL_ERR_SIGNATURE: return RPC_BAD_SIGNATURE;
    case VL_ERR_INVALID: return RPC_INVALID_PARAMS;
    case VL_ERR_EXISTS: return RPC_DUPLICATE;
    case VL_ERR_TIMEOUT: return RPC_TIMEOUT;
    case VL_ERR_REFUSED:
    case VL_ERR_NOT_FOUND:
    case VL_ERR_LIMIT: return RPC_REFUSED;
    default: return RPC_INTERNAL;
    }
}

static inline int
rpc_error_of_code(int rpc_code)
{
    switch (rpc_code) {
    case RPC_PARSE_ERROR:
    case RPC_INVALID_REQUEST:
    case RPC_METHOD_NOT_FOUND:
    case RPC_INVALID_PARAMS: return VL_ERR_INVALID;
    case RPC_REFUSED: return VL_ERR_REFUSED;
    case RPC_DUPLICATE: return VL_ERR_EXISTS;
    case RPC_TIMEOUT: return VL_ERR_TIMEOUT;
    case RPC_NOT_FOUND: return VL_ERR_NOT_FOUND;
    case RPC_BAD_SIGNATURE: return VL_ERR_SIGNATURE;
    default: return VL_ERR_IO;
    }
}
#endif
