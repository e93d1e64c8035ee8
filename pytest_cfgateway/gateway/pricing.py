"""Cost estimates in USD from reported usage and a small price table kept as data.

The table (`prices.json`) lists USD per 1M input/output tokens per provider slug and model.
A model matches exactly, else by the longest listed prefix followed by ``-``, ``@``, ``:`` or
``/`` (so dated snapshots such as ``claude-sonnet-4-5-20250929`` match ``claude-sonnet-4-5``,
while ``gpt-5.2`` never borrows the price of ``gpt-5``). ``customCost`` (USD per token, as
the gateway's ``cf-aig-custom-cost``) overrides the table. An unknown model costs ``None``,
never 0. A gateway cache hit costs 0.0, as Cloudflare logs cost 0 for cached answers.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from .types import Usage

#: Providers priced with another provider's table (same models, same list prices).
PRICE_ALIASES = {"azure-openai": "openai"}
_BOUNDARY = "-@:/"


@functools.cache
def price_table() -> dict[str, dict[str, tuple[float, float]]]:
    """The bundled table: ``{slug: {model: (usd_per_1m_in, usd_per_1m_out)}}``."""
    raw = json.loads(resources.files(__package__).joinpath("prices.json").read_text("utf-8"))
    return {
        slug: {model: (float(p[0]), float(p[1])) for model, p in models.items()}
        for slug, models in raw.items()
        if not slug.startswith("_")
    }


def lookup_price(
    provider: str, model: str, table: Mapping[str, Mapping[str, tuple[float, float]]] | None = None
) -> tuple[float, float] | None:
    """(USD per 1M input tokens, per 1M output tokens) for a model, or None when unknown.

    ``compat`` models (``openai/gpt-4o``) are looked up under their provider prefix.
    """
    table = price_table() if table is None else table
    if provider == "compat" and "/" in model:
        provider, model = model.split("/", 1)
    models = table.get(PRICE_ALIASES.get(provider, provider))
    if not models or not model:
        return None
    if model in models:
        return models[model]
    best: str | None = None
    for name in models:
        if (
            model.startswith(name)
            and model[len(name)] in _BOUNDARY
            and (best is None or len(name) > len(best))
        ):
            best = name
    return models[best] if best is not None else None


def estimate_cost(
    provider: str,
    models: tuple[str | None, ...] | str,
    usage: Usage,
    *,
    custom_cost: Mapping[str, Any] | None = None,
    cache_status: str | None = None,
) -> float | None:
    """Estimated USD for one call, or None when no price is known or no usage was reported.

    ``models`` may list several names to try in order (e.g. the model the provider reported,
    then the one requested). A ``HIT`` cache status costs 0.0.
    """
    if (cache_status or "").upper() == "HIT":
        return 0.0
    if usage.prompt_tokens == 0 and usage.completion_tokens == 0:
        return None
    if custom_cost:
        return round(
            usage.prompt_tokens * float(custom_cost.get("per_token_in", 0.0))
            + usage.completion_tokens * float(custom_cost.get("per_token_out", 0.0)),
            12,
        )
    names = (models,) if isinstance(models, str) else models
    for name in names:
        price = lookup_price(provider, name) if name else None
        if price is not None:
            return round(
                (usage.prompt_tokens * price[0] + usage.completion_tokens * price[1]) / 1_000_000,
                12,
            )
    return None
