#!/usr/bin/env python3
"""Markdown tables for BENCHMARKS.md "Gas vs time" from two keel-calibrate / keel-attacks runs.

    python3 benches/gas_report.py calib  benches/results/calib-v1-full.json   benches/results/calib-v2-full.json
    python3 benches/gas_report.py invalid benches/results/calib-v1-full.json   benches/results/calib-v2-full.json
    python3 benches/gas_report.py attacks benches/results/attacks-v1-full.json benches/results/attacks-v2-full.json

Rows are paired by name with every number replaced by '#' (the shapes fit themselves to each
engine's upload limits, so their sizes differ), in order of appearance.
"""
import json
import re
import sys


def key(name):
    return re.sub(r"[0-9][0-9,.]*", "#", name)


def pair(before, after, field):
    """Pairs rows of two runs by normalized name, in order; unpaired rows get None."""
    pool = {}
    for r in after:
        pool.setdefault(key(r[field]), []).append(r)
    out = []
    for r in before:
        k = key(r[field])
        out.append((r, pool[k].pop(0) if pool.get(k) else None))
    for rows in pool.values():
        for r in rows:
            out.append((None, r))
    return out


def num(x, digits=3):
    if x is None:
        return "–"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def ratio(r):
    if r is None:
        return "–"
    if r.get("ratio") is None:
        return "unpriced" if (r.get("ns_per_unit") or 0) > 0 else "–"
    return f"{r['ratio']:.2f}"


def calib(v1, v2):
    print("| group | row | v1 ns/unit | v1 gas/unit | v1 × base | v2 ns/unit | v2 gas/unit | v2 × base |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    v1 = [r for r in v1 if r["group"] != "invalid"]
    v2 = [r for r in v2 if r["group"] != "invalid"]
    for a, b in pair(v1, v2, "row"):
        r = a or b
        name = r["row"] if a is None or b is None or a["row"] == b["row"] else f"{a['row']} → {b['row']}"
        g = r["group"]
        unit = r["unit"]
        cells = []
        for x in (a, b):
            if x is None:
                cells += ["–", "–", "–"]
            else:
                cells += [num(x["ns_per_unit"]), num(x["gas_per_unit"]), ratio(x)]
        print(f"| {g} | {name} ({unit}) | " + " | ".join(cells) + " |")


def invalid(v1, v2):
    v1 = [r for r in v1 if r["group"] == "invalid"]
    v2 = [r for r in v2 if r["group"] == "invalid"]
    print("| Invalid outcome (1M-key RocksDB state) | v1 µs/tx | v2 µs/tx | target ≤ 20 µs |")
    print("|---|---:|---:|---|")
    for a, b in pair(v1, v2, "row"):
        us = [None if x is None else x["ns_per_unit"] / 1e3 for x in (a, b)]
        verdict = "–" if us[1] is None else ("met" if us[1] <= 20 else "MISSED")
        cells = ["–" if u is None else f"{u:,.1f}" for u in us]
        print(f"| {(a or b)['row']} | {cells[0]} | {cells[1]} | v2 {verdict} |")


def attacks(v1, v2):
    v1 = [r for r in v1 if "attack" in r]
    v2 = [r for r in v2 if "attack" in r]
    print("| attack | v1 gas | v1 wall | v1 ns/gas | v1 × base | v2 gas | v2 wall | v2 ns/gas | v2 × base |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")

    def cells(x):
        if x is None:
            return ["–"] * 4
        wall = x["wall_ns"]
        if x["invalid"]:
            wall_s = f"{wall / max(x['txs'], 1) / 1e3:,.1f} µs/tx"
        elif wall == 0:
            wall_s = "–"
        else:
            wall_s = f"{wall / 1e6:,.2f} ms"
        nsg = "–" if x["ns_per_gas"] is None else num(x["ns_per_gas"], 2)
        rat = "–" if x["invalid"] or wall == 0 else ("inf" if x["ratio"] is None else f"{x['ratio']:.2f}")
        return [f"{x['gas']:,}", wall_s, nsg, rat]

    for a, b in pair(v1, v2, "attack"):
        r = b or a
        name = r["attack"] if a is None or b is None or a["attack"] == b["attack"] else f"{a['attack']} → {b['attack']}"
        print(f"| {name} | " + " | ".join(cells(a) + cells(b)) + " |")


def main():
    kind, f1, f2 = sys.argv[1:4]
    v1 = json.load(open(f1))
    v2 = json.load(open(f2))
    {"calib": calib, "invalid": invalid, "attacks": attacks}[kind](v1, v2)


if __name__ == "__main__":
    main()
