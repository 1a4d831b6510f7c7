/*
 * sock.h — binding a ZeroMQ socket the way every vledger socket is bound:
 * ":0" asks for any free port (czmq spells it "*"), and the endpoint as
 * bound (the port resolved) is read back for endpoints.json, status and
 * the logs. Socket options stay with the callers.
 */
#ifndef VL_SOCK_H
#define VL_SOCK_H

#include <stddef.h>

#include <czmq.h>

#include "error.h"

/* Binds s at endpoint and writes the bound endpoint into bound (size
 * bytes). VL_ERR_IO with "cannot bind ENDPOINT: reason". */
int vl_sock_bind(zsock_t *s, const char *endpoint, char *bound, size_t size, vl_err_t *err);
#endif
