"""Cost estimates: the bundled price table, prefixes, customCost, unknown models, cache hits."""

from __future__ import annotations

import pytest

from pytest_cfgateway.gateway.pricing import estimate_cost, lookup_price, price_table
from pytest_cfgateway.gateway.types import Usage


def test_table_has_models_across_providers() -> None:
    table = price_table()
    assert {"openai", "anthropic", "google-ai-studio", "groq", "workers-ai"} <= set(table)
    assert sum(len(m) for m in table.values()) >= 12
    for models in table.values():
        for price_in, price_out in models.values():
            assert price_in >= 0 and price_out >= 0


@pytest.mark.parametrize(
    ("provider", "model", "expected"),
    [
        ("openai", "gpt-4o", (2.5, 10.0)),
        ("openai", "gpt-4o-mini-2024-07-18", (0.15, 0.6)),  # longest prefix wins
        ("openai", "gpt-4o-2024-08-06", (2.5, 10.0)),
        ("anthropic", "claude-sonnet-4-5-20250929", (3.0, 15.0)),
        ("azure-openai", "gpt-4o", (2.5, 10.0)),
        ("compat", "openai/gpt-4o-mini", (0.15, 0.6)),
        ("openai", "gpt-4o5", None),  # a prefix must end at a boundary
        ("openai", "gpt-5.9", None),  # never borrows gpt-5's price
        ("openai", "no-such-model", None),
        ("huggingface", "gpt2", None),
    ],
)
def test_lookup_price(provider: str, model: str, expected: tuple[float, float] | None) -> None:
    assert lookup_price(provider, model) == expected


def test_estimate_cost_from_table() -> None:
    cost = estimate_cost("openai", "gpt-4o", Usage(1_000_000, 100_000, 1_100_000))
    assert cost == pytest.approx(2.5 + 1.0)


def test_estimate_tries_reported_then_requested_model() -> None:
    usage = Usage(1000, 1000, 2000)
    cost = estimate_cost("openai", ("unknown-snapshot", "gpt-4o-mini"), usage)
    assert cost == pytest.approx((1000 * 0.15 + 1000 * 0.6) / 1e6)


def test_custom_cost_overrides_table() -> None:
    custom = {"per_token_in": 0.001, "per_token_out": 0.002}
    assert estimate_cost("openai", "gpt-4o", Usage(10, 5, 15), custom_cost=custom) == pytest.approx(
        0.02
    )
    assert estimate_cost("huggingface", "x", Usage(10, 0, 10), custom_cost=custom) == pytest.approx(
        0.01
    )


def test_unknown_model_is_none_not_zero() -> None:
    assert estimate_cost("openai", "mystery", Usage(10, 10, 20)) is None


def test_no_usage_reported_is_none() -> None:
    assert estimate_cost("openai", "gpt-4o", Usage()) is None


def test_cache_hit_costs_zero() -> None:
    assert estimate_cost("openai", "gpt-4o", Usage(10, 10, 20), cache_status="HIT") == 0.0
    assert estimate_cost("openai", "gpt-4o", Usage(10, 10, 20), cache_status="MISS") is not None
