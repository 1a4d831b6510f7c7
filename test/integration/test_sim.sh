#!/usr/bin/env bash
# vledger-sim run and bench, short: each scenario (load, churn, market,
# sale) and each fault kind (kill, pause, delay, partition, byzantine) once,
# on real vledgerd processes the simulator starts itself, each run ending
# with its invariant checks (exit 0 only when all hold) and its report; a
# replica made to diverge is caught and named; bench ends with its RESULT
# line. Longer runs: README "Simulator".
. "$(dirname "$0")/lib.sh"

: "${VLEDGER_SIM:?VLEDGER_SIM must point at vledger-sim}"
ulimit -n 4096 2>/dev/null || true
export TMPDIR=$TEST_TMP

# sim NAME ARGS... — vledger-sim run with its report in $TEST_TMP/NAME; its
# output in $TEST_TMP/NAME.out; the exit code in $rc.
sim() {
  local name=$1; shift
  rc=0
  "$VLEDGER_SIM" run --report "$TEST_TMP/$name" --vledgerd "${SIM_VLEDGERD:-$VLEDGERD}" "$@" \
    >"$TEST_TMP/$name.out" 2>&1 || rc=$?
  tail -n 4 "$TEST_TMP/$name.out" >&2
}
rj() { jq -r "$2" "$TEST_TMP/$1/report.json"; }
held() {
  [ "$rc" = 0 ] || { tail -n 30 "$TEST_TMP/$1.out" >&2; fail "$1 exited $rc"; }
  [ "$(rj "$1" .invariants.ok)" = true ] || fail "$1: $(rj "$1" '.invariants.violations')"
  [ "$(rj "$1" .state_hashes_equal)" = true ] || fail "$1: state hashes differ"
  [ "$(rj "$1" .committed)" -gt 0 ] || fail "$1 committed nothing"
  [ "$(rj "$1" '[.heights[] | select(. != null)] | unique | length')" = 1 ] ||
    fail "$1: live heights differ: $(rj "$1" .heights)"
  local f; for f in report.md throughput.png latency_cdf.png heights.png throughput.dat; do
    [ -s "$TEST_TMP/$1/$f" ] || fail "$1: no $f in the report"
  done
  note "$1: $(rj "$1" '"\(.committed) committed, \(.tps | floor) tx/s, p99 \(.latency_ms.p99 | floor) ms, \(.faults.injected | length) faults, \(.invalid) invalid"')"
}
injected() {   # injected NAME KIND — the report lists a fault of KIND
  [ "$(rj "$1" "[.faults.injected[] | select(.kind == \"$2\")] | length")" -ge 1 ] ||
    fail "$1: no $2 fault injected: $(rj "$1" .faults.injected)"
}

step "bad arguments are refused with a message"
out=$("$VLEDGER_SIM" run --nodes 5 --scenario auction 2>&1) && fail "unknown scenario accepted"
grep -q "unknown scenario 'auction'" <<<"$out" || fail "message: $out"
out=$("$VLEDGER_SIM" run --nodes 5 --scenario load --faults kill,flood 2>&1) && fail "unknown fault accepted"
grep -q "unknown fault 'flood'" <<<"$out" || fail "message: $out"
out=$("$VLEDGER_SIM" run --nodes 3 --scenario load 2>&1) && fail "3 nodes accepted"
grep -q "at least 5" <<<"$out" || fail "message: $out"
out=$("$VLEDGER_SIM" run --nodes 6 --validators 7 --scenario load 2>&1) && fail "7 of 6 validators accepted"
grep -q "more than --nodes" <<<"$out" || fail "message: $out"

step "load under kill -9, SIGSTOP and message delay/drop: every invariant holds"
sim load --nodes 8 --scenario load --duration 12 --workers 8 --faults kill,pause,delay --seed 3
held load
injected load kill; injected load pause; injected load delay
killed=$(rj load '[.faults.injected[] | select(.kind == "kill") | .nodes[0]][0]')
[ "$(rj load ".per_node[$killed].starts")" -ge 2 ] || fail "killed node$killed was not restarted"
grep -q 'fault: kill -9 node' "$TEST_TMP/load.out" || fail "no progress line for the kill"
grep -Eq '^\[ *[0-9.]+s\] committed [0-9]+ .*heights' "$TEST_TMP/load.out" || fail "no progress line"
[ "$(rj load '.per_node | map(select(.rss_max_mb > 0 and .cpu_s > 0)) | length')" = 8 ] ||
  fail "memory or CPU missing per node: $(rj load .per_node)"

step "the same seed gives the same fault plan"
plan() { "$VLEDGER_SIM" run --plan --nodes 8 --scenario load --duration 12 --faults kill,pause,delay --seed "$1" 2>/dev/null |
         jq -c '[.[] | [.kind, .lane, .planned_start_ms, .planned_end_ms, .nodes]]'; }
[ "$(plan 3)" = "$(rj load '[.faults.injected[] | [.kind, .lane, .planned_start_ms, .planned_end_ms, .nodes]]' | jq -c .)" ] ||
  fail "seed 3 plans differently from its run: $(plan 3)"
[ "$(plan 3)" != "$(plan 4)" ] || fail "seeds 3 and 4 plan the same faults"

step "churn: followers join and leave under a partition"
sim churn --nodes 10 --scenario churn --duration 12 --workers 8 --faults partition --seed 5
held churn
injected churn partition
grep -Eq 'churn: [1-9][0-9]* joins, [0-9]+ leaves' "$TEST_TMP/churn.out" || fail "no churn: $(grep churn: "$TEST_TMP/churn.out")"

step "market under a Byzantine validator or endorser"
sim market --nodes 8 --scenario market --duration 12 --workers 4 --faults byzantine --seed 2
held market
injected market byzantine
[ "$(rj market .invariants.checked.vehicles_checked)" -gt 0 ] || fail "market made no vehicle"

step "the sale through every party's own node, two flows at once, parties' nodes killed -9 on the way"
sim sale --nodes 5 --scenario sale --duration 15 --workers 2 --faults kill --seed 4
held sale
injected sale kill
[ "$(rj sale .invariants.checked.vehicles_checked)" -ge 1 ] || fail "the sale made no vehicle"

step "a replica that diverges is found and named, and the run exits 1"
# Each node's second process folds a wrong state hash into its next block
# (test-only flag): the node the first kill restarts diverges and halts
# loudly; the run must not call that a pass, and must name it.
cat >"$TEST_TMP/vledgerd-skew" <<EOF
#!/usr/bin/env bash
n=\$(cat "\$2.starts" 2>/dev/null || echo 0); echo \$((n + 1)) >"\$2.starts"
[ "\$n" = 0 ] || exec "$VLEDGERD" "\$@" --test-skew-state
exec "$VLEDGERD" "\$@"
EOF
chmod +x "$TEST_TMP/vledgerd-skew"
SIM_VLEDGERD=$TEST_TMP/vledgerd-skew sim skew --nodes 5 --scenario load --duration 10 --workers 4 --faults kill --seed 1
[ "$rc" = 1 ] || fail "a diverged replica passed (exit $rc)"
[ "$(rj skew .invariants.ok)" = false ] || fail "invariants ok with a diverged replica"
victim=$(rj skew '[.faults.injected[] | select(.kind == "kill") | .nodes[0]][0]')
rj skew '.invariants.violations[] | "\(.check) \(.node)"' | grep -q "node$victim\$" ||
  fail "node$victim (restarted diverged) not named: $(rj skew .invariants.violations)"
grep -q '^VIOLATION ' "$TEST_TMP/skew.out" || fail "no VIOLATION line"
note "diverged node$victim: $(rj skew '[.invariants.violations[] | .check] | unique | join(", ")')"

step "bench ends with its RESULT line; --kill measures a validator's kill -9"
out=$("$VLEDGER_SIM" bench --duration 3 --clients 16 --kill --vledgerd "$VLEDGERD" 2>&1) || fail "bench failed: $out"
last=$(tail -n 1 <<<"$out")
grep -Eq '^RESULT tps=[1-9][0-9]* p50_ms=[0-9.]+ p99_ms=[0-9.]+ half_load_tps=[0-9]+ half_load_p99_ms=[0-9.]+$' <<<"$last" ||
  fail "last line: $last"
note "bench (3 s phases, 16 clients): $last"
kill=$(grep '^kill: ' <<<"$out") || fail "no kill line: $out"
# The watch runs past the dead validator's turns; the longest gap is one of
# them: its propose timeout (1 s at round 0) and round 1, without waiting
# out the precommit timeout (0.5 s) after the nil precommits too.
gap=$(sed -nE 's/.* longest gap ([0-9]+) ms .*/\1/p' <<<"$kill")
[ -n "$gap" ] && [ "$gap" -ge 1000 ] && [ "$gap" -lt 1500 ] ||
  fail "the dead proposer's height: $kill"
note "$kill"
