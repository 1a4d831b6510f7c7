#!/usr/bin/env bash
# BFT ordering (Tendermint) among 4 validators, with 2 followers, on
# loopback: every node commits the same blocks (same block hash at every
# height); a proposer that never publishes its blocks is covered by the
# others' late publication; 1 of 4 killed -> the chain goes on within two rounds; 2 of 4
# killed -> no commit, then it resumes when one returns; a restarted
# validator catches up and takes part again; a validator kill -9ed
# repeatedly mid-round never signs two different messages at one (height,
# round, type) (no honest node records evidence against it); an
# equivocating validator does not fork the chain and its evidence is
# reported; a pushed block with a short certificate is refused and counted.
. "$(dirname "$0")/lib.sh"

NET=$TEST_TMP/net
make_net "$NET" 6 --validators 4
V=("$NET/node0" "$NET/node1" "$NET/node2" "$NET/node3")
F=("$NET/node4" "$NET/node5")
ALL=("${V[@]}" "${F[@]}")
WAIT_POLL_S=0.2

h() { jq -r .height <<<"$(nstatus "$1")"; }
api() { jq -r .api "$1/data/endpoints.json"; }
at_height() { local n; for n in "${@:2}"; do [ "$(h "$n")" -ge "$1" ] || return 1; done; }
load() { "$VLEDGER_SIM" load --node "$(api "$1")" --count "$2" --timeout-ms 30000 >/dev/null; }
evidence() { nstatus "$1" | jq -r .consensus.evidence_total; }
same_tip() {
  local want; want=$(nstatus "$1" | jq -r '[.height, .last_hash, .state_hash] | @tsv')
  local n; for n in "${@:2}"; do
    [ "$(nstatus "$n" | jq -r '[.height, .last_hash, .state_hash] | @tsv')" = "$want" ] || return 1
  done
}
# Every height's block hash agrees on the given nodes.
same_blocks() {
  local top; top=$(h "$1")
  local height n want got
  for height in $(seq 1 "$top"); do
    want=$("$VLEDGER" --data "$1/data" --json block show "$height" | jq -r .hash)
    for n in "${@:2}"; do
      got=$("$VLEDGER" --data "$n/data" --json block show "$height" | jq -r .hash)
      [ "$got" = "$want" ] || fail "height $height: $(basename "$n") has block $got, $(basename "$1") $want"
    done
  done
}

step "4 validators and 2 followers commit the same blocks"
for n in "${ALL[@]}"; do start_config_node "$n"; done
st=$(nstatus "${V[0]}")
[ "$(jf "$st" '.consensus.validators | length')" = 4 ] || fail "status lists no 4 validators: $st"
[ "$(jf "$st" .consensus.validator)" = true ] || fail "node0 is not a validator: $st"
[ "$(jf "$(nstatus "${F[0]}")" .consensus.validator)" = false ] || fail "node4 thinks it validates"
load "${F[0]}" 30
wait_until 30000 at_height 1 "${ALL[@]}"
wait_until 30000 same_tip "${ALL[@]}"
same_blocks "${ALL[@]}"
b=$("$VLEDGER" --data "${F[1]}/data" --json block show 1)
[ "$(jf "$b" .signatures)" -ge 3 ] || fail "block 1 carries fewer than 3 of 4 precommits: $b"
note "height $(h "${F[0]}") after 30 txs; block 1 has $(jf "$b" .signatures) precommits"

step "1 of 4 validators killed: the chain goes on within two rounds"
kill_node "${V[1]}"
base=$(h "${V[0]}")
load "${F[0]}" 10
wait_until 30000 at_height $((base + 1)) "${V[0]}" "${V[2]}" "${V[3]}" "${F[@]}"
b=$("$VLEDGER" --data "${V[0]}/data" --json block show $((base + 1)))
[ "$(jf "$b" .round)" -le 1 ] || fail "block $((base + 1)) took round $(jf "$b" .round): $b"

step "2 of 4 killed: nothing commits; one back and it resumes"
kill_node "${V[2]}"
base=$(h "${V[0]}")
load "${F[0]}" 3
# No quorum: the height must not move (bounded observation window).
end=$(( $(now_ms) + 3000 ))
while [ "$(now_ms)" -lt "$end" ]; do
  [ "$(h "${V[0]}")" = "$base" ] || fail "committed with 2 of 4 validators down"
  sleep 0.3
done
start_config_node "${V[1]}"
wait_until 30000 at_height $((base + 1)) "${V[0]}" "${V[1]}" "${V[3]}" "${F[@]}"

step "a restarted validator catches up and takes part again"
start_config_node "${V[2]}"
wait_until 30000 same_tip "${ALL[@]}"
kill_node "${V[0]}"   # now node2's vote is needed for a quorum
base=$(h "${V[1]}")
load "${F[0]}" 5
wait_until 30000 at_height $((base + 1)) "${V[1]}" "${V[2]}" "${V[3]}"
start_config_node "${V[0]}"
wait_until 30000 same_tip "${ALL[@]}"

step "a validator kill -9ed repeatedly mid-round never signs two different messages"
for i in 1 2 3 4 5; do
  load "${F[0]}" 4 &
  loader=$!
  sleep 0.$((RANDOM % 8 + 1))   # a random moment of the round (not a synchronisation)
  kill_node "${V[3]}"
  start_config_node "${V[3]}"
  wait "$loader" || fail "load while killing node3 failed"
done
wait_until 30000 same_tip "${ALL[@]}"
for n in "${V[@]}"; do
  [ "$(evidence "$n")" = 0 ] || fail "$(basename "$n") recorded evidence: $(nstatus "$n" | jq -c .consensus.evidence)"
done
same_blocks "${ALL[@]}"

step "an equivocating validator does not fork the chain; its evidence is reported"
stop_config_node "${V[2]}"
start_config_node "${V[2]}" --test-byzantine equivocate
byz=$(jq -r '.members[] | select(.name == "node2") | .did' "$NET/genesis.json")
base=$(h "${V[0]}")
for i in 1 2 3; do load "${F[0]}" 5; done
wait_until 30000 at_height $((base + 2)) "${ALL[@]}"
wait_until 30000 same_tip "${ALL[@]}"
same_blocks "${ALL[@]}"
reported() {
  local n; for n in "${V[0]}" "${V[1]}" "${V[3]}"; do
    [ "$(nstatus "$n" | jq -r --arg d "$byz" '[.consensus.evidence[] | select(.validator == $d)] | length')" -ge 1 ] || return 1
  done
}
wait_until 10000 reported
grep -q 'ev=evidence validator='"$byz" "$TEST_TMP/node0.log" || fail "node0 logged no evidence line"

step "a proposer that publishes none of its blocks: the other validators publish them for the followers"
stop_config_node "${V[1]}"
start_config_node "${V[1]}" --test-withhold-blocks
# One tx, one block, then quiet until every node has it: with the
# proposer's turn rotating, node1 proposes one of any four such blocks, and
# its withheld block must come from another validator.
for i in 1 2 3 4 5; do
  load "${F[0]}" 1
  wait_until 30000 same_tip "${ALL[@]}"
done
late=0
for n in "${V[@]}"; do late=$((late + $(jf "$(nstatus "$n")" .gossip.blocks_published_late))); done
[ "$late" -ge 1 ] || fail "no validator published a block late, yet the followers have them all"
note "blocks published late by other validators: $late"
stop_config_node "${V[1]}"
start_config_node "${V[1]}"
wait_until 30000 same_tip "${ALL[@]}"

step "a block with a short certificate is refused and counted"
pk=$(jq -r '.members[] | select(.name == "node4") | .public_key' "$NET/genesis.json")
st=$(nstatus "${F[0]}")
before=$(jf "$st" .gossip.blocks_rejected)
out=$("$VLEDGER_SIM" probe block --key "${V[1]}/node.key" --server-key "$pk" \
        --endpoint "$(jf "$st" .endpoints.sync)" --chain "$(jf "$st" .chain_id)" \
        --height $(( $(jf "$st" .height) + 1 )) --prev "$(jf "$st" .last_hash)" \
        --state "$(jf "$st" .state_hash)")
case "$out" in *sent*) ;; *) fail "probe block: $out" ;; esac
rejected() { [ "$(nstatus "${F[0]}" | jq -r .gossip.blocks_rejected)" -gt "$before" ]; }
wait_until 10000 rejected
grep -q 'has 1 of 4 validator signatures' "$TEST_TMP/node4.log" || fail "no certificate refusal logged"
[ "$(h "${F[0]}")" = "$(jf "$st" .height)" ] || fail "the forged block moved node4's height"

step "a diverged replica is named by verify --peers and halts at the next block"
stop_config_node "${F[1]}"
start_config_node "${F[1]}" --test-skew-state
wait_until 30000 same_tip "${V[0]}" "${F[1]}"
base=$(h "${V[0]}")
load "${F[0]}" 1
wait_until 30000 at_height $((base + 1)) "${V[0]}" "${F[1]}"
expect_fail 1 "replicas differ: peer" "$VLEDGER" --data "${F[1]}/data" verify --peers
out=$("$VLEDGER" --data "${F[0]}/data" --json verify --peers || true)   # exits 1: it differs
[ "$(jf "$out" '[.peers[] | select(.name == "node5") | .agree] | .[0]')" = false ] \
  || fail "node4 does not see node5 differ: $out"
load "${F[0]}" 1
pid=${NODE_PID[${F[1]}]}
exited() { ! kill -0 "$pid" 2>/dev/null; }
wait_until 30000 exited
rc=0; wait "$pid" || rc=$?
unset "NODE_PID[${F[1]}]"
[ "$rc" -ne 0 ] || fail "the diverged replica exited 0"
grep -q 'this replica diverged: block .* carries state hash .* after height .*, this replica' \
  "$TEST_TMP/node5.log" || fail "no divergence message naming height and both hashes"
"$VLEDGER" --data "${V[0]}/data" verify --peers >/dev/null || fail "the other replicas disagree"
