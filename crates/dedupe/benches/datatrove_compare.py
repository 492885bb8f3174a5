"""Compare sluicebox's dedupe stage with datatrove's four-step MinHash dedup.

Not a project dependency: run in a throwaway venv.

    python3 -m venv /tmp/venv-datatrove
    /tmp/venv-datatrove/bin/pip install datatrove regex nltk spacy
    # 1. our side (writes the dropped ids):
    DEDUPE_DROPPED_OUT=/tmp/sluicebox-dedupe-dropped.tsv \
        cargo bench -p sluicebox-dedupe --bench dedup_scale -- web --threads 2
    # 2. datatrove on the same files with 2 tasks / 2 workers, then the comparison:
    /tmp/venv-datatrove/bin/python crates/dedupe/benches/datatrove_compare.py \
        [--corpus ../shared/corpora/web] [--ours /tmp/sluicebox-dedupe-dropped.tsv] \
        [--buckets 14 --rows 12]

Same word 5-grams; datatrove has no threshold parameter and no verification
step, so its bands are chosen for an S-curve centred near 0.8:
(1/14)^(1/12) = 0.80 (datatrove's default 14 x 8 is centred near 0.72).

Reports each tool's wall time and MB/s, the removed-document sets, the
duplicate pairs (documents in the same cluster) each tool found, and the
exact Jaccard (lowercased \\w+ word 5-grams) of the pairs only one tool found.
"""

import argparse
import glob
import gzip
import json
import os
import re
import shutil
import statistics
import tempfile
import time


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=os.path.join(here, "../../../../shared/corpora/web"))
    ap.add_argument("--ours", default="/tmp/sluicebox-dedupe-dropped.tsv")
    ap.add_argument("--buckets", type=int, default=14)
    ap.add_argument("--rows", type=int, default=12)
    ap.add_argument("--tasks", type=int, default=2)
    ap.add_argument("--reuse", help="skip the datatrove run; load the ids it saved to /tmp/datatrove-slim.json")
    args = ap.parse_args()

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers.jsonl import JsonlWriter

    corpus = os.path.abspath(args.corpus)
    files = sorted(glob.glob(os.path.join(corpus, "*.jsonl.gz")))
    total_bytes = 0
    texts = {}
    for f in files:
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                d = json.loads(line)
                texts[d["id"]] = d["text"]
                total_bytes += len(d["text"].encode("utf-8"))
    print(f"corpus: {len(files)} files, {len(texts)} documents, {total_bytes / 1e6:.1f} MB of text")

    if args.reuse:
        with open(args.reuse) as fh:
            saved = json.load(fh)
        removed, kept, work = saved["removed"], saved["kept"], None
    else:
        work = tempfile.mkdtemp(prefix="dt-minhash-")
        cfg = MinhashConfig(n_grams=5, num_buckets=args.buckets, hashes_per_bucket=args.rows)
        reader = lambda: JsonlReader(corpus, glob_pattern="*.jsonl.gz", text_key="text", id_key="id")
        slim = lambda self, doc: {"id": doc.id, "cluster": doc.metadata.get("minhash_cluster_id", -1)}
        steps = [
            ("signatures", [reader(), MinhashDedupSignature(output_folder=f"{work}/sigs", config=cfg)], args.tasks),
            ("buckets", [MinhashDedupBuckets(input_folder=f"{work}/sigs", output_folder=f"{work}/buckets", config=cfg)], cfg.num_buckets),
            ("cluster", [MinhashDedupCluster(input_folder=f"{work}/buckets", output_folder=f"{work}/remove", config=cfg, save_cluster_id=True)], 1),
            ("filter", [
                reader(),
                MinhashDedupFilter(
                    input_folder=f"{work}/remove",
                    exclusion_writer=JsonlWriter(f"{work}/removed", adapter=slim, compression=None),
                    load_cluster_ids=True,
                ),
                JsonlWriter(f"{work}/kept", adapter=slim, compression=None),
            ], args.tasks),
        ]
        times = {}
        for name, pipeline, tasks in steps:
            t0 = time.time()
            LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=args.tasks,
                                  logging_dir=f"{work}/logs/{name}").run()
            times[name] = time.time() - t0
        total = sum(times.values())
        print("datatrove (%d tasks, %d x %d bands): %s; total %.1f s, %.2f MB/s"
              % (args.tasks, cfg.num_buckets, cfg.hashes_per_bucket,
                 ", ".join(f"{k} {v:.1f} s" for k, v in times.items()), total, total_bytes / 1e6 / total))

        def read_slim(folder):
            out = []
            for f in glob.glob(f"{folder}/*.jsonl"):
                with open(f) as fh:
                    out.extend(json.loads(l) for l in fh)
            return out

        removed = read_slim(f"{work}/removed")
        kept = read_slim(f"{work}/kept")
    dt_removed = {d["id"] for d in removed}
    dt_clusters = {}
    for d in removed + kept:
        if d["cluster"] != -1:
            dt_clusters.setdefault(d["cluster"], []).append(d["id"])

    ours_removed = set()
    ours_clusters = {}
    ours_direct = []  # (dropped, duplicate_of): the pairs the stage verified
    with open(args.ours) as fh:
        for line in fh:
            doc_id, reason, of = line.rstrip("\n").split("\t")
            ours_removed.add(doc_id)
            ours_clusters.setdefault(of, [of]).append(doc_id)
            ours_direct.append((doc_id, of))
    dt_cluster_of = {d["id"]: d["cluster"] for d in removed + kept if d["cluster"] != -1}

    def pairs(clusters):
        out = set()
        for members in clusters.values():
            m = sorted(set(members))
            for i in range(len(m)):
                for j in range(i + 1, len(m)):
                    out.add((m[i], m[j]))
        return out

    word = re.compile(r"\w+")

    def shingles(t):
        w = [x.lower() for x in word.findall(t)]
        return {tuple(w[i:i + 5]) for i in range(max(1, len(w) - 4))}

    def jac(a, b):
        sa, sb = shingles(texts.get(a, "")), shingles(texts.get(b, ""))
        return len(sa & sb) / max(1, len(sa | sb))

    po, pd = pairs(ours_clusters), pairs(dt_clusters)
    both = po & pd
    print(f"removed documents: sluicebox {len(ours_removed)}, datatrove {len(dt_removed)}, both {len(ours_removed & dt_removed)}, "
          f"Jaccard of the sets {len(ours_removed & dt_removed) / max(1, len(ours_removed | dt_removed)):.3f}")
    print(f"duplicate pairs (same cluster): sluicebox {len(po)}, datatrove {len(pd)}, both {len(both)}; "
          f"{len(both) / max(1, len(pd)):.3f} of datatrove's found by sluicebox, {len(both) / max(1, len(po)):.3f} of sluicebox's found by datatrove")

    same = [p for p in ours_direct if p[0] in dt_cluster_of and dt_cluster_of.get(p[0]) == dt_cluster_of.get(p[1])]
    print(f"sluicebox's direct pairs (dropped, duplicate_of): {len(ours_direct)}; in one datatrove cluster: {len(same)}")
    js = [jac(a, b) for a, b in ours_direct]
    if js:
        print(f"  exact Jaccard of sluicebox's direct pairs (original texts): median {statistics.median(js):.3f}, "
              f"min {min(js):.3f}, below 0.8: {sum(j < 0.8 for j in js)}, below 0.75: {sum(j < 0.75 for j in js)}")
    for name, only in (("only sluicebox", po - pd), ("only datatrove", pd - po), ("both", both)):
        sample = sorted(only)[:300]
        js = [jac(a, b) for a, b in sample]
        if js:
            below = sum(j < 0.8 for j in js)
            print(f"{name}: {len(only)} pairs; exact Jaccard of {len(js)} checked: median {statistics.median(js):.3f}, "
                  f"min {min(js):.3f}, below 0.8: {below}")
        else:
            print(f"{name}: 0 pairs")
    if work:
        with open("/tmp/datatrove-slim.json", "w") as fh:
            json.dump({"removed": removed, "kept": kept}, fh)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
