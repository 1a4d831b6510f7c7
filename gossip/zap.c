/*
 * zap.c — the process's ZAP handler (RFC 27) for the gossip sockets: it
 * admits a CURVE client only when its key is a member's (or our own) in the
 * gossip whose server socket it connects to, and tells libzmq the member's
 * DID as the connection's User-Id (request.c reads it back to know who is
 * asking). NULL-mechanism sockets of the process (the API, the event
 * topics) are not ours to judge and pass.
 *
 * libzmq asks one handler per context, at inproc://zeromq.zap.01, and czmq
 * gives a process one context. A node runs one gossip; tests run several in
 * one process. So the REP socket belongs to the process, not to a gossip:
 * the first gossip to start binds it, every started gossip joins under its
 * own ZAP domain ("vledger.<n>", set on its server sockets), and a request
 * is judged against the membership of the gossip its domain names. The REP
 * is read on the loop of one attached gossip, moves to another's when that
 * one detaches, and closes when the last gossip has closed its server
 * sockets — not before: a CURVE server socket with no handler bound would
 * accept every client.
 *
 * Thread: every gossip that joins runs on one thread (asserted), the one
 * whose loop reads the REP: the handler reads their member tables.
 */
#include "gossip_internal.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_USERS_MAX 64   /* gossips joined at once (tests; a node has one) */

static struct {
    zsock_t *rep;                       /* owned while any gossip is joined */
    evloop_t *loop;                     /* borrowed: where rep is read; NULL = unread */
    gossip_t *users[ZAP_USERS_MAX];     /* borrowed: joined gossips */
    size_t n;
    unsigned next_domain;
    pthread_t thread;                   /* theirs (valid while n > 0) */
} s_zap;

static gossip_t *
s_user(const char *domain)
{
    for (size_t i = 0; domain && i < s_zap.n; i++)
        if (strcmp(s_zap.users[i]->zap_domain, domain) == 0)
            return s_zap.users[i];
    return NULL;
}

/* Whether a CURVE client key is admitted by g; fills user with its DID. */
static bool
s_admits(gossip_t *g, const uint8_t curve[32], char user[VL_DID_BUF])
{
    if (memcmp(curve, g->curve_pub, 32) == 0) {
        snprintf(user, VL_DID_BUF, "%s", g->did);
        return true;
    }
    size_t n = gossip_members_count(g->members);
    for (size_t i = 0; i < n; i++)
        if (memcmp(curve, g->curve_of[i], 32) == 0) {
            snprintf(user, VL_DID_BUF, "%s", gossip_members_at(g->members, i)->did);
            return true;
        }
    return false;
}

static int
s_on_zap(evloop_t *loop, zsock_t *sock, void *arg)
{
    zmsg_t *msg = zmsg_recv_nowait(sock);
    if (!msg)
        return 0;
    char *version = zmsg_popstr(msg), *reqid = zmsg_popstr(msg);
    char *domain = zmsg_popstr(msg), *address = zmsg_popstr(msg);
    char *identity = zmsg_popstr(msg), *mechanism = zmsg_popstr(msg);
    zframe_t *cred = zmsg_pop(msg);
    const char *status = "400", *text = "not a member";
    char user[VL_DID_BUF] = "";
    if (mechanism && strcmp(mechanism, "CURVE") == 0 && cred && zframe_size(cred) == 32) {
        gossip_t *g = s_user(domain);
        if (g && s_admits(g, zframe_data(cred), user)) {
            status = "200";
            text = "OK";
        } else if (g && gossip_log_thin(++g->stats.zap_denied))
            vl_warn("gossip", "zap.denied", "address=%s count=%llu", address ? address : "?",
                    (unsigned long long) g->stats.zap_denied);
    } else if (mechanism && strcmp(mechanism, "NULL") == 0) {
        status = "200";
        text = "OK";
    }
    zmsg_t *reply = zmsg_new();
    zmsg_addstr(reply, "1.0");
    zmsg_addstr(reply, reqid ? reqid : "");
    zmsg_addstr(reply, status);
    zmsg_addstr(reply, text);
    zmsg_addstr(reply, user);
    zmsg_addmem(reply, NULL, 0);
    if (zmsg_send(&reply, sock) != 0)
        zmsg_destroy(&reply);
    zframe_destroy(&cred);
    zstr_free(&version);
    zstr_free(&reqid);
    zstr_free(&domain);
    zstr_free(&address);
    zstr_free(&identity);
    zstr_free(&mechanism);
    zmsg_destroy(&msg);
    return 0;
}

/* Reads the REP on an attached user's loop, if it is unread. */
static void
s_attach(void)
{
    for (size_t i = 0; i < s_zap.n && !s_zap.loop; i++) {
        evloop_t *loop = s_zap.users[i]->loop;
        if (loop && evloop_reader(loop, s_zap.rep, s_on_zap, NULL) == 0) {
            s_zap.loop = loop;
            evloop_sent(loop, s_zap.rep);   /* requests may be waiting: evloop.h, rule 3 */
        }
    }
}

int
gossip_zap_join(gossip_t *g, vl_err_t *err)
{
    assert(g->loop && !g->zap_domain[0]);
    if (s_zap.n > 0)
        assert(pthread_equal(s_zap.thread, pthread_self()));
    if (s_zap.n == ZAP_USERS_MAX)
        return vl_err_set(err, VL_ERR_LIMIT, "more than %d gossips in one process",
                          ZAP_USERS_MAX);
    if (!s_zap.rep) {
        s_zap.rep = zsock_new(ZMQ_REP);
        if (!s_zap.rep || zsock_bind(s_zap.rep, ZAP_ENDPOINT) < 0) {
            zsock_destroy(&s_zap.rep);
            return vl_err_set(err, VL_ERR_IO,
                              "cannot bind the ZAP handler (another in this process?)");
        }
    }
    s_zap.thread = pthread_self();
    snprintf(g->zap_domain, sizeof g->zap_domain, "vledger.%u", s_zap.next_domain++);
    s_zap.users[s_zap.n++] = g;
    s_attach();
    return 0;
}

void
gossip_zap_detach(gossip_t *g)
{
    if (!g->zap_domain[0] || !s_zap.loop)
        return;
    for (size_t i = 0; i < s_zap.n; i++)
        if (s_zap.users[i]->loop == s_zap.loop)
            return;   /* another gossip still runs on that loop */
    evloop_reader_end(s_zap.loop, s_zap.rep);
    s_zap.loop = NULL;
    s_attach();
}

void
gossip_zap_leave(gossip_t *g)
{
    if (!g->zap_domain[0])
        return;
    for (size_t i = 0; i < s_zap.n; i++)
        if (s_zap.users[i] == g) {
            s_zap.users[i] = s_zap.users[--s_zap.n];
            break;
        }
    g->zap_domain[0] = 0;
    if (s_zap.n > 0)
        return;
    if (s_zap.loop)
        evloop_reader_end(s_zap.loop, s_zap.rep);
    s_zap.loop = NULL;
    /* Unbind first: closing releases an inproc endpoint only later (on
     * libzmq's reaper thread), and the next gossip must be able to bind. */
    zsock_unbind(s_zap.rep, ZAP_ENDPOINT);
    zsock_destroy(&s_zap.rep);
}

const uint8_t *
gossip_zap_peer(gossip_t *g, zframe_t *frame)
{
    const char *uid = frame ? zframe_meta(frame, "User-Id") : NULL;
    if (!uid || !uid[0])
        return NULL;
    if (strcmp(uid, g->did) == 0)
        return g->self;
    size_t n = gossip_members_count(g->members);
    for (size_t i = 0; i < n; i++) {
        gossip_peer_t *p = gossip_members_at(g->members, i);
        if (strcmp(p->did, uid) == 0)
            return p->key;
    }
    return NULL;
}
