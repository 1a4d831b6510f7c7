#!/usr/bin/env bash
# bench_transact.sh — starts the demo's five organisations (agency, seller,
# buyer, lender = the bank, insurer; four validators) on 127.0.0.1 and runs
# bench_transact against them: payers at the buyer's node, payees at the
# seller's, money from the bank. Prints each run's RESULT line.
#
#   bench/node/bench_transact.sh [BUILD_DIR] [CLIENTS...]   (default: build 64 8)
#   GATEWAY=I, PAYEE_NODE=J: the payers' and payees' nodes (default 2, the
#   buyer's, a follower; and 1, the seller's, a validator); DURATION=S.
set -euo pipefail
build=${1:-build}; shift || true
clients=("$@"); [ ${#clients[@]} -gt 0 ] || clients=(64 8)
dir=$(mktemp -d "${TMPDIR:-/tmp}/vlbench.XXXXXX")
pids=()
finish() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap finish EXIT
base=$(( 20000 + (RANDOM % 1000) * 16 ))
"$build/sim/vledger-sim" net create --nodes 5 --out "$dir/net" --base-port "$base" \
  --orgs "agency:title_agency+registration_authority+validator,seller:dealer+validator,buyer,lender:lender+issuer+validator,insurer:insurer+validator" >/dev/null
for i in 0 1 2 3 4; do
  "$build/node/vledgerd" --config "$dir/net/node$i/node.json" 2>"$dir/node$i.log" &
  pids+=($!)
done
api() { jq -r .api "$dir/net/node$1/data/endpoints.json" 2>/dev/null; }
for i in 0 1 2 3 4; do
  for _ in $(seq 100); do [ -n "$(api $i)" ] && break; sleep 0.1; done
done
alive() { [ "$("$build/node/cli/vledger" --data "$dir/net/node$1/data" --json status | jq '[.peers[] | select(.state == "alive")] | length')" -ge 4 ]; }
for i in 0 1 2 3 4; do for _ in $(seq 100); do alive $i && break; sleep 0.1; done; done
for k in "${clients[@]}"; do
  "$build/bench/node/bench_transact" --node "$(api "${GATEWAY:-2}")" --payee-node "$(api "${PAYEE_NODE:-1}")" \
    --issuer-node "$(api 3)" --issuer-key "$dir/net/node3/node.key" --clients "$k" --duration "${DURATION:-10}"
done
# Signature checks per committed transaction on each node (the expected
# limit): misses are verifications done, hits the ones the cache saved.
for i in 0 1 2 3 4; do
  "$build/node/cli/vledger" --data "$dir/net/node$i/data" --json status |
    jq -r --arg i "$i" '"node\($i) \(.org.name): height \(.height), txs \(.committed_txs // "?"), sig verifications \(.workers.sigcache_misses), cache hits \(.workers.sigcache_hits)"'
done
