#!/usr/bin/env bash
# vledgerd's own surface: --help, usage errors, `--config FILE` (a node
# started from node.json), clear refusals of bad configurations, a foreign
# data directory, and a corrupt store.
. "$(dirname "$0")/lib.sh"

step "--help and usage"
"$VLEDGERD" --help | grep -q -- "--config FILE" || fail "--help does not document --config"
expect_fail 2 "exactly one of --dev or --config" "$VLEDGERD"
expect_fail 2 "unknown or incomplete option" "$VLEDGERD" --dev --frobnicate

step "a node from node.json"
A=$TEST_TMP/a
start_node "$A"
chain_a=$(jf "$("$VLEDGER" --data "$A" --json status)" .chain_id)
stop_node "$A"
C=$TEST_TMP/conf
mkdir -p "$C"
cp "$A/node.key" "$A/genesis.json" "$C/"
cat > "$C/node.json" <<JSON
{ "name": "seller", "data": "data", "key": "node.key", "genesis": "genesis.json",
  "api": "tcp://127.0.0.1:0", "events": "tcp://127.0.0.1:0",
  "block_max_txs": 10, "block_timeout_ms": 5 }
JSON
mkdir -p "$C/data"
"$VLEDGERD" --config "$C/node.json" >>"$TEST_TMP/conf.log" 2>&1 &
NODE_PID[$C/data]=$!
wait_until 10000 test -f "$C/data/endpoints.json"
st=$("$VLEDGER" --data "$C/data" --json status)
[ "$(jf "$st" .chain_id)" = "$chain_a" ] || fail "config node is on another chain: $st"
[ "$(jf "$st" .name)" = seller ] || fail "config name not used: $st"
stop_node "$C/data"

step "bad configurations are refused with the reason"
bad() { printf '%s\n' "$2" > "$C/bad.json"; expect_fail 1 "$1" "$VLEDGERD" --config "$C/bad.json"; }
expect_fail 1 "cannot read config" "$VLEDGERD" --config "$C/missing.json"
bad "cannot read config" '{ "name": '
bad "unknown setting 'colour'" '{ "data": "d", "key": "node.key", "genesis": "genesis.json", "colour": 1 }'
bad "missing parameter 'key'" '{ "data": "d", "genesis": "genesis.json" }'
bad "block_max_txs must be" '{ "data": "d", "key": "node.key", "genesis": "genesis.json", "block_max_txs": 0 }'
bad "cannot read genesis" '{ "data": "d", "key": "node.key", "genesis": "nope.json" }'
bad "cannot open key file" '{ "data": "d", "key": "nokey.pem", "genesis": "genesis.json" }'
echo '{"chain_id": "x"}' > "$C/g2.json"
bad "missing parameter" '{ "data": "d", "key": "node.key", "genesis": "g2.json" }'
bad "cannot bind" '{ "data": "d2", "key": "node.key", "genesis": "genesis.json", "api": "tcp://256.1.1.1:1" }'

step "a data directory of another chain is refused"
B=$TEST_TMP/b
start_node "$B"
stop_node "$B"
cp "$B/genesis.json" "$C/genesis-b.json"
bad "belongs to chain" '{ "data": "data", "key": "node.key", "genesis": "genesis-b.json" }'

step "a corrupt store is refused, not served"
ledger=$C/data/ledger
for f in "$ledger"/*.log "$ledger"/*.ldb; do [ -f "$f" ] && dd if=/dev/urandom of="$f" bs=1 count=64 seek=16 conv=notrunc 2>/dev/null; done
printf 'garbage' > "$ledger/CURRENT"
expect_fail 1 "corrupt" "$VLEDGERD" --config "$C/node.json"
