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
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "codec.h"
#include "node_internal.h"
#include "tx.h"

static void
s_publish(node_t *node, const char *topic, json_t *body)
{
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

static json_t *
s_pos(uint64_t height, int tx, int event)
{
    return json_pack("{s:I, s:i, s:i}", "height", (json_int_t) height, "tx", tx, "event", event);
}

void
events_publish_block(node_t *node, const validated_block_t *vb)
{
    uint64_t height = vb->commit.height;
    char hex[65];
    for (size_t i = 0; i < vb->n_txs; i++) {
        const ledger_tx_effect_t *e = &vb->effects[i];
        vl_hex_encode(e->txid, 32, hex);
        const tx_parsed_t *tx = vb->txs[i];
        json_t *body = json_pack("{s:I, s:s, s:i, s:s, s:o}", "height", (json_int_t) height,
                                 "txid", hex, "code", e->code, "code_name",
                                 tx_code_name(e->code), "pos", s_pos(height, (int) i, -1));
        if (tx) {
            json_object_set_new(body, "contract", json_string(tx->proposal->contract));
            json_object_set_new(body, "function", json_string(tx->proposal->function));
            json_object_set_new(body, "creator", json_string(tx->creator_did));
        }
        s_publish(node, "tx", body);
        if (e->code != 0 || !tx)
            continue;
        for (size_t k = 0; k < tx->result->n_events; k++) {
            const Vl__Event *ev = tx->result->events[k];
            char topic[160];
            snprintf(topic, sizeof topic, "event.%.140s", ev->name);
            json_t *payload = json_loads(ev->payload_json, JSON_DECODE_ANY, NULL);
            s_publish(node, topic,
                      json_pack("{s:I, s:s, s:s, s:o, s:o}", "height", (json_int_t) height,
                                "txid", hex, "name", ev->name, "payload",
                                payload ? payload : json_null(), "pos",
                                s_pos(height, (int) i, (int) k)));
        }
        for (size_t k = 0; k < e->n_writes; k++) {
            const Vl__WriteItem *w = e->writes[k];
            if (strncmp(w->key, "vehicle/", 8) != 0)
                continue;
            char topic[160];
            snprintf(topic, sizeof topic, "vehicle.%.140s", w->key + 8);
            json_t *doc = w->is_delete ? NULL
                                       : json_loadb((const char *) w->value.data, w->value.len,
                                                    JSON_DECODE_ANY, NULL);
            s_publish(node, topic,
                      json_pack("{s:I, s:s, s:s, s:o, s:o}", "height", (json_int_t) height,
                                "txid", hex, "vin", w->key + 8, "vehicle",
                                doc ? doc : json_null(), "pos", s_pos(height, (int) i, -1)));
        }
    }
    vl_hex_encode(vb->hash, 32, hex);
    char state[65];
    vl_hex_encode(ledger_state_hash(node->ledger), 32, state);
    s_publish(node, "block",
              json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:o}", "height", (json_int_t) height,
                        "hash", hex, "state_hash", state, "txs", (json_int_t) vb->n_txs, "valid",
                        (json_int_t) vb->n_valid, "timestamp_ms",
                        (json_int_t) vb->header->timestamp_ms, "pos", s_pos(height, -1, -1)));
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
