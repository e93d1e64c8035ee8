"""Real-world promptfoo config features, end to end (pytester + the real emulator):
warnings instead of refusals, per-item template errors, storeOutputAs, assertScoringFunction,
base-URL routing with planted keys, and one provider grammar on the wire."""

from __future__ import annotations

import textwrap

import pytest

from .conftest import assert_no_secret

OPENAI_PLANTED = "fake.openai.PLANTED.1111111111"
DEEPSEEK_PLANTED = "fake.deepseek.PLANTED.2222222222"


def _write(pytester: pytest.Pytester, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_ignored_keys_and_redteam_warn_once_and_the_tests_run(pytester):
    _write(
        pytester,
        {
            "promptfooconfig.yaml": """
            # yaml-language-server: $schema=https://promptfoo.dev/config-schema.json
            version: 1
            maxConcurrency: 2
            outputs: [results.json]
            prompts: [{raw: 'Say {{w}}', provider: openai:gpt-4o}]
            providers: [echo]
            redteam:
              plugins: [harmful]
            tests:
              - vars: {w: hi}
                expected: hi
                assert: [{type: contains, value: hi, description: greets}]
              - vars: {w: yo}
                expected: yo
                assert: [{type: contains, value: yo, description: greets}]
            """
        },
    )
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, warnings=7)
    out = result.stdout.str()
    for key in ("'version'", "'maxConcurrency'", "'outputs'", "'provider'", "'expected'"):
        assert out.count(f"key {key} is ignored") == 1, out
    assert "unknown assertion key 'description' is ignored" in out
    assert "promptfooconfig.yaml:" in out and "ConfigWarning" in out
    assert "redteam: red-team test generation is not run here" in out


@pytest.mark.parametrize("mode", ["record", "live", "replay"])
def test_an_invalid_template_errors_its_own_rows_only_in_every_mode(pytester, emu, keyed_env, mode):
    _write(
        pytester,
        {
            "promptfooconfig.yaml": """
            prompts:
              - 'Good {{ name }}'
              - 'Bad {{ name }'
              - "{% for k, v in profile %}{{ k }}={{ v }};{% endfor %}"
            providers: ['openai:chat:gpt-4o-mini']
            tests:
              - vars: {name: Ann, profile: {a: 1, b: two}}
            """
        },
    )
    result = pytester.runpytest(
        "--cf-config", "promptfooconfig.yaml", "--cf-mode", mode, "--cf-gateway-url", emu.url,
        "-p", "no:cacheprovider",
    )  # fmt: skip
    out = result.stdout.str()
    assert "INTERNALERROR" not in out
    if mode == "replay":  # nothing recorded: the good rows are errors asking for one
        result.assert_outcomes(errors=3)
    else:
        result.assert_outcomes(passed=2, errors=1)
        bodies = [r.body["messages"][0]["content"] for r in emu.requests]
        assert sorted(bodies) == ["Good Ann", "a=1;b=two;"]
    assert "is not a valid template" in out


def test_a_missing_assertion_file_errors_only_the_items_using_it(pytester):
    # promptfoo reads an assertion's file when it grades, so only the rows using it error
    # (seen in promptfoo's own separate-test-configs example)
    _write(
        pytester,
        {
            "promptfooconfig.yaml": """
            prompts: ['Say {{w}}', 'Shout {{w}}']
            providers: [echo]
            tests:
              - vars: {w: hi}
                assert: [{type: contains, value: hi}]
              - vars: {w: yo}
                assert: [{type: javascript, value: file://asserts/assert.js}]
              - vars: {w: ok}
                assert: [{type: equals, value: file://expected/missing.txt}]
            """
        },
    )
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml", "-p", "no:cacheprovider")
    out = result.stdout.str()
    result.assert_outcomes(passed=2, errors=4, warnings=2)
    assert (
        "assertion file 'file://asserts/assert.js' not found (looked for asserts/assert.js)" in out
    )
    assert "JavaScript file not found" in out and "assertion value file not found" in out


def test_a_grader_off_the_gateway_skips_its_items_and_a_bad_one_errors_them(pytester):
    # promptfoo's huggingface-similarity example grades `similar` with a Hugging Face model
    _write(
        pytester,
        {
            "promptfooconfig.yaml": """
            prompts: ['Say {{w}}']
            providers: [echo]
            tests:
              - vars: {w: hi}
                assert: [{type: contains, value: hi}]
              - vars: {w: yo}
                assert:
                  - type: similar
                    value: Say yo
                    provider: huggingface:sentence-similarity:sentence-transformers/all-MiniLM-L6-v2
              - vars: {w: ok}
                assert: [{type: llm-rubric, value: polite, provider: {config: {temperature: 0}}}]
            """
        },
    )
    result = pytester.runpytest(
        "--cf-config", "promptfooconfig.yaml", "-p", "no:cacheprovider", "-rs"
    )
    out = result.stdout.str()
    assert "Traceback" not in out and "ValueError" not in out
    result.assert_outcomes(passed=1, skipped=1, errors=1)
    assert (
        "grader provider 'huggingface:sentence-similarity:sentence-transformers/all-MiniLM-L6-v2'"
        " does not go through Cloudflare AI Gateway; pytest-cfgateway skips the items it grades"
    ) in out
    assert "has no 'id'" in out


def test_a_grader_with_an_unknown_gateway_slug_skips_its_items(pytester):
    # as a test's own `cloudflare-gateway:<unknown slug>` provider does; it was a failed
    # assertion ("grader error") before
    _write(
        pytester,
        {
            "promptfooconfig.yaml": """
            prompts: ['Say {{w}}']
            providers: [echo]
            tests:
              - vars: {w: hi}
                assert: [{type: contains, value: hi}]
              - vars: {w: yo}
                assert: [{type: llm-rubric, value: polite, provider: cloudflare-gateway:nosuch:m}]
              - vars: {w: ok}
                assert:
                  - {type: similar, value: Say ok, provider: {id: 'cloudflare-gateway:nosuch:m'}}
            """
        },
    )
    result = pytester.runpytest(
        "--cf-config", "promptfooconfig.yaml", "-p", "no:cacheprovider", "-rs"
    )
    out = result.stdout.str()
    assert "Traceback" not in out
    result.assert_outcomes(passed=1, skipped=2)
    assert (
        "grader provider 'cloudflare-gateway:nosuch:m' cannot go through the gateway: "
        'Unsupported Cloudflare AI Gateway provider: "nosuch"'
    ) in out


def test_store_output_as_feeds_later_tests(pytester):
    _write(
        pytester,
        {
            "promptfooconfig.yaml": """
            prompts: ['{{ question }}']
            providers: [echo]
            tests:
              - vars: {question: 'alpha beta'}
                options: {storeOutputAs: first}
              - vars: {question: 'again: {{ first }}'}
                assert: [{type: equals, value: 'again: alpha beta'}]
            """
        },
    )
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    # the later test alone has no stored value: a clear error, not an empty render
    alone = pytester.runpytest(
        "--cf-config", "promptfooconfig.yaml", "-k", "test-2", "-p", "no:cacheprovider"
    )
    alone.assert_outcomes(errors=1)
    assert "storeOutputAs 'first' has no value yet" in alone.stdout.str()


@pytest.mark.parametrize(
    ("ref", "files"),
    [
        (
            "file://score.js",
            {"score.js": "module.exports = (named, ctx) => ({pass: named.len >= 0.6, "
             "score: named.len, reason: 'len only, threshold ' + ctx.threshold});\n"},
        ),
        (
            "file://score.py:calc",
            {"score.py": "def calc(named, ctx):\n    s = named['len']\n"
             "    return {'pass': s >= 0.6, 'score': s, 'reason': 'len only'}\n"},
        ),
    ],
)  # fmt: skip
def test_assert_scoring_function_decides_the_verdict(pytester, ref, files):
    _write(
        pytester,
        {
            **files,
            "promptfooconfig.yaml": f"""
            prompts: ['{{{{ w }}}}']
            providers: [echo]
            defaultTest:
              assertScoringFunction: {ref}
              assert:
                - {{type: contains, value: zzz, metric: other}}
                - {{type: javascript, value: 'output.length / 10', metric: len}}
            tests:
              - vars: {{w: short}}
              - vars: {{w: much longer}}
            """,
        },
    )
    result = pytester.runpytest("--cf-config", "promptfooconfig.yaml", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)  # without it both fail ('zzz' is in neither)
    assert "FAILED promptfooconfig.yaml::test-1[echo]" in result.stdout.str()
    assert "(score 0.50)" in result.stdout.str()  # the function's score, not the mean


def test_a_key_only_goes_to_the_provider_it_belongs_to(pytester, emu, monkeypatch):
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "acct")
    monkeypatch.setenv("CLOUDFLARE_GATEWAY_ID", "gw")
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_PLANTED)
    monkeypatch.setenv("DEEPSEEK_API_KEY", DEEPSEEK_PLANTED)
    _write(
        pytester,
        {
            "promptfooconfig.yaml": """
            prompts: ['hi {{x}}']
            providers:
              - id: openai:chat:deepseek-chat
                config: {apiBaseUrl: 'https://api.deepseek.com', apiKeyEnvar: DEEPSEEK_API_KEY}
              - id: openai:chat:llama3
                label: local
                config: {apiBaseUrl: 'http://localhost:11434/v1'}
              - openai:chat:gpt-4o-mini
            tests: [{vars: {x: there}}]
            """
        },
    )
    result = pytester.runpytest(
        "--cf-config", "promptfooconfig.yaml", "--cf-mode", "record",
        "--cf-gateway-url", emu.url, "-rs", "-p", "no:cacheprovider",
    )  # fmt: skip
    result.assert_outcomes(passed=2, skipped=1)
    assert "apiBaseUrl: 'http://localhost:11434/v1'" in result.stdout.str()
    seen = {r.provider: r for r in emu.requests}
    assert set(seen) == {"deepseek", "openai"}
    assert seen["deepseek"].body["model"] == "deepseek-chat"
    assert DEEPSEEK_PLANTED in str(seen["deepseek"].headers.get("authorization"))
    assert OPENAI_PLANTED in str(seen["openai"].headers.get("authorization"))
    for request in emu.requests:
        if request.provider != "deepseek":
            assert DEEPSEEK_PLANTED not in repr(dict(request.headers.items()))
            assert DEEPSEEK_PLANTED not in str(request.headers.get("authorization"))
    assert_no_secret(pytester.path, OPENAI_PLANTED, DEEPSEEK_PLANTED)


def test_fixture_and_config_provider_ids_are_identical_on_the_wire(pytester, emu, keyed_env):
    ids = [
        "openai:chat:gpt-4o-mini",
        "openai:ft:gpt-4o-mini:org::abc",
        "anthropic:messages:claude-3-5-haiku-latest",
    ]
    _write(
        pytester,
        {
            # in a subfolder: a file argument plus a config beside it is issue 9's bug
            "cfg/promptfooconfig.yaml": "prompts: ['same words']\nproviders:\n"
            + "".join(f"  - '{pid}'\n" for pid in ids),
            "test_fixture.py": f"""
            import pytest

            @pytest.mark.parametrize("pid", {ids!r})
            def test_same(cf_gateway, pid):
                cf_gateway.complete(pid, "same words")
            """,
        },
    )
    result = pytester.runpytest(
        "test_fixture.py", "--cf-config", "cfg/promptfooconfig.yaml", "--cf-mode", "record",
        "--cf-gateway-url", emu.url, "-p", "no:cacheprovider",
    )  # fmt: skip
    result.assert_outcomes(passed=6)
    wire = sorted((r.provider, r.path, r.body.get("model")) for r in emu.requests)
    assert len(wire) == 6
    assert wire[0::2] == wire[1::2]  # each id: the fixture's request equals the config's
    assert {m for _, _, m in wire} == {
        "gpt-4o-mini", "ft:gpt-4o-mini:org::abc", "claude-3-5-haiku-latest"
    }  # fmt: skip
