#!/usr/bin/env bash
# A 32-node partial mesh (D = 6, full mesh only up to 12 peers; each node
# is configured with 4 bootstrap peers and learns the rest): every node
# sees the others alive, and every block ordered by node0 reaches all 32
# nodes, which end with the same height and state hash.
. "$(dirname "$0")/lib.sh"

ulimit -n 4096 2>/dev/null || true
NET=$TEST_TMP/net
N=32
# Under the sanitizers (scripts/test --sanitize sets VLEDGER_SANITIZED) each
# process runs ~3x slower and 32 of them share 2 cores: heartbeats every
# 1.5 s (suspect 4.5 s, dead 7.5 s) keep the failure detector from taking a
# starved process for a silent one.
hb=()
[ -z "${VLEDGER_SANITIZED:-}" ] || hb=(--heartbeat-ms 1500)
make_net "$NET" $N --degree 6 --full-mesh-max 12 --bootstrap 4 --block-max-txs 1 "${hb[@]}"

status_all() { local i; for ((i = 0; i < N; i++)); do nstatus "$NET/node$i" | jq -c '{n: .name, h: .height, s: .state_hash, alive: ([.peers[] | select(.state == "alive")] | length), mesh: ([.peers[] | select(.mesh)] | length), g: .gossip}'; done; }
all_alive() { [ "$(status_all | jq -s "map(select(.alive == $((N - 1)))) | length")" = $N ]; }
all_agree() { [ "$(status_all | jq -s "map(select(.h >= $1)) | (length == $N) and ((map(.s) | unique | length) == 1)")" = true ]; }

step "start $N nodes"
WAIT_POLL_S=0.5   # each check below runs 2 x $N processes
t0=$(now_ms)
for ((i = 0; i < N; i++)); do start_config_node "$NET/node$i"; done
wait_until 60000 all_alive
note "all $N nodes see $((N - 1)) peers alive $(( $(now_ms) - t0 )) ms after the first start"
meshes=$(status_all | jq -s 'map(.mesh) | [min, max] | @tsv' -r)
note "mesh sizes (min, max): $meshes"
[ "$(cut -f2 <<<"$meshes")" -le 6 ] || fail "mesh larger than D = 6: $meshes"

step "20 blocks reach all $N nodes"
"$VLEDGER_SIM" load --node "$(jq -r .api "$NET/node7/data/endpoints.json")" --count 20 --timeout-ms 20000 >/dev/null
wait_until 30000 all_agree 20
note "$(status_all | jq -s '{copies_per_block_envelope: ((map(.g.received) | add) / (map(.g.delivered) | add)), pulled: (map(.g.blocks_pulled) | add), rejected: (map(.g.blocks_rejected) | add)}' -c)"
[ "$(status_all | jq -s 'map(.g.blocks_rejected) | add')" = 0 ] || fail "some node rejected a block"

step "stop"
for ((i = 0; i < N; i++)); do stop_config_node "$NET/node$i"; done
