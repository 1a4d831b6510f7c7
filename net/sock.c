/* sock.c — binding with any-free-port support and read-back (sock.h). */
#include "sock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int
vl_sock_bind(zsock_t *s, const char *endpoint, char *bound, size_t size, vl_err_t *err)
{
    char ep[256];
    if (snprintf(ep, sizeof ep, "%s", endpoint) >= (int) sizeof ep)
        return vl_err_set(err, VL_ERR_IO, "cannot bind %.64s...: endpoint too long", endpoint);
    size_t n = strlen(ep);
    if (n > 2 && strcmp(ep + n - 2, ":0") == 0)
        snprintf(ep + n - 1, sizeof ep - n + 1, "*");
    if (zsock_bind(s, "%s", ep) < 0)
        return vl_err_set(err, VL_ERR_IO, "cannot bind %s: %s", endpoint, zmq_strerror(errno));
    char *last = zsock_last_endpoint(s);
    snprintf(bound, size, "%s", last ? last : ep);
    zstr_free(&last);
    return 0;
}
