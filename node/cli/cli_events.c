/*
 * cli_events.c — `vledger events [--topic PREFIX]... [--from-block H]
 *                [--count N] [--no-follow]`
 *
 * Prints the node's event topics as JSON lines (each body with its `topic`
 * added). With --from-block it first fills the past from `events.replay`
 * and then follows live messages without a gap or a duplicate:
 *   1. subscribe to the topics and to sys.heartbeat;
 *   2. wait for the first heartbeat — proof the subscription is live, so
 *      nothing published from now on can be missed (ZeroMQ drops what a
 *      subscriber is sent before its subscription reaches the publisher);
 *   3. replay from H up to the marker's to_height;
 *   4. print live messages of blocks above to_height.
 * sys.* topics are printed only when asked for with --topic.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "clock.h"

#define EVENTS_TOPICS_MAX 16

static const char *const s_usage =
    "usage: vledger events [--topic PREFIX]... [--from-block H] [--count N] [--no-follow]\n";

typedef struct {
    const char *topics[EVENTS_TOPICS_MAX];
    size_t n_topics;
    long long count;          /* stop after this many printed; -1 = no limit */
    long long printed;
    bool want_sys;
} events_opts_t;

static bool
s_wanted(const events_opts_t *o, const char *topic)
{
    if (o->n_topics == 0)
        return strncmp(topic, "sys.", 4) != 0;
    for (size_t i = 0; i < o->n_topics; i++)
        if (strncmp(topic, o->topics[i], strlen(o->topics[i])) == 0)
            return true;
    return false;
}

/* Prints body with its topic and releases it (takes the reference);
 * returns true when --count is reached. */
static bool
s_print(events_opts_t *o, const char *topic, json_t *body)
{
    json_object_set_new(body, "topic", json_string(topic));
    char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(body);
    if (text) {
        printf("%s\n", text);
        fflush(stdout);
        free(text);
    }
    o->printed++;
    return o->count >= 0 && o->printed >= o->count;
}

/* Receives one three-frame message within timeout_ms. 1 = got one, 0 =
 * timeout, -1 = malformed (skipped). */
static int
s_recv(void *sub, int timeout_ms, char *topic, size_t topic_size, json_t **body)
{
    *body = NULL;   /* on every path: callers release whatever is left here */
    zmq_pollitem_t it = { sub, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll(&it, 1, timeout_ms) <= 0)
        return 0;
    zmq_msg_t part;
    int n = 0, ok = 1;
    int more = 1;
    while (more) {
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sub, 0) < 0) {
            zmq_msg_close(&part);
            return -1;
        }
        if (n == 0) {
            size_t len = zmq_msg_size(&part) < topic_size - 1 ? zmq_msg_size(&part)
                                                                : topic_size - 1;
            memcpy(topic, zmq_msg_data(&part), len);
            topic[len] = '\0';
        } else if (n == 1) {
            *body = json_loadb(zmq_msg_data(&part), zmq_msg_size(&part), 0, NULL);
        }
        more = zmq_msg_more(&part);
        zmq_msg_close(&part);
        n++;
    }
    if (n != 3 || !*body) {
        json_decref(*body);
        *body = NULL;
        ok = -1;
    }
    return ok;
}

/* Replays [from, tip]; returns the last complete height (-1 = none). */
static int
s_replay(cli_t *cli, events_opts_t *o, long long from, long long *to_height)
{
    for (;;) {
        json_t *topics = json_array();
        for (size_t i = 0; i < o->n_topics; i++)
            json_array_append_new(topics, json_string(o->topics[i]));
        json_t *params = json_pack("{s:I, s:o}", "from_height", (json_int_t) from, "topics",
                                   topics), *r = NULL;
        int rc = cli_call(cli, "events.replay", params, &r);
        json_decref(params);
        if (rc != CLI_OK)
            return rc;
        size_t i;
        json_t *ev;
        json_array_foreach(json_object_get(r, "events"), i, ev) {
            const char *topic = json_string_value(json_object_get(ev, "topic"));
            json_t *body = json_object_get(ev, "body");
            if (!topic || !body || !s_wanted(o, topic))
                continue;
            if (s_print(o, topic, json_incref(body))) {
                json_decref(r);
                *to_height = -2;   /* --count reached */
                return CLI_OK;
            }
        }
        bool truncated = json_is_true(json_object_get(r, "truncated"));
        *to_height = cli_int(r, "to_height");
        from = cli_int(r, "next_from_height");
        json_decref(r);
        if (!truncated)
            return CLI_OK;
    }
}

int
cli_events(cli_t *cli, int argc, char **argv)
{
    events_opts_t o = { .count = -1 };
    long long from = -1;
    bool follow = true;
    for (int i = 0; i < argc; i++) {
        const char *v = NULL;
        if (cli_is_help(argv[i])) {
            printf("%s\nPrints event bodies as JSON lines. --from-block replays committed "
                   "blocks first, then follows live without a gap.\n",
                   s_usage);
            return CLI_OK;
        } else if (cli_opt(argc, argv, &i, "--topic", &v) == 1) {
            if (o.n_topics == EVENTS_TOPICS_MAX)
                return cli_usage(s_usage, "at most %d --topic options", EVENTS_TOPICS_MAX);
            o.topics[o.n_topics++] = v;
        } else if (cli_opt(argc, argv, &i, "--from-block", &v) == 1) {
            char *end;
            from = strtoll(v, &end, 10);
            if (*end || from < 0)
                return cli_usage(s_usage, "--from-block needs a height >= 0");
        } else if (cli_opt(argc, argv, &i, "--count", &v) == 1) {
            char *end;
            o.count = strtoll(v, &end, 10);
            if (*end || o.count < 1)
                return cli_usage(s_usage, "--count needs a number >= 1");
        } else if (strcmp(argv[i], "--no-follow") == 0) {
            follow = false;
        } else {
            return cli_usage(s_usage, "unknown option '%s'", argv[i]);
        }
    }
    if (!follow && from < 0)
        return cli_usage(s_usage, "--no-follow needs --from-block");
    json_t *status = NULL;
    if (cli_call(cli, "status", NULL, &status) != CLI_OK)
        return CLI_FAIL;
    const char *endpoint = json_string_value(json_object_get(json_object_get(status, "endpoints"),
                                                             "events"));
    if (!endpoint) {
        json_decref(status);
        return cli_fail(VL_ERR_INVALID, "the node reports no events endpoint");
    }
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int linger = 0, hwm = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (o.n_topics == 0)
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    for (size_t i = 0; i < o.n_topics; i++)
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, o.topics[i], strlen(o.topics[i]));
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "sys.heartbeat", 13);
    int rc = zmq_connect(sub, endpoint) == 0 ? CLI_OK : CLI_FAIL;
    json_decref(status);
    if (rc != CLI_OK) {
        cli_fail(VL_ERR_IO, "cannot connect to the events endpoint");
        goto done;
    }
    long long to_height = -1;
    if (from >= 0) {
        /* Handshake: the first heartbeat proves the subscription is live. */
        int64_t deadline = vl_mono_ms() + 5000;
        char topic[256];
        json_t *body = NULL;
        bool live = false;
        while (!live && vl_mono_ms() < deadline) {
            int got = s_recv(sub, 500, topic, sizeof topic, &body);
            live = got == 1 && strcmp(topic, "sys.heartbeat") == 0;
            json_decref(body);
        }
        if (!live) {
            rc = cli_fail(VL_ERR_TIMEOUT, "no heartbeat from the node's events endpoint in 5 s");
            goto done;
        }
        rc = s_replay(cli, &o, from, &to_height);
        if (rc != CLI_OK || to_height == -2 || !follow)
            goto done;
    }
    for (;;) {
        char topic[256];
        json_t *body = NULL;
        int got = s_recv(sub, 1000, topic, sizeof topic, &body);
        if (got != 1)
            continue;
        long long h = cli_int(body, "height");
        bool past = strncmp(topic, "sys.", 4) != 0 && h <= to_height;
        if (!past && s_wanted(&o, topic)) {
            if (s_print(&o, topic, body))
                break;
        } else {
            json_decref(body);
        }
    }
done:
    zmq_close(sub);
    zmq_ctx_term(ctx);
    return rc;
}
