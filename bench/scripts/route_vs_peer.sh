#!/usr/bin/env bash
# GET_ROUTEINFO_BY_TOPIC rate and latency: Ramjet's mqnamesrv next to the peer name server
# (rocketmq-rust 1.0 from crates.io), measured in the same run on the same
# machine. Absolute figures on a shared machine are noisy; the ratio is the result.
#
#   bench/scripts/route_vs_peer.sh
#
# Env (all optional): RAMJET_PORT (19876), PEER_PORT (19877), PEER_BIN (/tmp/peer/bin),
# CONNECTIONS (64), PIPELINE (4 in flight per connection), THREADS (client threads, 1),
# DURATION (10 s measured), WARMUP (2 s), ROUNDS (3; rounds alternate the two servers, medians are reported),
# RAMJET_SHARDS (0 = one per core), TOPIC (BenchRouteTopic).
#
# Both servers start on 127.0.0.1 with empty state; mqbench registers one 5.x-shaped broker
# serving TOPIC with each (--register-broker), then drives the load. Both are stopped by PID.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RAMJET_PORT=${RAMJET_PORT:-19876}
PEER_PORT=${PEER_PORT:-19877}
PEER_BIN=${PEER_BIN:-/tmp/peer/bin}
CONNECTIONS=${CONNECTIONS:-64}
PIPELINE=${PIPELINE:-4}
THREADS=${THREADS:-1}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-3}
RAMJET_SHARDS=${RAMJET_SHARDS:-0}
TOPIC=${TOPIC:-BenchRouteTopic}
WORK=$(mktemp -d /tmp/route-vs-peer.XXXXXX)
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Ramjet listens with SO_REUSEPORT, so a second server started on the same port by someone
# else would silently take half the connections; make sure the port is only ours.
sole_listener() { # port pid
  command -v ss > /dev/null || return 0
  local others
  others=$(ss -ltnpH "sport = :$1" | grep -v "pid=$2," || true)
  if [ -n "$others" ]; then echo "another process also listens on port $1:" >&2; echo "$others" >&2; exit 1; fi
}
# CPU seconds (user + system) a process has used.
cpu_seconds() {
  awk -v tck="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / tck }' "/proc/$1/stat"
}

[ -x "$PEER_BIN/rocketmq-namesrv-rust" ] || {
  echo "missing $PEER_BIN/rocketmq-namesrv-rust (install it: cargo install --root /tmp/peer rocketmq-namesrv@1.0.0)" >&2; exit 1; }
for port in "$RAMJET_PORT" "$PEER_PORT"; do
  if port_open "$port"; then echo "port $port on 127.0.0.1 is already in use" >&2; exit 1; fi
done

cd "$ROOT"
cargo build --release -p ramjet-namesrv --bin mqnamesrv -p ramjet-bench --bin mqbench >&2
MQBENCH=$ROOT/target/release/mqbench

mkdir -p "$WORK/ramjet" "$WORK/peer/home"
"$ROOT/target/release/mqnamesrv" --bindAddress 127.0.0.1 --listenPort "$RAMJET_PORT" \
  --shardCount "$RAMJET_SHARDS" --kvConfigPath "$WORK/ramjet/kvConfig.json" \
  > "$WORK/ramjet/namesrv.log" 2>&1 < /dev/null &
RAMJET_PID=$!
PIDS+=("$RAMJET_PID")
# The peer namesrv as the peer's own start script starts it, without its broker.
HOME="$WORK/peer/home" ROCKETMQ_HOME="$WORK/peer/home" "$PEER_BIN/rocketmq-namesrv-rust" \
  --listenPort "$PEER_PORT" --bindAddress 127.0.0.1 --rocketmqHome "$WORK/peer/home" \
  --kvConfigPath "$WORK/peer/home/namesrv/kvConfig.json" --log-filter warn \
  > "$WORK/peer/namesrv.log" 2>&1 < /dev/null &
PEER_PID=$!
PIDS+=("$PEER_PID")
wait_port "$RAMJET_PORT" "$RAMJET_PID" "$WORK/ramjet/namesrv.log"
wait_port "$PEER_PORT" "$PEER_PID" "$WORK/peer/namesrv.log"
echo "ramjet mqnamesrv pid $RAMJET_PID on 127.0.0.1:$RAMJET_PORT (shards: $RAMJET_SHARDS, 0 = per core)"
echo "peer rocketmq-namesrv-rust pid $PEER_PID on 127.0.0.1:$PEER_PORT"
echo "host: $(nproc) cores, $(uname -r), commit $(git rev-parse --short HEAD)"
idle_line

run_one() { # name port pid
  local name=$1 port=$2 pid=$3 before after out
  sole_listener "$port" "$pid"
  before=$(cpu_seconds "$pid")
  out=$("$MQBENCH" route -n "127.0.0.1:$port" -t "$TOPIC" -c "$CONNECTIONS" -d "$DURATION" \
    --warmup "$WARMUP" --pipeline "$PIPELINE" --threads "$THREADS" --register-broker)
  after=$(cpu_seconds "$pid")
  echo "$out" | sed "s/^/[$name] /" >&2
  awk -v a="$after" -v b="$before" 'BEGIN { printf "%.2f\n", a - b }' >> "$WORK/$name.cpu"
  echo "[$name] server_cpu=$(tail -1 "$WORK/$name.cpu") s over $((WARMUP + DURATION)) s of load" >&2
  echo "$out" | grep '^RESULT route ' | tail -1 >> "$WORK/$name.results"
}

for round in $(seq "$ROUNDS"); do
  echo "round $round of $ROUNDS" >&2
  run_one ramjet "$RAMJET_PORT" "$RAMJET_PID"
  run_one peer "$PEER_PORT" "$PEER_PID"
done

# The median over rounds of each RESULT field (and of the server CPU per run).
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
median_line() { # file
  local line="RESULT route" key
  for key in rps p50_us p99_us p999_us errors; do
    line="$line $key=$(sed -n "s/.* $key=\([0-9.]*\).*/\1/p" "$1" | median)"
  done
  echo "$line"
}
RAMJET_RESULT=$(median_line "$WORK/ramjet.results")
PEER_RESULT=$(median_line "$WORK/peer.results")
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
RAMJET_CPU=$(median < "$WORK/ramjet.cpu")
PEER_CPU=$(median < "$WORK/peer.cpu")
echo "ramjet: $RAMJET_RESULT server_cpu_s=$RAMJET_CPU"
echo "peer:   $PEER_RESULT server_cpu_s=$PEER_CPU"
awk -v rr="$(field "$RAMJET_RESULT" rps)" -v pr="$(field "$PEER_RESULT" rps)" \
    -v r50="$(field "$RAMJET_RESULT" p50_us)" -v p50="$(field "$PEER_RESULT" p50_us)" \
    -v r99="$(field "$RAMJET_RESULT" p99_us)" -v p99="$(field "$PEER_RESULT" p99_us)" \
    -v r999="$(field "$RAMJET_RESULT" p999_us)" -v p999="$(field "$PEER_RESULT" p999_us)" \
    -v rc="$RAMJET_CPU" -v pc="$PEER_CPU" -v load="$((WARMUP + DURATION))" \
    'function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "n/a" }
     BEGIN { printf "ratio ramjet/peer: rps %s, p50 %s, p99 %s, p999 %s (latency: lower is better)\n",
             ratio(rr, pr), ratio(r50, p50), ratio(r99, p99), ratio(r999, p999)
             # Answers per server CPU-second: what the rate would cost on a dedicated core.
             printf "answers per server CPU-second: ramjet %.0f, peer %.0f, ratio %s\n",
             rr * load / rc, pr * load / pc, ratio(rr / rc, pr / pc) }'
