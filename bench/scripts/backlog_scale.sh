#!/usr/bin/env bash
# Backlog at scale: does Ramjet keep its send rate and its memory flat while a backlog of N
# messages builds up, and how fast does a consumer read it back from offset 0?
#
#   bench/scripts/backlog_scale.sh <ramjet bin dir> [N]
#
# Starts <bin>/mqbroker --standalone on a fresh store, fills topic TBacklogScale with N
# messages of BODY bytes (mqbench produce async, batches of BATCH, WINDOW in flight per
# connection), sampling every SAMPLE s into samples.csv: elapsed s, phase, client msgs/s over
# the interval, the broker's VmRSS / RssAnon / RssFile (kB, /proc/PID/status) and the store's
# disk use. Then a fresh group drains the topic from offset 0 (mqbench consume), sampled the
# same way. Writes results.md (send msgs/s at the start vs at N, RSS at the start vs at N,
# drain msgs/s) under RESULTS_DIR and deletes the store.
#
# Env: N (100000000; or the 2nd argument) BODY (1024) BATCH (32) WINDOW (64) SAMPLE (5)
#      STORE_PARENT (/tmp: the store goes in a fresh directory there) PORT_BASE (47000)
#      RAMJET_ARGS (extra mqbroker flags) RESULTS_DIR (results/<timestamp>-backlog-scale)
# The disk is checked first: the run refuses to start when the estimated store size
# (N x (BODY + 240) bytes: the CommitLog record with its header and mqbench's properties, and
# the 20-byte ConsumeQueue entry; plus a preallocated 1 GiB CommitLog file per core) exceeds the free space minus 10 GB.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
RJ_BIN=$(cd "${1:?usage: backlog_scale.sh <ramjet bin dir> [N]}" && pwd)
N=${2:-${N:-100000000}}
BODY=${BODY:-1024}; BATCH=${BATCH:-32}; WINDOW=${WINDOW:-64}; SAMPLE=${SAMPLE:-5}
PORT_BASE=${PORT_BASE:-47000}; RAMJET_ARGS=${RAMJET_ARGS:-}
STORE_PARENT=${STORE_PARENT:-/tmp}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${RESULTS_DIR:-$ROOT/results/$(date -u +%Y%m%dT%H%M%SZ)-backlog-scale}
NS=$((PORT_BASE + 876)); BP=$((PORT_BASE + 911))

# Plus one preallocated 1 GiB CommitLog segment per shard (one shard per core by default).
need=$(( N * (BODY + 240) + $(nproc) * (1 << 30) ))
free=$(( $(df -k --output=avail "$STORE_PARENT" | tail -1) * 1024 ))
margin=$(( 10 * 1024 * 1024 * 1024 ))
if [ "$need" -gt $(( free - margin )) ]; then
  echo "refusing to start: the store would take about $((need >> 30)) GiB (N=$N x (BODY=$BODY + 240) B)," \
       "but $STORE_PARENT has $((free >> 30)) GiB free and 10 GiB must stay free; lower N or BODY" >&2
  exit 3
fi
for p in "$NS" "$BP" $((BP - 2)) $((BP + 1)); do port_open "$p" && { echo "port $p on 127.0.0.1 is in use" >&2; exit 1; }; done
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
STORE=$(mktemp -d "$STORE_PARENT/backlog-scale.XXXXXX")
PID=""; CLIENT=""
cleanup() {
  [ -n "$CLIENT" ] && kill "$CLIENT" 2>/dev/null
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null; for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done; kill -9 "$PID" 2>/dev/null; fi
  rm -rf "$STORE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

{
  echo "date: $(date -u +%FT%TZ)"
  echo "ramjet: $RJ_BIN/mqbroker ($(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null)) $RAMJET_ARGS"
  echo "host: $(nproc) cores, $(uname -r); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  idle_line
  echo "N=$N BODY=$BODY BATCH=$BATCH WINDOW=$WINDOW SAMPLE=$SAMPLE s; estimated store $((need >> 20)) MiB in $STORE"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt" >&2

# shellcheck disable=SC2086 # RAMJET_ARGS is a list of flags
"$RJ_BIN/mqbroker" --standalone --namesrvPort "$NS" --listenPort "$BP" --haListenPort $((BP + 1)) \
  --bindAddress 127.0.0.1 --brokerIP1 127.0.0.1 --httpPort 0 --metricsPromExporterPort 0 \
  --storePathRootDir "$STORE/store" $RAMJET_ARGS \
  > "$OUT/broker.log" 2>&1 < /dev/null &
PID=$!
for _ in $(seq 300); do grep -q "boot success" "$OUT/broker.log" && port_open "$BP" && break; sleep 0.1; done
port_open "$BP" || { echo "broker did not start; $OUT/broker.log" >&2; exit 1; }

status_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$PID/status"; }
echo "t_s,phase,msgs_per_s,vm_rss_kb,rss_anon_kb,rss_file_kb,store_mb" > "$OUT/samples.csv"
# sample <phase> <client log> <client pid>: one CSV row per SAMPLE s until the client exits.
# msgs/s is the mean of mqbench's once-a-second progress lines written since the last row.
sample() {
  local phase=$1 log=$2 client=$3 seen=0 t0=$SECONDS
  while kill -0 "$client" 2>/dev/null; do
    sleep "$SAMPLE"
    local total tps
    total=$(grep -c '^[a-z]* \[' "$log" 2>/dev/null)
    tps=$(grep '^[a-z]* \[' "$log" 2>/dev/null | tail -n +$((seen + 1)) | sed -n 's/.* tps=\([0-9]*\).*/\1/p' \
      | awk '{ s += $1; n++ } END { if (n) printf "%.0f", s / n; else print "" }')
    seen=$total
    echo "$((SECONDS - t0)),$phase,$tps,$(status_kb VmRSS),$(status_kb RssAnon),$(status_kb RssFile),$(( $(du -sk "$STORE" | cut -f1) >> 10 ))" >> "$OUT/samples.csv"
  done
}

echo "0,idle,,$(status_kb VmRSS),$(status_kb RssAnon),$(status_kb RssFile),$(( $(du -sk "$STORE" | cut -f1) >> 10 ))" >> "$OUT/samples.csv"
echo "filling $N messages of $BODY B ..." >&2
MQBENCH_PROGRESS_LINES=1 "$RJ_BIN/mqbench" produce -n "127.0.0.1:$NS" -t TBacklogScale -s "$BODY" --create-topic \
  --queues 8 --mode async -w "$WINDOW" --batch "$BATCH" --connections 2 --count "$N" --duration 86400 \
  --hist-out "$OUT/fill.hgrm" > "$OUT/fill.log" 2> "$OUT/fill.err" &
CLIENT=$!
sample fill "$OUT/fill.err" "$CLIENT"
wait "$CLIENT"; CLIENT=""
echo "draining from offset 0 ..." >&2
MQBENCH_PROGRESS_LINES=1 "$RJ_BIN/mqbench" consume -n "127.0.0.1:$NS" -t TBacklogScale -g backlog_scale_drain \
  --from first --duration 86400 --hist-out "$OUT/drain.hgrm" > "$OUT/drain.log" 2> "$OUT/drain.err" &
CLIENT=$!
sample drain "$OUT/drain.err" "$CLIENT"
wait "$CLIENT"; CLIENT=""
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"

python3 - "$OUT" <<'PY'
import csv, os, statistics, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(out, "samples.csv"))))
def col(phase, key):
    return [float(r[key]) for r in rows if r["phase"] == phase and r[key]]
def mean(values):
    return statistics.mean(values) if values else float("nan")
def result(name):
    last = []
    for line in open(os.path.join(out, name)):
        if line.startswith("RESULT "):
            last = line.split()
    return dict(p.split("=", 1) for p in last[2:] if "=" in p)
fill_tps, drain_tps = col("fill", "msgs_per_s"), col("drain", "msgs_per_s")
# The first sample is the first SAMPLE seconds; the last is cut short by the end of the fill.
start_tps, end_tps = mean(fill_tps[:3]), mean(fill_tps[-4:-1] or fill_tps[-1:])
idle = {k: col("idle", k) for k in ("vm_rss_kb", "rss_anon_kb", "rss_file_kb")}
rss = {k: col("fill", k) for k in ("vm_rss_kb", "rss_anon_kb", "rss_file_kb")}
drain_rss = {k: col("drain", k) for k in ("vm_rss_kb", "rss_anon_kb", "rss_file_kb")}
fill, drain = result("fill.log"), result("drain.log")
def mb(kb):
    return f"{kb / 1024:,.0f}" if kb == kb else "-"
lines = ["| measure | idle broker | at the start | at N | N / start |", "|---|---|---|---|---|",
         f"| send msgs/s (mean of the first / last 3 samples) | - | {start_tps:,.0f} | {end_tps:,.0f} | {end_tps / start_tps:.2f} |"]
for key, label in (("vm_rss_kb", "VmRSS MiB"), ("rss_anon_kb", "RssAnon MiB"), ("rss_file_kb", "RssFile MiB")):
    values = rss[key]
    if values:
        lines.append(f"| broker {label} | {mb((idle[key] or [float('nan')])[0])} | {mb(values[0])} | {mb(values[-1])} | {values[-1] / max(values[0], 1):.2f} |")
text = "# Backlog at scale\n\n```\n" + open(os.path.join(out, "machine.txt")).read() + "```\n\n" + "\n".join(lines) + "\n\n"
text += (f"Fill overall: {float(fill.get('tps', 'nan')):,.0f} msgs/s (p99 {fill.get('p99_us', '-')} us per batch). "
         f"Drain from offset 0: {float(drain.get('tps', 'nan')):,.0f} msgs/s, {drain.get('mb_per_s', '-')} MB/s "
         f"(per-sample mean {mean(drain_tps):,.0f} msgs/s); broker VmRSS during the drain "
         f"{mb(min(drain_rss['vm_rss_kb'] or [float('nan')]))}-{mb(max(drain_rss['vm_rss_kb'] or [float('nan')]))} MiB "
         f"(RssAnon up to {mb(max(drain_rss['rss_anon_kb'] or [float('nan')]))} MiB).\n\n"
         f"Samples every few seconds in samples.csv ({len(rows)} rows).\n")
open(os.path.join(out, "results.md"), "w").write(text)
print(text)
PY
echo "results in $OUT" >&2
