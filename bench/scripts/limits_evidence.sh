#!/usr/bin/env bash
# Evidence for issue 13's caps (docs/limits.md), with the official Java client:
#
# 1. p99 under a connection flood: the Java client (from 127.0.0.1) sends sync 128 B
#    messages with 16 threads, alternately with no flood and while connection_flood.py
#    opens connections from 127.0.0.2 beyond ramjetMaxConnectionsPerClient; one Ramjet
#    broker (--shardCount 2) throughout. Then mqadmin brokerStatus shows the counters.
# 2. Oneway overload: a fresh broker (--shardCount 2, default caps) takes 400,000 oneway
#    128 B sends from 16 threads (`java-bench.sh -m oneway`); `-m stats` then reads what
#    was stored. Prints stored/sent.
#
#   bench/scripts/limits_evidence.sh <anchor dir> <mqbroker> [mqadmin]
#
# <anchor dir> holds java-bench.sh (the Java client bench; its README says how to build it).
# Env: ROUNDS (3), D (measured s, 10), W (warm-up s, 3), CAP (ramjetMaxConnectionsPerClient
# for part 1, 64), PACE (flood connects/s, 1000), COUNT (oneway sends, 400000),
# SKIP_FLOOD=1 / SKIP_ONEWAY=1 to run one part; APACHE=1 also runs part 2 against the
# anchor's Apache RocketMQ 4.9.8 (apache-start.sh, ports 19876/20911) for comparison.
# Ports 21876/21911 on 127.0.0.1 must be free. This box is shared: only same-run
# comparisons count.
set -u
A=${1:?anchor dir}; RJ=${2:?path to mqbroker}
HERE=$(cd "$(dirname "$0")" && pwd)
ADMIN=${3:-$HERE/../../target/debug/mqadmin}
ROUNDS=${ROUNDS:-3}; D=${D:-10}; W=${W:-3}; CAP=${CAP:-64}; PACE=${PACE:-1000}
COUNT=${COUNT:-400000}
NS=127.0.0.1:21876; BROKER=127.0.0.1:21911

start_broker() { # extra args...
  ST=$(mktemp -d /tmp/rj-limits.XXXX)
  $RJ --standalone --namesrvPort 21876 --listenPort 21911 --bindAddress 127.0.0.1 --brokerIP1 127.0.0.1 \
    --storePathRootDir $ST --shardCount 2 "$@" > $ST/b.log 2>&1 &
  P=$!
  for i in $(seq 1 100); do grep -q "boot success" $ST/b.log && break; sleep 0.2; done
  echo "broker pid $P store $ST: $RJ --standalone ... --shardCount 2 $*"
}
# The broker's user+system CPU seconds so far (/proc/<pid>/stat fields 14 and 15).
broker_cpu() { awk -v hz=$(getconf CLK_TCK) '{printf "%.2f", ($14 + $15) / hz}' /proc/$P/stat; }
stop_broker() { kill $P; wait $P 2>/dev/null; cp $ST/b.log /tmp/rj-limits-last-broker.log; rm -rf $ST; }

if [ "${SKIP_FLOOD:-0}" != 1 ]; then
  echo "== 1. sync p99 of a well-behaved client, without and with a connection flood from another address"
  start_broker --ramjetMaxConnectionsPerClient $CAP
  $A/java-bench.sh -n $NS -t Flood128 -m sync -s 128 -w 16 -d 3 -W 1 > /dev/null 2>&1 # topic, JIT
  BENCH="$A/java-bench.sh -n $NS -t Flood128 -m sync -s 128 -w 16 -d $D -W $W"
  echo "client: $BENCH"
  echo "flood:  $HERE/connection_flood.py $BROKER 127.0.0.2 <seconds> $PACE"
  for round in $(seq 1 $ROUNDS); do
    c0=$(broker_cpu)
    r=$($BENCH 2>&1 | grep "^RESULT" | tail -1)
    echo "round $round quiet: $r | broker_cpu_s=$(echo "$(broker_cpu) - $c0" | bc)"
    c0=$(broker_cpu)
    python3 $HERE/connection_flood.py $BROKER 127.0.0.2 $((W + D + 6)) $PACE > $ST/flood.txt 2>&1 &
    F=$!
    sleep 1
    r=$($BENCH 2>&1 | grep "^RESULT" | tail -1)
    wait $F
    echo "round $round flood: $r | broker_cpu_s=$(echo "$(broker_cpu) - $c0" | bc) | $(tail -1 $ST/flood.txt)"
  done
  # What refusing the flood costs the broker alone: CPU over 10 s idle, then 10 s of flood.
  c0=$(broker_cpu); sleep 10
  echo "idle 10 s: broker_cpu_s=$(echo "$(broker_cpu) - $c0" | bc)"
  c0=$(broker_cpu)
  python3 $HERE/connection_flood.py $BROKER 127.0.0.2 10 $PACE > $ST/flood.txt 2>&1
  echo "flood alone 10 s: broker_cpu_s=$(echo "$(broker_cpu) - $c0" | bc) | $(tail -1 $ST/flood.txt)"
  echo "counters (mqadmin brokerStatus -b $BROKER):"
  $ADMIN brokerStatus -b $BROKER 2>&1 | grep -E "ramjet|msgPutTotalTodayNow"
  stop_broker
fi

oneway_overload() { # label namesrv
  local ns=$2
  ONEWAY="$A/java-bench.sh -n $ns -t Oneway128 -m oneway -s 128 -w 16 -c $COUNT -W 0"
  echo "$1 client: $ONEWAY"
  # A client log of its own, to count the writes the Java client itself failed.
  export CLIENT_HOME=$(mktemp -d /tmp/rj-limits-client.XXXX)
  out=$($ONEWAY 2>&1)
  CLOG=$CLIENT_HOME/logs/rocketmqlogs/rocketmq_client.log
  unset CLIENT_HOME
  echo "$out" | grep -E "^measured|^RESULT|last error"
  sent=$(echo "$out" | sed -n 's/^measured \([0-9]*\) ok.*/\1/p' | tail -1)
  prev=-1; stored=0
  for i in $(seq 1 30); do
    stored=$($A/java-bench.sh -n $ns -t Oneway128 -m stats 2>&1 | sed -n 's/^RESULT stats.* stored=\([0-9]*\).*/\1/p')
    [ "$stored" = "$prev" ] && break
    prev=$stored; sleep 2
  done
  echo "$1 stats:  $A/java-bench.sh -n $ns -t Oneway128 -m stats"
  # With -W 0 a thread may send before the bench starts measuring, so stored can pass the
  # measured count by a few (at most about one per thread); stored < sent is a loss.
  echo "$1 ONEWAY sent=$sent (measured) stored=$stored"
  # The Java client closes a connection whose sync request (its heartbeat) timed out, and
  # fails every oneway request still in its own (Netty) buffer: these never reached the
  # socket. Its log has one line per failure, some folded into "Discarded N messages".
  logged=$(grep -c "send a request command to channel" $CLOG)
  disc=$(grep -c "Discarded.*send a request command" $CLOG)
  folded=$(sed -n 's/.*Discarded \([0-9,]*\) messages.*send a request command.*/\1/p' $CLOG | tr -d , | awk '{s+=$1} END {print s+0}')
  echo "$1 client-side write failures (Java client log $CLOG): $((logged - disc + folded)); heartbeat timeouts that closed the connection: $(grep -c 'close socket because of timeout' $CLOG)"
}

if [ "${SKIP_ONEWAY:-0}" != 1 ]; then
  echo "== 2. oneway overload: $COUNT x 128 B, 16 threads"
  start_broker
  oneway_overload ramjet $NS
  $ADMIN brokerStatus -b $BROKER 2>&1 | grep -E "ramjet|msgPutTotalTodayNow"
  stop_broker
fi

if [ "${APACHE:-0}" = 1 ]; then
  echo "== 2b. the same oneway overload against Apache RocketMQ 4.9.8 (anchor, 127.0.0.1:19876)"
  NAMESRV_PORT=19876 BROKER_PORT=20911 STORE=/tmp/apache-limits-store CLEAN=1 $A/apache-start.sh > /tmp/apache-limits-start.log 2>&1
  oneway_overload apache 127.0.0.1:19876
  STORE=/tmp/apache-limits-store $A/apache-stop.sh > /dev/null 2>&1
fi
