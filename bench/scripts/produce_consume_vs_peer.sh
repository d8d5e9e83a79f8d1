#!/usr/bin/env bash
# Produce and consume throughput and latency: Ramjet's mqbroker next to the peer broker
# (rocketmq-rust 1.0 from crates.io), in the same run on the same machine,
# driven by the same client (mqbench). Absolute figures on a shared machine are noisy;
# the ratios are the result.
#
#   bench/scripts/produce_consume_vs_peer.sh
#
# For each system in turn (never two at once: start it, run every cell, stop it by PID):
#   produce 128 B and 1 KiB, sync with -w 1, 16 and 64 senders, and async (a window of
#   ASYNC_WINDOW requests in flight per connection), DURATION s each after WARMUP s;
#   1 KiB sync -w 1 once more from an OS thread with a blocking socket (the glommio
#   client's own wake-up latency shows at one request in flight);
#   then write a backlog of BACKLOG 1 KiB messages (async batches of BACKLOG_BATCH) and
#   drain it from offset 0.
# Systems: ramjet (mqbroker --standalone as shipped), ramjet-1shard (the same with
# --shardCount 1), peer.
# Topics are created first with QUEUES queues (UPDATE_AND_CREATE_TOPIC) on both systems.
#
# Output: results/<timestamp>/ (RESULTS_DIR) with each cell's full output (.out), its
# percentile distribution (.hgrm) and latency plot (.svg), every RESULT line
# (results.txt, prefixed with system and cell), the server's CPU use per cell, and
# summary.md: the side-by-side table with Ramjet/peer ratios.
#
# PEER_DIR (required with the peer among SYSTEMS): a folder holding start.sh and stop.sh that
# start and stop the peer broker (PEER_BIN, STORE and port variables as they read them).
# Env (otherwise optional): RAMJET_NS_PORT (31876), RAMJET_PORT (31911), PEER_NS_PORT (32876),
# PEER_PORT (32911), PEER_BIN (/tmp/peer/bin), DURATION (10), WARMUP (2), SIZES ("128 1024"),
# SYNC_THREADS ("1 16 64"), ASYNC_WINDOW (256), CONNECTIONS (2 per broker), EXECUTORS (1),
# QUEUES (8), BACKLOG (300000), BACKLOG_BATCH (32), CONSUME_MAX_SECS (60), RAMJET_ARGS (extra mqbroker flags), SYSTEMS
# ("ramjet peer"; add ramjet-1shard for a one-shard broker), RESULTS_DIR
# (results/<timestamp>).
# Servers bind 127.0.0.1 only. Ports are checked free first: glommio listeners use
# SO_REUSEPORT, so a second server on a taken port would start and silently share it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RAMJET_NS_PORT=${RAMJET_NS_PORT:-31876}
RAMJET_PORT=${RAMJET_PORT:-31911}
PEER_NS_PORT=${PEER_NS_PORT:-32876}
PEER_PORT=${PEER_PORT:-32911}
PEER_BIN=${PEER_BIN:-/tmp/peer/bin}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
SIZES=${SIZES:-128 1024}
SYNC_THREADS=${SYNC_THREADS:-1 16 64}
ASYNC_WINDOW=${ASYNC_WINDOW:-256}
CONNECTIONS=${CONNECTIONS:-2}
EXECUTORS=${EXECUTORS:-1}
QUEUES=${QUEUES:-8}
CONSUME_MAX_SECS=${CONSUME_MAX_SECS:-60}
BACKLOG=${BACKLOG:-300000}
BACKLOG_BATCH=${BACKLOG_BATCH:-32}
RAMJET_ARGS=${RAMJET_ARGS:-}
SYSTEMS=${SYSTEMS:-ramjet peer}
case " $SYSTEMS " in
  *" peer "*) [ -n "${PEER_DIR:-}" ] || { echo "set PEER_DIR to the folder with the peer's start.sh and stop.sh" >&2; exit 2; } ;;
esac
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${RESULTS_DIR:-$ROOT/results/$STAMP}
WORK=$(mktemp -d /tmp/produce-consume-vs-peer.XXXXXX)
SERVER_PIDS=()

cleanup() {
  for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -f "$WORK/peer/run/broker.pid" ]; then STORE="$WORK/peer" "$PEER_DIR/stop.sh" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

require_free() {
  for port in "$@"; do
    if port_open "$port"; then echo "port $port on 127.0.0.1 is already in use" >&2; exit 1; fi
  done
}
# CPU seconds (user + system) of the given processes together.
cpu_seconds() {
  local tck total=0
  tck=$(getconf CLK_TCK)
  for pid in "$@"; do
    total=$(awk -v t="$total" -v tck="$tck" '{ printf "%.2f", t + ($14 + $15) / tck }' "/proc/$pid/stat")
  done
  echo "$total"
}

[ -x "$PEER_BIN/rocketmq-broker-rust" ] || [[ " $SYSTEMS " != *" peer "* ]] || {
  echo "missing $PEER_BIN/rocketmq-broker-rust (install it: cargo install --root /tmp/peer rocketmq-broker@1.0.0)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is needed for the summary table" >&2; exit 1; }

cd "$ROOT"
cargo build --release -p ramjet-bench -p ramjet-core >&2
MQBENCH=$ROOT/target/release/mqbench
MQBROKER=$ROOT/target/release/mqbroker
mkdir -p "$OUT"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- core net store bench || echo ' (work tree differs)')"
  echo "host: $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  idle_line
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "cells: DURATION=$DURATION s after WARMUP=$WARMUP s, SIZES=$SIZES, SYNC_THREADS=$SYNC_THREADS," \
       "ASYNC_WINDOW=$ASYNC_WINDOW, CONNECTIONS=$CONNECTIONS per broker, EXECUTORS=$EXECUTORS, QUEUES=$QUEUES," \
       "BACKLOG=$BACKLOG x 1 KiB in batches of $BACKLOG_BATCH"
  echo "peer: rocketmq-namesrv/rocketmq-broker 1.0.0 (crates.io) from $PEER_BIN"
} | tee "$OUT/machine.txt" >&2

# run_cell system namesrv name server-pids... -- mqbench args...
run_cell() {
  local system=$1 name=$2; shift 2
  local pids=() before after
  while [ "$1" != "--" ]; do pids+=("$1"); shift; done
  shift
  before=$(cpu_seconds "${pids[@]}")
  local t0=$SECONDS
  if ! "$MQBENCH" "$@" --hist-out "$OUT/$system-$name.hgrm" --svg-out "$OUT/$system-$name.svg" \
      > "$OUT/$system-$name.out" 2> "$OUT/$system-$name.err"; then
    echo "[$system] $name FAILED:" >&2; tail -5 "$OUT/$system-$name.err" >&2
    echo "$system $name RESULT failed" >> "$OUT/results.txt"
    return 0
  fi
  after=$(cpu_seconds "${pids[@]}")
  local wall=$((SECONDS - t0)) line
  line=$(grep '^RESULT ' "$OUT/$system-$name.out" | tail -1)
  echo "$system $name $line server_cpu_s=$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.2f", a - b }') wall_s=$wall \
client_cpu=$(sed -n 's/^client_cpu=\([0-9.]*\) s.*/\1/p' "$OUT/$system-$name.out")" >> "$OUT/results.txt"
  echo "[$system] $name: $line (server cpu $(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.1f", a - b }') s in ${wall} s)" >&2
}

run_workload() { # system namesrv pids...
  local system=$1 namesrv=$2; shift 2
  local pids=("$@") size threads
  for size in $SIZES; do
    local topic="BenchPC$size"
    for threads in $SYNC_THREADS; do
      run_cell "$system" "produce-$size-sync-w$threads" "${pids[@]}" -- produce -n "$namesrv" \
        -t "$topic" -s "$size" -w "$threads" --mode sync --duration $((DURATION + WARMUP)) \
        --warmup "$WARMUP" --connections "$CONNECTIONS" --executors "$EXECUTORS" \
        --create-topic --queues "$QUEUES"
    done
    run_cell "$system" "produce-$size-async" "${pids[@]}" -- produce -n "$namesrv" -t "$topic" \
      -s "$size" -w "$ASYNC_WINDOW" --mode async --duration $((DURATION + WARMUP)) \
      --warmup "$WARMUP" --connections "$CONNECTIONS" --executors "$EXECUTORS" \
      --create-topic --queues "$QUEUES"
    if [ "$size" = 1024 ]; then
      run_cell "$system" "produce-$size-sync-w1-os" "${pids[@]}" -- produce -n "$namesrv" \
        -t "$topic" -s "$size" -w 1 --mode sync --engine os-threads \
        --duration $((DURATION + WARMUP)) --warmup "$WARMUP" --create-topic --queues "$QUEUES"
    fi
  done
  # The same backlog on every system, written in batches so that a slow broker fills it
  # in seconds too, then drained from offset 0.
  run_cell "$system" "produce-1024-backlog-batch$BACKLOG_BATCH" "${pids[@]}" -- produce \
    -n "$namesrv" -t BenchBacklog -s 1024 -w 64 --mode async --batch "$BACKLOG_BATCH" \
    --count "$BACKLOG" --duration "$CONSUME_MAX_SECS" --connections "$CONNECTIONS" \
    --create-topic --queues "$QUEUES"
  run_cell "$system" "consume-1024-backlog" "${pids[@]}" -- consume -n "$namesrv" \
    -t BenchBacklog -g bench_backlog_consumer --from first --duration "$CONSUME_MAX_SECS" \
    --connections "$CONNECTIONS"
}

for system in $SYSTEMS; do
  case $system in
    ramjet | ramjet-1shard)
      require_free "$RAMJET_NS_PORT" "$RAMJET_PORT" $((RAMJET_PORT - 2))
      extra=$RAMJET_ARGS
      if [ "$system" = ramjet-1shard ]; then extra="$extra --shardCount 1"; fi
      rm -rf "$WORK/ramjet"
      mkdir -p "$WORK/ramjet"
      # shellcheck disable=SC2086 # The extra arguments are a list of flags.
      "$MQBROKER" --standalone --namesrvPort "$RAMJET_NS_PORT" --listenPort "$RAMJET_PORT" \
        --bindAddress 127.0.0.1 --storePathRootDir "$WORK/ramjet/store" $extra \
        > "$OUT/$system-broker.log" 2>&1 < /dev/null &
      pid=$!
      SERVER_PIDS+=("$pid")
      wait_port "$RAMJET_PORT" "$pid" "$OUT/$system-broker.log"
      wait_port "$RAMJET_NS_PORT" "$pid" "$OUT/$system-broker.log"
      # mqbench waits for the broker's registration with the in-process name server.
      echo "$system: mqbroker --standalone$extra pid $pid on 127.0.0.1:$RAMJET_PORT (name server :$RAMJET_NS_PORT)" >&2
      run_workload "$system" "127.0.0.1:$RAMJET_NS_PORT" "$pid"
      stop_pid "$pid"
      ;;
    peer)
      require_free "$PEER_NS_PORT" "$PEER_PORT" $((PEER_PORT - 2)) $((PEER_PORT + 1))
      NAMESRV_PORT=$PEER_NS_PORT BROKER_PORT=$PEER_PORT STORE="$WORK/peer" CLEAN=1 \
        PEER_BIN="$PEER_BIN" "$PEER_DIR/start.sh" >&2
      broker_pid=$(cat "$WORK/peer/run/broker.pid")
      namesrv_pid=$(cat "$WORK/peer/run/namesrv.pid")
      run_workload peer "127.0.0.1:$PEER_NS_PORT" "$broker_pid" "$namesrv_pid"
      STORE="$WORK/peer" "$PEER_DIR/stop.sh" >&2
      cp "$WORK/peer/run/broker.log" "$OUT/peer-broker.log" 2>/dev/null || true
      ;;
    *) echo "unknown system $system" >&2; exit 1 ;;
  esac
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"

python3 - "$OUT" <<'PY'
import os, sys
out = sys.argv[1]
cells, order, systems = {}, [], []
for line in open(os.path.join(out, "results.txt")):
    parts = line.split()
    system, cell = parts[0], parts[1]
    fields = dict(p.split("=", 1) for p in parts[2:] if "=" in p)
    if cell not in order:
        order.append(cell)
    if system not in systems:
        systems.append(system)
    cells.setdefault(cell, {})[system] = fields

def num(fields, key):
    try:
        return float(fields.get(key, "nan"))
    except ValueError:
        return float("nan")

def show(value):
    return "-" if value != value else f"{value:,.0f}"

def ratio(a, b):
    return f"{a / b:.1f}x" if a == a and b == b and b > 0 else "n/a"

def latency(cell, fields):
    keys = ("e2e_p50_us", "e2e_p99_us") if cell.startswith("consume") else ("p50_us", "p99_us", "p999_us")
    return " / ".join(show(num(fields, k)) for k in keys)

def cpu(fields):
    if not fields.get("server_cpu_s"):
        return "-"
    return f"{num(fields, 'server_cpu_s') / max(num(fields, 'wall_s'), 1):.0%}"

ours = [s for s in systems if s != "peer"]
head = ["cell"] + [f"{s} msgs/s" for s in systems]
head += [f"{s}/peer" for s in ours if "peer" in systems]
head += [f"{s} p50 / p99 / p99.9 us" for s in systems] + [f"{s} server CPU" for s in systems]
rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
for cell in order:
    row = [cell] + [show(num(cells[cell].get(s, {}), "tps")) for s in systems]
    if "peer" in systems:
        peer_tps = num(cells[cell].get("peer", {}), "tps")
        row += [ratio(num(cells[cell].get(s, {}), "tps"), peer_tps) for s in ours]
    row += [latency(cell, cells[cell].get(s, {})) for s in systems]
    row += [cpu(cells[cell].get(s, {})) for s in systems]
    rows.append("| " + " | ".join(row) + " |")
machine = open(os.path.join(out, "machine.txt")).read()
text = "# mqbench produce/consume: Ramjet vs peer\n\n```\n" + machine + "```\n\n" + "\n".join(rows) + "\n"
text += ("\nLatencies in microseconds (consume: end to end, send to receipt, which for a backlog "
         "is its age). Server CPU is the broker process (plus the peer's separate name server) "
         "over the cell's wall time, setup included; 100% = one core, the machine has "
         f"{os.cpu_count()}.\n")
open(os.path.join(out, "summary.md"), "w").write(text)
print(text)
PY
echo "results in $OUT" >&2
