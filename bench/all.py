"""All of issue #14's measurements in one run, printed as one table.

    python bench/all.py                         # full: 1,000 live/replay cases, 10k memory
    python bench/all.py --repeats 1 --no-memory # quicker
    python bench/all.py --promptfoo /work/promptfoo/node_modules/.bin/promptfoo \\
        --node-dir /work/nodebin                # + promptfoo -j 64 on the same mock

Each group's variants take turns (interleaved repeats), so background load hits them alike;
quote ratios more than seconds on a shared machine. promptfoo (optional, needs Node >= 22.22)
runs ``openai:chat:gpt-4o-mini`` with ``apiBaseUrl`` pointed at the same emulator route the
plugin uses, with the same prompt, tests and assertions.

Targets (issue #14): live 1,000 x 100 ms at C=64 in one process <= 2.5 s and >= 3x faster
than promptfoo -j 64; ``-n 2`` live no slower than one process; ``-n 2`` replay faster than
one process; replay 1,000 <= 2x plain pytest; 10,000 replayed cases < 300 MB peak; start-up
< 50 ms added on a suite that does not use the plugin; record within 10% of live.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
from pathlib import Path

from _common import (
    PYTHON,
    Run,
    child_env,
    emulator,
    expect_passed,
    max_rss_mb,
    median_cpu_s,
    median_s,
    project,
    pytest_cmd,
    run,
    table,
    write_eval_config,
    write_plain_suite,
)

LIVE_BAR_S = 2.5
PROMPTFOO_FACTOR = 3.0
REPLAY_BAR = 2.0
MEMORY_BAR_MB = 300.0
STARTUP_BAR_MS = 50.0
RECORD_BAR = 1.10


def cpu_cell(cpu: float, base: float | None = None) -> str:
    """CPU seconds of a child (user + system, xdist workers included), and its ratio to the
    base variant's: the number background load changes least."""
    return f"{cpu:.2f}" + (f" ({cpu / base:.2f}x)" if base else "")


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def write_promptfoo_config(root: Path, n: int, base_url: str) -> Path:
    """The benchmark config for promptfoo: same prompt/tests/assertions, provider pointed at
    the emulator's OpenAI route for account ``acct``, gateway ``gw``."""
    lines = [
        "description: benchmark",
        "prompts:",
        "  - 'Repeat after me: {{word}}'",
        "providers:",
        "  - id: openai:chat:gpt-4o-mini",
        "    config:",
        f"      apiBaseUrl: {base_url.rstrip('/')}/acct/gw/openai",
        "tests:",
    ]
    for i in range(n):
        lines += [
            f"  - vars: {{word: w{i}}}",
            "    assert:",
            "      - type: contains",
            f"        value: w{i}",
        ]
    path = root / "pfconfig.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_promptfoo(
    root: Path, promptfoo: str, node_dir: str | None, n: int, jobs: int, timeout: float
) -> Run:
    home = root / ".pfhome"
    home.mkdir(exist_ok=True)
    out = root / "pf_out.json"
    env = child_env(
        PROMPTFOO_DISABLE_TELEMETRY="1",
        PROMPTFOO_DISABLE_UPDATE="1",
        PROMPTFOO_DISABLE_SHARING="1",
        PROMPTFOO_CONFIG_DIR=str(home),
    )
    if node_dir:
        env["PATH"] = f"{node_dir}{os.pathsep}{env.get('PATH', '')}"
    cmd = [promptfoo, "eval", "-c", "pfconfig.yaml", "--no-cache", "-j", str(jobs)]
    cmd += ["-o", str(out), "--no-progress-bar", "--no-table"]
    r = run(cmd, cwd=root, env=env, timeout=timeout, check=False)
    if r.returncode not in (0, 100) or not out.exists():
        tail = "\n".join(r.output.splitlines()[-20:])
        raise SystemExit(f"promptfoo failed (exit {r.returncode}):\n{tail}")
    results = json.loads(out.read_text())["results"]
    stats = results.get("stats", {})
    if stats.get("successes") != n:
        raise SystemExit(f"promptfoo: expected {n} successes, got {stats}")
    out.unlink()
    return r


def live_group(args: argparse.Namespace, rows: list[list[str]], verdicts: list[str]) -> None:
    n, c = args.cases, args.concurrency
    ideal = n * args.latency_ms / 1000.0 / c
    with project("all-live", args.keep) as root, project("all-rec", args.keep) as rec_root:
        write_eval_config(root, n)
        write_eval_config(rec_root, n)
        with emulator(latency_ms=args.latency_ms) as url:
            common = ["--cf-config", "promptfooconfig.yaml", "--cf-gateway-url", url]
            common += ["--cf-concurrency", str(c), "-p", "no:cacheprovider"]
            variants: dict[str, tuple[Path, list[str]]] = {
                "live, 1 process": (root, pytest_cmd(*common, "--cf-mode", "live")),
                "live, -n 2": (root, pytest_cmd(*common, "--cf-mode", "live", "-n", "2")),
                "record (fresh snapshots), 1 process": (
                    rec_root,
                    pytest_cmd(*common, "--cf-mode", "record"),
                ),
            }
            if args.promptfoo:
                write_promptfoo_config(root, n, url)
            runs: dict[str, list[Run]] = {k: [] for k in variants}
            pf_runs: list[Run] = []
            for i in range(args.repeats):
                for name, (cwd, cmd) in variants.items():
                    if name.startswith("record"):
                        shutil.rmtree(cwd / "__snapshots__", ignore_errors=True)
                    print(f"[live {i + 1}/{args.repeats}] {name} ...", flush=True)
                    r = run(cmd, cwd=cwd, timeout=args.timeout)
                    expect_passed(r, n, name)
                    runs[name].append(r)
                if args.promptfoo:
                    print(f"[live {i + 1}/{args.repeats}] promptfoo -j {c} ...", flush=True)
                    pf_runs.append(
                        run_promptfoo(root, args.promptfoo, args.node_dir, n, c, args.timeout)
                    )
    single = median_s(runs["live, 1 process"])
    xdist = median_s(runs["live, -n 2"])
    record = median_s(runs["record (fresh snapshots), 1 process"])
    head = f"live {n} x {args.latency_ms:.0f} ms, C={c}"
    cpu = {k: median_cpu_s(v) for k, v in runs.items()}
    c_single, c_xdist = cpu["live, 1 process"], cpu["live, -n 2"]
    c_record = cpu["record (fresh snapshots), 1 process"]
    rows.append([f"{head}: ideal N x L / C", f"{ideal:.2f}", "1.00 x ideal", ""])
    rows.append(
        [
            f"{head}: 1 process",
            f"{single:.2f}",
            f"{single / ideal:.2f} x ideal",
            "",
            cpu_cell(c_single),
        ]
    )
    rows.append(
        [
            f"{head}: -n 2",
            f"{xdist:.2f}",
            f"{xdist / single:.2f} x 1 process",
            "",
            cpu_cell(c_xdist, c_single),
        ]
    )
    rows.append(
        [
            f"{head}: record",
            f"{record:.2f}",
            f"{record / single:.2f} x live",
            "",
            cpu_cell(c_record, c_single),
        ]
    )
    verdicts.append(f"live 1 process <= {LIVE_BAR_S} s: {single:.2f} s -> {verdict(single <= 2.5)}")
    verdicts.append(
        f"live -n 2 no slower than 1 process: {xdist / single:.2f}x -> {verdict(xdist <= single)}"
    )
    verdicts.append(
        f"record within 10% of live: {record / single:.2f}x -> "
        f"{verdict(record <= RECORD_BAR * single)}"
    )
    if pf_runs:
        pf = median_s(pf_runs)
        rows.append(
            [
                f"{head}: promptfoo 0.123.1 -j {c}",
                f"{pf:.2f}",
                f"{pf / single:.2f} x ours",
                "",
                cpu_cell(median_cpu_s(pf_runs), c_single),
            ]
        )
        verdicts.append(
            f"live >= {PROMPTFOO_FACTOR:.0f}x faster than promptfoo -j {c}: {pf / single:.2f}x -> "
            f"{verdict(pf >= PROMPTFOO_FACTOR * single)}"
        )
    else:
        verdicts.append("live vs promptfoo: not measured (pass --promptfoo)")


def replay_group(
    args: argparse.Namespace, n: int, repeats: int, rows: list[list[str]], verdicts: list[str]
) -> None:
    with project("all-replay", args.keep) as evals, project("all-plain", args.keep) as plain:
        write_eval_config(evals, n)
        write_plain_suite(plain, n)
        cfg = ["--cf-config", "promptfooconfig.yaml", "-p", "no:cacheprovider"]
        print(f"[replay {n}] recording against the emulator (latency 0) ...", flush=True)
        with emulator(latency_ms=0) as url:
            rec = run(
                pytest_cmd(*cfg, "--cf-mode", "record", "--cf-gateway-url", url),
                cwd=evals,
                timeout=args.timeout,
            )
        expect_passed(rec, n, "record")
        variants: dict[str, tuple[Path, list[str]]] = {
            "plain pytest": (plain, pytest_cmd("-p", "no:cacheprovider", "test_plain.py")),
            "replay, 1 process": (evals, pytest_cmd(*cfg)),
        }
        if n < 10_000:
            variants["replay, -n 2"] = (evals, pytest_cmd(*cfg, "-n", "2"))
            # xdist's own cost on this machine: the same trivial tests on two workers
            plain_x = pytest_cmd("-p", "no:cacheprovider", "test_plain.py", "-n", "2")
            variants["plain pytest, -n 2"] = (plain, plain_x)
        runs: dict[str, list[Run]] = {k: [] for k in variants}
        for i in range(repeats):
            for name, (cwd, cmd) in variants.items():
                print(f"[replay {n} {i + 1}/{repeats}] {name} ...", flush=True)
                r = run(cmd, cwd=cwd, timeout=args.timeout)
                expect_passed(r, n, name)
                if cwd == evals and "/ 0 live" not in r.output and "-n" not in cmd:
                    raise SystemExit("replay made live calls:\n" + r.output[-2000:])
                runs[name].append(r)
    base = median_s(runs["plain pytest"])
    single = median_s(runs["replay, 1 process"])
    # CPU seconds of the pytest child (xdist workers included): steadier on a shared machine
    cpu = {name: median_cpu_s(r) for name, r in runs.items()}
    base_cpu = cpu["plain pytest"]
    rows.append(
        [f"plain pytest, {n} x assert True", f"{base:.2f}", f"1.00 (cpu {base_cpu:.2f} s)", ""]
    )
    peak = max_rss_mb(runs["replay, 1 process"])
    single_cpu = cpu["replay, 1 process"]
    rows.append(
        [
            f"replay {n}, 1 process",
            f"{single:.2f}",
            f"{single / base:.2f} x plain (cpu {single_cpu:.2f} s, {single_cpu / base_cpu:.2f}x)",
            f"{peak:.0f}",
        ]
    )
    if n >= 10_000:
        verdicts.append(
            f"{n} replayed cases < {MEMORY_BAR_MB:.0f} MB: {peak:.0f} MB -> "
            f"{verdict(peak < MEMORY_BAR_MB)}"
        )
        return
    xdist = median_s(runs["replay, -n 2"])
    xcpu = cpu["replay, -n 2"]
    rows.append(
        [
            f"replay {n}, -n 2",
            f"{xdist:.2f}",
            f"{xdist / single:.2f} x 1 process (cpu {xcpu:.2f} s)",
            "",
        ]
    )
    plain_x = median_s(runs["plain pytest, -n 2"])
    rows.append(
        [
            f"plain pytest, {n} x assert True, -n 2",
            f"{plain_x:.2f}",
            f"{plain_x / base:.2f} x plain 1 process (cpu {cpu['plain pytest, -n 2']:.2f} s)",
            "",
        ]
    )
    verdicts.append(
        f"replay {n} <= {REPLAY_BAR:.0f}x plain pytest: {single / base:.2f}x -> "
        f"{verdict(single <= REPLAY_BAR * base)}"
    )
    verdicts.append(
        f"replay -n 2 faster than 1 process: {xdist / single:.2f}x -> {verdict(xdist < single)}"
    )


def startup_group(args: argparse.Namespace, rows: list[list[str]], verdicts: list[str]) -> None:
    collect = [PYTHON, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    variants = {"plugin enabled": [], "-p no:cfgateway": ["-p", "no:cfgateway"]}
    runs: dict[str, list[float]] = {k: [] for k in variants}
    with project("all-startup", args.keep) as root:
        write_plain_suite(root, 200)
        for extra in variants.values():  # warm-up
            run([*collect, *extra], cwd=root)
        print("[start-up] 10 interleaved runs each ...", flush=True)
        for _ in range(10):
            for name, extra in variants.items():
                runs[name].append(run([*collect, *extra], cwd=root).seconds * 1000)
    on = statistics.median(runs["plugin enabled"])
    off = statistics.median(runs["-p no:cfgateway"])
    rows.append(["start-up, --collect-only 200 plain tests, -p no:cfgateway", f"{off / 1000:.3f}"])
    rows[-1] += ["", ""]
    rows.append(["start-up, same, plugin enabled", f"{on / 1000:.3f}", f"{on - off:+.0f} ms", ""])
    verdicts.append(
        f"start-up added < {STARTUP_BAR_MS:.0f} ms: {on - off:+.0f} ms -> "
        f"{verdict(on - off < STARTUP_BAR_MS)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000, help="live/replay cases (1000)")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="live emulator latency")
    parser.add_argument("--concurrency", type=int, default=64, help="--cf-concurrency / -j")
    parser.add_argument("--repeats", type=int, default=3, help="runs per variant (default 3)")
    parser.add_argument("--memory-cases", type=int, default=10_000, help="memory bar cases")
    parser.add_argument("--no-memory", action="store_true", help="skip the 10k memory run")
    parser.add_argument("--only", choices=("live", "replay", "memory", "startup"), nargs="*")
    default_pf = "/work/promptfoo/node_modules/.bin/promptfoo"
    parser.add_argument(
        "--promptfoo",
        default=default_pf if Path(default_pf).exists() else None,
        help="promptfoo bin for the optional comparison (default: the local install if any)",
    )
    parser.add_argument(
        "--node-dir",
        default="/work/nodebin" if Path("/work/nodebin/node").exists() else None,
        help="directory of a Node >= 22.22 put first on promptfoo's PATH",
    )
    parser.add_argument("--no-promptfoo", action="store_true", help="skip promptfoo")
    parser.add_argument("--timeout", type=float, default=600, help="per child run, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the temp projects")
    args = parser.parse_args()
    if args.no_promptfoo:
        args.promptfoo = None
    only = set(args.only or ("live", "replay", "memory", "startup"))
    if args.no_memory:
        only.discard("memory")
    rows: list[list[str]] = []
    verdicts: list[str] = []
    groups = {
        "live": lambda: live_group(args, rows, verdicts),
        "replay": lambda: replay_group(args, args.cases, args.repeats, rows, verdicts),
        "memory": lambda: replay_group(args, args.memory_cases, 1, rows, verdicts),
        "startup": lambda: startup_group(args, rows, verdicts),
    }
    for name, measure in groups.items():
        if name in only:
            done = len(rows)
            measure()
            for row in rows[done:]:  # as each group ends, so a long run shows progress
                print("  ->", " | ".join(c for c in row if c), flush=True)
    print()
    print(f"median of {args.repeats} interleaved runs per variant (memory: 1, start-up: 10)")
    width = 5
    rows = [row + [""] * (width - len(row)) for row in rows]
    print(table(["measurement", "wall s", "ratio", "peak MB", "cpu s"], rows))
    print()
    for line in verdicts:
        print("target:", line)


if __name__ == "__main__":
    main()
