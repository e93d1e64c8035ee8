"""A/B of checkouts on the live path: the same live (or record, or ``-n 2``) run with the
plugin imported from different source trees, interleaved, wall and CPU seconds.

    python bench/ab.py /tmp/base /work/wt/h4              # live, 1 process, 1,000 x 100 ms
    python bench/ab.py /tmp/base . --mode record --repeats 5
    python bench/ab.py . --xdist                           # one tree: 1 process vs -n 2
    python bench/ab.py /tmp/base . --mode replay --plain    # replay 1,000 (recorded once)
    python bench/ab.py /tmp/base . --mode both             # live and record of each tree

Each source tree is a checkout (``git worktree add /tmp/base main``); its directory goes first
on the child's ``PYTHONPATH``, so the child imports ``pytest_cfgateway`` from it (the venv's
editable install is a plain path entry, which ``PYTHONPATH`` precedes). The emulator always
runs from the interpreter's own install, in its own process. CPU is the child's user +
system time (xdist workers included), which background load changes much less than wall time.
A tree may end in ``?NAME=value&NAME=value``: environment variables for that variant.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
from pathlib import Path

from _common import (
    Run,
    child_env,
    emulator,
    expect_passed,
    project,
    pytest_cmd,
    run,
    table,
    write_eval_config,
    write_plain_suite,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", help="source trees to compare (checkout roots)")
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--mode",
        choices=("live", "record", "replay", "both"),
        default="live",
        help="both: a live and a record run of each tree, interleaved, and record / live",
    )
    parser.add_argument(
        "--plain", action="store_true", help="also run plain pytest (N x assert True)"
    )
    parser.add_argument("--xdist", action="store_true", help="also run each tree with -n 2")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    n = args.cases
    ideal = n * args.latency_ms / 1000.0 / args.concurrency
    modes = ("live", "record") if args.mode == "both" else (args.mode,)
    variants: dict[str, tuple[dict[str, str], list[str], str]] = {}
    for tree in args.trees:
        # a PYTHONPATH (one tree, or more directories joined by ":"), then optionally
        # "?NAME=value&NAME=value": environment variables of that variant's child
        where, _, query = tree.partition("?")
        env = dict(item.split("=", 1) for item in query.split("&") if item)
        env["PYTHONPATH"] = ":".join(str(Path(part).resolve()) for part in where.split(":"))
        for mode in modes:
            tag = f" {mode}" if len(modes) > 1 else ""
            variants[f"{tree}{tag}"] = (env, [], mode)
            if args.xdist:
                variants[f"{tree}{tag} -n 2"] = (env, ["-n", "2"], mode)
    if args.plain:
        variants["plain pytest"] = ({}, [], "")
        if args.xdist:
            variants["plain pytest -n 2"] = ({}, ["-n", "2"], "")
    runs: dict[str, list[Run]] = {k: [] for k in variants}
    with project("ab", args.keep) as proj, emulator(latency_ms=args.latency_ms) as url:
        write_eval_config(proj, n)
        write_plain_suite(proj, n)
        base = ["--cf-config", "promptfooconfig.yaml", "--cf-gateway-url", url]
        base += ["--cf-concurrency", str(args.concurrency), "-p", "no:cacheprovider"]
        if args.mode == "replay":  # recorded once (by the first tree), then replayed
            first_env = next(iter(variants.values()))[0]
            rec = pytest_cmd(*base, "--cf-mode", "record")
            expect_passed(run(rec, cwd=proj, env=child_env(**first_env)), n, "record")
        for i in range(args.repeats):
            for name, (env, extra, mode) in variants.items():
                if mode in ("live", "record"):  # (live without cassettes, as record starts)
                    shutil.rmtree(proj / "__snapshots__", ignore_errors=True)
                plain = name.startswith("plain pytest")
                cmd = ["test_plain.py", "-p", "no:cacheprovider"] if plain else base
                if not plain:
                    cmd = [*cmd, "--cf-mode", mode]
                r = run(
                    pytest_cmd(*cmd, *extra),
                    cwd=proj,
                    env=child_env(**env),
                    timeout=args.timeout,
                )
                expect_passed(r, n, name)
                runs[name].append(r)
                print(f"[{i + 1}/{args.repeats}] {name}: {r.seconds:.2f} s, cpu {r.cpu_s:.2f} s")
    first = next(iter(variants))
    w0 = statistics.median(r.seconds for r in runs[first])
    c0 = statistics.median(r.cpu_s for r in runs[first])
    c0min = min(r.cpu_s for r in runs[first])
    rows = []
    for name, rs in runs.items():
        w = statistics.median(r.seconds for r in rs)
        c = statistics.median(r.cpu_s for r in rs)
        cmin = min(r.cpu_s for r in rs)
        rows.append(
            [
                name,
                f"{w:.2f}",
                f"{w / ideal:.2f}" if ideal else "-",  # (replay, or latency 0: no ideal)
                f"{w / w0:.2f}",
                f"{c:.2f}",
                f"{c / c0:.2f}",
                f"{cmin:.2f}",
                f"{cmin / c0min:.2f}",
            ]
        )
    print()
    print(
        f"{'/'.join(modes)} {n} x {args.latency_ms:.0f} ms, C={args.concurrency}, "
        f"median of {args.repeats} interleaved (ideal {ideal:.2f} s)"
    )
    headers = ["tree", "wall s", "x ideal", f"wall / {first}", "cpu s", f"cpu / {first}"]
    headers += ["cpu min s", f"cpu min / {first}"]
    print(table(headers, rows))
    if len(modes) > 1:
        print()
        for tree in args.trees:
            live = runs[f"{tree} live"]
            rec = runs[f"{tree} record"]
            wr = statistics.median(r.seconds for r in rec) / statistics.median(
                r.seconds for r in live
            )
            cr = statistics.median(r.cpu_s for r in rec) / statistics.median(r.cpu_s for r in live)
            mr = min(r.cpu_s for r in rec) / min(r.cpu_s for r in live)
            print(f"{tree}: record / live: wall {wr:.2f}x, cpu {cr:.2f}x (min cpu {mr:.2f}x)")
    for name, rs in runs.items():  # --plain: each variant against plain pytest, same -n
        ref = "plain pytest -n 2" if name.endswith(" -n 2") else "plain pytest"
        if ref in runs and not name.startswith("plain pytest"):
            w = statistics.median(r.seconds for r in rs)
            c = statistics.median(r.cpu_s for r in rs)
            w1 = statistics.median(r.seconds for r in runs[ref])
            c1 = statistics.median(r.cpu_s for r in runs[ref])
            print(f"{name}: {w / w1:.2f}x {ref} wall, {c / c1:.2f}x cpu")


if __name__ == "__main__":
    main()
