#!/bin/bash
# Oneway flood against one broker: how many of the messages mqbench wrote were stored?
# (docs/limits.md). Needs release mqnamesrv, mqbench and a debug mqadmin in target/.
# usage: oneway_backpressure.sh <mqbroker binary> <label> <sendQueueCapacity>
# prints: <label> cap=<n>: RESULT produce ... stored=<sum of max offsets>
# Compare with mqbench's "sent N messages" line in /tmp/limits-measure-<label>-<cap>/bench.log.
set -u
W=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$1; LABEL=$2; CAP=$3
DIR=/tmp/limits-measure-$LABEL-$CAP
rm -rf $DIR; mkdir -p $DIR
NS_PORT=$((20000 + RANDOM % 10000)); BR_PORT=$((NS_PORT + 5))
$W/target/release/mqnamesrv --listenPort $NS_PORT --bindAddress 127.0.0.1 > $DIR/ns.log 2>&1 &
NS=$!
sleep 1
$BIN --namesrvAddr 127.0.0.1:$NS_PORT --listenPort $BR_PORT --bindAddress 127.0.0.1 --brokerName broker-m \
  --storePathRootDir $DIR/store --shardCount 2 --sendQueueCapacity $CAP > $DIR/broker.log 2>&1 &
BR=$!
for i in $(seq 100); do grep -q "boot success" $DIR/broker.log && break; sleep 0.1; done
$W/target/release/mqbench produce -n 127.0.0.1:$NS_PORT -t Flood --mode oneway -w 4096 --connections 16 --executors 2 \
  --count 400000 -s 128 --create-topic --queues 8 --timeout-ms 60000 > $DIR/bench.log 2>&1
PREV=-1; STORED=0
for i in $(seq 60); do
  sleep 2
  STORED=$($W/target/debug/mqadmin topicStatus -n 127.0.0.1:$NS_PORT -t Flood 2>&1 | awk '/^broker-m/ {s+=$4} END {print s}')
  [ "$STORED" = "$PREV" ] && break
  PREV=$STORED
done
echo "$LABEL cap=$CAP: $(grep RESULT $DIR/bench.log) stored=$STORED"
$W/target/debug/mqadmin topicStatus -n 127.0.0.1:$NS_PORT -t Flood > $DIR/status.txt 2>&1
kill $BR $NS; wait $BR $NS 2>/dev/null
