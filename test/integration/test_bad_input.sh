#!/usr/bin/env bash
# Bad input through the real CLI and API: malformed JSON-RPC, unknown
# methods, missing and ill-typed params, a vehicle registered twice, invalid
# VINs, negative and non-integer amounts, unregistered callers, a second
# node on a data directory in use. Each gets a clear message; the node keeps
# serving and loses nothing.
. "$(dirname "$0")/lib.sh"

D=$TEST_TMP/node
vl() { "$VLEDGER" --data "$D" "$@"; }
start_node "$D"

step "malformed JSON-RPC"
r=$(vl rpc --raw 'this is not json')
[ "$(jf "$r" .error.code)" = -32700 ] || fail "parse error expected: $r"
r=$(vl rpc --raw '{"jsonrpc":"2.0","id":1}')
[ "$(jf "$r" .error.code)" = -32600 ] || fail "invalid request expected: $r"
r=$(vl rpc --raw '[]')
[ "$(jf "$r" .error.code)" = -32600 ] || fail "empty batch must be invalid: $r"
r=$(vl rpc --raw '{"jsonrpc":"2.0","id":2,"method":"no.such.method","params":{}}')
[ "$(jf "$r" .error.code)" = -32601 ] || fail "method not found expected: $r"
jf "$r" .error.message | grep -q "no.such.method" || fail "message does not name the method: $r"
r=$(vl rpc --raw '{"jsonrpc":"2.0","id":3,"method":"vehicle.get","params":{}}')
[ "$(jf "$r" .error.code)" = -32602 ] && jf "$r" .error.message | grep -q "missing parameter 'vin'" || fail "missing param: $r"
r=$(vl rpc --raw '{"jsonrpc":"2.0","id":4,"method":"block.get","params":{"height":"x"}}')
[ "$(jf "$r" .error.code)" = -32602 ] && jf "$r" .error.message | grep -q "must be an integer" || fail "ill-typed param: $r"
r=$(vl rpc --raw '{"jsonrpc":"2.0","id":5,"method":"identity.get","params":{"did":"bob"}}')
jf "$r" .error.message | grep -q "is not a DID" || fail "bad DID: $r"
r=$(vl rpc --raw '{"jsonrpc":"2.0","id":6,"method":"endorse","params":{"proposal":"!!!"}}')
jf "$r" .error.message | grep -q "not valid base64" || fail "bad base64: $r"
r=$(vl rpc --raw '{"jsonrpc":"2.0","id":7,"method":"endorse","params":{"proposal":"AAAA"}}')
[ "$(jf "$r" .error.code)" = -32602 ] || fail "garbage proposal: $r"
r=$(vl rpc --raw '{"jsonrpc":"2.0","id":8,"method":"submit","params":{"transaction":"AAAA"}}')
[ "$(jf "$r" .error.code)" = -32602 ] || fail "garbage transaction: $r"
r=$(vl rpc --raw '[{"jsonrpc":"2.0","id":1,"method":"status"},{"jsonrpc":"2.0","id":2,"method":"nope"}]')
[ "$(jf "$r" 'length')" = 2 ] && [ "$(jf "$r" '.[1].error.code')" = -32601 ] || fail "batch: $r"
expect_fail 1 "not registered" vl vehicle show 1HGCM82633A004352
expect_fail 1 "does not exist" vl block show 99
expect_fail 1 "not known" vl tx show 0000000000000000000000000000000000000000000000000000000000000000

step "unregistered caller"
# The node's own identity is registered at genesis; a fresh key is not.
openssl genpkey -algorithm ed25519 -out "$TEST_TMP/nobody.pem" 2>/dev/null
node_did=$(jf "$(vl --json status)" .did)
vl wallet issue --to "$node_did" 50 >/dev/null
out=$(vl --key "$TEST_TMP/nobody.pem" wallet transfer --to "$node_did" 10 2>&1) && fail "an unregistered payer was accepted: $out"
case "$out" in *"is not registered"*) ;; *) fail "no 'is not registered' for an unregistered payer: $out" ;; esac
case "$out" in *did:vl:*) ;; *) fail "the refusal does not name the key's DID: $out" ;; esac
expect_fail 1 "is not registered" vl wallet issue --to did:vl:0123456789012345678901234567890123456789 5

step "identities and amounts"
vl --json identity new --name Seller --role seller --out "$TEST_TMP/s.pem" >/dev/null
S=(--key "$TEST_TMP/s.pem")
did=$(jf "$(vl "${S[@]}" --json identity show)" .did)
for bad in -5 12.5 0; do
  expect_fail 1 "cents" vl wallet issue --to "$did" "$bad"
done
expect_fail 2 "not a number" vl wallet issue --to "$did" abc
vl wallet issue --to "$did" 700 >/dev/null
expect_fail 1 "cents" vl "${S[@]}" wallet transfer --to "$node_did" -1
expect_fail 1 "holds" vl wallet redeem --from "$did" 701
[ "$(jf "$(vl --json wallet balance "$did")" .balance)" = 700 ] || fail "refused amounts changed the balance"
[ "$(jf "$(vl --json wallet supply)" .issued)" = 750 ] || fail "refused amounts changed the supply"

step "VINs and double registration"
for vin in SHORT 1HGCM82633A00435I 1HGCM82633A0043520 1hgcm82633a004352; do
  expect_fail 1 "invalid VIN" vl "${S[@]}" vehicle register --vin "$vin" --make M --model X --year 2020
done
vl "${S[@]}" vehicle register --vin 1HGCM82633A004352 --make Honda --model Accord --year 2003 >/dev/null
expect_fail 1 "already registered" vl "${S[@]}" vehicle register --vin 1HGCM82633A004352 --make Fake --model Car --year 2020
veh=$(vl --json vehicle show 1HGCM82633A004352)
[ "$(jf "$veh" .make)" = Honda ] || fail "the first record was changed: $veh"
[ "$(jf "$(vl --json vehicle show 1HGCM82633A004352 --history)" '.history | length')" = 1 ] || fail "history grew"

step "usage errors exit 2"
expect_fail 2 "" vl frobnicate
expect_fail 2 "" vl vehicle register --vin 1HGCM82633A004352

step "a second node on the same data directory is refused"
expect_fail 1 "in use" "$VLEDGERD" --dev --data "$D"
vl status >/dev/null || fail "the first node stopped answering"
stop_node "$D"
