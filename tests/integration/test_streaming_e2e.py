"""`stream: true` configs end to end (pytester): record against a real emulator, record again
(byte-identical files), replay with the emulator stopped and no keys; ``ttft`` and
``latency`` assertions on streamed items."""

from __future__ import annotations

import re
import textwrap

import pytest

from pytest_cfgateway.emulator import Emulator

from .conftest import FAKE_OPENAI_KEY, assert_no_secret

CONFIG = """
prompts: ['Reply to: {{text}}']
providers:
  - id: cloudflare-gateway:anthropic:claude-sonnet-4-5
    label: claude
    config: {stream: true, max_tokens: 50}
  - id: openai:gpt-4o-mini
    label: gpt
    config: {stream: true}
tests:
  - description: fast enough
    vars: {text: good morning}
    assert:
      - type: icontains
        value: good morning
      - type: ttft
        threshold: 60000
      - type: latency
        threshold: 60000
  - description: impossible ttft
    vars: {text: good evening}
    assert:
      - type: ttft
        threshold: 1
"""


def _ttfts(output: str) -> list[str]:
    # the failure sections only: with CI set, pytest's short summary repeats whole messages
    sections = output.split("short test summary info")[0]
    return sorted(re.findall(r"TTFT [0-9.]+ms is greater than threshold 1ms", sections))


def test_streamed_config_records_replays_and_asserts_ttft(
    pytester: pytest.Pytester, keyed_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.path.joinpath("promptfooconfig.yaml").write_text(textwrap.dedent(CONFIG))
    emu = Emulator(first_byte_delay_ms=30, chunk_delay_ms=5).start()
    try:
        rec = pytester.runpytest(
            "--cf-config", "promptfooconfig.yaml", "--cf-mode", "record",
            "--cf-gateway-url", emu.url, "-p", "no:randomly",
        )  # fmt: skip
        rec.assert_outcomes(passed=2, failed=2)
        assert len(emu.requests) == 4
        assert all(r.status == 200 and r.body["stream"] is True for r in emu.requests)
    finally:
        emu.stop()
    recorded = _ttfts(rec.stdout.str())
    assert len(recorded) == 2  # the ttft threshold of 1 ms fails, naming the measured value
    snaps = sorted(p for p in pytester.path.glob("__snapshots__/**/*.yaml") if p.is_file())
    assert len(snaps) == 4
    first = {p: p.read_bytes() for p in snaps}
    for data in first.values():
        text = data.decode()
        assert "ttft_ms:" in text and "stream: true" in text
        # the assembled reply is stored, not the list of chunks
        assert "data:" not in text and "content_block_delta" not in text
        assert "chat.completion.chunk" not in text

    # record again (emulator stopped): everything matches, nothing is rewritten
    again = pytester.runpytest(
        "--cf-config", "promptfooconfig.yaml", "--cf-mode", "record", "--cf-gateway-url",
        emu.url, "-p", "no:randomly",
    )  # fmt: skip
    again.assert_outcomes(passed=2, failed=2)
    assert {p: p.read_bytes() for p in snaps} == first

    # replay with no keys, no ids and the emulator stopped: same answers, same ttft
    for k in keyed_env:
        monkeypatch.delenv(k)
    rep = pytester.runpytest("--cf-config", "promptfooconfig.yaml", "-p", "no:randomly")
    rep.assert_outcomes(passed=2, failed=2)
    assert rep.stdout.str().count("2 replayed / 0 live") == 2  # per provider
    assert _ttfts(rep.stdout.str()) == recorded
    # and under xdist
    par = pytester.runpytest("--cf-config", "promptfooconfig.yaml", "-p", "no:randomly", "-n", "2")
    par.assert_outcomes(passed=2, failed=2)
    assert _ttfts(par.stdout.str()) == recorded
    assert {p: p.read_bytes() for p in snaps} == first
    assert_no_secret(pytester.path, FAKE_OPENAI_KEY)


def test_ttft_on_a_non_streamed_item_names_the_fix(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("promptfooconfig.yaml").write_text(
        textwrap.dedent(
            """
            prompts: ['{{q}}']
            providers: [echo]
            tests:
              - vars: {q: hi}
                assert:
                  - type: ttft
                    threshold: 100
            """
        )
    )
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml")
    result.assert_outcomes(errors=1)
    assert "TTFT assertion needs a streamed answer" in result.stdout.str()


def test_refused_stream_is_a_per_item_error(
    pytester: pytest.Pytester, keyed_env: dict[str, str]
) -> None:
    pytester.path.joinpath("promptfooconfig.yaml").write_text(
        textwrap.dedent(
            """
            prompts: ['{{q}}']
            providers:
              - id: cloudflare-gateway:replicate:meta/llama-3
                config: {stream: true}
              - echo
            tests:
              - vars: {q: hi}
            """
        )
    )
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml", "--cf-mode", "record")
    out = result.stdout.str()
    assert "urls.stream" in out
    result.assert_outcomes(passed=1, errors=1)  # only that item; echo still runs


FIXTURE_TEST = """
import pytest

@pytest.mark.cf_gateway(provider="google-ai-studio:gemini-2.5-flash", stream=True)
def test_streamed(cf_gateway):
    c = cf_gateway.complete("stream me please")
    assert c.text == "stream me please" and c.streamed and c.finish_reason == "stop"
    with open("ttft.log", "a") as log:
        log.write(f"{c.ttft_ms} {c.replayed}\\n")
"""


def test_fixture_stream_records_and_replays_the_same_ttft(
    pytester: pytest.Pytester, emu: object, keyed_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("GOOGLE_API_KEY", "g-FAKE-stream-key")
    pytester.makepyfile(test_streamed=FIXTURE_TEST)
    url = emu.url  # type: ignore[attr-defined]
    pytester.runpytest("--cf-mode", "record", "--cf-gateway-url", url).assert_outcomes(passed=1)
    for k in [*keyed_env, "GOOGLE_API_KEY"]:
        monkeypatch.delenv(k)
    pytester.runpytest().assert_outcomes(passed=1)
    recorded, replayed = pytester.path.joinpath("ttft.log").read_text().split("\n")[:2]
    assert recorded.split()[1] == "False" and replayed.split()[1] == "True"
    # the same value and type (a whole-ms ttft is written as 167 and read back as 167.0)
    assert recorded.split()[0] == replayed.split()[0] != "None"
    assert_no_secret(pytester.path, "g-FAKE-stream-key")
