#!/usr/bin/env bash
# Participant contracts through the node (issue 3): deploy, invoke, show,
# upgrade by the author only, attach, a chain across two authors' contracts,
# and bad contracts — each refused with a clear error naming the cause, no
# state change, and the node keeps serving.
. "$(dirname "$0")/lib.sh"

C=$(dirname "$0")/contracts
D=$TEST_TMP/node
vl() { "$VLEDGER" --data "$D" "$@"; }
start_node "$D"
vl --json identity new --name Alice --role seller --out "$TEST_TMP/a.pem" >/dev/null
vl --json identity new --name Bob --role buyer --out "$TEST_TMP/b.pem" >/dev/null
A=(--key "$TEST_TMP/a.pem")
B=(--key "$TEST_TMP/b.pem")
alice=$(jf "$(vl "${A[@]}" --json identity show)" .did)

step "deploy, invoke, show"
vl "${A[@]}" contract deploy --name greeter --file "$C/greeter_v1.lua" >/dev/null
r=$(vl "${B[@]}" --json contract invoke greeter greet '{"name":"Bob"}')
[ "$(jf "$r" .result.hello)" = Bob ] && [ "$(jf "$r" .result.version)" = 1 ] || fail "invoke: $r"
s=$(vl --json contract show greeter)
[ "$(jf "$s" .author)" = "$alice" ] && [ "$(jf "$s" .version)" = 1 ] || fail "show: $s"

step "only the author upgrades; old versions stay readable"
expect_fail 1 "only the author" vl "${B[@]}" contract deploy --name greeter --file "$C/greeter_v2.lua"
vl "${A[@]}" contract deploy --name greeter --file "$C/greeter_v2.lua" >/dev/null
[ "$(jf "$(vl "${B[@]}" --json contract invoke greeter greet '{"name":"x"}')" .result.version)" = 2 ] || fail "upgrade not in effect"
[ "$(jf "$(vl --json contract show greeter)" .version)" = 2 ] || fail "version did not increment"
[ "$(jf "$(vl --json contract show greeter --version 1)" .version)" = 1 ] || fail "version 1 not readable"

step "a chain across two authors"
vl "${A[@]}" contract deploy --name chain_a --file "$C/chain_a.lua" >/dev/null
vl "${B[@]}" contract deploy --name chain_b --file "$C/chain_b.lua" >/dev/null
r=$(vl "${A[@]}" --json contract invoke chain_a run '{"n": 1}')
[ "$(jf "$r" .result.inner.b)" = 2 ] || fail "chain result: $r"
expect_fail 1 "chain_b refuses n >= 5" vl "${A[@]}" contract invoke chain_a run '{"n": 7}'

step "bad contracts"
height=$(jf "$(vl --json status)" .height)
state=$(jf "$(vl --json status)" .state_hash)
expect_fail 1 "syntax" vl "${A[@]}" contract deploy --name bad_syntax --file "$C/bad_syntax.lua"
expect_fail 1 "binary" vl "${A[@]}" contract deploy --name bad_bytecode --file "$C/bytecode.luac"
expect_fail 1 "no contract 'no_such_contract' is deployed" vl "${A[@]}" contract invoke no_such_contract f '{}'
expect_fail 1 "has no function 'no_such_function'" vl "${A[@]}" contract invoke greeter no_such_function '{}'
[ "$(jf "$(vl --json status)" .height)" = "$height" ] || fail "a refused deploy or invoke changed the chain"
[ "$(jf "$(vl --json status)" .state_hash)" = "$state" ] || fail "a refusal changed state"
vl "${A[@]}" contract deploy --name bad_loop --file "$C/bad_loop.lua" >/dev/null
vl "${A[@]}" contract deploy --name bad_memory --file "$C/bad_memory.lua" >/dev/null
vl "${A[@]}" contract deploy --name bad_escape --file "$C/bad_escape.lua" >/dev/null
height=$(jf "$(vl --json status)" .height)
state=$(jf "$(vl --json status)" .state_hash)
expect_fail 1 "out of gas" vl "${A[@]}" contract invoke bad_loop f '{}'
expect_fail 1 "out of gas" vl "${A[@]}" contract invoke bad_loop caught '{}'
expect_fail 1 "memory" vl "${A[@]}" contract invoke bad_memory f '{}'
for pair in os:"global 'os'" io:"global 'io'" load:"global 'load'" dump:"field 'dump'" \
            meta:"global 'setmetatable'" debug:"global 'debug'"; do
  expect_fail 1 "${pair#*:}" vl "${A[@]}" contract invoke bad_escape "${pair%%:*}" '{}'
done
expect_fail 1 "float" vl "${A[@]}" contract invoke bad_escape float '{}'
expect_fail 1 "call stack overflow" vl "${A[@]}" contract invoke bad_escape recurse '{}'
[ "$(jf "$(vl --json status)" .height)" = "$height" ] || fail "a bad contract changed the chain"
[ "$(jf "$(vl --json status)" .state_hash)" = "$state" ] || fail "a bad contract changed state"
vl "${B[@]}" contract invoke greeter greet '{"name":"still serving"}' >/dev/null || fail "node stopped serving"
stop_node "$D"
