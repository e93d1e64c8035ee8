"""Record and replay through syrupy; the only package that decides whether a call goes out.

The plugin's side, for one test (``snapshot`` is syrupy's fixture)::

    from pytest_cfgateway.snapshots import Recorder, assert_cassette, load_recorded

    recorder = Recorder(mode="replay", recorded=load_recorded(snapshot), secrets=secrets,
                        nodeid=item.nodeid, record_hint="pytest --cf-mode record '...'")
    gw = gateway.with_resolver(recorder.resolve)       # grader: recorder.resolver("grader")
    ...                                                # calls
    outcome = recorder.finish(completed=True)          # False when the test raised
    if outcome.cassette is not None:
        assert_cassette(snapshot, outcome.cassette)    # writes (record/refresh) or marks used
    outcome.drift, outcome.replayed_count, outcome.live_count, outcome.cache_hits

Modules: `store` (modes, `Recorder`), `cassette` (the stored form), `yamlio` (the YAML
dialect), `summary` (text/usage of a reply), `explain` (diffs), `extension` (syrupy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..modes import Mode
    from ._options import configure_syrupy
    from .cassette import (
        REQUEST_HEADER_ALLOWLIST,
        Cassette,
        CassetteError,
        Exchange,
        SecretLeakError,
    )
    from .extension import (
        GatewaySnapshotExtension,
        assert_cassette,
        case_snapshot,
        load_recorded,
        snapshot_path,
        stored_cassette,
    )
    from .store import Drift, Outcome, Recorder, is_final_status
    from .summary import Summary, describe_response

#: where each public name lives; imported on first use, so the plugin's start-up stays cheap
_WHERE = {
    "Mode": "..modes",
    "REQUEST_HEADER_ALLOWLIST": ".cassette",
    "Cassette": ".cassette",
    "CassetteError": ".cassette",
    "Exchange": ".cassette",
    "SecretLeakError": ".cassette",
    "GatewaySnapshotExtension": ".extension",
    "assert_cassette": ".extension",
    "case_snapshot": ".extension",
    "load_recorded": ".extension",
    "snapshot_path": ".extension",
    "stored_cassette": ".extension",
    "configure_syrupy": "._options",
    "Drift": ".store",
    "Outcome": ".store",
    "Recorder": ".store",
    "is_final_status": ".store",
    "Summary": ".summary",
    "describe_response": ".summary",
}

__all__ = [
    "REQUEST_HEADER_ALLOWLIST",
    "Cassette",
    "CassetteError",
    "Drift",
    "Exchange",
    "GatewaySnapshotExtension",
    "Mode",
    "Outcome",
    "Recorder",
    "SecretLeakError",
    "Summary",
    "assert_cassette",
    "case_snapshot",
    "configure_syrupy",
    "describe_response",
    "is_final_status",
    "load_recorded",
    "snapshot_path",
    "stored_cassette",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
