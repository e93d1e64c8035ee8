"""User code cannot hang, end or wedge a session, nor cost another item its recording.

Each run is a real pytest subprocess (so an ``os._exit`` or a hang would show as exactly
that) against the real emulator, bounded by pytester's timeout. One config holds a good
item, one item per kind of misbehaving user code, and another good item; the time limit
is ``evaluateOptions.timeoutMs: 1500`` (room for a loaded machine).
"""

from __future__ import annotations

import textwrap

import pytest

GOOD = "{type: javascript, value: 'output.length > 0'}"
#: description -> (assertion, what the item's error must name)
BAD: dict[str, tuple[str, str]] = {
    "sys-exit": ("{type: python, value: \"__import__('sys').exit(0)\"}", "raised SystemExit(0)"),
    "keyboard-interrupt": (
        '{type: python, value: "x = 1\\nraise KeyboardInterrupt"}',
        "raised KeyboardInterrupt",
    ),
    "os-exit": (
        "{type: python, value: \"__import__('os')._exit(0)\"}",
        "ended its worker process: the process exited with status 0",
    ),
    "python-sleep": (
        "{type: python, value: \"__import__('time').sleep(60)\"}",
        "python `__import__('time').sleep(60)`",
    ),
    "js-loop": (
        '{type: javascript, value: "while (true) {}\\nreturn true"}',
        "javascript `while (true) {} return true`",
    ),
    "regex-backtracking": (
        "{type: regex, value: '^(a|a)+$', transform: \"'a'.repeat(40) + 'b'\"}",
        "regex '^(a|a)+$' did not finish matching",
    ),
    "transform-loop": (
        '{type: equals, value: x, transform: "while (true) {}\\nreturn 1"}',
        "transform of equals assertion `while (true) {} return 1`",
    ),
}


def _config(provider: str) -> str:
    tests = [f"  - {{description: first-good, vars: {{x: one}}, assert: [{GOOD}]}}"]
    for name, (assertion, _) in BAD.items():
        tests.append(f"  - {{description: {name}, vars: {{x: {name}}}, assert: [{assertion}]}}")
    tests.append(f"  - {{description: last-good, vars: {{x: two}}, assert: [{GOOD}]}}")
    head = f"""\
        prompts: ['Say {{{{x}}}}']
        providers: ['{provider}']
        evaluateOptions: {{timeoutMs: 1500}}
        tests:
        """
    return textwrap.dedent(head) + "\n".join(tests) + "\n"


def _check(result: pytest.RunResult) -> None:
    out = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in out
    assert result.ret not in (0, None), out[-3000:]
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 2, out[-3000:]
    assert outcomes.get("error") == len(BAD) or outcomes.get("errors") == len(BAD), out[-3000:]
    for name, (_, says) in BAD.items():
        assert says in out, f"{name}: {says!r} not in output:\n{out[-3000:]}"
    # the summary was printed: the session ended normally
    assert f"{len(BAD)} error" in out


def _snapshots(pytester: pytest.Pytester) -> list[str]:
    return sorted(p.name for p in pytester.path.glob("__snapshots__/**/*.yaml") if p.is_file())


RUN_TIMEOUT = 240  # seconds; a hang fails the test instead of wedging the suite


def test_echo_replay_misbehaving_code_is_an_item_error(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("promptfooconfig.yaml").write_text(_config("echo"))
    result = pytester.runpytest_subprocess(
        "--cf-config", "promptfooconfig.yaml", "-p", "no:cacheprovider", timeout=RUN_TIMEOUT
    )
    _check(result)


@pytest.mark.parametrize("xdist", [False, True], ids=["serial", "n2"])
def test_record_then_replay_keeps_every_recording(
    pytester: pytest.Pytester, emu: object, keyed_env: dict[str, str], xdist: bool
) -> None:
    pytester.path.joinpath("promptfooconfig.yaml").write_text(_config("openai:gpt-4o-mini"))
    args = ["--cf-config", "promptfooconfig.yaml", "--cf-gateway-url", emu.url]  # type: ignore[attr-defined]
    if xdist:
        args += ["-n", "2"]
    recorded = pytester.runpytest_subprocess(*args, "--cf-mode", "record", timeout=RUN_TIMEOUT)
    _check(recorded)
    # every item's call was recorded, the misbehaving ones' too
    assert len(_snapshots(pytester)) == len(BAD) + 2
    if not xdist:  # (replay under -n 2 is covered by the file-function test below)
        replayed = pytester.runpytest_subprocess(*args, timeout=RUN_TIMEOUT)
        _check(replayed)


def test_live_misbehaving_code_is_an_item_error(
    pytester: pytest.Pytester, emu: object, keyed_env: dict[str, str]
) -> None:
    pytester.path.joinpath("promptfooconfig.yaml").write_text(_config("openai:gpt-4o-mini"))
    result = pytester.runpytest_subprocess(
        "--cf-config",
        "promptfooconfig.yaml",
        "--cf-gateway-url",
        emu.url,  # type: ignore[attr-defined]
        "--cf-mode",
        "live",
        timeout=RUN_TIMEOUT,
    )
    _check(result)
    assert _snapshots(pytester) == []


def test_python_file_assertion_that_kills_its_worker(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("check.py").write_text(
        "import os\n\ndef get_assert(output, context):\n    os._exit(3)\n"
    )
    pytester.path.joinpath("promptfooconfig.yaml").write_text(
        textwrap.dedent(
            """\
            prompts: ['{{x}}']
            providers: [echo]
            tests:
              - {vars: {x: a}, assert: [{type: python, value: file://check.py}]}
              - {vars: {x: b}, assert: [{type: python, value: "output == 'b'"}]}
            """
        )
    )
    result = pytester.runpytest_subprocess(
        "--cf-config", "promptfooconfig.yaml", "-n", "2", timeout=RUN_TIMEOUT
    )
    out = result.stdout.str()
    assert result.ret == 1, out
    result.assert_outcomes(passed=1, errors=1)
    assert "python file://check.py ended its worker process" in out
    assert "exited with status 3" in out


def test_prompt_function_and_var_loader_run_under_the_time_limit(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("prompts.py").write_text(
        "import time\n\n"
        "def slow(context):\n    time.sleep(60)\n\n"
        "def fine(context):\n    return 'Say ' + context['vars']['x']\n"
    )
    pytester.path.joinpath("loader.py").write_text(
        "import os\n\ndef get_var(name, prompt, other_vars):\n    os._exit(0)\n"
    )
    pytester.path.joinpath("promptfooconfig.yaml").write_text(
        textwrap.dedent(
            """\
            prompts: [file://prompts.py:slow, file://prompts.py:fine]
            providers: [echo]
            evaluateOptions: {timeoutMs: 1500}
            tests:
              - {vars: {x: a}, assert: [{type: contains, value: Say}]}
              - {vars: {x: file://loader.py}, assert: [{type: contains, value: Say}]}
            """
        )
    )
    result = pytester.runpytest_subprocess(
        "--cf-config", "promptfooconfig.yaml", "-p", "no:cacheprovider", timeout=RUN_TIMEOUT
    )
    out = result.stdout.str()
    assert "INTERNALERROR" not in out
    assert result.ret == 1, out
    result.assert_outcomes(passed=1, errors=3)
    assert "prompt function prompts.py:slow did not finish within 1500 ms" in out
    assert "var loader of 'x' loader.py:get_var ended its worker process" in out
