#!/usr/bin/env bash
# Issue 12's comparison, both tools in one run on the same two cores:
# sluicebox's default pipeline vs datatrove's cleaning pipeline
# (benches/datatrove_baseline.py) on the same 16 MB slice of the web corpus.
#
#   benches/compare_datatrove.sh [CORES]   (default CORES=0,1)
#
# Needs a release build (cargo build --release) and the datatrove venv
# described in benches/datatrove_baseline.py.
set -euo pipefail
cd "$(dirname "$0")/.."
cores=${1:-0,1}
venv=${DATATROVE_VENV:-/tmp/venv-datatrove}
corpus=../shared/corpora/web
slice=$(mktemp -d)/web-16mb.jsonl.gz
python3 - "$corpus" "$slice" <<'PY'
import glob, gzip, json, sys
corpus, out = sys.argv[1], sys.argv[2]
n = 0
with gzip.open(out, "wt", encoding="utf-8") as o:
    for path in sorted(glob.glob(corpus + "/*.jsonl.gz")):
        for line in gzip.open(path, "rt", encoding="utf-8"):
            d = json.loads(line)
            if n >= 16_000_000:
                break
            o.write(json.dumps({"id": d["id"], "url": d.get("url"), "text": d["text"]}) + "\n")
            n += len(d["text"].encode())
print(f"slice: {out}, {n/1e6:.1f} MB of text")
PY
echo "--- sluicebox, default pipeline, 2 threads, cores $cores"
taskset -c "$cores" target/release/sluicebox bench --threads 2 "$slice"
echo "--- datatrove, 2 workers, cores $cores"
taskset -c "$cores" "$venv/bin/python" benches/datatrove_baseline.py --workers 2 "$slice"
