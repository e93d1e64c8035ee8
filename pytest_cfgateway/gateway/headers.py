"""``cf-aig-*`` request headers built from provider config keys (validated, lower-case names)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from .errors import GatewayConfigError

MAX_METADATA_ENTRIES = 5
BACKOFF_KINDS = ("constant", "linear", "exponential")


def _truthy(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", ""):
        return value.strip().lower() in ("true", "1")
    if value is None:
        return False
    raise GatewayConfigError(f"provider config {key} must be true or false, got {value!r}")


def _number(value: Any, key: str, *, low: float, high: float | None, unit: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise GatewayConfigError(f"provider config {key} must be a number ({unit}), got {value!r}")
    try:
        num = float(value)
    except ValueError:
        raise GatewayConfigError(
            f"provider config {key} must be a number ({unit}), got {value!r}"
        ) from None
    if math.isnan(num) or num < low or (high is not None and num > high):
        limit = f"{low:g}..{high:g}" if high is not None else f">= {low:g}"
        raise GatewayConfigError(f"provider config {key} must be {limit} {unit}, got {value!r}")
    return int(num)


def metadata_header(metadata: Any) -> str:
    """``cf-aig-metadata`` JSON: at most 5 entries with string/number/boolean values."""
    if not isinstance(metadata, Mapping):
        raise GatewayConfigError(
            f"provider config metadata must be a mapping of up to {MAX_METADATA_ENTRIES} "
            f"scalar entries, got {type(metadata).__name__}"
        )
    if len(metadata) > MAX_METADATA_ENTRIES:
        raise GatewayConfigError(
            f"provider config metadata has {len(metadata)} entries; Cloudflare AI Gateway keeps "
            f"at most {MAX_METADATA_ENTRIES} (and drops the rest silently): remove "
            f"{len(metadata) - MAX_METADATA_ENTRIES}"
        )
    for key, value in metadata.items():
        if value is None or not isinstance(value, str | int | float | bool):
            raise GatewayConfigError(
                f"provider config metadata[{key!r}] must be a string, number or boolean, got "
                f"{type(value).__name__} (the gateway drops the whole metadata otherwise)"
            )
    return json.dumps(dict(metadata), separators=(",", ":"), ensure_ascii=False)


def custom_cost(value: Any) -> dict[str, float]:
    """Validated ``customCost``: ``{per_token_in, per_token_out}`` in USD per token."""
    if not isinstance(value, Mapping) or not {"per_token_in", "per_token_out"} <= set(value):
        raise GatewayConfigError(
            "provider config customCost must be a mapping with per_token_in and per_token_out "
            "(USD per token, e.g. {per_token_in: 0.000001, per_token_out: 0.000002}), "
            f"got {value!r}"
        )
    out: dict[str, float] = {}
    for key, num in value.items():
        if isinstance(num, bool) or not isinstance(num, int | float) or num < 0:
            raise GatewayConfigError(
                f"provider config customCost.{key} must be a non-negative number, got {num!r}"
            )
        out[str(key)] = float(num)
    return out


def control_headers(config: Mapping[str, Any], *, cache_ttl: int | None = None) -> dict[str, str]:
    """The ``cf-aig-*`` controls a provider config asks for (not auth, not the cache key).

    ``cache_ttl`` is the Gateway-wide default TTL; a config ``cacheTtl`` wins.
    """
    out: dict[str, str] = {}
    ttl = config.get("cacheTtl", cache_ttl)
    if ttl is not None:
        out["cf-aig-cache-ttl"] = str(_number(ttl, "cacheTtl", low=0, high=2_592_000, unit="s"))
    if _truthy(config.get("skipCache"), "skipCache"):
        out["cf-aig-skip-cache"] = "true"
    if config.get("cacheKey") not in (None, ""):
        out["cf-aig-cache-key"] = str(config["cacheKey"])
    if config.get("metadata") is not None:
        out["cf-aig-metadata"] = metadata_header(config["metadata"])
    if config.get("requestTimeout") is not None:
        out["cf-aig-request-timeout"] = str(
            _number(config["requestTimeout"], "requestTimeout", low=1, high=None, unit="ms")
        )
    if config.get("maxAttempts") is not None:
        out["cf-aig-max-attempts"] = str(
            _number(config["maxAttempts"], "maxAttempts", low=1, high=5, unit="attempts")
        )
    if config.get("retryDelay") is not None:
        out["cf-aig-retry-delay"] = str(
            _number(config["retryDelay"], "retryDelay", low=0, high=5000, unit="ms")
        )
    if config.get("backoff") is not None:
        if config["backoff"] not in BACKOFF_KINDS:
            raise GatewayConfigError(
                f"provider config backoff must be one of {', '.join(BACKOFF_KINDS)}, "
                f"got {config['backoff']!r}"
            )
        out["cf-aig-backoff"] = str(config["backoff"])
    if config.get("customCost") is not None:
        out["cf-aig-custom-cost"] = json.dumps(
            custom_cost(config["customCost"]), separators=(",", ":")
        )
    if config.get("eventId") not in (None, ""):
        out["cf-aig-event-id"] = str(config["eventId"])
    if config.get("byokAlias") not in (None, ""):
        out["cf-aig-byok-alias"] = str(config["byokAlias"])
    return out


def user_headers(value: Any) -> dict[str, str]:
    """Provider config ``headers`` as lower-case name -> string value."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise GatewayConfigError(
            f"provider config headers must be a mapping of header name to value, got {value!r}"
        )
    out: dict[str, str] = {}
    for name, val in value.items():
        if not isinstance(name, str) or not name or val is None or isinstance(val, dict | list):
            raise GatewayConfigError(
                f"provider config headers[{name!r}] must be a string header value, got {val!r}"
            )
        out[name.lower()] = str(val).lower() if isinstance(val, bool) else str(val)
    return out


def lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    """Header mapping with lower-case names (later duplicates win)."""
    return {k.lower(): v for k, v in headers.items()}
