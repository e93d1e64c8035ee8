"""Secrets never show in reprs, bad keys are refused before sending (naming where they came
from), gateway URLs with credentials or queries are refused, and config literals count."""

from __future__ import annotations

import httpx
import pytest

from pytest_cfgateway.gateway.client import Gateway
from pytest_cfgateway.gateway.errors import GatewayConfigError
from pytest_cfgateway.gateway.redact import (
    Secret,
    Secrets,
    check_header_value,
    literal_secrets,
    url_secrets,
)
from pytest_cfgateway.gateway.routes import check_base_url

KEY = "plant.unit-key&FAKE<1>"
TOKEN = "plant.unit-token.FAKE.2"
ENV = {
    "CLOUDFLARE_ACCOUNT_ID": "acct",
    "CLOUDFLARE_GATEWAY_ID": "gw",
    "OPENAI_API_KEY": KEY,
    "CF_AIG_TOKEN": TOKEN,
}


def _never(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"nothing may be sent, got {request.method} {request.url}")


def _gateway(env: dict[str, str], **kw: object) -> Gateway:
    return Gateway.from_env(env=env, transport=httpx.MockTransport(_never), **kw)  # type: ignore[arg-type]


def test_secret_str_is_the_value_but_its_repr_is_redacted() -> None:
    s = Secret(KEY)
    assert s == KEY and f"{s}" == KEY and s.encode() == KEY.encode()
    assert KEY not in repr(s) and KEY not in repr({"authorization": s}) and KEY not in repr([s])


def test_prepared_request_and_gateway_reprs_hold_no_secret() -> None:
    with _gateway(ENV) as gw:
        req = gw.prepare(
            "openai:gpt-4o-mini", "hi", headers={"X-Custom-Auth": "plant.hdr-value.FAKE"}
        )
        text = repr(req) + repr(gw) + repr(gw.secrets) + repr(dict(req.headers))
        text += repr(req.secrets)
    for secret in (KEY, TOKEN, "plant.hdr-value.FAKE"):
        assert secret not in text
    # ...while the request really carries them
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.headers["cf-aig-authorization"] == f"Bearer {TOKEN}"
    assert req.headers["x-custom-auth"] == "plant.hdr-value.FAKE"
    assert "headers[x-custom-auth]" in req.secrets


def test_a_key_with_a_smart_quote_is_refused_before_sending_naming_the_env_var() -> None:
    bad = "plant.key\u2019FAKE.3"
    with _gateway({**ENV, "OPENAI_API_KEY": bad}) as gw, pytest.raises(GatewayConfigError) as info:
        gw.complete("openai:gpt-4o-mini", "hi")
    message = str(info.value)
    assert "OPENAI_API_KEY" in message and "U+2019" in message and "re-copy" in message
    assert bad not in message and TOKEN not in message


def test_a_token_with_a_newline_and_a_bad_header_value_are_refused() -> None:
    with _gateway({**ENV, "CF_AIG_TOKEN": "plant.token.FAKE\n"}) as gw:
        # prepare keeps the value (stripped of nothing): the error comes at send time
        with pytest.raises(GatewayConfigError, match="AI Gateway token"):
            gw.complete("openai:gpt-4o-mini", "hi", cfAigToken="plant.tok\u00e9n.FAKE")
        with pytest.raises(GatewayConfigError, match=r"headers\['x-a'\]"):
            gw.complete("openai:gpt-4o-mini", "hi", headers={"x-a": "v\u201calue-long"})


def test_replay_needs_no_valid_key() -> None:
    """A bad key is a problem only when sending: preparing (replay) works."""
    with _gateway({**ENV, "OPENAI_API_KEY": "plant\u2019key.FAKE"}) as gw:
        req = gw.prepare("openai:gpt-4o-mini", "hi")
    assert req.problems and "OPENAI_API_KEY" in req.problems[0]


def test_check_header_value() -> None:
    assert check_header_value("Bearer abc.def", "x") is None
    assert "U+201C" in (check_header_value("a\u201cb", "the key") or "")
    assert "line break" in (check_header_value("abc\n", "the key") or "")


@pytest.mark.parametrize(
    "url",
    [
        "HTTP://user:plant.pw&FAKE@127.0.0.1:9/v1",
        "http://user:plant.pw&FAKE@127.0.0.1:9/v1",
        "https://127.0.0.1:9/v1?key=plant.pw&FAKE",
        "https://127.0.0.1:9/v1#plant.pw&FAKE",
    ],
)
def test_gateway_urls_with_credentials_or_a_query_are_refused_without_echo(url: str) -> None:
    with pytest.raises(GatewayConfigError) as info:
        check_base_url(url)
    assert "plant.pw" not in str(info.value)
    with _gateway({**ENV, "CF_GATEWAY_URL": url}) as gw:
        with pytest.raises(GatewayConfigError) as sent:
            gw.complete("openai:gpt-4o-mini", "hi")
        assert "plant.pw" not in str(sent.value)
        assert gw.secrets.find_in(url)  # its credentials are secrets from the start


def test_upper_case_scheme_is_normalised() -> None:
    assert check_base_url("HTTPS://Gateway.AI.cloudflare.com/v1/") == (
        "https://Gateway.AI.cloudflare.com/v1"
    )


def test_url_secrets() -> None:
    found = url_secrets("http://me:plant.pw.FAKE@h/v1?key=plant.q.FAKE", "X")
    assert set(found.values()) >= {"plant.pw.FAKE", "plant.q.FAKE", "me:plant.pw.FAKE"}


def test_literal_secrets_of_a_config() -> None:
    raw = {
        "providers": [
            {
                "id": "openai:gpt-4o",
                "config": {
                    "apiKey": "plant.cfg.FAKE",
                    "apiKeyEnvar": "NOT_A_SECRET_NAME_VALUE",
                    "max_tokens": 5,
                    "headers": {"x-auth": "plant.hdr.FAKE", "content-type": "application/json"},
                    "fallbacks": [{"id": "anthropic:c", "config": {"apiKey": "plant.fb.FAKE"}}],
                },
            }
        ],
        "defaultTest": {
            "options": {"provider": {"id": "x", "config": {"cfAigToken": "t0k3n.FAKE"}}}
        },
        "env": {"MY_SERVICE_TOKEN": "plant.envtok.FAKE", "REGION": "us-east-1-long"},
    }
    values = set(literal_secrets(raw).values())
    assert values == {
        "plant.cfg.FAKE",
        "plant.hdr.FAKE",
        "plant.fb.FAKE",
        "t0k3n.FAKE",
        "plant.envtok.FAKE",
    }


def test_escaped_forms_are_scrubbed_and_found() -> None:
    s = Secrets({"K": "a&b<c>d.FAKE"})
    for form in ("a&amp;b&lt;c&gt;d.FAKE", "a&b<c>d.FAKE", "a&amp;b&lt;c&gt;d.FAKE"):
        assert s.find_in(f"x {form} y") == "K"
        assert s.scrub_text(f"x {form} y") == "x <secret:K> y"


def test_fragments_of_a_secret_left_by_a_truncated_repr_are_scrubbed() -> None:
    token = "cf-aig.plant-token.FAKE.0123456789"
    s = Secrets({"CF_AIG_TOKEN": token})
    text = "headers = {'cf-aig-authorization': 'Bearer cf-ai...ken.FAKE.0123456789'}"
    clean = s.scrub_fragments(text)
    assert "FAKE.0123456789" not in clean and "<secret-part>" in clean
    assert s.scrub_fragments("nothing here at all") == "nothing here at all"


def test_word_like_or_short_secrets_do_not_blank_pieces_of_ordinary_text() -> None:
    # a provider `headers:` value such as `client-id: promptfoo-app` is a secret, but pieces of
    # it are everywhere (file names); only the whole value is scrubbed
    s = Secrets({"config.providers[0].config.headers.client-id": "promptfoo-app"})
    text = "corpus/x/promptfooconfig.yaml:15: tests[0]: unsupported (client-id promptfoo-app)"
    clean = s.scrub_fragments(text)
    assert "corpus/x/promptfooconfig.yaml:15" in clean
    assert "promptfoo-app" not in clean and "<secret:" in clean


def test_fresh_data_is_scrubbed_only_where_a_secret_shows() -> None:
    s = Secrets({"K": 'a"b\\c.FAKE', "T": "plain.FAKE.2"})
    clean = {"x": ["no secret", 1, None], "y": {"z": "here"}}
    assert s.scrub_fresh(clean) is clean  # nothing found: the same object, not a copy
    dirty = {"x": ['say a"b\\c.FAKE', 2], 'key a"b\\c.FAKE': "plain.FAKE.2"}
    assert s.scrub_fresh(dirty) == {"x": ["say <secret:K>", 2], "key <secret:K>": "<secret:T>"}
    assert s.scrub_fresh(dirty) == s.scrub(dirty)
    assert Secrets().scrub_fresh(dirty) is dirty


def test_including_reuses_the_set_only_when_nothing_is_added() -> None:
    from pytest_cfgateway.gateway.redact import Secrets

    base = Secrets({"OPENAI_API_KEY": "fake.openai.PLANTED.5555555555"})
    assert base.including(None) is base
    assert base.including({}) is base
    assert base.including({"again": "fake.openai.PLANTED.5555555555"}) is base
    assert base.including({"short": "ab"}) is base  # too short to be scrubbed anyway
    literal = "fake.literal.PLANTED.6666666666"
    wider = base.including({"options.apiKey": literal})
    assert wider is not base and literal not in base  # the shared set is never widened
    assert wider.scrub_text(f"k={literal} o=fake.openai.PLANTED.5555555555") == (
        "k=<secret:options.apiKey> o=<secret:OPENAI_API_KEY>"
    )


@pytest.mark.parametrize(
    "where",
    ["body", "escaped body", "route", "query", "key", "none"],
)
def test_the_fingerprint_is_that_of_the_redacted_request(where: str) -> None:
    """`fingerprint` hashes the request as it is unless a secret occurs in its text: the
    result must equal the hash of the fully redacted request in every case."""
    import dataclasses
    import hashlib

    from pytest_cfgateway.gateway.client import Gateway
    from pytest_cfgateway.gateway.fingerprint import canonical_json, fingerprint
    from pytest_cfgateway.gateway.redact import Secrets

    key = 'fake.openai.PLANTED."7777\\7777'  # a quote and a backslash: JSON escapes them
    secrets = Secrets({"OPENAI_API_KEY": key})
    gw = Gateway(account_id="a", gateway_id="g", api_keys={"openai": "x" * 12}, env={})
    req = gw.prepare("openai:gpt-4o-mini", "hello")
    body = dict(req.body)
    if where in ("body", "escaped body"):
        body["messages"] = [{"role": "user", "content": f"k={key}"}]
    if where == "key":
        body[f"x-{key}"] = 1
    req = dataclasses.replace(
        req,
        body=body,
        path=f"{req.path}/{key}" if where == "route" else req.path,
        query={"k": key} if where == "query" else dict(req.query),
    )
    redacted = {
        "v": 1,
        "provider": req.provider,
        "route": secrets.scrub(req.path),
        "query": secrets.scrub(dict(req.query)),
        "body": secrets.scrub(req.body),
        "repeat": req.repeat,
    }
    expected = hashlib.sha256(canonical_json(redacted).encode()).hexdigest()
    unredacted = fingerprint(req, Secrets())  # memoizes the request's own text and hash
    assert fingerprint(req, secrets) == expected  # ... which must not stand in here
    assert fingerprint(req, secrets) == expected  # (memoized for this set)
    assert (unredacted == expected) is (where == "none")
    if where != "none":
        assert key not in canonical_json(redacted)
