#!/usr/bin/env bash
# Reactors across organisations' nodes (docs/reactors.md): rules on the
# ledger that only their owner changes; the title agency's node issues
# titles and plates by its own rules, also for what happened while it was
# down; the same event delivered twice, a node killed mid-flow and two
# nodes of one organisation holding one participant's key each commit one
# follow-up per event;
# a follow-up whose endorser is offline is retried with backoff until it
# is back.
. "$(dirname "$0")/lib.sh"

NET=$TEST_TMP/net
# buyer2 is the buyer organisation's second node.
ORGS=(agency seller buyer buyer2 insurer)
make_net "$NET" 5 --orgs "agency:title_agency+registration_authority,seller:dealer+issuer+validator,buyer,buyer,insurer:insurer"
declare -A N DID
for i in 0 1 2 3 4; do N[${ORGS[$i]}]=$NET/node$i; done
CONTRACTS=$(cd "$(dirname "$0")/contracts" && pwd)
RULES=$(cd "$(dirname "$0")/../../contracts/lib/rules" && pwd)   # the example rules
WAIT_POLL_S=0.1

as() { local o=$1; shift; "$VLEDGER" --data "${N[$o]}/data" --key "$TEST_TMP/$o.pem" "$@"; }
node() { local o=$1; shift; "$VLEDGER" --data "${N[$o]}/data" "$@"; }
all_alive() {
  local o want=$(( ${#ORGS[@]} - 1 ))
  for o in "${ORGS[@]}"; do
    [ -n "${NODE_PID[${N[$o]}]:-}" ] || continue
    [ "$(nstatus "${N[$o]}" | jq '[.peers[] | select(.state == "alive")] | length')" -ge "$1" ] || return 1
  done
}
reactors() { nstatus "${N[$1]}" | jq -r ".reactors.$2"; }
vehicle() { node seller --json vehicle show "$1" | jq -r "$2"; }
is() { [ "$("${@:3}")" = "$2" ] || return 1; }
# hold ORG WHO... — ORG's node runs the rules of WHO's keys (node.json
# "identities"); restarts the node.
hold() {
  local o=$1 w list=""; shift
  for w in "$@"; do
    cp "$TEST_TMP/$w.pem" "${N[$o]}/$w.pem"; chmod 600 "${N[$o]}/$w.pem"
    list="$list\"$w.pem\","
  done
  stop_config_node "${N[$o]}"
  jq ".identities = [${list%,}] | .endorse_timeout_ms = 1000" "${N[$o]}/node.json" >"$TEST_TMP/nj" && mv "$TEST_TMP/nj" "${N[$o]}/node.json"
  start_config_node "${N[$o]}"
  wait_until 20000 all_alive 4
}

step "four organisations on five nodes (two of the buyer's); identities enrolled by their own nodes"
for o in "${ORGS[@]}"; do start_config_node "${N[$o]}"; done
wait_until 30000 all_alive 4
[ "$(nstatus "${N[buyer2]}" | jq -r .org.name)" = buyer ] || fail "node3 is not the buyer organisation's"
for o in agency seller buyer insurer; do
  case $o in seller) r=seller ;; buyer) r=buyer ;; *) r=owner ;; esac
  DID[$o]=$(jf "$(node "$o" --json identity new --name "$o" --role $r --out "$TEST_TMP/$o.pem")" .did)
done
node agency identity enrol "${DID[agency]}" --role title_agency >/dev/null
node agency identity enrol "${DID[agency]}" --role registration_authority >/dev/null
node insurer identity enrol "${DID[insurer]}" --role insurer >/dev/null
node seller wallet issue --to "${DID[seller]}" 100000 >/dev/null

step "rules are their owner's, on the ledger; listing them is a read"
as agency contract deploy --name agency_rule --file "$RULES/agency.lua" >/dev/null
as agency reactor add --topic event.title.requested --contract agency_rule --function on_title --id title >/dev/null
as agency reactor add --topic event.registration.requested --contract agency_rule --function on_registration --id plate >/dev/null
expect_fail 1 "is not deployed" as agency reactor add --topic event.x --contract nosuch
expect_fail 1 "topic must be an event topic" as agency reactor add --topic sale.x --contract agency_rule
expect_fail 1 "a time rule needs at" as agency reactor add --topic time --contract agency_rule
expect_fail 1 "at and every_ms go with topic time" as agency reactor add --topic event.x --at 5 --contract agency_rule
expect_fail 1 "every_ms must be an integer of at least 1000" as agency reactor add --topic time --at 5 --every-ms 10 --contract agency_rule
expect_fail 2 "--at needs a whole number of milliseconds" as agency reactor add --topic time --at soon --contract agency_rule
expect_fail 1 "exists already" as agency reactor add --topic event.x --contract agency_rule --id title
expect_fail 1 "no rule title of ${DID[seller]}" as seller reactor remove title
h=$(nstatus "${N[seller]}" | jq .height)
rules=$(as seller --json reactor list "${DID[agency]}")
[ "$(jf "$rules" '[.[].id] | sort | join(",")')" = plate,title ] || fail "rules: $rules"
[ "$(nstatus "${N[seller]}" | jq .height)" = "$h" ] || fail "reactor list made a block"

step "the agency's node issues the title and the plate by its own rules"
hold agency agency
[ "$(nstatus "${N[agency]}" | jq -r --arg d "${DID[agency]}" '.reactors.identities | index($d) != null')" = true ] || fail "the agency node does not hold the agency's key"
V1=1HGCM82633A004352
out=$(as seller --json title onboard --vin $V1 --make Honda --model Accord --year 2019 --agency "${DID[agency]}")
wait_until 20000 is x valid vehicle $V1 .title.status
as seller registration request --vin $V1 --authority "${DID[agency]}" >/dev/null
wait_until 20000 is x registered vehicle $V1 .registration.status
t=$(node buyer --json vehicle show $V1 --history | jq -r '[.history[] | select(.value.title.status == "valid")][0].txid')
tx=$(node buyer --json tx show "$t")
[ "$(jf "$tx" .creator)" = "${DID[agency]}" ] || fail "the title was not issued under the agency's key: $tx"
case "$(jf "$tx" .args.cause)" in "$(jf "$out" .txid)":*) ;; *) fail "the follow-up does not name its cause: $tx" ;; esac
note "title $(vehicle $V1 .title.number) and plate $(vehicle $V1 .registration.plate) issued by the agency's node"

step "with the agency's node down the flow waits, and completes when it returns"
stop_config_node "${N[agency]}"
V2=2HGCM82633A004353
as seller title onboard --vin $V2 --make Honda --model Civic --year 2020 --agency "${DID[agency]}" >/dev/null
[ "$(vehicle $V2 .title.status)" = requested ] || fail "title of $V2 not requested: $(node seller --json vehicle show $V2)"
start_config_node "${N[agency]}"
wait_until 30000 is x valid vehicle $V2 .title.status
note "title of $V2 issued after the agency's node came back: $(vehicle $V2 .title.number)"

step "the seller's node negotiates by its own rule"
sed "s/^local FLOOR = 850000/local FLOOR = 650000/" "$RULES/seller.lua" >"$TEST_TMP/seller_rules.lua"
as seller contract deploy --name seller_rules --file "$TEST_TMP/seller_rules.lua" >/dev/null
as seller reactor add --topic event.sale.requested --contract seller_rules --function on_request >/dev/null
as seller reactor add --topic event.sale.offered --contract seller_rules --function on_offer >/dev/null
hold seller seller
id=$(jf "$(as buyer --json sale request --vin $V1 --price 700000)" .result.id)
last_offer() { as buyer --json sale show $V1 --id "$id" | jq -r '.offers[-1] | "\(.by) \(.price) \(.status)"'; }
# The seller's node answers the request by its rule, the seller's
# conditions judged in the seller's own transaction on the seller's node.
wait_until 20000 is x "${DID[seller]} 700000 open" last_offer
as buyer sale offer --vin $V1 --id "$id" --price 600000 >/dev/null
wait_until 20000 is x "${DID[seller]} 650000 open" last_offer
as buyer sale offer --vin $V1 --id "$id" --price 660000 >/dev/null
sale_status() { as buyer --json sale show $V1 --id "$id" | jq -r '"\(.status) \(.agreed_price)"'; }
wait_until 20000 is x "agreed 660000" sale_status
note "seller's node: answered the request at 700000, countered 600000 with its floor 650000, accepted 660000"
expect_fail 1 "aborted" as buyer sale abort --vin $V1 --id "$id"   # a result with a message: exit 1

step "the same event delivered twice pays once"
as buyer contract deploy --name tip_rule --file "$CONTRACTS/tip_rule.lua" >/dev/null
as buyer reactor add --topic event.wallet.issued --contract tip_rule --match to="${DID[buyer]}" >/dev/null
hold buyer buyer
node seller wallet issue --to "${DID[buyer]}" 100 >/dev/null
node seller wallet issue --to "${DID[buyer]}" 100 >/dev/null
bal() { node seller --json wallet balance "${DID[buyer]}" | jq -r .balance; }
wait_until 20000 is x 198 bal
stop_config_node "${N[buyer]}"
rm -f "${N[buyer]}/data/reactor.checkpoint"
start_config_node "${N[buyer]}"
wait_until 20000 all_alive 4
ge() { [ "$("${@:2}")" -ge "$1" ]; }
wait_until 20000 ge 2 reactors buyer already_done
[ "$(bal)" = 198 ] || fail "a replayed event paid again: balance $(bal)"
note "replay from height 0: $(reactors buyer already_done) follow-ups found already made"

step "a node killed mid-flow makes every follow-up once"
node seller wallet issue --to "${DID[buyer]}" 100 >/dev/null
kill_node "${N[buyer]}"
node seller wallet issue --to "${DID[buyer]}" 100 >/dev/null
start_config_node "${N[buyer]}"
wait_until 30000 is x 396 bal
[ "$(reactors buyer pending)" = 0 ] || wait_until 20000 is x 0 reactors buyer pending
[ "$(bal)" = 396 ] || fail "balance $(bal) after the restart, not 396"

step "two nodes of one organisation holding one participant's key commit one follow-up per event"
hold buyer2 buyer
before=$(( $(reactors buyer2 already_done) + $(reactors buyer already_done) ))
node seller wallet issue --to "${DID[buyer]}" 100 >/dev/null
wait_until 20000 is x 495 bal
settled() { [ "$(reactors buyer2 pending)" = 0 ] && [ "$(reactors buyer pending)" = 0 ] \
  && [ $(( $(reactors buyer2 already_done) + $(reactors buyer already_done) )) -gt "$before" ]; }
wait_until 30000 settled
[ "$(bal)" = 495 ] || fail "two nodes paid twice: balance $(bal)"

step "a follow-up whose endorser is offline is retried with backoff until it is back"
hold buyer2   # only the buyer's own node acts for the buyer from here
node seller wallet issue --to "${DID[buyer]}" 100000 >/dev/null   # the title fee and premiums
as buyer title onboard --vin 3HGCM82633A004354 --make Honda --model Fit --year 2021 --agency "${DID[agency]}" >/dev/null
wait_until 20000 is x valid vehicle 3HGCM82633A004354 .title.status
as buyer contract deploy --name insure_rule --file "$CONTRACTS/insure_rule.lua" >/dev/null
as buyer reactor add --topic event.insurance.requested --contract insure_rule >/dev/null
stop_config_node "${N[buyer]}"
valid=$(( $(now_ms) + 86400000 ))
as insurer insurance request --vin 3HGCM82633A004354 --provider "${DID[insurer]}" --policy P-9 --coverage 3000000 --premium 500 --period-ms 600000 --valid-until $valid >/dev/null
stop_config_node "${N[insurer]}"
# Short backoffs, so that the insurer stays down for more attempts than a
# refused follow-up gets (REACTOR_TRIES): a node down for a while is waited
# for (reactor_patience_ms), not given up on.
jq '.reactor_retry_ms = 100 | .endorse_timeout_ms = 300' "${N[buyer]}/node.json" >"$TEST_TMP/nj" && mv "$TEST_TMP/nj" "${N[buyer]}/node.json"
start_config_node "${N[buyer]}"
wait_until 30000 ge 7 reactors buyer retries
[ "$(reactors buyer failed)" = 0 ] || fail "the follow-up was given up after $(reactors buyer retries) retries while the insurer was down"
grep -q "ev=reactor.retry.*insurer" "$TEST_TMP/node2.log" || fail "the retry does not name the offline organisation"
[ "$(vehicle 3HGCM82633A004354 '.insurance.state // "none"')" != active ] || fail "approved without the insurer"
start_config_node "${N[insurer]}"
wait_until 40000 is x active vehicle 3HGCM82633A004354 .insurance.state
note "approved after $(reactors buyer retries) retries once the insurer's node was back"

step "a sale whose settlement needs the agency: with its node down for a while the flow waits, and completes when it returns"
# The seller's and buyer's nodes confirm by a rule (pre-authorised); the
# confirmations need the title agency's endorsement. Nobody types a
# command while the agency is down or after it is back.
for o in seller buyer; do
  as $o contract deploy --name confirm_$o --file "$CONTRACTS/confirm_rule.lua" >/dev/null
  as $o reactor add --topic event.sale.agreed --contract confirm_$o >/dev/null
done
node seller wallet issue --to "${DID[buyer]}" 700000 >/dev/null
stop_config_node "${N[agency]}"
r0=$(reactors buyer retries)
id=$(jf "$(as buyer --json sale request --vin $V1 --price 700000)" .result.id)
wait_until 20000 is x "${DID[seller]} 700000 open" last_offer
as buyer sale accept --vin $V1 --id "$id" >/dev/null
sale_status() { as buyer --json sale show $V1 --id "$id" | jq -r .status; }
# Past the attempts a refused follow-up gets: waiting for the agency, not given up.
wait_until 30000 ge $(( r0 + 7 )) reactors buyer retries
[ "$(sale_status)" = agreed ] || fail "the sale moved without the agency: $(sale_status)"
[ "$(reactors buyer failed)" = 0 ] || fail "a follow-up was given up while the agency was down"
grep -q "ev=reactor.retry.*agency" "$TEST_TMP/node2.log" || fail "the retry does not name the agency"
start_config_node "${N[agency]}"
wait_until 40000 is x settled sale_status
wait_until 30000 is x "${DID[buyer]}" vehicle $V1 .registration.holder
[ "$(vehicle $V1 .owner)" = "${DID[buyer]}" ] || fail "owner: $(vehicle $V1 .owner)"
note "settled and registered to the buyer once the agency's node was back ($(( $(reactors buyer retries) - r0 )) retries by the buyer's node)"

step "a rule of a scheduled time fires once when block time reaches it"
sed "s/did:vl:0000000000000000000000000000000000000000/${DID[seller]}/" "$CONTRACTS/pay_at.lua" >"$TEST_TMP/pay_at.lua"
as buyer contract deploy --name pay_at --file "$TEST_TMP/pay_at.lua" >/dev/null
sbal() { node seller --json wallet balance "${DID[seller]}" | jq -r .balance; }
b0=$(sbal)
at=$(( $(now_ms) + 1500 ))
as buyer reactor add --topic time --at $at --contract pay_at --id payday >/dev/null
# Blocks before and after the time: only a block whose time passes it fires the rule.
until [ "$(now_ms)" -gt $(( at + 200 )) ]; do node seller wallet issue --to "${DID[insurer]}" 1 >/dev/null; done
wait_until 20000 is x $(( b0 + 7 )) sbal
for k in 1 2 3; do node seller wallet issue --to "${DID[insurer]}" 1 >/dev/null; done
stop_config_node "${N[buyer]}"
rm -f "${N[buyer]}/data/reactor.checkpoint"   # the replay passes the time again
start_config_node "${N[buyer]}"
wait_until 20000 all_alive 4
node seller wallet issue --to "${DID[insurer]}" 1 >/dev/null
wait_until 20000 ge 1 reactors buyer already_done
wait_until 20000 is x 0 reactors buyer pending
[ "$(sbal)" = $(( b0 + 7 )) ] || fail "the time rule paid $(( $(sbal) - b0 )) cents, not 7 once"
note "time rule fired once at block time >= $at (a replay from height 0 found it made)"

step "a node given a participant's key later acts on what happened since the participant's rules were stored"
N[late]=${N[insurer]}   # late acts through the insurer organisation's node
DID[late]=$(jf "$(node insurer --json identity new --name late --role owner --out "$TEST_TMP/late.pem")" .did)
as late contract deploy --name tip_late --file "$CONTRACTS/tip_rule.lua" >/dev/null
as late reactor add --topic event.wallet.issued --contract tip_late --match to="${DID[late]}" >/dev/null
node seller wallet issue --to "${DID[late]}" 100 >/dev/null
lbal() { node seller --json wallet balance "${DID[late]}" | jq -r .balance; }
[ "$(lbal)" = 100 ] || fail "a rule ran before any node held its owner's key: balance $(lbal)"
hold insurer late
wait_until 20000 is x 99 lbal
grep -q "mod=reactor ev=replay.identity did=${DID[late]}" "$TEST_TMP/node4.log" || fail "the insurer's node did not replay for the new identity"
note "the insurer's node, given late's key, answered the issue made before"

step "replicas agree; money conserved"
same() { local a b; a=$(nstatus "${N[seller]}" | jq -r .state_hash); for o in "${ORGS[@]}"; do b=$(nstatus "${N[$o]}" | jq -r .state_hash); [ "$a" = "$b" ] || return 1; done; }
wait_until 20000 same
st=$(nstatus "${N[seller]}" --wallets)
[ "$(jf "$st" '.money.wallets == .money.issued - .money.redeemed')" = true ] || fail "money: $(jf "$st" .money)"
for o in "${ORGS[@]}"; do stop_config_node "${N[$o]}"; done
