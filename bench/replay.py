"""Replay benchmark (SPEC section 11): N config cases replayed from snapshots vs plain pytest
running N trivial parametrized tests; peak memory of the replay run.

    python bench/replay.py                 # 1,000 cases, median of 3
    python bench/replay.py --cases 10000   # the memory bar: 10k replayed cases < 300 MB

Bars: replay wall time within 2x of plain pytest; 10,000 replayed cases under 300 MB peak RSS.
"""

from __future__ import annotations

import argparse
import pstats
import sys
from pathlib import Path

from _common import (
    PYTHON,
    Run,
    emulator,
    expect_passed,
    max_rss_mb,
    median_s,
    project,
    pytest_cmd,
    run,
    table,
    write_eval_config,
    write_plain_suite,
    write_syrupy_suite,
)

RATIO_BAR = 2.0
MEMORY_BAR_MB = 300.0
MEMORY_BAR_CASES = 10_000


def profile_replay(root: Path, cfg: list[str], timeout: float) -> None:
    """One replay under cProfile; print the plugin's (and syrupy's, PyYAML's) costliest
    calls by cumulative time. Times are inflated by the profiler: read them as shares."""
    out = root / "replay.prof"
    cmd = [PYTHON, "-m", "cProfile", "-o", str(out), "-m", "pytest", "-q", *cfg]
    run(cmd, cwd=root, timeout=timeout)
    stats = pstats.Stats(str(out), stream=sys.stdout)
    total = float(getattr(stats, "total_tt", 0.0))  # not in typeshed's Stats
    print(f"\ncProfile of one replay (total {total:.2f} s under the profiler):")
    stats.sort_stats("cumulative").print_stats(r"pytest_cfgateway|syrupy|yaml", 30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000, help="eval cases (default 1000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per variant (default 3)")
    parser.add_argument("--timeout", type=float, default=600, help="per child run, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the temp projects")
    parser.add_argument(
        "--profile", action="store_true", help="also run one replay under cProfile, print hot spots"
    )
    args = parser.parse_args()
    n: int = args.cases

    with (
        project("replay", args.keep) as evals,
        project("plain", args.keep) as plain,
        project("syrupy", args.keep) as snaps,
    ):
        write_eval_config(evals, n)
        write_plain_suite(plain, n)
        write_syrupy_suite(snaps, n)
        run(pytest_cmd("--snapshot-update"), cwd=snaps, timeout=args.timeout)
        cfg = ["--cf-config", "promptfooconfig.yaml"]

        print(f"recording {n} cases against the emulator (latency 0) ...", flush=True)
        with emulator(latency_ms=0) as url:
            rec = run(
                pytest_cmd(*cfg, "--cf-mode", "record", "--cf-gateway-url", url),
                cwd=evals,
                timeout=args.timeout,
            )
        expect_passed(rec, n, "record")

        replays: list[Run] = []
        plains: list[Run] = []
        syrupys: list[Run] = []
        for i in range(args.repeats):  # interleaved, so load from other work hits both alike
            print(f"run {i + 1}/{args.repeats} ...", flush=True)
            plains.append(run(pytest_cmd("test_plain.py"), cwd=plain, timeout=args.timeout))
            expect_passed(plains[-1], n, "plain pytest")
            syrupys.append(run(pytest_cmd(), cwd=snaps, timeout=args.timeout))
            expect_passed(syrupys[-1], n, "plain pytest + syrupy")
            replays.append(run(pytest_cmd(*cfg), cwd=evals, timeout=args.timeout))
            expect_passed(replays[-1], n, "replay")
            if "/ 0 live" not in replays[-1].output:
                raise SystemExit("replay made live calls:\n" + replays[-1].output[-2000:])

        if args.profile:
            profile_replay(evals, cfg, args.timeout)

    base = median_s(plains)
    replay_s = median_s(replays)
    rows = [
        [f"plain pytest, {n} x assert True", f"{base:.2f}", "1.00", f"{max_rss_mb(plains):.0f}"],
        [
            f"plain pytest + 1 syrupy file snapshot per test, {n}",
            f"{median_s(syrupys):.2f}",
            f"{median_s(syrupys) / base:.2f}",
            f"{max_rss_mb(syrupys):.0f}",
        ],
        [
            f"replay, {n} config cases",
            f"{replay_s:.2f}",
            f"{replay_s / base:.2f}",
            f"{max_rss_mb(replays):.0f}",
        ],
        [f"record (once, latency 0), {n} cases", f"{rec.seconds:.2f}", "", f"{rec.maxrss_mb:.0f}"],
    ]
    print()
    print(table(["variant", f"wall s (median of {args.repeats})", "x plain", "peak MB"], rows))
    print()
    ratio = replay_s / base
    print(
        f"bar: replay within {RATIO_BAR}x of plain pytest: {ratio:.2f}x -> "
        f"{'PASS' if ratio <= RATIO_BAR else 'FAIL'}"
    )
    peak = max_rss_mb(replays)
    if n >= MEMORY_BAR_CASES:
        verdict = "PASS" if peak < MEMORY_BAR_MB else "FAIL"
        print(f"bar: {n} replayed cases under {MEMORY_BAR_MB:.0f} MB: {peak:.0f} MB -> {verdict}")
    per_item_ms = (replay_s - base) / n * 1000
    print(f"added per replayed case vs a trivial test: {per_item_ms:.2f} ms")


if __name__ == "__main__":
    main()
