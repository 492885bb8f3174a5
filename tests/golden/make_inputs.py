#!/usr/bin/env python3
"""Regenerate the golden inputs (real text, see tests/fixtures/SOURCES.md).
Texts: seed 000 (project seed) and UDHR translations (public domain)."""
import gzip, json, os
here = os.path.dirname(os.path.abspath(__file__))
shared = os.path.join(here, "..", "..", "..", "shared")
seed = open(os.path.join(shared, "seeds", "000_e7f6ed2af000063c.txt"), encoding="utf-8").read()
udhr = {}
with gzip.open(os.path.join(shared, "corpora", "multilingual", "udhr2_unicode.jsonl.gz"), "rt") as f:
    for line in f:
        r = json.loads(line)
        udhr.setdefault(r["lang"], r["text"])
def para(lang, n=600):
    t = udhr[lang]
    return t[:t.rfind("\n", 0, n)].strip() + "\n"

d = os.path.join(here, "decode_files", "input")
head = "\n".join(seed.split("\n")[:12])
open(os.path.join(d, "seed000-windows-1252.txt"), "wb").write(head.replace("\n", "\r\n").encode("cp1252"))
open(os.path.join(d, "seed000-utf16le-bom.txt"), "wb").write(b"\xff\xfe" + head.encode("utf-16-le"))
mixed = head.encode("utf-8").replace("Taiwan’s".encode("utf-8"), "Taiwan’s".encode("cp1252"))
open(os.path.join(d, "seed000-mixed-utf8-cp1252.txt"), "wb").write(mixed)
open(os.path.join(d, "udhr-rus-windows-1251.txt"), "wb").write(para("rus").encode("cp1251"))
open(os.path.join(d, "udhr-jpn-shift_jis.txt"), "wb").write(para("jpn").encode("shift_jis"))
open(os.path.join(d, "udhr-pol-iso-8859-2.txt"), "wb").write(para("pol").encode("iso-8859-2"))
open(os.path.join(d, "empty.txt"), "wb").write(b"")

d = os.path.join(here, "jsonl_passthrough", "input")
recs = [
    {"id": "seed/000", "url": "https://www.express.co.uk/news/world/1234", "meta": {"crawl": "CC-MAIN-2021-39", "score": 0.93}, "text": head},
    {"url": None, "text": para("deu"), "lang": "deu", "source": "udhr"},
    {"id": 7, "text": para("fra"), "tags": ["udhr", "fr"]},
]
with open(os.path.join(d, "dump.jsonl"), "w", encoding="utf-8") as f:
    for r in recs:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
    f.write('{"id":"bad","text":["not","a","string"]}\n')
