"""The public adapter protocol, for providers registered with
``pytest_cfgateway_register_providers``.

Subclass `Adapter` (or `OpenAIChatAdapter` for an OpenAI-compatible API) and register an
instance under the gateway's provider slug::

    from pytest_cfgateway.adapters import OpenAIChatAdapter

    class Together(OpenAIChatAdapter):
        slug = "custom-together"
        key_env_vars = ("TOGETHER_API_KEY",)

    def pytest_cfgateway_register_providers(register):
        register("custom-together", Together())
"""

from .gateway.adapters.base import Adapter
from .gateway.adapters.openai_chat import OpenAIChatAdapter, OpenAIChatOnlyAdapter
from .gateway.types import ChatCall, ParsedReply, RawResponse, Usage

__all__ = [
    "Adapter",
    "ChatCall",
    "OpenAIChatAdapter",
    "OpenAIChatOnlyAdapter",
    "ParsedReply",
    "RawResponse",
    "Usage",
]
