"""syrupy option tweaks applied at ``pytest_configure`` (kept apart from extension.py so that
plugin start-up does not import the snapshot machinery)."""

from __future__ import annotations

from typing import Any

#: The file extension of our cassettes (GatewaySnapshotExtension.file_extension).
CASSETTE_EXTENSION = "yaml"


def configure_syrupy(config: Any) -> None:
    """Tell syrupy's other extensions (amber, whose discovery walks all of ``__snapshots__``)
    to skip ``.yaml`` files, so a cassette that must be kept is never taken for an unknown
    file and deleted. Our extension still discovers them."""
    option = config.option
    exts = list(getattr(option, "ignore_file_extensions", None) or [])
    if CASSETTE_EXTENSION not in exts:
        exts.append(CASSETTE_EXTENSION)
        option.ignore_file_extensions = exts
