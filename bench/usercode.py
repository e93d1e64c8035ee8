"""Per-call overhead of the user-code executor (`pytest_cfgateway.usercode`).

Times, per call, in microseconds (p50 / p95 over ``--calls`` calls after ``--warmup``):

- warm calls through the worker pool: inline Python, a Python file function, an inline
  JavaScript body, a JavaScript function expression; `run` (blocking) and `arun` (on an
  event loop, as assertions call it);
- cold: starting a worker and making its first Python call, then its first JavaScript call
  (QuickJS context creation), each measured ``--cold`` times with a fresh pool;
- reference points in this process: a plain Python call of the same function, and
  ``dukpy.JSInterpreter.evaljs`` of the same body in a reused context (what an in-process
  design would cost, without time limits or isolation).

Run: ``python bench/usercode.py [--calls 5000] [--cold 5]``. On a shared machine quote p50.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_cfgateway import usercode

PY_SOURCE = "def main(output, context):\n    return len(output) > 3\n"
JS_BODY = "return output.length > 3"
ARGS = ["hello world", {"vars": {"topic": "bench"}, "prompt": "p"}]


def _pcts(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    p50 = statistics.median(samples)
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    return p50 * 1e6, p95 * 1e6


def _time(fn: Callable[[], Any], calls: int, warmup: int) -> tuple[float, float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return _pcts(out)


def _time_async(make: Callable[[], Any], calls: int, warmup: int) -> tuple[float, float]:
    async def go() -> tuple[float, float]:
        for _ in range(warmup):
            await make()
        out = []
        for _ in range(calls):
            t0 = time.perf_counter()
            await make()
            out.append(time.perf_counter() - t0)
        return _pcts(out)

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--cold", type=int, default=5)
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        pyfile = Path(tmp) / "check.py"
        pyfile.write_text("def get_assert(output, context):\n    return len(output) > 3\n")
        rows: list[tuple[str, tuple[float, float]]] = []

        py_req = usercode.python_source(PY_SOURCE, "main", ARGS, label="bench")
        file_req = usercode.python_file(pyfile, "get_assert", ARGS, label="bench")
        js_req = usercode.js_body(JS_BODY, ("output", "context"), ARGS, label="bench")
        fn_req = usercode.js_function("(output) => output.length > 3", ARGS[:1], label="bench")
        n, w = opts.calls, opts.warmup
        rows.append(("warm run: python inline", _time(lambda: usercode.run(py_req), n, w)))
        rows.append(("warm run: python file:fn", _time(lambda: usercode.run(file_req), n, w)))
        rows.append(("warm run: javascript body", _time(lambda: usercode.run(js_req), n, w)))
        rows.append(("warm run: javascript function", _time(lambda: usercode.run(fn_req), n, w)))
        rows.append(("warm arun: python inline", _time_async(lambda: usercode.arun(py_req), n, w)))
        rows.append(
            ("warm arun: javascript body", _time_async(lambda: usercode.arun(js_req), n, w))
        )

        namespace: dict[str, Any] = {}
        exec(PY_SOURCE, namespace)
        fn = namespace["main"]
        rows.append(("in-process python call (reference)", _time(lambda: fn(*ARGS), n, w)))
        try:
            import dukpy

            interp = dukpy.JSInterpreter()
            interp.evaljs("globalThis.f = function (output, context) { " + JS_BODY + " }; null")
            rows.append(
                (
                    "in-process dukpy evaljs (reference)",
                    _time(lambda: interp.evaljs("f(dukpy.a[0], dukpy.a[1])", a=ARGS), n, w),
                )
            )
        except ImportError:
            pass

        cold_py, cold_js = [], []
        for _ in range(opts.cold):
            usercode.shutdown()
            t0 = time.perf_counter()
            usercode.run(py_req)
            cold_py.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            usercode.run(js_req)
            cold_js.append(time.perf_counter() - t0)
        rows.append(("cold: start worker + first python call", _pcts(cold_py)))
        rows.append(("cold: first javascript call of a worker", _pcts(cold_js)))
        usercode.shutdown()

    print(f"{'what':44} {'p50 us':>10} {'p95 us':>10}")
    for name, (p50, p95) in rows:
        print(f"{name:44} {p50:10.1f} {p95:10.1f}")


if __name__ == "__main__":
    main()
