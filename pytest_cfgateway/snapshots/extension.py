"""The syrupy glue: the only module of pytest-cfgateway that imports syrupy.

Layout: one YAML file per test at
``<test or config dir>/__snapshots__/<module or config file name>/<snapshot name>.yaml``
(`GatewaySnapshotExtension`), holding the test's `Cassette`. The folder is named by the
whole file name (``evals.yaml/``, ``evals.yml/``, ``checks.py/``), so two sources with one
stem never share it.

Migration (snapshot format 2): when a test's file is missing, `load_recorded` returns a pool
of the older files of its source (the folder named by the stem, used up to format 1, and
the current folder's other files), searched by fingerprint (`legacy_pool`). The cassette
the test builds from them is written under its new name by record/refresh or by replay with
``--snapshot-update``, and the old files it came from are removed: no network call, and
nothing to re-record. Without ``--snapshot-update`` replay reads them and writes nothing.

Public functions (what the plugin calls)::

    recorded = load_recorded(snapshot)      # Cassette | None; reads, does not assert
    ...                                     # run the test through Recorder(...).resolve
    assert_cassette(snapshot, outcome.cassette)

``snapshot`` is syrupy's fixture (switched to our extension on first use), or, for tests
that do not take that fixture (config items), ``case_snapshot(item)``: the same
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

import contextlib
import dataclasses
import hashlib
import os
import re
import time
import weakref
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
from .cassette import CASSETTE_VERSION, Cassette, CassetteError, comparable, render_text
from .yamlio import load_yaml

if TYPE_CHECKING:
    from syrupy.assertion import SnapshotAssertion
    from syrupy.types import (
        PropertyFilter,
        PropertyMatcher,
        SerializableData,
        SerializedData,
        SnapshotIndex,
    )

#: Longest file stem in UTF-8 bytes (before the hash suffix), well under the 255-byte limit.
MAX_STEM_BYTES = 200
#: the characters `safe_file_stem` replaces: ``\\ / ? * : | " < >`` and control characters
_UNSAFE_RE = re.compile('[\\\\/?*:|"<>\x00-\x1f\x7f-\x9f]')


def safe_file_stem(name: str) -> str:
    """The file stem for a snapshot name (see the module docstring)."""
    if _UNSAFE_RE.search(name) is None and len(name) <= MAX_STEM_BYTES // 4:
        return name  # the usual name: nothing to replace, short even in 4-byte UTF-8
    cleaned = _UNSAFE_RE.sub("-", name)
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
        """``<test dir>/__snapshots__/<file name>``: the whole name, so ``evals.yaml`` and
        ``evals.yml`` (or ``checks.yaml`` and ``checks.py``) get folders of their own."""
        key = ("dir", cls, cls.snapshot_dirname, test_location.filepath)
        found = _memo.get(key)
        if found is None:
            base = AbstractSyrupyExtension.dirname(test_location=test_location)
            found = _remember(key, os.path.join(base, Path(test_location.filepath).name))
        return found

    @classmethod
    def legacy_dirname(cls, *, test_location: PyTestLocation) -> str:
        """Where format-1 snapshots of this source lived (named by its stem)."""
        key = ("legacy", cls, cls.snapshot_dirname, test_location.filepath)
        found = _memo.get(key)
        if found is None:
            base = AbstractSyrupyExtension.dirname(test_location=test_location)
            found = _remember(key, os.path.join(base, test_location.basename))
        return found

    @classmethod
    def discovery_dirname(cls, *, test_location: PyTestLocation) -> str:
        key = ("discovery", cls, cls.snapshot_dirname, test_location.filepath)
        found = _memo.get(key)
        if found is None:
            # the shared __snapshots__ folder: orphans of removed sources are found too
            found = _remember(key, AbstractSyrupyExtension.dirname(test_location=test_location))
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
            # syrupy's `str(Path(dirname).joinpath(name + ext))`, without the pathlib objects:
            # both parts are already normalized (dirname comes from pathlib, and the name
            # is a `safe_file_stem`, which has no separator)
            name = cls.get_file_basename(test_location=test_location, index=index)
            found = _remember(
                key,
                os.path.join(
                    cls.dirname(test_location=test_location), f"{name}.{cls.file_extension}"
                ),
            )
        return found

    @classmethod
    def matches_test_location(
        cls, *, test_location: PyTestLocation, snapshot_location: str
    ) -> bool:
        """Exact: the file is this test's own cassette."""
        own = cls.get_location(test_location=test_location, index=0)
        return snapshot_location == own or _same_path(snapshot_location, own)

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
    def write_snapshot(
        cls,
        *,
        snapshot_location: str,
        snapshots: list[tuple[SerializedData, PyTestLocation, SnapshotIndex]],
        name_order: dict[str, int] | None = None,
    ) -> None:
        """One test's cassette, written directly. syrupy's own (documented as final) builds
        a `SnapshotCollection`, checks that the names relate to the test (warning when they
        do not: ours always do, as `get_location` is built from the test) and makes the
        folder (two system calls, each handing pytest's thread's GIL to the calls' thread)
        before `write_snapshot_collection`; `atomic_write_text` makes a missing folder
        itself. Anything else (several snapshots, another location) goes through syrupy's."""
        if len(snapshots) == 1:
            data, test_location, index = snapshots[0]
            if snapshot_location == cls.get_location(test_location=test_location, index=index):
                cls._write_cassette(snapshot_location, data)
                return
        super().write_snapshot(
            snapshot_location=snapshot_location, snapshots=snapshots, name_order=name_order
        )

    @classmethod
    def write_snapshot_collection(
        cls, *, snapshot_collection: SnapshotCollection, name_order: dict[str, int] | None = None
    ) -> None:
        cls._write_cassette(str(snapshot_collection.location), next(iter(snapshot_collection)).data)

    @classmethod
    def _write_cassette(cls, path: str, data: Any) -> None:
        if not isinstance(data, str):
            raise TypeError(f"cassette text expected, got {type(data).__name__}")
        remove_stale_temp_files(path)
        atomic_write_text(path, data, durable=False)  # see atomic_write_text: no fsync
        _note_written(path)

    # --- selection safety ------------------------------------------------------------------

    def discover_snapshots(
        self, *, test_location: PyTestLocation, ignore_extensions: list[str] | None = None
    ) -> SnapshotCollections:
        """As syrupy's, but always sees cassettes (other extensions are told to skip
        ``.yaml``, see `hide_cassettes_from_other_extensions`)."""
        keep = [ext for ext in ignore_extensions or [] if ext != self.file_extension]
        return super().discover_snapshots(test_location=test_location, ignore_extensions=keep)

    def owns_snapshot_collection(self, *, filepath: str, test_location: PyTestLocation) -> bool:
        if _asserted_here(filepath):
            # A cassette this session asserted is in syrupy's ``used`` set, so it can never
            # be unused: leaving it out of discovery changes no verdict and spares syrupy's
            # report its per-file unused checks at the session's end (about 0.2 ms a file,
            # 0.2 s for 1,000 recorded or replayed tests). Not owning a file drops it,
            # because this extension's discovery is always directory-scoped (`dirname` is
            # a folder below `discovery_dirname`: syrupy adds unowned files only when the
            # two are the same).
            return False
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
        return read_text_file(snapshot_location)

    #: ``(location, text or None)`` read by `load_recorded`, handed to syrupy's comparison
    #: in `assert_cassette` instead of reading the file a second time. The extension object
    #: belongs to one test's assertion, so this never crosses tests.
    _recalled: tuple[str, Any] | None = None

    def delete_snapshots(self, *, snapshot_location: str, snapshot_names: set[str]) -> None:
        if _protected(snapshot_location, final=True):
            return
        Path(snapshot_location).unlink(missing_ok=True)


def read_text_file(location: str) -> str | None:
    """The file's text as syrupy's single-file read gives it (UTF-8, universal newlines),
    None when it does not exist; read with two system calls and one decode instead of a
    buffered text stream (3.5 us instead of 12 us a cassette)."""
    try:
        fd = os.open(location, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        return None
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    text = b"".join(chunks).decode("utf-8")  # (a UnicodeDecodeError, as syrupy's read)
    if "\r" in text:  # universal newlines, as a text-mode read
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def remove_stale_temp_files(path: str | Path) -> None:
    """Remove ``.<name>.yaml.XXXX.tmp`` files that an earlier writer of ``path`` left behind
    when it was killed (SIGKILL) between creating and renaming them. One test has one
    snapshot file, written by one process at a time, so any such file is stale.

    The folder is listed once per session (listing it for each write made recording a
    folder of N cassettes cost N listings of N files): temp files made after that are this
    session's own writers', which rename or remove them."""
    folder, own = os.path.split(os.fspath(path))
    cache = _session_cache("temp_files")
    leftovers = cache.get(folder)
    if leftovers is None:
        leftovers = cache[folder] = {}
        try:
            names = os.listdir(folder)
        except OSError:
            names = []
        for name in names:
            if name.startswith(".") and name.endswith(".tmp") and name.count(".") >= 3:
                target = name[1:].rsplit(".", 2)[0]  # ".<target>.<random>.tmp"
                leftovers.setdefault(target, []).append(name)
    for name in leftovers.pop(own, ()):
        Path(folder, name).unlink(missing_ok=True)


def _note_asserted(snap: SnapshotAssertion) -> None:
    """Remember the cassette file (and snapshot name) of the assertion this test just made:
    syrupy's report counts it as used (see `GatewaySnapshotExtension.owns_snapshot_collection`)."""
    if snap.num_executions:
        result = snap.executions[snap.num_executions - 1]
        _session_cache("asserted")[str(result.snapshot_location)] = str(result.snapshot_name)


def _asserted_here(filepath: str) -> bool:
    """Whether this session asserted the cassette at ``filepath`` under the name syrupy
    gives that file (its name without ``.yaml``)."""
    name = _session_cache("asserted").get(filepath)
    if name is None:
        return False
    base = os.path.basename(filepath)
    suffix = f".{CASSETTE_EXTENSION}"
    return base.endswith(suffix) and base[: -len(suffix)] == name


def _session_cache(name: str) -> dict[str, Any]:
    """A dict kept on syrupy's session object (so it ends with the session: an ``id()`` key
    could be reused by the next in-process session); a fresh one when there is none."""
    session = _session()
    if session is None:
        return {}
    caches: dict[str, dict[str, Any]] | None = getattr(session, "_cfgateway_caches", None)
    if caches is None:
        caches = {}
        session._cfgateway_caches = caches
    return caches.setdefault(name, {})


#: A temp file older than this is stale whoever left it (a write takes milliseconds).
STALE_TEMP_SECONDS = 60.0
_swept: set[tuple[int, str]] = set()


def sweep_stale_temp_files(folder: str) -> None:
    """Once per session and folder: remove ``.<name>.yaml.XXXX.tmp`` files older than
    `STALE_TEMP_SECONDS` (left by a writer killed mid-write; a live writer's temp file is
    younger, and renamed within milliseconds)."""
    key = (id(_session()), folder)
    if key in _swept:
        return
    if len(_swept) > 4096:
        _swept.clear()
    _swept.add(key)
    try:
        leftovers = list(Path(folder).glob(f".*.{CASSETTE_EXTENSION}.*.tmp"))
    except OSError:
        return
    now = time.time()
    for tmp in leftovers:
        with contextlib.suppress(FileNotFoundError):  # another process removed it first
            if now - tmp.stat().st_mtime > STALE_TEMP_SECONDS:
                tmp.unlink()


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
    """``{cassette path: nodeid}`` and ``{test dir: {collected file names}}``, cached per
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
    """(normalized cassette path, normalized test dir, test file name) of a collected item;
    memoized by node id, path and snapshot dir (the same items are asked about when the
    first test registers and again at the end of the session)."""
    key = (
        str(item.nodeid),
        str(getattr(item, "path", "")),
        str(GatewaySnapshotExtension.snapshot_dirname),
    )
    found = _item_cache.get(key)
    if found is None:
        location = _location_of(item)
        path = GatewaySnapshotExtension.get_location(test_location=location, index=0)
        test_file = Path(location.filepath)
        found = (_norm(path), _norm(test_file.parent), test_file.name)
        if len(_item_cache) >= _MEMO_MAX:
            _item_cache.clear()
        _item_cache[key] = found
    return found


def _location_of(item: Any) -> PyTestLocation:
    """syrupy's location of a test item, made once per item (the owners' map and the item's
    own assertion both need it)."""
    try:
        location = _locations.get(item)
    except TypeError:  # not weak-referenceable or not hashable: made each time
        return PyTestLocation(item)
    if location is None:
        location = _locations[item] = PyTestLocation(item)
    return location


_locations: weakref.WeakKeyDictionary[Any, PyTestLocation] = weakref.WeakKeyDictionary()


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
    file_dir = Path(path).parent  # <test dir>/__snapshots__/<file name>
    test_dir = file_dir.parent.parent
    if file_dir.name in stems.get(str(test_dir), set()):
        return False  # an orphan of a collected file: a removed test
    if (test_dir / file_dir.name).is_file():
        return True  # the folder of a test file or config that was not collected
    # a format-1 folder (named by a stem): kept until its files are migrated
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
    ``request``: the test's ``request`` fixture, or its item. Needs syrupy's session (raises
    ``RuntimeError`` when syrupy is disabled)."""
    from syrupy.assertion import SnapshotAssertion

    config = request.config
    node = getattr(request, "node", request)  # a FixtureRequest's item, or the item
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
        test_location=_location_of(node),
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
    location = _location_of(item)
    path = GatewaySnapshotExtension.get_location(test_location=location, index=0)
    folder, name = os.path.split(path)
    if name not in _folder_names(folder):
        return legacy_pool(location)  # (one listing per folder, not a failed open per item)
    try:
        text = read_text_file(path)
    except UnicodeDecodeError as exc:
        raise _not_text(path, exc) from None
    if text is None:
        return legacy_pool(location)
    return Cassette.from_text(text, source=path)


def _not_text(location: str, exc: UnicodeDecodeError) -> CassetteError:
    return CassetteError(
        f"{location}: not a cassette: the file is not UTF-8 text (byte {exc.start} cannot be "
        "decoded; a binary file or another encoding); delete it and re-record the test with "
        "--cf-mode record"
    )


def _folder_names(folder: str) -> set[str]:
    """The names in ``folder``, listed once per session (a cassette this process writes
    later is added by `_note_written`)."""
    cache = _session_cache("listed")
    names: set[str] | None = cache.get(folder)
    if names is None:
        try:
            names = set(os.listdir(folder))
        except OSError:
            names = set()
        cache[folder] = names
    return names


def _note_written(path: str) -> None:
    folder, name = os.path.split(path)
    names: set[str] | None = _session_cache("listed").get(folder)
    if names is not None:
        names.add(name)


#: ``(syrupy session id, folder) -> {file: Cassette}``: each old folder is read once per
#: session (files that fail to parse are left out: their own test reports them).
_pools: dict[tuple[int, str], dict[str, Cassette]] = {}


def _folder_cassettes(folder: str) -> dict[str, Cassette]:
    key = (id(_session()), folder)
    found = _pools.get(key)
    if found is None:
        found = {}
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            names = []
        for name in names:
            if not name.endswith(f".{CASSETTE_EXTENSION}") or name.startswith("."):
                continue
            path = os.path.join(folder, name)
            try:
                found[path] = Cassette.from_text(
                    Path(path).read_text(encoding="utf-8"), source=path
                )
            except (OSError, UnicodeDecodeError, CassetteError):
                continue
        if len(_pools) > 64:
            _pools.clear()
        _pools[key] = found
    return found


def legacy_pool(test_location: PyTestLocation) -> Cassette | None:
    """The older snapshot files of a test's source as one pool searched by fingerprint
    (None when there are none): the format-1 folder named by the stem, then the other files
    of the current folder (a test renamed by the id scheme).

    The pool of a pair of folders is built once per session and shared by the tests that
    have no cassette of their own (rebuilding it for each made recording N new tests beside
    M cassettes cost N x M copies); a test whose own file is among them gets a pool
    without it. Nothing changes a pool: `Recorder` reads it, and builds a cassette of its
    own from the exchanges it uses."""
    own = GatewaySnapshotExtension.get_location(test_location=test_location, index=0)
    folders = tuple(
        dict.fromkeys(
            [
                GatewaySnapshotExtension.legacy_dirname(test_location=test_location),
                GatewaySnapshotExtension.dirname(test_location=test_location),
            ]
        )
    )
    key = (id(_session()), folders)
    cached = _shared_pools.get(key)
    if cached is None:
        files = [(path, cassette) for folder in folders for path, cassette in _pool_files(folder)]
        cached = (frozenset(_norm(path) for path, _ in files), _pool_of(files))
        if len(_shared_pools) > 64:
            _shared_pools.clear()
        _shared_pools[key] = cached
    paths, pool = cached
    if pool is None:
        return None
    own = _norm(own)
    if own not in paths:
        return pool
    return _pool_of(
        [
            (path, cassette)
            for folder in folders
            for path, cassette in _pool_files(folder)
            if _norm(path) != own
        ]
    )


#: ``(syrupy session id, folders) -> (normalized paths of their files, their pool)``
_shared_pools: dict[tuple[int, tuple[str, ...]], tuple[frozenset[str], Cassette | None]] = {}


def _pool_files(folder: str) -> list[tuple[str, Cassette]]:
    return list(_folder_cassettes(folder).items())


def _pool_of(files: list[tuple[str, Cassette]]) -> Cassette | None:
    exchanges = [
        dataclasses.replace(ex, origin=path) for path, cassette in files for ex in cassette
    ]
    if not exchanges:
        return None
    return Cassette(exchanges=exchanges, pool=True, version=1)


def load_recorded(snapshot: SnapshotAssertion) -> Cassette | None:
    """Read this test's stored cassette (None if there is none) without asserting.

    Raises `CassetteError` (naming the file and the fix) when the file is not a valid
    cassette.
    """
    snap = _ours(snapshot)
    extension = snap.extension
    location = extension.get_location(test_location=snap.test_location, index=0)
    folder, file_name = os.path.split(location)
    sweep_stale_temp_files(folder)
    text = None
    if file_name in _folder_names(folder):  # (no failed open per test without a cassette)
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
        return legacy_pool(snap.test_location)
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
    update = snap.update_snapshots
    if not cassette.write and (cassette.migrated_from or cassette.version != CASSETTE_VERSION):
        if not update:
            return  # replay of older files: read them, write nothing without --snapshot-update
        cassette.write = True  # --snapshot-update: rewrite in this format, under this name
    text = cassette.to_text()  # scrub + leak scan before syrupy sees it
    snap.update_snapshots = bool(cassette.write) or update
    try:
        ok = snap == _Rendered(text)
    finally:
        snap.update_snapshots = update
        _note_asserted(snap)
    if ok:
        _remove_migrated(snap, cassette)
        return
    result = snap.executions[snap.num_executions - 1]
    if result.exception is not None:
        raise result.exception
    diff = "\n".join(snap.get_assert_diff())
    raise AssertionError(f"stored cassette differs from this run's:\n{diff}")


def _remove_migrated(snap: SnapshotAssertion, cassette: Cassette) -> None:
    """Once a migrated cassette is written under its new name, remove the format-1 files it
    came from (files of the current folder are left to syrupy's unused detection: they may
    be another test's)."""
    if not cassette.migrated_from or not cassette.write:
        return
    legacy = _norm(GatewaySnapshotExtension.legacy_dirname(test_location=snap.test_location))
    current = _norm(GatewaySnapshotExtension.dirname(test_location=snap.test_location))
    if legacy == current:
        return
    for origin in cassette.migrated_from:
        if _norm(os.path.dirname(origin)) == legacy:
            Path(origin).unlink(missing_ok=True)
    # old files that hold only requests this cassette now holds are duplicates (two tests
    # that made the same request): their tests find it by fingerprint in the new folder
    keys = {ex.key for ex in cassette}
    for path, old in _folder_cassettes(legacy).items():
        if len(old) and all(ex.key in keys for ex in old):
            Path(path).unlink(missing_ok=True)
    # the old folder goes once empty (another process may still be migrating its files)
    with contextlib.suppress(FileNotFoundError, OSError):
        if not os.listdir(legacy):
            os.rmdir(legacy)


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
