"""Which assertion types exist: the built-in handlers plus the ones plugins register.

Built-in handler modules each export ``HANDLERS: dict[str, BuiltinHandler]`` keyed by base
type name. `BUILTIN_TYPES` names the module of each type, so a registry knows every built-in
name without importing anything; a handler's module is imported the first time a test uses
one of its types (a config of ``contains`` checks never imports jsonschema, regex, the SQL
parser...). A unit test keeps `BUILTIN_TYPES` equal to the modules' ``HANDLERS``.
Third-party types come through the ``pytest_cfgateway_register_assertions``
hook as ``register(name, fn)`` where ``fn(output, value, context)`` returns what a promptfoo
``python`` assertion may return (bool, number, dict or `GradingResult`; may be async). Every
registered type can be negated with ``not-``.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Mapping
from typing import Any

from .base import BuiltinHandler, CustomAssertionFn

#: Modules under ``pytest_cfgateway.assertions`` that export ``HANDLERS``.
BUILTIN_MODULES: tuple[str, ...] = (
    "text",
    "structured",  # also carries markup (HTML/XML) and sql
    "similarity",
    "metrics",
    "tools",
    "webhook",
    "scripts",
    "graded",
    "conversation",
    "moderation",
    "classifier",
)

#: Built-in type -> the module (of `BUILTIN_MODULES`) whose ``HANDLERS`` holds it.
BUILTIN_TYPES: dict[str, str] = {
    **dict.fromkeys(
        (
            "equals",
            "contains",
            "icontains",
            "contains-any",
            "icontains-any",
            "contains-all",
            "icontains-all",
            "starts-with",
            "regex",
            "word-count",
            "is-refusal",
        ),
        "text",
    ),
    **dict.fromkeys(
        (
            "is-json",
            "contains-json",
            "is-html",
            "contains-html",
            "is-xml",
            "contains-xml",
            "is-sql",
            "contains-sql",
        ),
        "structured",
    ),
    **dict.fromkeys(("levenshtein", "rouge-n", "bleu", "gleu"), "similarity"),
    **dict.fromkeys(
        ("latency", "ttft", "cost", "perplexity", "perplexity-score", "finish-reason"), "metrics"
    ),
    **dict.fromkeys(
        (
            "is-valid-openai-tools-call",
            "is-valid-openai-function-call",
            "is-valid-function-call",
            "tool-call-f1",
        ),
        "tools",
    ),
    "webhook": "webhook",
    **dict.fromkeys(("python", "javascript"), "scripts"),
    **dict.fromkeys(
        (
            "llm-rubric",
            "model-graded-closedqa",
            "factuality",
            "model-graded-factuality",
            "g-eval",
            "answer-relevance",
            "context-faithfulness",
            "context-recall",
            "context-relevance",
            "similar",
            "similar:cosine",
            "similar:dot",
            "similar:euclidean",
        ),
        "graded",
    ),
    "conversation-relevance": "conversation",
    "moderation": "moderation",
    "classifier": "classifier",
}

#: Types the engine handles itself (they cannot be negated).
COMPARISON_TYPES = frozenset({"select-best", "max-score"})
SPECIAL_TYPES = frozenset({"assert-set"}) | COMPARISON_TYPES

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$")

_builtin_cache: dict[str, tuple[BuiltinHandler, str]] | None = None
_builtin_lock = threading.Lock()


def _describe(fn: Any) -> str:
    module = getattr(fn, "__module__", None) or "?"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return f"{module}.{name}"


def _load_builtins() -> dict[str, tuple[BuiltinHandler, str]]:
    """Every built-in handler, importing every handler module (what `BUILTIN_TYPES` is
    checked against)."""
    global _builtin_cache
    with _builtin_lock:
        if _builtin_cache is None:
            found: dict[str, tuple[BuiltinHandler, str]] = {}
            for short in BUILTIN_MODULES:
                module = importlib.import_module(f"{__package__}.{short}")
                handlers: Mapping[str, BuiltinHandler] = module.HANDLERS
                for name, fn in handlers.items():
                    if name in found and found[name][0] is not fn:
                        raise RuntimeError(
                            f"built-in assertion type {name!r} is defined twice: by "
                            f"{found[name][1]} and by {module.__name__}"
                        )
                    found[name] = (fn, module.__name__)
            _builtin_cache = found
        return dict(_builtin_cache)


def _builtin_handler(name: str) -> BuiltinHandler:
    """The built-in handler of ``name`` (a key of `BUILTIN_TYPES`), importing its module."""
    module = importlib.import_module(f"{__package__}.{BUILTIN_TYPES[name]}")
    handler: BuiltinHandler = module.HANDLERS[name]
    return handler


class _NotLoaded:
    """A built-in handler whose module is not imported yet."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<built-in, not loaded yet>"


_NOT_LOADED: Any = _NotLoaded()


class AssertionRegistry:
    """Assertion type name -> handler. One per config/test path (hooks are path-scoped)."""

    def __init__(self) -> None:
        self._builtins: dict[str, BuiltinHandler] = {}
        self._custom: dict[str, CustomAssertionFn] = {}

    @classmethod
    def with_builtins(cls) -> AssertionRegistry:
        """A registry holding every built-in assertion type (each handler's module is
        imported when the type is first used)."""
        reg = cls()
        reg._builtins = dict.fromkeys(BUILTIN_TYPES, _NOT_LOADED)
        return reg

    def _builtin_of(self, name: str) -> BuiltinHandler | None:
        fn = self._builtins.get(name)
        if fn is _NOT_LOADED:
            fn = self._builtins[name] = _builtin_handler(name)
        return fn

    def add_builtin(self, name: str, fn: BuiltinHandler) -> None:
        """Add a handler that follows the built-in contract (``fn(AssertionCall)``)."""
        self._check_new(name, fn, self._builtin_of(name))
        self._builtins[name] = fn

    def register(self, name: str, fn: CustomAssertionFn) -> None:
        """Register a custom type; ``fn(output, value, context)`` (sync or async).

        Registering the same function under the same name again is a no-op; a different
        function under a taken name (built-in or custom) is a ValueError naming both.
        """
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(
                f"assertion type name {name!r} is invalid: use letters, digits and "
                "'-', '_', '.', ':' or '/' (e.g. 'my-check')"
            )
        if name.startswith("not-"):
            raise ValueError(
                f"cannot register {name!r}: the 'not-' prefix is added automatically; "
                f"register {name[4:]!r} and use {name!r} in configs"
            )
        if name in SPECIAL_TYPES:
            raise ValueError(f"cannot register {name!r}: it is a reserved assertion type")
        if not callable(fn):
            raise ValueError(f"register({name!r}, fn): fn must be callable, got {fn!r}")
        existing: Any = self._custom.get(name)
        if existing is None:
            existing = self._builtin_of(name)
        self._check_new(name, fn, existing)
        self._custom[name] = fn

    @staticmethod
    def _check_new(name: str, fn: Any, existing: Any) -> None:
        if existing is None or existing is fn or existing == fn:
            return  # the same function (or the same bound method) again: a no-op
        raise ValueError(
            f"assertion type {name!r} is already registered by {_describe(existing)}; "
            f"cannot register {_describe(fn)} under the same name. Rename one of them."
        )

    def builtin(self, base_type: str) -> BuiltinHandler | None:
        """The built-in handler for a base type, if any."""
        return self._builtin_of(base_type)

    def custom(self, base_type: str) -> CustomAssertionFn | None:
        """The registered custom function for a base type, if any."""
        return self._custom.get(base_type)

    def custom_names(self) -> set[str]:
        """Types registered through the plugin hook (not built in)."""
        return set(self._custom)

    def base_names(self) -> set[str]:
        """Every base type name (built-in, custom and the special ones)."""
        return set(self._builtins) | set(self._custom) | set(SPECIAL_TYPES)

    def names(self) -> set[str]:
        """Every valid ``type`` value, including the ``not-`` forms (for config validation)."""
        bases = set(self._builtins) | set(self._custom)
        return bases | {f"not-{b}" for b in bases} | set(SPECIAL_TYPES)

    def knows(self, type_name: str) -> bool:
        """True when ``type_name`` (with or without ``not-``) is a valid assertion type."""
        return type_name in self.names()

    def copy(self) -> AssertionRegistry:
        """An independent copy (e.g. to add a conftest's custom types for one path)."""
        other = AssertionRegistry()
        other._builtins = dict(self._builtins)
        other._custom = dict(self._custom)
        return other
