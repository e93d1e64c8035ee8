"""promptfoo ``extensions`` on the pytest side: the run's store of beforeAll results, and
the beforeEach hook of an item (afterEach / afterAll: ``after_hooks.py``).

**beforeAll runs once per config per test run.** It changes the rows, so it runs when the
config is collected; under xdist every worker collects, and workers must collect the same
items (or xdist stops the run), while user code may have side effects or answer differently
each time. So the first process to need a config's suite runs its beforeAll hooks and keeps
the result in the run's `HookStore`; every other process reads it from there:

- a serial run (or the xdist controller) keeps it in memory;
- xdist workers share a directory the controller makes and hands them in ``workerinput``:
  the first worker creates ``<key>.claim`` (``O_EXCL``), runs the hooks and writes
  ``<key>.json`` atomically; the others wait for that file (a claim whose process died is
  taken over). A hook's failure is stored too, so every worker reports the same
  collection error. The controller removes the directory at the end of the run.

The stored suite is also what afterAll hooks get (``after_hooks.py``, on the controller).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .state import RunState

#: the key of ``workerinput`` that carries the store's directory to xdist workers
WORKERINPUT_KEY = "cfgateway_hooks"
_POLL_S = 0.02
_KEY = pytest.StashKey["HookStore"]()
_BEFORE_EACH_DONE = pytest.StashKey[bool]()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class HookStore:
    """Results computed once per test run, by key (see the module docstring)."""

    def __init__(self, directory: Path | None, *, owns: bool) -> None:
        self.directory = directory
        self._owns = owns
        self._memory: dict[str, dict[str, Any]] = {}

    @classmethod
    def of(cls, config: pytest.Config) -> HookStore:
        store = config.stash.get(_KEY, None)
        if store is None:
            workerinput = getattr(config, "workerinput", None) or {}
            path = workerinput.get(WORKERINPUT_KEY)
            store = cls(Path(path) if path else None, owns=False)
            config.stash[_KEY] = store
        return store

    def hand_to(self, workerinput: dict[str, Any]) -> None:
        """xdist controller: share a directory with the workers (made on the first call)."""
        if self.directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="cfgateway-hooks-"))
            self._owns = True
        workerinput[WORKERINPUT_KEY] = str(self.directory)

    @staticmethod
    def remove_of(config: pytest.Config) -> None:
        """Delete the directory the controller made for its workers (if it made one)."""
        store = config.stash.get(_KEY, None)
        if store is not None and store._owns and store.directory is not None:
            shutil.rmtree(store.directory, ignore_errors=True)

    def _file(self, key: str, suffix: str) -> Path:
        assert self.directory is not None
        return self.directory / (hashlib.sha1(key.encode()).hexdigest() + suffix)

    def peek(self, key: str) -> dict[str, Any] | None:
        """The stored result for ``key`` (from this process or a worker), or None."""
        if key in self._memory:
            return self._memory[key]
        if self.directory is None:
            return None
        try:
            data: dict[str, Any] = json.loads(self._file(key, ".json").read_text("utf-8"))
        except (OSError, ValueError):
            return None
        return data

    def has_results(self) -> bool:
        """Whether any result is stored, by this process or a worker (a cheap check that
        spares a run without beforeAll hooks the lookups, and their imports)."""
        if self._memory:
            return True
        if self.directory is None:
            return False
        try:
            return any(name.endswith(".json") for name in os.listdir(self.directory))
        except OSError:
            return False

    def once(self, key: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``compute()``'s result for ``key``, computed by one process of the run."""
        found = self.peek(key)
        if found is not None:
            return found
        if self.directory is None:
            self._memory[key] = result = compute()
            return result
        claim, done = self._file(key, ".claim"), self._file(key, ".json")
        while True:
            try:
                fd = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:
                found = self._wait(key, claim)
                if found is not None:
                    return found
                continue  # its claimant died without a result: try to claim it again
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            result = compute()
            tmp = done.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(result, ensure_ascii=False), "utf-8")
            os.replace(tmp, done)
            self._memory[key] = result
            return result

    def _wait(self, key: str, claim: Path) -> dict[str, Any] | None:
        while True:
            found = self.peek(key)
            if found is not None:
                return found
            try:
                owner = int(claim.read_text() or "0")
            except (OSError, ValueError):
                owner = 0
            if owner and not _alive(owner) and self.peek(key) is None:
                with contextlib.suppress(OSError):
                    claim.unlink()
                return None
            if not claim.exists():
                return None
            time.sleep(_POLL_S)


def run_once(config: pytest.Config) -> Callable[[str, Callable[[], dict[str, Any]]], Any]:
    """The `config.extensions.RunOnce` of this test run (for ``load_config``)."""
    return HookStore.of(config).once


def before_each(item: Any) -> None:
    """promptfoo's beforeEach hooks for a config item, once, before it is rendered: they get
    the item's test (defaultTest merged in) and may change its vars, assertions, options,
    metadata and threshold. Raises `ExtensionHookError` / `ConfigError` naming the hook."""
    case = item.case
    if not case.extensions or item.stash.get(_BEFORE_EACH_DONE, False):
        return
    item.stash[_BEFORE_EACH_DONE] = True
    from ..config.extensions import apply_test, case_test_json, needs, run_hook

    if not needs(case.extensions, "beforeEach"):
        return
    runtime = RunState.get(item.config)
    assert runtime is not None
    sent = case_test_json(
        case.description, case.vars, case.asserts, case.options, case.metadata, case.threshold
    )
    timeout_ms = (case.evaluate_options or {}).get("timeoutMs") or 0
    after = run_hook(case.extensions, "beforeEach", {"test": sent}, timeout_ms / 1000 or None)
    assertions, _ = runtime.registries(item.path, item.ihook)
    item.case = apply_test(case, after["test"], sent, assertions.custom_names(), runtime.env)
