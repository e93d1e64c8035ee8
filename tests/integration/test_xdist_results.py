"""Results travel with pytest's reports: under xdist the controller writes the same summary and
the same --cf-output files as a serial run (byte for byte), fixture tests' tokens count, and a
replay miss is written as an error with its reason."""

from __future__ import annotations

import json
import textwrap

import pytest

pytestmark = pytest.mark.usefixtures("keyed_env")

CONFIG = """
prompts: ['Say {{word}}', 'Shout {{word}}']
providers:
  - echo
  - id: openai:gpt-4o-mini
    label: mini
tests:
  - description: ok
    vars: {word: hi}
    assert: [{type: icontains, value: hi}]
  - description: bad
    vars: {word: bye}
    assert:
      - {type: contains, value: hi, metric: greeting}
      - {type: javascript, value: 'output.length > 1'}
  - description: broken
    vars: {word: x}
    assert: [{type: starts-with, value: '{{nothing}}'}]
"""

FIXTURE_TEST = """
def test_fixture_call(cf_gateway, cf_assert):
    c = cf_gateway.complete("openai:gpt-4o-mini", "say something about the weather")
    cf_assert(c, "javascript", "output.length > 0")
"""

OUTPUTS = ("out/r.json", "out/r.jsonl", "out/r.csv", "out/r.html")


def _project(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("promptfooconfig.yaml").write_text(textwrap.dedent(CONFIG))
    pytester.makepyfile(test_fixture=FIXTURE_TEST)


def _run(pytester: pytest.Pytester, *extra: str) -> tuple[pytest.RunResult, dict[str, bytes]]:
    for name in OUTPUTS:
        pytester.path.joinpath(name).unlink(missing_ok=True)
    args = ["test_fixture.py", "--cf-config", "promptfooconfig.yaml", "-p", "no:randomly"]
    for name in OUTPUTS:
        args += ["--cf-output", name]
    result = pytester.runpytest_subprocess(*args, *extra)
    files = {name: pytester.path.joinpath(name).read_bytes() for name in OUTPUTS}
    return result, files


def _summary(result: pytest.RunResult) -> list[str]:
    lines = result.stdout.lines
    start = next(i for i, ln in enumerate(lines) if "cfgateway summary" in ln)
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("="))
    return lines[start + 1 : end]


def test_xdist_writes_the_rows_and_summary_of_a_serial_run(pytester, emu):
    _project(pytester)
    url = ("--cf-gateway-url", emu.url)
    pytester.runpytest_subprocess(
        "test_fixture.py", "--cf-config", "promptfooconfig.yaml", "--cf-mode", "record", *url
    )
    serial, serial_files = _run(pytester)
    serial.assert_outcomes(passed=5, failed=4, errors=4)
    for dist in ("load", "worksteal"):
        parallel, files = _run(pytester, "-n", "2", "--dist", dist)
        parallel.assert_outcomes(passed=5, failed=4, errors=4)
        assert _summary(parallel) == _summary(serial), dist
        for name in OUTPUTS:
            assert files[name] == serial_files[name], f"{name} differs under --dist {dist}"

    rows = json.loads(serial_files["out/r.json"])["results"]["results"]
    assert len(rows) == 12  # every config item, errors included; fixture tests are not rows
    assert [(r["testIdx"], r["promptIdx"]) for r in rows] == sorted(
        (r["testIdx"], r["promptIdx"]) for r in rows
    )
    assert {r["promptIdx"] for r in rows} == {0, 1, 2, 3}
    assert {r["testIdx"] for r in rows} == {0, 1, 2}
    mini_ok = next(
        r for r in rows if r["provider"]["label"] == "mini" and r["testCase"]["description"] == "ok"
    )
    assert mini_ok["response"]["tokenUsage"]["total"] > 0
    assert mini_ok["replayed"] == 1
    bad = next(
        r
        for r in rows
        if r["provider"]["label"] == "echo" and r["testCase"]["description"] == "bad"
    )
    parts = bad["gradingResult"]["componentResults"]
    assert [p["pass"] for p in parts] == [False, True]

    summary = "\n".join(_summary(serial))
    fixture_line = next(ln for ln in _summary(serial) if ln.startswith("test_fixture.py"))
    assert " 0 tokens" not in fixture_line and "cost n/a" not in fixture_line, summary
    assert "1 replayed / 0 live" in fixture_line


def test_records_carry_assertions_and_indexes(pytester):
    pytester.path.joinpath("promptfooconfig.yaml").write_text(textwrap.dedent(CONFIG))
    pytester.makeconftest(
        """
        import json
        import os

        def pytest_runtest_logreport(report):
            data = getattr(report, "cfgateway", None)
            if data is not None and not os.environ.get("PYTEST_XDIST_WORKER"):  # the controller
                # the worker sent it packed as JSON text: here it is the worker's dict again
                assert isinstance(data, dict) and not hasattr(report, "cfgateway_json")
                with open("records.jsonl", "a") as fh:
                    fh.write(json.dumps(data) + "\\n")
        """
    )
    pytester.runpytest_subprocess(
        "--cf-config", "promptfooconfig.yaml", "-k", "echo", "-n", "2", "-p", "no:randomly"
    )
    records = [
        json.loads(ln)
        for ln in pytester.path.joinpath("records.jsonl").read_text().split("\n")
        if ln
    ]
    by_desc = {(r["description"], r["prompt"]): r for r in records}
    assert len(records) == 6  # one record per config item, on one of its reports
    bad = by_desc[("bad", "Say {{word}}")]
    assert bad["outcome"] == "failed"
    assert [(a["type"], a["passed"], a["metric"]) for a in bad["assertions"]] == [
        ("contains", False, "greeting"),
        ("javascript", True, None),
    ]
    assert bad["committed_output"] is None and bad["changed"] is None
    broken = by_desc[("broken", "Say {{word}}")]
    assert broken["outcome"] == "error" and "starts-with" in broken["reason"]


def test_a_replay_miss_is_an_error_row_with_its_reason(pytester, no_keys):
    pytester.path.joinpath("promptfooconfig.yaml").write_text(
        textwrap.dedent(
            """
            prompts: ['Say {{word}}']
            providers: [openai:gpt-4o-mini]
            tests:
              - vars: {word: hi}
            """
        )
    )
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml", "--cf-output", "r.json")
    assert result.ret != 0
    (row,) = json.loads(pytester.path.joinpath("r.json").read_text())["results"]["results"]
    assert row["failureReason"] == 2
    assert row["outcome"] == "error"
    assert "no recorded answer" in row["error"] or "no snapshot" in row["error"], row["error"]
    assert row["reason"] == row["error"]
