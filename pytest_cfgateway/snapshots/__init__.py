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

from ..modes import Mode
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
    configure_syrupy,
    load_recorded,
    snapshot_path,
    stored_cassette,
)
from .store import Drift, Outcome, Recorder, is_final_status
from .summary import Summary, describe_response

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
