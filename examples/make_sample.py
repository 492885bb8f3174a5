#!/usr/bin/env python3
"""Build examples/sample.jsonl.gz, the bundled sample dump, from permissively
licensed real data (see tests/fixtures/SOURCES.md). Deterministic: rerunning
gives the same file. Needs ../shared/corpora beside the checkout.

Contents (in this order, shuffled deterministically):
  * the three seed pages (shared/seeds, the project's own);
  * readability test pages (Apache-2.0), article-extraction-benchmark pages (MIT),
    grover RealNews samples (Apache-2.0), dolma Common Crawl test docs
    (Apache-2.0), Hugging Face dummy C4/OpenWebText/Pile docs (Apache-2.0 / ODC-BY),
    UDHR translations (public domain);
  * realistic damage made from those texts: exact re-crawls, syndicated copies
    with a changed header/footer, and a few paragraphs mis-decoded as
    windows-1252 (mojibake), so every stage has something to do.
"""
import gzip, json, random, os, sys

here = os.path.dirname(os.path.abspath(__file__))
corpora = os.path.join(here, "..", "..", "shared", "corpora")
seeds = os.path.join(here, "..", "..", "shared", "seeds")

def read(name, n):
    out = []
    with gzip.open(os.path.join(corpora, name), "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            out.append({"id": r["id"], "source": r.get("source", name.split("/")[-1].split(".")[0]),
                        "url": r.get("url"), "text": r["text"]})
            if len(out) >= n:
                break
    return out

docs = []
for name in sorted(os.listdir(seeds)):
    with open(os.path.join(seeds, name), encoding="utf-8") as f:
        docs.append({"id": "seeds/" + name, "source": "seeds", "url": None, "text": f.read()})
docs += read("web/readability.jsonl.gz", 45)
docs += read("web/article_extraction_benchmark.jsonl.gz", 45)
docs += read("web/grover_realnews_samples.jsonl.gz", 13)
docs += read("web/dolma_tests_cc.jsonl.gz", 30)
docs += read("web/hf_dummy_samples.jsonl.gz", 14)
udhr = read("multilingual/udhr2_unicode.jsonl.gz", 400)
rng = random.Random(20261122)
docs += [d for d in udhr if d["id"].split("/")[-1].split("_")[0] in
         ("eng", "deu", "fra", "spa", "rus", "pol", "cmn", "arb", "hin", "jpn")][:10]

extra = []
aeb = [d for d in docs if d["source"].startswith("article_extraction")]
for i, d in enumerate(aeb[:6]):
    # The same page crawled again.
    extra.append(dict(d, id=d["id"] + "/recrawl"))
for i, d in enumerate(aeb[6:12]):
    # Syndicated elsewhere: other site furniture around the same article.
    lines = d["text"].split("\n")
    cut = max(1, len(lines) // 10)
    t = "Syndicated from our partners\n\n" + "\n".join(lines[cut:]) + "\n\nShare this article\nNewsletter sign-up"
    extra.append(dict(d, id=d["id"] + "/syndicated", url=None, text=t))
for d in [x for x in docs if x["source"] == "readability"][:5]:
    # Paragraphs decoded as windows-1252 somewhere upstream.
    paras = d["text"].split("\n\n")
    for k in range(0, len(paras), 3):
        try:
            paras[k] = paras[k].encode("utf-8").decode("cp1252")
        except UnicodeDecodeError:
            pass
    extra.append(dict(d, id=d["id"] + "/mojibake", text="\n\n".join(paras)))
docs += extra
rng.shuffle(docs)
out = os.path.join(here, "sample.jsonl.gz")
with gzip.GzipFile(out, "wb", mtime=0) as f:
    for d in docs:
        f.write((json.dumps(d, ensure_ascii=False) + "\n").encode("utf-8"))
print(f"wrote {out}: {len(docs)} documents", file=sys.stderr)
