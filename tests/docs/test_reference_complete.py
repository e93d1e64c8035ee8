"""The reference pages list everything the code defines: options, ini keys, assertion types,
provider slugs and their key env vars, the public API, hooks and exception classes. Adding one
without documenting it fails here."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).parents[2] / "docs"


def page(name: str) -> str:
    return (DOCS / "reference" / name).read_text(encoding="utf-8")


def code_spans(text: str) -> set[str]:
    return set(re.findall(r"`([^`\n]+)`", text))


def test_every_option_and_ini_key_is_in_the_reference() -> None:
    from pytest_cfgateway import plugin

    text = page("configuration.md")
    for name, _ in plugin._OPTIONS:
        assert re.search(rf"`{re.escape(name)}[ `]", text), f"{name} missing from configuration.md"
    spans = code_spans(text)
    for name, *_ in plugin._INI:
        assert name in spans, f"ini key {name} missing from configuration.md"


def test_options_in_the_reference_exist() -> None:
    from pytest_cfgateway import plugin

    registered = {name for name, _ in plugin._OPTIONS}
    documented = set(re.findall(r"`(--cf-[a-z-]+)", page("configuration.md")))
    assert documented <= registered, documented - registered


def test_every_assertion_type_is_in_the_reference() -> None:
    from pytest_cfgateway.assertions.registry import AssertionRegistry

    spans = code_spans(page("assertions.md"))
    missing = sorted(AssertionRegistry.with_builtins().base_names() - spans)
    assert missing == []


def test_every_provider_slug_and_key_env_var_is_in_the_reference() -> None:
    from pytest_cfgateway.gateway.adapters.registry import builtin_adapters

    spans = code_spans(page("providers.md"))
    for slug, adapter in builtin_adapters().items():
        assert slug in spans, f"provider {slug} missing from providers.md"
        for var in adapter.key_env_vars:
            assert var in spans, f"{var} ({slug}) missing from providers.md"


def test_provider_config_keys_are_in_the_reference() -> None:
    from pytest_cfgateway.gateway.routes import PROVIDER_CONFIG_KEYS

    spans = code_spans(page("providers.md"))
    # eventId is internal (set by the plugin per call), not a user key
    assert sorted(PROVIDER_CONFIG_KEYS - spans - {"eventId"}) == []


def test_public_api_hooks_and_errors_are_in_the_reference() -> None:
    import pytest_cfgateway
    from pytest_cfgateway import hookspecs
    from pytest_cfgateway.gateway import errors

    api = page("api.md")
    for name in pytest_cfgateway.__all__:
        if not name.endswith("Error"):
            assert f"`{name}`" in api, f"{name} missing from api.md"
    for name in dir(hookspecs):
        if name.startswith("pytest_cfgateway_"):
            assert name in api, f"hook {name} missing from api.md"
    err = code_spans(page("errors.md"))
    classes = [
        n for n, v in vars(errors).items() if isinstance(v, type) and issubclass(v, Exception)
    ]
    assert classes and sorted(set(classes) - err) == []


def test_gateway_error_codes_the_client_maps_are_explained() -> None:
    source = (Path(__file__).parents[2] / "pytest_cfgateway/gateway/errors.py").read_text()
    handled = set(re.findall(r"\b(20\d\d)\b", source))
    assert {"2001", "2003", "2009"} <= handled
    # the first column of the codes table: "| 2041, 2045 | 429 | ..."
    explained = set(
        re.findall(
            r"\b(20\d\d)\b", " ".join(re.findall(r"^\| ([\d, ]+) \|", page("errors.md"), re.M))
        )
    )
    assert sorted(handled - explained) == []


def test_fixtures_are_in_the_reference() -> None:
    text = page("api.md")
    for name in ("cf_gateway", "cf_assert", "cf_gateway_emulator"):
        assert f"`{name}`" in text
