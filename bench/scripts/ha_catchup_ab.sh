#!/usr/bin/env bash
# Replication A/B between two builds (say main's and a branch's), alternated A B A B:
#
#   bench/scripts/ha_catchup_ab.sh --a /tmp/base --b target/release [--gib 1] [--rounds 2]
#
# Each of --a / --b is a directory holding mqbroker and mqbench.
# 1. Catch-up: build A's master (ASYNC_MASTER, shardCount=2, 1 GiB CommitLog files) is
#    filled with --gib GiB of 4 KiB messages while no slave is connected (mqbench async).
#    Then per round and build: the master is started on that store, its CommitLog files are
#    dropped from the page cache (dd iflag=nocache: O_DIRECT-written data is not cached, and
#    a buffered read of an earlier round must not help a later one), an empty slave is
#    started, and the bytes the master's HA sockets got acknowledged (`ss -ti`, summed over
#    both shards' links) are polled every 50 ms until they stop growing for 2 s. Reported:
#    the time from the first to the last acknowledged byte, MB/s, and the CPU seconds of the
#    master and the slave over that window (/proc/PID/stat utime+stime).
# 2. Send latency: per round, build and role (ASYNC_MASTER, SYNC_MASTER), fresh stores and a
#    connected slave, mqbench produce --mode sync -w 16 -s 1024 --rate RATE for --duration s.
# --extra "key value ..." adds broker properties to both brokers (e.g. "haTransferBatchSize
# 262144"); --catchup 0 skips part 1, --latency 0 part 2; --perf 1 records the master of each catch-up cell
# (perf record -g, LOGS/perf-ROUND-BUILD.data).
# Stores live under --work (default /work/tmp-ha-bench), deleted at the end. Everything binds
# 127.0.0.1 on random free ports; processes are stopped by PID.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

A= B= GIB=1 ROUNDS=2 WORK=/work/tmp-ha-bench DURATION=6 RATE=2000 EXTRA= LATENCY=1 PERF=0 CATCHUP=1
while [ $# -gt 0 ]; do
  case $1 in
    --a) A=$(realpath "$2") ;;
    --b) B=$(realpath "$2") ;;
    --gib) GIB=$2 ;;
    --rounds) ROUNDS=$2 ;;
    --work) WORK=$2 ;;
    --duration) DURATION=$2 ;;
    --rate) RATE=$2 ;;
    --extra) EXTRA=$2 ;;
    --latency) LATENCY=$2 ;;
    --perf) PERF=$2 ;;
    --catchup) CATCHUP=$2 ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2 ;;
  esac
  shift 2
done
[ -x "$A/mqbroker" ] && [ -x "$B/mqbroker" ] || { echo "need --a and --b with mqbroker" >&2; exit 2; }
mkdir -p "$WORK"
LOGS=$WORK/logs
mkdir -p "$LOGS"
MASTER_PID= SLAVE_PID=
stop_pair() {
  if [ -n "$SLAVE_PID" ]; then stop_pid "$SLAVE_PID" 300; SLAVE_PID=; fi
  if [ -n "$MASTER_PID" ]; then stop_pid "$MASTER_PID" 300; MASTER_PID=; fi
}
cleanup() { stop_pair; rm -rf "$WORK/master" "$WORK/slave"; }
trap cleanup EXIT

PORT=
for _ in $(seq 50); do
  PORT=$((20000 + RANDOM % 9000))
  ok=1
  for p in $PORT $((PORT - 2)) $((PORT + 1)) $((PORT + 3)) $((PORT + 4)) $((PORT - 1000)) \
           $((PORT + 10)) $((PORT + 8)) $((PORT + 13)) $((PORT + 14)); do
    if port_open "$p"; then ok=0; fi
  done
  [ $ok = 1 ] && break
  PORT=
done
[ -n "$PORT" ] || { echo "no free ports" >&2; exit 1; }
HA=$((PORT + 1))
NAMESRV=127.0.0.1:$((PORT - 1000))
wait_log() { # file text pid
  for _ in $(seq 600); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { echo "process $3 died; $1:" >&2; tail -20 "$1" >&2; exit 1; }
    sleep 0.1
  done
  echo "no '$2' in $1" >&2; exit 1
}
common=(--bindAddress 127.0.0.1 --brokerName broker-habench --shardCount 2
        --diskSpaceWarningLevelRatio 99 --metricsPromExporterPort 0)
for word in $EXTRA; do
  if [ -z "${key:-}" ]; then key=--$word; else common+=("$key" "$word"); key=; fi
done
start_master() { # bin role log
  RAMJET_LOG=info "$1/mqbroker" --standalone --namesrvPort $((PORT - 1000)) --listenPort "$PORT" \
    --httpPort $((PORT + 3)) --haListenPort "$HA" --storePathRootDir "$WORK/master" \
    --brokerRole "$2" "${common[@]}" > "$3" 2>&1 &
  MASTER_PID=$!
  wait_log "$3" "boot success" "$MASTER_PID"
}
start_slave() { # bin log
  RAMJET_LOG=info "$1/mqbroker" -n "$NAMESRV" --listenPort $((PORT + 10)) --httpPort $((PORT + 13)) \
    --storePathRootDir "$WORK/slave" --brokerRole SLAVE --brokerId 1 \
    --haMasterAddress "127.0.0.1:$HA" "${common[@]}" > "$2" 2>&1 &
  SLAVE_PID=$!
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
acked() { # bytes acknowledged on the master's HA sockets
  ss -tinH state established "( sport = :$HA )" | grep -o 'bytes_acked:[0-9]*' \
    | cut -d: -f2 | awk '{ s += $1 } END { print s + 0 }'
}
now_ms() { date +%s%3N; }
result_field() { grep '^RESULT' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

if [ "$CATCHUP" = 1 ]; then
echo "# fill: $GIB GiB of 4 KiB messages into the master (build A), no slave"
rm -rf "$WORK/master" "$WORK/slave"
start_master "$A" ASYNC_MASTER "$LOGS/fill-master.log"
count=$((GIB * 1024 * 1024 / 4))
"$A/mqbench" produce -n "$NAMESRV" -t HaCatchup --create-topic --queues 8 -s 4096 \
  --mode async -w 256 --connections 2 --count "$count" > "$LOGS/fill.out" 2>&1
grep '^RESULT' "$LOGS/fill.out" || tail -5 "$LOGS/fill.out"
stop_pair
du -sh "$WORK/master"

printf 'round\tbuild\tbytes\tseconds\tMB_per_s\tmaster_cpu_s\tslave_cpu_s\n' > "$LOGS/catchup.tsv"
for round in $(seq "$ROUNDS"); do
  for build in A B; do
    bin=$A; [ $build = B ] && bin=$B
    rm -rf "$WORK/slave"
    start_master "$bin" ASYNC_MASTER "$LOGS/catchup-$round-$build-master.log"
    sleep 5 # reads started by recovery may still land in the page cache after boot
    find "$WORK/master" -type f -size +1M -exec dd if={} iflag=nocache count=0 status=none \;
    find "$WORK/master" -path '*commitlog*' -type f -exec fincore -nb {} + \
      | awk '{ s += $1 } END { printf "# CommitLog bytes in the page cache before catch-up: %d\n", s }' >&2
    start_slave "$bin" "$LOGS/catchup-$round-$build-slave.log"
    m0=$(cpu_ticks "$MASTER_PID") s0=$(cpu_ticks "$SLAVE_PID")
    PERF_PID=
    if [ "$PERF" = 1 ]; then
      perf record -q -g -p "$MASTER_PID" -o "$LOGS/perf-$round-$build.data" 2>/dev/null &
      PERF_PID=$!
    fi
    first= last= prev=0 last_change=$(now_ms)
    while :; do
      sleep 0.05
      value=$(acked) t=$(now_ms)
      if [ "$value" != "$prev" ]; then
        [ -z "$first" ] && [ "$value" -gt 0 ] && first=$t
        prev=$value last=$t last_change=$t
      fi
      if [ -n "$first" ] && [ $((t - last_change)) -gt 2000 ]; then break; fi
      if [ -z "$first" ] && [ $((t - last_change)) -gt 60000 ]; then echo "no HA traffic" >&2; exit 1; fi
    done
    m1=$(cpu_ticks "$MASTER_PID") s1=$(cpu_ticks "$SLAVE_PID")
    if [ -n "$PERF_PID" ]; then kill -INT "$PERF_PID"; wait "$PERF_PID" || true; fi
    # How much of the master's CommitLog the catch-up left in the page cache (buffered reads).
    find "$WORK/master" -path '*commitlog*' -type f -exec fincore -nb {} + \
      | awk -v r="$round" -v b="$build" '{ s += $1 } END { printf "# %s %s master CommitLog bytes in the page cache after catch-up: %d\n", r, b, s }' >&2
    secs=$(awk -v a="$first" -v b="$last" 'BEGIN { printf "%.2f", (b - a) / 1000 }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$build" "$prev" "$secs" \
      "$(awk -v x="$prev" -v s="$secs" 'BEGIN { printf "%.0f", x / 1e6 / s }')" \
      "$(awk -v a="$m0" -v b="$m1" 'BEGIN { printf "%.2f", (b - a) / 100 }')" \
      "$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.2f", (b - a) / 100 }')" | tee -a "$LOGS/catchup.tsv"
    stop_pair
  done
done
fi
rm -rf "$WORK/master" "$WORK/slave"

[ "$LATENCY" = 1 ] || { echo "logs: $LOGS"; exit 0; }
printf 'round\tbuild\trole\ttps\tp50_us\tp99_us\terrors\n' > "$LOGS/latency.tsv"
for round in $(seq "$ROUNDS"); do
  for build in A B; do
    bin=$A; [ $build = B ] && bin=$B
    for role in ASYNC_MASTER SYNC_MASTER; do
      rm -rf "$WORK/master" "$WORK/slave"
      log=$LOGS/latency-$round-$build-$role
      start_master "$bin" "$role" "$log-master.log"
      start_slave "$bin" "$log-slave.log"
      wait_log "$log-slave.log" "boot success" "$SLAVE_PID"
      for _ in $(seq 100); do
        [ "$(grep -c 'HA: slave connected' "$log-master.log")" -ge 2 ] && break
        sleep 0.1
      done
      "$bin/mqbench" produce -n "$NAMESRV" -t Latency1K --create-topic --queues 8 -s 1024 \
        --connections 1 --duration "$DURATION" --warmup 1 --mode sync -w 16 --rate "$RATE" \
        > "$log.out" 2>&1 || tail -5 "$log.out" >&2
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$build" "$role" \
        "$(result_field "$log.out" tps)" "$(result_field "$log.out" p50_us)" \
        "$(result_field "$log.out" p99_us)" "$(result_field "$log.out" errors)" | tee -a "$LOGS/latency.tsv"
      stop_pair
    done
  done
done
echo "logs: $LOGS"
