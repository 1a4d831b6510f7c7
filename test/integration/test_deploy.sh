#!/usr/bin/env bash
# Deploying as five separate operators would (README, "Deploying"): each
# organisation runs `vledgerd init` in its own directory, on its own
# loopback address (127.0.0.2 .. 127.0.0.6, so a node that dials the wrong
# address fails), and hands over only its public card; the genesis and the
# peers file are built from the cards alone and everyone checks the same
# genesis hash. Checks: the nodes find each other at their advertised
# addresses; transactions commit on all and `vledger verify --peers` agrees
# on every node; the metrics endpoint passes `promtool check metrics` and
# reports status's height; a node started with a foreign genesis (same
# key, another network) is refused by its peers with the reason, logged on
# both sides and counted, and the real node is taken back after; a
# world-readable key, bad node.json values and bad init options are
# refused naming the setting and the fix; the installed service unit.
. "$(dirname "$0")/lib.sh"
: "${VLEDGER_SIM:?VLEDGER_SIM must point at the vledger-sim binary}"
WAIT_POLL_S=0.1

ORGS=(agency seller buyer lender insurer)
declare -A ROLES=([agency]=title_agency+registration_authority [seller]=dealer [buyer]=""
                  [lender]=lender+issuer [insurer]=insurer)
VALIDATORS=agency,seller,buyer,lender
declare -A DIR IP PORT

# A base port whose 4-port block for each organisation is free on its
# address (init cannot know: the operator chooses), below the ephemeral
# range.
free_base() {
  python3 - "$@" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(50):
    base = 10000 + random.randrange(600) * 40
    ok = True
    for i in range(n):
        for p in range(4):
            for host in ("127.0.0.%d" % (i + 2), "127.0.0.1"):
                s = socket.socket()
                try:
                    s.bind((host, base + 10 * i + p))
                except OSError:
                    ok = False
                finally:
                    s.close()
    if ok:
        print(base)
        sys.exit(0)
sys.exit(1)
PY
}
BASE=$(free_base ${#ORGS[@]}) || fail "no free port range"

h() { jq -r .height <<<"$(nstatus "$1")"; }
api() { jq -r .api "$1/data/endpoints.json"; }
alive_peers() { [ "$(nstatus "$1" | jq '[.peers[] | select(.state == "alive" and (has("refused") | not))] | length')" -ge "$2" ]; }
at_height() { local n; for n in "${@:2}"; do [ "$(h "$n")" -ge "$1" ] || return 1; done; }
same_tip() {
  local want; want=$(nstatus "$1" | jq -r '[.height, .last_hash, .state_hash] | @tsv')
  local n; for n in "${@:2}"; do
    [ "$(nstatus "$n" | jq -r '[.height, .last_hash, .state_hash] | @tsv')" = "$want" ] || return 1
  done
}
all_dirs() { local o; for o in "${ORGS[@]}"; do echo "${DIR[$o]}"; done; }
scrape() { python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }
metrics_height_is_status() {
  local url st
  st=$(nstatus "$1")
  url=$(jf "$st" .endpoints.metrics)
  [ "$(scrape "$url" | awk '$1 == "vledger_height" { print $2 }')" = "$(jf "$st" .height)" ]
}
refused_by() {   # refused_by NODEDIR PEERNAME: NODEDIR refuses PEERNAME for its genesis
  nstatus "$1" | jq -e --arg n "$2" '.peers[] | select(.name == $n) | .refused | test("genesis hash differs")'
}
not_refused_alive() {
  nstatus "$1" | jq -e --arg n "$2" '.peers[] | select(.name == $n) | (.state == "alive" and (has("refused") | not))'
}

step "five organisations initialise their nodes, each in its own directory on its own address"
mkdir -p "$TEST_TMP/cards"
i=0
for o in "${ORGS[@]}"; do
  DIR[$o]=$TEST_TMP/$o IP[$o]=127.0.0.$((i + 2)) PORT[$o]=$((BASE + 10 * i))
  out=$("$VLEDGERD" init --org "$o" --roles "${ROLES[$o]}" --data "${DIR[$o]}" \
        --bind "${IP[$o]}" --advertise "${IP[$o]}" --base-port "${PORT[$o]}")
  grep -q "never leaves" <<<"$out" || fail "init said: $out"
  [ "$(stat -c %a "${DIR[$o]}/node.key")" = 600 ] || fail "$o: node.key is not mode 600"
  card=${DIR[$o]}/card.json
  ! grep -q PRIVATE "$card" || fail "$o: the card carries private key material"
  [ "$(jq -r .org "$card")" = "$o" ] || fail "$o: card names another organisation: $(cat "$card")"
  [ "$(jq -r .gossip "$card")" = "tcp://${IP[$o]}:${PORT[$o]}" ] || fail "$o: card endpoint: $(cat "$card")"
  [ "$(jq -r .sync "$card")" = "tcp://${IP[$o]}:$((PORT[$o] + 1))" ] || fail "$o: card sync: $(cat "$card")"
  [ "$(jq -r '.gossip' "${DIR[$o]}/node.json")" = "tcp://${IP[$o]}:${PORT[$o]}" ] || fail "$o: bind: $(cat "${DIR[$o]}/node.json")"
  # Each operator enables its node's metrics on a free local port.
  jq '.metrics = "127.0.0.1:0"' "${DIR[$o]}/node.json" >"$TEST_TMP/n.json" && mv "$TEST_TMP/n.json" "${DIR[$o]}/node.json"
  cp "$card" "$TEST_TMP/cards/$o.json"   # all that leaves the organisation
  i=$((i + 1))
done
expect_fail 1 "refusing to overwrite" "$VLEDGERD" init --org agency --data "${DIR[agency]}"

step "the genesis is built from the cards alone; every organisation checks the same hash"
mkdir -p "$TEST_TMP/ceremony"
cards=(); for o in "${ORGS[@]}"; do cards+=("$TEST_TMP/cards/$o.json"); done
out=$("$VLEDGERD" genesis --card "${cards[@]}" --validators "$VALIDATORS" --out "$TEST_TMP/ceremony/genesis.json")
H=$(awk '$1 == "genesis" && $2 == "hash" { print $3 }' <<<"$out")
[ ${#H} = 64 ] || fail "no genesis hash printed: $out"
G=$TEST_TMP/ceremony/genesis.json
[ "$(jq '.organisations | length' "$G")" = 5 ] && [ "$(jq '.members | length' "$G")" = 5 ] || fail "genesis: $(cat "$G")"
[ "$(jq '[.members[] | select(.validator)] | length' "$G")" = 4 ] || fail "validators: $(cat "$G")"
[ "$(jq -r '.organisations[] | select(.name == "insurer") | .roles | index("validator")' "$G")" = null ] \
  || fail "insurer holds validator: $(cat "$G")"
[ "$(jq -r '.organisations[] | select(.name == "agency") | .roles | join(",")' "$G")" = title_agency,registration_authority,validator ] \
  || fail "agency's roles: $(cat "$G")"
[ "$(jq -r .genesis_hash "$TEST_TMP/ceremony/peers.json")" = "$H" ] || fail "peers.json hash differs"
[ "$(jq '.peers | length' "$TEST_TMP/ceremony/peers.json")" = 5 ] || fail "peers.json: $(cat "$TEST_TMP/ceremony/peers.json")"
for o in "${ORGS[@]}"; do
  cp "$G" "$TEST_TMP/ceremony/peers.json" "${DIR[$o]}/"
  got=$("$VLEDGERD" genesis --show "${DIR[$o]}/genesis.json" | awk '$1 == "genesis" && $2 == "hash" { print $3 }')
  [ "$got" = "$H" ] || fail "$o computes genesis hash $got, the ceremony printed $H"
done
expect_fail 1 "carry the same public key" "$VLEDGERD" genesis --card "${cards[0]}" "${cards[0]}" --out "$TEST_TMP/dup.json"
expect_fail 1 "not the organisation of any card" "$VLEDGERD" genesis --card "${cards[@]}" --validators agency,nobody --out "$TEST_TMP/x.json"
expect_fail 1 "no organisation holds the role validator" "$VLEDGERD" genesis --card "${cards[@]}" --out "$TEST_TMP/x.json"
jq '.did = "did:vl:0000000000000000000000000000000000000000"' "${cards[1]}" >"$TEST_TMP/forged.json"
expect_fail 1 "the card was altered" "$VLEDGERD" genesis --card "$TEST_TMP/forged.json" --out "$TEST_TMP/x.json"

step "each node starts on its own address and they find each other there"
for o in "${ORGS[@]}"; do start_config_node "${DIR[$o]}"; done
for o in "${ORGS[@]}"; do wait_until 20000 alive_peers "${DIR[$o]}" 4; done
for o in "${ORGS[@]}"; do
  st=$(nstatus "${DIR[$o]}")
  [ "$(jf "$st" .genesis_hash)" = "$H" ] || fail "$o runs genesis $(jf "$st" .genesis_hash)"
  [ "$(jf "$st" .endpoints.gossip)" = "tcp://${IP[$o]}:${PORT[$o]}" ] || fail "$o bound $(jf "$st" .endpoints.gossip)"
  [ "$(jf "$st" .endpoints.advertised.gossip)" = "tcp://${IP[$o]}:${PORT[$o]}" ] || fail "$o advertises: $st"
  [ "$(jf "$st" .org.name)" = "$o" ] || fail "$o's node is of organisation $(jf "$st" .org.name)"
  for p in "${ORGS[@]}"; do   # every peer is dialled where its card says
    [ "$p" = "$o" ] && continue
    got=$(jf "$st" ".peers[] | select(.name == \"$p-node\") | .gossip")
    [ "$got" = "tcp://${IP[$p]}:${PORT[$p]}" ] || fail "$o dials $p at '$got'"
  done
done
note "five nodes at 127.0.0.2-6, genesis ${H:0:16}"

step "transactions commit on every node and verify --peers agrees on every node"
mapfile -t ALL < <(all_dirs)
"$VLEDGER_SIM" load --node "$(api "${DIR[buyer]}")" --count 10 --timeout-ms 30000 >/dev/null
wait_until 30000 at_height 1 "${ALL[@]}"
wait_until 30000 same_tip "${ALL[@]}"
for o in "${ORGS[@]}"; do
  out=$("$VLEDGER" --data "${DIR[$o]}/data" verify --peers 2>&1) || fail "$o: verify --peers: $out"
done
note "height $(h "${DIR[agency]}") on all five"

step "the metrics endpoint passes promtool check metrics and reports status's height"
command -v promtool >/dev/null || fail "promtool not found: install Debian's prometheus (scripts/setup --tests)"
for o in agency insurer; do
  url=$(jf "$(nstatus "${DIR[$o]}")" .endpoints.metrics)
  case "$url" in http://127.0.0.1:*/metrics) ;; *) fail "$o: status.endpoints.metrics is '$url'" ;; esac
  scrape "$url" >"$TEST_TMP/$o.prom"
  promtool check metrics <"$TEST_TMP/$o.prom" >"$TEST_TMP/promtool.out" 2>&1 \
    || fail "promtool check metrics on $o: $(cat "$TEST_TMP/promtool.out")"
  for m in vledger_height 'vledger_peers{state="alive"}' vledger_mempool_transactions \
           vledger_committed_blocks_total vledger_committed_transactions_total \
           vledger_commit_latency_seconds_count vledger_endorsements_served_total \
           vledger_endorsements_refused_total 'vledger_gossip_copies_total{kind="duplicate"}' \
           'vledger_gossip_pulls_total{kind="requests"}' vledger_consensus_rounds_total \
           vledger_consensus_timeouts_total; do
    grep -qF "$m " "$TEST_TMP/$o.prom" || fail "$o: no $m in $(cat "$TEST_TMP/$o.prom")"
  done
  wait_until 5000 metrics_height_is_status "${DIR[$o]}"
done
grep -q '^vledger_peers{state="alive"} 4$' "$TEST_TMP/agency.prom" || fail "agency's metrics: not 4 peers alive"
scrape "$(jf "$(nstatus "${DIR[buyer]}")" .endpoints.metrics)" >"$TEST_TMP/buyer.prom"
[ "$(awk '$1 == "vledger_commit_latency_seconds_count" { print $2 }' "$TEST_TMP/buyer.prom")" -ge 10 ] \
  || fail "buyer's node (where the load entered) observed no commit latencies: $(grep latency "$TEST_TMP/buyer.prom")"
[ "$(awk '$1 == "vledger_endorsements_served_total" { print $2 }' "$TEST_TMP/buyer.prom")" -ge 10 ] \
  || fail "buyer's node counted no endorsements"

step "a node started with a foreign genesis is refused by its peers, with the reason, on both sides"
stop_config_node "${DIR[insurer]}"
mkdir -p "$TEST_TMP/foreign" "$TEST_TMP/rogue"
"$VLEDGERD" genesis --card "${cards[@]}" --validators "$VALIDATORS" --chain-id foreign-net \
  --out "$TEST_TMP/foreign/genesis.json" >/dev/null
cp -p "${DIR[insurer]}/node.key" "${DIR[insurer]}/node.json" "$TEST_TMP/rogue/"
cp "$TEST_TMP/foreign/genesis.json" "$TEST_TMP/foreign/peers.json" "$TEST_TMP/rogue/"
start_config_node "$TEST_TMP/rogue"
for o in agency seller buyer lender; do wait_until 20000 refused_by "${DIR[$o]}" insurer-node; done
for o in agency seller; do
  grep -q 'ev=peer.refused .*name=insurer-node reason="genesis hash differs' "$TEST_TMP/$o.log" \
    || fail "$o did not log the refusal with its reason"
done
wait_until 10000 grep -q 'ev=peer.refused .*reason="genesis hash differs' "$TEST_TMP/rogue.log"
[ "$(jf "$(nstatus "${DIR[agency]}")" .gossip.genesis_refused)" -gt 0 ] || fail "refusals not counted"
[ "$(jf "$(nstatus "$TEST_TMP/rogue")" .height)" = 0 ] || fail "the foreign node got blocks"
scrape "$(jf "$(nstatus "${DIR[agency]}")" .endpoints.metrics)" | grep -q '^vledger_peers{state="refused"} 1$' \
  || fail "agency's metrics do not show the refused peer"
base=$(h "${DIR[agency]}")
"$VLEDGER_SIM" load --node "$(api "${DIR[seller]}")" --count 3 --timeout-ms 30000 >/dev/null
wait_until 30000 at_height $((base + 1)) "${DIR[agency]}" "${DIR[seller]}" "${DIR[buyer]}" "${DIR[lender]}"
[ "$(jf "$(nstatus "$TEST_TMP/rogue")" .height)" = 0 ] || fail "the foreign node got blocks"
stop_config_node "$TEST_TMP/rogue"
start_config_node "${DIR[insurer]}"
for o in agency seller buyer lender; do wait_until 20000 not_refused_alive "${DIR[$o]}" insurer-node; done
wait_until 30000 same_tip "${ALL[@]}"

step "a world-readable key is refused, naming the fix"
K=$TEST_TMP/keycheck
mkdir -p "$K"
cp "${DIR[insurer]}/node.json" "${DIR[insurer]}/genesis.json" "${DIR[insurer]}/peers.json" "$K/"
cp "${DIR[insurer]}/node.key" "$K/node.key"
chmod 644 "$K/node.key"
expect_fail 1 "chmod 600 $K/node.key" "$VLEDGERD" --config "$K/node.json"
chmod 640 "$K/node.key"
expect_fail 1 "readable or writable by group or others (mode 0640)" "$VLEDGERD" --config "$K/node.json"
rm "$K/node.key"
expect_fail 1 "cannot open key file $K/node.key" "$VLEDGERD" --config "$K/node.json"

step "bad node.json values are refused, naming the setting"
cp -p "${DIR[insurer]}/node.key" "$K/node.key"
bad() {   # bad TEXT JQ-FILTER: node.json changed by the filter is refused with TEXT
  jq "$2" "$K/node.json" >"$K/bad.json"
  expect_fail 1 "$1" "$VLEDGERD" --config "$K/bad.json"
}
bad "unknown setting 'colour'" '.colour = "red"'
bad "'gossip' must be tcp://HOST:PORT" '.gossip = "127.0.0.6:7100"'
bad "'sync' must be tcp://HOST:PORT" '.sync = "tcp://127.0.0.6:port"'
bad "'api' must be tcp://HOST:PORT" '.api = "http://127.0.0.1:1"'
bad "'advertise' must be the host name" '.advertise = "tcp://127.0.0.6:7100"'
bad "set 'advertise'" '.gossip = "tcp://0.0.0.0:7100" | del(.advertise)'
bad "'metrics' must be IPV4:PORT or PORT" '.metrics = "localhost:http"'
bad "cannot read peers file" '.peers = "nope.json"'
bad "'peers' must be an array" '.peers = 7'
bad "cannot read genesis" '.genesis = "nope.json"'
bad "lists this node's key under organisation 'insurer', but node.json says 'org': 'bank'" '.org = "bank"'
"$VLEDGERD" init --org stranger --data "$TEST_TMP/stranger" --base-port 7100 >/dev/null
"$VLEDGERD" genesis --card "$TEST_TMP/stranger/card.json" --validators stranger --out "$TEST_TMP/stranger/genesis.json" >/dev/null
bad "is not a member of genesis" ".genesis = \"$TEST_TMP/stranger/genesis.json\" | del(.peers)"
bad "was written for genesis" ".genesis = \"$TEST_TMP/foreign/genesis.json\""
used=$(jf "$(nstatus "${DIR[agency]}")" .endpoints.metrics | sed -e 's|^http://||' -e 's|/metrics$||')
bad "cannot serve metrics on $used" ".metrics = \"$used\" | .gossip = \"tcp://127.0.0.6:0\" | .sync = \"tcp://127.0.0.6:0\" | .api = \"tcp://127.0.0.1:0\" | .events = \"tcp://127.0.0.1:0\" | .data = \"data2\""
"$VLEDGERD" --help >"$TEST_TMP/help.txt"
for k in name org data key genesis api events gossip sync advertise peers metrics block_max_txs \
         block_timeout_ms mempool_max_txs gossip_degree gossip_full_mesh_max heartbeat_ms \
         suspect_ms dead_ms endorsement_rules endorse_timeout_ms reactor_retry_ms \
         reactor_patience_ms; do
  grep -qE "^  $k " "$TEST_TMP/help.txt" || fail "vledgerd --help does not document '$k'"
done

step "bad init options are refused, naming them"
expect_fail 2 "unknown role 'pirate'" "$VLEDGERD" init --org x --roles lender+pirate --data "$TEST_TMP/x1"
expect_fail 2 "give --advertise HOST" "$VLEDGERD" init --org x --bind 0.0.0.0 --data "$TEST_TMP/x2"
expect_fail 2 "--advertise' must be the host name" "$VLEDGERD" init --org x --advertise tcp://h:1 --data "$TEST_TMP/x3"
expect_fail 2 "an organisation name is" "$VLEDGERD" init --org "Big Bank" --data "$TEST_TMP/x4"
expect_fail 2 "--base-port must be" "$VLEDGERD" init --org x --base-port 70000 --data "$TEST_TMP/x5"
[ ! -e "$TEST_TMP/x1" ] && [ ! -e "$TEST_TMP/x2" ] || fail "a refused init left a directory behind"

step "the service unit runs one node per directory, restarts on failure, stops with SIGTERM"
if [ -n "${VLEDGER_UNIT:-}" ]; then
  for line in 'ExecStart=.*/vledgerd --config /var/lib/vledger/%i/node.json' '^Restart=on-failure' \
              '^KillSignal=SIGTERM'; do
    grep -qE "$line" "$VLEDGER_UNIT" || fail "$VLEDGER_UNIT lacks $line"
  done
fi
for o in "${ORGS[@]}"; do stop_config_node "${DIR[$o]}"; done
