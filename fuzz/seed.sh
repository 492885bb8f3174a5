#!/usr/bin/env bash
# Seed the fuzz corpora from tests/fixtures (and config/).
# Usage: fuzz/seed.sh [OUT_DIR]   (default: fuzz/corpus); one folder per target.
# Needs python3, iconv, gzip and zstd. Idempotent: files are named by content.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
fx="$root/tests/fixtures"
out="${1:-$here/corpus}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# put TARGET FILE...: copy each file into the target's corpus under a
# content-hash name (libFuzzer's own naming).
put() {
  local t="$1"; shift
  mkdir -p "$out/$t"
  for f in "$@"; do
    [ -s "$f" ] || continue
    cp "$f" "$out/$t/$(sha1sum "$f" | cut -c1-40)"
  done
}

texts=("$fx"/seeds/*.txt "$fx"/segment/*.txt "$fx"/spinner/*.txt "$fx"/decode/*.txt)

# Short texts pulled out of the JSON test tables (ftfy cases, sentence
# boundary golden rules): small inputs mutate fastest.
python3 - "$fx" "$tmp" <<'PY'
import json, os, sys
fx, tmp = sys.argv[1], sys.argv[2]
def dump(sub, items):
    d = os.path.join(tmp, sub); os.makedirs(d, exist_ok=True)
    for i, s in enumerate(items):
        with open(os.path.join(d, f"{i:05}"), "w", encoding="utf-8") as f:
            f.write(s)
moji = []
for name in ["synthetic", "in-the-wild", "negative", "known-failures", "language-names"]:
    p = os.path.join(fx, "ftfy", name + ".json")
    if os.path.exists(p):
        moji += [c["original"] for c in json.load(open(p, encoding="utf-8")) if "original" in c]
dump("mojibake", moji)
sbd = []
for name in ["golden_rules_en", "pragmatic_segmenter_golden_rules"]:
    p = os.path.join(fx, "sbd", name + ".json")
    if os.path.exists(p):
        sbd += [c["text"] for c in json.load(open(p, encoding="utf-8")) if "text" in c]
p = os.path.join(fx, "sbd", "pysbd_tests_all_languages.json")
if os.path.exists(p):
    sbd += [c["text"] for c in json.load(open(p, encoding="utf-8"))][::10]
dump("segment", sbd)
# JSONL records: each text as a record, plus awkward shapes.
recs = [json.dumps({"id": f"r{i}", "text": t, "url": "https://example.org/a"}, ensure_ascii=(i % 2 == 0))
        for i, t in enumerate(moji[:60] + sbd[:60])]
recs += ['{"text":"a","text":"b"}', '{"id":1,"text":"x","charset":"windows-1252"}',
         '{"text":"\\ud83d lone"}', '{"text":null}', '{"text":["a"]}', '{"title":"no text"}',
         '{"text":"x","meta":{"a":[1,2,{"b":null}]}}', '[1,2]', '{"text":"\\u0000"}']
dump("record", recs)
with open(os.path.join(tmp, "sample.jsonl"), "w", encoding="utf-8") as f:
    f.write("\n".join(recs[::4]) + "\n{broken\n\n" + recs[1] + "\r\n")
PY
put mojibake "$tmp"/mojibake/*
put segment "$tmp"/segment/* "$fx"/segment/*.txt "$fx"/seeds/*.txt
put record "$tmp"/record/*
for t in spinner deboilerplate; do put "$t" "${texts[@]}" "$tmp"/mojibake/0000*; done
put mojibake "$fx"/seeds/*.txt "$fx"/decode/*.txt

# decode: the UTF-8 fixtures and the same texts in legacy encodings.
put decode "${texts[@]}"
for pair in rus:WINDOWS-1251 rus:KOI8-R ell:ISO-8859-7 ces:WINDOWS-1250 jpn:SHIFT_JIS jpn:EUC-JP jpn:ISO-2022-JP ces:UTF-16LE rus:UTF-16; do
  lang="${pair%%:*}"; enc="${pair#*:}"
  head -c 3000 "$fx/decode/udhr_$lang.txt" | iconv -c -f UTF-8 -t "$enc" > "$tmp/dec-$lang-$enc" 2>/dev/null || true
  put decode "$tmp/dec-$lang-$enc"
done

# dedupe and the whole chain: several documents separated by NUL, with
# copies and near-copies so the duplicate paths run.
for f in "$fx"/seeds/*.txt "$fx"/segment/002_article_*.txt; do
  b="$(basename "$f")"
  { head -c 3000 "$f"; printf '\0'; head -c 3000 "$f"; printf '\0'; head -c 2500 "$f"; printf ' extra words here.\0short'; } > "$tmp/multi-$b"
  put dedupe "$tmp/multi-$b"
  put chain "$tmp/multi-$b"
done
put chain "$tmp"/dec-*

# reader: first byte selects format (byte % 6: jsonl, lines, files, wet,
# warc, parquet) and the size limit (byte / 6 % 4: 16, 256, 4096, 1 MiB);
# then the file, plain, gzip or zstd.
for sel in 12 13 14 6 18; do
  printf "\\x$(printf %02x $sel)" > "$tmp/sel"
  cat "$tmp/sel" "$tmp/sample.jsonl" > "$tmp/rd-$sel-plain"
  gzip -c "$tmp/sample.jsonl" | cat "$tmp/sel" - > "$tmp/rd-$sel-gz"
  zstd -q -c "$tmp/sample.jsonl" | cat "$tmp/sel" - > "$tmp/rd-$sel-zst"
  put reader "$tmp/rd-$sel-plain" "$tmp/rd-$sel-gz" "$tmp/rd-$sel-zst"
done
if [ -d "$fx/formats" ]; then
  for f in "$fx"/formats/*; do
    case "$f" in *.md) continue;; esac
    case "$f" in *.wet*) sel='\x15';; *.warc*) sel='\x16';; *.parquet) sel='\x17';; *) sel='\x12';; esac
    { printf "$sel"; head -c 60000 "$f"; } > "$tmp/rd-fmt-$(basename "$f")"
    put reader "$tmp/rd-fmt-$(basename "$f")"
  done
fi

# config: the shipped configs and a few with every section.
put config "$root"/config/*.toml
cat > "$tmp/cfg-full.toml" <<'TOML'
[run]
threads = 2
batch_size = 7
on_error = "abort"
[input]
format = "jsonl"
text_field = "body"
[output]
compression = "zstd"
[[stages]]
id = "decode"
type = "decode"
[[stages]]
id = "segment"
type = "segment"
sentences = true
min_articles = 3
[sources.news]
hosts = ["*.example.org"]
[sources.news.stages.segment]
enabled = false
TOML
put config "$tmp/cfg-full.toml"

for d in "$out"/*; do echo "$(basename "$d"): $(ls "$d" | wc -l) files"; done
