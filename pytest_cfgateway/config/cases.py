"""The plain data a promptfoo config expands into. Knows nothing of pytest or the network.

One `EvalCase` per (test x var combination x prompt x provider x repeat): the collector turns
each into one pytest item, the runner renders and calls it, the assertion engine grades it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal

ProviderRoute = Literal["gateway", "echo", "unsupported"]


@dataclasses.dataclass(frozen=True)
class ProviderSpec:
    """One entry of ``providers`` (or a test's ``provider`` override)."""

    id: str  # as written in the config: "openai:chat:gpt-4o", "cloudflare-gateway:groq:x", "echo"
    label: str  # display label: ``label`` or ``id``
    config: dict[str, Any]  # provider config (gateway keys and model options together)
    route: ProviderRoute
    #: ``{slug}:{model}`` for `Gateway.complete` when route == "gateway"; None otherwise.
    gateway_id: str | None = None
    transform: str | None = None  # provider-level output transform (JavaScript, `python:`, file)
    prompts: tuple[str, ...] = ()  # provider-level prompt filter
    delay_ms: int = 0
    skip_reason: str | None = None  # when route == "unsupported"
    #: "embed" for promptfoo embedding ids (``openai:embedding:{model}``), else "chat"
    kind: Literal["chat", "embed"] = "chat"


@dataclasses.dataclass(frozen=True)
class PromptSpec:
    """One prompt template: text, or a JSON/YAML chat-message array kept as text."""

    raw: str
    label: str
    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: ``file://x.py:fn`` prompt functions run at render time (user code; never at collection).
    function: str | None = None
    base_dir: Path | None = None
    #: the prompt's part of item ids: its explicit label, else its ``id`` (when it names the
    #: prompt rather than holding its text), else its file name; None: the matrix uses ``p<n>``.
    #: Never prompt text, so editing a prompt's body does not rename items.
    name: str | None = None


@dataclasses.dataclass(frozen=True)
class AssertionSpec:
    """One entry of ``assert`` (``type`` keeps its ``not-`` prefix)."""

    type: str
    value: Any = None
    threshold: float | None = None
    weight: float = 1.0
    metric: str | None = None
    provider: Any = None  # grader override: id string, {id, config}, or {text, embedding}
    rubric_prompt: Any = None
    transform: str | None = None
    context_transform: str | None = None
    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    children: tuple[AssertionSpec, ...] = ()  # assert-set members
    key_path: str = ""  # e.g. "tests[2].assert[0]" for error messages


@dataclasses.dataclass(frozen=True)
class Extension:
    """One entry of a config's ``extensions`` (see ``config/extensions.py``)."""

    ref: str  # as written: "file://hooks.py:extension_hook"
    path: str  # absolute path of the file
    function: str | None  # the function named after the last ':' (None: the default)
    lang: str  # "python" | "javascript"

    @property
    def hook(self) -> str | None:
        """The one hook this extension runs for (``file://x.js:beforeAll``), else None."""
        names = ("beforeAll", "beforeEach", "afterEach", "afterAll")
        return self.function if self.function in names else None

    def runs_for(self, hook_name: str) -> bool:
        return self.hook is None or self.hook == hook_name

    @property
    def label(self) -> str:
        name = Path(self.path).name
        return f"{name}:{self.function}" if self.function else name


@dataclasses.dataclass(frozen=True)
class EvalCase:
    """One row cell of the eval matrix = one pytest item."""

    config_path: Path  # the promptfooconfig.yaml this came from
    base_dir: Path  # directory that file:// paths resolve against
    name: str  # unique item name within the config: "description[label-...]"
    description: str
    vars: dict[str, Any]
    prompt: PromptSpec
    provider: ProviderSpec
    asserts: tuple[AssertionSpec, ...]
    threshold: float | None = None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: test ``options`` after defaultTest merge: transform, provider (grader), rubricPrompt,
    #: prefix, suffix, disableVarExpansion, factuality, ...
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    test_index: int = 0
    combo_index: int = 0
    repeat_index: int = 0
    #: Identifies the row (test x var combination x repeat) across prompts and providers,
    #: for select-best and max-score.
    row_key: str = ""
    provider_output: Any = None  # test ``providerOutput``: grade this instead of calling
    config_env: dict[str, str] = dataclasses.field(default_factory=dict)
    evaluate_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    key_path: str = ""  # "tests[3]" (or "scenarios[0].tests[1]") for messages
    line: int | None = None  # line of the test in the config, where known
    #: the file the test was read from when it is not the config (``file://tests.yaml``);
    #: ``key_path`` and ``line`` then refer to that file
    source_path: Path | None = None
    #: the config's ``nunjucksFilters``: filter name -> absolute path of its JavaScript file
    nunjucks_filters: dict[str, str] = dataclasses.field(default_factory=dict)
    #: every ``options.storeOutputAs`` name of the config -> index of the first test storing
    #: it: outputs earlier items store for later items' vars (promptfoo's registers)
    register_names: dict[str, int] = dataclasses.field(default_factory=dict)
    #: the config's ``extensions`` (beforeEach / afterEach hooks run around the item)
    extensions: tuple[Extension, ...] = ()
