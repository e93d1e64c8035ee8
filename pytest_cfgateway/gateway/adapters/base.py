"""The adapter protocol every provider (built-in or registered by a plugin) implements.

An adapter is a small, stateless object that knows one provider's wire format:

- ``route(call)``: the path after the gateway slug and the query string;
- ``auth_headers(key, call)``: the provider's own auth header(s) for a key that was found;
- ``extra_headers(call)``: headers the provider needs whatever the auth (``anthropic-version``);
- ``body(call)``: the JSON body, with model options mapped to the provider's field names;
- ``parse(response, call)``: text, usage, finish reason, tool calls from a 2xx reply;
- ``poll_path(response, call)``: for providers that answer asynchronously (Replicate), the
  path to GET next, or None when the reply is final;
- ``embed_route``/``embed_body``/``parse_embeddings`` for providers with an embeddings route;
- ``moderation_route``/``moderation_body``/``parse_moderation`` for a moderation route
  (OpenAI's ``moderations``);
- ``classify_route``/``classify_body``/``parse_classification`` for a text-classification
  route (Hugging Face's Inference API);
- streaming (``call.stream``): ``stream_refusal(call)`` says why a call cannot stream (None
  when it can); ``route``/``body`` then ask for the provider's event stream, and
  ``stream_assembler(call)`` turns the events back into the non-streamed reply ``parse`` reads.

Adapters never do I/O and never see the gateway ids or the gateway token.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..errors import GatewayConfigError, GatewayProviderError
from ..streaming import StreamAssembler
from ..types import ChatCall, ParsedReply, RawResponse


class Adapter:
    """Base class with the defaults most providers share."""

    slug: ClassVar[str] = ""
    #: Env vars read for the provider key, in order; the first is the one named in errors.
    key_env_vars: ClassVar[tuple[str, ...]] = ()
    #: Does the provider have a ``model`` the gateway can price? (Used by the pricing table.)
    supports_embeddings: ClassVar[bool] = False

    def key_envs(self, call: ChatCall) -> tuple[str, ...]:
        """Env vars to read for this call's provider key, in order (default: ``key_env_vars``).

        Adapters whose key depends on the call override it (``compat`` reads the key of the
        provider named in the model prefix).
        """
        return self.key_env_vars

    def route(self, call: ChatCall) -> tuple[str, dict[str, str]]:
        raise NotImplementedError

    def auth_headers(self, key: str, call: ChatCall) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def extra_headers(self, call: ChatCall) -> dict[str, str]:
        return {}

    def body(self, call: ChatCall) -> Any:
        raise NotImplementedError

    def parse(self, response: RawResponse, call: ChatCall) -> ParsedReply:
        raise NotImplementedError

    def poll_path(self, response: RawResponse, call: ChatCall) -> str | None:
        return None

    def stream_refusal(self, call: ChatCall) -> str | None:
        """Why ``stream: true`` cannot be honoured for this call (None: it streams)."""
        return "this provider's API has no event stream that pytest-cfgateway reads"

    def stream_assembler(self, call: ChatCall) -> StreamAssembler:
        """A fresh assembler for this call's event stream."""
        raise GatewayConfigError(
            f"{self.slug}: streaming is not supported: {self.stream_refusal(call)}",
            provider=self.slug,
        )

    def embed_route(self, call: ChatCall) -> tuple[str, dict[str, str]]:
        raise GatewayConfigError(
            f"provider {self.slug!r} has no embeddings route in pytest-cfgateway; "
            "use an OpenAI embedding model such as openai:text-embedding-3-large",
            provider=self.slug,
        )

    def embed_body(self, call: ChatCall) -> Any:
        raise GatewayConfigError(
            f"provider {self.slug!r} has no embeddings route", provider=self.slug
        )

    def parse_embeddings(self, response: RawResponse, call: ChatCall) -> ParsedReply:
        raise GatewayConfigError(
            f"provider {self.slug!r} has no embeddings route", provider=self.slug
        )

    def moderation_route(self, call: ChatCall) -> tuple[str, dict[str, str]]:
        raise GatewayConfigError(
            f"provider {self.slug!r} has no moderation route in pytest-cfgateway; use "
            "openai:moderation:omni-moderation-latest",
            provider=self.slug,
        )

    def moderation_body(self, call: ChatCall) -> Any:
        raise GatewayConfigError(
            f"provider {self.slug!r} has no moderation route", provider=self.slug
        )

    def parse_moderation(self, response: RawResponse, call: ChatCall) -> ParsedReply:
        raise GatewayConfigError(
            f"provider {self.slug!r} has no moderation route", provider=self.slug
        )

    def classify_route(self, call: ChatCall) -> tuple[str, dict[str, str]]:
        raise GatewayConfigError(
            f"provider {self.slug!r} has no text-classification route in pytest-cfgateway; "
            "use huggingface:text-classification:<model>",
            provider=self.slug,
        )

    def classify_body(self, call: ChatCall) -> Any:
        raise GatewayConfigError(
            f"provider {self.slug!r} has no text-classification route", provider=self.slug
        )

    def parse_classification(self, response: RawResponse, call: ChatCall) -> ParsedReply:
        raise GatewayConfigError(
            f"provider {self.slug!r} has no text-classification route", provider=self.slug
        )

    # helpers shared by subclasses -------------------------------------------------------

    def bad_reply(self, response: RawResponse, what: str) -> GatewayProviderError:
        """An error for a 2xx reply that does not have the provider's documented shape."""
        return GatewayProviderError(
            f"{self.slug}: unexpected reply shape ({what}); "
            f"body starts: {str(response.body)[:200]}",
            status=response.status,
            provider=self.slug,
            body=response.body,
        )
