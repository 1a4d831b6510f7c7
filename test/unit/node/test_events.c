/*
 * test_events.c — the bodies the event topics publish for a committed
 * block, received by a real SUB socket on loopback: each is canonical JSON
 * (byte-identical to jansson's sorted compact dump of the same object), in
 * order tx, event.*, vehicle.*, block, with per-topic sequence numbers;
 * contract-written JSON is embedded as written, and what another
 * organisation's node could put in a block that is not valid JSON or UTF-8
 * becomes null instead of a body a consumer cannot parse.
 *
 * The block is assembled by hand (a validated_block_t over a block_view_t)
 * so it can hold what honest validation never produces.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "clock.h"
#include "codec.h"
#include "node_internal.h"
#include "tx.h"

typedef struct {
    char topic[200];
    json_t *body;             /* owned; NULL when the body did not parse */
    char text[4096];
    uint32_t seq;
} s_msg_t;

/* One three-frame message within deadline_ms; false on timeout. */
static bool
s_recv(void *sub, s_msg_t *m, int64_t deadline_ms)
{
    zmq_pollitem_t it = { sub, 0, ZMQ_POLLIN, 0 };
    int64_t left = deadline_ms - vl_mono_ms();
    if (left <= 0 || zmq_poll(&it, 1, (long) left) != 1)
        return false;
    memset(m, 0, sizeof *m);
    int n = zmq_recv(sub, m->topic, sizeof m->topic - 1, 0);
    int b = zmq_recv(sub, m->text, sizeof m->text - 1, 0);
    uint8_t le[4] = { 0 };
    int s = zmq_recv(sub, le, sizeof le, 0);
    if (n < 0 || b < 0 || s != 4)
        return false;
    m->seq = (uint32_t) le[0] | (uint32_t) le[1] << 8 | (uint32_t) le[2] << 16
             | (uint32_t) le[3] << 24;
    m->body = json_loads(m->text, JSON_DECODE_ANY, NULL);
    return true;
}

/* The body re-dumped the way the node used to build it (jansson, sorted). */
static void
s_check_canonical(const s_msg_t *m)
{
    CHECK(m->body != NULL);
    if (!m->body)
        return;
    char *ref = json_dumps(m->body, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_STR(m->text, ref);
    free(ref);
}

static void
test_block_bodies(void)
{
    vl_err_t err = { "" };
    events_t *ev = events_new("tcp://127.0.0.1:*", NULL, "test-chain", &err);
    CHECK(ev != NULL);
    if (!ev)
        return;
    zsock_t *subsock = zsock_new_sub(events_endpoint(ev), "");
    CHECK(subsock != NULL);
    void *sub = zsock_resolve(subsock);
    /* A PUB drops what it sends before the subscription arrives: tick
     * heartbeats until one gets through, then the stream is live. */
    s_msg_t m;
    bool joined = false;
    for (int64_t end = vl_mono_ms() + 5000; !joined && vl_mono_ms() < end;) {
        events_publish_heartbeat(ev, 7, 3);
        joined = s_recv(sub, &m, vl_mono_ms() + 20);
        if (joined) {
            CHECK_STR(m.topic, "sys.heartbeat");
            s_check_canonical(&m);
            CHECK_EQ(json_integer_value(json_object_get(m.body, "mempool")), 3);
            CHECK_EQ((uint64_t) json_integer_value(json_object_get(m.body, "stream")),
                     events_stream(ev));
            json_decref(m.body);
        }
    }
    CHECK(joined);

    /* tx 0: valid, two events (one well formed, one malformed with a name
     * that is not UTF-8) and a vehicle write; tx 1: invalid; tx 2: did not
     * parse. */
    Vl__Event good = VL__EVENT__INIT, bad = VL__EVENT__INIT;
    good.name = "sale.requested";
    good.payload_json = "{\"price\":[1,{\"cents\":250000}],\"vin\":\"V\xc3\xa9\"}";
    bad.name = "bad\xff";
    bad.payload_json = "{\"open\":";
    Vl__Event *events[] = { &good, &bad };
    Vl__WriteItem car = VL__WRITE_ITEM__INIT, gone = VL__WRITE_ITEM__INIT,
                  other = VL__WRITE_ITEM__INIT;
    car.key = "vehicle/VIN1";
    static const char doc[] = "{\"owner\":\"did:vl:a\",\"vin\":\"VIN1\"}";
    car.value.data = (uint8_t *) doc;
    car.value.len = sizeof doc - 1;
    gone.key = "vehicle/VIN2";
    gone.is_delete = true;
    other.key = "wallet/x";
    Vl__WriteItem *writes[] = { &car, &gone, &other };
    Vl__EndorsedResult result = VL__ENDORSED_RESULT__INIT;
    result.n_events = 2;
    result.events = events;
    result.n_writes = 3;
    result.writes = writes;
    Vl__Proposal proposal = VL__PROPOSAL__INIT;
    proposal.contract = "vehicle";
    proposal.function = "tr\"ansfer\n";
    tx_parsed_t t0 = { .proposal = &proposal, .result = &result };
    snprintf(t0.creator_did, sizeof t0.creator_did, "did:vl:creator");
    tx_parsed_t t1 = t0;
    tx_parsed_t *txs[] = { &t0, &t1, NULL };
    uint8_t txids[3][VL_HASH_SIZE];
    memset(txids, 0xab, sizeof txids);
    Vl__BlockHeader header = VL__BLOCK_HEADER__INIT;
    header.timestamp_ms = 1700000000123;
    block_view_t view = { .header = &header, .n_txs = 3, .txids = txids, .txs = txs };
    memset(view.hash, 0x11, sizeof view.hash);
    ledger_tx_effect_t effects[3] = { { .code = 0 }, { .code = 11 }, { .code = 3 } };
    validated_block_t vb = { .view = &view, .effects = effects };
    vb.commit.height = 42;
    uint8_t state[32];
    memset(state, 0x22, sizeof state);
    commit_event_t ce = { .block = &vb, .state_hash = state };
    events_on_commit(ev, &ce);

    static const char *const want[] = { "tx", "event.sale.requested", "event.bad\xff",
                                        "vehicle.VIN1", "vehicle.VIN2", "tx", "tx", "block" };
    json_t *got[8] = { 0 };
    uint32_t tx_seq = 0;
    int64_t deadline = vl_mono_ms() + 5000;
    for (int i = 0; i < 8; i++) {
        if (!s_recv(sub, &m, deadline)) {
            CHECK(!"message missing");
            break;
        }
        CHECK_STR(m.topic, want[i]);
        s_check_canonical(&m);
        if (strcmp(m.topic, "tx") == 0)
            CHECK_EQ(m.seq, tx_seq++);
        else
            CHECK_EQ(m.seq, 0);
        got[i] = m.body;
        if (m.body)
            CHECK_EQ((uint64_t) json_integer_value(json_object_get(m.body, "stream")),
                     events_stream(ev));
    }
    /* The valid tx: names escaped, its position. */
    CHECK_STR(json_string_value(json_object_get(got[0], "function")), "tr\"ansfer\n");
    CHECK_STR(json_string_value(json_object_get(got[0], "code_name")), "VALID");
    json_t *pos = json_object_get(got[0], "pos");
    CHECK_EQ(json_integer_value(json_object_get(pos, "height")), 42);
    CHECK_EQ(json_integer_value(json_object_get(pos, "tx")), 0);
    CHECK_EQ(json_integer_value(json_object_get(pos, "event")), -1);
    /* The payload as the contract wrote it; the malformed one as null, and
     * the name that is not UTF-8 as null too. */
    json_t *price = json_object_get(json_object_get(got[1], "payload"), "price");
    CHECK_EQ(json_integer_value(json_object_get(json_array_get(price, 1), "cents")), 250000);
    CHECK_EQ(json_integer_value(json_object_get(json_object_get(got[1], "pos"), "event")), 0);
    CHECK(json_is_null(json_object_get(got[2], "payload")));
    CHECK(json_is_null(json_object_get(got[2], "name")));
    CHECK_EQ(json_integer_value(json_object_get(json_object_get(got[2], "pos"), "event")), 1);
    /* The vehicle document; a deleted one is null. */
    CHECK_STR(json_string_value(json_object_get(json_object_get(got[3], "vehicle"), "owner")),
              "did:vl:a");
    CHECK_STR(json_string_value(json_object_get(got[4], "vin")), "VIN2");
    CHECK(json_is_null(json_object_get(got[4], "vehicle")));
    /* The invalid tx has no events; the unparsed one no contract. */
    CHECK_EQ(json_integer_value(json_object_get(got[5], "code")), 11);
    CHECK(json_object_get(got[6], "contract") == NULL);
    CHECK_EQ(json_integer_value(json_object_get(got[7], "txs")), 3);
    CHECK_EQ(json_integer_value(json_object_get(got[7], "valid")), 1);
    CHECK_EQ(json_integer_value(json_object_get(got[7], "timestamp_ms")), 1700000000123);
    char hex[65];
    vl_hex_encode(state, 32, hex);
    CHECK_STR(json_string_value(json_object_get(got[7], "state_hash")), hex);
    for (int i = 0; i < 8; i++)
        json_decref(got[i]);
    zsock_destroy(&subsock);
    events_destroy(&ev);
}

int
main(void)
{
    RUN(test_block_bodies);
    return check_done();
}
