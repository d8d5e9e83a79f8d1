#!/usr/bin/env bash
# Apache RocketMQ 4.9.8 vs Ramjet shardCount=2 with pinned and with unpinned shards
# (ramjetPinShards), all driven by the official Java client, alternated A P U A P U in one run.
#
#   bench/scripts/pinning_vs_apache.sh <anchor dir> <mqbroker>
#
# <anchor dir> holds java-bench.sh, apache-start.sh and apache-stop.sh. Env: D (measured s, 6),
# W (warm-up s, 2). Ports 19876/20911 (Apache) and 21876/21911 (Ramjet) on 127.0.0.1 must be free.
# Prints one line per system and cell: "<system> [<java-bench args>] RESULT produce ...".
set -u
A=${1:?anchor dir}; RJ=${2:?path to mqbroker}
D=${D:-6}; W=${W:-2}
cells=("-m sync -s 1024 -w 1" "-m sync -s 1024 -w 16" "-m sync -s 1024 -w 64" "-m async -s 1024 -i 1024")
run_cells() { # label ns
  for c in "${cells[@]}"; do
    r=$($A/java-bench.sh -n 127.0.0.1:$2 -t T1K $c -d $D -W $W 2>&1 | grep "^RESULT" | tail -1)
    echo "$1 [$c] $r"
  done
}
for round in 1 2; do
  NAMESRV_PORT=19876 BROKER_PORT=20911 STORE=/tmp/apache-store CLEAN=1 $A/apache-start.sh > /tmp/apache-start.log 2>&1
  run_cells apache 19876
  STORE=/tmp/apache-store $A/apache-stop.sh > /dev/null 2>&1
  for pin in true false; do
    ST=$(mktemp -d /tmp/rj-store.XXXX)
    $RJ --standalone --namesrvPort 21876 --listenPort 21911 --bindAddress 127.0.0.1 --brokerIP1 127.0.0.1 \
      --storePathRootDir $ST --shardCount 2 --ramjetPinShards $pin --httpPort 0 --metricsPromExporterPort 0 > $ST/b.log 2>&1 &
    P=$!
    for i in $(seq 1 50); do grep -q "boot success" $ST/b.log && break; sleep 0.2; done
    run_cells ramjet-pin-$pin 21876
    kill $P; wait $P 2>/dev/null; rm -rf $ST
  done
done
