"""The user-code executor: values, errors, time limits and worker isolation (real workers)."""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_cfgateway import usercode
from pytest_cfgateway.usercode import (
    JS_UNDEFINED,
    JsSpecial,
    UserCodeCrashed,
    UserCodeError,
    UserCodeExited,
    UserCodeRaised,
    UserCodeTimeout,
)


@pytest.fixture(autouse=True)
def _fresh_pool() -> Iterator[None]:
    yield
    usercode.shutdown()


def py(body: str, *args: object, timeout: float | None = 5.0) -> object:
    source = "def main(output, context):\n" + "".join(f"    {line}\n" for line in body.split("\n"))
    return usercode.run(
        usercode.python_source(source, "main", list(args) or ["out", {}], label="python `t`"),
        timeout=timeout,
    )


def js(body: str, *args: object, timeout: float | None = 5.0) -> object:
    return usercode.run(
        usercode.js_body(body, ("output", "context"), list(args) or ["out", {}], label="js `t`"),
        timeout=timeout,
    )


# --- values ------------------------------------------------------------------------------


def test_python_values_cross_as_json() -> None:
    assert py("return {'a': [1, 2.5, None, True], 'b': output}") == {
        "a": [1, 2.5, None, True],
        "b": "out",
    }
    assert math.isnan(py("return float('nan')"))  # type: ignore[arg-type]
    assert py("return context['k'] * 2", "x", {"k": 21}) == 42


def test_python_dataclass_result_becomes_a_dict() -> None:
    body = (
        "import dataclasses\n"
        "@dataclasses.dataclass\n"
        "class R:\n"
        "    passed: bool\n"
        "    score: float\n"
        "return R(True, 0.5)"
    )
    assert py(body) == {"passed": True, "score": 0.5}


def test_python_object_result_is_a_clear_error() -> None:
    with pytest.raises(UserCodeRaised, match="returned a object, which cannot be passed back"):
        py("return object()")


def test_python_coroutine_result_is_awaited() -> None:
    body = "async def f():\n    return 7\nreturn f()"
    assert py(body) == 7


def test_python_file_function(tmp_path: Path) -> None:
    (tmp_path / "helper.py").write_text("SUFFIX = '!'\n")
    f = tmp_path / "check.py"
    f.write_text(
        "from helper import SUFFIX\ndef shout(output, context):\n    return output + SUFFIX\n"
    )
    req = usercode.python_file(f, "shout", ["hi", {}], label="file")
    assert usercode.run(req) == "hi!"
    missing = usercode.python_file(f, "nope", ["hi", {}], label="file")
    with pytest.raises(UserCodeRaised, match=r"has no function 'nope' \(functions there: shout\)"):
        usercode.run(missing)


def test_python_file_class_method_as_promptfoo_names_it(tmp_path: Path) -> None:
    # promptfoo's custom-prompt-function example: file://prompt_python.py:Prompt.prompt
    f = tmp_path / "prompt_python.py"
    f.write_text(
        "class Prompt:\n"
        "    @staticmethod\n"
        "    def prompt(context):\n"
        "        return 'Q: ' + context['vars']['q']\n"
        "    @classmethod\n"
        "    def named(cls, context):\n"
        "        return cls.__name__\n"
    )
    ctx = {"vars": {"q": "why"}}
    assert usercode.run(usercode.python_file(f, "Prompt.prompt", [ctx], label="p")) == "Q: why"
    assert usercode.run(usercode.python_file(f, "Prompt.named", [ctx], label="p")) == "Prompt"
    missing = usercode.python_file(f, "Prompt.nope", [ctx], label="p")
    with pytest.raises(UserCodeRaised, match=r"has no function 'Prompt.nope'"):
        usercode.run(missing)


def test_arguments_must_be_json() -> None:
    with pytest.raises(UserCodeError, match="cannot be given its arguments"):
        usercode.run(
            usercode.python_source("def f(x):\n    return x\n", "f", [object()], label="x")
        )


def test_print_output_is_forwarded(capsys: pytest.CaptureFixture[str]) -> None:
    assert py("print('from user code')\nreturn 1") == 1
    assert "from user code" in capsys.readouterr().out


def test_js_console_output_is_forwarded_also_when_it_throws(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # dukpy sends console.* to Python logging: a JavaScript hook's output was lost
    assert js("console.log('from js', {a: 1}, 2); console.error('err'); return 1") == 1
    assert capsys.readouterr().out == 'from js {"a":1} 2\nerr\n'
    with pytest.raises(usercode.UserCodeRaised):
        js("console.log('before'); throw new Error('x')")
    assert capsys.readouterr().out == "before\n"
    assert js("return 2") == 2
    assert capsys.readouterr().out == ""  # each call gets its own lines


def test_output_goes_through_the_output_filter(capsys: pytest.CaptureFixture[str]) -> None:
    usercode.set_output_filter(lambda text: text.replace("hidden.value", "<secret:K>"))
    try:
        assert py("print('k=hidden.value')\nreturn 1") == 1
        assert js("console.log('k=hidden.value'); return 1") == 1
    finally:
        usercode.set_output_filter(None)
    assert capsys.readouterr().out == "k=<secret:K>\nk=<secret:K>\n"


def test_js_values_come_back_faithfully() -> None:
    assert js("return output.toUpperCase()") == "OUT"
    assert js("return 1 / 0") == math.inf
    assert js("return -1 / 0") == -math.inf
    assert math.isnan(js("return NaN"))  # type: ignore[arg-type]
    assert js("return undefined") is not None
    assert js("return undefined") == JS_UNDEFINED
    assert js("return function () {}") == JsSpecial("function")
    assert js("return 2n ** 70n") == 2**70
    assert js("return [1 / 0, undefined, {a: undefined, b: null}]") == [math.inf, None, {"b": None}]
    assert js("return Promise.resolve({x: 1})") == {"x": 1}
    assert js("return 'aXa'.replace('a', 'x')") == "xXa"  # first match only, as in JavaScript


def test_js_errors_name_the_js_error() -> None:
    with pytest.raises(UserCodeRaised) as info:
        js("return JSON.parse(output)", "not json")
    assert info.value.type_name == "SyntaxError"
    with pytest.raises(UserCodeRaised, match="TypeError: bad"):
        js("throw new TypeError('bad')")
    with pytest.raises(UserCodeRaised, match="Error: no"):
        js("return Promise.reject(new Error('no'))")
    with pytest.raises(UserCodeRaised, match="SyntaxError"):
        js("return )(")


def test_js_function_expression_and_file(tmp_path: Path) -> None:
    assert usercode.run(usercode.js_function("(x, y) => x * y", [6, 7], label="f")) == 42
    cjs = tmp_path / "t.js"
    cjs.write_text("module.exports = { up: (o) => o.toUpperCase() };\n")
    assert usercode.run(usercode.js_file(cjs, "up", ["a"], label="f")) == "A"
    esm = tmp_path / "t.mjs"
    esm.write_text("export default function (o) { return o + '?'; }\n")
    assert usercode.run(usercode.js_file(esm, None, ["a"], label="f")) == "a?"
    with pytest.raises(UserCodeRaised, match="does not export function 'nope'"):
        usercode.run(usercode.js_file(cjs, "nope", ["a"], label="f", fallback=False))


def test_describe_js() -> None:
    assert usercode.describe_js(math.inf) == "Infinity"
    assert usercode.describe_js(-math.inf) == "-Infinity"
    assert usercode.describe_js(math.nan) == "NaN"
    assert usercode.describe_js(JS_UNDEFINED) == "undefined"
    assert usercode.describe_js(3.0) == "3"
    assert usercode.describe_js("a") == '"a"'


# --- ending, wedging, crashing -----------------------------------------------------------


@pytest.mark.parametrize("exc", ["SystemExit(0)", "KeyboardInterrupt()", "SystemExit('bye')"])
def test_exit_exceptions_are_errors_and_the_worker_survives(exc: str) -> None:
    with pytest.raises(UserCodeExited, match="which would end the test session"):
        py(f"raise {exc}")
    before = usercode.executor().started
    assert py("return 1") == 1
    assert usercode.executor().started == before  # the same worker answered


def test_os_exit_ends_only_the_worker() -> None:
    assert py("return 1") == 1
    with pytest.raises(UserCodeCrashed, match=r"exited with status 0 \(os._exit\(0\)\?\)"):
        py("import os\nos._exit(0)")
    assert py("return 2") == 2


def test_segfault_is_reported_with_where_it_happened() -> None:
    with pytest.raises(UserCodeCrashed, match="SIGSEGV") as info:
        py("import ctypes\nctypes.string_at(0)")
    assert "string_at" in str(info.value)
    assert py("return 3") == 3


def test_python_sleep_is_stopped_by_the_time_limit() -> None:
    with pytest.raises(UserCodeTimeout, match=r"python `t` did not finish within 300 ms"):
        py("import time\ntime.sleep(30)", timeout=0.3)
    assert py("return 4") == 4


def test_js_infinite_loop_is_stopped_by_the_time_limit() -> None:
    with pytest.raises(UserCodeTimeout, match=r"js `t` did not finish within 300 ms"):
        js("while (true) {}", timeout=0.3)
    assert js("return 5") == 5


def test_killed_worker_pid_is_gone() -> None:
    py("return 0")
    (pid,) = usercode.executor().worker_pids()
    with pytest.raises(UserCodeTimeout):
        py("import time\ntime.sleep(30)", timeout=0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_arun_does_not_block_the_loop_and_cancels_cleanly() -> None:
    async def scenario() -> tuple[list[str], int]:
        ticks: list[str] = []

        async def ticker() -> None:
            for _ in range(5):
                await asyncio.sleep(0.02)
                ticks.append("t")

        slow = usercode.python_source(
            "def main():\n    import time\n    time.sleep(30)\n", "main", [], label="slow"
        )
        with usercode.running() as labels:
            task = asyncio.ensure_future(usercode.arun(slow, timeout=30))
            await ticker()
            in_flight = list(labels)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        return in_flight, len(ticks)

    in_flight, ticks = asyncio.run(scenario())
    assert in_flight == ["slow"]
    assert ticks == 5  # the loop kept running while the user code slept
    assert py("return 6") == 6


def test_arun_times_out() -> None:
    slow = usercode.js_body("while (true) {}", (), [], label="spin")
    with pytest.raises(UserCodeTimeout, match="spin did not finish within 200 ms"):
        asyncio.run(usercode.arun(slow, timeout=0.2))


def test_shutdown_stops_workers() -> None:
    py("return 0")
    pids = usercode.executor().worker_pids()
    assert pids
    usercode.shutdown()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_CPU is POSIX")
@pytest.mark.parametrize("lang", ["python", "javascript"])
def test_a_worker_left_looping_without_its_parent_is_ended_by_the_kernel(lang: str) -> None:
    """A worker whose parent was killed (SIGKILL) while its user code looped for ever kept
    one core busy until the machine stopped (seen: two orphans at 60% CPU for 30 minutes).
    Each call now carries a CPU bound that the worker hands to the kernel (RLIMIT_CPU): the
    same worker, sent a looping call with a 1 s bound and never stopped by a parent, ends
    by SIGXCPU."""
    import json
    import signal

    from pytest_cfgateway.usercode import _pool

    request = (
        {"op": "py_source", "source": "def f():\n    while True:\n        pass\n", "fn": "f"}
        if lang == "python"
        else {"op": "js_body", "params": [], "body": "while (true) {}"}
    )
    worker = _pool._Worker()
    try:
        worker.send(json.dumps({**request, "args": [], "cpu_limit_s": 1}).encode())
        with pytest.raises(_pool._Died):
            worker.wait(60)  # no parent-side limit here: only the kernel's can end it
        assert worker.proc.wait(timeout=10) == -signal.SIGXCPU
    finally:
        worker.kill()


def test_calls_carry_a_cpu_bound_beyond_their_time_limit() -> None:
    from pytest_cfgateway.usercode import _pool

    bounded = _pool._with_cpu_bound({"op": "py_source"}, 2.5)
    assert bounded == {"op": "py_source", "cpu_limit_s": 2.5 + _pool.CPU_BACKSTOP_MARGIN_S}
