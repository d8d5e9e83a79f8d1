#!/usr/bin/env bash
# Two mqbroker binaries (e.g. main's and a branch's) alternated A B A B under mqbench sync
# sends, one fresh standalone broker per cell: msgs/s, p50/p99 and the broker's CPU per
# message (utime+stime of the whole process over the measured seconds).
#
#   bench/scripts/mqbroker_ab.sh <mqbroker A> <mqbroker B> [mqbench]
#
# Env: ROUNDS ("1 2 3"), THREADS (sync senders per cell, "1 16"), DUR (measured s, 6),
# SIZE (1024), PORT (20911; the name server takes PORT-1000, haListenPort PORT+8),
# STORE (/work/tmp/mqbroker-ab, must not be tmpfs), EXTRA (more mqbroker flags).
set -u
A=$(realpath "${1:?mqbroker A}"); B=$(realpath "${2:?mqbroker B}")
Q=$(realpath "${3:-$(dirname "$0")/../../target/release/mqbench}")
ROUNDS=${ROUNDS:-1 2 3}; THREADS=${THREADS:-1 16}; DUR=${DUR:-6}; SIZE=${SIZE:-1024}
PORT=${PORT:-20911}; STORE=${STORE:-/work/tmp/mqbroker-ab}; EXTRA=${EXTRA:-}
NS=127.0.0.1:$((PORT - 1000))
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "A=$A ($(stat -c %y "$A" | cut -d. -f1))"
echo "B=$B ($(stat -c %y "$B" | cut -d. -f1))"
run() { # label binary threads
  rm -rf "$STORE"; mkdir -p "$STORE"
  # shellcheck disable=SC2086
  "$2" --standalone --namesrvPort $((PORT - 1000)) --listenPort "$PORT" --haListenPort $((PORT + 8)) \
    --httpPort 0 --metricsPromExporterPort 0 --bindAddress 127.0.0.1 --storePathRootDir "$STORE" \
    $EXTRA > "$STORE.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do grep -q "boot success" "$STORE.log" && break; sleep 0.1; done
  "$Q" produce -n "$NS" -t MqbrokerAB -s "$SIZE" -w 1 --mode sync --count 20 > /dev/null 2>&1
  local t0 t1 result tps
  t0=$(awk '{print $14 + $15}' /proc/$pid/stat)
  result=$("$Q" produce -n "$NS" -t MqbrokerAB -s "$SIZE" -w "$3" --mode sync --duration "$DUR" 2>&1 | grep '^RESULT')
  t1=$(awk '{print $14 + $15}' /proc/$pid/stat)
  tps=$(sed -n 's/.* tps=\([0-9.]*\).*/\1/p' <<< "$result")
  python3 - "$1" "$3" "$result" "$t0" "$t1" "$tps" "$DUR" "$(getconf CLK_TCK)" <<'PY'
import re, sys
label, threads, result, t0, t1, tps, dur, hz = sys.argv[1:]
field = lambda k: (re.search(rf"\b{k}=([0-9.]+)", result) or [None, "-"])[1]
cpu = (float(t1) - float(t0)) / float(hz) / max(float(tps or 0) * float(dur), 1) * 1e6
print(f"{label} w{threads} tps={field('tps')} p50_us={field('p50_us')} p99_us={field('p99_us')} broker_cpu_us_per_msg={cpu:.1f}")
PY
  kill $pid; wait $pid 2> /dev/null
}
for round in $ROUNDS; do
  for threads in $THREADS; do
    run A "$A" "$threads"
    run B "$B" "$threads"
  done
done
rm -rf "$STORE" "$STORE.log"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
