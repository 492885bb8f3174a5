#!/usr/bin/env python3
"""The baseline of issue 12: datatrove's cleaning pipeline on the same input.

FTFYFormatter + C4QualityFilter + GopherRepetitionFilter + exact dedup
(ExactDedupSignature -> ExactFindDedups -> ExactDedupFilter), with N tasks on
N local workers. Prints the wall time and MB/s of text. Not a project
dependency: run it in a throwaway venv, pinned to the same cores as the
sluicebox run it is compared with (benches/compare_datatrove.sh does both).

    python3 -m venv /tmp/venv-datatrove
    /tmp/venv-datatrove/bin/pip install datatrove ftfy spacy nltk
    /tmp/venv-datatrove/bin/python benches/datatrove_baseline.py --workers 2 INPUT.jsonl.gz
"""

import argparse
import gzip
import json
import os
import shutil
import sys
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input", help="a .jsonl.gz file with a `text` field")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    from datatrove.executor.local import LocalPipelineExecutor
    from datatrove.pipeline.dedup.exact_dedup import (
        ExactDedupConfig,
        ExactDedupFilter,
        ExactDedupSignature,
        ExactFindDedups,
    )
    from datatrove.pipeline.filters import C4QualityFilter, GopherRepetitionFilter
    from datatrove.pipeline.formatters import FTFYFormatter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    text_bytes = 0
    with gzip.open(args.input, "rt", encoding="utf-8") as f:
        for line in f:
            text_bytes += len(json.loads(line)["text"].encode("utf-8"))

    work = tempfile.mkdtemp(prefix="datatrove-baseline-")
    data_dir = os.path.join(work, "in")
    os.makedirs(data_dir)
    # One file per task, so the N workers share the input.
    outs = [gzip.open(os.path.join(data_dir, f"part{i}.jsonl.gz"), "wt") for i in range(args.workers)]
    with gzip.open(args.input, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f):
            d = json.loads(line)
            outs[n % args.workers].write(json.dumps({"id": str(d.get("id", n)), "text": d["text"]}) + "\n")
    for o in outs:
        o.close()

    cfg = ExactDedupConfig(content_getter=lambda doc: doc.text)
    t0 = time.time()
    stage1 = LocalPipelineExecutor(
        pipeline=[
            JsonlReader(data_dir),
            FTFYFormatter(),
            C4QualityFilter(filter_no_terminal_punct=False),
            GopherRepetitionFilter(),
            JsonlWriter(os.path.join(work, "filtered")),
            ExactDedupSignature(output_folder=os.path.join(work, "sigs"), config=cfg),
        ],
        tasks=args.workers,
        workers=args.workers,
        logging_dir=os.path.join(work, "logs1"),
    )
    stage1.run()
    stage2 = LocalPipelineExecutor(
        pipeline=[
            ExactFindDedups(
                data_folder=os.path.join(work, "sigs"),
                output_folder=os.path.join(work, "dups"),
                config=cfg,
            )
        ],
        tasks=1,
        workers=1,
        logging_dir=os.path.join(work, "logs2"),
        depends=stage1,
    )
    stage3 = LocalPipelineExecutor(
        pipeline=[
            JsonlReader(os.path.join(work, "filtered")),
            ExactDedupFilter(data_folder=os.path.join(work, "dups"), config=cfg),
            JsonlWriter(os.path.join(work, "out")),
        ],
        tasks=args.workers,
        workers=args.workers,
        logging_dir=os.path.join(work, "logs3"),
        depends=stage2,
    )
    stage3.run()
    wall = time.time() - t0
    print(
        f"datatrove: {text_bytes / 1e6:.1f} MB of text, {args.workers} workers, "
        f"{wall:.1f} s, {text_bytes / 1e6 / wall:.2f} MB/s"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
