#!/usr/bin/env bash
# Run every fuzz target in parallel (one libFuzzer process each) and collect
# logs, crash/timeout/oom artifacts and the grown corpora.
#
#   fuzz/run-all.sh SECONDS RESULTS_DIR [BIN_DIR] [CORPUS_DIR]
#
# BIN_DIR holds the stripped target binaries (default: the directory of this
# script + /bin, i.e. .devcarry/fuzz/bin), CORPUS_DIR the seed corpora
# (default: ./corpus next to this script). Each target writes
# RESULTS_DIR/<target>/{log.txt,artifacts/,corpus/}; RESULTS_DIR/summary.txt
# lists per target: exec/s, executions, corpus size and artifacts found.
set -uo pipefail
secs="${1:?seconds}"; res="${2:?results dir}"
here="$(cd "$(dirname "$0")" && pwd)"
bin="${3:-$here/bin}"; seeds="${4:-$here/corpus}"
[ -d "$here/lib" ] && export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
mkdir -p "$res"
pids=()
while read -r t maxlen _; do
  case "$t" in ''|'#'*) continue;; esac
  [ -x "$bin/$t" ] || { echo "missing $bin/$t" >&2; continue; }
  mkdir -p "$res/$t/artifacts" "$res/$t/corpus"
  "$bin/$t" -timeout=10 -rss_limit_mb=4096 -max_len="$maxlen" -max_total_time="$secs" \
    -print_final_stats=1 -artifact_prefix="$res/$t/artifacts/" \
    "$res/$t/corpus" "$seeds/$t" > "$res/$t/log.txt" 2>&1 &
  pids+=($!)
done < "$here/targets.txt"
for p in "${pids[@]}"; do wait "$p"; done
{
  printf '%-14s %10s %12s %8s %s\n' target exec/s runs corpus artifacts
  for d in "$res"/*/; do
    t="$(basename "$d")"
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$d/log.txt" | grep -o '[0-9]*$' | tail -1)"
    eps="$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$d/log.txt" | grep -o '[0-9]*$' | tail -1)"
    printf '%-14s %10s %12s %8s %s\n' "$t" "${eps:-?}" "${runs:-?}" "$(ls "$d/corpus" | wc -l)" "$(ls "$d/artifacts" | tr '\n' ' ')"
  done
} > "$res/summary.txt"
cat "$res/summary.txt"
