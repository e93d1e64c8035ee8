"""The `Grader` the assertion engine uses: model-graded calls through the same gateway call
path (and therefore the same snapshot recorder) as the item's own call."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..assertions.base import AssertionConfigError, AssertionSkipped

if TYPE_CHECKING:
    from ..gateway.client import Gateway
    from ..gateway.types import Classification, Completion, Message, Moderation


def provider_ref_to_gateway(ref: Any) -> tuple[str, dict[str, Any]]:
    """``"openai:chat:gpt-4o"`` / ``{id, config}`` -> (gateway id ``slug:model``, config)."""
    if isinstance(ref, Mapping):
        pid = ref.get("id")
        if not isinstance(pid, str) or not pid:
            raise AssertionConfigError(
                f"grader provider {dict(ref)!r} has no 'id'; use {{id: 'openai:gpt-5.2'}}"
            )
        config = dict(ref.get("config") or {})
    elif isinstance(ref, str) and ref:
        pid, config = ref, {}
    else:
        raise AssertionConfigError(
            f"grader provider must be an id string or {{id, config}}, got {ref!r}"
        )
    from ..config.providers import to_gateway_id

    gateway_id = to_gateway_id(pid)
    if gateway_id is None:  # as for a test's own provider: the item is skipped, named
        raise AssertionSkipped(
            f"grader provider {pid!r} does not go through Cloudflare AI Gateway; "
            "pytest-cfgateway skips the items it grades. Fix: grade with a gateway provider, "
            "e.g. 'defaultTest: {options: {provider: openai:gpt-5.2}}'"
        )
    return gateway_id, config


def _routable(gateway: Gateway, provider: Any) -> tuple[str, dict[str, Any]]:
    """`provider_ref_to_gateway`, and a gateway id whose slug no adapter serves
    (``cloudflare-gateway:<unknown slug>:m``) skips the items it grades, as such a provider
    skips its own items."""
    from ..gateway.routes import parse_provider_id

    gateway_id, config = provider_ref_to_gateway(provider)
    try:
        parse_provider_id(gateway_id, known=gateway.adapters)
    except ValueError as exc:
        pid = provider.get("id") if isinstance(provider, Mapping) else provider
        raise AssertionSkipped(
            f"grader provider {pid!r} cannot go through the gateway: {exc}; "
            "pytest-cfgateway skips the items it grades"
        ) from None
    return gateway_id, config


class GatewayGrader:
    """Implements `assertions.base.Grader` on a (recorder-bound) `Gateway`."""

    def __init__(
        self,
        gateway: Gateway,
        repeat: int = 0,
        moderation_gateway: Gateway | None = None,
        classifier_gateway: Gateway | None = None,
    ) -> None:
        self._gw = gateway
        self._repeat = repeat
        #: moderation checks go here (a recorder-bound gateway whose calls are stored under
        #: the ``moderation`` role); None: the grading gateway
        self._mod_gw = moderation_gateway or gateway
        #: classifier checks go here (stored under the ``classifier`` role); None: the
        #: grading gateway
        self._cls_gw = classifier_gateway or gateway

    async def complete(self, provider: Any, messages: list[Message], **options: Any) -> Completion:
        gateway_id, config = _routable(self._gw, provider)
        req = self._gw.prepare(gateway_id, messages, repeat=self._repeat, **{**config, **options})
        result = await self._gw.aexecute(req)
        return result  # type: ignore[return-value]

    async def embed(self, provider: Any, inputs: list[str]) -> list[list[float]]:
        gateway_id, config = _routable(self._gw, provider)
        req = self._gw.prepare(
            gateway_id, list(inputs), kind="embed", repeat=self._repeat, **config
        )
        result = await self._gw.aexecute(req)
        return list(result.vectors)  # type: ignore[union-attr]

    async def moderate(self, provider: Any, text: str) -> Moderation:
        """One call to a moderation route (OpenAI ``moderations``), on the moderation gateway."""
        gateway_id, config = _routable(self._mod_gw, provider)
        req = self._mod_gw.prepare(
            gateway_id, text, kind="moderation", repeat=self._repeat, **config
        )
        result = await self._mod_gw.aexecute(req)
        return result  # type: ignore[return-value]

    async def moderate_chat(self, provider: Any, messages: list[Message]) -> Completion:
        """A chat call that moderates (Llama Guard), on the moderation gateway."""
        gateway_id, config = _routable(self._mod_gw, provider)
        req = self._mod_gw.prepare(gateway_id, messages, repeat=self._repeat, **config)
        result = await self._mod_gw.aexecute(req)
        return result  # type: ignore[return-value]

    async def classify(self, provider: Any, text: str) -> Classification:
        """One text-classification call (Hugging Face), on the classifier gateway.

        ``provider`` is already a gateway id (``huggingface:<model>``) or ``{id, config}``
        with one: the classifier assertion maps promptfoo's
        ``huggingface:text-classification:<model>`` itself."""
        if isinstance(provider, Mapping):
            gateway_id, config = str(provider.get("id")), dict(provider.get("config") or {})
        else:
            gateway_id, config = str(provider), {}
        req = self._cls_gw.prepare(gateway_id, text, kind="classify", repeat=self._repeat, **config)
        result = await self._cls_gw.aexecute(req)
        return result  # type: ignore[return-value]


#: The pseudo-provider a webhook exchange is recorded under.
WEBHOOK_PROVIDER = "webhook"


class RecordedWebhook:
    """The ``webhook`` assertion's POST through an item's snapshot recorder.

    ``resolver`` is the recorder's resolver (kind ``"webhook"``): record mode POSTs and stores
    the reply with the item's calls; replay answers from the snapshot and never connects. The
    stored request names the URL without its query string (which may hold a token; its values
    are secrets, scrubbed from everything stored).
    """

    def __init__(self, resolver: Any) -> None:
        self._resolve = resolver

    async def __call__(self, url: str, body: Any) -> tuple[int, str]:
        from urllib.parse import urlsplit

        from ..assertions.webhook import post_json
        from ..gateway.redact import url_secrets
        from ..gateway.types import PreparedRequest, RawResponse

        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        shown = f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"
        req = PreparedRequest(
            provider=WEBHOOK_PROVIDER,
            path=shown,
            body=body,
            headers={"content-type": "application/json"},
            adapter=WEBHOOK_PROVIDER,
            secrets=url_secrets(url, "webhook URL"),
        )

        async def send(_req: PreparedRequest) -> RawResponse:
            import time

            start = time.perf_counter()
            status, text = await post_json(url, body)
            return RawResponse(
                status=status,
                headers={},
                body=text,
                latency_ms=round((time.perf_counter() - start) * 1000, 3),
            )

        raw = await self._resolve(req, send)
        text = raw.body if isinstance(raw.body, str) else json.dumps(raw.body)
        return raw.status, text
