#!/usr/bin/env bash
# A financed sale on one dev node through the real CLI, one key per party:
# onboarding with title rounds and registration, seller conditions, an
# unmet condition, negotiation, confirmations by seller, buyer and lender,
# settlement, the buyer's default digital key (denied until registered and
# insured, then allowed), instalments run by the node's reactor when block
# time passes their dates (lien released after the last), and the
# vehicle's history telling the story in order.
. "$(dirname "$0")/lib.sh"

D=$TEST_TMP/node
VIN=1HGCM82633A004352
COND=$(cd "$(dirname "$0")/../../contracts/lib/conditions" && pwd)
vl() { "$VLEDGER" --data "$D" "$@"; }

start_node "$D"

step "identities"
declare -A DID
# Buyer and seller declare their own roles; the privileged ones are granted
# by the dev organisation's node (it holds every role).
for p in seller buyer agency authority lender insurer; do
  case $p in
    seller) role=owner ;; buyer) role=buyer ;; *) role=owner ;;
  esac
  DID[$p]=$(jf "$(vl --json identity new --name "$p" --role "$role" --out "$TEST_TMP/$p.pem")" .did)
done
vl identity enrol "${DID[agency]}" --role title_agency >/dev/null
vl identity enrol "${DID[authority]}" --role registration_authority >/dev/null
vl identity enrol "${DID[lender]}" --role lender >/dev/null
vl identity enrol "${DID[insurer]}" --role insurer >/dev/null
as() { local who=$1; shift; vl --key "$TEST_TMP/$who.pem" "$@"; }
vl wallet issue --to "${DID[seller]}" 100000 >/dev/null
vl wallet issue --to "${DID[buyer]}" 1000000 >/dev/null
vl wallet issue --to "${DID[lender]}" 5000000 >/dev/null
total_before=$(for p in seller buyer agency authority lender insurer; do jf "$(vl --json wallet balance "${DID[$p]}")" .balance; done | paste -sd+ | bc)

step "onboarding: NFT-VID, title check, title request with clarification, registration"
out=$(as seller --json title onboard --vin $VIN --make Honda --model Accord --year 2003 --extra '{"mileage":42000}' --agency "${DID[agency]}")
[ "$(jf "$out" .result.title)" = requested ] || fail "onboard did not request a title: $out"
as agency title answer --vin $VIN --decision clarify --question "proof of purchase?" >/dev/null
as seller title respond --vin $VIN --answer "invoice 42" >/dev/null
expect_fail 1 "only the agency" as buyer title answer --vin $VIN --decision issue --number X
as agency title answer --vin $VIN --decision issue --number T-1 >/dev/null
as seller registration request --vin $VIN --authority "${DID[authority]}" >/dev/null
as authority registration issue --vin $VIN --plate B-VL-1 >/dev/null
veh=$(vl --json vehicle show $VIN)
[ "$(jf "$veh" .title.status)" = valid ] && [ "$(jf "$veh" .registration.plate)" = B-VL-1 ] || fail "title/registration: $veh"
[ "$(jf "$veh" '.contracts.generic | index("title.check") != null')" = true ] || fail "title check not copied: $veh"

step "seller conditions: minimum price and accepted lenders"
sed "s/MIN_PRICE = 1000000/MIN_PRICE = 800000/" "$COND/min_price.lua" >"$TEST_TMP/min_price.lua"
sed "s/did:vl:0000000000000000000000000000000000000000/${DID[lender]}/" "$COND/accepted_lenders.lua" >"$TEST_TMP/lenders.lua"
as seller contract deploy --name min_price --file "$TEST_TMP/min_price.lua" --attach vehicle:$VIN >/dev/null
as seller contract deploy --name accepted_lenders --file "$TEST_TMP/lenders.lua" --attach vehicle:$VIN >/dev/null
out=$(as buyer --json sale request --vin $VIN --price 500000)
[ "$(jf "$out" .result.status)" = requested ] || fail "request not recorded for the seller: $out"
expect_fail 1 "seller condition 'min_price' not met: price 500000 is below the minimum 800000" \
  as seller sale answer --vin $VIN
expect_fail 1 "does not hold the role lender" \
  as buyer sale request --vin $VIN --price 900000 --finance "${DID[insurer]}:1"

step "purchase request with buyer conditions, negotiation, confirmations"
sed "s/MAX_PRICE = 2000000/MAX_PRICE = 880000/" "$COND/price_ceiling.lua" >"$TEST_TMP/ceiling.lua"
as buyer sale request --vin $VIN --price 900000 --finance "${DID[lender]}:800000" --conditions "$TEST_TMP/ceiling.lua" --months 2 --period-ms 1500 >/dev/null
as seller sale answer --vin $VIN >/dev/null
expect_fail 1 "buyer condition 'cond_" as buyer sale accept --vin $VIN
as buyer sale offer --vin $VIN --price 850000 >/dev/null
as seller sale accept --vin $VIN >/dev/null
expect_fail 1 "no sale nope for vehicle $VIN" as insurer sale confirm --vin $VIN --id nope
as seller sale confirm --vin $VIN >/dev/null
as lender sale confirm --vin $VIN >/dev/null
out=$(as buyer --json sale confirm --vin $VIN)
[ "$(jf "$out" .result.status)" = settled ] || fail "sale not settled: $out"

step "settlement: owner, title, lien, key; money conserved"
veh=$(vl --json vehicle show $VIN)
[ "$(jf "$veh" .owner)" = "${DID[buyer]}" ] || fail "owner: $veh"
[ "$(jf "$veh" .title.holder)" = "${DID[buyer]}" ] || fail "title holder: $veh"
[ "$(jf "$veh" .financing.lender)" = "${DID[lender]}" ] || fail "lien: $veh"
key=$(jf "$veh" '.keys[-1].key_id')
[ "$(jf "$veh" '.keys[-1].holder')" = "${DID[buyer]}" ] || fail "buyer key: $veh"
[ "$(jf "$(vl --json identity show "${DID[seller]}")" '.owned | length')" = 0 ] || fail "seller still lists the vehicle"
total_after=$(for p in seller buyer agency authority lender insurer; do jf "$(vl --json wallet balance "${DID[$p]}")" .balance; done | paste -sd+ | bc)
[ "$total_before" = "$total_after" ] || fail "money not conserved: $total_before -> $total_after"

step "digital key: denied until registered and insured, then allowed"
expect_fail 1 "key use denied: no insurance; registration is pending" as buyer keys use --vin $VIN --key-id "$key"
as authority registration issue --vin $VIN --plate B-VL-2 >/dev/null
valid=$(( $(now_ms) + 86400000 ))
out=$(as insurer --json insurance request --vin $VIN --provider "${DID[insurer]}" --policy P-1 --coverage 3000000 --premium 500 --period-ms 600000 --valid-until $valid)
iid=$(jf "$out" .result.id)
as buyer insurance approve --vin $VIN --id "$iid" --provider "${DID[insurer]}" >/dev/null
out=$(as buyer --json keys use --vin $VIN --key-id "$key")
[ "$(jf "$out" .result.allowed)" = true ] || fail "key use not allowed: $out"
expect_fail 1 "is held by" as seller keys use --vin $VIN --key-id "$key"

step "instalments run by the reactor when block time passes their dates"
paid() { [ "$(jf "$(vl --json vehicle show $VIN)" "${1}")" = "$2" ]; }
tick() { vl wallet issue --to "${DID[insurer]}" 1 >/dev/null; }   # any block lets the reactor look
deadline=$(( $(now_ms) + 20000 ))
until paid '.financing == null' true; do
  [ "$(now_ms)" -lt "$deadline" ] || fail "instalments did not run: $(vl --json vehicle show $VIN)"
  sleep 0.5; tick
done
[ "$(jf "$(vl --json wallet balance "${DID[lender]}")" .balance)" = 5000000 ] || fail "lender not repaid"

step "device pairing: two signed component identifications, distance"
openssl genpkey -algorithm ed25519 -out "$TEST_TMP/hu.pem" 2>/dev/null
openssl genpkey -algorithm ed25519 -out "$TEST_TMP/ecu.pem" 2>/dev/null
C=(--component "head_unit=$TEST_TMP/hu.pem" --component "key_ecu=$TEST_TMP/ecu.pem")
as buyer pairing components --vin $VIN "${C[@]}" >/dev/null
expect_fail 1 "pairing is enabled only within 10 m" as buyer pairing prepair --vin $VIN --device phone-1 "${C[@]}" --at 30,0 --vehicle-at 0,0
expect_fail 1 "at least two vehicle components, got 1" as buyer pairing prepair --vin $VIN --device phone-1 --component "head_unit=$TEST_TMP/hu.pem" --at 1,0 --vehicle-at 0,0
out=$(as buyer --json pairing prepair --vin $VIN --device phone-1 "${C[@]}" --at 3,4 --vehicle-at 0,0)
[ "$(jf "$out" .result.status)" = paired ] || fail "pairing: $out"

step "history tells the story in order"
hist=$(vl --json vehicle show $VIN --history)
owners=$(jf "$hist" '[.history[].value.owner] | unique | length')
[ "$owners" = 2 ] || fail "history owners: $hist"
story=$(jf "$hist" '[.history[] | .value | (.title.status // "-") + "/" + (.registration.status // "-") + "/" + (.owner[-6:])] | join(" ")')
note "story: $story"
order=$(jf "$hist" '[.history[] | .value |
  if (.insurance.state // "") == "active" then "insured"
  elif .financing != null then "lien"
  elif .title.status == "clarification_requested" then "clarify"
  elif .title.status == "requested" then "title-requested"
  elif .owner == "'"${DID[buyer]}"'" then "buyer" else "seller" end] | join(",")')
case "$order" in
  *title-requested*clarify*title-requested*seller*lien*insured*) ;;
  *) fail "history out of order: $order" ;;
esac
human=$(vl vehicle show $VIN --history)
grep -q "changed .*owner" <<<"$human" || fail "human history lacks the owner change: $human"
[ "$(jf "$hist" '[.history[] | select(.value.financing == null and .value.owner == "'"${DID[buyer]}"'")] | length')" -ge 1 ] || fail "lien release missing"
