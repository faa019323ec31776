#!/usr/bin/env python3
"""Summarises criterion results (target/criterion/**/new/estimates.json) as markdown tables
with per-operation times and ratios, and draws the scaling plots.

Usage (after `cargo bench -p keel-benches`):
    python3 benches/report.py [--mem benches/results/mem.jsonl] [--plots benches/plots]

Plots need matplotlib (`pip install matplotlib`); without it only the tables are printed.
Nothing here measures anything: every number comes from criterion's files or the
keel-bench-mem JSON lines.
"""
import argparse
import json
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def load(criterion_dir):
    """full_id -> dict(mean_ns, lo_ns, hi_ns, elements or None, bytes or None)."""
    out = {}
    for dirpath, _dirs, files in os.walk(criterion_dir):
        if os.path.basename(dirpath) != "new" or "estimates.json" not in files:
            continue
        try:
            with open(os.path.join(dirpath, "benchmark.json")) as f:
                bench = json.load(f)
            with open(os.path.join(dirpath, "estimates.json")) as f:
                est = json.load(f)
        except (OSError, ValueError):
            continue
        mean = est["mean"]
        tp = bench.get("throughput") or {}
        out[bench["full_id"]] = {
            "mean_ns": mean["point_estimate"],
            "lo_ns": mean["confidence_interval"]["lower_bound"],
            "hi_ns": mean["confidence_interval"]["upper_bound"],
            "elements": tp.get("Elements"),
            "bytes": tp.get("Bytes") or tp.get("BytesDecimal"),
            "mtime": os.path.getmtime(os.path.join(dirpath, "estimates.json")),
        }
    return out


def fmt_time(ns):
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def per_op(r):
    """Mean time of one element (tx, update...) if a throughput in elements was set."""
    n = r["elements"] or 1
    return r["mean_ns"] / n


def row(results, bid, peer=None):
    r = results.get(bid)
    if r is None:
        return f"| `{bid}` | not measured | | | |"
    op = per_op(r)
    rate = 1e9 / op
    ratio = ""
    if peer and peer in results:
        ratio = f"{op / per_op(results[peer]):.2f}× `{peer.split('/', 1)[1]}`"
    extra = f" ({fmt_time(r['mean_ns'])} per iteration)" if r["elements"] and r["elements"] > 1 else ""
    return f"| `{bid}` | {fmt_time(op)}{extra} | {rate:,.0f}/s | {ratio} |"


TABLES = [
    ("Transfers (per transaction)", [
        ("transfer/keel_token/memstore_block1k", "transfer/revm_erc20/cachedb_1k"),
        ("transfer/keel_token/rocksdb_block1k", "transfer/revm_erc20/cachedb_1k"),
        ("transfer/revm_erc20/cachedb_1k", "transfer/revm_value/cachedb_1k"),
        ("transfer/revm_value/cachedb_1k", None),
    ]),
    ("Empty call", [
        ("empty_call/keel/simulate", "empty_call/wasmi_plain/instantiate_call"),
        ("empty_call/keel/memstore_block1k", "empty_call/wasmi_plain/instantiate_call"),
        ("empty_call/wasmi_fuel/instantiate_call", "empty_call/wasmi_plain/instantiate_call"),
        ("empty_call/wasmi_plain/instantiate_call", None),
    ]),
]


def compute_rows(results):
    rows = []
    for bid in sorted(results):
        if bid.startswith("compute/keel_metered/"):
            arg = bid.split("/", 2)[2]
            rows.append((bid, f"compute/wasmi_plain/{arg}"))
            rows.append((f"compute/wasmi_fuel/{arg}", f"compute/wasmi_plain/{arg}"))
            rows.append((f"compute/wasmi_plain/{arg}", None))
    return rows


def prefixed(results, prefix, peer_of=None):
    rows = []
    for bid in sorted(results, key=lambda b: (b.rsplit("/", 1)[0], _num(b.rsplit("/", 1)[-1]))):
        if bid.startswith(prefix):
            rows.append((bid, peer_of(bid) if peer_of else None))
    return rows


def _num(s):
    try:
        return float(s.split("_")[0])
    except ValueError:
        return 0.0


def print_table(results, title, rows):
    print(f"\n#### {title}\n")
    print("| benchmark | time per op | rate | ratio to peer (same run) |")
    print("|---|---:|---:|---|")
    for bid, peer in rows:
        print(row(results, bid, peer))


def mem_table(path):
    if not os.path.exists(path):
        return []
    recs = [json.loads(l) for l in open(path) if l.strip()]
    print("\n#### Peak memory (keel-bench-mem, VmHWM)\n")
    print("| store | keys | fill time | peak RSS after fill | blocks tx/s | peak RSS after blocks |")
    print("|---|---:|---:|---:|---:|---:|")
    by = {}
    for r in recs:
        by.setdefault((r["store"], r["keys"], r["block_size"]), {})[r["phase"]] = r
    for (store, keys, _bs), ph in sorted(by.items()):
        f, b = ph.get("fill", {}), ph.get("blocks", {})
        print(f"| {store} | {keys:,} | {f.get('secs', 0):.1f} s | {f.get('peak_rss_kib', 0) / 1024:,.0f} MiB "
              f"| {b.get('tx_per_s', 0):,.0f} | {b.get('peak_rss_kib', 0) / 1024:,.0f} MiB |")
    return recs


def plots(results, recs, outdir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(matplotlib not installed: no plots)", file=sys.stderr)
        return
    os.makedirs(outdir, exist_ok=True)
    sizes = [10_000, 100_000, 1_000_000]
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, label in [("commit_1k_updates", "Merkle commit, per update"),
                        ("token_block1k", "token transfer in a 1k block, per tx")]:
        xs, ys = [], []
        for s in sizes:
            r = results.get(f"scaling_state/{name}/{s}")
            if r:
                xs.append(s)
                ys.append(per_op(r) / 1e3)
        if xs:
            ax.plot(xs, ys, marker="o", label=label)
    for name, label in [("get", "point read"), ("prove", "proof generation")]:
        xs, ys = [], []
        for s in sizes:
            r = results.get(f"scaling_state/{name}/{s}")
            if r:
                xs.append(s)
                ys.append(per_op(r) / 1e3)
        if xs:
            ax.plot(xs, ys, marker="s", linestyle="--", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("existing keys (RocksDB Store)")
    ax.set_ylabel("µs per operation")
    ax.set_title("Keel: cost vs state size")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "scaling_state.png"), dpi=110)

    fig, ax = plt.subplots(figsize=(6, 4))
    xs, ys = [], []
    for s in [100, 1_000, 10_000]:
        r = results.get(f"scaling_block/token_rocksdb_100k_keys/{s}")
        if r:
            xs.append(s)
            ys.append(1e9 / per_op(r))
    if xs:
        ax.plot(xs, ys, marker="o")
    ax.set_xscale("log")
    ax.set_xlabel("transactions per block")
    ax.set_ylabel("token transfers per second")
    ax.set_title("Keel: throughput vs block size (RocksDB, 100k keys)")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(outdir, "scaling_block.png"), dpi=110)

    if recs:
        fig, ax = plt.subplots(figsize=(6, 4))
        for store in sorted({r["store"] for r in recs}):
            pts = sorted((r["keys"], r["peak_rss_kib"] / 1024) for r in recs
                         if r["store"] == store and r["phase"] == "blocks")
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=store)
        ax.set_xscale("log")
        ax.set_xlabel("keys in state")
        ax.set_ylabel("peak RSS (MiB)")
        ax.set_title("Keel: peak memory (fill + 10 blocks of 1k transfers)")
        ax.legend()
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        fig.savefig(os.path.join(outdir, "peak_memory.png"), dpi=110)
    print(f"\n(plots written to {outdir})", file=sys.stderr)


def ab_table(path):
    if not os.path.exists(path):
        return
    recs = [json.loads(l) for l in open(path) if l.strip()]
    print("\n#### Interleaved A/B (keel-bench-ab: contenders alternate, median of each)\n")
    print("| set | contender | median per op | ratio to the set's first |")
    print("|---|---|---:|---:|")
    for r in recs:
        print(f"| {r['set']} | {r['name']} | {fmt_time(r['per_op_ns'])} | {r['ratio_to_first']:.2f}× |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--criterion", default=os.path.join(ROOT, "target", "criterion"))
    ap.add_argument("--mem", default=os.path.join(ROOT, "benches", "results", "mem.jsonl"))
    ap.add_argument("--plots", default=os.path.join(ROOT, "benches", "plots"))
    ap.add_argument("--ab", default=os.path.join(ROOT, "benches", "results", "ab.jsonl"))
    a = ap.parse_args()
    results = load(a.criterion)
    ab_table(a.ab)
    for title, rows in TABLES:
        print_table(results, title, rows)
    print_table(results, "Compute (one call, includes instantiation)", compute_rows(results))
    print_table(results, "Upload: validate + compile", prefixed(
        results, "upload/keel_check/",
        lambda b: b.replace("keel_check", "wasmi_module_new")))
    print_table(results, "Storage-heavy call", prefixed(results, "storage_heavy/"))
    print_table(results, "Merkle commit at 100k keys vs raw WriteBatch (per update)", prefixed(
        results, "commit_100k/merkle_store/",
        lambda b: b.replace("merkle_store", "raw_writebatch"))
        + prefixed(results, "commit_100k/memstore/", lambda b: b.replace("memstore", "raw_writebatch"))
        + prefixed(results, "commit_100k/raw_writebatch/"))
    print_table(results, "SCALE", prefixed(results, "scale/"))
    print_table(results, "Scaling with state size", prefixed(results, "scaling_state/"))
    print_table(results, "Scaling with block size", prefixed(results, "scaling_block/"))
    log = os.path.join(ROOT, "benches", "results", "criterion.log")
    if os.path.exists(log):
        lines = [l.split() for l in open(log) if l.startswith("proof_size ")]
        if lines:
            print("\n#### Proof size (SCALE bytes, 1,000 existing keys)\n")
            print("| keys | mean | max |")
            print("|---:|---:|---:|")
            for parts in lines:
                kv = dict(p.split("=") for p in parts[1:])
                print(f"| {int(kv['keys']):,} | {kv['mean_bytes']} | {kv['max_bytes']} |")
    recs = mem_table(a.mem)
    plots(results, recs, a.plots)


if __name__ == "__main__":
    main()
