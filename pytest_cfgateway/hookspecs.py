"""Hooks that conftest.py files and installed plugins implement to extend pytest-cfgateway.

They are called through the hook proxy of each config's or test module's path, so a
conftest.py applies to the configs and tests below it. The built-in assertions and providers
register through these same hooks (see ``plugin.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.hookspec
def pytest_cfgateway_register_assertions(register: Callable[[str, Any], None]) -> None:
    """Register custom assertion types.

    Call ``register(name, fn)`` once per type, where ``fn(output, value, context)`` returns
    what a promptfoo ``python`` assertion may return: a bool, a number (the score), or a
    dict / ``GradingResult`` with ``pass``, ``score`` and ``reason``. ``fn`` may be async.
    The type is then usable in promptfoo configs (also as ``not-<name>``) and in
    ``cf_assert``. Registering a different function under an existing name is an error;
    registering the same function again is a no-op.
    """


@pytest.hookspec
def pytest_cfgateway_register_providers(register: Callable[[str, Any], None]) -> None:
    """Register custom gateway providers.

    Call ``register(slug, adapter)`` where ``adapter`` implements the protocol of
    ``pytest_cfgateway.adapters.Adapter`` (``route``, ``auth_headers``, ``body``, ``parse``
    ...). The slug becomes usable as ``{slug}:{model}`` and ``cloudflare-gateway:{slug}:{model}``
    and is sent to ``{gateway}/{slug}/{route}``. Duplicate slugs are an error; registering
    the same adapter again is a no-op.
    """
