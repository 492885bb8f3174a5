#!/usr/bin/env bash
# The Ray tests, as CI runs them (.ci/run calls this), runnable by hand too:
#
#   bash tests/cluster/run.sh [SLUICEBOX_BIN]
#
# 1. installs the pinned Ray (core package only) into a venv,
# 2. starts a one-node Ray cluster on loopback only (2 CPUs, small object
#    store, no dashboard, no usage stats), in its own temp dir,
# 3. runs the driver's self-test (shell-task plans) and, when given a
#    sluicebox binary, the end-to-end test against `sluicebox run`,
# 4. always stops the cluster with `ray stop`, even on failure.
#
# Env: SLUICEBOX_RAY_VENV (venv dir; reused when it already holds the pinned
# Ray), PYTHON (the python3 that creates the venv).
set -euo pipefail
cd "$(dirname "$0")/../.."

# Pinned: the newest Ray on PyPI when this was written, with a manylinux
# wheel for CPython 3.11 (the CI machine's python3); core package, no extras.
RAY_VERSION=2.60.0
bin="${1:-}"
venv="${SLUICEBOX_RAY_VENV:-${TMPDIR:-/tmp}/sluicebox-ray-venv-$RAY_VERSION}"
base_python="${PYTHON:-python3}"
t0=$SECONDS

echo "== ray $RAY_VERSION: venv $venv"
if ! "$venv/bin/python" -c "import ray, sys; sys.exit(ray.__version__ != '$RAY_VERSION')" 2>/dev/null; then
  rm -rf "$venv"
  "$base_python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "ray==$RAY_VERSION"
fi
py="$venv/bin/python"
ray="$venv/bin/ray"
echo "installed in $((SECONDS - t0)) s: $("$py" -c 'import ray, sys; print("ray", ray.__version__, "on Python", sys.version.split()[0])')"

# Loopback only. Ray replaces 127.0.0.1 by the machine's routable address
# unless it is told this is a single-machine cluster (the switch is named for
# the platforms where that is the default); the driver needs the same switch.
export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0
export RAY_USAGE_STATS_ENABLED=0
port="$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
ray_tmp="$(mktemp -d "${TMPDIR:-/tmp}/sluicebox-ray.XXXXXX")"
stop_ray() {
  local rc=$?
  echo "== ray stop"
  "$ray" stop > "$ray_tmp/stop.log" 2>&1 || { cat "$ray_tmp/stop.log" >&2; rc=1; }
  grep -o "Stopped all.*" "$ray_tmp/stop.log" || tail -n 1 "$ray_tmp/stop.log"
  rm -rf "$ray_tmp"
  exit "$rc"
}
trap stop_ray EXIT
trap 'exit 130' INT TERM

echo "== ray start (127.0.0.1:$port)"
# A SLUICEBOX_* variable only the cluster has: the self-test checks that the
# driver's environment, not the workers', decides what tasks see.
SLUICEBOX_SELFTEST_WORKER_ONLY=leaked \
  "$ray" start --head --node-ip-address=127.0.0.1 --port="$port" --num-cpus=2 \
  --object-store-memory=150000000 --include-dashboard=false --disable-usage-stats \
  --temp-dir="$ray_tmp" > "$ray_tmp/start.log" 2>&1 || { cat "$ray_tmp/start.log" >&2; exit 1; }
export RAY_ADDRESS="127.0.0.1:$port"

check_loopback() {
  command -v ss > /dev/null || { echo "(ss not found: listening addresses not checked)"; return 0; }
  local wide
  wide="$(ss -Hltnup 2> /dev/null | grep -E '"(gcs_server|raylet|ray::[^"]*)"' \
    | awk '{ print $5, $7 }' | grep -vE '^(127\.0\.0\.1|\[::ffff:127\.0\.0\.1\]|\[::1\]):' || true)"
  [ -z "$wide" ] || { echo "FAIL: Ray listens beyond loopback:" >&2; echo "$wide" >&2; exit 1; }
  echo "Ray listens on loopback only ($(ss -Hltnup 2> /dev/null | grep -cE '"(gcs_server|raylet|ray::[^"]*)"') sockets)"
}
check_loopback
echo "cluster up in $((SECONDS - t0)) s"

echo "== driver self-test (shell-task plans)"
unset SLUICEBOX_SELFTEST_WORKER_ONLY
timeout 180 "$py" tests/cluster/driver_selftest.py --worker-only-var SLUICEBOX_SELFTEST_WORKER_ONLY

if [ -n "$bin" ]; then
  echo "== end-to-end: plan on Ray vs sluicebox run"
  if "$bin" help plan > /dev/null 2>&1; then
    PYTHON="$py" timeout 300 bash tests/cluster/ray_e2e.sh "$bin"
  else
    echo "FAIL: $bin has no \`plan\` command" >&2
    exit 1
  fi
else
  echo "(no sluicebox binary given: end-to-end test not run)"
fi
check_loopback
echo "ray tests done in $((SECONDS - t0)) s"
