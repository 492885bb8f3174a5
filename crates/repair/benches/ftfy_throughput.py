"""Times ftfy.fix_text on the documents of a JSONL file (one {"text": ...}
per line), single thread, for comparison with the mojibake stage.
Run by benches/mojibake_throughput.rs with a throwaway venv's python:
    python3 -m venv /tmp/venv-ftfy && /tmp/venv-ftfy/bin/pip install ftfy
Prints one line: `ftfy <version> fix_text: <bytes> bytes in <s> s = <MB/s> MB/s, <n> docs changed`.
"""
import json
import sys
import time

import ftfy

texts = [json.loads(line)["text"] for line in open(sys.argv[1], encoding="utf-8")]
size = sum(len(t.encode("utf-8")) for t in texts)
start = time.perf_counter()
changed = sum(1 for t in texts if ftfy.fix_text(t) != t)
secs = time.perf_counter() - start
print(f"ftfy {ftfy.__version__} fix_text: {size} bytes in {secs:.2f} s = {size / secs / 1e6:.2f} MB/s, {changed} docs changed")
