#!/usr/bin/env bash
# kill -9 during a stream of submissions: after restart the replica opens
# cleanly, every transaction the CLI saw committed is still there, no block
# is half-applied (the wallet balance equals the sum of the valid issues
# recorded in the committed blocks), and the chain carries on from the
# state hash it had.
. "$(dirname "$0")/lib.sh"

D=$TEST_TMP/node
vl() { "$VLEDGER" --data "$D" "$@"; }
start_node "$D"
out=$(vl --json identity new --name Payer --role buyer --out "$TEST_TMP/p.pem")
did=$(jf "$out" .did)

step "stream issues from 3 clients, kill -9 the node mid-stream"
acked=$TEST_TMP/acked
: > "$acked"
client() {
  local i=0
  while [ $i -lt 200 ]; do
    r=$("$VLEDGER" --data "$D" --json --timeout 3000 wallet issue --to "$did" 1 2>/dev/null) || return 0
    jq -r .txid <<<"$r" >> "$acked"
    i=$((i + 1))
  done
}
client & c1=$!
client & c2=$!
client & c3=$!
acked_at_least() { [ "$(wc -l < "$acked")" -ge "$1" ]; }
wait_until 20000 acked_at_least 20
kill_node "$D"
wait $c1 $c2 $c3 || true
n_acked=$(wc -l < "$acked")
note "acknowledged before the kill: $n_acked"

step "restart and check"
start_node "$D"
status=$(vl --json status)
height=$(jf "$status" .height)
while read -r txid; do
  r=$(vl --json tx show "$txid") || fail "acknowledged tx $txid lost after kill -9"
  [ "$(jf "$r" .code_name)" = VALID ] || fail "acknowledged tx $txid is not valid: $r"
done < "$acked"
valid=0
for h in $(seq 1 "$height"); do
  b=$(vl --json block show "$h")
  for t in $(jf "$b" '.txs[] | select(.code == 0) | .txid'); do
    f=$(jf "$(vl --json tx show "$t")" .function)
    [ "$f" = issue ] && valid=$((valid + 1))
  done
done
balance=$(jf "$(vl --json wallet balance "$did")" .balance)
[ "$balance" = "$valid" ] || fail "balance $balance differs from $valid committed issues (half-applied block?)"
[ "$valid" -ge "$n_acked" ] || fail "$valid committed issues < $n_acked acknowledged"
[ "$(jf "$(vl --json wallet supply)" .issued)" = "$valid" ] || fail "supply differs from $valid committed issues"

step "the chain continues from the recovered state"
r=$(vl --json wallet issue --to "$did" 1)
nb=$(vl --json block show "$(jf "$r" .height)")
[ "$(jf "$nb" .state_hash)" = "$(jf "$status" .state_hash)" ] || fail "next block does not extend the recovered state hash"
[ "$(jf "$nb" .previous_hash)" = "$(jf "$status" .last_hash)" ] || fail "next block does not extend the recovered tip"
stop_node "$D"
note "height $height, $valid issues committed, $n_acked acknowledged"
