#!/usr/bin/env python3
"""Benchmark corpus generator: real web text multiplied with variations.

Copies of the same pages would make dedupe drop everything after the first
round, and random word edits would look like article spinning; neither is a
real dump. So each generated page keeps a real page's header and footer
lines verbatim (site boilerplate stays boilerplate), and rebuilds its body
from the page's own sentences: some dropped, the rest shuffled within their
paragraph, some replaced by sentences of another page of the same set. On
top of that, a fixed share of pages are exact or near duplicates of pages
already written. Same arguments, same bytes (seeded, no clock).

    python3 benches/make_corpus.py --mb 50 -o /tmp/bench-50.jsonl.gz

Reads ../shared/corpora/web/*.jsonl.gz beside the checkout, except the
three held-out boilerplate sets. The output is for local benchmarks only:
some inputs are research-only (see ../shared/corpora/SOURCES.md), so the
generated file is never committed.
"""

import argparse
import glob
import gzip
import json
import os
import random
import re

HELD_OUT = {"cleaneval_final", "l3s_gn1", "trafilatura_eval"}
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def load(corpus_dir):
    docs = []
    for path in sorted(glob.glob(os.path.join(corpus_dir, "*.jsonl.gz"))):
        name = os.path.basename(path).split(".")[0]
        if name in HELD_OUT:
            continue
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                text = d.get("text") or ""
                if len(text) < 200:
                    continue
                docs.append(
                    {"set": name, "id": str(d.get("id")), "url": d.get("url") or "", "text": text}
                )
    return docs


def vary(doc, pool, rng):
    """A new page: real header/footer lines, body rebuilt from sentences."""
    lines = doc["text"].split("\n")
    n = len(lines)
    keep_head = max(1, n * 15 // 100)
    keep_tail = max(1, n * 15 // 100)
    out = lines[:keep_head]
    donor = rng.choice(pool)
    donor_sents = [s for l in donor["text"].split("\n") for s in SENTENCE_END.split(l) if len(s) > 40]
    for line in lines[keep_head : max(keep_head, n - keep_tail)]:
        sents = SENTENCE_END.split(line)
        if len(sents) < 2:
            out.append(line)
            continue
        kept = [s for s in sents if rng.random() < 0.75] or sents[:1]
        rng.shuffle(kept)
        if donor_sents and rng.random() < 0.3:
            kept[rng.randrange(len(kept))] = rng.choice(donor_sents)
        out.append(" ".join(kept))
    out.extend(lines[max(keep_head, n - keep_tail) :])
    return "\n".join(out)


def near_copy(text, rng):
    """A near duplicate: one line dropped and one trailing line added."""
    lines = text.split("\n")
    if len(lines) > 3:
        del lines[rng.randrange(1, len(lines) - 1)]
    lines.append(rng.choice(["Share this article", "Updated", "Comments (0)", "Print"]))
    return "\n".join(lines)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=50, help="megabytes of text to write")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--exact", type=float, default=0.04, help="share of exact duplicates")
    ap.add_argument("--near", type=float, default=0.04, help="share of near duplicates")
    ap.add_argument(
        "--corpus",
        default=os.path.join(here, "..", "..", "shared", "corpora", "web"),
        help="directory of web/*.jsonl.gz",
    )
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()

    docs = load(args.corpus)
    if not docs:
        raise SystemExit(f"no input documents under {args.corpus}")
    by_set = {}
    for d in docs:
        by_set.setdefault(d["set"], []).append(d)
    rng = random.Random(args.seed)
    target = int(args.mb * 1e6)
    written = 0
    recent = []  # texts a duplicate may copy (bounded, so memory stays flat)
    count = 0
    with gzip.open(args.output, "wt", encoding="utf-8", compresslevel=3) as out:
        round_no = 0
        while written < target:
            order = list(range(len(docs)))
            rng.shuffle(order)
            for i in order:
                if written >= target:
                    break
                d = docs[i]
                r = rng.random()
                if recent and r < args.exact:
                    text, kind = rng.choice(recent), "exact"
                elif recent and r < args.exact + args.near:
                    text, kind = near_copy(rng.choice(recent), rng), "near"
                elif round_no == 0:
                    text, kind = d["text"], "original"
                else:
                    text, kind = vary(d, by_set[d["set"]], rng), "variant"
                count += 1
                rec = {
                    "id": f"{d['set']}/{d['id']}/{count}",
                    "url": d["url"],
                    "text": text,
                    "bench_kind": kind,
                }
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")
                written += len(text.encode("utf-8"))
                if kind in ("original", "variant"):
                    if len(recent) < 2000:
                        recent.append(text)
                    else:
                        recent[rng.randrange(len(recent))] = text
            round_no += 1
    print(f"wrote {args.output}: {count} documents, {written / 1e6:.1f} MB of text, {round_no} rounds")


if __name__ == "__main__":
    main()
