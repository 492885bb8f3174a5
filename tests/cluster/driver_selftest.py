#!/usr/bin/env python3
"""Fast self-test of dist/ray_driver.py with hand-written plans of shell tasks.

Needs a running Ray cluster (see tests/cluster/run.sh) and the Python that has
`ray` installed; it does not need the sluicebox binary:

    python tests/cluster/driver_selftest.py [--address ADDR]

Checks: plan errors are clear (missing file, bad JSON, unknown version); tasks
run with RAYON_NUM_THREADS = granted CPUs and the driver's SLUICEBOX_*/RUST_*
variables; stages are barriers; a task with a marker is skipped (its argv would
fail); a flaky task is retried; an over-large CPU request is capped, not hung;
a task that keeps failing stops the run before the next stage with its id,
exit code and stderr, and the other tasks of its stage are cancelled with no
process left, also when a task's worker is killed; a missing program fails
with exit 127 and its name; a second run skips everything.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DRIVER = os.path.join(ROOT, "dist", "ray_driver.py")

checks = 0
# A SLUICEBOX_* variable set where the cluster was started but not in the
# driver's environment (run.sh sets one): tasks must not see it.
WORKER_ONLY_VAR = None


def check(cond, what, detail=""):
    global checks
    if not cond:
        print(f"FAIL: {what}\n{detail}", file=sys.stderr)
        sys.exit(1)
    checks += 1
    print(f"ok: {what}")


def driver(plan_path, *args, env=None):
    cmd = [sys.executable, DRIVER, plan_path, *args]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    return p.returncode, p.stdout, p.stderr


def sh_task(tid, script, marker, cpus=1, memory=0):
    return {"id": tid, "argv": ["/bin/sh", "-c", script], "cpus": cpus, "memory_bytes": memory, "marker": marker}


def write_plan(path, work, stages, version=1):
    plan = {
        "version": version,
        "work": work,
        "output": os.path.join(work, "out"),
        "config": "/dev/null",
        "inputs": [],
        "shards": [],
        "partitions": 1,
        "stages": stages,
    }
    with open(path, "w") as f:
        json.dump(plan, f, indent=2)


def summary(stdout):
    lines = stdout.strip().splitlines()
    m = re.fullmatch(r"tasks: (\d+) ran, (\d+) skipped(, \d+ failed)?", lines[-1] if lines else "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def plan_errors(tmp):
    code, _, err = driver(os.path.join(tmp, "nope.json"))
    check(code == 2 and "plan file not found" in err, "missing plan: exit 2 with a clear message", err)
    bad = os.path.join(tmp, "bad.json")
    with open(bad, "w") as f:
        f.write('{"version": 1, "stages": [')
    code, _, err = driver(bad)
    check(code == 2 and "not valid JSON" in err and "line 1" in err, "bad JSON: exit 2 names the position", err)
    v2 = os.path.join(tmp, "v2.json")
    write_plan(v2, tmp, [], version=2)
    code, _, err = driver(v2)
    check(code == 2 and "version 2 is not supported" in err, "unknown version: exit 2 with a clear message", err)
    badtask = os.path.join(tmp, "badtask.json")
    write_plan(badtask, tmp, [{"name": "x", "tasks": [{"id": "x-0", "argv": "ls", "cpus": 1, "memory_bytes": 0, "marker": "m"}]}])
    code, _, err = driver(badtask)
    check(code == 2 and "x-0" in err and "argv" in err, "malformed task: exit 2 names the task and field", err)


def good_plan(tmp, address_args):
    work = os.path.join(tmp, "good")
    done = os.path.join(work, "done")
    os.makedirs(done)
    os.makedirs(os.path.join(work, "out"))
    m = lambda tid: os.path.join(done, tid)  # noqa: E731
    out = os.path.join(work, "out")
    # Stage a: records threads and passed-through env, then its end time.
    stage_a = []
    worker_var = WORKER_ONLY_VAR or "SLUICEBOX_UNUSED"
    for i, cpus in enumerate([1, 2, 1]):
        tid = f"a-{i}"
        script = (
            f'sleep 0.3; echo "$RAYON_NUM_THREADS ${{SLUICEBOX_SELFTEST:-unset}} ${{RUST_SELFTEST:-unset}} '
            f'${{{worker_var}:-unset}}" > {out}/{tid}.env && '
            f'date +%s.%N > {out}/{tid}.end && touch {m(tid)}'
        )
        stage_a.append(sh_task(tid, script, m(tid), cpus=cpus, memory=50 * 1024 * 1024))
    # A task already done: its argv would fail if it were launched.
    stage_a.append(sh_task("a-done", f"touch {out}/a-done.launched; exit 9", m("a-done")))
    open(m("a-done"), "w").close()
    # A flaky task: fails on its first attempt only.
    flaky = f"n=$(cat {out}/flaky.count 2>/dev/null || echo 0); echo $((n+1)) > {out}/flaky.count; [ $n -ge 1 ] && touch {m('a-flaky')}"
    stage_a.append(sh_task("a-flaky", flaky, m("a-flaky")))
    # Stage b: starts only after every task of a ended; asks more CPUs than any node has.
    b_script = (
        f"for t in a-0 a-1 a-2; do test -f {out}/$t.end || exit 4; done; "
        f'date +%s.%N > {out}/b.start; echo "$RAYON_NUM_THREADS" > {out}/b.env; touch {m("b-0")}'
    )
    stage_b = [sh_task("b-0", b_script, m("b-0"), cpus=512)]
    plan = os.path.join(work, "plan.json")
    write_plan(plan, work, [{"name": "a", "tasks": stage_a}, {"name": "empty", "tasks": []}, {"name": "b", "tasks": stage_b}])

    env = dict(os.environ, SLUICEBOX_SELFTEST="from-driver", RUST_SELFTEST="rust-too")
    t0 = time.monotonic()
    code, stdout, err = driver(plan, *address_args, env=env)
    secs = time.monotonic() - t0
    check(code == 0, f"plan of shell tasks runs (exit 0, {secs:.1f} s)", stdout + err)
    check(summary(stdout) == (5, 1), "summary: 5 ran, 1 skipped", stdout)
    check(re.search(r"^stage a: 4 ran, 1 skipped, [\d.]+ s \(1 retry\)$", stdout, re.M), "stage line for a, with its retry", stdout)
    check(re.search(r"^stage empty: 0 ran, 0 skipped, [\d.]+ s$", stdout, re.M), "stage line for an empty stage", stdout)
    check(re.search(r"^stage b: 1 ran, 0 skipped, [\d.]+ s$", stdout, re.M), "stage line for b", stdout)
    check(not os.path.exists(f"{out}/a-done.launched"), "task with a marker is not launched")
    check(open(f"{out}/flaky.count").read().strip() == "2", "flaky task retried once")
    envs = [open(f"{out}/a-{i}.env").read().split() for i in range(3)]
    check([e[0] for e in envs] == ["1", "2", "1"], "RAYON_NUM_THREADS = CPUs granted (1, 2, 1)", repr(envs))
    check(all(e[1:3] == ["from-driver", "rust-too"] for e in envs), "SLUICEBOX_* and RUST_* passed through", repr(envs))
    if WORKER_ONLY_VAR:
        check(all(e[3] == "unset" for e in envs), "a SLUICEBOX_* variable of the workers' own does not reach tasks", repr(envs))
    ends = [float(open(f"{out}/a-{i}.end").read()) for i in range(3)]
    check(float(open(f"{out}/b.start").read()) >= max(ends), "barrier: b starts after every task of a ended")
    check("asks for 512 CPUs" in err and open(f"{out}/b.env").read().strip() != "512", "over-large CPU request capped with a warning", err)

    code, stdout, err = driver(plan, *address_args, env=env)
    check(code == 0 and summary(stdout) == (0, 6), "second run: 0 ran, 6 skipped", stdout + err)


def failing_plan(tmp, address_args):
    work = os.path.join(tmp, "failing")
    done = os.path.join(work, "done")
    os.makedirs(done)
    m = lambda tid: os.path.join(done, tid)  # noqa: E731
    fails = f"echo x >> {work}/attempts; echo 'reading shard 7: boom-detail' >&2; exit 3"
    # A long task of the same stage: cancelled when s1-bad fails for good.
    slow = f"sleep 41.5; touch {m('s1-slow')}"
    later = f"touch {work}/later-ran {m('s2-0')}"
    plan = os.path.join(work, "plan.json")
    write_plan(
        plan,
        work,
        [
            {"name": "s1", "tasks": [sh_task("s1-bad", fails, m("s1-bad")), sh_task("s1-slow", slow, m("s1-slow"))]},
            {"name": "s2", "tasks": [sh_task("s2-0", later, m("s2-0"))]},
        ],
    )
    t0 = time.monotonic()
    code, stdout, err = driver(plan, *address_args, "--retries", "1")
    secs = time.monotonic() - t0
    check(code == 1, "failing task: driver exits 1", stdout + err)
    check("s1-bad" in err and "exit code 3" in err and "boom-detail" in err, "failure names id, exit code and stderr tail", err)
    check(open(f"{work}/attempts").read().count("x") == 2, "--retries 1: two attempts")
    check(not os.path.exists(f"{work}/later-ran"), "later stage not started after a failure")
    # The cancelled task's worker kills its process group as the driver
    # exits; give it a few seconds.
    for _ in range(50):
        left = subprocess.run(["pgrep", "-f", "sleep 41.5"], capture_output=True, text=True).stdout.split()
        if not left:
            break
        time.sleep(0.2)
    check(secs < 30 and not left and not os.path.exists(m("s1-slow")), f"the stage's other task is cancelled, no process left ({secs:.1f} s)", err)
    check(stdout.strip().splitlines()[-1] == "tasks: 0 ran, 0 skipped, 1 failed", "failure summary line", stdout)

    # A worker that dies (a forced cancel, the OOM killer, a crash) runs no
    # cleanup of its own: the task's guard must still kill the shell and its
    # child. The task writes its worker's pid (its guard's parent) for us.
    plan3 = os.path.join(work, "plan-worker-dies.json")
    worker_pid = os.path.join(work, "worker-pid")
    slow = f"awk '{{print $4}}' /proc/$PPID/stat > {worker_pid}.tmp && mv {worker_pid}.tmp {worker_pid}; sleep 43.5; touch {m('w-0')}"
    write_plan(plan3, work, [{"name": "w", "tasks": [sh_task("w-0", slow, m("w-0"))]}])
    proc = subprocess.Popen(
        [sys.executable, DRIVER, plan3, *address_args, "--retries", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for _ in range(300):
        if os.path.exists(worker_pid) or proc.poll() is not None:
            break
        time.sleep(0.1)
    killed = False
    try:
        pid = int(open(worker_pid).read())
        os.kill(pid, signal.SIGKILL)
        killed = True
    except (OSError, ValueError):
        pass
    try:
        stdout, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, err = proc.communicate()
    for _ in range(50):
        left = subprocess.run(["pgrep", "-f", "sleep 43.5"], capture_output=True, text=True).stdout.split()
        if not left:
            break
        time.sleep(0.2)
    check(killed and proc.returncode == 1 and "w-0" in err and "worker or node died" in err, "a task whose worker is killed fails the run", stdout + err)
    check(not left and not os.path.exists(m("w-0")), "a killed worker's task leaves no process", err)
    for pid in left:  # leave none to later checks
        subprocess.run(["kill", "-9", pid])

    # Killed by a signal: reported as such.
    plan2 = os.path.join(work, "plan-kill.json")
    write_plan(plan2, work, [{"name": "k", "tasks": [sh_task("k-0", "kill -9 $$", m("k-0"))]}])
    code, stdout, err = driver(plan2, *address_args, "--retries", "0")
    check(code == 1 and "SIGKILL" in err, "a task killed by a signal is reported as such", err)

    # A program missing on the node: exit 127, named in the error.
    plan4 = os.path.join(work, "plan-missing.json")
    missing = {"id": "x-0", "argv": ["/no/such/program", "--flag"], "cpus": 1, "memory_bytes": 0, "marker": m("x-0")}
    write_plan(plan4, work, [{"name": "x", "tasks": [missing]}])
    code, stdout, err = driver(plan4, *address_args, "--retries", "0")
    check(
        code == 1 and "exit code 127" in err and "cannot start /no/such/program" in err,
        "a missing program fails with exit 127 and its name",
        err,
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--address", help="Ray address (default: the driver's default, 'auto')")
    ap.add_argument("--worker-only-var", help="a SLUICEBOX_* variable the cluster was started with, absent here")
    args = ap.parse_args()
    global WORKER_ONLY_VAR
    if args.worker_only_var:
        if args.worker_only_var in os.environ:
            sys.exit(f"{args.worker_only_var} must not be set in the self-test's own environment")
        WORKER_ONLY_VAR = args.worker_only_var
    address_args = ["--address", args.address] if args.address else []
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sluicebox-driver-selftest-") as tmp:
        plan_errors(tmp)
        good_plan(tmp, address_args)
        failing_plan(tmp, address_args)
    print(f"driver self-test: all {checks} checks passed in {time.monotonic() - t0:.1f} s")


if __name__ == "__main__":
    main()
