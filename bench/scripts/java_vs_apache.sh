#!/usr/bin/env bash
# Apache RocketMQ 4.9.8 vs Ramjet variants, all driven by the official Java client, alternated
# A R1 R2 A R1 R2 in one run (this kind of machine drifts; only same-run ratios count).
#
#   bench/scripts/java_vs_apache.sh <anchor dir> <mqbroker>
#
# <anchor dir> holds java-bench.sh, apache-start.sh and apache-stop.sh (the Java client bench and
# Apache built from source; its README says how). Env: D (measured s, 8), W (warm-up s, 2),
# VARIANTS: the Ramjet configurations, space separated, each a comma-separated list of
# broker.conf key=value (default "shardCount=1 shardCount=2"); pinned vs unpinned shards is
#   VARIANTS="shardCount=2,ramjetPinShards=true shardCount=2,ramjetPinShards=false"
# Ports 19876/20911 (Apache) and 21876/21911 (Ramjet) on 127.0.0.1 must be free.
# Prints one line per system and cell: "<system> [<java-bench args>] RESULT produce ...".
set -u
A=${1:?anchor dir}; RJ=${2:?path to mqbroker}
D=${D:-8}; W=${W:-2}
VARIANTS=${VARIANTS:-"shardCount=1 shardCount=2"}
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
  for variant in $VARIANTS; do
    flags=()
    IFS=, read -ra pairs <<< "$variant"
    for pair in "${pairs[@]}"; do flags+=("--${pair%%=*}" "${pair#*=}"); done
    ST=$(mktemp -d /tmp/rj-store.XXXX)
    $RJ --standalone --namesrvPort 21876 --listenPort 21911 --bindAddress 127.0.0.1 --brokerIP1 127.0.0.1 \
      --storePathRootDir $ST --httpPort 0 --metricsPromExporterPort 0 "${flags[@]}" > $ST/b.log 2>&1 &
    P=$!
    for i in $(seq 1 50); do grep -q "boot success" $ST/b.log && break; sleep 0.2; done
    run_cells "ramjet[$variant]" 21876
    kill $P; wait $P 2>/dev/null; rm -rf $ST
  done
done
