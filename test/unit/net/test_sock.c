/*
 * test_sock.c — vl_sock_bind (net/sock.h): ":0" binds a free port and the
 * bound endpoint is read back; a taken port, a bad endpoint and an
 * over-long one are errors with a message, and the output is untouched.
 */
#include <stdlib.h>

#include "check.h"
#include "error.h"
#include "sock.h"

static void
test_bind_any_port(void)
{
    zsock_t *a = zsock_new(ZMQ_PULL), *b = zsock_new(ZMQ_PULL);
    char bound[VL_SOCK_ENDPOINT_MAX] = "", again[VL_SOCK_ENDPOINT_MAX] = "untouched";
    vl_err_t err = { "" };
    CHECK_EQ(vl_sock_bind(a, "tcp://127.0.0.1:0", bound, sizeof bound, &err), 0);
    CHECK_CONTAINS(bound, "tcp://127.0.0.1:");
    CHECK(atoi(bound + strlen("tcp://127.0.0.1:")) > 0);
    /* The same port again: taken. */
    CHECK_EQ(vl_sock_bind(b, bound, again, sizeof again, &err), VL_ERR_IO);
    CHECK_CONTAINS(err.msg, "cannot bind");
    CHECK_STR(again, "untouched");
    /* Not an endpoint. */
    CHECK_EQ(vl_sock_bind(b, "nonsense", again, sizeof again, &err), VL_ERR_IO);
    CHECK_CONTAINS(err.msg, "nonsense");
    /* Too long to be one of ours. */
    char longer[VL_SOCK_ENDPOINT_MAX + 8];
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = 0;
    CHECK_EQ(vl_sock_bind(b, longer, again, sizeof again, &err), VL_ERR_INVALID);
    CHECK_STR(again, "untouched");
    /* A fixed endpoint reads back as itself; a short buffer truncates. */
    char tiny[8];
    CHECK_EQ(vl_sock_bind(b, "inproc://sock-test", tiny, sizeof tiny, &err), 0);
    CHECK_STR(tiny, "inproc:");
    zsock_destroy(&a);
    zsock_destroy(&b);
}

int
main(void)
{
    RUN(test_bind_any_port);
    return check_done();
}
