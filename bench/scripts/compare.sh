#!/usr/bin/env bash
# Ramjet vs Apache RocketMQ 4.9.8 vs the rocketmq-rust peer: one script, one run, one machine,
# the same clients (the official Java client 4.9.8 through the anchor's java-bench.sh, and
# mqbench), systems alternated round by round, each on a fresh store.
#
#   bench/scripts/compare.sh <anchor dir> <peer dir> <ramjet bin dir> [results dir]
#
# <anchor dir>     java-bench.sh, apache-start.sh, apache-stop.sh (Apache + Java client, built)
# <peer dir>       start.sh, stop.sh of the peer (its binaries in PEER_BIN, default /tmp/peer/bin)
# <ramjet bin dir> mqbroker and mqbench (e.g. target/release)
# [results dir]    default results/<UTC timestamp>
#
# Cells (CELLS, space separated; default all of them):
#   j-sync1 j-sync16 j-sync64  Java sync send, 1/16/64 threads, SIZE bytes, W s warm-up + D s
#   j-async                    Java async send, 1024 in flight
#   j-backlog                  Java: async-produce BACKLOG messages (j-fill), then a fresh push
#                              consumer group drains them from the first offset (j-drain)
#   mq-sync1                   mqbench produce, sync, one sender on a blocking connection
#                              (--engine os-threads): the issue's blocking-client p50
#   mq-sync16 mq-async         mqbench produce, sync 16 senders / async 256 in flight x 2 conns
#   mq-backlog                 mqbench: batch-produce BACKLOG (mq-fill), drain from offset 0 (mq-drain)
#   cold                       COLD_N messages written, broker restarted, page cache dropped,
#                              then drained by mqbench (cold-mq) and a Java consumer (cold-j);
#                              dd O_DIRECT of one of the system's CommitLog files is the device
#                              limit measured in the same slot (cold-dd); ratio drain/dd
#   tail                       after the rounds: mqbench async at a fixed --rate (TAIL_RATE, or
#                              half of Ramjet's median mq-async peak) for TAIL_D s, every system
#   store                      after the rounds: mqbench store --record-size 4096 --flush async,
#                              STORE_RUNS runs, each a ratio to raw O_DIRECT on the same disk
# Env: D (6) W (2) ROUNDS (2) SIZE (1024) BACKLOG (100000) COLD_N (3000000) TAIL_D (30)
#      COLD_PULL_BATCH (32, the Java client's pullBatchSize: messages per pull in cold-mq)
#      TAIL_RATE (auto) STORE_RUNS (5) SYSTEMS ("apache peer ramjet") RAMJET_ARGS (extra flags)
#      PEER_BIN (/tmp/peer/bin) PORT_BASE (44000: apache +876/+911, peer +1876/+1911,
#      ramjet +2876/+2911)
# Output: results.txt (one line per measurement), raw logs, *.hgrm, *.svg, results.md, machine.txt.
# Default run time (ROUNDS=2, 3 systems): about 25 minutes on 2 cores (docs/benchmarks.md).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

A=$(cd "${1:?usage: compare.sh <anchor dir> <peer dir> <ramjet bin dir> [results dir]}" && pwd)
PEER_DIR=$(cd "${2:?peer dir}" && pwd)
RJ_BIN=$(cd "${3:?ramjet bin dir}" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${4:-$ROOT/results/$(date -u +%Y%m%dT%H%M%SZ)}
D=${D:-6}; W=${W:-2}; ROUNDS=${ROUNDS:-2}; SIZE=${SIZE:-1024}
BACKLOG=${BACKLOG:-100000}; COLD_N=${COLD_N:-3000000}; COLD_PULL_BATCH=${COLD_PULL_BATCH:-32}
TAIL_D=${TAIL_D:-30}; TAIL_RATE=${TAIL_RATE:-}; STORE_RUNS=${STORE_RUNS:-5}
SYSTEMS=${SYSTEMS:-apache peer ramjet}
CELLS=${CELLS:-j-sync1 j-sync16 j-sync64 j-async j-backlog mq-sync1 mq-sync16 mq-async mq-backlog cold tail store}
PEER_BIN=${PEER_BIN:-/tmp/peer/bin}
RAMJET_ARGS=${RAMJET_ARGS:-}
PORT_BASE=${PORT_BASE:-44000}
MQBENCH=$RJ_BIN/mqbench
WORK=$(mktemp -d /tmp/ramjet-compare.XXXXXX)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RESULTS=$OUT/results.txt
RJ_PID=""
RJ_STARTS=0
TAG="" # extra k=v appended to the next recorded lines

for f in "$A/java-bench.sh" "$A/apache-start.sh" "$A/apache-stop.sh" "$RJ_BIN/mqbroker" "$MQBENCH"; do
  [ -e "$f" ] || { echo "missing $f" >&2; exit 2; }
done
if [[ " $SYSTEMS " == *" peer "* ]] && [ ! -x "$PEER_BIN/rocketmq-broker-rust" ]; then
  echo "peer binaries not in $PEER_BIN: the peer is left out of this run" >&2
  SYSTEMS=$(echo " $SYSTEMS " | sed 's/ peer / /' | xargs)
  echo "peer: not installed in $PEER_BIN, left out" >> "$OUT/machine.txt"
fi
has_cell() { [[ " $CELLS " == *" $1 "* ]]; }
log() { echo "[$(date -u +%T)] $*" >&2; }
ns_port() { case $1 in apache) echo $((PORT_BASE + 876));; peer) echo $((PORT_BASE + 1876));; ramjet) echo $((PORT_BASE + 2876));; esac; }
broker_port() { case $1 in apache) echo $((PORT_BASE + 911));; peer) echo $((PORT_BASE + 1911));; ramjet) echo $((PORT_BASE + 2911));; esac; }

# ---------------------------------------------------------------- systems: start / stop
start_system() { # system clean(0|1)
  local s=$1 clean=$2 ns bp
  ns=$(ns_port "$s"); bp=$(broker_port "$s")
  case $s in
    apache)
      NAMESRV_PORT=$ns BROKER_PORT=$bp STORE=$WORK/apache CLEAN=$clean "$A/apache-start.sh" >> "$OUT/apache-start.log" 2>&1 ;;
    peer)
      NAMESRV_PORT=$ns BROKER_PORT=$bp STORE=$WORK/peer CLEAN=$clean PEER_BIN=$PEER_BIN "$PEER_DIR/start.sh" >> "$OUT/peer-start.log" 2>&1 ;;
    ramjet)
      [ "$clean" = 1 ] && rm -rf "$WORK/ramjet"
      mkdir -p "$WORK/ramjet"
      for p in "$ns" "$bp" $((bp - 2)) $((bp + 1)); do port_open "$p" && { echo "port $p busy" >&2; return 1; }; done
      # shellcheck disable=SC2086 # RAMJET_ARGS is a list of flags
      "$RJ_BIN/mqbroker" --standalone --namesrvPort "$ns" --listenPort "$bp" --haListenPort $((bp + 1)) \
        --bindAddress 127.0.0.1 --brokerIP1 127.0.0.1 --httpPort 0 --metricsPromExporterPort 0 \
        --storePathRootDir "$WORK/ramjet/store" $RAMJET_ARGS \
        > "$WORK/ramjet/broker-$RJ_STARTS.log" 2>&1 < /dev/null &
      RJ_PID=$!
      local blog=$WORK/ramjet/broker-$RJ_STARTS.log
      RJ_STARTS=$((RJ_STARTS + 1))
      for _ in $(seq 300); do
        grep -q "boot success" "$blog" 2>/dev/null && port_open "$bp" && return 0
        kill -0 "$RJ_PID" 2>/dev/null || { tail -5 "$blog" >&2; return 1; }
        sleep 0.1
      done
      return 1 ;;
  esac
}
stop_system() { # system
  case $1 in
    apache) STORE=$WORK/apache "$A/apache-stop.sh" >> "$OUT/apache-start.log" 2>&1 ;;
    peer) STORE=$WORK/peer "$PEER_DIR/stop.sh" >> "$OUT/peer-start.log" 2>&1 ;;
    ramjet)
      [ -n "$RJ_PID" ] || return 0
      kill "$RJ_PID" 2>/dev/null
      for _ in $(seq 100); do kill -0 "$RJ_PID" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$RJ_PID" 2>/dev/null; wait "$RJ_PID" 2>/dev/null; RJ_PID=""
      cat "$WORK"/ramjet/broker-*.log >> "$OUT/ramjet-broker.log" 2>/dev/null; rm -f "$WORK"/ramjet/broker-*.log ;;
  esac
}
broker_pid() { case $1 in apache) cat "$WORK/apache/run/broker.pid";; peer) cat "$WORK/peer/run/broker.pid";; ramjet) echo "$RJ_PID";; esac; }
store_dir() { case $1 in apache) echo "$WORK/apache";; peer) echo "$WORK/peer";; ramjet) echo "$WORK/ramjet/store";; esac; }
cleanup() {
  for s in apache peer; do [ -d "$WORK/$s/run" ] && stop_system "$s" > /dev/null 2>&1; done
  stop_system ramjet
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- measurement helpers
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
record() { # round system cell client log-file [extra k=v...]: appends the RESULT line of the log
  local r=$1 s=$2 c=$3 client=$4 file=$5; shift 5
  local line
  line=$(grep -a '^RESULT ' "$file" 2>/dev/null | tail -1 | cut -d' ' -f3-)
  [ -n "$line" ] || line="failed=1"
  echo "round=$r system=$s cell=$c client=$client $line $* $TAG" >> "$RESULTS"
  log "round $r $s $c: $line $*"
}
java_cell() { # round system cell java-bench args...
  local r=$1 s=$2 c=$3; shift 3
  local f="$OUT/r$r-$s-$c.log" pid t0 t1 w0 w1
  pid=$(broker_pid "$s"); t0=$(cpu_ticks "$pid"); w0=$(date +%s.%N)
  JAVA_OUT=$WORK/javac CLIENT_HOME=$WORK/javahome timeout 600 "$A/java-bench.sh" -n "127.0.0.1:$(ns_port "$s")" "$@" > "$f" 2>&1
  t1=$(cpu_ticks "$pid"); w1=$(date +%s.%N)
  record "$r" "$s" "$c" java "$f" "broker_cpu=$(awk -v a="$t0" -v b="$t1" -v x="$w0" -v y="$w1" -v h="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / h / (y - x) }')"
}
mq_cell() { # round system cell mqbench args...
  local r=$1 s=$2 c=$3; shift 3
  local f="$OUT/r$r-$s-$c.log" pid t0 t1 w0 w1
  pid=$(broker_pid "$s"); t0=$(cpu_ticks "$pid"); w0=$(date +%s.%N)
  timeout 600 "$MQBENCH" "$@" --hist-out "$OUT/r$r-$s-$c.hgrm" > "$f" 2>&1
  t1=$(cpu_ticks "$pid"); w1=$(date +%s.%N)
  record "$r" "$s" "$c" mqbench "$f" "broker_cpu=$(awk -v a="$t0" -v b="$t1" -v x="$w0" -v y="$w1" -v h="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / h / (y - x) }')"
}
drop_caches() { sync; echo 1 > /proc/sys/vm/drop_caches 2>/dev/null || echo "cannot drop caches (not root?)" >&2; }

# ---------------------------------------------------------------- cells of one system slot
warm_cells() { # round system
  local r=$1 s=$2 ns
  ns=127.0.0.1:$(ns_port "$s")
  for t in 1 16 64; do
    has_cell "j-sync$t" && java_cell "$r" "$s" "j-sync$t" -t TJ -m sync -s "$SIZE" -w "$t" -d "$D" -W "$W"
  done
  has_cell j-async && java_cell "$r" "$s" j-async -t TJ -m async -s "$SIZE" -i 1024 -d "$D" -W "$W"
  if has_cell j-backlog; then
    java_cell "$r" "$s" j-fill -t TJB -m async -s "$SIZE" -i 1024 -c "$BACKLOG" -W 0
    # Until idle 10 s rather than -c: a broker may have refused some of the fill (Apache answers
    # SYSTEM_BUSY under load), and the rate is taken from the first to the last message.
    java_cell "$r" "$s" j-drain -t TJB -m consume -g "jdrain_r$r" -I 10 -d 180
  fi
  local common=(-n "$ns" -s "$SIZE" --create-topic --queues 8 --connections 2)
  has_cell mq-sync1 && mq_cell "$r" "$s" mq-sync1 produce -t TM -n "$ns" -s "$SIZE" --create-topic \
    --queues 8 --connections 1 --engine os-threads --mode sync -w 1 --duration $((D + W)) --warmup "$W"
  has_cell mq-sync16 && mq_cell "$r" "$s" mq-sync16 produce -t TM "${common[@]}" --mode sync -w 16 \
    --duration $((D + W)) --warmup "$W"
  has_cell mq-async && mq_cell "$r" "$s" mq-async produce -t TM "${common[@]}" --mode async -w 256 \
    --duration $((D + W)) --warmup "$W"
  if has_cell mq-backlog; then
    mq_cell "$r" "$s" mq-fill produce -t TMB "${common[@]}" --mode async -w 64 --batch 32 --count "$BACKLOG" --duration 180
    mq_cell "$r" "$s" mq-drain consume -n "$ns" -t TMB -g "mqdrain_r$r" --from first --duration 180
  fi
}
cold_cell() { # round system: the broker is running on a fresh store
  local r=$1 s=$2 ns log file mb dd_mbs
  ns=127.0.0.1:$(ns_port "$s")
  mq_cell "$r" "$s" cold-fill produce -n "$ns" -t TC -s "$SIZE" --create-topic --queues 8 --mode async -w 64 \
    --batch 32 --count "$COLD_N" --duration 300
  stop_system "$s"
  start_system "$s" 0 || { log "$s did not restart"; return 1; }
  sleep 2
  # The device limit in the same slot: one of the system's own CommitLog files read with O_DIRECT,
  # as many MiB as the backlog holds (capped by the file's size).
  file=$(find "$(store_dir "$s")" -path '*commitlog*' -type f -size +1M | sort | head -1)
  mb=$(( (COLD_N * (SIZE + 200)) >> 20 ))
  drop_caches
  log=$OUT/r$r-$s-cold-dd.log
  if [ -n "$file" ]; then
    dd if="$file" of=/dev/null bs=1M count="$mb" iflag=direct > "$log" 2>&1
    dd_mbs=$(awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "copied,") t = $(i + 1); if (t > 0) printf "%.1f", $1 / t / 1e6 }' "$log")
  fi
  echo "RESULT dd mb_per_s=${dd_mbs:-0} file=${file##*/}" >> "$log"
  record "$r" "$s" cold-dd dd "$log"
  drop_caches
  mq_cell "$r" "$s" cold-mq consume -n "$ns" -t TC -g "coldmq_r$r" --from first --duration 300 \
    --pull-batch "$COLD_PULL_BATCH"
  drop_caches
  java_cell "$r" "$s" cold-j -t TC -m consume -g "coldj_r$r" -I 10 -d 300
}

# ---------------------------------------------------------------- the run
{
  echo "date: $(date -u +%FT%TZ)"
  echo "ramjet: $RJ_BIN/mqbroker ($(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null) in $ROOT)"
  echo "apache: $A (ANCHOR_LIB ${ANCHOR_LIB:-/tmp/ramjet-anchor}); peer: $PEER_BIN"
  echo "host: $(nproc) cores, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  idle_line
  echo "settings: ROUNDS=$ROUNDS D=$D W=$W SIZE=$SIZE BACKLOG=$BACKLOG COLD_N=$COLD_N TAIL_D=$TAIL_D STORE_RUNS=$STORE_RUNS"
  echo "systems: $SYSTEMS; cells: $CELLS"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  # Brokers refuse writes on a nearly full disk (Ramjet and Apache at 90% used): say so up front.
  echo "disk under $WORK: $(df -h --output=pcent,avail "$WORK" | tail -1 | xargs) (used, free) at start"
} >> "$OUT/machine.txt"
used=$(df --output=pcent "$WORK" | tail -1 | tr -dc 0-9)
[ "$used" -lt 85 ] || echo "WARNING: the disk is ${used}% used; brokers refuse writes at 90%" | tee -a "$OUT/machine.txt" >&2
cat "$OUT/machine.txt" >&2
: > "$RESULTS"
read -r -a order <<< "$SYSTEMS"
for r in $(seq 1 "$ROUNDS"); do
  # Rotate the order each round so that no system always runs first (or after the same one).
  n=${#order[@]}
  for i in $(seq 0 $((n - 1))); do
    s=${order[$(( (i + r - 1) % n ))]}
    log "round $r: $s (load $(cut -d' ' -f1-3 /proc/loadavg))"
    echo "round $r $s start load: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
    if ! start_system "$s" 1; then log "$s failed to start"; echo "round=$r system=$s cell=start failed=1" >> "$RESULTS"; stop_system "$s"; continue; fi
    warm_cells "$r" "$s"
    has_cell cold && cold_cell "$r" "$s"
    stop_system "$s"
    # Keep the Java and peer brokers' own logs (pid files, stdout, generated configs) of this slot.
    [ -d "$WORK/$s/run" ] && cp -r "$WORK/$s/run" "$OUT/r$r-$s-run"
    rm -rf "$(store_dir "$s")"
  done
done

if has_cell tail; then
  rate=$TAIL_RATE
  if [ -z "$rate" ]; then
    rate=$(awk '/system=ramjet cell=mq-async /{ for (i = 1; i <= NF; i++) if ($i ~ /^tps=/) print substr($i, 5) }' "$RESULTS" \
      | sort -n | awk '{ a[NR] = $1 } END { if (NR) printf "%d", a[int((NR + 1) / 2)] / 2 }')
  fi
  if [ -z "$rate" ] || [ "$rate" = 0 ]; then
    log "tail: no rate (set TAIL_RATE or keep the mq-async cell)"
  else
    echo "tail rate: $rate msgs/s (half of Ramjet's median mq-async peak unless TAIL_RATE)" >> "$OUT/machine.txt"
    for r in $(seq 1 "$ROUNDS"); do
      for i in $(seq 0 $((${#order[@]} - 1))); do
        s=${order[$(( (i + r - 1) % ${#order[@]} ))]}
        start_system "$s" 1 || continue
        TAG="rate=$rate" mq_cell "$r" "$s" tail produce -n "127.0.0.1:$(ns_port "$s")" -t TT -s "$SIZE" --create-topic --queues 8 \
          --mode async -w 1024 --connections 2 --rate "$rate" --duration $((TAIL_D + W)) --warmup "$W"
        stop_system "$s"; rm -rf "$(store_dir "$s")"
      done
    done
  fi
fi

if has_cell store; then
  for i in $(seq 1 "$STORE_RUNS"); do
    f=$OUT/store-$i.log
    "$MQBENCH" store --record-size 4096 --flush async --dir "$WORK/mqbench-store" > "$f" 2>&1
    record "$i" ramjet store mqbench "$f"
  done
  rm -rf "$WORK/mqbench-store"
fi

echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
python3 "$ROOT/bench/scripts/compare_report.py" "$OUT" >&2
log "results in $OUT"
