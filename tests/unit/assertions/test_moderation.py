"""The ``moderation`` assertion: promptfoo 0.123.1's verdict rules, against a fake grader."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pytest_cfgateway.assertions.base import (
    AssertionConfigError,
    AssertionContext,
    AssertionSkipped,
)
from pytest_cfgateway.assertions.engine import run_assertion
from pytest_cfgateway.assertions.moderation import (
    llama_guard_flags,
    moderated_prompt,
    verdict,
)
from pytest_cfgateway.assertions.registry import AssertionRegistry
from pytest_cfgateway.config.cases import AssertionSpec
from pytest_cfgateway.gateway.errors import GatewayProviderError, NotRecordedError
from pytest_cfgateway.gateway.types import Completion, Message, Moderation, Usage

REG = AssertionRegistry.with_builtins()


class FakeModerator:
    """Moderation answers by marker (``flag:<category>`` in the text), chat by script."""

    def __init__(self, error: Exception | None = None, chat: str = "safe") -> None:
        self.error = error
        self.chat = chat
        self.moderated: list[tuple[Any, str]] = []
        self.chats: list[tuple[Any, list[Message]]] = []

    async def moderate(self, provider: Any, text: str) -> Moderation:
        self.moderated.append((provider, text))
        if self.error:
            raise self.error
        flags = {w[5:]: 0.9 for w in text.split() if w.startswith("flag:")}
        return Moderation(flags=flags, usage=Usage(), provider="openai", model="m")

    async def moderate_chat(self, provider: Any, messages: list[Message]) -> Completion:
        self.chats.append((provider, messages))
        if self.error:
            raise self.error
        return Completion(text=self.chat, raw=None, usage=Usage(), provider="replicate", model="m")

    async def complete(self, provider: Any, messages: list[Message], **options: Any) -> Any:
        raise AssertionError("moderation never asks a chat grader")

    async def embed(self, provider: Any, inputs: list[str]) -> list[list[float]]:
        raise AssertionError("moderation never embeds")


def check(
    grader: FakeModerator,
    output: Any,
    type_: str = "moderation",
    value: Any = None,
    prompt: str | None = "Write a tweet",
    options: dict[str, Any] | None = None,
    **kw: Any,
) -> Any:
    ctx = AssertionContext(
        prompt=prompt,
        grader=grader,
        test={"options": options or {}},
        default_grader="openai:gpt-4o-mini",  # a chat grader: never used for moderation
    )
    spec = AssertionSpec(type=type_, value=value, **kw)
    return asyncio.run(run_assertion(output, spec, ctx, registry=REG))


# --- the verdict -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "categories", "passed", "reason"),
    [
        ([], [], True, "No moderation flags detected"),
        ([], ["hate"], True, "No moderation flags detected"),
        ([("hate", "hate")], [], False, "Moderation flags detected: hate"),
        (
            [("violence", "violence"), ("hate", "hate")],
            [],
            False,
            "Moderation flags detected: violence, hate",
        ),
        ([("violence", "violence")], ["hate"], True, "No relevant moderation flags detected"),
        (
            [("S10", "Hate"), ("S1", "Violent Crimes")],
            ["S10"],
            False,
            "Moderation flags detected: Hate",
        ),
    ],
)
def test_verdict(
    flags: list[tuple[str, str]], categories: list[str], passed: bool, reason: str
) -> None:
    result = verdict(flags, categories)
    assert (result.passed, result.score, result.reason) == (passed, float(passed), reason)


def test_the_default_provider_moderates_the_output_only() -> None:
    g = FakeModerator()
    result = check(g, "You are awful flag:harassment")
    assert (result.passed, result.score) == (False, 0.0)
    assert result.reason == "Moderation flags detected: harassment"
    assert g.moderated == [("openai:omni-moderation-latest", "You are awful flag:harassment")]


def test_categories_filter_and_not_moderation() -> None:
    g = FakeModerator()
    assert check(g, "flag:violence", value=["hate"]).passed
    assert not check(g, "flag:violence flag:hate", value=["hate", "harassment"]).passed
    flipped = check(g, "flag:hate", type_="not-moderation")
    assert (flipped.passed, flipped.score, flipped.reason) == (
        True,
        1.0,
        "Moderation flags detected: hate",
    )
    clean = check(g, "fine", type_="not-moderation")
    assert (clean.passed, clean.score) == (False, 0.0)


@pytest.mark.parametrize("value", ["violence", [], [1, "hate"], {"a": 1}])
def test_a_value_that_is_not_a_list_of_strings_is_a_config_error(value: Any) -> None:
    with pytest.raises(AssertionConfigError, match="must be a string array if set"):
        check(FakeModerator(), "text", value=value)


def test_empty_output_passes_without_a_call_and_empty_prompt_errors() -> None:
    g = FakeModerator()
    result = check(g, "")
    assert (result.passed, result.reason) == (True, "No output to moderate")
    assert g.moderated == []
    with pytest.raises(AssertionConfigError, match="must have a prompt"):
        check(g, "text", prompt="")


def test_provider_choice() -> None:
    g = FakeModerator()
    check(g, "a", provider="openai:moderation:omni-moderation-2024-09-26")
    check(
        g, "b", options={"provider": {"text": "openai:gpt-4o", "moderation": "openai:moderation"}}
    )
    check(
        g,
        "c",
        provider={"id": "openai:moderation:text-moderation-latest", "config": {"apiKeyEnvar": "K"}},
    )
    check(g, "d", provider="cloudflare-gateway:openai:moderation:omni-moderation-latest")
    assert [p for p, _ in g.moderated] == [
        "openai:omni-moderation-2024-09-26",
        "openai:omni-moderation-latest",
        {"id": "openai:text-moderation-latest", "config": {"apiKeyEnvar": "K"}},
        "openai:omni-moderation-latest",
    ]


@pytest.mark.parametrize(
    ("provider", "options", "message"),
    [
        ("openai:gpt-4o-mini", None, "not a valid moderation provider for 'moderation check'"),
        (None, {"provider": "openai:gpt-4o-mini"}, "openai:gpt-4o-mini is not a valid"),
        (
            {"text": "openai:gpt-4o"},
            None,
            "Invalid provider definition for output type 'moderation'",
        ),
    ],
)
def test_a_provider_that_cannot_moderate_is_a_config_error(
    provider: Any, options: Any, message: str
) -> None:
    with pytest.raises(AssertionConfigError, match=message):
        check(FakeModerator(), "text", provider=provider, options=options)


def test_azure_content_safety_is_skipped_with_its_reason() -> None:
    with pytest.raises(AssertionSkipped, match=r"Azure AI Content Safety.*Cloudflare AI Gateway"):
        check(FakeModerator(), "text", provider="azure:moderation")


def test_an_api_error_is_a_grader_error_that_not_never_flips() -> None:
    error = GatewayProviderError("openai: 500 upstream", status=500, provider="openai")
    for type_ in ("moderation", "not-moderation"):
        result = check(FakeModerator(error=error), "text", type_=type_)
        assert (result.passed, result.grader_error) == (False, True)
        assert result.reason.startswith("Moderation API error: ")


def test_replay_misses_pass_through() -> None:
    with pytest.raises(NotRecordedError):
        check(FakeModerator(error=NotRecordedError("not recorded")), "text")


# --- Llama Guard through Replicate -------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "flags"),
    [
        ("safe", []),
        ("  safe\n", []),
        ("unsafe\nS1,S10", [("S1", "Violent Crimes"), ("S10", "Hate")]),
        ("unsafe\n S2 , S99 ", [("S2", "Non-Violent Crimes")]),
        ("unsafe", []),
        ("Human: hi\n\nAssistant: hi", []),
    ],
)
def test_llama_guard_reply(reply: str, flags: list[tuple[str, str]]) -> None:
    assert llama_guard_flags(reply) == flags


def test_llama_guard_is_asked_about_prompt_and_output() -> None:
    g = FakeModerator(chat="unsafe\nS10")
    model = "replicate:moderation:meta/llama-guard-3-8b"
    result = check(g, "kill yourself", value=["S10"], provider=model, prompt="Say something")
    assert (result.passed, result.reason) == (False, "Moderation flags detected: Hate")
    ((provider, messages),) = g.chats
    assert provider == "replicate:meta/llama-guard-3-8b"
    assert messages == [
        {"role": "user", "content": "Human: Say something\n\nAssistant: kill yourself"}
    ]
    g.chat = ""
    empty = check(g, "x", provider=model)
    assert (
        empty.grader_error
        and empty.reason == 'Moderation API error: Invalid moderation response: ""'
    )


@pytest.mark.parametrize(
    ("prompt", "moderated"),
    [
        ("plain text", "plain text"),
        ('[{"role": "system", "content": "s"}, {"role": "user", "content": "u1"}]', "u1"),
        (
            '[{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", '
            '"text": "b"}]}, {"role": "assistant", "content": "x"}]',
            "a\nb",
        ),
        ('[{"role": "system", "content": "only system"}]', "only system"),
        ("[not json", "[not json"),
    ],
)
def test_the_prompt_a_llama_guard_check_sees(prompt: str, moderated: str) -> None:
    assert moderated_prompt(prompt) == moderated
