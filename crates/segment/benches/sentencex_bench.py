"""Time sentencex (and pySBD on a slice) on the same input as benches/sentences.rs.

Run: /tmp/venv-sentencex/bin/python crates/segment/benches/sentencex_bench.py
(pip install sentencex pysbd into a throwaway venv first). Single thread.
"""
import gzip, json, os, sys, time

root = os.environ.get("SEGMENT_BENCH_ROOT") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
corpora = os.environ.get("SEGMENT_BENCH_CORPORA") or os.path.join(root, "..", "shared", "corpora", "web")
if not os.path.isdir(corpora):
    sys.exit(f"{corpora} not found; nothing to measure")
docs = []
for seed in ["000_e7f6ed2af000063c.txt", "002_31699701fbb39e56.txt", "003_240feac35cea67fe.txt"]:
    docs.append(open(os.path.join(root, "tests", "fixtures", "segment", seed), encoding="utf-8").read())
for name in ["readability.jsonl.gz", "article_extraction_benchmark.jsonl.gz", "trafilatura_eval.jsonl.gz"]:
    with gzip.open(os.path.join(corpora, name), "rt", encoding="utf-8") as f:
        for line in f:
            text = json.loads(line).get("text")
            if isinstance(text, str):
                docs.append(text)
nbytes = sum(len(d.encode("utf-8")) for d in docs)
print(f"input: {len(docs)} docs, {nbytes / 1e6:.1f} MB")

from sentencex import segment
best = None
for _ in range(3):
    t = time.perf_counter()
    n = sum(len(list(segment("en", d))) for d in docs)
    dt = time.perf_counter() - t
    best = dt if best is None else min(best, dt)
print(f"sentencex: {n} sentences, best of 3 {best:.2f} s, {nbytes / 1e6 / best:.1f} MB/s")

try:
    import pysbd
    seg = pysbd.Segmenter(language="en", clean=False)
    part = docs[:40]
    pb = sum(len(d.encode("utf-8")) for d in part)
    t = time.perf_counter()
    n = sum(len(seg.segment(d)) for d in part)
    dt = time.perf_counter() - t
    print(f"pysbd (first 40 docs, {pb / 1e6:.2f} MB): {n} sentences, {dt:.2f} s, {pb / 1e6 / dt:.2f} MB/s")
except ImportError:
    pass
