"""Secret scrubbing: every value that came from a key, token or secret env var is replaced by
``<secret:NAME>`` before anything is fingerprinted or written."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

#: Env var names whose values count as secrets (with at least MIN_SECRET_LEN characters).
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
MIN_SECRET_LEN = 8


class Secrets:
    """A set of named secret values. Longest values are replaced first."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._by_value: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None
        if items:
            self.update(items)

    def add(self, name: str, value: str | None) -> None:
        if value and len(value) >= MIN_SECRET_LEN and value not in self._by_value:
            self._by_value[value] = name
            self._pattern = None

    def update(self, items: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        for name, value in pairs:
            self.add(name, value)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Secrets:
        """Values of env vars whose names look secret (KEY, TOKEN, SECRET, PASSWORD)."""
        env = os.environ if env is None else env
        return cls({k: v for k, v in env.items() if SECRET_NAME.search(k)})

    def __contains__(self, value: object) -> bool:
        return value in self._by_value

    def __len__(self) -> int:
        return len(self._by_value)

    def __bool__(self) -> bool:
        return bool(self._by_value)

    def merged(self, other: Mapping[str, str] | Secrets | None) -> Secrets:
        out = Secrets()
        out._by_value = dict(self._by_value)
        if isinstance(other, Secrets):
            for value, name in other._by_value.items():
                out.add(name, value)
        elif other:
            out.update(other)
        return out

    def _regex(self) -> re.Pattern[str] | None:
        if self._pattern is None and self._by_value:
            values = sorted(self._by_value, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in values))
        return self._pattern

    def scrub_text(self, text: str) -> str:
        rx = self._regex()
        if rx is None:
            return text
        return rx.sub(lambda m: f"<secret:{self._by_value[m.group(0)]}>", text)

    def scrub(self, data: Any) -> Any:
        """Deep copy of ``data`` with every secret in every string (keys too) replaced."""
        if not self._by_value:
            return data
        if isinstance(data, str):
            return self.scrub_text(data)
        if isinstance(data, Mapping):
            return {self.scrub(k): self.scrub(v) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [self.scrub(v) for v in data]
        return data

    def find_in(self, text: str) -> str | None:
        """The name of a secret that occurs in ``text``, or None (the pre-write scan)."""
        rx = self._regex()
        if rx is None:
            return None
        m = rx.search(text)
        return self._by_value[m.group(0)] if m else None
