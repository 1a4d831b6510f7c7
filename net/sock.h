/*
 * sock.h — binding a ZeroMQ socket, the one way every layer does it.
 *
 * Endpoints in configuration say ":0" for "any free port" (tests and
 * `vledgerd --dev` use it so that nodes on one host never collide); czmq
 * spells that "*". Whoever binds then needs the endpoint as bound (the
 * port the kernel chose) to advertise it. Socket options (linger, HWMs,
 * maximum message size, CURVE) stay with the callers: they differ per
 * socket and must be set before the bind.
 *
 * Thread: the thread that owns the socket.
 */
#ifndef VL_NET_SOCK_H
#define VL_NET_SOCK_H

#include <stddef.h>

#include <czmq.h>

#include "error.h"

#define VL_SOCK_ENDPOINT_MAX 256

/* Binds s at endpoint (a trailing ":0" binds any free port) and writes the
 * bound endpoint (e.g. "tcp://127.0.0.1:41237") into bound (size bytes,
 * NUL-terminated, truncated if needed; may be NULL when size is 0).
 * VL_ERR_INVALID with a message for an endpoint of VL_SOCK_ENDPOINT_MAX
 * characters or more, VL_ERR_IO with libzmq's reason when the bind fails;
 * bound is untouched on failure. */
int vl_sock_bind(zsock_t *s, const char *endpoint, char *bound, size_t size, vl_err_t *err);
#endif
