#!/usr/bin/env bash
# External event topics: `vledger events` and the pyzmq consumer in docs/
# see every committed tx, contract event and vehicle change exactly once
# and in order, filling the past from events.replay and following live
# messages with no gap; per-topic sequence numbers; sys.heartbeat.
. "$(dirname "$0")/lib.sh"

D=$TEST_TMP/node
vl() { "$VLEDGER" --data "$D" "$@"; }
start_node "$D"
vl --json identity new --name Seller --role seller --out "$TEST_TMP/s.pem" >/dev/null
S=(--key "$TEST_TMP/s.pem")
did=$(jf "$(vl "${S[@]}" --json identity show)" .did)
vl wallet issue --to "$did" 100 >/dev/null

step "live follower started before the activity, from block 0"
# 1 register + 1 issue so far = 2 tx events; then 3 issues + 1 vehicle
vl events --from-block 0 --topic tx --count 6 > "$TEST_TMP/cli.out" &
cli_pid=$!
/usr/bin/python3 "$(dirname "$0")/../../docs/consumer.py" --data "$D" --topic tx --topic event. --topic vehicle. --count 13 > "$TEST_TMP/py.out" &
py_pid=$!
for i in 1 2 3; do vl wallet issue --to "$did" $i >/dev/null; done
vl "${S[@]}" vehicle register --vin 1HGCM82633A004352 --make Honda --model Accord --year 2003 >/dev/null
wait $cli_pid || fail "vledger events failed"
wait $py_pid || fail "consumer.py failed"

step "vledger events: every tx once, in order"
[ "$(wc -l < "$TEST_TMP/cli.out")" = 6 ] || fail "expected 6 tx events: $(cat "$TEST_TMP/cli.out")"
[ "$(jq -r .txid "$TEST_TMP/cli.out" | sort -u | wc -l)" = 6 ] || fail "duplicate tx events"
jq -r .height "$TEST_TMP/cli.out" | sort -c -n || fail "tx events out of order"
[ "$(jq -r '.function' "$TEST_TMP/cli.out" | tr '\n' ' ')" = "register issue issue issue issue register " ] || fail "wrong sequence: $(cat "$TEST_TMP/cli.out")"

step "consumer.py: txs, contract events and vehicle topic"
grep -q '"topic": "vehicle.1HGCM82633A004352"' "$TEST_TMP/py.out" || fail "no vehicle topic: $(cat "$TEST_TMP/py.out")"
grep -q '"topic": "event.vehicle.registered"' "$TEST_TMP/py.out" || fail "no contract event"
[ "$(jq -r '[.topic, .pos.height, .pos.tx, .pos.event] | @text' "$TEST_TMP/py.out" | sort -u | wc -l)" = 13 ] || fail "consumer printed a duplicate"

step "replay marker and filters"
r=$(vl rpc events.replay '{"from_height": 1, "topics": ["block"]}')
[ "$(jf "$r" '.events | map(.topic) | unique | join(",")')" = block ] || fail "topic filter: $r"
[ "$(jf "$r" .to_height)" = "$(jf "$(vl --json status)" .height)" ] || fail "marker to_height is not the tip: $r"
r=$(vl rpc events.replay '{"from_height": 0, "max_events": 2}')
[ "$(jf "$r" .truncated)" = true ] || fail "max_events did not truncate: $r"
expect_fail 1 "must not be negative" vl rpc events.replay '{"from_height": -1}'
expect_fail 1 "array of prefixes" vl rpc events.replay '{"topics": "tx"}'

step "heartbeat and sequence numbers"
hb=$(/usr/bin/python3 - "$(jf "$(vl --json status)" .endpoints.events)" <<'PY'
import json, struct, sys, zmq
s = zmq.Context().socket(zmq.SUB)
s.setsockopt_string(zmq.SUBSCRIBE, "sys.heartbeat")
s.connect(sys.argv[1])
seqs = []
for _ in range(2):
    if not s.poll(5000):
        sys.exit("no heartbeat")
    t, b, q = s.recv_multipart()
    seqs.append(struct.unpack("<I", q)[0])
    body = json.loads(b)
print(json.dumps({"gap": seqs[1] - seqs[0], "height": body["height"], "has_stream": "stream" in body}))
PY
)
[ "$(jf "$hb" .gap)" = 1 ] && [ "$(jf "$hb" .has_stream)" = true ] || fail "heartbeat: $hb"
stop_node "$D"
