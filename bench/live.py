"""Live benchmark (SPEC section 11): N config cases in ``--cf-mode live`` against the gateway
emulator at latency L with ``--cf-concurrency C``, vs the ideal N x L / C and serial N x L;
also under pytest-xdist (``-n 2``) for comparison.

    python bench/live.py                      # 1,000 cases, L = 100 ms, C = 64, median of 3
    python bench/live.py --cases 200 --repeats 1

Bar: wall time within 1.5x of N x L / C, plus under 1.5 s of fixed start-up.
"""

from __future__ import annotations

import argparse

from _common import (
    Run,
    emulator,
    expect_passed,
    median_s,
    project,
    pytest_cmd,
    run,
    table,
    write_eval_config,
)

FIXED_STARTUP_S = 1.5
RATIO_BAR = 1.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000, help="eval cases (default 1000)")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="emulator latency")
    parser.add_argument("--concurrency", type=int, default=64, help="--cf-concurrency")
    parser.add_argument("--repeats", type=int, default=3, help="runs per variant (default 3)")
    parser.add_argument("--timeout", type=float, default=300, help="per child run, seconds")
    parser.add_argument("--no-xdist", action="store_true", help="skip the -n 2 variant")
    parser.add_argument("--keep", action="store_true", help="keep the temp project")
    args = parser.parse_args()
    n: int = args.cases
    latency_s = args.latency_ms / 1000.0
    ideal = n * latency_s / args.concurrency
    serial = n * latency_s

    variants: dict[str, list[str]] = {"live, 1 process": []}
    if not args.no_xdist:
        variants["live, -n 2 (xdist)"] = ["-n", "2"]
    runs: dict[str, list[Run]] = {name: [] for name in variants}

    with project("live", args.keep) as root, emulator(latency_ms=args.latency_ms) as url:
        write_eval_config(root, n)
        base = [
            "--cf-config",
            "promptfooconfig.yaml",
            "--cf-mode",
            "live",
            "--cf-gateway-url",
            url,
            "--cf-concurrency",
            str(args.concurrency),
            "-p",
            "no:cacheprovider",
        ]
        for i in range(args.repeats):
            for name, extra in variants.items():
                print(f"run {i + 1}/{args.repeats}: {name} ...", flush=True)
                r = run(pytest_cmd(*base, *extra), cwd=root, timeout=args.timeout)
                expect_passed(r, n, name)
                runs[name].append(r)

    rows = [
        ["ideal N x L / C", f"{ideal:.2f}", "1.00", f"{ideal / serial:.3f}"],
        ["serial N x L", f"{serial:.2f}", f"{serial / ideal:.1f}", "1.000"],
    ]
    for name, rs in runs.items():
        wall = median_s(rs)
        rows.append([name, f"{wall:.2f}", f"{wall / ideal:.1f}", f"{wall / serial:.3f}"])
    print()
    print(
        f"{n} cases, latency {args.latency_ms:.0f} ms, --cf-concurrency {args.concurrency}, "
        f"median of {args.repeats}"
    )
    print(table(["variant", "wall s", "x ideal", "x serial"], rows))
    print()
    wall = median_s(runs["live, 1 process"])
    limit = RATIO_BAR * ideal + FIXED_STARTUP_S
    print(
        f"bar: <= {RATIO_BAR} x ideal + {FIXED_STARTUP_S} s = {limit:.2f} s: {wall:.2f} s -> "
        f"{'PASS' if wall <= limit else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
