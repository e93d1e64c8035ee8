"""The gateway pipeline, independent of any web framework: one ``Incoming`` request in, one
``Outgoing`` answer (or a dropped connection) out.

Order, as the real gateway: gateway id (400/2001) -> gateway token (401/2009) -> route
(2008/2019) -> provider key or BYOK (provider 401 / 400/2040) -> cache read -> rate limit
(429/2003; cache hits exempt) -> injected faults, latency and retries -> the provider's answer
-> cache write (successes only).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from .cache import CachedReply, CachePolicy, policy
from .envelope import gateway_reply
from .faults import Fault
from .http import Incoming, Outgoing, parse_json
from .providers import (
    COMPAT,
    PROVIDERS,
    UNIMPLEMENTED,
    ProviderSpec,
    compat_check,
    compat_provider,
    provider_spec,
)
from .records import RecordedRequest, SecretHeaders, SecretQuery, StepAttempt, new_id
from .state import EmulatorState
from .wire import NOT_JSON, Ctx, ProviderCall, Reply, error_kind, error_reply

_HOP_HEADERS = frozenset(
    {"host", "content-length", "connection", "transfer-encoding", "accept-encoding"}
)


@dataclasses.dataclass
class _Step:
    index: int
    provider: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw_body: bytes
    body: Any
    method: str
    config: Mapping[str, Any]


@dataclasses.dataclass
class _Outcome:
    reply: Reply | None
    cache_status: str = "MISS"
    drop: bool = False
    terminal: bool = False  # stop a Universal chain (rate limited)
    byok_alias: str | None = None
    cut_after: int | None = None  # an injected mid-stream cut (see faults "drop:N")


def encode(reply: Reply) -> tuple[bytes, str]:
    """Body bytes and content type of a reply."""
    if isinstance(reply.body, bytes):
        return reply.body, reply.headers.get("content-type", "application/json")
    if isinstance(reply.body, str):
        return reply.body.encode(), reply.headers.get("content-type", "text/plain; charset=utf-8")
    return json.dumps(reply.body, separators=(",", ":")).encode(), "application/json"


def _num(value: Any, default: float) -> float:
    try:
        return float(value) if value is not None and value != "" else default
    except (TypeError, ValueError):
        return default


class Pipeline:
    """Runs requests against an ``EmulatorState``."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def _ctx(self) -> Ctx:
        s = self.state
        return Ctx(
            rules=s.rules,
            predictions=s.predictions,
            replicate_polls=s.replicate_polls,
            replicate_wait_finishes=s.replicate_wait_finishes,
            embedding_dimensions=s.embedding_dimensions,
        )

    async def handle(self, inc: Incoming) -> Outgoing:
        """Answer one gateway request (paths under ``/v1/``)."""
        started = time.perf_counter()
        parts = inc.path.strip("/").split("/", 4)
        log_id = new_id()
        rec = RecordedRequest(
            method=inc.method,
            path=inc.path,
            query=SecretQuery(inc.query),
            headers=SecretHeaders(inc.headers),
            body=None,
            log_id=log_id,
            request_id=log_id,
            event_id=inc.headers.get("cf-aig-event-id") or log_id,
        )
        body = parse_json(inc.body)
        rec.body = None if body is NOT_JSON else body
        self._read_controls(inc.headers, rec)
        rec.account_id, rec.gateway_id = parts[1], parts[2]
        scope = f"{parts[1]}/{parts[2]}"
        provider = parts[3] if len(parts) > 3 else ""
        rest = parts[4] if len(parts) > 4 else ""
        rec.provider, rec.route = provider, rest
        outcome = self._gateway_checks(inc, scope, provider, rec)
        if outcome is None:
            if provider == "":
                outcome = await self._universal(inc, scope, body, rec)
            else:
                step = _Step(
                    0,
                    provider,
                    rest,
                    inc.query,
                    self._outer_headers(inc.headers),
                    inc.body,
                    body,
                    inc.method,
                    {},
                )
                outcome = await self._run_step(step, scope, self._authed(inc.headers), [False], rec)
                rec.attempts.append(self._attempt(step, outcome))
        return self._finish(outcome, rec, started)

    # gateway-level checks ----------------------------------------------------------------

    def _authed(self, headers: Mapping[str, str]) -> bool:
        value = headers.get("cf-aig-authorization", "").strip()
        if self.state.token is None:
            return bool(value.partition(" ")[2].strip())
        return value == f"Bearer {self.state.token}"

    def _gateway_checks(
        self, inc: Incoming, scope: str, provider: str, rec: RecordedRequest
    ) -> _Outcome | None:
        known = self.state.gateways
        authed = self._authed(inc.headers)
        if known is not None and scope not in known:
            if rec.gateway_id == "default" and self.state.token is not None and authed:
                known.add(scope)  # the gateway auto-creates "default" on an authenticated call
            else:
                return _Outcome(gateway_reply(2001))
        if self.state.token is not None and not authed:
            return _Outcome(gateway_reply(2009))
        if provider and provider != "compat" and self._spec(provider) is None:
            note = (
                f"Invalid provider: the emulator does not implement {provider!r}"
                if provider in UNIMPLEMENTED or provider.startswith("custom-")
                else f"Invalid provider {provider!r}"
            )
            supported = ", ".join(sorted([*PROVIDERS, "compat"]))
            return _Outcome(gateway_reply(2008, f"{note}; supported slugs: {supported}"))
        if not provider and inc.method != "POST":
            return _Outcome(gateway_reply(2019, "Universal requests must be POSTed"))
        return None

    def _spec(self, slug: str) -> ProviderSpec | None:
        return provider_spec(slug, self.state.custom_providers)

    @staticmethod
    def _outer_headers(headers: Mapping[str, str]) -> dict[str, str]:
        return {k: v for k, v in headers.items() if k not in _HOP_HEADERS}

    @staticmethod
    def _read_controls(headers: Mapping[str, str], rec: RecordedRequest) -> None:
        rec.collect_log = headers.get("cf-aig-collect-log", "true").strip().lower() != "false"
        raw = headers.get("cf-aig-metadata")
        if raw is not None:
            try:
                meta = json.loads(raw)
            except json.JSONDecodeError:
                meta = None
                rec.warnings.append("cf-aig-metadata is not valid JSON; metadata dropped")
            if isinstance(meta, dict):
                if any(not isinstance(v, (str, int, float, bool)) for v in meta.values()):
                    rec.warnings.append(
                        "cf-aig-metadata values must be strings, numbers or booleans; "
                        "metadata dropped"
                    )
                else:
                    if len(meta) > 5:
                        rec.warnings.append(
                            "cf-aig-metadata has more than 5 entries; extra dropped"
                        )
                    rec.metadata = dict(list(meta.items())[:5])
            elif meta is not None:
                rec.warnings.append("cf-aig-metadata must be a JSON object; metadata dropped")
        raw = headers.get("cf-aig-custom-cost")
        if raw is not None:
            try:
                cost = json.loads(raw)
            except json.JSONDecodeError:
                cost = None
            if isinstance(cost, dict) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in cost.values()
            ):
                rec.custom_cost = cost
            else:
                rec.warnings.append(
                    'cf-aig-custom-cost must be JSON like {"per_token_in": 1e-6, '
                    '"per_token_out": 2e-6}; ignored'
                )

    # Universal ---------------------------------------------------------------------------

    async def _universal(
        self, inc: Incoming, scope: str, body: Any, rec: RecordedRequest
    ) -> _Outcome:
        raw_steps = [body] if isinstance(body, dict) else body
        if not isinstance(raw_steps, list) or not raw_steps:
            return _Outcome(
                gateway_reply(
                    2019,
                    "Universal request bad format: expected a JSON array of steps "
                    "{provider, endpoint, headers, query} (or one such object)",
                )
            )
        outer = self._outer_headers(inc.headers)
        steps: list[_Step] = []
        for i, raw in enumerate(raw_steps):
            step = self._parse_step(i, raw, outer)
            if isinstance(step, Reply):
                return _Outcome(step)
            steps.append(step)
        authed = self._authed(inc.headers)
        rate_checked = [False]
        outcome = _Outcome(None)
        for step in steps:
            outcome = await self._run_step(step, scope, authed, rate_checked, rec)
            rec.attempts.append(self._attempt(step, outcome))
            rec.step = step.index
            rec.provider, rec.route = step.provider, step.path
            if outcome.drop or outcome.terminal or (outcome.reply and outcome.reply.ok):
                break
        return outcome

    def _parse_step(self, i: int, raw: Any, outer: dict[str, str]) -> _Step | Reply:
        if not isinstance(raw, dict):
            return gateway_reply(2019, f"Universal step {i} must be an object")
        provider = raw.get("provider")
        if provider != "compat" and (not isinstance(provider, str) or self._spec(provider) is None):
            supported = ", ".join(sorted([*PROVIDERS, "compat"]))
            return gateway_reply(
                2008, f"Invalid provider {provider!r} in step {i}; supported slugs: {supported}"
            )
        endpoint = raw.get("endpoint")
        if not isinstance(endpoint, str) or not endpoint.strip("/"):
            return gateway_reply(2019, f"Universal step {i} needs an 'endpoint' string")
        step_headers = raw.get("headers") or {}
        if not isinstance(step_headers, dict):
            return gateway_reply(2019, f"Universal step {i}: 'headers' must be an object")
        config = raw.get("config") or {}
        if not isinstance(config, dict):
            return gateway_reply(2019, f"Universal step {i}: 'config' must be an object")
        path, _, qs = endpoint.strip("/").partition("?")
        headers = dict(outer)
        for k, v in step_headers.items():
            if str(k).lower() != "cf-aig-authorization":  # only honoured on the outer request
                headers[str(k).lower()] = str(v)
        query = raw.get("query")
        data = json.dumps(query, separators=(",", ":")).encode()
        return _Step(
            i, str(provider), path, dict(parse_qsl(qs)), headers, data, query, "POST", config
        )

    # one upstream call -------------------------------------------------------------------

    def _auth(
        self, spec: ProviderSpec, step: _Step, byok_provider: str, authed: bool
    ) -> tuple[dict[str, str], str | None] | Reply:
        headers = dict(step.headers)
        key = spec.key(headers, step.query)
        if key is not None:
            allowed = self.state.valid_keys.get(byok_provider)
            if allowed is not None and key not in allowed:
                return spec.invalid_reply()
            return headers, None
        alias = headers.get("cf-aig-byok-alias", "").strip()
        stored = self.state.byok.get(byok_provider)
        if authed and (stored or alias):
            name = alias or "default"
            if not stored or name not in stored:
                configured = ", ".join(sorted(stored)) if stored else "(none)"
                return gateway_reply(
                    2040,
                    f"Provider '{byok_provider}' has no BYOK credential named '{name}'. "
                    f"Configured aliases: {configured}",
                )
            spec.inject(headers, stored[name])
            return headers, name
        return spec.missing_reply()

    def _cache_policy(self, spec: ProviderSpec, step: _Step, scope: str) -> CachePolicy | str:
        model = step.body.get("model") if isinstance(step.body, dict) else None
        endpoint = step.path + ("?" + urlencode(sorted(step.query.items())) if step.query else "")
        return policy(
            step.headers,
            self.state.gateway_cache_ttl(scope),
            scope=scope,
            provider=step.provider,
            endpoint=endpoint,
            model=model if isinstance(model, str) else "",
            auth=spec.auth_value(step.headers),
            body=step.raw_body,
        )

    async def _run_step(
        self,
        step: _Step,
        scope: str,
        authed: bool,
        rate_checked: list[bool],
        rec: RecordedRequest,
    ) -> _Outcome:
        state = self.state
        if step.provider == "compat":
            spec = COMPAT
            bad = compat_check(step.path, step.body)
            if bad is not None:
                return _Outcome(bad)
            byok_provider = compat_provider(step.body) or "compat"
        else:
            found = self._spec(step.provider)
            assert found is not None  # checked when the request was parsed
            spec = found
            byok_provider = step.provider
        auth = self._auth(spec, step, byok_provider, authed)
        if isinstance(auth, Reply):
            return _Outcome(auth)
        headers, alias = auth
        pol = self._cache_policy(spec, step, scope) if step.method == "POST" else CachePolicy(False)
        if isinstance(pol, str):
            rec.warnings.append(pol + "; caching off for this request")
            pol = CachePolicy(False)
        if pol.enabled and not pol.skip_read:
            hit = state.cache.get(pol.key, state.now())
            if hit is not None:
                cached = Reply(hit.status, hit.body, model=hit.model, headers=dict(hit.headers))
                return _Outcome(cached, cache_status="HIT", byok_alias=alias)
        if not rate_checked[0]:
            rate_checked[0] = True
            limit = state.rate_limit
            if limit is not None and not state.limiter.allow(
                scope, state.now(), limit[0], limit[1], state.rate_limit_technique
            ):
                return _Outcome(gateway_reply(2003), terminal=True)
        call = ProviderCall(step.provider, step.path, step.query, headers, step.body, step.method)
        outcome = await self._attempts(spec, call, step, (step.provider, byok_provider))
        outcome.byok_alias = alias
        reply = outcome.reply
        if reply is not None and reply.ok and reply.cacheable and pol.enabled:
            data, ctype = encode(reply)
            state.cache.put(
                pol.key,
                CachedReply(
                    status=reply.status,
                    body=data,
                    headers=(("content-type", ctype),),
                    model=reply.model,
                    provider=step.provider,
                    expires_at=state.now() + pol.ttl,
                ),
            )
        return outcome

    async def _attempts(
        self, spec: ProviderSpec, call: ProviderCall, step: _Step, targets: tuple[str, ...]
    ) -> _Outcome:
        faults = self.state.faults
        h, cfg = step.headers, step.config
        attempts = int(
            min(5, max(1, _num(cfg.get("maxAttempts", h.get("cf-aig-max-attempts")), 1)))
        )
        delay = min(5000.0, max(0.0, _num(cfg.get("retryDelay", h.get("cf-aig-retry-delay")), 0)))
        backoff = str(cfg.get("backoff", h.get("cf-aig-backoff", "constant")))
        timeout = _num(cfg.get("requestTimeout", h.get("cf-aig-request-timeout")), 0) or None
        reply: Reply | None = None
        for attempt in range(attempts):
            if attempt:
                factor = {"linear": attempt, "exponential": 2 ** (attempt - 1)}.get(backoff, 1)
                await asyncio.sleep(delay * factor / 1000)
            fault = faults.next_fault(targets)
            if fault is not None and fault.kind == "drop" and fault.after_chunks is None:
                return _Outcome(None, drop=True)
            wait = faults.latency_ms + faults.first_byte_delay_ms
            if fault is not None and fault.kind == "slow":
                wait += fault.delay_ms
            if timeout is not None and wait > timeout:
                await asyncio.sleep(timeout / 1000)
                reply = error_reply(
                    spec.style,
                    504,
                    "server",
                    f"Request timed out after {timeout:g} ms (cf-aig-request-timeout / "
                    "requestTimeout); the emulator's delay was "
                    f"{wait:g} ms",
                )
                reply.fault = "timeout"
            else:
                if wait > 0:
                    await asyncio.sleep(wait / 1000)
                reply = self._injected(spec, fault) if fault and fault.kind == "status" else None
                if reply is None:
                    reply = spec.handler(call, self._ctx())
                    if fault is not None:
                        reply.fault = fault.label
            if reply.ok or not (reply.status == 429 or reply.status >= 500):
                break
        cut = fault.after_chunks if fault is not None and fault.kind == "drop" else None
        return _Outcome(reply, cut_after=cut)

    def _injected(self, spec: ProviderSpec, fault: Fault) -> Reply:
        status = fault.status
        messages = {
            429: "Rate limit reached (injected by the emulator). Please retry after a while.",
            500: "The server had an error processing your request (injected by the emulator).",
            502: "Bad gateway (injected by the emulator).",
            503: "The server is overloaded or not ready yet (injected by the emulator).",
        }
        reply = error_reply(
            spec.style,
            status,
            error_kind(status),
            messages.get(status, f"Error {status} injected by the emulator."),
        )
        reply.fault = fault.label
        if status == 429:
            retry = (
                fault.retry_after
                if fault.retry_after is not None
                else self.state.faults.retry_after
            )
            reply.headers["retry-after"] = f"{retry:g}"
        return reply

    # answer ------------------------------------------------------------------------------

    @staticmethod
    def _attempt(step: _Step, outcome: _Outcome) -> StepAttempt:
        reply = outcome.reply
        return StepAttempt(
            step=step.index,
            provider=step.provider,
            path=step.path,
            status=0 if reply is None else reply.status,
            cache_status=outcome.cache_status,
            fault="drop" if outcome.drop else (reply.fault if reply else None),
        )

    def _finish(self, outcome: _Outcome, rec: RecordedRequest, started: float) -> Outgoing:
        rec.duration_ms = (time.perf_counter() - started) * 1000
        rec.cache_status = outcome.cache_status
        rec.byok_alias = outcome.byok_alias
        if isinstance(rec.body, dict) and isinstance(rec.body.get("model"), str):
            rec.model = rec.body["model"]
        if outcome.drop or outcome.reply is None:
            rec.status, rec.fault = 0, "drop"
            self.state.record(rec)
            return Outgoing(0, {}, b"", drop=True)
        reply = outcome.reply
        rec.status, rec.gateway_code, rec.fault = reply.status, reply.gateway_code, reply.fault
        rec.model = reply.model or rec.model
        if outcome.cache_status != "HIT":
            rec.tokens_in, rec.tokens_out = reply.tokens_in, reply.tokens_out
            if rec.custom_cost and reply.ok:
                rec.cost = rec.tokens_in * float(rec.custom_cost.get("per_token_in", 0)) + (
                    rec.tokens_out * float(rec.custom_cost.get("per_token_out", 0))
                )
        else:
            rec.cost = 0.0
        data, ctype = encode(reply)
        headers = {k: v for k, v in reply.headers.items() if k != "content-type"}
        headers.update(
            {
                "content-type": ctype,
                "cf-aig-cache-status": outcome.cache_status,
                "cf-aig-log-id": rec.log_id,
                "cf-aig-event-id": rec.event_id,
                "cf-aig-request-id": rec.request_id,
                "cf-aig-step": str(rec.step),
            }
        )
        self.state.record(rec)
        chunks = [e.encode() for e in reply.stream] if reply.stream is not None else None
        if outcome.cut_after is not None and chunks is None:
            chunks = [data]  # a non-streamed body is one chunk
        return Outgoing(
            reply.status,
            headers,
            data,
            chunks=chunks,
            chunk_delay_ms=self.state.faults.chunk_delay_ms,
            cut_after=outcome.cut_after,
        )
