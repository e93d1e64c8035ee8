"""The HTML report a team reads: rendered in headless Chromium from a run with failures, an
error, fixture tests and a changed answer; the filters work from file:// (set through the
address, as a shared link would); the page is the same under ``-n 2``."""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("keyed_env")

PROMPT = """You are a friendly support agent for Acme Cloud.
Answer the customer's question in two sentences or fewer.
Be precise and never invent features.
Line four.
Line five.

Customer ({{tier}} plan): {{question}}
"""

CONFIG = """
prompts:
  - file://prompts/support.txt
  - id: 'Answer briefly: {{question}}'
    label: terse
providers:
  - id: openai:gpt-4o-mini
    label: mini
    config: {temperature: 0}
  - echo
tests:
  - description: refund policy for annual plans
    vars: {tier: Pro, question: Can I get a refund on my annual plan?}
    assert:
      - {type: icontains, value: refund, metric: relevance}
  - description: no invented features
    vars: {tier: Team, question: Does Acme support Kubernetes?}
    assert:
      - {type: not-icontains, value: 'yes, fully', metric: honesty}
  - description: broken assertion
    vars: {tier: Free, question: hello}
    assert: [{type: starts-with, value: '{{nothing}}'}]
"""

RULES = [
    {"match": "refund", "reply": "Annual plans are refunded pro rata within 30 days."},
    {"match": "Kubernetes", "reply": "Acme Cloud is hosted; on-prem is not supported."},
]

FIXTURE_TESTS = """
def test_weather_ok(cf_gateway, cf_assert):
    c = cf_gateway.complete("openai:gpt-4o-mini", "weather in Paris")
    cf_assert(c, "icontains", "paris")


def test_weather_units(cf_gateway, cf_assert):
    c = cf_gateway.complete("openai:gpt-4o-mini", "weather in Paris, in Fahrenheit")
    cf_assert(c, "icontains", "°F")
"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no Chromium on PATH (Debian: apt-get install -y chromium); the page is untested")


def dump_dom(browser: str, page: Path, fragment: str, profile: Path) -> str:
    """The DOM after the page's scripts ran, for ``page#fragment`` opened from file://."""
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--dump-dom",
            f"{page.as_uri()}#{fragment}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


class _Rows(HTMLParser):
    """The ``tr.row`` elements of each table with a class, by that class (nested tables, such
    as a cell's vars, belong to the cell)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.found: dict[str, list[tuple[bool, bool]]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = a.get("class", "").split()
        if tag == "table":
            self.stack.append(classes[0] if classes else "")
        elif tag == "tr" and "row" in classes and self.stack:
            self.found.setdefault(self.stack[-1], []).append(
                (a.get("data-failing") == "1", "hidden" in classes)
            )

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.stack:
            self.stack.pop()


def rows(dom: str, table: str) -> list[tuple[bool, bool]]:
    """(failing, hidden) of each row of the table with class ``table``."""
    parser = _Rows()
    parser.feed(dom)
    return parser.found.get(table, [])


@pytest.fixture
def project(pytester: pytest.Pytester, emu: object) -> pytest.Pytester:
    root = pytester.path
    (root / "prompts").mkdir()
    (root / "prompts" / "support.txt").write_text(PROMPT)
    (root / "promptfooconfig.yaml").write_text(textwrap.dedent(CONFIG))
    pytester.makepyfile(test_agent=FIXTURE_TESTS)
    emu.rules = RULES  # type: ignore[attr-defined]
    return pytester


def run(p: pytest.Pytester, emu: object, *args: str) -> pytest.RunResult:
    return p.runpytest_subprocess(
        "test_agent.py",
        "--cf-config",
        "promptfooconfig.yaml",
        "--cf-gateway-url",
        emu.url,  # type: ignore[attr-defined]
        "-p",
        "no:randomly",
        *args,
    )


def test_report_renders_and_filters_in_chromium(project, emu, tmp_path_factory):
    browser = chromium()
    run(project, emu, "--cf-mode", "record")
    # the model now answers differently: a changed answer, and a verdict that flips
    emu.rules = [  # type: ignore[attr-defined]
        RULES[0],
        {"match": "Kubernetes", "reply": "Yes, fully supported on any cluster."},
    ]
    result = run(project, emu, "--cf-mode", "refresh", "--cf-output", "out/report.html")
    result.assert_outcomes(passed=7, failed=3, errors=4)
    page = project.path / "out" / "report.html"
    html = page.read_text()

    # column headers: the prompt's first line, never the whole prompt
    head = html.split("<thead>", 1)[1].split("</thead>", 1)[0]
    assert "You are a friendly support agent for Acme Cloud" in head
    assert 'class="prompt">Line five' not in head and "Customer (" not in head.split("title=")[0]
    # full row descriptions, vars as a table, per-column stats
    assert "refund policy for annual plans" in html and "no invented features" in html
    assert "<th>question</th>" in html and "%</b> passed (" in head and "p95" in head
    # a cell opens to every assertion, the request's provider and options
    assert "not-icontains" in html and "honesty" in html and "<th>temperature</th>" in html
    # fixture tests in their own table, with pytest's verdict
    fixtures = html.split('<table class="fixtures">', 1)[1].split("</table>", 1)[0]
    assert "test_weather_ok" in fixtures and "test_weather_units" in fixtures
    assert fixtures.count('data-failing="1"') == 1
    # the changed view: committed answer beside the new one, verdict passed -> failed
    changed = html.split('<table class="changed">', 1)[1].split("</table>", 1)[0]
    assert "Acme Cloud is hosted; on-prem is not supported." in changed
    assert "Yes, fully supported on any cluster." in changed
    assert '>PASSED</span> → <span class="badge failed">FAILED' in changed

    profile = tmp_path_factory.mktemp("chromium-profile")
    plain = dump_dom(browser, page, "", profile)
    assert 'data-filters-ready="1"' in plain  # the script ran
    matrix = rows(plain, "matrix")
    assert len(matrix) == 3 and not any(hidden for _, hidden in matrix)
    assert "3 of 3 rows" in plain or "rows shown" in plain

    failing_only = dump_dom(browser, page, "fail=1", profile)
    matrix = rows(failing_only, "matrix")
    assert matrix and all(hidden != failing for failing, hidden in matrix)
    fixture_rows = rows(failing_only, "fixtures")
    assert sorted(fixture_rows) == [(False, True), (True, False)]

    # the provider filter hides the other provider's columns; the text search hides rows
    echo_only = dump_dom(browser, page, "provider=echo&q=refund", profile)
    assert re.search(r'<th class="col hidden" data-provider="mini"', echo_only)
    assert re.search(r'<th class="col" data-provider="echo"', echo_only)
    assert [hidden for _, hidden in rows(echo_only, "matrix")] == [False, True, True]


def test_same_page_under_xdist(project, emu):
    run(project, emu, "--cf-mode", "record")
    run(project, emu, "--cf-output", "serial.html")
    run(project, emu, "--cf-output", "parallel.html", "-n", "2")
    serial = (project.path / "serial.html").read_bytes()
    assert serial == (project.path / "parallel.html").read_bytes()
    assert b"test_weather_units" in serial
