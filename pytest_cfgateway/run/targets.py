"""Which files are promptfoo configs to collect, and what pytest is asked to collect.

``--cf-config PATH`` is a collection argument like a positional path:

- with positional paths, pytest collects those and the named configs;
- alone, pytest collects only the named configs (``promptfoo eval -c`` semantics: neither
  ``testpaths`` nor the current directory is collected);
- ini ``cf_config`` is a default, like ``testpaths``: used only when no positional path and no
  ``--cf-config`` is given, and then collected beside ``testpaths``.

A config given any of these ways is collected wherever it is (even outside the collected
directories). `is_config` is a pure function of the path, so pytest may visit a directory
more than once (it does when a file argument sits in a directory another argument collects)
and still find the config every time; pytest's own de-duplication of arguments keeps each
config collected once.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .settings import Settings

CONFIG_NAMES = ("promptfooconfig.yaml", "promptfooconfig.yml")
_KEY = pytest.StashKey[frozenset[Path]]()


def select_configs(config: pytest.Config, settings: Settings) -> None:
    """Rewrite ``config.args`` so that pytest collects the configs asked for (see above), and
    remember them as explicit configs for `is_config`. Runs in ``pytest_configure``."""
    base = Path(config.invocation_params.dir)
    cli = [Path(p) for p in config.option.cf_config or []]
    positional = getattr(config, "args_source", None) == pytest.Config.ArgsSource.ARGS
    # when the user named what to run, ini cf_config (a default, like testpaths) is left out
    wanted = cli if positional or cli else list(settings.configs)
    explicit: set[Path] = set()
    for arg in config.args if positional else ():
        # a promptfooconfig.yaml named as a path (or a node id in it) is a config even
        # without --cf-config, so `pytest promptfooconfig.yaml::case` works
        named = base / _path_part(arg)
        if named.name in CONFIG_NAMES and named.is_file():
            explicit.add(named.resolve())
    resolved_configs: list[Path] = []
    for path in wanted:
        resolved = (base / path).resolve()
        if not resolved.is_file():
            raise pytest.UsageError(
                f"--cf-config / cf_config: no such file: {path} (relative paths are from "
                f"{'the rootdir' if path.is_absolute() else base})"
            )
        explicit.add(resolved)
        if resolved not in resolved_configs:
            resolved_configs.append(resolved)
    config.stash[_KEY] = frozenset(explicit)
    if cli and not positional:
        config.args[:] = [str(p) for p in resolved_configs]  # the configs alone
        return
    for resolved in resolved_configs:
        if not any(_covers(base / _path_part(a), resolved) for a in config.args):
            config.args.append(str(resolved))


def is_config(config: pytest.Config, settings: Settings, path: Path) -> bool:
    """Is this file a promptfoo config to collect? (Pure: the same answer every visit.)"""
    if path.suffix not in (".yaml", ".yml"):
        return False
    if settings.autocollect and path.name in CONFIG_NAMES:
        return True
    return path.resolve() in config.stash.get(_KEY, frozenset())


def _path_part(arg: str) -> str:
    return arg.split("::", 1)[0]


def _covers(arg_path: Path, config_path: Path) -> bool:
    """Does collecting ``arg_path`` reach ``config_path`` (the same file, or a directory
    above it)?"""
    try:
        resolved = arg_path.resolve()
    except OSError:
        return False
    if resolved == config_path:
        return True
    if not resolved.is_dir():
        return False
    return os.path.commonpath([resolved, config_path]) == str(resolved)
