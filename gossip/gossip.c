/*
 * gossip.c — the gossip transport's lifecycle (gossip.h): configuration
 * defaults, construction and destruction, admitting members and bootstrap
 * peers, start (sockets bound, readers registered on the node's evloop,
 * then the membership driver), detach, the fault-hook switch, accessors.
 *
 * Owns the gossip_t itself and everything it holds (gossip_internal.h says
 * which file manages which part). The protocols live elsewhere: transport.c
 * (mesh, envelopes, DEALERs, fault hooks), sync.c (pulls and snapshots),
 * request.c (member requests), membership_driver.c (heartbeats, claims,
 * the failure-detector timer), zap.c (who may connect).
 *
 * Thread: the one that calls gossip_start and runs its evloop; before
 * start, whoever constructs it.
 */
#include "gossip_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "curve.h"
#include "log.h"
#include "sock.h"

void
gossip_config_defaults(gossip_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->degree = 6;
    c->full_mesh_max = 12;
    c->heartbeat_ms = 500;
    c->suspect_ms = 1500;
    c->dead_ms = 2500;
    c->max_hops = 12;
    c->seen_max = 200000;
    c->seen_ttl_ms = 120000;
    c->pull_batch = 256;
    c->pull_outstanding = 4;
    c->pull_timeout_ms = 3000;
    c->hwm = 20000;
    c->request_max_bytes = GOSSIP_REQUEST_MAX_BYTES;
    c->request_outstanding = GOSSIP_REQUEST_OUTSTANDING;
    c->request_per_peer = GOSSIP_REQUEST_PER_PEER;
    c->faults_allowed = false;
}

gossip_t *
gossip_new(const gossip_config_t *config, const vl_key_t *key, const char *key_pem,
           const gossip_handler_t *handler, vl_err_t *err)
{
    gossip_t *g = calloc(1, sizeof *g);
    if (!g) {
        vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    g->config = *config;
    g->key = key;
    g->handler = *handler;
    g->handler.payload_checked_types &= ~((1u << VL__ENVELOPE_TYPE__ENV_HEARTBEAT)
                                          | (1u << VL__ENVELOPE_TYPE__ENV_JOIN)
                                          | (1u << VL__ENVELOPE_TYPE__ENV_CLAIM));
    g->timer = -1;
    g->bundle_timer = -1;
    g->delay_timer = -1;
    g->bundle_ms = GOSSIP_BUNDLE_MS;
    memcpy(g->self, vl_key_public(key), VL_PUBKEY_SIZE);
    vl_did_from_public(g->self, g->did);
    if (gossip_curve_keypair_from_pem(key_pem, g->curve_pub, g->curve_secret, err) != 0)
        goto fail;
    uint8_t self_curve[32];
    if (gossip_curve_public(g->self, self_curve) != 0 || memcmp(self_curve, g->curve_pub, 32)) {
        vl_err_set(err, VL_ERR_INVALID, "key %s does not match its own CURVE form", key_pem);
        goto fail;
    }
    vl_random_bytes(&g->rnd, sizeof g->rnd);
    vl_random_bytes(&g->nonce, sizeof g->nonce);
    vl_random_bytes(&g->next_request_id, sizeof g->next_request_id);
    /* Incarnation: wall-clock ms at start, so a restart always rejoins with
     * a higher one without storing anything. */
    g->members = gossip_members_new(g->self, (uint64_t) vl_wall_ms(), config->suspect_ms,
                                    config->dead_ms);
    g->seen = gossip_seen_new(config->seen_max, config->seen_ttl_ms);
    g->pull = gossip_pull_new(config->pull_outstanding, config->pull_batch,
                              config->pull_timeout_ms);
    g->bundle = malloc(GOSSIP_BUNDLE_MAX_BYTES);
    g->pending = calloc(config->request_outstanding ? config->request_outstanding : 1,
                        sizeof *g->pending);
    if (!g->members || !g->seen || !g->pull || !g->bundle || !g->pending) {
        vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        goto fail;
    }
    return g;
fail:
    gossip_destroy(&g);
    return NULL;
}

void
gossip_detach(gossip_t *g)
{
    if (!g || !g->loop)
        return;
    evloop_t *loop = g->loop;
    for (size_t i = 0; i < GOSSIP_PEERS_MAX; i++)
        if (g->dealers[i])
            evloop_reader_end(loop, g->dealers[i]->sock);
    if (g->timer >= 0)
        evloop_timer_end(loop, g->timer);
    g->timer = -1;
    if (g->bundle_timer >= 0)
        evloop_timer_end(loop, g->bundle_timer);
    g->bundle_timer = -1;
    g->bundle_len = 0;
    gossip_faults_clear(g);
    if (g->sub)
        evloop_reader_end(loop, g->sub);
    if (g->sync)
        evloop_reader_end(loop, g->sync);
    g->loop = NULL;
    gossip_zap_detach(g);   /* after loop = NULL: the handler moves to another gossip's loop */
    gossip_request_cancel(g, loop);
}

void
gossip_destroy(gossip_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gossip_t *g = *self_p;
    gossip_detach(g);
    gossip_request_free(g);
    for (size_t i = 0; i < GOSSIP_PEERS_MAX; i++)
        gossip_dealer_destroy(g, i);
    zsock_destroy(&g->sub);
    zsock_destroy(&g->pub);
    zsock_destroy(&g->sync);
    gossip_zap_leave(g);   /* after our server sockets are closed: none left unguarded */
    gossip_members_destroy(&g->members);
    gossip_seen_destroy(&g->seen);
    gossip_pull_destroy(&g->pull);
    free(g->bundle);
    free(g->pending);
    free(g->faults);
    for (size_t i = 0; i < GOSSIP_PEERS_MAX; i++)
        free(g->last_hb[i]);
    memset(g->curve_secret, 0, sizeof g->curve_secret);
    free(g);
    *self_p = NULL;
}

int
gossip_admit(gossip_t *g, const uint8_t key[VL_PUBKEY_SIZE], const char *name)
{
    uint8_t curve[32];
    if (gossip_curve_public(key, curve) != 0)
        return VL_ERR_INVALID;
    int rc = gossip_members_admit(g->members, key, name);
    if (rc != 0)
        return rc;
    gossip_peer_t *p = gossip_members_find(g->members, key, VL_PUBKEY_SIZE);
    if (p)
        memcpy(g->curve_of[gossip_index_of(g, p)], curve, 32);
    return 0;
}

int
gossip_add_peer(gossip_t *g, const uint8_t key[VL_PUBKEY_SIZE], const char *gossip_ep,
                const char *sync_ep)
{
    if (memcmp(key, g->self, VL_PUBKEY_SIZE) == 0)
        return 0;
    if (!gossip_members_find(g->members, key, VL_PUBKEY_SIZE))
        return VL_ERR_INVALID;
    gossip_members_set_endpoints(g->members, key, gossip_ep, sync_ep);
    return 0;
}

/* What heartbeats advertise for a bound endpoint: tcp://HOST:<its port>
 * with an advertise host, else the bound endpoint itself. */
static int
s_advertise(const char *host, const char *bound, char out[GOSSIP_ENDPOINT_MAX], vl_err_t *err)
{
    const char *colon = strrchr(bound, ':');
    int n = host[0] && colon ? snprintf(out, GOSSIP_ENDPOINT_MAX, "tcp://%s%s", host, colon)
                             : snprintf(out, GOSSIP_ENDPOINT_MAX, "%s", bound);
    if (n < 0 || n >= GOSSIP_ENDPOINT_MAX)
        return vl_err_set(err, VL_ERR_INVALID, "advertised endpoint too long (host '%.64s')",
                          host);
    return 0;
}

int
gossip_start(gossip_t *g, evloop_t *loop, vl_err_t *err)
{
    if (g->loop || g->pub)
        return vl_err_set(err, VL_ERR_STATE, "gossip already started");
    g->loop = loop;
    int rc = gossip_zap_join(g, err);
    if (rc != 0)
        return rc;
    g->pub = zsock_new(ZMQ_PUB);
    g->sub = zsock_new(ZMQ_SUB);
    g->sync = zsock_new(ZMQ_ROUTER);
    if (!g->pub || !g->sub || !g->sync)
        return vl_err_set(err, VL_ERR_IO, "cannot create gossip sockets");
    gossip_common_opts(g, g->pub);
    gossip_common_opts(g, g->sub);
    gossip_common_opts(g, g->sync);
    gossip_curve_server(g, g->pub);
    gossip_curve_server(g, g->sync);
    zsock_set_router_mandatory(g->sync, 0);
    zsock_set_curve_publickey_bin(g->sub, g->curve_pub);
    zsock_set_curve_secretkey_bin(g->sub, g->curve_secret);
    zsock_set_subscribe(g->sub, "");
    rc = vl_sock_bind(g->pub, g->config.gossip_endpoint, g->pub_bound, sizeof g->pub_bound, err);
    if (rc == 0)
        rc = vl_sock_bind(g->sync, g->config.sync_endpoint, g->sync_bound, sizeof g->sync_bound,
                          err);
    if (rc == 0)
        rc = s_advertise(g->config.advertise_host, g->pub_bound, g->pub_adv, err);
    if (rc == 0)
        rc = s_advertise(g->config.advertise_host, g->sync_bound, g->sync_adv, err);
    if (rc != 0)
        return rc;
    if (evloop_reader(loop, g->sub, gossip_on_sub, g) != 0
        || evloop_reader(loop, g->sync, gossip_on_sync, g) != 0)
        return vl_err_set(err, VL_ERR_IO, "cannot register the gossip sockets with the loop");
    gossip_driver_start(g);
    return 0;
}

int
gossip_set_faults(gossip_t *g, const gossip_faults_t *faults)
{
    if (!g->config.faults_allowed)
        return VL_ERR_STATE;
    if (faults && gossip_faults_check(faults) != 0)
        return VL_ERR_INVALID;
    if (!faults) {
        free(g->faults);
        g->faults = NULL;
        vl_warn("gossip", "faults.cleared", "test-only fault hooks off");
        return 0;
    }
    if (!g->faults && !(g->faults = malloc(sizeof *g->faults)))
        return VL_ERR_NOMEM;
    *g->faults = *faults;
    vl_warn("gossip", "faults.set",
            "seed=%llu drop_ppm=%u delay_ppm=%u delay_ms=%d jitter_ms=%d partition=%zu",
            (unsigned long long) faults->seed, faults->drop_ppm, faults->delay_ppm,
            faults->delay_ms, faults->delay_jitter_ms, faults->n_partition);
    return 0;
}

int
gossip_peer_slot(gossip_t *g, const uint8_t key[VL_PUBKEY_SIZE])
{
    if (memcmp(key, g->self, VL_PUBKEY_SIZE) == 0)
        return GOSSIP_SELF;
    gossip_peer_t *p = gossip_members_find(g->members, key, VL_PUBKEY_SIZE);
    return p ? gossip_index_of(g, p) : -1;
}

const char *
gossip_endpoint(const gossip_t *g)
{
    return g->pub_bound;
}

const char *
gossip_sync_endpoint(const gossip_t *g)
{
    return g->sync_bound;
}

const char *
gossip_advertised_endpoint(const gossip_t *g)
{
    return g->pub_adv;
}

const char *
gossip_advertised_sync_endpoint(const gossip_t *g)
{
    return g->sync_adv;
}

gossip_members_t *
gossip_members(gossip_t *g)
{
    return g->members;
}

const gossip_stats_t *
gossip_stats(const gossip_t *g)
{
    return &g->stats;
}
