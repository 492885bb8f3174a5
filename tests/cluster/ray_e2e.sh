#!/usr/bin/env bash
# End-to-end test of a sluicebox plan run by dist/ray_driver.py on a Ray
# cluster, against the single-machine `sluicebox run` on the same input.
#
#   tests/cluster/ray_e2e.sh SLUICEBOX_BIN
#
# Needs a running Ray cluster the driver can reach (tests/cluster/run.sh
# starts one) and a Python with `ray` ($PYTHON, default python3). Input: the
# two shards of tests/fixtures/cluster/ (cross-shard exact and near
# duplicates, a footer line frequent only across both shards). Config:
# $SLUICEBOX_E2E_CONFIG, else tests/fixtures/cluster/config.toml if present,
# else config/default.toml.
#
# Checks: (a) the plan's output equals `sluicebox run`'s (docs and rejects,
# sorted lines); (b) a second driver run runs nothing; (c) with a task aborted
# halfway (SLUICEBOX_FAULT_ABORT_TASK=clean:1, --retries 0) the driver fails
# and starts no later stage, and a rerun redoes that task, skips what was done,
# and gives the same output as (a).
set -euo pipefail
export LC_ALL=C

root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${1:-${SLUICEBOX_BIN:-}}"
[ -n "$bin" ] || { echo "usage: $0 SLUICEBOX_BIN" >&2; exit 2; }
[ -x "$bin" ] || { echo "error: $bin is not an executable sluicebox binary" >&2; exit 2; }
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
py="${PYTHON:-python3}"
driver="$root/dist/ray_driver.py"
fixture="$root/tests/fixtures/cluster"
config="${SLUICEBOX_E2E_CONFIG:-}"
if [ -z "$config" ]; then
  if [ -f "$fixture/config.toml" ]; then config="$fixture/config.toml"; else config="$root/config/default.toml"; fi
fi
inputs=("$fixture/shard-a.jsonl" "$fixture/shard-b.jsonl")
for f in "${inputs[@]}" "$config"; do [ -f "$f" ] || { echo "error: missing $f" >&2; exit 2; }; done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/sluicebox-ray-e2e.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
trap 'echo "FAIL: unexpected error at line $LINENO of ray_e2e.sh" >&2' ERR
checks=0
start_s=$SECONDS

ok() { checks=$((checks + 1)); echo "ok: $*"; }
die() { echo "FAIL: $*" >&2; exit 1; }

# The sorted lines of every KIND*.jsonl file of a run's output dir.
sorted_lines() { # DIR KIND OUTFILE
  local files=("$1"/"$2"*.jsonl)
  [ -e "${files[0]}" ] || die "no $2*.jsonl in $1: $(ls "$1" 2>&1 | tr '\n' ' ')"
  cat "${files[@]}" | sort > "$3"
}

same_output() { # REFERENCE_DIR DIR WHAT
  for kind in docs rejects; do
    sorted_lines "$1" "$kind" "$tmp/ref.$kind"
    sorted_lines "$2" "$kind" "$tmp/got.$kind"
    if ! cmp -s "$tmp/ref.$kind" "$tmp/got.$kind"; then
      echo "--- sorted $kind lines differ (< sluicebox run, > $3), first differences:" >&2
      diff "$tmp/ref.$kind" "$tmp/got.$kind" | cut -c1-300 | head -20 >&2 || true
      die "$3: $kind differ from sluicebox run's"
    fi
  done
  ok "$3: docs ($(wc -l < "$tmp/got.docs") lines) and rejects ($(wc -l < "$tmp/got.rejects") lines) equal sluicebox run's"
}

# The driver's last line, `tasks: R ran, S skipped[, F failed]`, as "R S".
summary() { # LOG
  local last
  last="$(tail -n 1 "$1")"
  [[ "$last" =~ ^tasks:\ ([0-9]+)\ ran,\ ([0-9]+)\ skipped ]] || die "no summary line in driver output: $last"
  echo "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
}

# Tasks of a plan, one "STAGE ID MARKER" per line, in plan order.
markers() { # PLAN
  "$py" -c 'import json,sys
p = json.load(open(sys.argv[1]))
for s in p["stages"]:
    for t in s["tasks"]:
        print(s["name"], t["id"], t["marker"])' "$1"
}

echo "== ray e2e: $bin, config $config"

# (a) sluicebox run vs plan + driver
"$bin" run -c "$config" -o "$tmp/run" "${inputs[@]}" > "$tmp/run.log" 2>&1 || { cat "$tmp/run.log" >&2; die "sluicebox run failed"; }
[ -s "$tmp/run/docs.jsonl" ] || die "sluicebox run wrote no docs"
[ -s "$tmp/run/rejects.jsonl" ] || die "sluicebox run rejected nothing: the fixture's duplicates were not found"
ok "sluicebox run: $(wc -l < "$tmp/run/docs.jsonl") docs, $(wc -l < "$tmp/run/rejects.jsonl") rejects"
# The fixture must exercise what only a cross-shard plan can get wrong (see
# tests/fixtures/cluster/make_fixture.py); otherwise equality proves little.
grep '"id":"nytimes-recrawl"' "$tmp/run/rejects.jsonl" | grep -q '"reason":"duplicate"' \
  || die "fixture: the cross-shard exact duplicate (nytimes-recrawl) is not rejected by sluicebox run"
grep '"id":"nbc-syndicated"' "$tmp/run/rejects.jsonl" | grep -q '"reason":"near_duplicate"' \
  || die "fixture: the cross-shard near duplicate (nbc-syndicated) is not rejected by sluicebox run"
grep -q 'harbourgazette.example' "$tmp/run/docs.jsonl" \
  || die "fixture: the harbourgazette.example pages are missing from sluicebox run's docs"
! grep -q 'Harbour Gazette is published every weekday' "$tmp/run/docs.jsonl" \
  || die "fixture: the footer frequent only across both shards was not removed by sluicebox run"
ok "fixture: cross-shard exact and near duplicates rejected, cross-shard footer removed"

"$bin" plan -c "$config" --work "$tmp/w1" -o "$tmp/out1" --partitions 2 --shards 2 "${inputs[@]}" > "$tmp/plan1.log" 2>&1 \
  || { cat "$tmp/plan1.log" >&2; die "sluicebox plan failed"; }
[ -f "$tmp/w1/plan.json" ] || die "sluicebox plan wrote no $tmp/w1/plan.json"
total="$(markers "$tmp/w1/plan.json" | wc -l)"
[ "$total" -gt 0 ] || die "the plan has no tasks"
ok "sluicebox plan: $total tasks"

"$py" "$driver" "$tmp/w1/plan.json" > "$tmp/drv1.log" 2> "$tmp/drv1.err" || { cat "$tmp/drv1.log" "$tmp/drv1.err" >&2; die "driver failed on the plan"; }
cat "$tmp/drv1.log"
[ "$(summary "$tmp/drv1.log")" = "$total 0" ] || die "first driver run: expected '$total ran, 0 skipped': $(tail -n 1 "$tmp/drv1.log")"
ok "driver ran all $total tasks"
same_output "$tmp/run" "$tmp/out1" "(a) plan on Ray"

# (b) a second run skips every task
"$py" "$driver" "$tmp/w1/plan.json" > "$tmp/drv2.log" 2> "$tmp/drv2.err" || { cat "$tmp/drv2.log" "$tmp/drv2.err" >&2; die "second driver run failed"; }
[ "$(summary "$tmp/drv2.log")" = "0 $total" ] || die "(b) second driver run: expected '0 ran, $total skipped': $(tail -n 1 "$tmp/drv2.log")"
ok "(b) second driver run: 0 ran, $total skipped"
same_output "$tmp/run" "$tmp/out1" "(b) output after the second run"

# (c) a task aborted halfway, then a rerun
"$bin" plan -c "$config" --work "$tmp/w2" -o "$tmp/out2" --partitions 2 --shards 2 "${inputs[@]}" > "$tmp/plan2.log" 2>&1 \
  || { cat "$tmp/plan2.log" >&2; die "sluicebox plan (fresh work dir) failed"; }
markers "$tmp/w2/plan.json" > "$tmp/markers2"
grep -q '^clean ' "$tmp/markers2" || die "the plan has no stage named clean"
[ "$(grep -c '^clean ' "$tmp/markers2")" -ge 2 ] || die "the plan's clean stage has fewer than 2 tasks"
rc=0
SLUICEBOX_FAULT_ABORT_TASK=clean:1 "$py" "$driver" "$tmp/w2/plan.json" --retries 0 > "$tmp/drv3.log" 2> "$tmp/drv3.err" || rc=$?
[ "$rc" -ne 0 ] || { cat "$tmp/drv3.log" "$tmp/drv3.err" >&2; die "(c) the driver succeeded although task clean:1 aborted"; }
read -r _ clean1_id clean1_marker <<< "$(grep '^clean ' "$tmp/markers2" | sed -n 2p)"
grep -qF "$clean1_id" "$tmp/drv3.err" || { cat "$tmp/drv3.err" >&2; die "(c) the driver's error does not name task $clean1_id"; }
ok "(c) faulted run fails (exit $rc) naming $clean1_id"
# No marker of the aborted task nor of any later stage.
[ ! -e "$clean1_marker" ] || die "(c) the aborted task left its marker $clean1_marker"
after_clean="$(awk '$1 == "clean" { seen = 1; next } seen { print $3 }' "$tmp/markers2")"
for m in $after_clean; do [ ! -e "$m" ] || die "(c) a later stage ran after the failure: $m exists"; done
done_before="$(awk '{ print $3 }' "$tmp/markers2" | while read -r m; do if [ -e "$m" ]; then echo "$m"; fi; done | wc -l)"
[ "$done_before" -gt 0 ] || die "(c) no task was done before the fault: the rerun would not show resuming"
ok "(c) no marker for $clean1_id nor any later stage; $done_before tasks done before the fault"

"$py" "$driver" "$tmp/w2/plan.json" > "$tmp/drv4.log" 2> "$tmp/drv4.err" || { cat "$tmp/drv4.log" "$tmp/drv4.err" >&2; die "(c) rerun without the fault failed"; }
cat "$tmp/drv4.log"
read -r ran skipped <<< "$(summary "$tmp/drv4.log")"
if [ "$skipped" -ne "$done_before" ] || [ $((ran + skipped)) -ne "$total" ]; then
  die "(c) rerun: expected $((total - done_before)) ran, $done_before skipped: $(tail -n 1 "$tmp/drv4.log")"
fi
[ -e "$clean1_marker" ] || die "(c) rerun: $clean1_id has no marker"
ok "(c) rerun resumed: $ran ran ($clean1_id redone), $skipped skipped"
same_output "$tmp/run" "$tmp/out2" "(c) output after the aborted task was redone"

echo "ray e2e: all $checks checks passed in $((SECONDS - start_s)) s"
