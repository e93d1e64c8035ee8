"""promptfoo config -> EvalCases. Knows nothing of pytest or the network.

``load_config`` reads and expands a promptfooconfig.yaml (user code runs only where it
decides the rows: test generators, beforeAll hooks);
``render_prompt`` / ``resolve_vars`` / ``render_value`` / ``parse_chat`` are for run time.
"""

from .cases import AssertionSpec, EvalCase, PromptSpec, ProviderSpec
from .compact import parse_compact
from .errors import ConfigError, ConfigWarning
from .load import LoadedConfig, load_config
from .render import (
    missing_registers,
    parse_chat,
    render_prompt,
    render_template,
    render_value,
    resolve_vars,
)

__all__ = [
    "AssertionSpec",
    "ConfigError",
    "ConfigWarning",
    "EvalCase",
    "LoadedConfig",
    "PromptSpec",
    "ProviderSpec",
    "load_config",
    "missing_registers",
    "parse_chat",
    "parse_compact",
    "render_prompt",
    "render_template",
    "render_value",
    "resolve_vars",
]
