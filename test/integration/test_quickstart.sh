#!/usr/bin/env bash
# One dev node driven through the CLI along the README's path: identity,
# issued money, enrolment, vehicle registration, show with history, tx and block lookups,
# status fields; restart reuses keys and genesis; SIGTERM exits 0.
. "$(dirname "$0")/lib.sh"

D=$TEST_TMP/node
vl() { "$VLEDGER" --data "$D" "$@"; }

step "first start creates keys and genesis"
start_node "$D"
[ -f "$D/node.key" ] && [ -f "$D/genesis.json" ] || fail "dev start did not create node.key and genesis.json"
[ "$(stat -c %a "$D/node.key")" = 600 ] || fail "node.key is not mode 0600"
status=$(vl --json status)
for field in height state_hash did roles validators peers mempool endpoints chain_id; do
  [ "$(jf "$status" "has(\"$field\")")" = true ] || fail "status lacks '$field': $status"
done
for ep in api events; do
  case "$(jf "$status" ".endpoints.$ep")" in tcp://127.0.0.1:*) ;; *) fail "endpoint $ep is not on 127.0.0.1: $status" ;; esac
done
chain=$(jf "$status" .chain_id)
[ "$(jf "$status" .height)" = 0 ] || fail "a new chain should be at height 0"

step "identity, issued money, vehicle"
out=$(vl --json identity new --name Seller --role seller --out "$TEST_TMP/seller.pem")
did=$(jf "$out" '.did')
case "$did" in did:vl:*) ;; *) fail "identity new printed no DID: $out" ;; esac
[ "$(stat -c %a "$TEST_TMP/seller.pem")" = 600 ] || fail "identity key is not mode 0600"
S=(--key "$TEST_TMP/seller.pem")
[ "$(jf "$(vl --json identity show "$did")" .org)" = "$(jf "$status" .org.name)" ] || fail "identity not of the node's organisation"
# The dev node's own identity is the issuer; the seller is not.
vl wallet issue --to "$did" 250000 >/dev/null
vl wallet issue --to "$did" 1000 >/dev/null
expect_fail 1 "issuer" vl "${S[@]}" wallet issue --to "$did" 5
expect_fail 1 "wallet issue --to DID CENTS" vl "${S[@]}" wallet deposit 5
[ "$(jf "$(vl --json wallet balance "$did")" .balance)" = 251000 ] || fail "balance is not 251000"
supply=$(vl --json wallet supply)
[ "$(jf "$supply" .issued)" = 251000 ] && [ "$(jf "$supply" .circulating)" = 251000 ] || fail "supply: $supply"
[ "$(jf "$(vl --json status)" .money.issued)" = 251000 ] || fail "status.money: $(vl --json status)"
# The wallets' sum walks every wallet: only when asked for.
[ "$(jf "$(vl --json status)" '.money | has("wallets")')" = false ] || fail "status summed the wallets unasked"
[ "$(jf "$(vl --json status --wallets)" .money.wallets)" = 251000 ] || fail "status --wallets: $(vl --json status --wallets)"
vl status --wallets | grep -q "^money .*issued 251000, redeemed 0, in wallets 251000" || fail "status --wallets: $(vl status --wallets)"
expect_fail 2 "status takes only --wallets" vl status --wallet
[ "$(jf "$(vl "${S[@]}" --json wallet balance)" .balance)" = 251000 ] || fail "default DID balance differs"
reg=$(vl "${S[@]}" --json vehicle register --vin 1HGCM82633A004352 --make Honda --model Accord --year 2003 --color blue --set trim='"EX"')
txid=$(jf "$reg" .txid)
[ ${#txid} = 64 ] || fail "vehicle register printed no txid: $reg"
veh=$(vl --json vehicle show 1HGCM82633A004352)
[ "$(jf "$veh" .vin)" = 1HGCM82633A004352 ] || fail "vehicle show: $veh"
[ "$(jf "$veh" .make)" = Honda ] && [ "$(jf "$veh" .year)" = 2003 ] || fail "vehicle fields: $veh"
[ "$(jf "$veh" '.owners[0].did')" = "$did" ] || fail "owner is not the seller: $veh"
[ "$(jf "$veh" .trim)" = EX ] || fail "extra field --set trim missing: $veh"
ident=$(vl --json identity show "$did")
[ "$(jf "$ident" '.owned[0].vin')" = 1HGCM82633A004352 ] || fail "NFT-DID does not list the vehicle: $ident"

step "a privileged role only through enrolment by the organisation's node"
expect_fail 1 "identity enrol" vl identity new --name Agent --role title_agency --out "$TEST_TMP/agent.pem"
[ ! -f "$TEST_TMP/agent.pem" ] || fail "a refused identity left its key"
agent=$(jf "$(vl --json identity new --name Agent --role buyer --out "$TEST_TMP/agent.pem")" .did)
expect_fail 1 "only a node identity" vl --key "$TEST_TMP/agent.pem" identity enrol "$agent" --role title_agency
vl identity enrol "$agent" --role title_agency >/dev/null
[ "$(jf "$(vl --json identity show "$agent")" '.roles | index("title_agency") != null')" = true ] || fail "enrolled role missing: $(vl --json identity show "$agent")"
expect_fail 1 "already" vl identity enrol "$agent" --role title_agency

step "history, tx and block lookups"
hist=$(vl --json vehicle show 1HGCM82633A004352 --history)
[ "$(jf "$hist" '.history | length')" = 1 ] || fail "history should have one entry: $hist"
[ "$(jf "$hist" '.history[0].txid')" = "$txid" ] || fail "history txid differs: $hist"
vl vehicle show 1HGCM82633A004352 --history | grep -q "$txid" || fail "human history does not show the txid"
tx=$(vl --json tx show "$txid")
[ "$(jf "$tx" .code_name)" = VALID ] && [ "$(jf "$tx" .function)" = register ] || fail "tx show: $tx"
height=$(jf "$tx" .height)
blk=$(vl --json block show "$height")
[ "$(jf "$blk" ".txs | map(.txid) | index(\"$txid\") != null")" = true ] || fail "block $height lacks the tx: $blk"
[ "$(jf "$blk" .signatures)" -ge 1 ] || fail "block has no commit signature: $blk"

step "restart reuses keys, genesis and state"
before=$(vl --json status)
stop_node "$D"
start_node "$D"
after=$(vl --json status)
[ "$(jf "$after" .chain_id)" = "$chain" ] || fail "chain id changed across restart"
[ "$(jf "$after" .did)" = "$(jf "$before" .did)" ] || fail "node DID changed across restart"
[ "$(jf "$after" .height)" = "$(jf "$before" .height)" ] || fail "height changed across restart"
[ "$(jf "$after" .state_hash)" = "$(jf "$before" .state_hash)" ] || fail "state hash changed across restart"
[ "$(jf "$(vl --json wallet balance "$did")" .balance)" = 251000 ] || fail "balance lost across restart"
vl wallet issue --to "$did" 5 >/dev/null
stop_node "$D"
