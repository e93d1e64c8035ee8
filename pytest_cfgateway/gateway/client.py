"""`Gateway`: provider id -> adapter -> request -> send (async; sync bridges) -> Completion.

The call path has three pure/impure stages the snapshot layer can cut between:

- `Gateway.prepare` (pure): parses the id, splits options, builds the body, headers and
  ``cf-aig-*`` controls. It never fails for missing account/gateway ids or keys (replay needs
  none); those are recorded on the request and raised by `Gateway.asend`.
- `Gateway.asend` (network): URL, retries with backoff, Replicate polling, total timeout.
- `Gateway.finish` (pure): non-2xx -> typed `GatewayError`; else adapter parse, cost, headers.

`Gateway.aexecute` chains them through an optional resolver (the snapshot layer's
record/replay hook), and the sync methods run the async ones on a private background loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import dataclasses
import json
import math
import os
import random
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ._wire import WireProcess, WireUnavailable
from .adapters.base import Adapter
from .errors import (
    MAX_RETRY_AFTER,
    GatewayConfigError,
    GatewayError,
    GatewayTimeoutError,
    error_from_response,
    parse_retry_after,
)
from .fingerprint import fingerprint as _fingerprint
from .headers import control_headers, lower_keys, user_headers
from .http import BackgroundLoop, Transport, raw_response_parts

if TYPE_CHECKING:
    import httpx
else:
    from .http import httpx  # imported on first use
from .pricing import estimate_cost
from .redact import (
    PUBLIC_HEADERS,
    Secrets,
    check_header_value,
    config_secrets,
    safe_url,
    secret,
    url_secrets,
)
from .routes import (
    ACCOUNT_ENV,
    BASE_URL_ENV,
    ECHO,
    GATEWAY_ENV,
    TOKEN_ENV,
    UNIVERSAL,
    ProviderRef,
    Target,
    build_url,
    parse_provider_id,
    resolve_key,
    resolve_target,
    resolve_token,
    split_options,
)
from .types import (
    CallKind,
    ChatCall,
    Classification,
    Completion,
    Embeddings,
    Message,
    Moderation,
    PreparedRequest,
    RawResponse,
    Usage,
)
from .universal import answering_step, fallback_entries, step_body, wire_body

T = TypeVar("T")

Sender = Callable[[PreparedRequest], Awaitable[RawResponse]]
Resolver = Callable[[PreparedRequest, Sender], Awaitable[RawResponse]]
"""``resolver(req, send)``: return a response for ``req``, from a snapshot or by ``send(req)``."""

#: Provider config keys that belong to one step of a fallback chain (not the outer request).
STEP_CONFIG_KEYS = frozenset(
    {"apiKey", "apiKeyEnvar", "resourceName", "deploymentName", "apiVersion", "byokAlias"}
)
#: Statuses worth retrying (501 Not Implemented never gets better).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529})
MAX_BACKOFF = 30.0
#: Request headers kept on Replicate poll GETs (auth only; no cache controls).
_POLL_DROP = frozenset({"content-type", "prefer"})
_POLL_KEEP_CF = frozenset({"cf-aig-authorization", "cf-aig-byok-alias"})


class Pacer(Protocol):
    """Limits a Gateway shares with other clients (see ``Gateway(pacer=...)``)."""

    def slot(self) -> contextlib.AbstractAsyncContextManager[None]: ...

    async def before_attempt(self) -> None: ...

    def rate_limited(self, wait_s: float) -> None: ...


@dataclasses.dataclass
class _Shared:
    """What a Gateway and its `with_resolver` copies share."""

    transport: Transport
    background: BackgroundLoop
    #: recent `Gateway.finish` results, ``id(raw) -> (req, raw, result)``: a reply is read
    #: by the scheduler's cost count (on the background loop), then by the test's own cost
    #: count, the recorder's summary and `aexecute` (in pytest's thread), and parsed once
    finished: dict[int, tuple[Any, Any, Any]] = dataclasses.field(default_factory=dict)
    finished_lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


#: how many parsed replies `Gateway.finish` keeps (more than the calls a run has in flight
#: between the scheduler reading an answer and its test reading it again)
FINISHED_KEPT = 256


class Gateway:
    """A client for Cloudflare AI Gateway.

    ``account_id``/``gateway_id``/``token``/``base_url`` default to the env vars
    CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_GATEWAY_ID, CF_AIG_TOKEN and CF_GATEWAY_URL (read at
    send time through ``env``); a provider config's ``accountId``/``accountIdEnvar``/... win.
    ``api_keys`` maps a provider slug to its key; otherwise keys come from the provider's env
    vars; with no key but a gateway token, BYOK applies (no provider auth header is sent).
    """

    def __init__(
        self,
        account_id: str | None = None,
        gateway_id: str | None = None,
        token: str | None = None,
        base_url: str | None = None,
        api_keys: Mapping[str, str] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        adapters: Mapping[str, Adapter] | None = None,
        timeout: float = 120.0,
        max_retries: int = 4,
        cache_ttl: int | None = None,
        skip_cache: bool = False,
        secrets: Secrets | Mapping[str, str] | None = None,
        concurrency: int = 8,
        transport: httpx.AsyncBaseTransport | None = None,
        transport_factory: Callable[[], httpx.AsyncBaseTransport] | None = None,
        retry_delay: float = 0.5,
        poll_interval: float = 0.5,
        pacer: Pacer | None = None,
    ) -> None:
        if timeout <= 0:
            raise GatewayConfigError(f"timeout must be > 0 seconds, got {timeout!r}")
        if max_retries < 0:
            raise GatewayConfigError(f"max_retries must be >= 0, got {max_retries!r}")
        if concurrency < 1:
            raise GatewayConfigError(f"concurrency must be >= 1, got {concurrency!r}")
        self.account_id = account_id or None
        self.gateway_id = gateway_id or None
        self.token = secret(token) if token else None
        self.base_url = base_url or None
        self.api_keys: dict[str, str] = {k: secret(v) for k, v in (api_keys or {}).items()}
        self.env: Mapping[str, str] = os.environ if env is None else env
        self._adapters: dict[str, Adapter] | None = dict(adapters) if adapters else None
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.cache_ttl = cache_ttl
        self.skip_cache = skip_cache
        self.retry_delay = float(retry_delay)
        self.retries = 0  # retried exchanges (429, 5xx, connection errors), for progress
        self.poll_interval = float(poll_interval)
        #: shares limits with other clients (other processes): a place among the calls in
        #: flight, and pauses after 429s (the pytest plugin's session ledger)
        self.pacer = pacer
        self.secrets = Secrets.from_env(self.env).merged(secrets)
        self.secrets.add(TOKEN_ENV, self.token)
        for slug, key in self.api_keys.items():
            self.secrets.add(f"api_keys[{slug}]", key)
        for where, url in ((BASE_URL_ENV, self.env.get(BASE_URL_ENV)), ("base_url", base_url)):
            if url:
                self.secrets.update(url_secrets(url, where))
        self._resolver: Resolver | None = None
        self._owner = True
        self._shared = _Shared(
            Transport(
                concurrency=concurrency, transport=transport, transport_factory=transport_factory
            ),
            BackgroundLoop(),
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **kwargs: Any) -> Gateway:
        """A Gateway configured from CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_GATEWAY_ID, CF_AIG_TOKEN
        and CF_GATEWAY_URL (missing ids fail at the first live call, not here)."""
        env = os.environ if env is None else env
        return cls(
            account_id=env.get(ACCOUNT_ENV) or None,
            gateway_id=env.get(GATEWAY_ENV) or None,
            token=env.get(TOKEN_ENV) or None,
            base_url=env.get(BASE_URL_ENV) or None,
            env=env,
            **kwargs,
        )

    def __repr__(self) -> str:
        return (
            f"Gateway(account_id={self.account_id!r}, gateway_id={self.gateway_id!r}, "
            f"token={'set' if self.token else 'unset'}, base_url={safe_url(self.base_url)!r})"
        )

    # --- configuration -------------------------------------------------------------------

    @property
    def adapters(self) -> dict[str, Adapter]:
        """``{slug: adapter}``: the built-ins unless ``adapters=`` replaced them."""
        if self._adapters is None:
            from .adapters.registry import builtin_adapters

            self._adapters = builtin_adapters()
        return self._adapters

    def with_resolver(self, resolver: Resolver | None) -> Gateway:
        """A copy sharing clients and config whose `aexecute` goes through ``resolver``.

        The copy does not own the shared clients: closing it is a no-op.
        """
        new = copy.copy(self)
        new._resolver = resolver
        new._owner = False
        return new

    def fingerprint(self, req: PreparedRequest) -> str:
        """The request fingerprint (SPEC section 6), redacted with this gateway's secrets."""
        return _fingerprint(req, self.secrets)

    # --- prepare (pure) -------------------------------------------------------------------

    def prepare(
        self,
        provider_id: str,
        prompt: str | list[Message] | list[str],
        /,
        *,
        kind: CallKind = "chat",
        repeat: int = 0,
        **options: Any,
    ) -> PreparedRequest:
        """Build the request for one call without any I/O.

        Raises GatewayConfigError for a bad provider id or bad options; missing ids or keys
        are recorded on the request (``problems``) and raised by `asend`. ``provider_id`` and
        ``prompt`` are positional-only, so a provider option named ``prompt`` (Replicate's
        ``{prefix, suffix}``) reaches ``options``.
        """
        if kind not in ("chat", "embed", "moderation", "classify"):
            raise GatewayConfigError(
                f"kind must be 'chat', 'embed', 'moderation' or 'classify', got {kind!r}"
            )
        literals = config_secrets(options, "options")
        if literals:  # apiKey / headers literals: scrubbed from whatever shows this call
            self.secrets.update(literals)
        ref = parse_provider_id(provider_id, self.adapters.keys())
        config, model_opts = split_options(options)
        stream = _stream_flag(ref.slug, model_opts.pop("stream", False))
        if ref.slug == ECHO:
            return _prepare_echo(ref, prompt, kind, repeat, config, model_opts)
        messages, inputs = _normalise_prompt(prompt, kind)
        fallbacks = fallback_entries(config.pop("fallbacks", None))
        if stream and kind != "chat":
            raise GatewayConfigError(
                f"{ref.slug}: `stream: true` does not apply to "
                f"{'embeddings' if kind == 'embed' else kind}; remove it",
                provider=ref.slug,
            )
        token, token_name = resolve_token(config, self.env, self.token)
        if not fallbacks:
            req = self._prepare_one(
                ref,
                messages,
                inputs,
                kind,
                repeat,
                config,
                model_opts,
                token,
                outer=True,
                stream=stream,
            )
        else:
            req = self._prepare_universal(
                ref, messages, inputs, kind, repeat, config, model_opts, fallbacks, token, stream
            )
        if token:
            bad = check_header_value(token, f"the AI Gateway token ({_source(token_name)})")
            req = dataclasses.replace(
                req,
                headers={**req.headers, "cf-aig-authorization": secret(f"Bearer {token}")},
                secrets={**req.secrets, token_name: secret(token)},
                problems=(*req.problems, bad) if bad else req.problems,
            )
        return self._with_cache_key(req)

    def _prepare_one(
        self,
        ref: ProviderRef,
        messages: list[Message],
        inputs: list[str],
        kind: CallKind,
        repeat: int,
        config: dict[str, Any],
        model_opts: dict[str, Any],
        token: str | None,
        *,
        outer: bool,
        stream: bool = False,
    ) -> PreparedRequest:
        """One provider request; ``outer=False`` builds a Universal step (no cf-aig controls
        of the outer request, no gateway auth)."""
        adapter = self.adapters[ref.slug]
        call = ChatCall(ref.slug, ref.model, messages, model_opts, config, kind, inputs, stream)
        if stream:
            refusal = adapter.stream_refusal(call)
            if refusal is not None:
                raise GatewayConfigError(
                    f"{ref.slug}: `stream: true` is not supported for this provider: {refusal}",
                    provider=ref.slug,
                )
        if kind == "embed":
            path, query = adapter.embed_route(call)
            body = adapter.embed_body(call)
        elif kind == "moderation":
            path, query = adapter.moderation_route(call)
            body = adapter.moderation_body(call)
        elif kind == "classify":
            path, query = adapter.classify_route(call)
            body = adapter.classify_body(call)
        else:
            path, query = adapter.route(call)
            body = adapter.body(call)
        headers = {"content-type": "application/json", **lower_keys(adapter.extra_headers(call))}
        secrets: dict[str, str] = {}
        problems: list[str] = []
        aliases = (ref.model.split("/", 1)[0],) if ref.slug == "compat" else ()
        found = resolve_key(
            ref.slug, config, self.env, self.api_keys, adapter.key_envs(call), aliases=aliases
        )
        if found.key:
            auth = lower_keys(adapter.auth_headers(found.key, call))
            headers.update({name: secret(value) for name, value in auth.items()})
            secrets[found.name] = secret(found.key)
            bad = check_header_value(found.key, f"the {ref.slug} API key ({_source(found.name)})")
            if bad:
                problems.append(bad)
        elif not token:
            problems.append(_missing_key_message(ref.slug, found.tried))
        for name, value in user_headers(config.get("headers")).items():
            bad = check_header_value(value, f"provider config headers[{name!r}]")
            if bad:
                problems.append(bad)
            if name not in PUBLIC_HEADERS:
                value = secret(value)
                secrets[f"headers[{name}]"] = value
            headers[name] = value
        if outer:
            headers.update(control_headers(config, cache_ttl=self.cache_ttl))
            if self.skip_cache:
                headers["cf-aig-skip-cache"] = "true"
        else:
            headers.update(control_headers(config))
        return PreparedRequest(
            provider=ref.slug,
            path=path,
            body=body,
            headers=headers,
            query=dict(query),
            model=ref.model,
            kind=kind,
            secrets=secrets,
            repeat=repeat,
            adapter=ref.slug,
            call=call,
            problems=tuple(problems),
            stream=stream,
        )

    def _prepare_universal(
        self,
        ref: ProviderRef,
        messages: list[Message],
        inputs: list[str],
        kind: CallKind,
        repeat: int,
        config: dict[str, Any],
        model_opts: dict[str, Any],
        fallbacks: list[tuple[str, dict[str, Any]]],
        token: str | None,
        stream: bool = False,
    ) -> PreparedRequest:
        """A Universal request: the primary call, then each fallback, as steps.

        With ``stream``, every step asks for its provider's stream; the gateway answers with
        the stream of the step that succeeded (``cf-aig-step``), read by that step's adapter.
        """
        first_config = {k: v for k, v in config.items() if k in STEP_CONFIG_KEYS}
        steps = [
            self._prepare_one(
                ref,
                messages,
                inputs,
                kind,
                repeat,
                first_config,
                model_opts,
                token,
                outer=False,
                stream=stream,
            )
        ]
        for i, (provider_id, step_cfg) in enumerate(fallbacks):
            sref = parse_provider_id(provider_id, self.adapters.keys())
            if sref.slug == ECHO:
                raise GatewayConfigError("fallbacks cannot use the local echo provider")
            scfg, sopts = split_options(step_cfg)
            if _stream_flag(sref.slug, sopts.pop("stream", stream)) != stream:
                raise GatewayConfigError(
                    f"fallbacks[{i}] ({provider_id}): `stream` must be the same as the primary "
                    f"provider's ({str(stream).lower()}); the gateway answers with one reply",
                    provider=sref.slug,
                )
            steps.append(
                self._prepare_one(
                    sref,
                    messages,
                    inputs,
                    kind,
                    repeat,
                    scfg,
                    {**model_opts, **sopts},
                    token,
                    outer=False,
                    stream=stream,
                )
            )
        headers = {"content-type": "application/json"}
        outer_problems: list[str] = []
        outer_secrets: dict[str, str] = {}
        for name, value in user_headers(config.get("headers")).items():
            bad = check_header_value(value, f"provider config headers[{name!r}]")
            if bad:
                outer_problems.append(bad)
            if name not in PUBLIC_HEADERS:
                value = secret(value)
                outer_secrets[f"headers[{name}]"] = value
            headers[name] = value
        headers.update(control_headers(config, cache_ttl=self.cache_ttl))
        if self.skip_cache:
            headers["cf-aig-skip-cache"] = "true"
        secrets: dict[str, str] = dict(outer_secrets)
        problems: list[str] = list(outer_problems)
        for s in steps:
            secrets.update(s.secrets)
            problems.extend(p for p in s.problems if p not in problems)
        call = ChatCall(ref.slug, ref.model, messages, model_opts, config, kind, inputs, stream)
        return PreparedRequest(
            provider=UNIVERSAL,
            path="",
            body=[step_body(s) for s in steps],
            headers=headers,
            model=ref.model,
            kind=kind,
            secrets=secrets,
            repeat=repeat,
            adapter=UNIVERSAL,
            call=call,
            problems=tuple(problems),
            steps=tuple(steps),
            stream=stream,
        )

    def _with_cache_key(self, req: PreparedRequest) -> PreparedRequest:
        """With gateway caching on and no user cacheKey, send the fingerprint as the key."""
        ttl = req.headers.get("cf-aig-cache-ttl")
        if ttl is None or int(ttl) <= 0 or "cf-aig-cache-key" in req.headers:
            return req
        return dataclasses.replace(
            req, headers={**req.headers, "cf-aig-cache-key": self.fingerprint(req)}
        )

    # --- send (network) -------------------------------------------------------------------

    def target(self, req: PreparedRequest) -> Target:
        """Base URL, account and gateway for ``req``; GatewayConfigError when ids are missing."""
        config = req.call.config if req.call is not None else {}
        return resolve_target(
            config,
            self.env,
            account_id=self.account_id,
            gateway_id=self.gateway_id,
            base_url=self.base_url,
        )

    async def asend(self, req: PreparedRequest) -> RawResponse:
        """Send ``req`` through the gateway: retries, Replicate polling, total timeout.

        Returns the final response whatever its status (`finish` maps errors). Raises
        GatewayConfigError for missing ids/keys and GatewayTimeoutError when no answer came.
        """
        if req.provider == ECHO:
            return RawResponse(200, {}, _echo_text(req))
        if req.problems:
            raise GatewayConfigError(
                self.secrets.scrub_text("; ".join(req.problems)), provider=req.provider
            )
        target = self.target(req)
        url = build_url(target, req.provider, req.path, req.query)
        body = wire_body(req) if req.provider == UNIVERSAL else req.body
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        transport = self._shared.transport
        start = time.perf_counter()
        stream = _Stream(self._adapter, req, start) if req.stream else None
        pacer = self.pacer
        async with (
            await transport.semaphore(),
            pacer.slot() if pacer is not None else contextlib.nullcontext(),
        ):
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.timeout
            try:
                async with asyncio.timeout_at(deadline):
                    raw = await self._request(
                        req, "POST", url, dict(req.headers), content, deadline, stream=stream
                    )
                    raw = await self._poll(req, target, raw, deadline)
            except TimeoutError:
                what = "streamed answer" if stream is not None else "answer"
                raise GatewayTimeoutError(
                    f"{req.provider}: no complete {what} within {self.timeout:g} s "
                    "(Gateway(timeout=...) / --cf-timeout); the gateway or provider is slow "
                    "or unreachable",
                    provider=req.provider,
                ) from None
        raw.latency_ms = round((time.perf_counter() - start) * 1000, 3)
        return raw

    def _backoff(self, attempt: int) -> float:
        base: float = min(MAX_BACKOFF, self.retry_delay * (2**attempt))
        return base * random.uniform(0.5, 1.0)

    async def _request(
        self,
        req: PreparedRequest,
        method: str,
        url: str,
        headers: dict[str, str],
        content: bytes | None,
        deadline: float,
        *,
        stream: _Stream | None = None,
    ) -> RawResponse:
        """One HTTP exchange with retries on 429, 5xx (not 501) and connection errors.

        With ``stream``, a 2xx event stream is read and assembled; retries happen only
        before its first byte (a stream cut later raises `StreamIncompleteError`).
        """
        loop = asyncio.get_running_loop()
        transport = self._shared.transport
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            if self.pacer is not None:
                await self.pacer.before_attempt()
            wire = transport.wire_here() if stream is None else None
            try:
                if wire is not None:
                    try:
                        status, resp_headers, body = await wire.exchange(
                            method, url, headers, content
                        )
                    except WireUnavailable:
                        wire = None  # the worker is gone: this process's own client
                if wire is not None:
                    raw = RawResponse(status=status, headers=resp_headers, body=body)
                elif stream is None:
                    client = await transport.client()
                    resp = await client.request(method, url, headers=headers, content=content)
                    raw = _raw_response(resp)
                else:
                    client = await transport.client()
                    resp = await client.send(
                        client.build_request(method, url, headers=headers, content=content),
                        stream=True,
                    )
                    if stream.accepts(resp):
                        try:
                            return await stream.read(resp)
                        except GatewayError as exc:  # e.g. a provider error echoing input
                            raise _scrubbed(exc, self.secrets.including(req.secrets)) from None
                    try:
                        await resp.aread()
                    finally:
                        await resp.aclose()
                    raw = _raw_response(resp)
            except httpx.UnsupportedProtocol as exc:
                raise GatewayConfigError(
                    f"bad gateway URL {self.secrets.scrub_text(url)!r}: {exc}"
                ) from None
            except httpx.TransportError as exc:
                if last:
                    detail = self.secrets.including(req.secrets).scrub_text(str(exc) or "")
                    raise GatewayTimeoutError(
                        f"{req.provider}: no answer from the gateway after {attempt + 1} "
                        f"attempt(s): {type(exc).__name__}{': ' + detail if detail else ''}",
                        provider=req.provider,
                    ) from None
                self.retries += 1
                await asyncio.sleep(min(self._backoff(attempt), max(0.0, deadline - loop.time())))
                continue
            if raw.status not in RETRY_STATUSES or last:
                return raw
            wait = parse_retry_after(raw.headers.get("retry-after"))
            wait = self._backoff(attempt) if wait is None else min(wait, MAX_RETRY_AFTER)
            if raw.status == 429 and self.pacer is not None:
                self.pacer.rate_limited(wait)  # the other clients pause too
            if wait >= deadline - loop.time():
                return raw  # waiting would outlast the timeout: report the error itself
            self.retries += 1
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _poll(
        self, req: PreparedRequest, target: Target, raw: RawResponse, deadline: float
    ) -> RawResponse:
        """Follow ``adapter.poll_path`` with GETs until the reply is final (Replicate)."""
        if not 200 <= raw.status < 300:
            return raw
        step = answering_step(req, raw.headers)[1] if req.provider == UNIVERSAL else req
        adapter = self._adapter(step.adapter)
        call = step.call
        if call is None:
            return raw
        headers = _poll_headers(step.headers)
        if step is not req and "cf-aig-authorization" in req.headers:
            headers["cf-aig-authorization"] = req.headers["cf-aig-authorization"]
        first = raw
        while (path := adapter.poll_path(raw, call)) is not None:
            await asyncio.sleep(self.poll_interval)
            url = build_url(target, step.provider, path, None)
            raw = await self._request(req, "GET", url, headers, None, deadline)
            if not 200 <= raw.status < 300:
                break
        if raw is not first:
            raw.headers = {**first.headers, **raw.headers}
        return raw

    # --- finish (pure) --------------------------------------------------------------------

    def finish(
        self, req: PreparedRequest, raw: RawResponse
    ) -> Completion | Embeddings | Moderation | Classification:
        """Turn a response into a Completion/Embeddings/Moderation, or raise the typed
        GatewayError.

        The same ``(req, raw)`` pair (the same objects) asked again gets the same result
        object while it is among the last `FINISHED_KEPT` (`aexecute`, the last reader, takes
        it out): the plugin reads a reply's cost and summary before handing it to the
        caller, and parsing it each time was measurable per item."""
        shared = self._shared
        kept = shared.finished.get(id(raw))
        if kept is not None and kept[0] is req and kept[1] is raw:
            return kept[2]  # type: ignore[no-any-return]
        result = self._finish(req, raw)  # (raises for errors: those are never kept)
        with shared.finished_lock:
            finished = shared.finished
            finished[id(raw)] = (req, raw, result)  # holding raw keeps its id unique
            if len(finished) > FINISHED_KEPT:
                finished.pop(next(iter(finished)))
        return result

    def _finish(
        self, req: PreparedRequest, raw: RawResponse
    ) -> Completion | Embeddings | Moderation | Classification:
        scrub = self.secrets.including(req.secrets)
        if req.provider == ECHO:
            text = raw.body if isinstance(raw.body, str) else _echo_text(req)
            return Completion(
                text=text, raw=text, usage=Usage(), provider=ECHO, model=req.model,
                cost=0.0, latency_ms=raw.latency_ms, replayed=raw.replayed, status=raw.status,
            )  # fmt: skip
        if not 200 <= raw.status < 300:
            raise error_from_response(
                raw.status,
                raw.body,
                raw.headers,
                req.provider,
                secrets=scrub,
                key_hint=self._key_hint(req),
            )
        step_index: int | None = None
        sub = req
        if req.provider == UNIVERSAL:
            step_index, sub = answering_step(req, raw.headers)
        elif raw.headers.get("cf-aig-step", "").strip().isdigit():
            step_index = int(raw.headers["cf-aig-step"])
        adapter = self._adapter(sub.adapter)
        call = sub.call
        if call is None:
            raise GatewayConfigError("finish() needs a request built by Gateway.prepare()")
        try:
            if req.kind == "embed":
                parsed = adapter.parse_embeddings(raw, call)
            elif req.kind == "moderation":
                parsed = adapter.parse_moderation(raw, call)
            elif req.kind == "classify":
                parsed = adapter.parse_classification(raw, call)
            else:
                parsed = adapter.parse(raw, call)
        except GatewayError as exc:
            raise _scrubbed(exc, scrub) from None
        cache_status = raw.headers.get("cf-aig-cache-status")
        outer_cfg = req.call.config if req.call is not None else {}
        custom = call.config.get("customCost") or outer_cfg.get("customCost")
        cost = estimate_cost(
            sub.provider,
            (parsed.model, call.model),
            parsed.usage,
            custom_cost=custom if isinstance(custom, Mapping) else None,
            cache_status=cache_status,
        )
        fp = self.fingerprint(req)
        if req.kind == "moderation":
            if cost is None and sub.provider == "openai":
                cost = 0.0  # OpenAI's moderation endpoint is free of charge
            return Moderation(
                flags=dict(parsed.flags or {}), usage=parsed.usage, provider=sub.provider,
                model=call.model, raw=raw.body, cost=cost, latency_ms=raw.latency_ms,
                cache_status=cache_status, replayed=raw.replayed, fingerprint=fp,
                log_id=raw.headers.get("cf-aig-log-id"),
            )  # fmt: skip
        if req.kind == "classify":
            return Classification(
                scores=dict(parsed.scores or {}), usage=parsed.usage, provider=sub.provider,
                model=call.model, raw=raw.body, cost=cost, latency_ms=raw.latency_ms,
                cache_status=cache_status, replayed=raw.replayed, fingerprint=fp,
                log_id=raw.headers.get("cf-aig-log-id"),
            )  # fmt: skip
        if req.kind == "embed":
            return Embeddings(
                vectors=parsed.embeddings or [], usage=parsed.usage, provider=sub.provider,
                model=call.model, raw=raw.body, cost=cost, latency_ms=raw.latency_ms,
                cache_status=cache_status, replayed=raw.replayed, fingerprint=fp,
            )  # fmt: skip
        return Completion(
            text=parsed.text,
            raw=raw.body,
            usage=parsed.usage,
            provider=sub.provider,
            model=call.model,
            cost=cost,
            latency_ms=raw.latency_ms,
            cache_status=cache_status,
            replayed=raw.replayed,
            log_id=raw.headers.get("cf-aig-log-id"),
            step=step_index,
            finish_reason=parsed.finish_reason,
            tool_calls=parsed.tool_calls,
            logprobs=parsed.logprobs,
            fingerprint=fp,
            status=raw.status,
            ttft_ms=raw.ttft_ms,
        )

    def _adapter(self, slug: str) -> Adapter:
        try:
            return self.adapters[slug]
        except KeyError:
            raise GatewayConfigError(
                f"no adapter for provider {slug!r}; was it registered in this session?"
            ) from None

    def _key_hint(self, req: PreparedRequest) -> str | None:
        step = req.steps[0] if req.steps else req
        call = step.call
        if call is None or step.adapter not in self.adapters:
            return None
        custom = call.config.get("apiKeyEnvar")
        names = [str(custom)] if custom else list(self.adapters[step.adapter].key_envs(call))
        return " / ".join(names) or None

    # --- execute ----------------------------------------------------------------------------

    async def aexecute(
        self, req: PreparedRequest
    ) -> Completion | Embeddings | Moderation | Classification:
        """``finish(req, await resolver(req, asend))``; echo never goes through the resolver."""
        if req.provider == ECHO or self._resolver is None:
            raw = await self.asend(req)
        else:
            raw = await self._resolver(req, self.asend)
        with self._shared.finished_lock:
            kept = self._shared.finished.pop(id(raw), None)  # its last reader: let it go
        if kept is not None and kept[0] is req and kept[1] is raw:
            return kept[2]  # type: ignore[no-any-return]
        return self._finish(req, raw)

    async def _aexecute_as(self, req: PreparedRequest, result_type: type[T]) -> T:
        """`aexecute`, checked to give ``result_type`` (Completion, Embeddings, Moderation)."""
        result = await self.aexecute(req)
        assert isinstance(result, result_type)
        return result

    async def acomplete(
        self, provider_id: str, prompt: str | list[Message], **options: Any
    ) -> Completion:
        """Ask ``provider_id`` (``openai:gpt-4o``) to complete ``prompt`` (text or messages)."""
        req = self.prepare(provider_id, prompt, kind="chat", **options)
        return await self._aexecute_as(req, Completion)

    def complete(self, provider_id: str, prompt: str | list[Message], **options: Any) -> Completion:
        """Synchronous `acomplete` (runs on the gateway's background event loop)."""
        req = self.prepare(provider_id, prompt, kind="chat", **options)
        return self.run(self._aexecute_as(req, Completion))

    async def aembed(self, provider_id: str, inputs: str | list[str], **options: Any) -> Embeddings:
        """Embed ``inputs`` with ``provider_id`` (``openai:text-embedding-3-large``)."""
        req = self.prepare(provider_id, inputs, kind="embed", **options)
        return await self._aexecute_as(req, Embeddings)

    def embed(self, provider_id: str, inputs: str | list[str], **options: Any) -> Embeddings:
        """Synchronous `aembed`."""
        req = self.prepare(provider_id, inputs, kind="embed", **options)
        return self.run(self._aexecute_as(req, Embeddings))

    async def amoderate(self, provider_id: str, text: str, **options: Any) -> Moderation:
        """Moderate ``text`` with ``provider_id`` (``openai:omni-moderation-latest``)."""
        req = self.prepare(provider_id, text, kind="moderation", **options)
        return await self._aexecute_as(req, Moderation)

    def moderate(self, provider_id: str, text: str, **options: Any) -> Moderation:
        """Synchronous `amoderate`."""
        req = self.prepare(provider_id, text, kind="moderation", **options)
        return self.run(self._aexecute_as(req, Moderation))

    async def aclassify(self, provider_id: str, text: str, **options: Any) -> Classification:
        """Classify ``text`` with a text-classification model (``huggingface:<model>``)."""
        req = self.prepare(provider_id, text, kind="classify", **options)
        return await self._aexecute_as(req, Classification)

    def classify(self, provider_id: str, text: str, **options: Any) -> Classification:
        """Synchronous `aclassify`."""
        req = self.prepare(provider_id, text, kind="classify", **options)
        return self.run(self._aexecute_as(req, Classification))

    def start_http_process(self, process: WireProcess | None = None) -> bool:
        """Make the HTTP exchanges of calls on the background loop (`run`, `submit`, the
        sync API) in a worker process from now on, so they do not share this process's GIL
        (`_wire`); streamed calls and other loops keep this process's clients. ``process``:
        a worker spawned ahead (`WireProcess.spawn`), else one is spawned now. False when
        it cannot apply: an injected transport, or a worker already started (``process``
        is then left to the caller)."""
        transport = self._shared.transport
        if transport.injected or transport.wire is not None:
            return False
        from ._wire import WireProcess

        wire = transport.wire = process or WireProcess.spawn(transport.concurrency)
        self._shared.background.submit(wire.attach())
        return True

    @property
    def http_offloaded(self) -> bool:
        """True while the background loop's exchanges go through the HTTP worker process
        (`start_http_process`), so that loop has little else to do."""
        wire = self._shared.transport.wire
        return wire is not None and wire.failure is None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the gateway's private background loop and return its result."""
        return self._shared.background.run(coro)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start ``coro`` on the background loop and return at once; ``run`` waits for it."""
        return self._shared.background.submit(coro)

    def submit_many(
        self, coros: list[Coroutine[Any, Any, T]]
    ) -> list[concurrent.futures.Future[T]]:
        """`submit` for a batch of coroutines, waking the background loop once."""
        return self._shared.background.submit_many(coros)

    # --- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the background loop and close its clients (copies: no-op)."""
        if self._owner:
            self._shared.background.stop(before=self._shared.transport.aclose_current)

    async def aclose(self) -> None:
        """Close the running loop's clients, and the background loop if it was started."""
        if not self._owner:
            return
        await self._shared.transport.aclose_current()
        if self._shared.background.started:
            await asyncio.to_thread(self.close)

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


# --- helpers -------------------------------------------------------------------------------


def _normalise_prompt(prompt: Any, kind: CallKind) -> tuple[list[Message], list[str]]:
    """(messages, inputs) from a prompt: text, chat messages, or (embed) a list of strings;
    (moderation) the text to moderate."""
    if kind in ("moderation", "classify"):
        if isinstance(prompt, str):
            return [], [prompt]
        verb = "moderate" if kind == "moderation" else "classify"
        raise GatewayConfigError(f"{verb}() takes a string, got {type(prompt).__name__}")
    if kind == "embed":
        if isinstance(prompt, str):
            return [], [prompt]
        if isinstance(prompt, list | tuple) and prompt and all(isinstance(x, str) for x in prompt):
            return [], list(prompt)
        raise GatewayConfigError(
            f"embed() takes a string or a non-empty list of strings, got {type(prompt).__name__}"
        )
    if isinstance(prompt, str):
        parsed = _chat_json(prompt)
        return (parsed if parsed is not None else [{"role": "user", "content": prompt}]), []
    if isinstance(prompt, list | tuple) and prompt:
        messages: list[Message] = []
        for i, msg in enumerate(prompt):
            if not isinstance(msg, Mapping) or not isinstance(msg.get("role"), str):
                raise GatewayConfigError(
                    f"prompt message [{i}] must be a mapping with a string `role` "
                    f"(and `content`), got {msg!r}"
                )
            messages.append(dict(msg))
        return messages, []
    raise GatewayConfigError(
        "prompt must be a string or a non-empty list of chat messages "
        f"[{{'role': 'user', 'content': '...'}}], got {prompt!r}"
    )


def _chat_json(text: str) -> list[Message] | None:
    """promptfoo's parseChatPrompt: a JSON array of role messages is a conversation."""
    stripped = text.strip()
    if not (stripped.startswith("[") and stripped.endswith("]")):
        return None
    try:
        data = json.loads(stripped)
    except ValueError:
        return None
    if (
        isinstance(data, list)
        and data
        and all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in data)
    ):
        return data
    return None


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    return "" if content is None else str(content)


def _prepare_echo(
    ref: ProviderRef,
    prompt: Any,
    kind: CallKind,
    repeat: int,
    config: dict[str, Any],
    model_opts: dict[str, Any],
) -> PreparedRequest:
    """The local echo provider: reply = the prompt text (last user message)."""
    if kind != "chat":
        raise GatewayConfigError(
            f"the echo provider has no {'embeddings' if kind == 'embed' else kind}; use an "
            + {
                "embed": "embedding model",
                "moderation": "openai:moderation model",
            }.get(kind, "huggingface:text-classification model")
        )
    if isinstance(prompt, str):
        text = prompt
    else:
        messages, _ = _normalise_prompt(prompt, "chat")
        users = [m for m in messages if m.get("role") == "user"] or messages
        text = _content_text(users[-1].get("content"))
    call = ChatCall(ECHO, ref.model, [{"role": "user", "content": text}], model_opts, config)
    return PreparedRequest(
        provider=ECHO, path="", body=text, headers={}, model=ref.model, kind="chat",
        repeat=repeat, adapter=ECHO, call=call,
    )  # fmt: skip


def _echo_text(req: PreparedRequest) -> str:
    return req.body if isinstance(req.body, str) else ""


def _source(name: str) -> str:
    """Where a secret came from, for messages: an env var, or a provider config key."""
    if name in ("apiKey", "cfAigToken") or name.startswith(("api_keys[", "headers[")):
        return f"provider config {name}" if not name.startswith("api_keys[") else name
    return f"env var {name}"


def _missing_key_message(slug: str, tried: tuple[str, ...]) -> str:
    if tried:
        names = " / ".join(tried)
        read = f"{names} {'is' if len(tried) == 1 else 'are'} not set"
        first = tried[0]
    else:
        read, first = "no key env var is defined for it", "the key"
    return (
        f"No API key for {slug}: {read}. Set {first}, add apiKey or apiKeyEnvar to the "
        f"provider config, or pass Gateway(api_keys={{'{slug}': ...}}). To use a key stored in "
        "the gateway (BYOK) instead, the gateway must be authenticated: set CF_AIG_TOKEN "
        "(or provider config cfAigToken)."
    )


def _poll_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        k: v
        for k, v in headers.items()
        if k not in _POLL_DROP and (not k.startswith("cf-aig-") or k in _POLL_KEEP_CF)
    }


def _stream_flag(slug: str, value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    raise GatewayConfigError(
        f"{slug}: `stream` must be true or false, got {value!r}", provider=slug
    )


class _Stream:
    """Reads one streamed reply: SSE events -> the adapter's assembler -> a RawResponse
    whose body is the assembled (non-streamed) reply and whose ``ttft_ms`` is the time from
    ``start`` to the first event that carried output."""

    def __init__(
        self, adapters: Callable[[str], Adapter], req: PreparedRequest, start: float
    ) -> None:
        self.adapters = adapters
        self.req = req
        self.start = start

    @staticmethod
    def accepts(resp: httpx.Response) -> bool:
        """A 2xx event stream? (errors arrive as ordinary JSON bodies and are retried or
        mapped as usual)."""
        ctype = resp.headers.get("content-type", "").lower()
        return 200 <= resp.status_code < 300 and ctype.startswith("text/event-stream")

    async def read(self, resp: httpx.Response) -> RawResponse:
        try:
            return await self._read(resp)
        finally:
            await resp.aclose()

    async def _read(self, resp: httpx.Response) -> RawResponse:
        from .streaming import SSEParser

        headers = {k.lower(): v for k, v in resp.headers.items()}
        step = self.req
        if step.provider == UNIVERSAL:  # the stream is the answering step's
            step = answering_step(step, headers)[1]
        call = step.call
        if call is None:
            raise GatewayConfigError("streaming needs a request built by Gateway.prepare()")
        assembler = self.adapters(step.adapter).stream_assembler(call)
        parser = SSEParser()
        first: float | None = None
        try:
            async for chunk in resp.aiter_bytes():
                for event in parser.feed(chunk):
                    if assembler.feed(event) and first is None:
                        first = time.perf_counter()
            for event in parser.close():
                if assembler.feed(event) and first is None:
                    first = time.perf_counter()
        except httpx.TransportError as exc:
            raise assembler.incomplete(
                f"the connection broke mid-stream: {type(exc).__name__}"
            ) from None
        if not assembler.complete:
            why = "an unfinished event was pending" if parser.pending else "the stream ended"
            raise assembler.incomplete(why)
        if first is None:
            first = time.perf_counter()  # no output at all (e.g. an empty answer): end time
        return RawResponse(
            status=resp.status_code,
            headers=headers,
            body=assembler.result(),
            # rounded down, so it never exceeds the latency measured after it
            ttft_ms=math.floor((first - self.start) * 10_000) / 10,
        )


def _raw_response(resp: httpx.Response) -> RawResponse:
    status, headers, body = raw_response_parts(resp)
    return RawResponse(status=status, headers=headers, body=body)


def _scrubbed(exc: GatewayError, secrets: Secrets) -> GatewayError:
    exc.message = secrets.scrub_text(exc.message)
    exc.args = (exc.message,)
    exc.body = secrets.scrub(exc.body)
    return exc
