#!/usr/bin/env bash
# Does the Prometheus exporter cost the hot path anything? mqbench produce, 1 KiB bodies,
# sync, 16 senders, against mqbroker --standalone with metricsExporterType=PROM and with
# DISABLE, alternated (on, off, on, off, ...) in one run on one machine, each round on a
# fresh store. While the exporter is on, /metrics is scraped every --scrape-every seconds
# (default 5, three times Prometheus' default rate), so the figure includes scrapes.
# The per-topic/group counters are always on (they answer the remoting stats codes);
# "off" turns off the exporter only, as an operator would.
#
#   bench/scripts/metrics_overhead.sh [--mqbroker target/release/mqbroker] [--rounds 3]
#
# Options:
#   --mqbroker PATH    default: target/release/mqbroker    --mqbench PATH  default: next to it
#   --rounds N         rounds of each setting (3)         --duration S    measured seconds (15)
#   --warmup S         warm-up seconds (3)                --scrape-every S (5)
#   --results DIR      default: results/metrics-<timestamp> at the repo root (git-ignored)
#   --baseline PATH    also alternate a third setting, "base": this mqbroker binary (e.g. one
#                      built from the commit before the counters), started without the
#                      metrics keys; it measures what the always-on counters cost
#
# Output: each run's mqbench output, raw.tsv (round, setting, tps, p50_us, p99_us) and
# summary.txt (median tps per setting and the on/off ratio). Binds 127.0.0.1 only; stops
# the broker it started by its PID.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MQBROKER=$ROOT/target/release/mqbroker MQBENCH= ROUNDS=3 DURATION=15 WARMUP=3 SCRAPE_EVERY=5
RESULTS=$ROOT/results/metrics-$(date -u +%Y%m%dT%H%M%SZ)
BASELINE=
while [ $# -gt 0 ]; do
  case $1 in
    --mqbroker) MQBROKER=$2 ;;
    --mqbench) MQBENCH=$2 ;;
    --rounds) ROUNDS=$2 ;;
    --duration) DURATION=$2 ;;
    --warmup) WARMUP=$2 ;;
    --scrape-every) SCRAPE_EVERY=$2 ;;
    --results) RESULTS=$2 ;;
    --baseline) BASELINE=$(realpath "$2") ;;
    *) usage ;;
  esac
  shift 2
done
MQBROKER=$(realpath "$MQBROKER")
MQBENCH=$(realpath "${MQBENCH:-$(dirname "$MQBROKER")/mqbench}")
mkdir -p "$RESULTS"
WORK=$(mktemp -d)
BROKER_PID=
cleanup() {
  [ -n "$BROKER_PID" ] && kill -9 "$BROKER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
stop_broker() {
  kill "$BROKER_PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$BROKER_PID" 2>/dev/null || true
  wait "$BROKER_PID" 2>/dev/null || true
  BROKER_PID=
}
scrape() { # port: one GET /metrics over bash's /dev/tcp, body discarded
  exec 4<>"/dev/tcp/127.0.0.1/$1" || return 0
  printf 'GET /metrics HTTP/1.0\r\n\r\n' >&4
  cat <&4 > /dev/null
  exec 4<&-
}

{
  echo "date: $(date -u +%FT%TZ)"
  echo "repo: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
  echo "mqbroker: $MQBROKER; mqbench: $MQBENCH${BASELINE:+; baseline: $BASELINE}"
  echo "host: $(nproc) cores, $(uname -r); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  idle_line
  echo "rounds: $ROUNDS per setting, $DURATION s after $WARMUP s warm-up; scrape every $SCRAPE_EVERY s when on"
} | tee "$RESULTS/machine.txt" >&2
printf 'round\tsetting\ttps\tp50_us\tp99_us\n' > "$RESULTS/raw.tsv"

SETTINGS="on off${BASELINE:+ base}"
for round in $(seq "$ROUNDS"); do
  for setting in $SETTINGS; do
    port=$(free_port); ns_port=$(free_port); metrics_port=$(free_port)
    store=$WORK/store-$round-$setting
    binary=$MQBROKER
    case $setting in
      on) metrics=(--metricsExporterType PROM --metricsPromExporterPort "$metrics_port") ;;
      off) metrics=(--metricsExporterType DISABLE) ;;
      base) metrics=(); binary=$BASELINE ;;
    esac
    "$binary" --standalone --namesrvPort "$ns_port" --listenPort "$port" --bindAddress 127.0.0.1 \
      --brokerIP1 127.0.0.1 --storePathRootDir "$store" "${metrics[@]}" \
      > "$RESULTS/broker-$round-$setting.log" 2>&1 &
    BROKER_PID=$!
    for _ in $(seq 300); do port_open "$port" && break; sleep 0.1; done
    sleep 1 # registration with the in-process name server
    scraper=
    if [ "$setting" = on ]; then
      ( while kill -0 "$BROKER_PID" 2>/dev/null; do scrape "$metrics_port"; sleep "$SCRAPE_EVERY"; done ) &
      scraper=$!
    fi
    out=$RESULTS/$round-$setting.out
    timeout $((DURATION + WARMUP + 60)) "$MQBENCH" produce -n "127.0.0.1:$ns_port" -t MetricsOverhead \
      --create-topic --queues 8 -s 1024 -w 16 --mode sync --connections 1 \
      --duration $((DURATION + WARMUP)) --warmup "$WARMUP" > "$out" 2>&1 || echo "mqbench failed: $out" >&2
    [ -n "$scraper" ] && { kill "$scraper" 2>/dev/null || true; wait "$scraper" 2>/dev/null || true; }
    if [ "$setting" = on ]; then
      scrape "$metrics_port"
    fi
    stop_broker
    rm -rf "$store"
    read -r tps p50 p99 <<< "$(sed -n 's/^RESULT produce tps=\([0-9.]*\).* p50_us=\([0-9.]*\) p99_us=\([0-9.]*\).*/\1 \2 \3/p' "$out" | tail -1 | grep . || echo "- - -")"
    printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$setting" "$tps" "$p50" "$p99" >> "$RESULTS/raw.tsv"
    echo "[$round] metrics $setting: tps=$tps p50_us=$p50 p99_us=$p99" >&2
  done
done

awk -F'\t' 'NR > 1 && $3 != "-" { v[$2] = v[$2] " " $3 }
  function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    on = median(v["on"]); off = median(v["off"])
    printf "tps on:%s\ntps off:%s\nmedian tps on %.0f, off %.0f, on/off %.3f\n", v["on"], v["off"], on, off, (off > 0 ? on / off : 0)
    if (v["base"] != "") {
      base = median(v["base"])
      printf "tps base:%s\nmedian tps base %.0f, on/base %.3f, off/base %.3f\n", v["base"], base, on / base, off / base
    }
  }' "$RESULTS/raw.tsv" | tee "$RESULTS/summary.txt"
