"""The syrupy glue: the only module of pytest-cfgateway that imports syrupy.

Layout: one YAML file per test at
``<test or config dir>/__snapshots__/<module or config stem>/<snapshot name>.yaml``
(`GatewaySnapshotExtension`), holding the test's `Cassette`.

Public functions (what the plugin calls)::

    recorded = load_recorded(snapshot)      # Cassette | None; reads, does not assert
    ...                                     # run the test through Recorder(...).resolve
    assert_cassette(snapshot, outcome.cassette)

``snapshot`` is syrupy's fixture (switched to our extension on first use), or, for tests
that do not take that fixture (config items), ``case_snapshot(request)``: the same
assertion built directly, which saves syrupy's registration of an unused amber one.
``load_recorded`` keeps the text it read for the comparison in ``assert_cassette``, so a
cassette is read once per test; names and paths are memoized.

``assert_cassette`` uses syrupy's normal assertion, so ``--snapshot-update``, unused
detection, ``--snapshot-warn-unused``, ``--snapshot-details`` and xdist reports work as for
any snapshot. A cassette with ``write=True`` (record/refresh) is written when it differs
from the file (comparison ignores latency and per-call ids, so an unchanged recording stays
byte-identical); with ``write=False`` (replay/live) it is only marked as used.

Names: syrupy drops ``\\ / ? * : | " < >`` and control characters from single-file names.
Here they become ``-`` instead (which keeps syrupy's identifier-prefix name relation intact,
so it never warns "Can not relate snapshot name"), and a name that had to be changed or
shortened (to at most 200 UTF-8 bytes) gets ``~<8 hex of its sha1>`` so two tests never
share a file.

Selection safety (beyond syrupy's own rules): a snapshot file that belongs to a collected
test which did not pass in this run (deselected by ``-k``/``-m``, skipped, failed, or not
reached after ``-x``), or to a test file/config that exists but was not collected
(``--ignore``), is never reported unused and never deleted.

Other syrupy extensions are told to skip ``.yaml`` (``--snapshot-ignore-file-extensions``,
set by `configure_syrupy`), because amber's discovery walks all of ``__snapshots__`` and
would otherwise take a protected cassette for an unknown file and delete it.

Private syrupy names used here (pinned by tests/integration/test_snapshot_contract.py):
``syrupy._syrupy`` (the running ``SnapshotSession``), ``SnapshotSession._collected_items``,
``._selected_items``, ``.report``, ``.ignore_file_extensions``, ``.pytest_session``,
``SnapshotReport.collected_items``/``selected_items``, ``ItemStatus``,
``SnapshotAssertion.update_snapshots``/``executions``/``num_executions``/``test_location``,
``PyTestLocation``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import syrupy
import yaml
from syrupy.data import SnapshotCollection, SnapshotCollections
from syrupy.extensions.base import AbstractSyrupyExtension
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode
from syrupy.location import PyTestLocation

from .._files import atomic_write_text
from ._options import CASSETTE_EXTENSION, configure_syrupy
from .cassette import Cassette, CassetteError, comparable, render_text
from .yamlio import load_yaml

if TYPE_CHECKING:
    from syrupy.assertion import SnapshotAssertion
    from syrupy.types import PropertyFilter, PropertyMatcher, SerializableData, SnapshotIndex

#: Longest file stem in UTF-8 bytes (before the hash suffix), well under the 255-byte limit.
MAX_STEM_BYTES = 200
_UNSAFE = frozenset('\\/?*:|"<>')


def safe_file_stem(name: str) -> str:
    """The file stem for a snapshot name (see the module docstring)."""
    cleaned = "".join(
        "-" if ch in _UNSAFE or ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 else ch for ch in name
    )
    encoded = cleaned.encode("utf-8")
    if cleaned == name and len(encoded) <= MAX_STEM_BYTES:
        return name
    if len(encoded) > MAX_STEM_BYTES:
        cleaned = encoded[:MAX_STEM_BYTES].decode("utf-8", errors="ignore")
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned}~{digest}"


class GatewaySnapshotExtension(SingleFileSnapshotExtension):
    """One YAML cassette per test; atomic writes; semantic comparison."""

    file_extension = CASSETTE_EXTENSION
    _write_mode = WriteMode.TEXT

    # --- naming (memoized: syrupy asks for the same names and paths many times per test,
    # and each answer costs several pathlib objects) ---------------------------------------

    @classmethod
    def get_snapshot_name(cls, *, test_location: PyTestLocation, index: SnapshotIndex = 0) -> str:
        key = ("name", cls, test_location.nodeid, test_location.testname, index)
        name = _memo.get(key)
        if name is None:
            base = AbstractSyrupyExtension.get_snapshot_name(
                test_location=test_location, index=index
            )
            name = _remember(key, safe_file_stem(base))
        return name

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        key = ("dir", cls, cls.snapshot_dirname, test_location.filepath)
        found = _memo.get(key)
        if found is None:
            found = _remember(key, super().dirname(test_location=test_location))
        return found

    @classmethod
    def discovery_dirname(cls, *, test_location: PyTestLocation) -> str:
        key = ("discovery", cls, cls.snapshot_dirname, test_location.filepath)
        found = _memo.get(key)
        if found is None:
            found = _remember(key, super().discovery_dirname(test_location=test_location))
        return found

    @classmethod
    def get_location(cls, *, test_location: PyTestLocation, index: SnapshotIndex) -> str:
        key = (
            "location",
            cls,
            cls.snapshot_dirname,
            test_location.filepath,
            test_location.nodeid,
            test_location.testname,
            index,
        )
        found = _memo.get(key)
        if found is None:
            found = _remember(key, super().get_location(test_location=test_location, index=index))
        return found

    @classmethod
    def matches_test_location(
        cls, *, test_location: PyTestLocation, snapshot_location: str
    ) -> bool:
        """Exact: the file is this test's own cassette."""
        return _same_path(snapshot_location, cls.get_location(test_location=test_location, index=0))

    # --- (de)serialization ---------------------------------------------------------------

    def serialize(
        self,
        data: SerializableData,
        *,
        exclude: PropertyFilter | None = None,
        include: PropertyFilter | None = None,
        matcher: PropertyMatcher | None = None,
    ) -> str:
        if isinstance(data, _Rendered):
            return data.text
        if isinstance(data, Cassette):
            return data.to_text()
        if isinstance(data, dict):
            return render_text(data, None)
        raise TypeError(
            f"GatewaySnapshotExtension stores a Cassette (or a dict), not {type(data).__name__}"
        )

    def matches(self, *, serialized_data: Any, snapshot_data: Any) -> bool:
        if serialized_data == snapshot_data:
            return True
        if not isinstance(serialized_data, str) or not isinstance(snapshot_data, str):
            return False
        try:
            new, old = load_yaml(serialized_data), load_yaml(snapshot_data)
        except yaml.YAMLError:
            return False  # an unreadable stored file does not match: it gets rewritten
        return bool(comparable(new) == comparable(old))

    @classmethod
    def write_snapshot_collection(
        cls, *, snapshot_collection: SnapshotCollection, name_order: dict[str, int] | None = None
    ) -> None:
        data = next(iter(snapshot_collection)).data
        if not isinstance(data, str):
            raise TypeError(f"cassette text expected, got {type(data).__name__}")
        atomic_write_text(Path(snapshot_collection.location), data)

    # --- selection safety ------------------------------------------------------------------

    def discover_snapshots(
        self, *, test_location: PyTestLocation, ignore_extensions: list[str] | None = None
    ) -> SnapshotCollections:
        """As syrupy's, but always sees cassettes (other extensions are told to skip
        ``.yaml``, see `hide_cassettes_from_other_extensions`)."""
        keep = [ext for ext in ignore_extensions or [] if ext != self.file_extension]
        return super().discover_snapshots(test_location=test_location, ignore_extensions=keep)

    def owns_snapshot_collection(self, *, filepath: str, test_location: PyTestLocation) -> bool:
        if not self._owns(filepath, test_location):
            return False
        return not _protected(filepath, final=False)

    def _owns(self, filepath: str, test_location: PyTestLocation) -> bool:
        """syrupy's rule for single files (a ``.yaml`` one level below the discovery
        directory), with a string comparison before the pathlib one."""
        if not self.is_snapshot_location(location=filepath):
            return False
        discovery = self.discovery_dirname(test_location=test_location)
        if os.path.dirname(os.path.dirname(filepath)) == discovery:
            return True  # what syrupy's Path comparison concludes too
        return super().owns_snapshot_collection(filepath=filepath, test_location=test_location)

    def read_snapshot_data_from_location(
        self, *, snapshot_location: str, snapshot_name: str, session_id: str
    ) -> SerializableData | None:
        """The text `load_recorded` read for this assertion (once), else the file's."""
        recalled = self._recalled
        if recalled is not None and recalled[0] == snapshot_location:
            self._recalled = None
            return recalled[1]
        return super().read_snapshot_data_from_location(
            snapshot_location=snapshot_location, snapshot_name=snapshot_name, session_id=session_id
        )

    #: ``(location, text or None)`` read by `load_recorded`, handed to syrupy's comparison
    #: in `assert_cassette` instead of reading the file a second time. The extension object
    #: belongs to one test's assertion, so this never crosses tests.
    _recalled: tuple[str, Any] | None = None

    def delete_snapshots(self, *, snapshot_location: str, snapshot_names: set[str]) -> None:
        if _protected(snapshot_location, final=True):
            return
        Path(snapshot_location).unlink(missing_ok=True)


def _same_path(a: str, b: str) -> bool:
    return _norm(a) == _norm(b)


#: Memoized names and paths (keys hold every input of the computation, including syrupy's
#: ``snapshot_dirname`` option); bounded, cleared when full.
_memo: dict[tuple[Any, ...], str] = {}
_MEMO_MAX = 200_000


def _remember(key: tuple[Any, ...], value: str) -> str:
    if len(_memo) >= _MEMO_MAX:
        _memo.clear()
    _memo[key] = value
    return value


# --- which files must be kept -------------------------------------------------------------

_PASSED = "passed"
_owner_cache: dict[int, tuple[Any, int, dict[str, str], dict[str, set[str]]]] = {}


def _session() -> Any:
    return getattr(syrupy, "_syrupy", None)


def _owners(key: Any, items: Collection[Any]) -> tuple[dict[str, str], dict[str, set[str]]]:
    """``{cassette path: nodeid}`` and ``{test dir: {collected file stems}}``, cached per
    session/report (collection does not change while tests run)."""
    cached = _owner_cache.get(id(key))
    if cached is not None and cached[0] is key and cached[1] == len(items):
        return cached[2], cached[3]
    by_path: dict[str, str] = {}
    stems: dict[str, set[str]] = {}
    for item in items:
        cassette, test_dir, basename = _item_paths(item)
        by_path[cassette] = str(item.nodeid)
        stems.setdefault(test_dir, set()).add(basename)
    _owner_cache.clear()
    _owner_cache[id(key)] = (key, len(items), by_path, stems)
    return by_path, stems


_item_cache: dict[tuple[str, str, str], tuple[str, str, str]] = {}


def _item_paths(item: Any) -> tuple[str, str, str]:
    """(normalized cassette path, normalized test dir, test file stem) of a collected item;
    memoized by node id, path and snapshot dir (the same items are asked about when the
    first test registers and again at the end of the session)."""
    key = (
        str(item.nodeid),
        str(getattr(item, "path", "")),
        str(GatewaySnapshotExtension.snapshot_dirname),
    )
    found = _item_cache.get(key)
    if found is None:
        location = PyTestLocation(item)
        path = GatewaySnapshotExtension.get_location(test_location=location, index=0)
        found = (_norm(path), _norm(Path(location.filepath).parent), location.basename)
        if len(_item_cache) >= _MEMO_MAX:
            _item_cache.clear()
        _item_cache[key] = found
    return found


def _norm(path: str | Path) -> str:
    return os.path.normcase(os.path.abspath(path))


def _protected(snapshot_location: str, *, final: bool) -> bool:
    """Whether a cassette file must be kept whatever syrupy's name matching says: it
    belongs to a collected test that did not pass, or to an existing test module/config
    that was not collected. ``final``: at deletion time (statuses from the merged report,
    which is also what the pytest-xdist controller has)."""
    session = _session()
    if session is None:
        return False
    report = getattr(session, "report", None) if final else None
    key: Any
    if report is not None:
        key, items, statuses = report, report.collected_items, report.selected_items
    else:
        key, statuses = session, session._selected_items
        items = session._collected_items.values()
    if not len(items):
        return False
    by_path, stems = _owners(key, items)
    path = _norm(snapshot_location)
    nodeid = by_path.get(path)
    if nodeid is not None:
        return getattr(statuses.get(nodeid), "value", None) != _PASSED
    file_dir = Path(path).parent  # <test dir>/__snapshots__/<stem>
    test_dir = file_dir.parent.parent
    if file_dir.name in stems.get(str(test_dir), set()):
        return False  # an orphan of a collected file: a removed test
    return any(p.is_file() for p in test_dir.glob(f"{_glob_escape(file_dir.name)}.*"))


def _glob_escape(text: str) -> str:
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in text)


# --- the API the plugin calls ---------------------------------------------------------------

_DERIVED_ATTR = "_cfgateway_assertion"


def _ours(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """The test's ``snapshot`` fixture switched to our extension (one per fixture object;
    kept on the fixture object itself, which is per test). An assertion built by
    `case_snapshot` already is ours."""
    if snapshot.extension_class is GatewaySnapshotExtension:
        return snapshot
    derived: SnapshotAssertion | None = getattr(snapshot, _DERIVED_ATTR, None)
    if derived is None:
        hide_cassettes_from_other_extensions(snapshot.session)
        derived = snapshot.use_extension(GatewaySnapshotExtension)
        setattr(snapshot, _DERIVED_ATTR, derived)
    return derived


def case_snapshot(request: Any) -> SnapshotAssertion:
    """A syrupy assertion for this test that stores its cassette with
    `GatewaySnapshotExtension`, built directly (what ``snapshot.use_extension(...)`` builds)
    for tests that do not take syrupy's ``snapshot`` fixture (config items): one syrupy
    registration per test instead of two. Pass it wherever the API takes ``snapshot``.
    Needs syrupy's session (raises ``RuntimeError`` when syrupy is disabled)."""
    from syrupy.assertion import SnapshotAssertion

    config = request.config
    session = getattr(config, "_syrupy", None)
    if session is None:
        raise RuntimeError(
            "syrupy is not active in this session; pytest-cfgateway stores snapshots with "
            "syrupy (do not disable it with -p no:syrupy)"
        )
    hide_cassettes_from_other_extensions(session)
    option = config.option
    return SnapshotAssertion(
        update_snapshots=bool(option.update_snapshots),
        update_new_snapshots_only=bool(getattr(option, "update_new_snapshots_only", False)),
        extension_class=GatewaySnapshotExtension,
        test_location=PyTestLocation(request.node),
        session=session,
    )


def hide_cassettes_from_other_extensions(session: Any) -> None:
    """`configure_syrupy` for a session that has already started (used lazily by the API)."""
    config = session.pytest_session.config
    configure_syrupy(config)
    session.ignore_file_extensions = config.option.ignore_file_extensions


def snapshot_path(snapshot: SnapshotAssertion) -> Path:
    """Where this test's cassette lives."""
    snap = _ours(snapshot)
    return Path(GatewaySnapshotExtension.get_location(test_location=snap.test_location, index=0))


def stored_cassette(item: Any) -> Cassette | None:
    """The stored cassette of a collected item, read without its ``snapshot`` fixture (the
    scheduler uses it before items run, to call only what record mode will need)."""
    location = PyTestLocation(item)
    path = Path(GatewaySnapshotExtension.get_location(test_location=location, index=0))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise _not_text(str(path), exc) from None
    return Cassette.from_text(text, source=str(path))


def _not_text(location: str, exc: UnicodeDecodeError) -> CassetteError:
    return CassetteError(
        f"{location}: not a cassette: the file is not UTF-8 text (byte {exc.start} cannot be "
        "decoded; a binary file or another encoding); delete it and re-record the test with "
        "--cf-mode record"
    )


def load_recorded(snapshot: SnapshotAssertion) -> Cassette | None:
    """Read this test's stored cassette (None if there is none) without asserting.

    Raises `CassetteError` (naming the file and the fix) when the file is not a valid
    cassette.
    """
    snap = _ours(snapshot)
    extension = snap.extension
    location = extension.get_location(test_location=snap.test_location, index=0)
    name = extension.get_snapshot_name(test_location=snap.test_location, index=0)
    try:
        text = extension.read_snapshot_data_from_location(
            snapshot_location=location, snapshot_name=name, session_id=str(id(snap.session))
        )
    except UnicodeDecodeError as exc:
        raise _not_text(location, exc) from None
    if isinstance(extension, GatewaySnapshotExtension):
        extension._recalled = (location, text)  # syrupy's comparison reuses it
    if text is None:
        return None
    if not isinstance(text, str):
        raise CassetteError(f"{location}: expected text, got {type(text).__name__}")
    return Cassette.from_text(text, source=location)


def assert_cassette(snapshot: SnapshotAssertion, cassette: Cassette) -> None:
    """Assert ``cassette`` against the test's snapshot (see the module docstring).

    Raises the underlying error (e.g. `SecretLeakError`, an ``OSError`` from the write) or
    an ``AssertionError`` with syrupy's diff when a snapshot that must not be rewritten
    differs.
    """
    snap = _ours(snapshot)
    if snap.num_executions:
        raise RuntimeError("assert_cassette was called twice for one test; a test has one cassette")
    text = cassette.to_text()  # scrub + leak scan before syrupy sees it
    update = snap.update_snapshots
    snap.update_snapshots = bool(cassette.write) or update
    try:
        ok = snap == _Rendered(text)
    finally:
        snap.update_snapshots = update
    if ok:
        return
    result = snap.executions[snap.num_executions - 1]
    if result.exception is not None:
        raise result.exception
    diff = "\n".join(snap.get_assert_diff())
    raise AssertionError(f"stored cassette differs from this run's:\n{diff}")


class _Rendered:
    """Cassette text already scrubbed and scanned, handed to syrupy as is."""

    def __init__(self, text: str) -> None:
        self.text = text


__all__ = [
    "GatewaySnapshotExtension",
    "assert_cassette",
    "atomic_write_text",
    "case_snapshot",
    "configure_syrupy",
    "load_recorded",
    "safe_file_stem",
    "snapshot_path",
]
