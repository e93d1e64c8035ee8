"""Where a run's time goes: the stage timeline of each process, and (one process) the
plugin's functions that cost most. This is the profile issue #14 asks for next to a target
that is not met.

    python bench/profile.py                       # live 1 process, live -n 2, replay, replay -n 2
    python bench/profile.py --scenario live       # one of: live, live-xdist, replay, replay-xdist
    python bench/profile.py --cprofile            # + top functions (1-process scenarios)
    python bench/profile.py --out bench/profiles  # also write each report to a file there

Each scenario is the benchmark's own run (`live.py`: 1,000 cases, emulator latency 100 ms,
``--cf-concurrency 64``; `replay.py`: 1,000 cases recorded once, replayed offline) with a
small plugin (`_STAGES`, written into the throw-away project, loaded with ``-p``) that notes
wall and CPU seconds since each process started at: plugins imported, collection start and
end, run loop start, first item, last item, session finish, unconfigure, and the process's
``atexit`` (what follows is the interpreter's own finalization). Under xdist every process
(controller and workers) writes its own timeline. The exit time is the parent's wall clock.
``--cprofile`` runs the same child under cProfile and lists the heaviest functions of the
plugin (own time) and overall (cumulative); cProfile slows Python code by ~2x, so read the
shares, not the seconds.
"""

from __future__ import annotations

import argparse
import json
import pstats
import sys
import time
from pathlib import Path

from _common import (
    child_env,
    emulator,
    expect_passed,
    project,
    pytest_cmd,
    run,
    write_eval_config,
)

_STAGES = """
import atexit, json, os, time
import pytest

def _started() -> float:
    with open("/proc/self/stat") as f:
        ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as f:
        up = float(f.read().split()[0])
    return time.monotonic() - (up - ticks / os.sysconf("SC_CLK_TCK"))

_T0 = _started()
_MARKS = []

def _mark(what):
    _MARKS.append((what, time.monotonic() - _T0, time.process_time()))

_mark("plugins imported")

def pytest_collection(session):
    _mark("collection starts")

def pytest_collection_finish(session):
    _mark("collection ends")

@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtestloop(session):
    _mark("run loop starts")
    try:
        return (yield)
    finally:
        _mark("run loop ends")

_FIRST = []

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if not _FIRST:
        _FIRST.append(1)
        _mark("first item")

def pytest_sessionfinish(session):
    _mark("session finish")

@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    _mark("unconfigure ends")

def _write():
    _mark("atexit (then finalization)")
    who = os.environ.get("PYTEST_XDIST_WORKER", "main")
    out = os.environ["CFGW_STAGES_DIR"]
    with open(os.path.join(out, who + ".json"), "w") as f:
        json.dump({"process": who, "marks": _MARKS, "mono0": _T0}, f)

atexit.register(_write)
"""

SCENARIOS = ("live", "live-xdist", "replay", "replay-xdist")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=SCENARIOS, action="append")
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--out", type=Path, help="write each report to OUT/<scenario>.txt")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    for scenario in args.scenario or SCENARIOS:
        report = profile(scenario, args)
        print(report, flush=True)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"{scenario}.txt").write_text(report + "\n")


def profile(scenario: str, args: argparse.Namespace) -> str:
    n = args.cases
    xdist = scenario.endswith("-xdist")
    with project(f"profile-{scenario}") as root:
        write_eval_config(root, n)
        (root / "cfgw_stages.py").write_text(_STAGES)
        stages = root / "stages"
        stages.mkdir()
        cfg = ("--cf-config", "promptfooconfig.yaml")
        extra: tuple[str, ...]
        if scenario.startswith("live"):
            latency = args.latency_ms
            extra = ("--cf-mode", "live", "--cf-concurrency", str(args.concurrency))
        else:
            latency = 0.0
            extra = ()
        with emulator(latency) as url:
            if scenario.startswith("replay"):
                rec = run(
                    pytest_cmd(*cfg, "--cf-mode", "record", "--cf-gateway-url", url),
                    cwd=root,
                    timeout=args.timeout,
                )
                expect_passed(rec, n, "record")
            cmd = [*cfg, *extra, "-p", "cfgw_stages"]
            if scenario.startswith("live"):
                cmd += ["--cf-gateway-url", url]
            if xdist:
                cmd += ["-n", "2"]
            env = child_env(CFGW_STAGES_DIR=str(stages), PYTHONPATH=str(root))
            if scenario.startswith("replay"):
                env = {k: v for k, v in env.items() if not k.endswith("_API_KEY")}
            started = time.perf_counter()
            result = run(pytest_cmd(*cmd), cwd=root, env=env, timeout=args.timeout)
            expect_passed(result, n, scenario)
            lines = [
                f"## {scenario}: {n} cases"
                + (f", latency {latency:g} ms, C={args.concurrency}" if latency else "")
                + f": wall {result.seconds:.2f} s (parent clock), CPU {result.cpu_s:.2f} s "
                "(user + system, xdist workers included)",
                "",
                _timelines(stages, time.perf_counter() - started),
            ]
            if args.cprofile and not xdist:
                prof = root / "run.prof"
                cprof = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "pytest"]
                run([*cprof, "-q", *cmd], cwd=root, env=env, timeout=args.timeout)
                lines += ["", _top(prof)]
    return "\n".join(lines)


def _timelines(stages: Path, wall: float) -> str:
    """One table per process: each stage's wall and CPU seconds since that process began."""
    out = []
    found = [json.loads(path.read_text()) for path in sorted(stages.glob("*.json"))]
    base = min(data["mono0"] for data in found)
    for data in found:
        late = data["mono0"] - base
        after = f", {late:.3f} s after the first process" if late > 0.0005 else ""
        out.append(f"process {data['process']} (seconds since it started{after}):")
        out.append("| stage | wall s | CPU s | wall since previous |")
        out.append("|---|---|---|---|")
        previous = 0.0
        for what, at, cpu in data["marks"]:
            out.append(f"| {what} | {at:.3f} | {cpu:.3f} | +{at - previous:.3f} |")
            previous = at
        out.append("")
    out.append(f"whole run as the parent saw it: {wall:.2f} s")
    return "\n".join(out)


def _top(prof: Path, limit: int = 25) -> str:
    stats = pstats.Stats(str(prof))
    table = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in table.values()) or 1.0
    ours = sorted(
        ((v[2], v[3], v[1], k) for k, v in table.items() if "pytest_cfgateway" in k[0]),
        reverse=True,
    )[:limit]
    lines = [
        f"cProfile (all functions' own time: {total:.2f} s): the plugin's heaviest functions",
        "| own s | own % | cumulative s | calls | function |",
        "|---|---|---|---|---|",
    ]
    for own, cum, calls, (file, line, name) in ours:
        where = file.split("pytest_cfgateway/")[-1]
        lines.append(
            f"| {own:.3f} | {own / total * 100:.1f} | {cum:.3f} | {calls} | {where}:{line} {name} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
