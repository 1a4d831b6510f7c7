/*
 * sampler.c — nodes' heights from their event topics (sampler.h).
 */
#include "sampler.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <zmq.h>

#include "clock.h"

#define SAMPLER_POLL_MS 200
#define SAMPLER_REFRESH_MS 500

struct sim_sampler {
    sim_net_t *net;
    pthread_t thread;
    pthread_mutex_t lock;            /* guards stop, height, seen_ms */
    bool stop;
    int height[SIM_NODES_MAX];
    int64_t seen_ms[SIM_NODES_MAX];
};

/* The events endpoint node i's current process wrote ("" if none). */
static void
s_events_endpoint(sim_net_t *net, int i, char *out, size_t size)
{
    out[0] = '\0';
    pthread_mutex_lock(&net->lock);
    bool up = net->node[i].state == SIM_NODE_UP;
    pid_t pid = net->node[i].pid;
    char path[SIM_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/data/endpoints.json", net->node[i].dir);
    pthread_mutex_unlock(&net->lock);
    if (!up)
        return;
    json_t *doc = json_load_file(path, 0, NULL);
    const char *ev = json_string_value(json_object_get(doc, "events"));
    json_t *p = json_object_get(doc, "pid");
    if (ev && strlen(ev) < size && json_integer_value(p) == pid)
        snprintf(out, size, "%s", ev);
    json_decref(doc);
}

static void *
s_run(void *arg)
{
    sim_sampler_t *s = arg;
    sim_net_t *net = s->net;
    void *ctx = zmq_ctx_new();
    void *sock[SIM_NODES_MAX] = { NULL };
    char endpoint[SIM_NODES_MAX][CLIENT_ENDPOINT_MAX];
    memset(endpoint, 0, sizeof endpoint);
    zmq_pollitem_t items[SIM_NODES_MAX];
    int owner[SIM_NODES_MAX];
    int64_t next_refresh = 0;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        bool stop = s->stop;
        pthread_mutex_unlock(&s->lock);
        if (stop)
            break;
        if (vl_wall_ms() >= next_refresh) {
            /* A node restarted (or stopped) publishes elsewhere: follow it. */
            for (int i = 0; i < net->n; i++) {
                char ep[CLIENT_ENDPOINT_MAX];
                s_events_endpoint(net, i, ep, sizeof ep);
                if (strcmp(ep, endpoint[i]) == 0)
                    continue;
                /* A SUB reconnects to its endpoint forever: left connected
                 * to a stopped node's port, it would hear whichever process
                 * binds that port next (another network's node). */
                if (sock[i])
                    zmq_close(sock[i]);
                sock[i] = NULL;
                endpoint[i][0] = '\0';
                if (!ep[0])
                    continue;
                sock[i] = zmq_socket(ctx, ZMQ_SUB);
                int zero = 0;
                zmq_setsockopt(sock[i], ZMQ_LINGER, &zero, sizeof zero);
                zmq_setsockopt(sock[i], ZMQ_SUBSCRIBE, "sys.heartbeat", strlen("sys.heartbeat"));
                zmq_setsockopt(sock[i], ZMQ_SUBSCRIBE, "block", strlen("block"));
                if (zmq_connect(sock[i], ep) != 0) {
                    zmq_close(sock[i]);
                    sock[i] = NULL;
                    continue;
                }
                snprintf(endpoint[i], sizeof endpoint[i], "%s", ep);
            }
            next_refresh = vl_wall_ms() + SAMPLER_REFRESH_MS;
        }
        int n = 0;
        for (int i = 0; i < net->n; i++)
            if (sock[i]) {
                items[n] = (zmq_pollitem_t) { sock[i], 0, ZMQ_POLLIN, 0 };
                owner[n++] = i;
            }
        if (zmq_poll(items, n, SAMPLER_POLL_MS) <= 0)
            continue;
        for (int k = 0; k < n; k++) {
            if (!(items[k].revents & ZMQ_POLLIN))
                continue;
            /* Drain: topic, body, sequence per message. */
            for (int m = 0; m < 1000; m++) {
                zmq_msg_t frame;
                zmq_msg_init(&frame);
                int part = 0;
                long long height = -1;
                while (zmq_msg_recv(&frame, items[k].socket, ZMQ_DONTWAIT) >= 0) {
                    if (part == 1) {
                        json_t *body = json_loadb(zmq_msg_data(&frame), zmq_msg_size(&frame), 0, NULL);
                        json_t *h = json_object_get(body, "height");
                        height = json_is_integer(h) ? json_integer_value(h) : -1;
                        json_decref(body);
                    }
                    part++;
                    if (!zmq_msg_more(&frame))
                        break;
                }
                zmq_msg_close(&frame);
                if (part == 0)
                    break;
                if (height >= 0) {
                    int i = owner[k];
                    pthread_mutex_lock(&s->lock);
                    if (height > s->height[i] || vl_wall_ms() - s->seen_ms[i] > 5000)
                        s->height[i] = (int) height;
                    s->seen_ms[i] = vl_wall_ms();
                    pthread_mutex_unlock(&s->lock);
                }
            }
        }
    }
    for (int i = 0; i < net->n; i++)
        if (sock[i])
            zmq_close(sock[i]);
    zmq_ctx_term(ctx);
    return NULL;
}

sim_sampler_t *
sim_sampler_start(sim_net_t *net, vl_err_t *err)
{
    sim_sampler_t *s = calloc(1, sizeof *s);
    if (!s) {
        vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    s->net = net;
    pthread_mutex_init(&s->lock, NULL);
    for (int i = 0; i < SIM_NODES_MAX; i++)
        s->height[i] = -1;
    if (pthread_create(&s->thread, NULL, s_run, s) != 0) {
        free(s);
        vl_err_set(err, VL_ERR_IO, "cannot start the height sampler thread");
        return NULL;
    }
    return s;
}

void
sim_sampler_heights(sim_sampler_t *s, int *height, int64_t stale_ms)
{
    int64_t now = vl_wall_ms();
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->net->n; i++)
        height[i] = s->seen_ms[i] && now - s->seen_ms[i] <= stale_ms ? s->height[i] : -1;
    pthread_mutex_unlock(&s->lock);
}

void
sim_sampler_stop(sim_sampler_t **sp)
{
    sim_sampler_t *s = sp ? *sp : NULL;
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->lock);
    free(s);
    *sp = NULL;
}
