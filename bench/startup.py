"""Start-up benchmark (SPEC section 11): ``pytest --collect-only -q`` of a plain suite that
does not use the plugin, with the plugin enabled vs ``-p no:cfgateway``; and which imports
the plugin adds (``python -X importtime``).

    python bench/startup.py                # 200 tests, median of 10
    python bench/startup.py --repeats 20 --top 15

Bar: under 50 ms added.
"""

from __future__ import annotations

import argparse
import re
import statistics

from _common import PYTHON, Run, child_env, project, run, table, write_plain_suite

BAR_MS = 50.0
_PYTEST = "import pytest"
_PLUGIN = "import pytest; import pytest_cfgateway.plugin"
_Times = dict[str, tuple[int, int, int]]
_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def import_times(output: str) -> _Times:
    """``{module: (self us, cumulative us, depth)}`` from ``-X importtime`` output."""
    times: _Times = {}
    for line in output.splitlines():
        match = _LINE.match(line)
        if match:
            self_us, cum_us, indent, name = match.groups()
            times[name] = (int(self_us), int(cum_us), len(indent) // 2)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200, help="plain tests (default 200)")
    parser.add_argument("--repeats", type=int, default=10, help="runs per variant (default 10)")
    parser.add_argument("--top", type=int, default=10, help="import offenders to list")
    args = parser.parse_args()
    collect = [PYTHON, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    variants = {"plugin enabled": [], "-p no:cfgateway": ["-p", "no:cfgateway"]}
    runs: dict[str, list[Run]] = {name: [] for name in variants}

    with project("startup") as root:
        write_plain_suite(root, args.tests)
        env = child_env()
        for extra in variants.values():  # warm-up: bytecode caches, page cache
            run([*collect, *extra], cwd=root, env=env)
        for _ in range(args.repeats):  # interleaved, so background load hits both alike
            for name, extra in variants.items():
                runs[name].append(run([*collect, *extra], cwd=root, env=env))
        traced = {
            name: import_times(
                run(
                    [PYTHON, "-X", "importtime", *collect[1:], "-s", *extra], cwd=root, env=env
                ).output
            )
            for name, extra in variants.items()
        }
        bare = {
            code: import_times(
                run([PYTHON, "-X", "importtime", "-c", code], cwd=root, env=env).output
            )
            for code in (_PYTEST, _PLUGIN)
        }

    with_ms = statistics.median(r.seconds for r in runs["plugin enabled"]) * 1000
    without_ms = statistics.median(r.seconds for r in runs["-p no:cfgateway"]) * 1000
    added = with_ms - without_ms
    print(f"pytest --collect-only -q, {args.tests} plain tests, median of {args.repeats}")
    print(
        table(
            ["variant", "wall ms"],
            [
                ["-p no:cfgateway", f"{without_ms:.0f}"],
                ["plugin enabled", f"{with_ms:.0f}"],
                ["added by the plugin", f"{added:+.0f}"],
            ],
        )
    )
    verdict = "PASS" if added < BAR_MS else "FAIL"
    print(f"bar: under {BAR_MS:.0f} ms added: {added:+.0f} ms -> {verdict}")

    print()
    print("modules imported only with the plugin enabled (self time under -X importtime):")
    _print_added(traced["plugin enabled"], traced["-p no:cfgateway"], args.top)
    print()
    print(f'python -X importtime -c "{_PLUGIN}", modules beyond pytest\'s own:')
    _print_added(bare[_PLUGIN], bare[_PYTEST], args.top)


def _print_added(on: _Times, off: _Times, top: int) -> None:
    """The modules in ``on`` but not ``off``: count, total self time, the ``top`` slowest."""
    added = {m: t for m, t in on.items() if m not in off}
    total_ms = sum(t[0] for t in added.values()) / 1000
    print(f"{len(added)} modules, {total_ms:.1f} ms self time in all")
    worst = sorted(added.items(), key=lambda kv: kv[1][0], reverse=True)[:top]
    print(table(["module", "self ms", "cumulative ms"], _rows(worst)))


def _rows(items: list[tuple[str, tuple[int, int, int]]]) -> list[list[str]]:
    return [[m, f"{t[0] / 1000:.1f}", f"{t[1] / 1000:.1f}"] for m, t in items]


if __name__ == "__main__":
    main()
