#!/usr/bin/env bash
# bench_reactors.sh — reactor follow-ups per second one node sustains: a
# `vledgerd --dev` node on 127.0.0.1; a participant's rule answers every
# "bench.tick" event with a follow-up transaction (burst.lua). The ticks are
# committed while no node holds the participant's key; then the node is
# restarted holding it, replays the blocks and proposes every follow-up
# through the gateway (rule run on a worker, proposal signed, endorsed,
# admitted, committed). Prints the time from the restart until every
# follow-up committed, and follow-ups per second.
#
#   bench/reactors/bench_reactors.sh [BUILD_DIR] [TICKS]   (default: build 2000)
set -euo pipefail
build=${1:-build}; ticks=${2:-2000}
[ "$ticks" -ge 100 ] && [ "$ticks" -le 20000 ] || { echo "TICKS 100-20000" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/vlbench.XXXXXX")
pid=
finish() { [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$dir"; }
trap finish EXIT
VL() { "$build/node/cli/vledger" --data "$dir/data" "$@"; }
now_ms() { date +%s%3N; }
start() {
  "$build/node/vledgerd" --dev --data "$dir/data" "$@" 2>>"$dir/node.log" &
  pid=$!
  for _ in $(seq 100); do VL status >/dev/null 2>&1 && return; sleep 0.1; done
  echo "the node did not start" >&2; exit 1
}
start
did=$(VL --json identity new --name bench --role owner --out "$dir/p.pem" | jq -r .did)
VL --key "$dir/p.pem" contract deploy --name burst --file "$here/burst.lua" >/dev/null
VL --key "$dir/p.pem" reactor add --topic event.bench.tick --contract burst >/dev/null
kill -TERM "$pid"; wait "$pid" || true; pid=
start   # without the participant's key: the ticks wait for its node
for ((from = 0; from < ticks; from += 200)); do
  n=$(( ticks - from < 200 ? ticks - from : 200 ))
  VL --key "$dir/p.pem" contract invoke burst tick "{\"n\":$n,\"from\":$from}" >/dev/null
done
h0=$(VL --json status | jq .height)
kill -TERM "$pid"; wait "$pid" || true; pid=
# The node holds the participant's key from now on: it replays the blocks
# since the participant's rule was stored (its checkpoint did not cover it).
t0=$(now_ms)
start --identity "$dir/p.pem"
done_=0
deadline=$(( t0 + 120000 ))
while [ "$(now_ms)" -lt "$deadline" ]; do
  done_=$(VL --json status | jq '.reactors.done + .reactors.already_done')
  [ "$done_" -ge "$ticks" ] && break
  sleep 0.2
done
t1=$(now_ms)
st=$(VL --json status)
echo "ticks $ticks committed by height $h0; follow-ups done $(jq .reactors.done <<<"$st"), failed $(jq .reactors.failed <<<"$st"), retries $(jq .reactors.retries <<<"$st"), height $(jq .height <<<"$st")"
echo "RESULT follow_ups=$done_ ms=$(( t1 - t0 )) per_s=$(( done_ * 1000 / (t1 - t0 > 0 ? t1 - t0 : 1) ))"
[ "$done_" -ge "$ticks" ]
