#!/usr/bin/env python3
"""results.md, Java .hgrm files and SVG plots from a compare.sh (or backlog_scale.sh) run.

    compare_report.py <results dir>

Reads <dir>/results.txt (one "round=.. system=.. cell=.. client=.. k=v ..." line per
measurement), <dir>/machine.txt and the mqbench .hgrm files; writes results.md,
r<round>-<system>-<cell>.hgrm for the Java cells (from the client's percentiles: the Java
bench prints p50/p99/p99.9/p99.99/max, not its whole histogram), lat-<cell>.svg (latency by
percentile, one line per system and round) and throughput.svg. Standard library only: the
SVG is written by hand so the script runs on a machine without network or pip.
"""
import math
import os
import statistics
import sys

SYSTEMS = ["apache", "peer", "ramjet"]
COLORS = {"apache": "#d62728", "peer": "#1f77b4", "ramjet": "#2ca02c"}
THROUGHPUT_CELLS = [
    ("j-sync1", "Java sync, 1 thread"),
    ("j-sync16", "Java sync, 16 threads"),
    ("j-sync64", "Java sync, 64 threads"),
    ("j-async", "Java async, 1024 in flight"),
    ("j-fill", "Java async backlog fill"),
    ("j-drain", "Java push consumer, backlog drain from the first offset"),
    ("mq-sync1", "mqbench sync, 1 sender, blocking connection"),
    ("mq-sync16", "mqbench sync, 16 senders"),
    ("mq-async", "mqbench async, 256 in flight x 2 connections"),
    ("mq-fill", "mqbench backlog fill (batches of 32)"),
    ("mq-drain", "mqbench pull, backlog drain from offset 0"),
]


def load(out):
    rows = []
    for line in open(os.path.join(out, "results.txt")):
        fields = dict(p.split("=", 1) for p in line.split() if "=" in p)
        if "cell" in fields:
            rows.append(fields)
    return rows


def num(row, key):
    try:
        return float(row.get(key, "nan"))
    except (TypeError, ValueError):
        return float("nan")


def ok(value):
    return value == value


def fmt(value, digits=0):
    return "-" if not ok(value) else f"{value:,.{digits}f}"


def ratio(a, b):
    return f"{a / b:.2f}" if ok(a) and ok(b) and b > 0 else "n/a"


def find(rows, cell, system, rnd):
    for row in rows:
        if row["cell"] == cell and row["system"] == system and row.get("round") == rnd:
            return row
    return {}


def p99_key(row):
    return "e2e_p99_us" if "e2e_p99_us" in row else "p99_us"


def throughput_tables(rows, systems, rounds):
    text, summary = [], []
    for cell, title in THROUGHPUT_CELLS:
        if not any(r["cell"] == cell for r in rows):
            continue
        unit = "MB/s" if cell.endswith("drain") else "msgs/s"
        key = "mb_per_s" if unit == "MB/s" else "tps"
        head = ["round"] + [f"{s} {unit}" for s in systems]
        if "ramjet" in systems:
            head += [f"ramjet/{s}" for s in systems if s != "ramjet"]
        # A single sender's target is its median latency (p50 <= 150 us and below Apache's).
        single = cell.endswith("sync1")
        if single:
            head += [f"{s} p50 us" for s in systems]
        head += [f"{s} p99 us" for s in systems] + [f"{s} broker CPU" for s in systems]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        per_other = {s: [] for s in systems}
        for rnd in rounds:
            got = {s: find(rows, cell, s, rnd) for s in systems}
            line = [rnd] + [fmt(num(got[s], key), 1 if unit == "MB/s" else 0) for s in systems]
            for s in systems:
                if s != "ramjet" and "ramjet" in systems:
                    a, b = num(got["ramjet"], key), num(got[s], key)
                    line.append(ratio(a, b))
                    if ok(a) and ok(b) and b > 0:
                        per_other[s].append(a / b)
            if single:
                line += [fmt(num(got[s], "p50_us")) for s in systems]
            line += [fmt(num(got[s], p99_key(got[s]))) for s in systems]
            line += [fmt(num(got[s], "broker_cpu") * 100) + "%" if got[s].get("broker_cpu") else "-" for s in systems]
            lines.append("| " + " | ".join(line) + " |")
        text.append(f"### {cell}: {title}\n\n" + "\n".join(lines) + "\n")
        if "ramjet" in systems:
            summary.append((cell, title, {s: v for s, v in per_other.items() if s != "ramjet"}))
    return text, summary


def cold_table(rows, systems, rounds):
    if not any(r["cell"] == "cold-dd" for r in rows):
        return ""
    head = ["round", "system", "backlog fill msgs/s", "dd O_DIRECT MB/s", "mqbench drain MB/s",
            "mqbench / dd", "Java drain MB/s", "Java / dd"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rnd in rounds:
        for s in systems:
            dd = num(find(rows, "cold-dd", s, rnd), "mb_per_s")
            mq = num(find(rows, "cold-mq", s, rnd), "mb_per_s")
            jv = num(find(rows, "cold-j", s, rnd), "mb_per_s")
            fill = num(find(rows, "cold-fill", s, rnd), "tps")
            if not any(ok(v) for v in (dd, mq, jv)):
                continue
            lines.append("| " + " | ".join([rnd, s, fmt(fill), fmt(dd, 1), fmt(mq, 1), ratio(mq, dd),
                                             fmt(jv, 1), ratio(jv, dd)]) + " |")
    return ("### cold: backlog drained after a broker restart and a dropped page cache\n\n"
            + "\n".join(lines) + "\n\nMB = 10^6 bytes of message bodies for the drains; dd "
            "counts whole CommitLog bytes (bodies plus record headers), so a drain at the "
            "device limit shows slightly below 1.\n")


def tail_table(rows, systems, rounds):
    if not any(r["cell"] == "tail" for r in rows):
        return ""
    head = ["round", "system", "rate msgs/s", "achieved msgs/s", "p50 us", "p99 us", "p99.9 us",
            "p99.99 us", "max us", "errors", "p99.99 < 5 ms"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for rnd in rounds:
        for s in systems:
            row = find(rows, "tail", s, rnd)
            if not row:
                continue
            p9999 = num(row, "p9999_us")
            lines.append("| " + " | ".join(
                [rnd, s, row.get("rate", "-"), fmt(num(row, "tps"))]
                + [fmt(num(row, k)) for k in ("p50_us", "p99_us", "p999_us", "p9999_us", "max_us", "errors")]
                + ["yes" if ok(p9999) and p9999 < 5000 else "no"]) + " |")
    return ("### tail: fixed-rate produce (mqbench async --rate, latency from each message's "
            "scheduled send time)\n\n" + "\n".join(lines) + "\n")


def store_table(rows):
    got = [r for r in rows if r["cell"] == "store"]
    if not got:
        return ""
    head = ["run", "store MB/s", "raw O_DIRECT MB/s", "ratio", ">= 0.8", "p99 ack us"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in got:
        ratio_v = num(r, "ratio")
        lines.append("| " + " | ".join([r["round"], fmt(num(r, "mb_per_s"), 1), fmt(num(r, "raw_mb_per_s"), 1),
                                         fmt(ratio_v, 3), "yes" if ok(ratio_v) and ratio_v >= 0.8 else "no",
                                         fmt(num(r, "p99_us"))]) + " |")
    return ("### store: mqbench store --record-size 4096 --flush async vs raw O_DIRECT\n\n"
            + "\n".join(lines) + "\n")


# ------------------------------------------------------------------ .hgrm and SVG
def java_hgrm(out, row):
    """A percentile listing in HdrHistogram's layout from the five points Java prints."""
    points = [(0.5, "p50_us"), (0.99, "p99_us"), (0.999, "p999_us"), (0.9999, "p9999_us"), (1.0, "max_us")]
    name = f"r{row['round']}-{row['system']}-{row['cell']}.hgrm"
    lines = [f"{'Value':>12} {'Percentile':>14} {'TotalCount':>10} {'1/(1-Percentile)':>14}", ""]
    count = num(row, "msgs")
    if not ok(count):
        count = num(row, "tps")  # unknown; the column is informational only
    for q, key in points:
        v = num(row, key)
        if not ok(v):
            continue
        total = int(count * q) if ok(count) else 0
        inv = f"{1 / (1 - q):14.2f}" if q < 1 else ""
        lines.append(f"{v / 1000:12.3f} {q:2.12f} {total:10} {inv}".rstrip())
    lines.append(f"#[Max     = {num(row, 'max_us') / 1000:12.3f}, Total count    = {int(count) if ok(count) else 0:12}]")
    lines.append("#[from the Java bench's RESULT line: five percentiles only]")
    open(os.path.join(out, name), "w").write("\n".join(lines) + "\n")


def read_hgrm(path):
    points = []
    try:
        for line in open(path):
            parts = line.split()
            if len(parts) >= 3 and not line.startswith("#") and parts[0] != "Value":
                try:
                    points.append((float(parts[1]), float(parts[0])))
                except ValueError:
                    pass
    except OSError:
        pass
    return points


def latency_svg(out, cell, series):
    """series: [(label, color, dashed, [(quantile, ms)])]; x = percentile on a 1/(1-p) log scale."""
    series = [s for s in series if s[3]]
    if not series:
        return
    w, h, left, right, top, bottom = 720, 420, 70, 150, 40, 50
    xmax = 6.0
    def xq(q):
        return min(xmax, -math.log10(max(1 - q, 10 ** -xmax))) if q < 1 else xmax
    values = [v for s in series for _, v in s[3] if v > 0]
    lo = 10 ** math.floor(math.log10(min(values))) if values else 0.001
    hi = 10 ** math.ceil(math.log10(max(values))) if values else 1
    if hi <= lo:
        hi = lo * 10
    def px(x):
        return left + x / xmax * (w - left - right)
    def py(v):
        v = max(v, lo)
        return top + (1 - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))) * (h - top - bottom)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">{cell}: latency by percentile (ms, log scale)</text>']
    for i, label in enumerate(["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "max"]):
        x = px(i)
        svg.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{h - bottom}" stroke="#ddd"/>')
        svg.append(f'<text x="{x:.1f}" y="{h - bottom + 16}" text-anchor="middle">{label}</text>')
    decade = lo
    while decade <= hi * 1.001:
        y = py(decade)
        svg.append(f'<line x1="{left}" y1="{y:.1f}" x2="{w - right}" y2="{y:.1f}" stroke="#ddd"/>')
        svg.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{decade:g}</text>')
        decade *= 10
    for n, (label, color, dashed, points) in enumerate(series):
        path = " ".join(f"{px(xq(q)):.1f},{py(v):.1f}" for q, v in sorted(points) if v > 0)
        dash = ' stroke-dasharray="5,3"' if dashed else ""
        svg.append(f'<polyline fill="none" stroke="{color}" stroke-width="2"{dash} points="{path}"/>')
        y = top + 10 + 18 * n
        svg.append(f'<line x1="{w - right + 10}" y1="{y}" x2="{w - right + 35}" y2="{y}" stroke="{color}" stroke-width="2"{dash}/>')
        svg.append(f'<text x="{w - right + 40}" y="{y + 4}">{label}</text>')
    svg.append("</svg>")
    open(os.path.join(out, f"lat-{cell}.svg"), "w").write("\n".join(svg) + "\n")


def throughput_svg(out, rows, systems, rounds):
    cells = [(c, t) for c, t in THROUGHPUT_CELLS if any(r["cell"] == c for r in rows)]
    cells += [(c, c) for c in ("cold-mq", "cold-j") if any(r["cell"] == c for r in rows)]
    if not cells:
        return
    group_w, bar_h, left = 560, 14, 230
    h = 50 + len(cells) * (bar_h * len(systems) + 16)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + group_w + 140}" height="{h}" font-family="sans-serif" font-size="11">',
           f'<rect width="100%" height="100%" fill="white"/>',
           f'<text x="10" y="20" font-size="14">Throughput per cell, median over rounds (bars scaled per cell; '
           f'msgs/s, drains MB/s)</text>']
    y = 40
    for cell, title in cells:
        key = "mb_per_s" if "drain" in cell or cell.startswith("cold") else "tps"
        med = {}
        for s in systems:
            vals = [num(find(rows, cell, s, rnd), key) for rnd in rounds]
            vals = [v for v in vals if ok(v)]
            med[s] = statistics.median(vals) if vals else float("nan")
        top = max([v for v in med.values() if ok(v)] or [1]) or 1
        svg.append(f'<text x="{left - 8}" y="{y + bar_h * len(systems) / 2 + 4}" text-anchor="end">{cell}</text>')
        for s in systems:
            v = med[s]
            width = 0 if not ok(v) else v / top * group_w
            svg.append(f'<rect x="{left}" y="{y}" width="{width:.1f}" height="{bar_h - 2}" fill="{COLORS.get(s, "#888")}"/>')
            svg.append(f'<text x="{left + width + 4:.1f}" y="{y + bar_h - 4}">{s} {fmt(v, 1 if key == "mb_per_s" else 0)}</text>')
            y += bar_h
        y += 16
    svg.append("</svg>")
    open(os.path.join(out, "throughput.svg"), "w").write("\n".join(svg) + "\n")


def main():
    out = sys.argv[1]
    rows = load(out)
    systems = [s for s in SYSTEMS if any(r["system"] == s for r in rows)]
    rounds = sorted({r["round"] for r in rows if r["cell"] != "store"}, key=int)
    for row in rows:
        if row.get("client") == "java" and "p50_us" in row:
            java_hgrm(out, row)
    for cell in sorted({r["cell"] for r in rows}):
        series = []
        for s in systems:
            for rnd in rounds:
                points = read_hgrm(os.path.join(out, f"r{rnd}-{s}-{cell}.hgrm"))
                series.append((f"{s} r{rnd}", COLORS.get(s, "#888"), rnd != rounds[0], points))
        latency_svg(out, cell, series)
    throughput_svg(out, rows, systems, rounds)

    tables, summary = throughput_tables(rows, systems, rounds)
    machine = open(os.path.join(out, "machine.txt")).read() if os.path.exists(os.path.join(out, "machine.txt")) else ""
    text = ["# Ramjet vs Apache RocketMQ 4.9.8 vs the rocketmq-rust peer\n", "```\n" + machine + "```\n"]
    if summary:
        others = [s for s in systems if s != "ramjet"]
        head = ["cell"] + [f"ramjet/{s} per round" for s in others] + [f"ramjet/{s} median" for s in others]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for cell, _, per in summary:
            lines.append("| " + " | ".join([cell] + [" ".join(f"{v:.2f}" for v in per.get(s, [])) or "n/a" for s in others]
                                             + [f"{statistics.median(per[s]):.2f}" if per.get(s) else "n/a" for s in others]) + " |")
        text.append("## Summary: Ramjet's ratio to each system (throughput; above 1 = Ramjet faster)\n\n" + "\n".join(lines) + "\n")
    text.append("## Cells\n")
    text += tables
    for extra in (cold_table(rows, systems, rounds), tail_table(rows, systems, rounds), store_table(rows)):
        if extra:
            text.append(extra)
    text.append("Latencies in microseconds, from the client's view (sends: call to answer; consumes: "
                "born timestamp to receipt, which for a backlog is mostly its age). Broker CPU: the "
                "broker process's CPU over the cell's wall time including client start-up; 100% = one "
                "core. Files: r<round>-<system>-<cell>.log (raw output), .hgrm (percentiles in ms; "
                "the Java ones hold only the five points its RESULT line prints), lat-<cell>.svg, "
                "throughput.svg.\n")
    open(os.path.join(out, "results.md"), "w").write("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
