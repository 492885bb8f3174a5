#!/usr/bin/env python3
"""Run a sluicebox plan (plan.json, version 1) on an existing Ray cluster.

    python3 dist/ray_driver.py PLAN.json [--address ADDR] [--retries N]

`sluicebox plan` splits a job into stages of file-based tasks; this driver
only schedules them. For each stage, in order, every task runs as a Ray task
that requests the task's `cpus` and `memory_bytes` and runs the task's argv as
a subprocess. Stages are separated by a barrier: no task of stage k+1 starts
before every task of stage k is done.

Why it is this thin: all the work and all the state live in files under the
plan's work dir W (which every node must see at the same path), and every task
is idempotent (temp files, rename, then a marker file). So the driver keeps no
state of its own: a task whose marker exists is skipped, and rerunning the
driver after any crash resumes where the last run stopped.

Environment: Ray workers do not inherit the driver's environment, so every
variable starting with SLUICEBOX_ or RUST_ is copied from the driver to each
task (and such variables the worker happens to have are removed, so that the
driver's environment alone decides). RAYON_NUM_THREADS is set to the CPUs Ray
granted the task.

Exit status: 0 when every task is done; 1 when a task still failed after its
retries (later stages are not started); 2 for a bad plan, bad arguments or no
cluster to connect to. The last line printed is `tasks: R ran, S skipped`.

Depends only on `ray` and the Python standard library.
"""

import argparse
import json
import os
import signal
import sys
import tempfile
import time

PLAN_VERSION = 1
# Environment variables passed from the driver to every task.
PASSTHROUGH_PREFIXES = ("SLUICEBOX_", "RUST_")
# How much of a failed task's stderr to show.
TAIL_LINES = 20
TAIL_BYTES = 4096
# How often a long stage reports its progress (on stderr).
PROGRESS_EVERY_S = 60


class PlanError(Exception):
    """The plan file is missing, unreadable or not a version-1 plan."""


def fail(msg, code=2):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(code)


def load_plan(path):
    """Read and check the plan, so that mistakes surface before any task runs."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise PlanError(f"plan file not found: {path} (write one with `sluicebox plan ... --work W`; it is W/plan.json)")
    except OSError as e:
        raise PlanError(f"cannot read plan file {path}: {e.strerror}")
    try:
        plan = json.loads(raw)
    except UnicodeDecodeError as e:
        raise PlanError(f"{path} is not UTF-8 text: {e}")
    except json.JSONDecodeError as e:
        raise PlanError(f"{path} is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}")
    if not isinstance(plan, dict):
        raise PlanError(f"{path}: expected a JSON object at the top, found {type(plan).__name__}")
    version = plan.get("version")
    if version != PLAN_VERSION:
        raise PlanError(
            f"{path}: plan version {version!r} is not supported by this driver "
            f"(it reads version {PLAN_VERSION}); use the ray_driver.py shipped with "
            f"the sluicebox that wrote the plan"
        )
    stages = plan.get("stages")
    if not isinstance(stages, list):
        raise PlanError(f"{path}: `stages` must be a list")
    seen = set()
    for si, stage in enumerate(stages):
        where = f"{path}: stages[{si}]"
        if not isinstance(stage, dict) or not isinstance(stage.get("name"), str):
            raise PlanError(f"{where} must be an object with a string `name`")
        tasks = stage.get("tasks")
        if not isinstance(tasks, list):
            raise PlanError(f"{where} ({stage['name']}): `tasks` must be a list")
        for ti, task in enumerate(tasks):
            tw = f"{where}.tasks[{ti}]"
            if not isinstance(task, dict):
                raise PlanError(f"{tw} must be an object")
            tid = task.get("id")
            if not isinstance(tid, str) or not tid:
                raise PlanError(f"{tw}: `id` must be a non-empty string")
            if tid in seen:
                raise PlanError(f"{tw}: duplicate task id {tid!r}")
            seen.add(tid)
            argv = task.get("argv")
            if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
                raise PlanError(f"{tw} ({tid}): `argv` must be a non-empty list of strings")
            cpus = task.get("cpus", 1)
            if isinstance(cpus, bool) or not isinstance(cpus, (int, float)) or cpus <= 0:
                raise PlanError(f"{tw} ({tid}): `cpus` must be a positive number, found {cpus!r}")
            mem = task.get("memory_bytes", 0)
            if isinstance(mem, bool) or not isinstance(mem, int) or mem < 0:
                raise PlanError(f"{tw} ({tid}): `memory_bytes` must be a non-negative integer, found {mem!r}")
            marker = task.get("marker")
            if not isinstance(marker, str) or not marker:
                raise PlanError(f"{tw} ({tid}): `marker` must be a non-empty path")
    return plan


def passthrough_env():
    return {k: v for k, v in os.environ.items() if k.startswith(PASSTHROUGH_PREFIXES)}


# The task's own process: a small Python guard that runs the task's argv as
# its child and, when the Ray worker that started it dies (a forced cancel
# kills the worker, so no `finally` in the worker runs), kills its whole
# process group. The parent-death signal alone would reach only the direct
# child: a shell's children would be left behind. Linux only; elsewhere the
# guard just runs the command.
_GUARD_SRC = r"""
import os, signal, subprocess, sys
parent, argv = int(sys.argv[1]), sys.argv[2:]
def stop(signum=None, frame=None):
    os.killpg(0, signal.SIGKILL)  # this guard leads its group: all of it goes
signal.signal(signal.SIGTERM, stop)
if sys.platform.startswith("linux"):
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the worker died before the line above
        stop()
try:
    child = subprocess.Popen(argv)
except OSError as e:
    sys.stderr.write(f"cannot start {argv[0]}: {e.strerror}\n")
    sys.exit(127)
code = child.wait()
if code < 0:  # die the same way, so the worker reports the signal
    try:
        signal.signal(-code, signal.SIG_DFL)
    except (OSError, ValueError):  # SIGKILL and SIGSTOP take no handler
        pass
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


def _tail(path):
    """The last TAIL_LINES lines (at most TAIL_BYTES bytes) of a file, as text."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - TAIL_BYTES))
            data = f.read()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    lines = text.splitlines()
    if size > TAIL_BYTES and lines:
        lines = lines[1:]  # the first line was cut in the middle
    return "\n".join(lines[-TAIL_LINES:])


def run_task_here(argv, extra_env, task_id):
    """Body of the Ray task: run argv with the granted CPUs; report the result.

    Returns a dict (exit code, tails of stdout/stderr, seconds, host) rather
    than raising, so the driver alone decides about retries."""
    import socket
    import subprocess

    import ray

    granted = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    threads = max(1, int(granted))
    env = {k: v for k, v in os.environ.items() if not k.startswith(PASSTHROUGH_PREFIXES)}
    env.update(extra_env)
    env["RAYON_NUM_THREADS"] = str(threads)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sluicebox-task-") as tmp:
        out_path = os.path.join(tmp, "stdout")
        err_path = os.path.join(tmp, "stderr")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = None
            code = None
            try:
                try:
                    proc = subprocess.Popen(
                        [sys.executable, "-c", _GUARD_SRC, str(os.getpid()), *argv],
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=err,
                        # Its own process group, so a cancel also stops what
                        # the task started (a shell's children outlive a
                        # killed shell).
                        start_new_session=True,
                    )
                except OSError as e:
                    # The Python running this worker cannot be started again
                    # (a missing task program is the guard's to report).
                    err.write(f"cannot start the task guard {sys.executable}: {e.strerror}\n".encode())
                    code = 127
                # Wait in short steps: ray.cancel interrupts a task between
                # Python steps, never inside one long blocking wait.
                while proc is not None:
                    try:
                        code = proc.wait(timeout=0.5)
                        break
                    except subprocess.TimeoutExpired:
                        pass
            finally:
                # Cancelled (or anything else) before the task ended: stop
                # its whole process group.
                if proc is not None and proc.poll() is None:
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except OSError:
                        proc.kill()
                    proc.wait()
        return {
            "id": task_id,
            "code": code,
            "stdout": _tail(out_path),
            "stderr": _tail(err_path),
            "seconds": time.monotonic() - start,
            "host": socket.gethostname(),
            "threads": threads,
        }


def describe_code(code):
    if code is None:
        return "none (the Ray task itself failed: its worker or node died, or it was cancelled)"
    if code < 0:
        try:
            return f"{code} (killed by {signal.Signals(-code).name})"
        except ValueError:
            return f"{code} (killed by signal {-code})"
    return str(code)


def node_capacity(ray):
    """The largest CPU and memory amounts one alive node offers, so a task that
    asks for more can be capped instead of waiting forever as infeasible."""
    cpu, mem = 0.0, 0.0
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        res = node.get("Resources", {})
        cpu = max(cpu, res.get("CPU", 0.0))
        mem = max(mem, res.get("memory", 0.0))
    return cpu, mem


def cancel_all(ray, refs):
    """Stop unfinished tasks after a failure, so the driver exits promptly and
    leaves no process behind. Queued tasks are dropped; running ones are
    interrupted (their subprocess is killed) and, if still there after a few
    seconds, their worker is killed, which makes the task's guard kill what
    the task started. Their partial work is redone on resume."""
    for ref in refs:
        ray.cancel(ref, force=False)
    _, left = ray.wait(refs, num_returns=len(refs), timeout=10)
    for ref in left:
        ray.cancel(ref, force=True)
    if left:
        ray.wait(left, num_returns=len(left), timeout=10)


def probe_address(address):
    """Fail fast when nothing listens at an explicit HOST:PORT: ray.init would
    otherwise retry for minutes before giving up."""
    import socket

    if "://" in address or address in ("auto", "local") or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            pass
    except ValueError:
        fail(f"--address {address!r}: expected HOST:PORT, 'auto' or ray://HOST:PORT")
    except OSError as e:
        fail(f"no Ray cluster answers at {address}: {e.strerror or e} (is it up? `ray status --address {address}`)")


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="ray_driver.py",
        description="Run a sluicebox plan.json on an existing Ray cluster.",
    )
    ap.add_argument("plan", help="the plan written by `sluicebox plan` (W/plan.json)")
    ap.add_argument(
        "--address",
        default=os.environ.get("RAY_ADDRESS", "auto"),
        help="Ray cluster address for ray.init (default: $RAY_ADDRESS or 'auto', the cluster started on this node)",
    )
    ap.add_argument(
        "--retries",
        type=int,
        default=2,
        help="times a failed task is retried before the run fails (default 2)",
    )
    args = ap.parse_args(argv)
    if args.retries < 0:
        fail("--retries must be 0 or more")

    try:
        plan = load_plan(args.plan)
    except PlanError as e:
        fail(str(e))

    probe_address(args.address)
    try:
        import ray
    except ImportError:
        fail("the `ray` package is not installed for this Python (pip install ray)")

    try:
        ray.init(
            address=args.address,
            logging_level="WARNING",
            log_to_driver=False,
            configure_logging=True,
        )
    except (ConnectionError, RuntimeError, ValueError) as e:
        fail(f"cannot connect to a Ray cluster at {args.address!r}: {e} (start one with `ray start --head`, or pass --address)")

    def on_term(signum, frame):
        raise KeyboardInterrupt

    # Ray installs its own SIGTERM handler; a stopped driver should say how to resume.
    signal.signal(signal.SIGTERM, on_term)

    env = passthrough_env()
    remote = ray.remote(run_task_here)
    max_cpu, max_mem = node_capacity(ray)
    total_ran = total_skipped = 0

    def options_for(task):
        cpus = task.get("cpus", 1)
        mem = int(task.get("memory_bytes", 0))
        if max_cpu and cpus > max_cpu:
            print(f"warning: {task['id']} asks for {cpus} CPUs; the largest node has {max_cpu:g}: granting {max_cpu:g}", file=sys.stderr)
            cpus = max_cpu
        if max_mem and mem > max_mem:
            print(f"warning: {task['id']} asks for {mem} bytes of memory; the largest node offers {int(max_mem)}: granting that", file=sys.stderr)
            mem = int(max_mem)
        opts = {"num_cpus": cpus, "max_retries": 0, "name": f"sluicebox:{task['id']}"}
        if mem > 0:
            opts["memory"] = mem
        return opts

    def submit(task):
        return remote.options(**options_for(task)).remote(task["argv"], env, task["id"])

    try:
        for stage in plan["stages"]:
            name = stage["name"]
            start = time.monotonic()
            pending = {}  # ObjectRef -> task
            attempts = {}
            skipped = ran = retried = 0
            for task in stage["tasks"]:
                if os.path.exists(task["marker"]):
                    skipped += 1
                    continue
                attempts[task["id"]] = 1
                pending[submit(task)] = task
            failed = None
            while pending:
                refs = list(pending)
                done, _ = ray.wait(refs, num_returns=1, timeout=PROGRESS_EVERY_S)
                if not done:
                    print(
                        f"stage {name}: {ran} done, {len(pending)} running or queued, "
                        f"{time.monotonic() - start:.0f} s",
                        file=sys.stderr,
                        flush=True,
                    )
                    continue
                if len(refs) > 1:
                    # Take every finished task at once: one wait per task
                    # would cost O(tasks^2) on stages of thousands of tasks.
                    done, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
                for ref in done:
                    task = pending.pop(ref)
                    try:
                        res = ray.get(ref)
                    except Exception as e:  # worker or node died, task cancelled, ...
                        res = {"id": task["id"], "code": None, "stdout": "", "stderr": f"{type(e).__name__}: {e}", "host": "?"}
                    if res["code"] == 0:
                        ran += 1
                        if not os.path.exists(task["marker"]):
                            print(
                                f"warning: {task['id']} exited 0 on {res['host']} but its marker {task['marker']} "
                                f"is not visible here: the work dir must be storage every node shares",
                                file=sys.stderr,
                            )
                        continue
                    n = attempts[task["id"]]
                    if n <= args.retries and failed is None:
                        print(
                            f"retry: {task['id']} failed (exit {describe_code(res['code'])} on {res['host']}), "
                            f"attempt {n + 1} of {args.retries + 1}",
                            file=sys.stderr,
                        )
                        attempts[task["id"]] = n + 1
                        retried += 1
                        pending[submit(task)] = task
                        continue
                    if failed is None:
                        failed = (task, res, n)
                    else:
                        print(f"also failed: {task['id']} (exit {describe_code(res['code'])} on {res['host']})", file=sys.stderr)
                if failed is not None:
                    if pending:
                        print(
                            f"{failed[0]['id']} failed: cancelling the {len(pending)} other unfinished task(s) of stage {name}",
                            file=sys.stderr,
                        )
                        cancel_all(ray, list(pending))
                    break
            total_ran += ran
            total_skipped += skipped
            secs = time.monotonic() - start
            extra = f" ({retried} retr{'y' if retried == 1 else 'ies'})" if retried else ""
            print(f"stage {name}: {ran} ran, {skipped} skipped, {secs:.1f} s{extra}", flush=True)
            if failed is not None:
                task, res, n = failed
                print(
                    f"error: task {task['id']} failed after {n} attempt{'s' if n != 1 else ''}: "
                    f"exit code {describe_code(res['code'])} on {res['host']}",
                    file=sys.stderr,
                )
                tail = res.get("stderr") or res.get("stdout") or "(no output)"
                which = "stderr" if res.get("stderr") else "stdout"
                print(f"--- last lines of its {which}:", file=sys.stderr)
                print(tail, file=sys.stderr)
                print("---", file=sys.stderr)
                print("later stages not started; rerun the same command to resume (done tasks are skipped)", file=sys.stderr)
                print(f"tasks: {total_ran} ran, {total_skipped} skipped, 1 failed", flush=True)
                return 1
    except KeyboardInterrupt:
        print("interrupted: running tasks are stopped with the driver; done tasks keep their markers, rerun to resume", file=sys.stderr)
        return 130
    print(f"tasks: {total_ran} ran, {total_skipped} skipped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
