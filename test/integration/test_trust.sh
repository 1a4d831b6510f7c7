#!/usr/bin/env bash
# Trust between organisations, on five organisations' nodes (agency, seller,
# buyer, lender, insurer; four of them validate): privileged roles only by
# enrolment, money only from the bank, a financed sale that each party's own
# node endorses, the lender's node down (the settlement fails naming it,
# then commits once it is back), a write guarded by another organisation's
# policy carried by one endorsement only (invalid on every replica), a node
# that signs results it did not compute (the gateway names both
# endorsers), and money conserved after every step.
. "$(dirname "$0")/lib.sh"

NET=$TEST_TMP/net
ORGS=(agency seller buyer lender insurer)
make_net "$NET" 5 --orgs "agency:title_agency+registration_authority+validator,seller:dealer+validator,buyer,lender:lender+issuer+validator,insurer:insurer+validator"
declare -A N DID
for i in 0 1 2 3 4; do N[${ORGS[$i]}]=$NET/node$i; done
WAIT_POLL_S=0.1
VIN=1HGCM82633A004352

# as ORG ARGS... — ORG's person at ORG's own node; node ORG ARGS... — ORG's
# node under its own key (the organisation itself).
declare -A HOME_ORG=([buyer2]=insurer)   # a person of another organisation
as() { local o=$1 n=${HOME_ORG[$1]:-$1}; shift; "$VLEDGER" --data "${N[$n]}/data" --key "$TEST_TMP/$o.pem" "$@"; }
node() { local o=$1; shift; "$VLEDGER" --data "${N[$o]}/data" "$@"; }
api() { jq -r .api "${N[$1]}/data/endpoints.json"; }
tip() { nstatus "${N[$1]}" | jq -r '"\(.height) \(.state_hash)"'; }
all_alive() {
  local o; for o in "${ORGS[@]}"; do
    [ "$(nstatus "${N[$o]}" | jq '[.peers[] | select(.state == "alive")] | length')" -ge 4 ] || return 1
  done
}
same_state() {
  local want o; want=$(tip agency)
  for o in "${ORGS[@]}"; do [ "$(tip "$o")" = "$want" ] || return 1; done
}
# Σ wallets = issued - redeemed on every replica, once they agree.
money_conserved() {
  wait_until 20000 same_state
  local o st
  for o in "${ORGS[@]}"; do
    st=$(nstatus "${N[$o]}" --wallets)
    [ "$(jf "$st" '.money.wallets == .money.issued - .money.redeemed')" = true ] \
      || fail "money not conserved on $o: $(jf "$st" .money)"
  done
}

step "five organisations, each node holding its organisation's roles"
for o in "${ORGS[@]}"; do start_config_node "${N[$o]}"; done
wait_until 30000 all_alive
[ "$(jf "$(nstatus "${N[lender]}")" '.org.roles | sort | join(",")')" = issuer,lender,validator ] \
  || fail "lender's roles: $(nstatus "${N[lender]}" | jq -c .org)"
[ "$(jf "$(nstatus "${N[buyer]}")" '.consensus.validators | length')" = 4 ] || fail "not 4 validators"

step "identities: a self-declared privileged role is refused; each organisation enrols its own"
for o in "${ORGS[@]}"; do
  case $o in seller) r=seller ;; buyer) r=buyer ;; *) r=owner ;; esac
  DID[$o]=$(jf "$(node "$o" --json identity new --name "$o" --role $r --out "$TEST_TMP/$o.pem")" .did)
  [ "$(jf "$(node "$o" --json identity show "${DID[$o]}")" .org)" = "$o" ] || fail "$o's identity is not of its organisation"
done
expect_fail 1 "held only through an organisation that holds it (agency)" \
  node buyer identity new --name fake --role title_agency --out "$TEST_TMP/fake.pem"
expect_fail 1 "does not hold the role 'title_agency'" node buyer identity enrol "${DID[buyer]}" --role title_agency
expect_fail 1 "belongs to" node agency identity enrol "${DID[buyer]}" --role title_agency
node agency identity enrol "${DID[agency]}" --role title_agency >/dev/null
node agency identity enrol "${DID[agency]}" --role registration_authority >/dev/null
node seller identity enrol "${DID[seller]}" --role dealer >/dev/null
node lender identity enrol "${DID[lender]}" --role lender >/dev/null
node insurer identity enrol "${DID[insurer]}" --role insurer >/dev/null
money_conserved

step "money: only the bank's organisation issues it"
expect_fail 1 "issuer" as buyer wallet issue --to "${DID[buyer]}" 100000000
expect_fail 1 "issuer" node agency wallet issue --to "${DID[agency]}" 5
expect_fail 1 "wallet issue --to DID CENTS" as buyer wallet deposit 5
node lender wallet issue --to "${DID[seller]}" 100000 >/dev/null
node lender wallet issue --to "${DID[buyer]}" 300000 >/dev/null
node lender wallet issue --to "${DID[lender]}" 5000000 >/dev/null
as buyer wallet transfer --to "${DID[insurer]}" 1000 >/dev/null
money_conserved
[ "$(jf "$(node insurer --json wallet supply)" .issued)" = 5400000 ] || fail "supply: $(node insurer --json wallet supply)"

step "onboarding and a financed sale up to the last confirmation"
as seller title onboard --vin $VIN --make Honda --model Accord --year 2019 --agency "${DID[agency]}" >/dev/null
as agency title answer --vin $VIN --decision issue --number T-1 >/dev/null
as seller registration request --vin $VIN --authority "${DID[agency]}" >/dev/null
as agency registration issue --vin $VIN --plate VL-1 >/dev/null
as buyer sale request --vin $VIN --price 900000 --finance "${DID[lender]}:700000" --months 12 --period-ms 2592000000 >/dev/null
as seller sale answer --vin $VIN >/dev/null
as buyer sale offer --vin $VIN --price 880000 >/dev/null
as seller sale accept --vin $VIN >/dev/null
as seller sale confirm --vin $VIN >/dev/null
as lender sale confirm --vin $VIN >/dev/null
money_conserved

step "the lender's node stopped: the settlement fails naming the lender, nothing changes"
stop_config_node "${N[lender]}"
t0=$(now_ms)
expect_fail 1 "lender" as buyer sale confirm --vin $VIN
took=$(( $(now_ms) - t0 ))
[ "$took" -lt 15000 ] || fail "the refusal took $took ms"
[ "$(jf "$(node buyer --json vehicle show $VIN)" .owner)" = "${DID[seller]}" ] || fail "the vehicle moved without the lender"
note "settlement refused in $took ms with the lender's node down"

step "the lender's node back: the settlement commits, endorsed by each party's organisation"
start_config_node "${N[lender]}"
wait_until 30000 same_state
wait_until 30000 all_alive
out=$(as buyer --json sale confirm --vin $VIN)
[ "$(jf "$out" .result.status)" = settled ] || fail "not settled: $out"
txid=$(jf "$out" .txid)
for o in "${ORGS[@]}"; do
  wait_until 20000 node "$o" tx show "$txid"
  t=$(node "$o" --json tx show "$txid")
  [ "$(jf "$t" .code_name)" = VALID ] || fail "$o: settlement $txid is $(jf "$t" .code_name)"
done
orgs=$(jf "$t" '[.endorsements[].org] | sort | join(",")')
[ "$orgs" = agency,buyer,lender,seller ] || fail "settlement endorsed by '$orgs', not agency, buyer, lender and seller"
[ "$(jf "$(node insurer --json vehicle show $VIN)" .owner)" = "${DID[buyer]}" ] || fail "the buyer does not own the vehicle"
money_conserved
note "settlement endorsed by $orgs"

step "reads go through query: sale show and title show make no block"
h0=$(nstatus "${N[buyer]}" | jq .height)
[ "$(jf "$(as buyer --json sale show $VIN)" ".sales[0].status")" = settled ] || fail "sale show: $(as buyer --json sale show $VIN)"
[ "$(jf "$(as buyer --json title show $VIN)" .title.holder)" = "${DID[buyer]}" ] || fail "title show: $(as buyer --json title show $VIN)"
expect_fail 1 "no sale nope" as buyer sale show $VIN --id nope
[ "$(nstatus "${N[buyer]}" | jq .height)" = "$h0" ] || fail "a read made a block"
[ "$(nstatus "${N[buyer]}" | jq .mempool)" = 0 ] || fail "a read made a transaction"

step "two buyers settle one vehicle at once: exactly one sale commits"
V2=2HGCM82633A004353
DID[buyer2]=$(jf "$(node insurer --json identity new --name buyer2 --role buyer --out "$TEST_TMP/buyer2.pem")" .did)
node lender wallet issue --to "${DID[buyer2]}" 300000 >/dev/null
as seller title onboard --vin $V2 --make Honda --model Civic --year 2020 --agency "${DID[agency]}" >/dev/null
as agency title answer --vin $V2 --decision issue --number T-2 >/dev/null
a=$(jf "$(as buyer --json sale request --vin $V2 --price 100000)" .result.id)
b=$(jf "$(as buyer2 --json sale request --vin $V2 --price 100000)" .result.id)
as seller sale answer --vin $V2 --id "$a" >/dev/null
as seller sale answer --vin $V2 --id "$b" >/dev/null
as buyer sale accept --vin $V2 --id "$a" >/dev/null
as buyer2 sale accept --vin $V2 --id "$b" >/dev/null
as seller sale confirm --vin $V2 --id "$a" >/dev/null
as seller sale confirm --vin $V2 --id "$b" >/dev/null
# The validators cut a block only a second after its first transaction, so
# both settlements are endorsed against the same state and ordered into
# one block: the one ordered second must be invalid (MVCC), not refused.
slow_blocks() {
  local o
  for o in agency seller lender insurer; do
    stop_config_node "${N[$o]}"
    jq "$1" "${N[$o]}/node.json" >"$TEST_TMP/node.json" && mv "$TEST_TMP/node.json" "${N[$o]}/node.json"
    start_config_node "${N[$o]}"
  done
  wait_until 30000 all_alive
  wait_until 30000 same_state
}
slow_blocks '.block_timeout_ms = 1000'
as buyer --json sale confirm --vin $V2 --id "$a" >"$TEST_TMP/a.out" 2>"$TEST_TMP/a.err" & pa=$!
as buyer2 --json sale confirm --vin $V2 --id "$b" >"$TEST_TMP/b.out" 2>"$TEST_TMP/b.err" & pb=$!
ra=0; rb=0; wait $pa || ra=$?; wait $pb || rb=$?
settled=$( (cat "$TEST_TMP/a.out" "$TEST_TMP/b.out") | jq -r 'select(.result.status == "settled") | .txid' | wc -l)
[ "$settled" = 1 ] || fail "$settled sales settled (a: rc $ra $(cat "$TEST_TMP/a.out" "$TEST_TMP/a.err"); b: rc $rb $(cat "$TEST_TMP/b.out" "$TEST_TMP/b.err"))"
[ $((ra + rb)) -ge 1 ] || fail "both confirmations succeeded"
owner=$(jf "$(node agency --json vehicle show $V2)" .owner)
case "$owner" in "${DID[buyer]}"|"${DID[buyer2]}") ;; *) fail "owner of $V2 is $owner" ;; esac
loser=$(cat "$TEST_TMP/a.err" "$TEST_TMP/b.err")
mvcc=$(grep -o "transaction [0-9a-f]\{64\} was invalidated: MVCC_CONFLICT" <<<"$loser" | head -1 | cut -d' ' -f2) || true
[ -n "$mvcc" ] || fail "the losing settlement was not invalidated by MVCC: $loser"
for o in "${ORGS[@]}"; do
  [ "$(jf "$(node "$o" --json tx show "$mvcc")" .code_name)" = MVCC_CONFLICT ] || fail "$o: $mvcc is not MVCC_CONFLICT"
done
note "the losing settlement $mvcc committed as MVCC_CONFLICT on every replica; its retry: $(tail -1 <<<"$loser")"
slow_blocks 'del(.block_timeout_ms)'
money_conserved

step "one organisation's endorsement alone never changes what another's policy guards"
# The bank redeems from the buyer's wallet with only its own node's
# endorsement (wallet.redeem needs the holder's organisation too).
before=$(jf "$(node buyer --json wallet balance "${DID[buyer]}")" .balance)
r=$("$VLEDGER_SIM" probe endorse-one --endpoint "$(api lender)" --key "${N[lender]}/node.key" \
      --contract wallet --function redeem --args "{\"from\":\"${DID[buyer]}\",\"cents\":1000}")
[ "$(jf "$r" .code_name)" = ENDORSEMENT_POLICY_FAILURE ] || fail "a one-organisation redeem: $r"
txid=$(jf "$r" .txid)
for o in "${ORGS[@]}"; do
  wait_until 20000 node "$o" tx show "$txid"
  [ "$(jf "$(node "$o" --json tx show "$txid")" .code_name)" = ENDORSEMENT_POLICY_FAILURE ] || fail "$o judged it differently"
  [ "$(jf "$(node "$o" --json wallet balance "${DID[buyer]}")" .balance)" = "$before" ] || fail "$o: the buyer's wallet changed"
done
# The old owner, endorsed by its own node only, cannot issue itself a key
# to the vehicle it sold: its node refuses before anything is submitted.
expect_fail 1 "owner" "$VLEDGER_SIM" probe endorse-one --endpoint "$(api seller)" \
  --key "$TEST_TMP/seller.pem" --contract keys --function issue --args "{\"vin\":\"$VIN\",\"holder\":\"${DID[seller]}\"}"
money_conserved

step "a node that signs results it did not compute: the gateway names both endorsers"
valid=$(( $(now_ms) + 86400000 ))
iid=$(jf "$(as insurer --json insurance request --vin $VIN --provider "${DID[insurer]}" --policy P-1 \
      --coverage 3000000 --premium 500 --period-ms 600000 --valid-until $valid)" .result.id)
stop_config_node "${N[insurer]}"
start_config_node "${N[insurer]}" --test-lie-endorse
wait_until 30000 all_alive
height=$(nstatus "${N[buyer]}" | jq .height)
out=$(as buyer insurance approve --vin $VIN --id "$iid" --provider "${DID[insurer]}" 2>&1) && fail "a lying endorser was accepted: $out"
case "$out" in *buyer*insurer*|*insurer*buyer*) ;; *) fail "the error does not name both endorsers: $out" ;; esac
[ "$(jf "$(node buyer --json vehicle show $VIN)" '.insurance.state // "none"')" != active ] || fail "the insurance was approved"
note "gateway: $(head -1 <<<"$out")"
stop_config_node "${N[insurer]}"
start_config_node "${N[insurer]}"
wait_until 30000 same_state
wait_until 30000 all_alive
as buyer insurance approve --vin $VIN --id "$iid" --provider "${DID[insurer]}" >/dev/null
[ "$(jf "$(node agency --json vehicle show $VIN)" .insurance.state)" = active ] || fail "insurance not active"
money_conserved

step "a replica catching up judges blocks whose policies read each other's writes as the rest did"
# While the buyer's node is down, the bank credits the seller and the
# seller pays from that credit: the payment's wallet guard resolves against
# the credit, one block earlier. The buyer's node pulls both as one run.
stop_config_node "${N[buyer]}"
node lender wallet issue --to "${DID[seller]}" 500 >/dev/null
as seller wallet transfer --to "${DID[insurer]}" 100 >/dev/null
as seller wallet transfer --to "${DID[insurer]}" 100 >/dev/null
start_config_node "${N[buyer]}"
wait_until 30000 same_state
node buyer verify --peers >/dev/null || fail "the caught-up buyer's replica differs"
money_conserved

step "an organisation's own endorsement rule decides what its node signs"
as lender contract deploy --name lender_terms --file "$(dirname "$0")/contracts/lender_terms.lua" >/dev/null
stop_config_node "${N[lender]}"
jq '.endorsement_rules = {"wallet.transfer": "lender_terms"}' "${N[lender]}/node.json" >"$TEST_TMP/nj" && mv "$TEST_TMP/nj" "${N[lender]}/node.json"
start_config_node "${N[lender]}"
wait_until 30000 all_alive
before=$(jf "$(node insurer --json wallet balance "${DID[insurer]}")" .balance)
expect_fail 1 "organisation 'lender' does not endorse wallet.transfer: its rule 'lender_terms' says: transfers over 500 cents need a loan officer" \
  as lender wallet transfer --to "${DID[insurer]}" 600
as lender wallet transfer --to "${DID[insurer]}" 400 >/dev/null
wait_until 20000 same_state
[ "$(jf "$(node insurer --json wallet balance "${DID[insurer]}")" .balance)" = $((before + 400)) ] || fail "only the 400 cents should have moved"
money_conserved

step "every replica holds the same chain"
for o in "${ORGS[@]}"; do node "$o" verify --peers >/dev/null || fail "verify --peers failed on $o"; done
for o in "${ORGS[@]}"; do stop_config_node "${N[$o]}"; done
