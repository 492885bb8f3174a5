#!/usr/bin/env bash
# Regenerates docs/report.png, the README's picture of `sluicebox report`:
# cleans the sample dump with `--report` (deboilerplate's `explain` on, so
# the removed-lines section is filled) and screenshots the page in headless
# Chromium (Debian: apt-get install chromium). Run from anywhere:
#   scripts/report_screenshot.sh [OUT.png]   (default docs/report.png)
set -euo pipefail
cd "$(dirname "$0")/.."
png="${1:-docs/report.png}"
browser="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$browser" ] || { echo "error: $browser not found (set CHROMIUM=...)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sed 's/^type = "deboilerplate"$/type = "deboilerplate"\nexplain = true/' \
  config/default.toml > "$work/config.toml"
grep -q '^explain = true$' "$work/config.toml"

cargo run --release --quiet -- run -c "$work/config.toml" --threads 2 --quiet --report \
  -o "$work/sample-out" examples/sample.jsonl.gz || [ $? -eq 1 ]   # 1 = done with record errors
test -s "$work/sample-out/report.html"

mkdir -p "$(dirname "$png")"
"$browser" --headless --no-sandbox --disable-gpu --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --hide-scrollbars --user-data-dir="$work/profile" \
  --window-size=1280,2000 --screenshot="$work/shot.png" \
  "file://$work/sample-out/report.html" 2>/dev/null
cp "$work/shot.png" "$png"
echo "wrote $png ($(wc -c < "$png") bytes)"
