"""``--cf-mode``: the one definition shared by the settings and the snapshot layer."""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """Where answers come from and whether snapshots are written."""

    REPLAY = "replay"  # answers from snapshots; the plugin's transport never reaches the network
    RECORD = "record"  # call what is missing or changed, write it
    REFRESH = "refresh"  # call everything, rewrite
    LIVE = "live"  # call everything, never write, report drift

    @property
    def calls_network(self) -> bool:
        return self is not Mode.REPLAY

    @property
    def writes(self) -> bool:
        return self in (Mode.RECORD, Mode.REFRESH)

    @property
    def skips_cache(self) -> bool:
        """refresh and live send ``cf-aig-skip-cache: true`` so the cache cannot mask drift."""
        return self in (Mode.REFRESH, Mode.LIVE)
