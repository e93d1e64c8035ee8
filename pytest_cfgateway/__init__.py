"""pytest-cfgateway: LLM evals as pytest tests through Cloudflare AI Gateway.

The public API. Names are resolved lazily (module ``__getattr__``) so that importing the
plugin costs next to nothing for suites that never use it: httpx and the client load on first
use of `Gateway`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .assertions.base import GradingResult
    from .gateway.client import Gateway
    from .gateway.errors import (
        BudgetExceededError,
        GatewayAuthError,
        GatewayConfigError,
        GatewayError,
        GatewayProviderError,
        GatewayRateLimitError,
        GatewayTimeoutError,
        NotRecordedError,
    )
    from .gateway.types import Classification, Completion, Embeddings, Moderation, Usage

__all__ = [
    "BudgetExceededError",
    "Classification",
    "Completion",
    "Embeddings",
    "Gateway",
    "GatewayAuthError",
    "GatewayConfigError",
    "GatewayError",
    "GatewayProviderError",
    "GatewayRateLimitError",
    "GatewayTimeoutError",
    "GradingResult",
    "Moderation",
    "NotRecordedError",
    "Usage",
    "__version__",
]

_LAZY = {
    "Gateway": ".gateway.client",
    "Classification": ".gateway.types",
    "Completion": ".gateway.types",
    "Embeddings": ".gateway.types",
    "Moderation": ".gateway.types",
    "Usage": ".gateway.types",
    "GradingResult": ".assertions.base",
    **{
        name: ".gateway.errors"
        for name in (
            "BudgetExceededError",
            "GatewayAuthError",
            "GatewayConfigError",
            "GatewayError",
            "GatewayProviderError",
            "GatewayRateLimitError",
            "GatewayTimeoutError",
            "NotRecordedError",
        )
    },
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pytest-cfgateway")
    except PackageNotFoundError:
        return "0.0.0"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _version()
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
