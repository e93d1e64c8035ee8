"""Reliability: planted secrets never reach a written file or the terminal, replay stays
offline (webhook verdicts are recorded), and bad input is a clear, bounded error.

Every planted value is fake and does not look like a real key (see commit 3700c34); several
carry ``&`` and ``<`` so that an HTML/XML writer that escapes before scrubbing is caught.
Each secret is searched for raw, HTML-escaped and JSON-escaped in: every file the runs wrote
(snapshots, junit xml, the four --cf-output formats) and the captured stdout/stderr.
"""

from __future__ import annotations

import html
import json
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml  # noqa: F401  (see below)

from .conftest import written_files

# pytester's in-process runs drop the modules first imported inside them; PyYAML's C
# extension cannot be imported twice, so a second run would see new node classes that the
# old extension does not know (EmitterError). Importing it here keeps one copy.

ENV_KEY = "plant.envkey&FAKE<1>"
DOTENV_VALUE = "plant.dotenv<FAKE>&2"
CONFIG_KEY = "plant.cfgkey&FAKE<3>"
HEADER_VALUE = "plant.hdrval<FAKE>&4"
TOKEN = "plant.gwtoken&FAKE<5>"
URL_PASSWORD = "plant.urlpw&FAKE.6"
URL_QUERY = "plant.urlquery.FAKE.7"
WEBHOOK_TOKEN = "plant.webhook.FAKE.8"
PLANTED = {
    "provider key (env)": ENV_KEY,
    ".env value": DOTENV_VALUE,
    "apiKey literal": CONFIG_KEY,
    "headers value": HEADER_VALUE,
    "gateway token": TOKEN,
}
OUTPUTS = ("out.json", "out.jsonl", "out.csv", "out.html")
INPUTS = {".env", "promptfooconfig.yaml", "test_fixture.py"}  # they hold secrets by design


def forms(secret: str) -> set[str]:
    """A secret as it may appear once written: raw, HTML/XML-escaped, JSON-escaped."""
    return {
        secret,
        html.escape(secret),
        html.escape(secret, quote=False),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=True)[1:-1],
    }


def channels(root: Path, *results: Any) -> dict[str, str]:
    """Every written file and every captured stream, by name."""
    out: dict[str, str] = {}
    for path in written_files(root):
        if path.name not in INPUTS:
            out[str(path.relative_to(root))] = path.read_bytes().decode("utf-8", "replace")
    for i, result in enumerate(results):
        out[f"run {i} stdout"] = result.stdout.str()
        out[f"run {i} stderr"] = result.stderr.str()
    return out


def leaks(chans: dict[str, str], secrets: dict[str, str]) -> list[str]:
    found = []
    for name, secret in secrets.items():
        for form in forms(secret):
            found += [
                f"{name} ({form!r}) in {where}" for where, text in chans.items() if form in text
            ]
    return found


def snapshot_files(root: Path) -> list[Path]:
    return [p for p in root.glob("__snapshots__/**/*.yaml") if p.is_file()]


def _write(pytester: pytest.Pytester, name: str, text: str) -> None:
    pytester.path.joinpath(name).write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture
def planted_env(monkeypatch: pytest.MonkeyPatch, pytester: pytest.Pytester) -> None:
    for k, v in {
        "CLOUDFLARE_ACCOUNT_ID": "acct",
        "CLOUDFLARE_GATEWAY_ID": "gw",
        "OPENAI_API_KEY": ENV_KEY,
        "CF_AIG_TOKEN": TOKEN,
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("CF_GATEWAY_URL", raising=False)
    pytester.path.joinpath(".env").write_text(f"PLANTED_SERVICE_VALUE={DOTENV_VALUE}\n")


CONFIG = f"""
    description: secrets everywhere
    prompts: ['Say {{{{word}}}}']
    providers:
      - id: openai:gpt-4o-mini
        label: envkey
      - id: openai:gpt-4o
        label: literal
        config:
          apiKey: "{CONFIG_KEY}"
          headers: {{x-upstream-auth: "{HEADER_VALUE}"}}
    tests:
      - description: echoed
        vars: {{word: echo-everything}}
        assert: [{{type: contains, value: never-in-the-answer}}]
      - description: rejected
        vars: {{word: four-oh-oh}}
        assert: [{{type: contains, value: x}}]
      - description: moderated
        vars: {{word: moderate-me}}
        assert: [{{type: moderation}}, {{type: conversation-relevance}}]
"""


def _run(pytester: pytest.Pytester, *args: str, junit: str) -> Any:
    outputs = [a for name in OUTPUTS for a in ("--cf-output", name)]
    return pytester.runpytest(
        "--cf-config",
        "promptfooconfig.yaml",
        "--junitxml",
        junit,
        *outputs,
        "-l",
        "-vv",
        "-rA",
        "--tb=long",
        *args,
    )


def test_planted_secrets_reach_no_file_and_no_output(pytester, emu, planted_env):
    everything = " ".join(PLANTED.values())
    emu.rules = [
        {"match": "four-oh-oh", "status": 400, "reply": f"you sent headers: {everything}"},
        {"match": ".*", "reply": f"I repeat: {everything}"},
    ]
    _write(pytester, "promptfooconfig.yaml", CONFIG)
    record = _run(pytester, "--cf-mode", "record", "--cf-gateway-url", emu.url, junit="rec.xml")
    assert record.ret != 0  # every item failed or errored
    # the planted values went out on the wire (so the run really carried them)...
    literal = [r for r in emu.requests if r.body.get("model") == "gpt-4o"]
    assert literal and literal[0].headers["authorization"] == f"Bearer {CONFIG_KEY}"
    assert literal[0].headers["x-upstream-auth"] == HEADER_VALUE
    assert literal[0].headers["cf-aig-authorization"] == f"Bearer {TOKEN}"
    # the moderation check and the grader carried the env key and the planted output too
    moderations = [r for r in emu.requests if r.path.endswith("/openai/moderations")]
    assert len(moderations) == 2  # one per provider of the "moderated" row
    assert all(r.headers["authorization"] == f"Bearer {ENV_KEY}" for r in moderations)
    assert all(ENV_KEY in json.dumps(r.body) for r in moderations)
    assert any(r.body.get("model") == "gpt-5.2" for r in emu.requests)  # the default grader
    # ...came back in the replies, and were shown scrubbed
    out = record.stdout.str()
    for name in (
        "OPENAI_API_KEY",
        "PLANTED_SERVICE_VALUE",
        "CF_AIG_TOKEN",
        "config.providers[1].config.apiKey",
        "config.providers[1].config.headers[x-upstream-auth]",
    ):
        assert f"<secret:{name}>" in out, name
    assert "&lt;secret:" in pytester.path.joinpath("out.html").read_text()

    replay = _run(pytester, junit="replay.xml")
    assert replay.ret != 0
    assert snapshot_files(pytester.path)
    # xdist workers send reports to the controller: scrubbed on the worker already
    replay_xdist = _run(pytester, "-n", "2", junit="replay-xdist.xml")
    assert replay_xdist.ret != 0
    chans = channels(pytester.path, record, replay, replay_xdist)
    assert {*OUTPUTS, "rec.xml", "replay.xml", "replay-xdist.xml"} <= {Path(c).name for c in chans}
    assert leaks(chans, PLANTED) == []
    moderated = [p for p in snapshot_files(pytester.path) if p.name.startswith("moderated")]
    assert len(moderated) == 2
    assert all("- role: moderation\n" in p.read_text() for p in moderated)


def test_a_pasted_smart_quote_in_a_key_is_a_clear_error(pytester, emu, planted_env, monkeypatch):
    bad = "plant.envkey\u2019FAKE.9"
    monkeypatch.setenv("OPENAI_API_KEY", bad)
    _write(
        pytester,
        "promptfooconfig.yaml",
        """
        prompts: ['hi']
        providers: ['openai:gpt-4o-mini']
        tests: [{assert: [{type: contains, value: hi}]}]
        """,
    )
    result = _run(pytester, "--cf-mode", "record", "--cf-gateway-url", emu.url, junit="j.xml")
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert "OPENAI_API_KEY" in out and "U+2019" in out
    assert "UnicodeEncodeError" not in out and "Traceback" not in out
    assert emu.requests == []  # refused before sending
    assert leaks(channels(pytester.path, result), {"bad key": bad, "token": TOKEN}) == []


def test_cf_gateway_test_without_snapshot_shows_no_piece_of_a_secret(
    pytester, planted_env, monkeypatch
):
    """Replay with keys in the env, -l -vv --tb=long: the NotRecordedError traceback's
    locals and arguments (requests, headers, gateways) show no secret, nor its end."""
    token = "cf-aig.plant-token.FAKE.0123456789abcdef"
    monkeypatch.setenv("CF_AIG_TOKEN", token)
    pytester.makepyfile(
        test_fixture="""
        def test_ask(cf_gateway):
            answer = cf_gateway.complete(
                "openai:gpt-4o-mini", "hi", headers={"x-team-auth": "plant.team.FAKE.10"}
            )
            assert answer.text
        """
    )
    result = pytester.runpytest("-l", "-vv", "--tb=long", "--junitxml", "j.xml")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "no recorded answer" in out
    chans = channels(pytester.path, result)
    secrets = {"token": token, "key": ENV_KEY, "header": "plant.team.FAKE.10"}
    assert leaks(chans, secrets) == []
    for where, text in chans.items():
        for piece in (token[-12:], token[:14], ENV_KEY[-10:], ENV_KEY[:10]):
            assert piece not in text, f"{piece!r} in {where}"


@pytest.mark.parametrize(
    "url_template",
    [
        "http://user:{pw}@127.0.0.1:{port}/v1",
        "HTTP://user:{pw}@127.0.0.1:{port}/v1",
        "http://127.0.0.1:{port}/v1?key={q}",
    ],
)
def test_credentials_in_the_gateway_url_are_refused_and_never_shown(
    pytester, emu, planted_env, url_template
):
    port = emu.url.split(":")[-1].split("/")[0]
    url = url_template.format(pw=URL_PASSWORD, q=URL_QUERY, port=port)
    _write(
        pytester,
        "promptfooconfig.yaml",
        """
        prompts: ['hi']
        providers: ['openai:gpt-4o-mini']
        tests: [{assert: [{type: contains, value: hi}]}]
        """,
    )
    result = _run(pytester, "--cf-mode", "record", "--cf-gateway-url", url, junit="j.xml")
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert "gateway base URL" in out and ("credentials" in out or "query string" in out)
    assert emu.requests == []  # nothing sent (no Authorization: Basic, no ?key= mid-URL)
    secrets = {"password": URL_PASSWORD, "query": URL_QUERY, **PLANTED}
    assert leaks(channels(pytester.path, result), secrets) == []


class _Verdicts(BaseHTTPRequestHandler):
    hits: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        type(self).hits.append(json.loads(self.rfile.read(length)))
        body = json.dumps({"pass": True, "score": 0.75, "reason": "graded by hook"}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def webhook_server() -> Iterator[HTTPServer]:
    _Verdicts.hits = []
    server = HTTPServer(("127.0.0.1", 0), _Verdicts)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_webhook_verdicts_are_recorded_and_replay_offline(pytester, webhook_server, no_keys):
    port = webhook_server.server_address[1]
    url = f"http://127.0.0.1:{port}/grade?token={WEBHOOK_TOKEN}"
    _write(
        pytester,
        "promptfooconfig.yaml",
        f"""
        prompts: ['Say {{{{word}}}}']
        providers: [echo]
        tests:
          - vars: {{word: hello}}
            assert: [{{type: webhook, value: "{url}"}}]
        """,
    )
    pytester.runpytest(
        "--cf-config", "promptfooconfig.yaml", "--cf-mode", "record"
    ).assert_outcomes(passed=1)
    assert len(_Verdicts.hits) == 1 and _Verdicts.hits[0]["output"] == "Say hello"
    snapshots = snapshot_files(pytester.path)
    assert len(snapshots) == 1
    stored = snapshots[0].read_text()
    assert "- role: webhook\n" in stored and "graded by hook" in stored  # its own kind of exchange
    assert WEBHOOK_TOKEN not in stored  # the URL is stored without its query

    webhook_server.shutdown()  # replay must not need it
    webhook_server.server_close()
    replay = pytester.runpytest("--cf-config", "promptfooconfig.yaml", "-rA")
    replay.assert_outcomes(passed=1)
    assert len(_Verdicts.hits) == 1  # no new connection
    assert "1 replayed / 0 live" in replay.stdout.str()


def test_bad_input_is_a_clear_error_not_a_hang_or_traceback(pytester):
    laughs = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    laughs += [f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 9)]
    _write(
        pytester,
        "promptfooconfig.yaml",
        "prompts: ['hi']\nproviders: [echo]\nmetadata:\n"
        + "".join(f"  {line}\n" for line in laughs),
    )
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml")
    out = result.stdout.str()
    assert result.ret != 0 and "aliases expand to" in out and "promptfooconfig.yaml" in out
    assert "Traceback" not in out and "INTERNALERROR" not in out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\xff\xfe\x00binary\x80garbage", "not UTF-8 text"),
        ("version: 1\nexchanges: " + "[" * 2000 + "]" * 2000 + "\n", "not valid YAML"),
    ],
)
def test_a_corrupt_snapshot_is_a_clear_error(pytester, emu, keyed_env, content, expected):
    _write(
        pytester,
        "promptfooconfig.yaml",
        """
        prompts: ['hi']
        providers: ['openai:gpt-4o-mini']
        tests: [{assert: [{type: contains, value: hi}]}]
        """,
    )
    args = ("--cf-config", "promptfooconfig.yaml", "--cf-gateway-url", emu.url)
    pytester.runpytest(*args, "--cf-mode", "record").assert_outcomes(passed=1)
    (snapshot,) = snapshot_files(pytester.path)
    if isinstance(content, bytes):
        snapshot.write_bytes(content)
    else:
        snapshot.write_text(content)
    result = pytester.runpytest(*args)
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert expected in out and snapshot.name in out and "re-record" in out
    assert "UnicodeDecodeError" not in out and "RecursionError" not in out
    assert "Traceback" not in out and "INTERNALERROR" not in out


def test_a_render_error_is_one_clear_line_not_a_traceback(pytester):
    _write(
        pytester,
        "promptfooconfig.yaml",
        """
        prompts: ['{{ 1 / x }}']
        providers: [echo]
        tests: [{vars: {x: 0}}]
        """,
    )
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml", "--junitxml", "j.xml")
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert "cannot render the prompt" in out and "promptfooconfig.yaml" in out
    assert "ZeroDivisionError" in out  # what went wrong, named...
    assert "def from_call" not in out and "Traceback" not in out  # ...without pytest's frames
    junit = pytester.path.joinpath("j.xml").read_text()
    assert "cannot render the prompt" in junit and "def from_call" not in junit


def test_an_unreachable_gateway_in_record_shows_no_secret(pytester, planted_env):
    """A transport error inside httpx, with -l --tb=long: requests, headers and clients in
    the traceback's frames show no key or token."""
    pytester.makepyfile(
        test_fixture="""
        def test_ask(cf_gateway):
            cf_gateway.complete("openai:gpt-4o-mini", "hi", apiKey="plant.literal.FAKE.11")
        """
    )
    result = pytester.runpytest(
        "--cf-mode",
        "record",
        "--cf-gateway-url",
        "http://127.0.0.1:9/v1",  # the discard port: nothing listens
        "--cf-max-retries",
        "0",
        "-l",
        "-vv",
        "--tb=long",
        "--junitxml",
        "j.xml",
    )
    result.assert_outcomes(failed=1)
    assert "no answer from the gateway" in result.stdout.str()
    secrets = {**PLANTED, "literal": "plant.literal.FAKE.11"}
    assert leaks(channels(pytester.path, result), secrets) == []
