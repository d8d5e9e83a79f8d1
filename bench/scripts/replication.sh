#!/usr/bin/env bash
# What does replication cost a send? A master (with its slave, both Ramjet, on this
# machine) as ASYNC_MASTER and as SYNC_MASTER, alternated (ASYNC, SYNC, ASYNC, SYNC by
# default), each round on fresh stores, driven by mqbench:
#
#   bench/scripts/replication.sh --mqbroker target/release/mqbroker
#
# Options:
#   --mqbroker PATH   the broker to measure (required); mqbench is taken from next to it
#   --duration S      measured seconds per cell (10)      --warmup S   warm-up (2)
#   --rate N          messages/s of the latency cell (2000): equal load for both roles
#   --rounds "ASYNC_MASTER SYNC_MASTER ..."   the master's role in each round
#   --results DIR     default: results/<timestamp>-replication at the repo root
#
# Cells per round, 1 KiB bodies, one 8-queue topic, shardCount=2 on both brokers:
#   latency:    mqbench produce --mode sync -w 16 --rate N   (p50/p99 at equal load)
#   throughput: mqbench produce --mode async -w 1024          (SYNC_MASTER: every ack means
#               the slave reported the record, so its MB/s is replicated MB/s)
# The master runs --standalone (its name server in-process at listenPort-1000); the slave
# registers there and learns its master's HA address from haMasterAddress. Both bind
# 127.0.0.1 and are stopped by PID. Output: each cell's mqbench output, the logs, raw.tsv
# and table.md in the results folder.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MQBROKER= DURATION=10 WARMUP=2 RATE=2000
ROUNDS="ASYNC_MASTER SYNC_MASTER ASYNC_MASTER SYNC_MASTER"
RESULTS=$ROOT/results/$(date -u +%Y%m%dT%H%M%SZ)-replication
TOPIC=Replication1K
while [ $# -gt 0 ]; do
  case $1 in
    --mqbroker) MQBROKER=$2 ;;
    --duration) DURATION=$2 ;;
    --warmup) WARMUP=$2 ;;
    --rate) RATE=$2 ;;
    --rounds) ROUNDS=$2 ;;
    --results) RESULTS=$2 ;;
    *) usage ;;
  esac
  shift 2
done
[ -n "$MQBROKER" ] || usage
MQBROKER=$(realpath "$MQBROKER")
MQBENCH=$(dirname "$MQBROKER")/mqbench
for file in "$MQBROKER" "$MQBENCH"; do
  [ -x "$file" ] || { echo "not executable: $file" >&2; exit 1; }
done
mkdir -p "$RESULTS"
WORK=$(mktemp -d /tmp/ramjet-replication.XXXXXX)
MASTER_PID= SLAVE_PID=
stop_pair() {
  if [ -n "$SLAVE_PID" ]; then stop_pid "$SLAVE_PID"; SLAVE_PID=; fi
  if [ -n "$MASTER_PID" ]; then stop_pid "$MASTER_PID"; MASTER_PID=; fi
}
cleanup() { stop_pair; rm -rf "$WORK"; }
trap cleanup EXIT

PORT=
for _ in $(seq 50); do
  PORT=$((20000 + RANDOM % 9000))
  # master: P, P-2, HA P+1, name server P-1000; slave: P+10, P+8.
  ports_free "$PORT" $((PORT - 2)) $((PORT + 1)) $((PORT - 1000)) $((PORT + 10)) $((PORT + 8)) && break
  PORT=
done
[ -n "$PORT" ] || { echo "found no free ports" >&2; exit 1; }
NAMESRV=127.0.0.1:$((PORT - 1000))
wait_log() { # file text pid
  for _ in $(seq 300); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { echo "process $3 died; log $1:" >&2; tail -20 "$1" >&2; exit 1; }
    sleep 0.1
  done
  echo "no '$2' in $1 after 30 s" >&2; exit 1
}

result_field() { grep '^RESULT' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
printf 'round\trole\tcell\ttps\tmb_per_s\tp50_us\tp99_us\terrors\n' > "$RESULTS/raw.tsv"
round=0
for role in $ROUNDS; do
  round=$((round + 1))
  rm -rf "$WORK/master" "$WORK/slave"
  common=(--bindAddress 127.0.0.1 --brokerName broker-bench --shardCount 2
          --diskSpaceWarningLevelRatio 99)
  RAMJET_LOG=info "$MQBROKER" --standalone --namesrvPort $((PORT - 1000)) --listenPort "$PORT" \
    --storePathRootDir "$WORK/master" --brokerRole "$role" "${common[@]}" \
    > "$RESULTS/$round-$role-master.log" 2>&1 &
  MASTER_PID=$!
  wait_log "$RESULTS/$round-$role-master.log" "boot success" "$MASTER_PID"
  RAMJET_LOG=info "$MQBROKER" -n "$NAMESRV" --listenPort $((PORT + 10)) \
    --storePathRootDir "$WORK/slave" --brokerRole SLAVE --brokerId 1 \
    --haMasterAddress "127.0.0.1:$((PORT + 1))" "${common[@]}" \
    > "$RESULTS/$round-$role-slave.log" 2>&1 &
  SLAVE_PID=$!
  wait_log "$RESULTS/$round-$role-slave.log" "boot success" "$SLAVE_PID"
  for _ in $(seq 100); do
    [ "$(grep -c 'HA: slave connected' "$RESULTS/$round-$role-master.log")" -ge 2 ] && break
    sleep 0.1
  done
  for cell in latency throughput; do
    case $cell in
      latency) args=(--mode sync -w 16 --rate "$RATE") ;;
      throughput) args=(--mode async -w 1024) ;;
    esac
    out="$RESULTS/$round-$role-$cell.out"
    "$MQBENCH" produce -n "$NAMESRV" -t "$TOPIC" --create-topic --queues 8 -s 1024 \
      --connections 1 --duration "$DURATION" --warmup "$WARMUP" "${args[@]}" > "$out" 2>&1 \
      || { echo "mqbench failed: $out" >&2; tail -5 "$out" >&2; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$role" "$cell" \
      "$(result_field "$out" tps)" "$(result_field "$out" mb_per_s)" \
      "$(result_field "$out" p50_us)" "$(result_field "$out" p99_us)" \
      "$(result_field "$out" errors)" >> "$RESULTS/raw.tsv"
    tail -1 "$RESULTS/raw.tsv"
  done
  stop_pair
done
{
  echo "| round | role | cell | tps | MB/s | p50 us | p99 us | errors |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
  tail -n +2 "$RESULTS/raw.tsv" | awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
} > "$RESULTS/table.md"
cat "$RESULTS/table.md"
echo "results: $RESULTS"
