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
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "blockview.h"
#include "clock.h"
#include "codec.h"
#include "jsontext.h"
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

/* Receives one message: body is canonical JSON text, valid until return. */
typedef void (*event_sink_fn)(void *arg, const char *topic, const char *body, size_t len);

/* Deepest nesting of contract-written JSON (payloads, vehicle documents)
 * embedded in a body; deeper text is replaced by null. The VM bounds what
 * honest contracts write far below this. */
#define EVENTS_EMBED_DEPTH_MAX 128

/* --- Bodies as text -----------------------------------------------------------
 * Written straight as canonical JSON (compact, keys in byte order, as
 * jansson's JSON_SORT_KEYS gives): a node emits many small bodies per
 * block, and packing then dumping a jansson tree for each was most of the
 * cost of publishing. Callers add keys in sorted order. */

typedef struct {
    vl_buf_t buf;
    bool failed;                  /* out of memory: the body is dropped */
} body_t;

static void
s_put(body_t *w, const char *text, size_t n)
{
    if (!w->failed && vl_buf_put(&w->buf, text, n) != 0)
        w->failed = true;
}

static void
s_begin(body_t *w)
{
    w->buf.len = 0;
    w->failed = false;
    s_put(w, "{", 1);
}

/* Keys are literals of this file: nothing to escape. */
static void
s_key(body_t *w, const char *key)
{
    if (w->buf.len > 1)
        s_put(w, ",", 1);
    s_put(w, "\"", 1);
    s_put(w, key, strlen(key));
    s_put(w, "\":", 2);
}

static void
s_int(body_t *w, const char *key, int64_t v)
{
    s_key(w, key);
    if (!w->failed && vl_json_put_int(&w->buf, v) != 0)
        w->failed = true;
}

/* A string from a transaction: text that is not UTF-8 becomes null. */
static void
s_str(body_t *w, const char *key, const char *text)
{
    s_key(w, key);
    if (w->failed)
        return;
    size_t mark = w->buf.len;
    int rc = vl_json_put_string(&w->buf, text, strlen(text));
    if (rc == -2) {
        w->buf.len = mark;
        s_put(w, "null", 4);
    } else if (rc != 0) {
        w->failed = true;
    }
}

/* JSON text a contract wrote, embedded as is when it is one valid value;
 * anything else (absent, malformed, too deep) becomes null. */
static void
s_embed(body_t *w, const char *key, const char *text, size_t n)
{
    s_key(w, key);
    if (text && vl_json_text_valid(text, n, EVENTS_EMBED_DEPTH_MAX))
        s_put(w, text, n);
    else
        s_put(w, "null", 4);
}

static void
s_pos(body_t *w, uint64_t height, int tx, int event)
{
    char text[96];
    int n = snprintf(text, sizeof text, "{\"event\":%d,\"height\":%" PRIu64 ",\"tx\":%d}",
                     event, height, tx);
    s_key(w, "pos");
    s_put(w, text, (size_t) n);
}

static void
s_end(body_t *w, event_sink_fn sink, void *arg, const char *topic)
{
    s_put(w, "}", 1);
    if (!w->failed)
        sink(arg, topic, w->buf.data, w->buf.len);
}

static void
s_block_events(uint64_t stream, uint64_t height, const uint8_t hash[32],
               const uint8_t state_hash[32], int64_t timestamp_ms, const block_tx_t *txs,
               size_t n, event_sink_fn sink, void *arg)
{
    body_t w = { 0 };
    char hex[65];
    size_t valid = 0;
    int64_t h = (int64_t) height;
    for (size_t i = 0; i < n; i++) {
        vl_hex_encode(txs[i].txid, 32, hex);
        const tx_parsed_t *tx = txs[i].tx;
        int code = txs[i].code;
        s_begin(&w);
        s_int(&w, "code", code);
        s_str(&w, "code_name", tx_code_name(code));
        if (tx) {
            s_str(&w, "contract", tx->proposal->contract);
            s_str(&w, "creator", tx->creator_did);
            s_str(&w, "function", tx->proposal->function);
        }
        s_int(&w, "height", h);
        s_pos(&w, height, (int) i, -1);
        s_int(&w, "stream", (int64_t) stream);
        s_str(&w, "txid", hex);
        s_end(&w, sink, arg, "tx");
        if (code != 0 || !tx)
            continue;
        valid++;
        for (size_t k = 0; k < tx->result->n_events; k++) {
            const Vl__Event *ev = tx->result->events[k];
            char topic[160];
            snprintf(topic, sizeof topic, "event.%.140s", ev->name);
            s_begin(&w);
            s_int(&w, "height", h);
            s_str(&w, "name", ev->name);
            s_embed(&w, "payload", ev->payload_json,
                    ev->payload_json ? strlen(ev->payload_json) : 0);
            s_pos(&w, height, (int) i, (int) k);
            s_int(&w, "stream", (int64_t) stream);
            s_str(&w, "txid", hex);
            s_end(&w, sink, arg, topic);
        }
        for (size_t k = 0; k < tx->result->n_writes; k++) {
            const Vl__WriteItem *wr = tx->result->writes[k];
            if (strncmp(wr->key, "vehicle/", 8) != 0)
                continue;
            char topic[160];
            snprintf(topic, sizeof topic, "vehicle.%.140s", wr->key + 8);
            s_begin(&w);
            s_int(&w, "height", h);
            s_pos(&w, height, (int) i, -1);
            s_int(&w, "stream", (int64_t) stream);
            s_str(&w, "txid", hex);
            s_embed(&w, "vehicle", wr->is_delete ? NULL : (const char *) wr->value.data,
                    wr->value.len);
            s_str(&w, "vin", wr->key + 8);
            s_end(&w, sink, arg, topic);
        }
    }
    char state[65];
    vl_hex_encode(hash, 32, hex);
    vl_hex_encode(state_hash, 32, state);
    s_begin(&w);
    s_str(&w, "hash", hex);
    s_int(&w, "height", h);
    s_pos(&w, height, -1, -1);
    s_str(&w, "state_hash", state);
    s_int(&w, "stream", (int64_t) stream);
    s_int(&w, "timestamp_ms", timestamp_ms);
    s_int(&w, "txs", (int64_t) n);
    s_int(&w, "valid", (int64_t) valid);
    s_end(&w, sink, arg, "block");
    vl_buf_free(&w.buf);
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
s_publish(void *arg, const char *topic, const char *body, size_t len)
{
    events_t *ev = arg;
    uint32_t *seq = zhashx_lookup(ev->topic_seq, topic);
    if (!seq) {
        seq = calloc(1, sizeof *seq);
        if (!seq)
            return;
        zhashx_insert(ev->topic_seq, topic, seq);
    }
    uint8_t le[4] = { (uint8_t) *seq, (uint8_t) (*seq >> 8), (uint8_t) (*seq >> 16),
                      (uint8_t) (*seq >> 24) };
    (*seq)++;
    /* PUB never blocks: past the high-water mark zmq drops the whole
     * message, and the consumer sees the gap in the sequence. */
    void *sock = zsock_resolve(ev->sock);
    zmq_send(sock, topic, strlen(topic), ZMQ_SNDMORE);
    zmq_send(sock, body, len, ZMQ_SNDMORE);
    zmq_send(sock, le, sizeof le, 0);
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
    s_block_events(ev->stream_id, vb->commit.height, view->hash, event->state_hash, view->header->timestamp_ms,
                   txs, view->n_txs, s_publish, ev);
    free(txs);
}

void
events_publish_heartbeat(events_t *ev, uint64_t height, size_t mempool)
{
    body_t w = { 0 };
    s_begin(&w);
    s_int(&w, "height", (int64_t) height);
    s_int(&w, "mempool", (int64_t) mempool);
    s_pos(&w, height, -1, -1);
    s_int(&w, "stream", (int64_t) ev->stream_id);
    s_int(&w, "time_ms", vl_wall_ms());
    s_end(&w, s_publish, ev, "sys.heartbeat");
    vl_buf_free(&w.buf);
}

/* --- Replay ------------------------------------------------------------------ */

typedef struct {
    json_t *out;                  /* array of {topic, body} */
    json_t *topics;               /* borrowed: array of prefixes, or NULL = all */
    size_t max;
    bool truncated;
} replay_t;

static void
s_collect(void *arg, const char *topic, const char *text, size_t len)
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
        return;
    }
    json_t *body = json_loadb(text, len, JSON_DECODE_ANY, NULL);
    if (!body)
        return;
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
    replay_t r = { json_array(), topics, max_events, false };
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
            s_block_events(ev->stream_id, h, view->hash, state, view->header->timestamp_ms, txs, n, s_collect,
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
