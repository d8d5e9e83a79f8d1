#!/usr/bin/env bash
# Does a second shard pay? Ramjet's mqbroker with shardCount=1 and shardCount=2, alternated
# (1, 2, 1, 2 by default) on one machine in one run, each time on a fresh store, driven by
# two clients: the official Apache RocketMQ Java client 4.9.8 (the anchor's java-bench.sh)
# and mqbench. Absolute figures on a shared machine drift; the shardCount=2/shardCount=1
# ratios are the result, which is why the two configurations alternate.
#
#   bench/scripts/shard_scaling.sh --mqbroker target/release/mqbroker --anchor <dir>
#
# Options:
#   --mqbroker PATH   the broker to measure (required)
#   --anchor DIR      the folder holding java-bench.sh (required; its README says how to
#                     build the client jars it needs, which it finds through ANCHOR_LIB)
#   --mqbench PATH    default: mqbench next to --mqbroker
#   --duration S      measured seconds per cell (10)      --warmup S   warm-up seconds (3)
#   --rounds "1 2 1 2"  the shardCount of each broker start, in order
#   --connections N   mqbench connections (1: the Java client also opens one per broker)
#   --hop-runs N      cross-shard hop: single-sender runs per shardCount=2 round (6; more
#                     if either kind has fewer than two)
#   --port P          broker listenPort (listenPort-2 and P-1000, the name server, must be
#                     free too); default: a free one picked in 20000-28999
#   --results DIR     default: results/<timestamp> at the repo root (git-ignored)
#   --extra "ARGS"    more mqbroker arguments for every start, e.g.
#                     "--ramjetSpinBeforeParkMicros 50"
#
# Cells per round, 1 KiB bodies, on one 8-queue topic:
#   java-sync-w1/16/64  java-bench.sh -m sync -s 1024 -w N -d D -W W
#   java-async-i1024    java-bench.sh -m async -s 1024 -i 1024 -d D -W W
#   mqbench-sync-w1/16/64, mqbench-async-i1024: mqbench produce, the same shapes
#     (async: 1024 requests in flight per connection).
# Cross-shard hop (shardCount=2 rounds only): single-sender sync p50 when the message's
# queue is owned by the shard that accepted the connection ("local") and by the other one
# ("cross"). The kernel's SO_REUSEPORT hash picks the accepting shard, so neither client
# nor script can choose it. Instead each run sends to a one-queue topic (pinning the queue)
# on a fresh connection, and is classified afterwards from the CPU the broker's two
# executor threads used: a local run keeps one of them busy, a cross run both. The topics
# are picked so that one queue is owned by each shard (owner_shard in core/src/placement.rs:
# CRC32 of the topic plus the queue id, modulo shardCount).
# Interleaved hop (shardCount=2 rounds only): `mqbench hop`, sync sends alternating message
# by message between a queue on each shard over one connection (8 connections in turn), so
# local and cross see the machine at the same moments; see bench/src/hop_bench.rs. In the
# separate runs above, the client also shares a core with a busy shard only in cross runs.
#
# Output in the results folder: each cell's client output (<round>-<shards>-<cell>.out),
# each broker's log, raw.tsv (one line per cell and round), hop.tsv, hop-interleaved.tsv
# and table.md.
# The broker binds 127.0.0.1 only and is stopped by its PID.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MQBROKER= ANCHOR= MQBENCH= PORT= EXTRA=
DURATION=10 WARMUP=3 ROUNDS="1 2 1 2" CONNECTIONS=1 HOP_RUNS=6
RESULTS=$ROOT/results/$(date -u +%Y%m%dT%H%M%SZ)
QUEUES=8
TOPIC=ShardScaling1K
while [ $# -gt 0 ]; do
  case $1 in
    --mqbroker) MQBROKER=$2 ;;
    --anchor) ANCHOR=$2 ;;
    --mqbench) MQBENCH=$2 ;;
    --duration) DURATION=$2 ;;
    --warmup) WARMUP=$2 ;;
    --rounds) ROUNDS=$2 ;;
    --connections) CONNECTIONS=$2 ;;
    --hop-runs) HOP_RUNS=$2 ;;
    --port) PORT=$2 ;;
    --results) RESULTS=$2 ;;
    --extra) EXTRA=$2 ;;
    -h | --help) usage ;;
    *) echo "unknown option $1" >&2; usage ;;
  esac
  shift 2 || usage
done
[ -n "$MQBROKER" ] && [ -n "$ANCHOR" ] || usage
MQBROKER=$(realpath "$MQBROKER")
MQBENCH=$(realpath "${MQBENCH:-$(dirname "$MQBROKER")/mqbench}")
JAVA_BENCH=$(realpath "$ANCHOR")/java-bench.sh
for file in "$MQBROKER" "$MQBENCH" "$JAVA_BENCH"; do
  [ -x "$file" ] || { echo "not an executable: $file" >&2; exit 1; }
done
command -v python3 >/dev/null || { echo "python3 is needed for the table" >&2; exit 1; }

WORK=$(mktemp -d /tmp/shard-scaling.XXXXXX)
BROKER_PID=
cleanup() {
  if [ -n "$BROKER_PID" ]; then stop_pid "$BROKER_PID"; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# The broker listens on listenPort and listenPort-2 (the VIP port); its in-process name
# server gets listenPort-1000.
ports_of() { echo "$1 $(($1 - 2)) $(($1 - 1000))"; }
if [ -z "$PORT" ]; then
  for _ in $(seq 50); do
    PORT=$((20000 + RANDOM % 9000))
    # shellcheck disable=SC2046 # A list of ports.
    ports_free $(ports_of "$PORT") && break
    PORT=
  done
  [ -n "$PORT" ] || { echo "found no free ports" >&2; exit 1; }
fi
NAMESRV=127.0.0.1:$((PORT - 1000))

# CPU ticks (user + system) per broker executor, "name ticks" lines: threads are named
# after their glommio executor (broker-<id>), and an executor's helper thread shares
# its name, so ticks are summed per name.
executor_ticks() {
  local task
  for task in /proc/"$1"/task/*; do
    case $(cat "$task/comm" 2>/dev/null) in
      broker-*) awk -v name="$(cat "$task/comm")" '{ print name, $14 + $15 }' "$task/stat" ;;
    esac
  done | awk '{ ticks[$1] += $2 } END { for (name in ticks) print name, ticks[name] }' | sort
}
result_fields() { # file -> "tps p50 p99" from its RESULT produce line, or "- - -"
  sed -n 's/^RESULT produce tps=\([0-9.]*\).* p50_us=\([0-9.]*\) p99_us=\([0-9.]*\).*/\1 \2 \3/p' "$1" \
    | tail -1 | grep . || echo "- - -"
}

mkdir -p "$RESULTS"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "repo: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- core net store 2>/dev/null || echo ' (work tree differs)')"
  echo "mqbroker: $MQBROKER ($(stat -c %y "$MQBROKER" | cut -d. -f1)); mqbench: $MQBENCH"
  echo "host: $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  idle_line
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "extra mqbroker arguments: ${EXTRA:-none}"
  echo "rounds (shardCount): $ROUNDS; $DURATION s per cell after $WARMUP s warm-up; mqbench connections: $CONNECTIONS"
  echo "broker: 127.0.0.1:$PORT, name server $NAMESRV (standalone, in process)"
} | tee "$RESULTS/machine.txt" >&2
printf 'round\tshards\tclient\tcell\ttps\tp50_us\tp99_us\tbroker_cpu_s\n' > "$RESULTS/raw.tsv"
printf 'round\tshards\ttopic\towner\tkind\ttps\tp50_us\tp99_us\texecutor_ticks\n' > "$RESULTS/hop.tsv"

TCK=$(getconf CLK_TCK)
proc_cpu_s() { awk -v tck="$TCK" '{ printf "%.2f", ($14 + $15) / tck }' "/proc/$1/stat"; }

# run_cell round shards client cell command... : one measurement, its RESULT into raw.tsv.
run_cell() {
  local round=$1 shards=$2 client=$3 cell=$4; shift 4
  local out="$RESULTS/$round-s$shards-$client-$cell.out" before after
  before=$(proc_cpu_s "$BROKER_PID")
  if ! "$@" > "$out" 2>&1; then
    echo "[$round s$shards] $client $cell FAILED, see $out" >&2
  fi
  after=$(proc_cpu_s "$BROKER_PID")
  read -r tps p50 p99 <<< "$(result_fields "$out")"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$shards" "$client" "$cell" "$tps" "$p50" "$p99" \
    "$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.2f", a - b }')" >> "$RESULTS/raw.tsv"
  echo "[$round s$shards] $client $cell: tps=$tps p50_us=$p50 p99_us=$p99" >&2
}

# A client that hangs must not stall the rest of the run.
CELL_TIMEOUT_S=$((DURATION + WARMUP + 90))
java_bench() {
  JAVA_OUT="$WORK/java-classes" CLIENT_HOME="$WORK/java-home" \
    timeout "$CELL_TIMEOUT_S" "$JAVA_BENCH" -n "$NAMESRV" "$@"
}
mqbench_produce() {
  timeout "$CELL_TIMEOUT_S" "$MQBENCH" produce -n "$NAMESRV" -s 1024 --duration $((DURATION + WARMUP)) --warmup "$WARMUP" \
    --connections "$CONNECTIONS" "$@"
}

# One-queue topics whose queue 0 is owned by shard 0 and by shard 1 of two.
hop_topic() { # owner
  python3 - "$1" <<'PY'
import sys, zlib
owner = int(sys.argv[1])
n = 0
while (zlib.crc32(f"ShardHop{n}".encode()) + 0) % 2 != owner:
    n += 1
print(f"ShardHop{n}")
PY
}

# Single-sender sync runs on fresh connections, alternating the owning shard, each
# classified local or cross from the executors' CPU (see the header). A connection lands
# on either shard by chance, so past --hop-runs it goes on (up to three times as many)
# until both kinds have two runs.
run_hop() { # round
  local round=$1 run=0 owner topic before after out kind local_count=0 cross_count=0
  while [ "$run" -lt "$HOP_RUNS" ] \
    || { [ "$run" -lt $((3 * HOP_RUNS)) ] && { [ "$local_count" -lt 2 ] || [ "$cross_count" -lt 2 ]; }; }; do
    run=$((run + 1))
    owner=$((run % 2))
    topic=$(hop_topic "$owner")
    out="$RESULTS/$round-s2-hop-$run.out"
    before=$(executor_ticks "$BROKER_PID")
    CONNECTIONS=1 mqbench_produce -t "$topic" -w 1 --mode sync --create-topic --queues 1 \
      > "$out" 2>&1 \
      || echo "[$round s2] hop run $run FAILED, see $out" >&2
    after=$(executor_ticks "$BROKER_PID")
    # Ticks each executor used during the run; the idle one of a local run stays near 0.
    kind=$(join <(echo "$before") <(echo "$after") | awk '
      { used[NR] = $3 - $2 }
      END {
        if (NR != 2) { print "unknown"; exit }
        busy = used[1] > used[2] ? used[1] : used[2]; idle = used[1] + used[2] - busy
        print (busy > 0 && idle * 5 < busy) ? "local" : "cross"
      }')
    case $kind in local) local_count=$((local_count + 1)) ;; cross) cross_count=$((cross_count + 1)) ;; esac
    read -r tps p50 p99 <<< "$(result_fields "$out")"
    printf '%s\t2\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$topic" "$owner" "$kind" "$tps" "$p50" "$p99" \
      "$(join <(echo "$before") <(echo "$after") | awk '{ printf "%s:%d ", $1, $3 - $2 }')" >> "$RESULTS/hop.tsv"
    echo "[$round s2] hop run $run ($topic, owner shard $owner): $kind p50_us=$p50" >&2
  done
}

# mqbench hop on the running shardCount=2 broker; its RESULT into hop-interleaved.tsv.
run_interleaved_hop() { # round
  local out="$RESULTS/$1-s2-hop-interleaved.out"
  timeout $((8 * (DURATION + WARMUP) + 90)) "$MQBENCH" hop -n "$NAMESRV" --shards 2 -s 1024 \
    --connections 8 --duration "$DURATION" --warmup "$WARMUP" > "$out" 2>&1 \
    || echo "[$1 s2] interleaved hop FAILED, see $out" >&2
  sed -n 's/^RESULT hop hop_us=\([0-9.-]*\) skew_us=\([0-9.-]*\) local_p50_us=\([0-9]*\) cross_p50_us=\([0-9]*\).* clusters=\([0-9]*\).*/\1\t\2\t\3\t\4\t\5/p' "$out" \
    | sed "s/^/$1\t/" >> "$RESULTS/hop-interleaved.tsv"
  echo "[$1 s2] interleaved hop: $(grep '^RESULT' "$out" || echo none)" >&2
}
printf 'round\thop_us\tskew_us\tlocal_p50_us\tcross_p50_us\tclusters\n' > "$RESULTS/hop-interleaved.tsv"

round=0
for shards in $ROUNDS; do
  round=$((round + 1))
  # shellcheck disable=SC2046 # A list of ports.
  ports_free $(ports_of "$PORT") || { echo "ports $(ports_of "$PORT") are not free" >&2; exit 1; }
  store="$WORK/store-$round"
  log="$RESULTS/$round-s$shards-broker.log"
  # shellcheck disable=SC2086 # EXTRA is a list of arguments.
  "$MQBROKER" --standalone --namesrvPort $((PORT - 1000)) --listenPort "$PORT" \
    --bindAddress 127.0.0.1 --brokerIP1 127.0.0.1 --storePathRootDir "$store" \
    --shardCount "$shards" $EXTRA > "$log" 2>&1 < /dev/null &
  BROKER_PID=$!
  wait_port "$PORT" "$BROKER_PID" "$log"
  wait_port $((PORT - 1000)) "$BROKER_PID" "$log"
  echo "round $round: shardCount=$shards, mqbroker pid $BROKER_PID" >&2
  for threads in 1 16 64; do
    run_cell "$round" "$shards" java "sync-w$threads" \
      java_bench -t "$TOPIC" -q "$QUEUES" -m sync -s 1024 -w "$threads" -d "$DURATION" -W "$WARMUP"
  done
  run_cell "$round" "$shards" java async-i1024 \
    java_bench -t "$TOPIC" -q "$QUEUES" -m async -s 1024 -i 1024 -d "$DURATION" -W "$WARMUP"
  for threads in 1 16 64; do
    run_cell "$round" "$shards" mqbench "sync-w$threads" \
      mqbench_produce -t "$TOPIC" --create-topic --queues "$QUEUES" --mode sync -w "$threads"
  done
  run_cell "$round" "$shards" mqbench async-i1024 \
    mqbench_produce -t "$TOPIC" --create-topic --queues "$QUEUES" --mode async -w 1024
  if [ "$shards" = 2 ]; then run_hop "$round"; run_interleaved_hop "$round"; fi
  stop_pid "$BROKER_PID"
  BROKER_PID=
  rm -rf "$store"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RESULTS/machine.txt"

python3 - "$RESULTS" <<'PY'
import csv, os, statistics, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(out, "raw.tsv")), delimiter="\t"))
hops = list(csv.DictReader(open(os.path.join(out, "hop.tsv")), delimiter="\t"))
interleaved = list(csv.DictReader(open(os.path.join(out, "hop-interleaved.tsv")), delimiter="\t"))

def num(text):
    try:
        return float(text)
    except ValueError:
        return None

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

def show(value, digits=0):
    return "-" if value is None else f"{value:,.{digits}f}"

cells = []
for row in rows:
    if (row["client"], row["cell"]) not in cells:
        cells.append((row["client"], row["cell"]))
metrics = ("tps", "p50_us", "p99_us")
head = ["client", "cell"]
for shards in ("1", "2"):
    head += [f"s{shards} msgs/s", f"s{shards} p50 us", f"s{shards} p99 us"]
head += ["msgs/s 2/1", "p50 2/1", "p99 2/1"]
lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
for client, cell in cells:
    runs = {s: [r for r in rows if (r["client"], r["cell"], r["shards"]) == (client, cell, s)]
            for s in ("1", "2")}
    line = [client, cell]
    for shards in ("1", "2"):
        line += [show(median(num(r[m]) for r in runs[shards])) for m in metrics]
    # The k-th shardCount=2 run over the k-th shardCount=1 run (neighbours in time, so
    # the machine's drift mostly cancels), then the median of those ratios.
    for metric in metrics:
        ratios = [num(b[metric]) / num(a[metric]) for a, b in zip(runs["1"], runs["2"])
                  if num(a[metric]) and num(b[metric]) is not None]
        line.append(show(median(ratios), 2))
    lines.append("| " + " | ".join(line) + " |")

hop_lines = ["| cell | local p50 us | cross p50 us | cross - local us | runs local / cross |",
             "|---|---|---|---|---|"]
local = [num(h["p50_us"]) for h in hops if h["kind"] == "local"]
cross = [num(h["p50_us"]) for h in hops if h["kind"] == "cross"]
local_p50, cross_p50 = median(local), median(cross)
difference = cross_p50 - local_p50 if local_p50 is not None and cross_p50 is not None else None
hop_lines.append(f"| mqbench sync -w 1, 1 KiB, shardCount=2 | {show(local_p50)} | {show(cross_p50)} "
                 f"| {show(difference)} | {len(local)} / {len(cross)} |")

hop_lines.append("| mqbench hop (interleaved), 1 KiB, shardCount=2 | "
                 f"{show(median(num(h['local_p50_us']) for h in interleaved))} | "
                 f"{show(median(num(h['cross_p50_us']) for h in interleaved))} | "
                 f"{show(median(num(h['hop_us']) for h in interleaved), 1)} | "
                 f"{len(interleaved)} rounds of 8 connections |")

machine = open(os.path.join(out, "machine.txt")).read()
text = ("# Shard scaling: Ramjet shardCount=2 over shardCount=1\n\n```\n" + machine + "```\n\n"
        + "\n".join(lines) + "\n\n"
        "Absolute columns are medians over the rounds of that shardCount; a 2/1 column is the "
        "median over round pairs (the k-th shardCount=2 round over the k-th shardCount=1 "
        "round) of the ratio. Above 1 is better for msgs/s, worse for latency. Java: the "
        "official Apache RocketMQ 4.9.8 client (one connection per broker); mqbench: "
        "this repo's client.\n\n## Cross-shard hop\n\n" + "\n".join(hop_lines) + "\n\n"
        "Medians of single-sender runs on fresh connections, each sending to a one-queue "
        "topic; local: the queue's owner shard accepted the connection, cross: the other "
        "shard did and forwarded each message (classified from the executors' CPU, see "
        "hop.tsv). The interleaved row alternates the two on each connection "
        "(bench/src/hop_bench.rs; per round in hop-interleaved.tsv), so its difference is "
        "the broker's hop without the client's share of a busy core.\n")
open(os.path.join(out, "table.md"), "w").write(text)
print(text)
PY
echo "results in $RESULTS" >&2
