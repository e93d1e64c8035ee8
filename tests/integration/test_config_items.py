"""promptfoo configs as pytest items, end to end (pytester + the real emulator)."""

from __future__ import annotations

import textwrap

import pytest

from .conftest import FAKE_OPENAI_KEY, assert_no_secret

ECHO_CONFIG = """
description: echo demo
prompts:
  - 'Say {{word}} to {{name}}'
providers:
  - echo
tests:
  - description: greets
    vars: {word: hello, name: Ann}
    assert:
      - type: contains
        value: hello
  - description: says goodbye
    vars: {word: hello, name: Bob}
    assert:
      - type: contains
        value: goodbye
"""


def _config(pytester: pytest.Pytester, text: str, name: str = "promptfooconfig.yaml") -> None:
    pytester.path.joinpath(name).write_text(textwrap.dedent(text), encoding="utf-8")


def test_echo_config_runs_offline_and_explains_failures(pytester):
    _config(pytester, ECHO_CONFIG)
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "promptfooconfig.yaml::greets[echo] PASSED" in out or "greets[echo]" in out
    assert 'Expected output to contain "goodbye"' in out
    assert "Say hello to Bob" in out  # the output is shown
    assert "Traceback" not in out


def test_collect_only_shows_matrix_and_touches_nothing(pytester, emu):
    _config(
        pytester,
        """
        prompts: ['A {{x}}', 'B {{x}}']
        providers: [echo, 'openai:gpt-4o-mini']
        tests:
          - vars: {x: [one, two]}
        """,
    )
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml", "--collect-only", "-q")
    lines = [ln for ln in result.stdout.lines if "::" in ln]
    assert len(lines) == 2 * 2 * 2, lines
    assert len(set(lines)) == len(lines)
    assert emu.requests == []
    assert not list(pytester.path.glob("__snapshots__"))


def test_autocollect_is_opt_in(pytester):
    _config(pytester, ECHO_CONFIG)
    pytester.makepyfile(test_plain="def test_ok():\n    pass\n")
    pytester.runpytest().assert_outcomes(passed=1)
    pytester.makeini("[pytest]\ncf_autocollect = true\n")
    pytester.runpytest().assert_outcomes(passed=2, failed=1)


def test_ini_cf_config_and_collected_once(pytester):
    sub = pytester.mkdir("evals")
    sub.joinpath("promptfooconfig.yaml").write_text(textwrap.dedent(ECHO_CONFIG))
    pytester.makeini("[pytest]\ncf_config = evals/promptfooconfig.yaml\ncf_autocollect = true\n")
    result = pytester.runpytest("--cf-config", "evals/promptfooconfig.yaml")
    result.assert_outcomes(passed=1, failed=1)


def test_record_replay_of_gateway_provider(pytester, emu, keyed_env, monkeypatch):
    _config(
        pytester,
        """
        prompts: ['Translate to French: {{text}}']
        providers:
          - id: cloudflare-gateway:openai:gpt-4o-mini
            label: mini
            config: {temperature: 0}
        tests:
          - vars: {text: good morning}
            assert:
              - type: icontains
                value: good morning
        """,
    )
    rec = pytester.runpytest(
        "--cf-config", "promptfooconfig.yaml", "--cf-mode", "record", "--cf-gateway-url", emu.url
    )
    rec.assert_outcomes(passed=1)
    (req,) = emu.requests
    assert req.path == "/v1/acct/gw/openai/chat/completions"
    assert req.body["temperature"] == 0
    snaps = list(pytester.path.glob("__snapshots__/promptfooconfig.yaml/*.yaml"))
    assert len(snaps) == 1
    for k in keyed_env:
        monkeypatch.delenv(k)
    emu.clear()
    rep = pytester.runpytest("--cf-config", "promptfooconfig.yaml")
    rep.assert_outcomes(passed=1)
    assert emu.requests == []
    assert "1 replayed / 0 live" in rep.stdout.str()
    assert_no_secret(pytester.path, FAKE_OPENAI_KEY)


def test_env_file_keys_are_secrets(pytester, emu, monkeypatch):
    for k in ("OPENAI_API_KEY", "CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_GATEWAY_ID"):
        monkeypatch.delenv(k, raising=False)
    key = "sk-from.dotenv.ABCDEFGH"
    pytester.path.joinpath(".env").write_text(
        f"OPENAI_API_KEY={key}\nCLOUDFLARE_ACCOUNT_ID=acct\nCLOUDFLARE_GATEWAY_ID=gw\n"
    )
    _config(
        pytester,
        """
        prompts: ['echo back: {{k}}']
        providers: ['openai:gpt-4o-mini']
        tests:
          - vars: {k: '{{ env.OPENAI_API_KEY }}'}
            assert:
              - type: contains
                value: nothing-like-this
        """,
    )
    result = pytester.runpytest(
        "--cf-config",
        "promptfooconfig.yaml",
        "--cf-mode",
        "record",
        "--cf-gateway-url",
        emu.url,
        "--cf-output",
        "out.json",
    )
    result.assert_outcomes(failed=1)
    assert emu.requests[0].headers["authorization"] == f"Bearer {key}"
    assert key not in result.stdout.str()
    assert "<secret:OPENAI_API_KEY>" in result.stdout.str()
    assert_no_secret(pytester.path, key) if False else None  # .env itself holds it
    for path in pytester.path.rglob("*"):
        if path.is_file() and path.name != ".env" and "__pycache__" not in path.parts:
            assert key.encode() not in path.read_bytes(), path


def test_unsupported_provider_is_skipped_with_reason(pytester):
    _config(
        pytester,
        """
        prompts: ['hi']
        providers: ['ollama:llama3', echo]
        tests: [{assert: [{type: contains, value: hi}]}]
        """,
    )
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    assert "ollama:llama3" in result.stdout.str()


def test_unknown_gateway_slug_is_a_skipped_item_not_a_config_error(pytester):
    _config(
        pytester,
        """
        prompts: ['hi']
        providers:
          - 'cloudflare-gateway:nope:model'
          - id: echo
          - id: 'openai:gpt-4o-mini'
            config: {fallbacks: ['nosuchslug:m']}
        tests: [{assert: [{type: contains, value: hi}]}]
        """,
        "a.yaml",
    )
    _config(pytester, ECHO_CONFIG, "b.yaml")
    result = pytester.runpytest("--cf-config", "a.yaml", "--cf-config", "b.yaml", "-rs")
    # the unroutable providers skip with their reason; the echo items of both configs run
    result.assert_outcomes(passed=2, failed=1, skipped=2)
    out = result.stdout.str()
    assert "INTERNALERROR" not in out
    assert "'cloudflare-gateway:nope:model'" in out and "Supported providers" in out
    assert "fallbacks" in out and "nosuchslug" in out


def test_bad_configs_are_collection_errors_not_internal_errors(pytester):
    _config(pytester, "prompts: ['hi']\nproviders: 7\n", "a.yaml")
    _config(pytester, ECHO_CONFIG, "b.yaml")
    result = pytester.runpytest("--cf-config", "a.yaml", "--cf-config", "b.yaml")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    out = result.stdout.str()
    assert "INTERNALERROR" not in out
    assert "a.yaml" in out and "providers" in out
    cont = pytester.runpytest(
        "--cf-config", "a.yaml", "--cf-config", "b.yaml", "--continue-on-collection-errors"
    )
    cont.assert_outcomes(passed=1, failed=1, errors=1)


def test_yaml_error_names_file_and_line(pytester):
    _config(pytester, "prompts: ['hi'\nproviders: [echo]\n")
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml")
    out = result.stdout.str()
    assert "promptfooconfig.yaml" in out and "INTERNALERROR" not in out
    assert result.ret == pytest.ExitCode.INTERRUPTED


def test_template_error_is_an_item_error(pytester):
    _config(
        pytester,
        """
        prompts: ['Hello {{ name | nosuchfilter }}']
        providers: [echo]
        tests: [{vars: {name: x}}]
        """,
    )
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml")
    result.assert_outcomes(errors=1)
    assert "nosuchfilter" in result.stdout.str()


def test_assertion_config_error_at_run_time_is_an_item_error(pytester):
    _config(
        pytester,
        """
        prompts: ['hi']
        providers: [echo]
        tests: [{assert: [{type: starts-with, value: '{{missing}}'}]}]
        """,
    )
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml")
    result.assert_outcomes(errors=1)
    assert "starts-with" in result.stdout.str()


def test_markers_are_registered_and_carry_metadata(pytester):
    _config(
        pytester,
        """
        prompts: ['hi']
        providers: [echo]
        tests:
          - description: tagged
            metadata: {team: search, priority: 2, nested: {a: 1}}
            assert: [{type: contains, value: hi}]
        """,
    )
    pytester.makeconftest(
        """
        def pytest_collection_modifyitems(items):
            for item in items:
                m = item.get_closest_marker("cfgateway")
                assert m.kwargs == {"team": "search", "priority": 2}, m.kwargs
        """
    )
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml", "--strict-markers")
    result.assert_outcomes(passed=1)
    pytester.runpytest(
        "--cf-config", "promptfooconfig.yaml", "-m", "cfgateway", "-k", "tagged"
    ).assert_outcomes(passed=1)


def test_custom_assertion_from_conftest_usable_in_yaml(pytester):
    pytester.makeconftest(
        """
        def pytest_cfgateway_register_assertions(register):
            def shouting(output, value, context):
                return {"pass": output.isupper(), "score": 1.0 if output.isupper() else 0.0,
                        "reason": "all caps" if output.isupper() else "not all caps"}
            register("shouting", shouting)
        """
    )
    _config(
        pytester,
        """
        prompts: ['{{x}}']
        providers: [echo]
        tests:
          - {vars: {x: HELLO}, assert: [{type: shouting}]}
          - {vars: {x: hello}, assert: [{type: shouting}]}
          - {vars: {x: hello}, assert: [{type: not-shouting}]}
        """,
    )
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml")
    result.assert_outcomes(passed=2, failed=1)
    assert "not all caps" in result.stdout.str()


def test_custom_provider_from_conftest_against_emulator(pytester, emu, keyed_env, monkeypatch):
    """A provider registered in conftest.py gets its own gateway route; the built-in
    deepseek/cerebras adapters (registered through the same hook) work too."""
    monkeypatch.setenv("MINE_API_KEY", "mine-FAKE-1234567890")
    monkeypatch.setenv("DEEPSEEK_API_KEY", "fake.deepseek.FAKE.12345678")
    monkeypatch.setenv("CEREBRAS_API_KEY", "csk-FAKE-1234567890")
    emu.custom_providers = ["custom-mine"]
    pytester.makeconftest(
        """
        from pytest_cfgateway.adapters import OpenAIChatAdapter

        class Mine(OpenAIChatAdapter):
            slug = "custom-mine"
            key_env_vars = ("MINE_API_KEY",)

        def pytest_cfgateway_register_providers(register):
            register("custom-mine", Mine())
        """
    )
    _config(
        pytester,
        """
        prompts: ['{{x}}']
        providers:
          - cloudflare-gateway:custom-mine:my-model
          - cloudflare-gateway:deepseek:deepseek-chat
          - cerebras:llama3.1-8b
        tests: [{vars: {x: hi there}, assert: [{type: equals, value: hi there}]}]
        """,
    )
    result = pytester.runpytest(
        "--cf-config", "promptfooconfig.yaml", "--cf-mode", "record", "--cf-gateway-url", emu.url
    )
    result.assert_outcomes(passed=3)
    by_path = {r.path: r for r in emu.requests}
    assert sorted(by_path) == [
        "/v1/acct/gw/cerebras/chat/completions",
        "/v1/acct/gw/custom-mine/chat/completions",
        "/v1/acct/gw/deepseek/chat/completions",
    ]
    mine = by_path["/v1/acct/gw/custom-mine/chat/completions"]
    assert mine.headers["authorization"] == "Bearer mine-FAKE-1234567890"
    assert mine.body["model"] == "my-model"
    emu.custom_providers = []
    # without the conftest the slug is unknown: its items are skipped, naming it; the other
    # providers' items still replay
    pytester.path.joinpath("conftest.py").unlink()
    bad = pytester.runpytest("--cf-config", "promptfooconfig.yaml", "-rs")
    bad.assert_outcomes(passed=2, skipped=1)
    assert "custom-mine" in bad.stdout.str() and "Supported providers" in bad.stdout.str()
    assert "INTERNALERROR" not in bad.stdout.str()


def test_duplicate_provider_registration_is_a_clear_error(pytester):
    pytester.makeconftest(
        """
        from pytest_cfgateway.adapters import OpenAIChatAdapter

        class Other(OpenAIChatAdapter):
            slug = "openai"

        def pytest_cfgateway_register_providers(register):
            register("openai", Other())
        """
    )
    _config(pytester, ECHO_CONFIG)
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml")
    out = result.stdout.str()
    assert "INTERNALERROR" not in out
    assert "registered twice" in out


def test_xdist_replay_matches_serial(pytester, emu, keyed_env):
    _config(
        pytester,
        """
        prompts: ['{{x}}']
        providers: ['openai:gpt-4o-mini']
        tests:
          - vars: {x: [a1, b2, c3, d4, e5, f6]}
            assert: [{type: regex, value: '[a-f][1-6]'}]
        """,
    )
    args = ("--cf-config", "promptfooconfig.yaml", "--cf-gateway-url", emu.url)
    pytester.runpytest(*args, "--cf-mode", "record").assert_outcomes(passed=6)
    before = {
        p.name: p.read_bytes() for p in pytester.path.glob("__snapshots__/**/*.yaml") if p.is_file()
    }
    emu.clear()
    result = pytester.runpytest_subprocess(*args, "-n", "2", "-p", "xdist")
    result.assert_outcomes(passed=6)
    assert emu.requests == []
    after = {
        p.name: p.read_bytes() for p in pytester.path.glob("__snapshots__/**/*.yaml") if p.is_file()
    }
    assert before == after


def test_a_key_echoed_by_the_provider_never_reaches_output_or_disk(
    pytester, emu, keyed_env, monkeypatch
):
    """A reply that carries the provider key and the gateway token (a model repeating its
    prompt, a proxy echoing headers): both are scrubbed from failure text, the snapshot (the
    reply body is recorded) and every report."""
    key = keyed_env["OPENAI_API_KEY"]
    token = "cf-aig-token-SECRET-abcdef123456"
    monkeypatch.setenv("CF_AIG_TOKEN", token)
    emu.rules = [{"match": ".*", "reply": f"Incorrect API key provided: {key} ({token})"}]
    _config(
        pytester,
        """
        prompts: ['{{x}}']
        providers: ['openai:gpt-4o-mini']
        tests: [{vars: {x: hi}, assert: [{type: contains, value: hi}]}]
        """,
    )
    result = pytester.runpytest(
        "--cf-config",
        "promptfooconfig.yaml",
        "--cf-mode",
        "record",
        "--cf-gateway-url",
        emu.url,
        "--cf-output",
        "out.json",
        "--cf-output",
        "out.html",
        "-vv",
        "-rA",
    )
    out = result.stdout.str() + result.stderr.str()
    assert result.ret != 0
    assert "Incorrect API key provided: <secret:OPENAI_API_KEY>" in out  # shown, scrubbed
    assert key not in out and token not in out  # ...without the secrets
    assert_no_secret(pytester.path, key, token)


def test_record_hint_works_as_printed(pytester, emu, keyed_env):
    _config(
        pytester,
        """
        prompts: ['{{x}}']
        providers: ['openai:gpt-4o-mini']
        tests: [{description: one, vars: {x: hi}, assert: [{type: contains, value: hi}]}]
        """,
        name="evals.yaml",
    )
    missing = pytester.runpytest("--cf-config", "evals.yaml")
    missing.assert_outcomes(errors=1)  # no answer to judge: an error, as in promptfoo
    # the failure report has the line (the short summary may repeat it, width permitting)
    line = next(ln for ln in missing.stdout.lines if "record it with:" in ln)
    command = line.split("record it with:", 1)[1].split("(or", 1)[0].strip()
    assert command.startswith("pytest ")
    import shlex

    args = shlex.split(command)[1:]
    pytester.runpytest(*args, "--cf-gateway-url", emu.url).assert_outcomes(passed=1)
    pytester.runpytest("--cf-config", "evals.yaml").assert_outcomes(passed=1)
    # a promptfooconfig.yaml named on the command line is collected without --cf-config
    pytester.path.joinpath("evals.yaml").rename(pytester.path / "promptfooconfig.yaml")
    pytester.runpytest("promptfooconfig.yaml", "--collect-only", "-q").stdout.fnmatch_lines(
        ["promptfooconfig.yaml::one*"]
    )


def test_transform_vars_runs_before_rendering(pytester):
    _config(
        pytester,
        """
        prompts: ['Hello {{shout}}']
        providers: [echo]
        defaultTest:
          options:
            transformVars: "({...vars, shout: vars.name.toUpperCase()})"
        tests:
          - vars: {name: ann}
            assert: [{type: equals, value: Hello ANN}]
          - vars: {name: bob}
            options: {transformVars: "[1, 2]"}
            assert: [{type: contains, value: x}]
          - vars: {name: cy}
            options: {transformVars: "python: {**vars, 'shout': vars['name'] * 2}"}
            assert: [{type: equals, value: Hello cycy}]
        """,
    )
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml")
    result.assert_outcomes(passed=2, errors=1)
    assert "transformVars must return a mapping" in result.stdout.str()


def test_snapshot_selection_safety_and_pruning_for_config_items(pytester, emu, keyed_env):
    three = """
        prompts: ['{{x}}']
        providers: ['openai:gpt-4o-mini']
        tests:
          - {description: alpha, vars: {x: a}, assert: [{type: equals, value: a}]}
          - {description: beta, vars: {x: b}, assert: [{type: equals, value: b}]}
          - {description: gamma, vars: {x: c}, assert: [{type: equals, value: c}]}
        """
    _config(pytester, three)
    args = ("--cf-config", "promptfooconfig.yaml", "--cf-gateway-url", emu.url)
    pytester.runpytest(*args, "--cf-mode", "record").assert_outcomes(passed=3)

    def snaps() -> list[str]:
        return sorted(p.name for p in pytester.path.glob("__snapshots__/**/*.yaml") if p.is_file())

    assert len(snaps()) == 3
    before = snaps()
    # -k with --snapshot-update leaves the deselected items' snapshots alone
    pytester.runpytest(*args, "-k", "alpha", "--snapshot-update").assert_outcomes(passed=1)
    assert snaps() == before
    # a removed case is reported unused (exit 1), then pruned by --snapshot-update
    _config(
        pytester,
        three.replace(
            "          - {description: gamma, vars: {x: c}, assert: [{type: equals, value: c}]}\n",
            "",
        ),
    )
    unused = pytester.runpytest(*args)
    assert unused.ret == 1
    unused.stdout.fnmatch_lines(["*1 snapshot unused*"])
    pytester.runpytest(*args, "--snapshot-update").assert_outcomes(passed=2)
    assert snaps() == [n for n in before if not n.startswith("gamma")]
