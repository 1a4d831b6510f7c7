/*
 * sock.c — vl_sock_bind (sock.h): the ":0" spelling and the read-back of
 * the bound endpoint. No state; runs on the caller's thread.
 */
#include "sock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int
vl_sock_bind(zsock_t *s, const char *endpoint, char *bound, size_t size, vl_err_t *err)
{
    char ep[VL_SOCK_ENDPOINT_MAX];
    size_t n = strlen(endpoint);
    if (n >= sizeof ep)
        return vl_err_set(err, VL_ERR_INVALID, "endpoint too long (%zu characters)", n);
    memcpy(ep, endpoint, n + 1);
    /* ":0" asks for any free port; czmq spells that "*". */
    if (n > 2 && strcmp(ep + n - 2, ":0") == 0)
        snprintf(ep + n - 1, sizeof ep - n + 1, "*");
    if (zsock_bind(s, "%s", ep) < 0)
        return vl_err_set(err, VL_ERR_IO, "cannot bind %s: %s", endpoint, zmq_strerror(errno));
    char *last = zsock_last_endpoint(s);
    if (size > 0)
        snprintf(bound, size, "%s", last ? last : ep);
    zstr_free(&last);
    return 0;
}
