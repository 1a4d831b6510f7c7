/*
 * events.c — the node's external event topics (INTERFACE.md): a PUB socket
 * apart from gossip, three frames per message: topic, JSON body, 4-byte
 * little-endian per-topic sequence number. Every body carries `stream` (fixed
 * for this process, so a consumer tells a restart from a loss), `height` and
 * its position `pos {height, tx, event}`.
 *
 * Topics per committed block, in order: `tx` for each transaction (status),
 * `event.<name>` for each contract event of a valid tx, `vehicle.<VIN>` for
 * each vehicle document a valid tx wrote, then `block`. `sys.heartbeat`
 * ticks every second.
 *
 * The bodies of a block are derived from the block alone (its transactions
 * and the validation codes stored beside it), by one function used both
 * live, right after the commit, and by `events.replay`, so a consumer that
 * fills a gap from the replay sees exactly what it missed.
 */
#include <stdlib.h>
#include <string.h>

#include "blockview.h"
#include "clock.h"
#include "codec.h"
#include "node_internal.h"
#include "sock.h"
#include "tx.h"

struct events_t {
    zsock_t *sock;                /* owned: PUB */
    char bound[256];
    zhashx_t *topic_seq;          /* owned: topic -> uint32 sequence (heap) */
    uint64_t stream_id;           /* fixed for the process lifetime */
    ledger_t *ledger;             /* borrowed: replay reads committed blocks */
    const char *chain_id;         /* borrowed */
};

/* One transaction of a block as the event derivation needs it. */
typedef struct {
    const uint8_t *txid;          /* 32 bytes */
    int code;
    const tx_parsed_t *tx;        /* NULL when the tx did not parse */
} block_tx_t;

typedef void (*event_sink_fn)(void *arg, const char *topic, json_t *body);

static json_t *
s_pos(uint64_t height, int tx, int event)
{
    return json_pack("{s:I, s:i, s:i}", "height", (json_int_t) height, "tx", tx, "event", event);
}

static void
s_block_events(uint64_t height, const uint8_t hash[32], const uint8_t state_hash[32],
               int64_t timestamp_ms, const block_tx_t *txs, size_t n, event_sink_fn sink,
               void *arg)
{
    char hex[65];
    size_t valid = 0;
    for (size_t i = 0; i < n; i++) {
        vl_hex_encode(txs[i].txid, 32, hex);
        const tx_parsed_t *tx = txs[i].tx;
        int code = txs[i].code;
        json_t *body = json_pack("{s:I, s:s, s:i, s:s, s:o}", "height", (json_int_t) height,
                                 "txid", hex, "code", code, "code_name", tx_code_name(code),
                                 "pos", s_pos(height, (int) i, -1));
        if (tx) {
            json_object_set_new(body, "contract", json_string(tx->proposal->contract));
            json_object_set_new(body, "function", json_string(tx->proposal->function));
            json_object_set_new(body, "creator", json_string(tx->creator_did));
        }
        sink(arg, "tx", body);
        if (code != 0 || !tx)
            continue;
        valid++;
        for (size_t k = 0; k < tx->result->n_events; k++) {
            const Vl__Event *ev = tx->result->events[k];
            char topic[160];
            snprintf(topic, sizeof topic, "event.%.140s", ev->name);
            json_t *payload = json_loads(ev->payload_json, JSON_DECODE_ANY, NULL);
            sink(arg, topic,
                 json_pack("{s:I, s:s, s:s, s:o, s:o}", "height", (json_int_t) height, "txid",
                           hex, "name", ev->name, "payload", payload ? payload : json_null(),
                           "pos", s_pos(height, (int) i, (int) k)));
        }
        for (size_t k = 0; k < tx->result->n_writes; k++) {
            const Vl__WriteItem *w = tx->result->writes[k];
            if (strncmp(w->key, "vehicle/", 8) != 0)
                continue;
            char topic[160];
            snprintf(topic, sizeof topic, "vehicle.%.140s", w->key + 8);
            json_t *doc = w->is_delete ? NULL
                                       : json_loadb((const char *) w->value.data, w->value.len,
                                                    JSON_DECODE_ANY, NULL);
            sink(arg, topic,
                 json_pack("{s:I, s:s, s:s, s:o, s:o}", "height", (json_int_t) height, "txid",
                           hex, "vin", w->key + 8, "vehicle", doc ? doc : json_null(), "pos",
                           s_pos(height, (int) i, -1)));
        }
    }
    char state[65];
    vl_hex_encode(hash, 32, hex);
    vl_hex_encode(state_hash, 32, state);
    sink(arg, "block",
         json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:o}", "height", (json_int_t) height, "hash",
                   hex, "state_hash", state, "txs", (json_int_t) n, "valid", (json_int_t) valid,
                   "timestamp_ms", (json_int_t) timestamp_ms, "pos", s_pos(height, -1, -1)));
}

/* --- Live publishing ------------------------------------------------------- */

static void
s_free_item(void **item)
{
    free(*item);
    *item = NULL;
}

events_t *
events_new(const char *endpoint, ledger_t *ledger, const char *chain_id, vl_err_t *err)
{
    events_t *ev = calloc(1, sizeof *ev);
    if (!ev) {
        vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    ev->ledger = ledger;
    ev->chain_id = chain_id;
    ev->topic_seq = zhashx_new();
    ev->sock = zsock_new(ZMQ_PUB);
    if (!ev->topic_seq || !ev->sock) {
        vl_err_set(err, VL_ERR_NOMEM, "out of memory");
        events_destroy(&ev);
        return NULL;
    }
    zhashx_set_destructor(ev->topic_seq, s_free_item);
    vl_random_bytes(&ev->stream_id, sizeof ev->stream_id);
    ev->stream_id &= 0x1fffffffffffffULL;   /* exact in a JSON double */
    zsock_set_linger(ev->sock, 0);
    zsock_set_sndhwm(ev->sock, 100000);     /* a whole block's burst of topics */
    zsock_set_maxmsgsize(ev->sock, 8 << 20);
    if (vl_sock_bind(ev->sock, endpoint, ev->bound, sizeof ev->bound, err) != 0)
        events_destroy(&ev);
    return ev;
}

void
events_destroy(events_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    events_t *ev = *self_p;
    zhashx_destroy(&ev->topic_seq);
    zsock_destroy(&ev->sock);
    free(ev);
    *self_p = NULL;
}

const char *events_endpoint(const events_t *ev) { return ev->bound; }
uint64_t events_stream(const events_t *ev) { return ev->stream_id; }

static void
s_publish(void *arg, const char *topic, json_t *body)
{
    events_t *ev = arg;
    uint32_t *seq = zhashx_lookup(ev->topic_seq, topic);
    if (!seq) {
        seq = calloc(1, sizeof *seq);
        if (!seq) {
            json_decref(body);
            return;
        }
        zhashx_insert(ev->topic_seq, topic, seq);
    }
    json_object_set_new(body, "stream", json_integer((json_int_t) ev->stream_id));
    char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(body);
    if (!text)
        return;
    uint8_t le[4] = { (uint8_t) *seq, (uint8_t) (*seq >> 8), (uint8_t) (*seq >> 16),
                      (uint8_t) (*seq >> 24) };
    (*seq)++;
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, topic);
    zmsg_addmem(msg, text, strlen(text));
    zmsg_addmem(msg, le, sizeof le);
    free(text);
    if (zmsg_send(&msg, ev->sock) != 0)
        zmsg_destroy(&msg);
}

void
events_on_commit(void *arg, const commit_event_t *event)
{
    events_t *ev = arg;
    const validated_block_t *vb = event->block;
    const block_view_t *view = vb->view;
    block_tx_t *txs = calloc(view->n_txs ? view->n_txs : 1, sizeof *txs);
    if (!txs)
        return;
    for (size_t i = 0; i < view->n_txs; i++)
        txs[i] = (block_tx_t) { view->txids[i], vb->effects[i].code, view->txs[i] };
    s_block_events(vb->commit.height, view->hash, event->state_hash, view->header->timestamp_ms,
                   txs, view->n_txs, s_publish, ev);
    free(txs);
}

void
events_publish_heartbeat(events_t *ev, uint64_t height, size_t mempool)
{
    s_publish(ev, "sys.heartbeat",
              json_pack("{s:I, s:I, s:I, s:o}", "height", (json_int_t) height, "time_ms",
                        (json_int_t) vl_wall_ms(), "mempool", (json_int_t) mempool, "pos",
                        s_pos(height, -1, -1)));
}

/* --- Replay ------------------------------------------------------------------ */

typedef struct {
    json_t *out;                  /* array of {topic, body} */
    json_t *topics;               /* borrowed: array of prefixes, or NULL = all */
    uint64_t stream;              /* the node's stream id, as in live bodies */
    size_t max;
    bool truncated;
} replay_t;

static void
s_collect(void *arg, const char *topic, json_t *body)
{
    replay_t *r = arg;
    bool want = !r->topics || json_array_size(r->topics) == 0;
    size_t i;
    json_t *p;
    json_array_foreach(r->topics, i, p) {
        const char *prefix = json_string_value(p);
        if (prefix && strncmp(topic, prefix, strlen(prefix)) == 0)
            want = true;
    }
    if (!want || json_array_size(r->out) >= r->max) {
        r->truncated = r->truncated || want;
        json_decref(body);
        return;
    }
    json_object_set_new(body, "stream", json_integer((json_int_t) r->stream));
    json_array_append_new(r->out, json_pack("{s:s, s:o}", "topic", topic, "body", body));
}

/* The committed block at h, parsed, or NULL. */
static block_view_t *
s_view(events_t *ev, uint64_t h, int flags)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (ledger_block_get(ev->ledger, h, &bytes, &len) != 0)
        return NULL;
    block_view_t *view = NULL;
    vl_err_t err;
    block_view_new(bytes, len, ev->chain_id, flags, &view, &err);
    free(bytes);
    return view;
}

int
events_replay(events_t *ev, uint64_t from, json_t *topics, size_t max_events, json_t **out)
{
    uint64_t tip = ledger_height(ev->ledger);
    replay_t r = { json_array(), topics, ev->stream_id, max_events, false };
    uint64_t h = from;
    for (; h <= tip && !r.truncated; h++) {
        block_view_t *view = s_view(ev, h, BLOCK_VIEW_PARSE_TXS);
        if (!view) {
            json_decref(r.out);
            return VL_ERR_CORRUPT;
        }
        Vl__BlockCodes *codes = NULL;
        ledger_block_codes(ev->ledger, h, &codes);
        size_t n = view->n_txs;
        block_tx_t *txs = calloc(n ? n : 1, sizeof *txs);
        for (size_t i = 0; txs && i < n; i++)
            txs[i] = (block_tx_t) { view->txids[i],
                                    codes && i < codes->n_codes ? (int) codes->codes[i] : 0,
                                    view->txs[i] };
        /* The state hash after block h is carried by block h+1's header. */
        uint8_t state[32];
        block_view_t *next = h < tip ? s_view(ev, h + 1, BLOCK_VIEW_HEADER) : NULL;
        if (next && next->header->state_hash.len == 32)
            memcpy(state, next->header->state_hash.data, 32);
        else
            memcpy(state, ledger_state_hash(ev->ledger), 32);
        if (txs)
            s_block_events(h, view->hash, state, view->header->timestamp_ms, txs, n, s_collect,
                           &r);
        free(txs);
        block_view_destroy(&next);
        if (codes)
            vl__block_codes__free_unpacked(codes, NULL);
        block_view_destroy(&view);
    }
    /* The marker: where this replay ends and live messages take over. A
     * truncated replay ends before block h-1 was complete; resume there. */
    uint64_t to = r.truncated ? h - 1 : tip;
    *out = json_pack("{s:o, s:I, s:b, s:I}", "events", r.out, "to_height",
                     (json_int_t) (r.truncated ? to - 1 : to), "truncated", r.truncated,
                     "next_from_height", (json_int_t) (r.truncated ? to : tip + 1));
    return 0;
}
