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

#include "clock.h"
#include "codec.h"
#include "node_internal.h"
#include "tx.h"

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
s_publish(void *arg, const char *topic, json_t *body)
{
    node_t *node = arg;
    uint32_t *seq = zhashx_lookup(node->topic_seq, topic);
    if (!seq) {
        seq = calloc(1, sizeof *seq);
        if (!seq) {
            json_decref(body);
            return;
        }
        zhashx_insert(node->topic_seq, topic, seq);
    }
    json_object_set_new(body, "stream", json_integer((json_int_t) node->stream_id));
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
    if (zmsg_send(&msg, node->events) != 0)
        zmsg_destroy(&msg);
}

void
events_publish_block(node_t *node, const validated_block_t *vb, const uint8_t state[VL_HASH_SIZE])
{
    block_tx_t *txs = calloc(vb->n_txs ? vb->n_txs : 1, sizeof *txs);
    if (!txs)
        return;
    for (size_t i = 0; i < vb->n_txs; i++)
        txs[i] = (block_tx_t) { vb->effects[i].txid, vb->effects[i].code, vb->txs[i] };
    s_block_events(vb->commit.height, vb->hash, state, vb->header->timestamp_ms, txs, vb->n_txs,
                   s_publish, node);
    free(txs);
}

void
events_publish_heartbeat(node_t *node)
{
    uint64_t height = ledger_height(node->ledger);
    s_publish(node, "sys.heartbeat",
              json_pack("{s:I, s:I, s:I, s:o}", "height", (json_int_t) height, "time_ms",
                        (json_int_t) vl_wall_ms(), "mempool",
                        (json_int_t) mempool_count(node->mempool), "pos", s_pos(height, -1, -1)));
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

/* The header of block h, or NULL. */
static Vl__BlockHeader *
s_header(node_t *node, uint64_t h, Vl__Block **block_out)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (ledger_block_get(node->ledger, h, &bytes, &len) != 0)
        return NULL;
    Vl__Block *b = vl__block__unpack(NULL, len, bytes);
    free(bytes);
    Vl__BlockHeader *hdr = b ? vl__block_header__unpack(NULL, b->header.len, b->header.data) : NULL;
    if (hdr && block_out)
        *block_out = b;
    else if (b)
        vl__block__free_unpacked(b, NULL);
    return hdr;
}

int
events_replay(node_t *node, uint64_t from, json_t *topics, size_t max_events, json_t **out)
{
    uint64_t tip = ledger_height(node->ledger);
    replay_t r = { json_array(), topics, node->stream_id, max_events, false };
    uint64_t h = from;
    for (; h <= tip && !r.truncated; h++) {
        Vl__Block *b = NULL;
        Vl__BlockHeader *hdr = s_header(node, h, &b);
        Vl__BlockCodes *codes = NULL;
        if (!hdr) {
            json_decref(r.out);
            return VL_ERR_CORRUPT;
        }
        ledger_block_codes(node->ledger, h, &codes);
        size_t n = b->n_transactions;
        block_tx_t *txs = calloc(n ? n : 1, sizeof *txs);
        tx_parsed_t **parsed = calloc(n ? n : 1, sizeof *parsed);
        uint8_t (*ids)[32] = calloc(n ? n : 1, sizeof *ids);
        for (size_t i = 0; txs && parsed && ids && i < n; i++) {
            int code;
            vl_err_t err;
            if (tx_parse(b->transactions[i].data, b->transactions[i].len, node->genesis.chain_id,
                         &parsed[i], &code, &err) == 0)
                memcpy(ids[i], parsed[i]->txid, 32);
            else
                vl_sha256(b->transactions[i].data, b->transactions[i].len, ids[i]);
            txs[i] = (block_tx_t) { ids[i], codes && i < codes->n_codes ? (int) codes->codes[i] : 0,
                                    parsed[i] };
        }
        /* The state hash after block h is carried by block h+1's header. */
        uint8_t state[32];
        Vl__BlockHeader *next = h < tip ? s_header(node, h + 1, NULL) : NULL;
        if (next && next->state_hash.len == 32)
            memcpy(state, next->state_hash.data, 32);
        else
            memcpy(state, ledger_state_hash(node->ledger), 32);
        uint8_t hash[32];
        vl_sha256(b->header.data, b->header.len, hash);
        if (txs && parsed && ids)
            s_block_events(h, hash, state, hdr->timestamp_ms, txs, n, s_collect, &r);
        for (size_t i = 0; parsed && i < n; i++)
            tx_destroy(&parsed[i]);
        free(parsed);
        free(ids);
        free(txs);
        if (next) vl__block_header__free_unpacked(next, NULL);
        if (codes) vl__block_codes__free_unpacked(codes, NULL);
        vl__block_header__free_unpacked(hdr, NULL);
        vl__block__free_unpacked(b, NULL);
    }
    /* The marker: where this replay ends and live messages take over. A
     * truncated replay ends before block h-1 was complete; resume there. */
    uint64_t to = r.truncated ? h - 1 : tip;
    *out = json_pack("{s:o, s:I, s:b, s:I}", "events", r.out, "to_height",
                     (json_int_t) (r.truncated ? to - 1 : to), "truncated", r.truncated,
                     "next_from_height", (json_int_t) (r.truncated ? to : tip + 1));
    return 0;
}
