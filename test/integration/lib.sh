# lib.sh — helpers for integration tests that drive real vledgerd processes
# through the real CLI. Sourced by each test; Meson passes the binaries in
# $VLEDGERD and $VLEDGER. Every wait is bounded (wait_until fails the test
# with a message when its deadline passes); nothing sleeps in place of a
# condition.
#
# Output is TAP (Meson runs these with protocol: 'tap'): each `step TEXT`
# is one case. It is reported `ok N - TEXT` when the next step starts or the
# script ends with status 0, and `not ok N - TEXT` when the script fails
# while it runs (`fail`, or any error under set -e: the EXIT trap sees
# rc != 0); a failure before the first step is the case "before the first
# step". The plan `1..N` comes last. Only lib.sh writes the real stdout
# (kept on fd 3): the script's own stdout goes to stderr, so no output of a
# command can be mistaken for TAP; `note TEXT` puts a "# TEXT" comment line
# into the TAP stream (timings and other results worth reading). On failure
# the last 30 lines of each node log follow on stderr.
set -euo pipefail

exec 3>&1 1>&2
TAP_N=0          # cases reported so far
TAP_STEP=""      # text of the step running now, "" when none is
TEST_TMP=""
declare -A NODE_PID=()

# s_tap_report ok|"not ok" TEXT — one TAP result line ('#' dropped from
# TEXT: TAP would read what follows it as a directive).
s_tap_report() {
  TAP_N=$((TAP_N + 1))
  echo "$1 $TAP_N - ${2//\#/}" >&3
}

cleanup() {
  local rc=$?
  for dir in "${!NODE_PID[@]}"; do
    kill -KILL "${NODE_PID[$dir]}" 2>/dev/null || true
    wait "${NODE_PID[$dir]}" 2>/dev/null || true
  done
  if [ $rc -ne 0 ]; then
    s_tap_report "not ok" "${TAP_STEP:-before the first step}"
    for log in "${TEST_TMP:-/nonexistent}"/*.log; do
      [ -f "$log" ] && { echo "--- $log (last 30 lines)"; tail -n 30 "$log"; }
    done
  elif [ -n "$TAP_STEP" ]; then
    s_tap_report ok "$TAP_STEP"
  fi
  echo "1..$TAP_N" >&3
  [ -z "$TEST_TMP" ] || rm -rf "$TEST_TMP"
  exit $rc
}
trap cleanup EXIT
# A signal (Meson's timeout sends SIGTERM) fails the running step too.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

: "${VLEDGERD:?VLEDGERD must point at the vledgerd binary}"
: "${VLEDGER:?VLEDGER must point at the vledger binary}"

TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/vlit.XXXXXX")

fail() { echo "FAIL: $*" >&2; exit 1; }

# step TEXT — ends the running step (ok) and starts the case TEXT; its
# heading goes to the TAP stream as a comment and to stderr, so the stderr
# log reads in phases too.
step() {
  [ -z "$TAP_STEP" ] || s_tap_report ok "$TAP_STEP"
  TAP_STEP="$*"
  echo "# == $*" >&3
  echo "== $*" >&2
}

# note TEXT — a "# TEXT" comment line (one per line of TEXT) in the TAP stream.
note() {
  local line
  while IFS= read -r line; do echo "# $line" >&3; done <<<"$*"
}

now_ms() { date +%s%3N; }

# wait_until TIMEOUT_MS COMMAND... — polls COMMAND until it succeeds, every
# $WAIT_POLL_S seconds (0.02; a test whose check spawns a process per node
# raises it, so polling does not load the machine it measures).
wait_until() {
  local deadline=$(( $(now_ms) + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(now_ms)" -lt "$deadline" ] || fail "timed out waiting for: $*"
    sleep "${WAIT_POLL_S:-0.02}"
  done
}

# start_node DIR [extra vledgerd args] — a dev node on free loopback ports;
# returns once it answers `status`.
start_node() {
  local dir=$1; shift
  rm -f "$dir/endpoints.json"
  "$VLEDGERD" --dev --data "$dir" "$@" >>"$TEST_TMP/$(basename "$dir").log" 2>&1 &
  NODE_PID[$dir]=$!
  wait_until 10000 test -f "$dir/endpoints.json"
  wait_until 10000 "$VLEDGER" --data "$dir" status
}

# stop_node DIR — SIGTERM and check a clean exit 0.
stop_node() {
  local dir=$1 pid=${NODE_PID[$1]} rc=0
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  unset "NODE_PID[$dir]"
  [ "$rc" -eq 0 ] || fail "vledgerd exited $rc after SIGTERM (expected 0)"
  [ ! -f "$dir/endpoints.json" ] || fail "endpoints.json left behind after a clean stop"
}

# kill_node DIR — SIGKILL, no clean-up.
kill_node() {
  local dir=$1 pid=${NODE_PID[$1]}
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  unset "NODE_PID[$dir]"
}

# expect_fail EXIT_CODE TEXT COMMAND... — COMMAND must exit EXIT_CODE and
# print TEXT (a substring) on stdout or stderr.
expect_fail() {
  local want=$1 text=$2; shift 2
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  [ "$rc" -eq "$want" ] || fail "expected exit $want from '$*', got $rc: $out"
  case "$out" in
    *"$text"*) ;;
    *) fail "expected '$text' in output of '$*', got: $out" ;;
  esac
}

# json_field JSON FILTER — jq -r over a JSON text.
jf() { jq -r "$2" <<<"$1"; }

# --- Networks written by `vledger-sim net create` (gossip tests) -----------

# start_config_node NODEDIR — `vledgerd --config NODEDIR/node.json`; returns
# once the node has written NODEDIR/data/endpoints.json (it then serves).
start_config_node() {
  local dir=$1; shift
  rm -f "$dir/data/endpoints.json"
  "$VLEDGERD" --config "$dir/node.json" "$@" >>"$TEST_TMP/$(basename "$dir").log" 2>&1 &
  NODE_PID[$dir]=$!
  wait_until 20000 test -f "$dir/data/endpoints.json"
}

# stop_config_node NODEDIR — SIGTERM and check a clean exit 0.
stop_config_node() {
  local dir=$1 pid=${NODE_PID[$1]} rc=0
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  unset "NODE_PID[$dir]"
  [ "$rc" -eq 0 ] || fail "vledgerd ($dir) exited $rc after SIGTERM (expected 0)"
}

# nstatus NODEDIR — the node's status JSON.
nstatus() { local d=$1; shift; "$VLEDGER" --data "$d/data" --json status "$@"; }

# make_net DIR NODES [net create options...] — a network on a random free
# port range (net create checks the ports; retried a few times), below the
# ephemeral range (32768-60999 on Linux), where a node's own outgoing
# connections could take a configured port between `net create` and the
# bind.
make_net() {
  local dir=$1 nodes=$2; shift 2
  : "${VLEDGER_SIM:?VLEDGER_SIM must point at the vledger-sim binary}"
  local try
  for try in 1 2 3 4 5; do
    local base=$(( 10000 + (RANDOM % 700) * 32 ))
    rm -rf "$dir"
    "$VLEDGER_SIM" net create --nodes "$nodes" --out "$dir" --base-port "$base" "$@" \
      >"$TEST_TMP/net-create.out" 2>&1 && return 0
  done
  cat "$TEST_TMP/net-create.out" >&2
  fail "vledger-sim net create failed"
}
