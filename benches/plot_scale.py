#!/usr/bin/env python3
"""Draws commit cost per update against state size, Keel's RocksDB `Store` and the raw
RocksDB peer from the same run, from keel-bench-scale JSON lines (benches/state-scale.sh).

    python3 benches/plot_scale.py OUT.svg LABEL=FILE.jsonl [LABEL=FILE.jsonl ...]

Each file adds two lines (Keel and raw RocksDB, 1,000-update commits, thread CPU time per
update) in one colour. No dependencies: the SVG is written by hand. Log-log axes."""
import json
import math
import sys

W, H, L, R, T, B = 760, 460, 80, 230, 40, 60
COLOURS = ["#c0392b", "#2471a3", "#1e8449", "#7d3c98"]


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    out, series = sys.argv[1], []
    for arg in sys.argv[2:]:
        label, path = arg.split("=", 1)
        series.append((label, load(path)))
    pts = [(r["keys"], r[k]) for _, rows in series for r in rows
           for k in ("commit_1k_cpu_ns", "raw_1k_cpu_ns") if r[k] > 0]
    xs = [math.log10(p[0]) for p in pts]
    ys = [math.log10(p[1] / 1000) for p in pts]
    x0, x1 = math.floor(min(xs)), math.ceil(max(xs))
    y0, y1 = math.floor(min(ys)), math.ceil(max(ys))
    sx = lambda v: L + (math.log10(v) - x0) / (x1 - x0) * (W - L - R)
    sy = lambda us: T + (y1 - math.log10(us)) / (y1 - y0) * (H - T - B)
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         f'font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{L}" y="22" font-size="14">Commit of 1,000 updates: thread CPU time per '
         f'update vs keys in state (log-log)</text>']
    for e in range(x0, x1 + 1):
        x = sx(10 ** e)
        o.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{H - B}" stroke="#ddd"/>')
        o.append(f'<text x="{x:.1f}" y="{H - B + 18}" text-anchor="middle">10^{e}</text>')
    for e in range(y0, y1 + 1):
        y = sy(10 ** e)
        o.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W - R}" y2="{y:.1f}" stroke="#ddd"/>')
        o.append(f'<text x="{L - 8}" y="{y + 4:.1f}" text-anchor="end">{10 ** e:g} µs</text>')
    o.append(f'<text x="{(L + W - R) / 2}" y="{H - 15}" text-anchor="middle">keys in state</text>')
    o.append(f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="none" '
             f'stroke="black"/>')
    ly = T + 10
    for i, (label, rows) in enumerate(series):
        c = COLOURS[i % len(COLOURS)]
        for key, dash, name in (("commit_1k_cpu_ns", "", "Keel Store"),
                                ("raw_1k_cpu_ns", ' stroke-dasharray="6,4"', "raw RocksDB")):
            p = [(r["keys"], r[key] / 1000) for r in rows if r[key] > 0]
            path = " ".join(f"{sx(k):.1f},{sy(v):.1f}" for k, v in p)
            o.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="2"{dash}/>')
            for k, v in p:
                o.append(f'<circle cx="{sx(k):.1f}" cy="{sy(v):.1f}" r="3" fill="{c}"/>')
            o.append(f'<line x1="{W - R + 15}" y1="{ly}" x2="{W - R + 45}" y2="{ly}" stroke="{c}" '
                     f'stroke-width="2"{dash}/>')
            o.append(f'<text x="{W - R + 50}" y="{ly + 4}">{name}, {label}</text>')
            ly += 20
    o.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(o) + "\n")


if __name__ == "__main__":
    main()
