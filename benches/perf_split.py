#!/usr/bin/env python3
"""Splits a `perf script` dump of keel-bench-scale's `--hold` window (BENCHMARKS.md, "State at
scale", delta records) by who (Keel's commit, the raw peer's batch, prune) and by part
(innermost frames), and prints sample counts.

    perf record --call-graph dwarf,32768 -F 200 -t PID -o P.data -- sleep 15
    perf script -i P.data > P.txt && python3 benches/perf_split.py P.txt
"""
import collections
import sys


def samples(path):
    cur = []
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if not line.strip():
            if cur:
                yield cur
            cur = []
        elif line.startswith((" ", "\t")):
            parts = line.strip().split(None, 1)
            if len(parts) == 2:
                cur.append(parts[1])
    if cur:
        yield cur


def part(st):
    s = " | ".join(st[:12])
    if "MemTable::Add" in s or ("InlineSkipList" in s and "Get" not in s and "Seek" not in s):
        return "memtable insert"
    if any(x in s for x in ("WriteToWAL", "log::Writer", "crc32c", "vfs_write", "copy_folio", "ext4")):
        return "WAL"
    if any(x in s for x in ("MemTable::Get", "GetFromTable", "BlockBasedTable", "DBImpl::Get", "Seek")):
        return "rocksdb reads"
    if "blake3" in s:
        return "hashing (blake3)"
    if "malloc" in s or "free" in s or "tcache" in s:
        return "malloc/free"
    if "WriteBatch" in s or "rocksdb_writebatch" in s:
        return "batch building"
    if "keel_state::tree" in s:
        return "tree code"
    if "keel_state" in s:
        return "store code"
    if "rocksdb" in s:
        return "rocksdb other"
    return "other"


def who(st):
    s = " | ".join(st)
    if "commit_with_metadata" in s:
        return "keel"
    if "RawDb" in s:
        return "raw"
    if "prune" in s:
        return "prune"
    return "?"


def main():
    t, tot = collections.Counter(), collections.Counter()
    for st in samples(sys.argv[1]):
        p, w = part(st), who(st)
        t[(p, w)] += 1
        tot[w] += 1
    whos = ["keel", "raw", "prune", "?"]
    parts = sorted({p for p, _ in t}, key=lambda p: -sum(v for (q, _), v in t.items() if q == p))
    print(f"{'':20s} " + " ".join(f"{w:>6s}" for w in whos))
    for p in parts:
        print(f"{p:20s} " + " ".join(f"{t[(p, w)]:6d}" for w in whos))
    print(f"{'total':20s} " + " ".join(f"{tot[w]:6d}" for w in whos))


if __name__ == "__main__":
    main()
