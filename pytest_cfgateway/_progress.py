"""The live progress line while scheduled gateway calls run, in pytest's style.

- In a terminal (not under ``CI``): a status drawn after pytest's own dots, redrawn a few
  times a second from a thread while the calls run, and erased before pytest writes again
  (``pytest_runtest_logstart`` / ``logreport``, run first). It is drawn with save/restore
  cursor, so pytest's idea of the current line is untouched.
- Otherwise (a pipe, a CI log): a plain line every `PLAIN_INTERVAL` seconds, written between
  tests by pytest's thread.
- ``-q``: nothing.

Serial runs count the scheduled calls themselves: done/total, in flight, retries, cache
hits, spend, ETA. Under xdist the calls run on the workers, so the controller counts the
items whose reports arrived (with their live calls, cache hits and spend); in-flight calls
and retries are not known there and are left out.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest

TTY_INTERVAL = 0.25
PLAIN_INTERVAL = 10.0
_KEY = pytest.StashKey["Progress"]()


def _usd(value: float) -> str:
    return f"${value:.4f}" if value >= 0.01 or value == 0 else f"${value:.6f}"


def _clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


class Progress:
    def __init__(self, session: pytest.Session, tr: Any, state: Any, prefetcher: Any) -> None:
        self.session = session
        self.config = session.config
        self.tr = tr
        self.state = state
        self.prefetcher = prefetcher  # None on the xdist controller
        self.tty = bool(getattr(tr, "isatty", False)) and not os.environ.get("CI")
        self.started = time.monotonic()
        self.last_plain = self.started
        self.items_done = 0
        self.live = 0
        self.cache_hits = 0
        self.spend = 0.0
        self._lock = threading.Lock()
        self._drawn = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # lifecycle --------------------------------------------------------------------------

    @classmethod
    def start(cls, session: pytest.Session, state: Any, prefetcher: Any) -> Progress | None:
        config = session.config
        tr = config.pluginmanager.get_plugin("terminalreporter")
        if tr is None or config.get_verbosity() < 0 or hasattr(config, "workerinput"):
            return None
        from .modes import Mode

        controller = getattr(config.option, "dist", "no") != "no" and bool(
            getattr(config.option, "tx", None) or getattr(config.option, "numprocesses", None)
        )
        if controller:
            if state.settings.mode is Mode.REPLAY:
                return None
            prefetcher = None
        elif prefetcher is None or not prefetcher.scheduled:
            return None
        progress = cls(session, tr, state, prefetcher)
        config.stash[_KEY] = progress
        config.pluginmanager.register(progress, "cfgateway-progress")
        if progress.tty:
            progress.draw()
            progress._thread = threading.Thread(
                target=progress._run, name="cfgateway-progress", daemon=True
            )
            progress._thread.start()
        return progress

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.clear()
        if self.config.pluginmanager.is_registered(self):
            self.config.pluginmanager.unregister(self)
        if _KEY in self.config.stash:
            del self.config.stash[_KEY]

    def _run(self) -> None:
        while not self._stop.wait(TTY_INTERVAL):
            self.draw()

    # pytest hooks (this object is a plugin while the run loop runs) ---------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self.clear()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.clear()
        data = getattr(report, "cfgateway", None)
        if isinstance(data, dict):
            self.live += int(data.get("live") or 0)
            self.cache_hits += int(data.get("cache_hits") or 0)
            self.spend += float(data.get("spend") or 0.0)
        if report.when == "teardown":
            self.items_done += 1
        if not self.tty and time.monotonic() - self.last_plain >= PLAIN_INTERVAL:
            self.last_plain = time.monotonic()
            self.tr.write_line(f"cfgateway progress: {self.text()}")

    # the line ---------------------------------------------------------------------------

    def text(self) -> str:
        elapsed = time.monotonic() - self.started
        p = self.prefetcher
        if p is not None:
            done, total = p.done, p.scheduled
            retries = sum(getattr(gw, "retries", 0) for gw in self.state.gateway_clients())
            parts = [
                f"{done}/{total} calls",
                f"{p.in_flight} in flight",
                f"{retries} retries",
                f"{p.cache_hits} cached",
                f"{_usd(self.state.budget.spent)} spent",
            ]
        else:
            done = self.items_done
            total = int(getattr(self.session, "testscollected", 0) or 0)  # set by xdist
            parts = [
                f"{done}/{total or '?'} items",
                f"{self.live} live calls",
                f"{self.cache_hits} cached",
                f"{_usd(self.spend)} spent",
            ]
        if 0 < done < total:
            parts.append(f"ETA {_clock(elapsed / done * (total - done))}")
        elif done and done >= total:
            parts.append(f"all answered in {_clock(elapsed)}")
        return " · ".join(parts)

    def draw(self) -> None:
        """The status after what pytest wrote on the current line (TTY only)."""
        tw = self.tr._tw
        out = getattr(tw, "_file", None)
        if out is None:
            return
        with self._lock:
            if self._stop.is_set() and self._thread is not None:
                return
            room = tw.fullwidth - tw.width_of_current_line - 4
            if room < 24:
                return
            text = self.text()
            if len(text) > room:
                text = text[: room - 1] + "…"
            out.write(f"\x1b7  \x1b[2m[{text}]\x1b[0m\x1b8")
            out.flush()
            self._drawn = True

    def clear(self) -> None:
        with self._lock:
            if self._drawn:
                out = self.tr._tw._file
                out.write("\x1b[K")
                out.flush()
                self._drawn = False
