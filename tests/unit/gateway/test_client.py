"""Gateway.prepare / finish / fingerprint: pure, no network."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest

from pytest_cfgateway.gateway.adapters.base import Adapter
from pytest_cfgateway.gateway.client import Gateway
from pytest_cfgateway.gateway.errors import (
    GatewayAuthError,
    GatewayConfigError,
    GatewayProviderError,
)
from pytest_cfgateway.gateway.types import (
    ChatCall,
    Completion,
    Embeddings,
    ParsedReply,
    RawResponse,
    Usage,
)

OPENAI_KEY = "sk-openai-test-0123456789"
ANTHROPIC_KEY = "sk-ant-test-0123456789"
TOKEN = "cf-token-0123456789"
PROVIDER_AUTH = ("authorization", "x-api-key", "api-key", "x-goog-api-key")


def gw(env: dict[str, str] | None = None, **kw: Any) -> Gateway:
    return Gateway("acct", "gw", env=env if env is not None else {}, **kw)


def chat_reply(text: str = "hi", model: str = "gpt-4o") -> dict[str, Any]:
    return {
        "model": model,
        "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
    }


# --- option splitting, bodies, headers ---------------------------------------------------


def test_prepare_openai_request() -> None:
    req = gw({"OPENAI_API_KEY": OPENAI_KEY}).prepare(
        "openai:gpt-4o", "Hello", temperature=0.2, accountId="x", cacheKey="k"
    )
    assert (req.provider, req.path, req.adapter, req.model) == (
        "openai",
        "chat/completions",
        "openai",
        "gpt-4o",
    )
    assert req.body == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Hello"}],
        "temperature": 0.2,
    }
    assert req.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert req.secrets == {"OPENAI_API_KEY": OPENAI_KEY}
    assert req.call is not None and req.call.config == {"accountId": "x", "cacheKey": "k"}
    assert "accountId" not in req.body and req.problems == ()


def test_prepare_accepts_message_lists_and_json_chat_prompts() -> None:
    g = gw({"OPENAI_API_KEY": OPENAI_KEY})
    msgs = [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hi"}]
    assert g.prepare("openai:gpt-4o", msgs).body["messages"] == msgs
    assert g.prepare("openai:gpt-4o", json.dumps(msgs)).body["messages"] == msgs
    with pytest.raises(GatewayConfigError, match="role"):
        g.prepare("openai:gpt-4o", [{"content": "no role"}])
    with pytest.raises(GatewayConfigError, match="prompt must be"):
        g.prepare("openai:gpt-4o", [])


def test_a_provider_option_named_prompt_reaches_the_adapter() -> None:
    # promptfoo's replicate config `prompt: {prefix, suffix}` used to collide with the
    # prompt argument ("got multiple values for argument 'prompt'")
    options = {"prompt": {"prefix": "<s>[INST] ", "suffix": " [/INST]"}, "temperature": 0.01}
    req = gw({"REPLICATE_API_TOKEN": "fake.replicate.PLANTED.3333333333"}).prepare(
        "replicate:m/m", "Hi", **options
    )
    assert req.body["input"]["prompt"] == "<s>[INST] Hi [/INST]"


def test_stream_prepares_a_streamed_request() -> None:
    req = gw().prepare("openai:gpt-4o", "x", stream=True)
    assert req.stream and req.call is not None and req.call.stream
    assert req.body["stream"] is True and req.body["stream_options"] == {"include_usage": True}
    plain = gw().prepare("openai:gpt-4o", "x")
    # the fingerprint covers `stream`: streamed and non-streamed are different recordings
    assert gw().fingerprint(req) != gw().fingerprint(plain)
    gem = gw().prepare("google-ai-studio:gemini-2.5-flash", "x", stream=True)
    assert gem.path.endswith(":streamGenerateContent") and gem.query == {"alt": "sse"}


@pytest.mark.parametrize(
    ("provider", "options", "match"),
    [
        ("replicate:meta/llama-3", {}, "urls.stream"),
        ("huggingface:gpt2", {}, "Inference API"),
        ("cohere:command-r", {"apiVersion": "v1"}, "apiVersion v2"),
        ("openai:gpt-4o", {"fallbacks": ["replicate:meta/llama-3"]}, "urls.stream"),
        (
            "openai:gpt-4o",
            {"fallbacks": [{"id": "anthropic:claude-x", "config": {"stream": False}}]},
            r"fallbacks\[0\].*must be the same",
        ),
        ("openai:gpt-4o", {"stream": "yes"}, "true or false"),
    ],
)
def test_stream_refusals_name_the_reason(
    provider: str, options: dict[str, object], match: str
) -> None:
    opts = {"stream": True, **options}
    with pytest.raises(GatewayConfigError, match=match):
        gw().prepare(provider, "x", **opts)


def test_stream_on_embeddings_is_refused() -> None:
    with pytest.raises(GatewayConfigError, match="embeddings"):
        gw().prepare("openai:text-embedding-3-small", "x", kind="embed", stream=True)


def test_unknown_and_bedrock_slugs_fail_at_prepare() -> None:
    with pytest.raises(GatewayConfigError, match=r"Supported providers: .*anthropic"):
        gw().prepare("nope:model", "x")
    with pytest.raises(GatewayConfigError, match="SigV4"):
        gw().prepare("bedrock:anthropic.claude-v2", "x")


def test_prepare_never_fails_for_missing_ids_or_keys() -> None:
    req = Gateway(env={}).prepare("openai:gpt-4o", "x")
    assert req.problems and "OPENAI_API_KEY" in req.problems[0]
    assert "BYOK" in req.problems[0] and "CF_AIG_TOKEN" in req.problems[0]


# --- keys and BYOK -----------------------------------------------------------------------


def test_api_keys_argument_wins_over_config_and_env() -> None:
    req = gw({"OPENAI_API_KEY": "env-key-123456"}, api_keys={"openai": "arg-key-123456"}).prepare(
        "openai:gpt-4o", "x", apiKey="cfg-key-123456"
    )
    assert req.headers["authorization"] == "Bearer arg-key-123456"


def test_api_key_envar_and_alternate_key_names() -> None:
    req = gw({"MY_OPENAI": "custom-key-12345"}).prepare(
        "openai:gpt-4o", "x", apiKeyEnvar="MY_OPENAI"
    )
    assert req.headers["authorization"] == "Bearer custom-key-12345"
    assert req.secrets == {"MY_OPENAI": "custom-key-12345"}
    req = gw({"GEMINI_API_KEY": "gem-key-123456"}).prepare("google-ai-studio:gemini-2.5-flash", "x")
    assert req.headers["x-goog-api-key"] == "gem-key-123456"
    req = gw({"HF_TOKEN": "hf-key-1234567"}).prepare("huggingface:gpt2", "x")
    assert req.headers["authorization"] == "Bearer hf-key-1234567"
    # promptfoo's name for it (its huggingface examples set HF_API_TOKEN)
    req = gw({"HF_API_TOKEN": "hf-key-7654321"}).prepare("huggingface:gpt2", "x")
    assert req.headers["authorization"] == "Bearer hf-key-7654321"
    req = gw({"CLOUDFLARE_API_TOKEN": "cf-api-123456"}).prepare(
        "workers-ai:@cf/meta/llama-3.1-8b-instruct", "x"
    )
    assert req.headers["authorization"] == "Bearer cf-api-123456"


def test_anthropic_key_header() -> None:
    req = gw({"ANTHROPIC_API_KEY": ANTHROPIC_KEY}).prepare(
        "anthropic:claude-sonnet-4-5", "x", max_tokens=10
    )
    assert req.headers["x-api-key"] == ANTHROPIC_KEY
    assert req.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in req.headers


@pytest.mark.parametrize(
    ("provider_id", "options"),
    [
        ("openai:gpt-4o", {}),
        ("anthropic:claude-sonnet-4-5", {"max_tokens": 10}),
        ("azure-openai:gpt-4o", {"resourceName": "r", "deploymentName": "d"}),
        ("google-ai-studio:gemini-2.5-flash", {}),
        ("workers-ai:@cf/meta/llama-3.1-8b-instruct", {}),
    ],
)
def test_byok_sends_no_provider_auth_at_all(provider_id: str, options: dict[str, Any]) -> None:
    req = gw({"CF_AIG_TOKEN": TOKEN}).prepare(provider_id, "x", **options)
    for name in PROVIDER_AUTH:
        assert name not in req.headers
    assert req.headers["cf-aig-authorization"] == f"Bearer {TOKEN}"
    assert req.problems == ()
    assert req.secrets == {"CF_AIG_TOKEN": TOKEN}


def test_byok_alias_header() -> None:
    req = gw(token=TOKEN).prepare("openai:gpt-4o", "x", byokAlias="team-b")
    assert req.headers["cf-aig-byok-alias"] == "team-b"
    assert "authorization" not in req.headers


def test_token_from_custom_envar_and_config() -> None:
    req = gw({"GW_TOKEN": TOKEN}).prepare("openai:gpt-4o", "x", cfAigTokenEnvar="GW_TOKEN")
    assert req.headers["cf-aig-authorization"] == f"Bearer {TOKEN}"
    assert req.secrets == {"GW_TOKEN": TOKEN}
    req = gw().prepare("openai:gpt-4o", "x", cfAigToken=TOKEN)
    assert req.headers["cf-aig-authorization"] == f"Bearer {TOKEN}"


def test_compat_reads_the_prefixed_providers_key() -> None:
    req = gw({"ANTHROPIC_API_KEY": ANTHROPIC_KEY}).prepare("compat:anthropic/claude-3-haiku", "x")
    assert (req.provider, req.path) == ("compat", "chat/completions")
    assert req.body["model"] == "anthropic/claude-3-haiku"
    assert req.headers["authorization"] == f"Bearer {ANTHROPIC_KEY}"


# --- cf-aig headers, cache key -----------------------------------------------------------


def test_cf_aig_control_headers() -> None:
    req = gw(token=TOKEN, api_keys={"openai": OPENAI_KEY}).prepare(
        "openai:gpt-4o",
        "x",
        skipCache=True,
        cacheKey="mine",
        metadata={"team": "ai", "n": 1, "ok": True},
        requestTimeout=5000,
        maxAttempts=3,
        retryDelay=100,
        backoff="exponential",
        customCost={"per_token_in": 1e-6, "per_token_out": 2e-6},
        eventId="ev-1",
        headers={"X-Custom": "1", "cf-aig-authorization": "Bearer user-value"},
    )
    h = req.headers
    assert h["cf-aig-skip-cache"] == "true"
    assert h["cf-aig-cache-key"] == "mine"
    assert json.loads(h["cf-aig-metadata"]) == {"team": "ai", "n": 1, "ok": True}
    assert h["cf-aig-request-timeout"] == "5000"
    assert h["cf-aig-max-attempts"] == "3"
    assert h["cf-aig-retry-delay"] == "100"
    assert h["cf-aig-backoff"] == "exponential"
    assert json.loads(h["cf-aig-custom-cost"]) == {"per_token_in": 1e-6, "per_token_out": 2e-6}
    assert h["cf-aig-event-id"] == "ev-1"
    assert h["x-custom"] == "1"
    assert h["cf-aig-authorization"] == f"Bearer {TOKEN}"  # gateway token on top of user headers


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"metadata": {str(i): i for i in range(6)}}, "at most 5"),
        ({"metadata": {"nested": {"a": 1}}}, "string, number or boolean"),
        ({"metadata": {"none": None}}, "string, number or boolean"),
        ({"metadata": ["a"]}, "mapping"),
        ({"maxAttempts": 9}, "maxAttempts must be 1..5"),
        ({"retryDelay": 6000}, "retryDelay must be 0..5000"),
        ({"backoff": "random"}, "backoff must be one of"),
        ({"customCost": {"per_token_in": 1}}, "per_token_out"),
        ({"cacheTtl": "soon"}, "cacheTtl must be a number"),
        ({"headers": ["x"]}, "headers must be a mapping"),
        ({"fallbacks": "groq:x"}, "fallbacks must be a list"),
    ],
)
def test_bad_provider_config_is_a_clear_error(options: dict[str, Any], fragment: str) -> None:
    with pytest.raises(GatewayConfigError) as info:
        gw(token=TOKEN).prepare("openai:gpt-4o", "x", **options)
    assert fragment in str(info.value)


def test_metadata_with_five_entries_is_fine() -> None:
    req = gw(token=TOKEN).prepare("openai:gpt-4o", "x", metadata={str(i): i for i in range(5)})
    assert len(json.loads(req.headers["cf-aig-metadata"])) == 5


def test_cache_key_is_the_fingerprint_when_caching_is_on() -> None:
    g = gw(token=TOKEN, cache_ttl=600)
    req = g.prepare("openai:gpt-4o", "x")
    assert req.headers["cf-aig-cache-ttl"] == "600"
    assert req.headers["cf-aig-cache-key"] == g.fingerprint(req)
    via_config = gw(token=TOKEN).prepare("openai:gpt-4o", "x", cacheTtl=120)
    assert via_config.headers["cf-aig-cache-key"] == g.fingerprint(via_config)
    assert (
        gw(token=TOKEN)
        .prepare("openai:gpt-4o", "x", cacheTtl=120, cacheKey="u")
        .headers["cf-aig-cache-key"]
        == "u"
    )
    assert "cf-aig-cache-key" not in gw(token=TOKEN).prepare("openai:gpt-4o", "x").headers
    assert "cf-aig-cache-key" not in g.prepare("openai:gpt-4o", "x", cacheTtl=0).headers


def test_fingerprint_ignores_keys_ids_and_gateway() -> None:
    a = Gateway("a1", "g1", env={"OPENAI_API_KEY": OPENAI_KEY})
    b = Gateway("a2", "g2", token=TOKEN, env={})
    ra, rb = a.prepare("openai:gpt-4o", "x"), b.prepare("openai:gpt-4o", "x")
    assert a.fingerprint(ra) == b.fingerprint(rb)
    assert a.fingerprint(ra) != a.fingerprint(a.prepare("openai:gpt-4o", "y"))
    assert a.fingerprint(ra) != a.fingerprint(a.prepare("openai:gpt-4o", "x", repeat=1))


def test_skip_cache_gateway_flag() -> None:
    req = gw(token=TOKEN, skip_cache=True).prepare("openai:gpt-4o", "x")
    assert req.headers["cf-aig-skip-cache"] == "true"


# --- fallbacks (Universal) ---------------------------------------------------------------


def test_fallbacks_build_a_keyless_universal_body() -> None:
    env = {"OPENAI_API_KEY": OPENAI_KEY, "ANTHROPIC_API_KEY": ANTHROPIC_KEY}
    g = gw(env, token=TOKEN)
    req = g.prepare(
        "openai:gpt-4o",
        "Hi",
        temperature=0.1,
        cacheTtl=60,
        fallbacks=[
            "anthropic:claude-haiku-4-5",
            {"id": "groq:llama-3.1-8b-instant", "config": {"apiKey": "groq-key-1234567"}},
        ],
    )
    assert (req.provider, req.path, req.adapter) == ("universal", "", "universal")
    assert [s["provider"] for s in req.body] == ["openai", "anthropic", "groq"]
    assert req.body[0]["endpoint"] == "chat/completions"
    assert req.body[1]["endpoint"] == "v1/messages"
    assert req.body[1]["query"]["temperature"] == 0.1  # model options carry over
    assert all("headers" not in s for s in req.body)  # fingerprint stays keyless
    assert req.headers["cf-aig-authorization"] == f"Bearer {TOKEN}"
    assert req.headers["cf-aig-cache-ttl"] == "60"
    for step in req.steps:
        assert "cf-aig-authorization" not in step.headers
    assert req.steps[2].headers["authorization"] == "Bearer groq-key-1234567"
    assert set(req.secrets) == {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "apiKey", "CF_AIG_TOKEN"}
    byok = gw({}, token=TOKEN).prepare(
        "openai:gpt-4o",
        "Hi",
        temperature=0.1,
        cacheTtl=60,
        fallbacks=["anthropic:claude-haiku-4-5", "groq:llama-3.1-8b-instant"],
    )
    assert g.fingerprint(req) == g.fingerprint(byok)


def test_fallback_without_key_or_token_is_a_send_time_problem() -> None:
    req = gw({"OPENAI_API_KEY": OPENAI_KEY}).prepare(
        "openai:gpt-4o", "x", fallbacks=["anthropic:claude-haiku-4-5"]
    )
    assert len(req.problems) == 1 and "ANTHROPIC_API_KEY" in req.problems[0]


# --- finish ------------------------------------------------------------------------------


def test_finish_builds_a_completion() -> None:
    g = gw(token=TOKEN)
    req = g.prepare("openai:gpt-4o", "x")
    raw = RawResponse(
        200,
        {"cf-aig-cache-status": "MISS", "cf-aig-log-id": "log-1", "cf-aig-step": "0"},
        chat_reply("hello"),
        latency_ms=12.5,
        replayed=True,
    )
    c = g.finish(req, raw)
    assert isinstance(c, Completion)
    assert (c.text, c.provider, c.model, c.finish_reason) == ("hello", "openai", "gpt-4o", "stop")
    assert c.usage == Usage(100, 50, 150)
    assert c.cost == pytest.approx((100 * 2.5 + 50 * 10.0) / 1e6)
    assert (c.cache_status, c.cached, c.log_id, c.step) == ("MISS", False, "log-1", 0)
    assert (c.latency_ms, c.replayed) == (12.5, True)
    assert c.fingerprint == g.fingerprint(req)


def test_finish_parses_a_reply_once_for_its_readers() -> None:
    from pytest_cfgateway.gateway.client import FINISHED_KEPT

    g = gw(token=TOKEN)
    copy = g.with_resolver(None)
    req = g.prepare("openai:gpt-4o", "x")
    raw = RawResponse(200, {}, chat_reply("hello"))
    first = g.finish(req, raw)
    assert copy.finish(req, raw) is first  # the copies share what was parsed
    # the same reply under another request, or an equal reply object: parsed anew
    other = g.prepare("openai:gpt-4o", "y")
    assert g.finish(other, raw) is not first
    twin = RawResponse(200, {}, chat_reply("hello"))
    assert g.finish(req, twin) is not first and g.finish(req, twin) == first
    # errors are raised each time, never kept
    bad = RawResponse(500, {}, {"error": {"message": "boom"}})
    for _ in range(2):
        with pytest.raises(GatewayProviderError):
            g.finish(req, bad)
    # kept replies are bounded
    for i in range(FINISHED_KEPT + 10):
        g.finish(req, RawResponse(200, {}, chat_reply(str(i))))
    assert len(g._shared.finished) == FINISHED_KEPT
    assert g.finish(req, raw) is not first  # pushed out: parsed again


@pytest.mark.asyncio
async def test_aexecute_takes_the_parsed_reply_out() -> None:
    g = gw(token=TOKEN)
    raw = RawResponse(200, {}, chat_reply("hello"))

    async def resolver(req: Any, send: Any) -> RawResponse:
        seen.append(g.finish(req, raw))  # e.g. the recorder's summary, before the caller
        return raw

    seen: list[Any] = []
    done = await g.with_resolver(resolver).acomplete("openai:gpt-4o", "x")
    assert done is seen[0] and done.text == "hello"
    assert id(raw) not in g._shared.finished  # its last reader let it go


def test_finish_cache_hit_costs_nothing_and_custom_cost_applies() -> None:
    g = gw(token=TOKEN)
    req = g.prepare("openai:gpt-4o", "x")
    hit = g.finish(req, RawResponse(200, {"cf-aig-cache-status": "HIT"}, chat_reply()))
    assert isinstance(hit, Completion)
    assert hit.cost == 0.0 and hit.cached
    req = g.prepare("openai:gpt-4o", "x", customCost={"per_token_in": 0.01, "per_token_out": 0.1})
    assert g.finish(req, RawResponse(200, {}, chat_reply())).cost == pytest.approx(6.0)
    req = g.prepare("openai:my-finetune", "x")
    assert g.finish(req, RawResponse(200, {}, chat_reply(model="my-finetune"))).cost is None


def test_finish_maps_errors_and_scrubs_keys() -> None:
    g = gw({"OPENAI_API_KEY": OPENAI_KEY})
    req = g.prepare("openai:gpt-4o", "x")
    body = {"error": {"message": f"Incorrect API key provided: {OPENAI_KEY}", "type": "auth"}}
    with pytest.raises(GatewayAuthError) as info:
        g.finish(req, RawResponse(401, {}, body))
    assert OPENAI_KEY not in str(info.value)
    assert "OPENAI_API_KEY" in str(info.value)


def test_finish_bad_reply_shape_is_a_provider_error() -> None:
    g = gw(token=TOKEN)
    req = g.prepare("openai:gpt-4o", "x")
    with pytest.raises(GatewayProviderError, match="unexpected reply shape"):
        g.finish(req, RawResponse(200, {}, {"nothing": True}))


def test_finish_embeddings() -> None:
    g = gw(token=TOKEN)
    req = g.prepare("openai:text-embedding-3-large", ["a", "b"], kind="embed")
    assert (req.path, req.body["input"]) == ("embeddings", ["a", "b"])
    body = {
        "data": [{"index": 1, "embedding": [0.0, 1.0]}, {"index": 0, "embedding": [1.0, 0.0]}],
        "usage": {"prompt_tokens": 4, "total_tokens": 4},
        "model": "text-embedding-3-large",
    }
    e = g.finish(req, RawResponse(200, {}, body))
    assert isinstance(e, Embeddings)
    assert e.vectors == [[1.0, 0.0], [0.0, 1.0]] and len(e) == 2
    assert e.cost == pytest.approx(4 * 0.13 / 1e6)


def test_echo_is_local() -> None:
    g = Gateway(env={})
    c = g.run(g.aexecute(g.prepare("echo", "Hello there")))
    assert isinstance(c, Completion)
    assert (c.text, c.provider, c.usage) == ("Hello there", "echo", Usage())
    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "last"}]
    assert g.complete("echo", msgs).text == "last"
    g.close()


# --- registered adapters -----------------------------------------------------------------


class TinyAdapter(Adapter):
    """A minimal OpenAI-style adapter, as a plugin would register."""

    slug: ClassVar[str] = "tiny"
    key_env_vars: ClassVar[tuple[str, ...]] = ("TINY_KEY",)

    def route(self, call: ChatCall) -> tuple[str, dict[str, str]]:
        return "v9/chat", {"beta": "1"}

    def body(self, call: ChatCall) -> Any:
        return {"model": call.model, "messages": call.messages, **call.options}

    def parse(self, response: RawResponse, call: ChatCall) -> ParsedReply:
        return ParsedReply(text=response.body["out"], usage=Usage.of(1, 2))


def test_custom_adapters_replace_the_builtins() -> None:
    g = Gateway("a", "g", env={"TINY_KEY": "tiny-key-123456"}, adapters={"tiny": TinyAdapter()})
    req = g.prepare("tiny:m1", "x", top_k=3)
    assert (req.path, req.query, req.body["top_k"]) == ("v9/chat", {"beta": "1"}, 3)
    assert req.headers["authorization"] == "Bearer tiny-key-123456"
    c = g.finish(req, RawResponse(200, {}, {"out": "ok"}))
    assert isinstance(c, Completion)
    assert (c.text, c.usage.total_tokens, c.cost) == ("ok", 3, None)
    with pytest.raises(GatewayConfigError, match="Supported providers: tiny, echo"):
        g.prepare("openai:gpt-4o", "x")


def test_stream_with_fallbacks_streams_every_step() -> None:
    req = gw().prepare("openai:gpt-4o", "x", stream=True, fallbacks=["anthropic:claude-x"])
    assert req.stream and [s.stream for s in req.steps] == [True, True]
    assert [step["query"]["stream"] for step in req.body] == [True, True]
