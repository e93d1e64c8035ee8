"""The snapshot layer against real syrupy: end to end through pytester, plus pins on every
syrupy internal that pytest_cfgateway/snapshots/extension.py relies on.

The temp projects use the snapshot API from an ordinary conftest fixture with a fake
``send`` (no pytest-cfgateway plugin), so these tests cover exactly the snapshot layer.
"""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path

import pytest
import syrupy
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.base import AbstractSyrupyExtension, SnapshotCollectionStorage
from syrupy.extensions.single_file import SingleFileSnapshotExtension
from syrupy.location import PyTestLocation
from syrupy.report import SnapshotReport
from syrupy.session import ItemStatus, SnapshotSession

import pytest_cfgateway
from pytest_cfgateway.snapshots import GatewaySnapshotExtension
from pytest_cfgateway.snapshots.extension import safe_file_stem

REPO = Path(pytest_cfgateway.__file__).resolve().parent.parent
FAKE_KEY = "sk-fake-LEAKCHECK-123456"

CONFTEST = f"""
import asyncio
import os

import pytest

from pytest_cfgateway.gateway.redact import Secrets
from pytest_cfgateway.gateway.types import PreparedRequest, RawResponse
from pytest_cfgateway.snapshots import Recorder, assert_cassette, load_recorded

FAKE_KEY = {FAKE_KEY!r}
SECRETS = {{"OPENAI_API_KEY": FAKE_KEY, "PIN_PASSWORD": "12345678901"}}

@pytest.fixture(autouse=True)
def _broken_disk(monkeypatch):
    if os.environ.get("FAIL_FSYNC"):  # the temp file's data cannot be put in place
        real_replace = os.replace
        def broken_replace(src, dst, *args, **kwargs):
            if str(src).endswith(".tmp"):
                raise OSError(28, "No space left on device (simulated)")
            return real_replace(src, dst, *args, **kwargs)
        monkeypatch.setattr(os, "replace", broken_replace)


def pytest_addoption(parser):
    parser.addoption("--fake-mode", default=None)


def _req(text):
    return PreparedRequest(
        provider="openai",
        path="chat/completions",
        body={{"model": "gpt-4o", "messages": [{{"role": "user", "content": text}}]}},
        headers={{"Authorization": "Bearer " + FAKE_KEY, "content-type": "application/json"}},
        model="gpt-4o",
        secrets=SECRETS,
    )


def _send_for(root):
    async def send(req):
        text = req.body["messages"][-1]["content"]
        with open(os.path.join(root, "calls.log"), "a", encoding="utf-8") as log:
            log.write(text + "\\n")
        prefix = os.environ.get("ANSWER_PREFIX", "answer to")
        answer = prefix + " " + text + "\\nsecond line\\n"
        body = {{"choices": [{{"message": {{"content": answer}}}}]}}
        if os.environ.get("LEAK_KEY"):
            body["echo"] = "the key is " + FAKE_KEY
        if os.environ.get("LEAK_NUMBER"):
            body["pin"] = 12345678901
        await asyncio.sleep(0)
        return RawResponse(200, {{"cf-aig-cache-status": "MISS", "cf-aig-log-id": "x"}}, body, 5.0)
    return send


@pytest.fixture
def ask(request):
    if os.environ.get("CFGW_CASE_SNAPSHOT"):  # how config items get theirs
        from pytest_cfgateway.snapshots.extension import case_snapshot

        snapshot = case_snapshot(request)
    else:
        snapshot = request.getfixturevalue("snapshot")
    config = request.config
    mode = config.getoption("--fake-mode") or (
        "record" if config.option.update_snapshots else "replay"
    )
    rec = Recorder(
        mode=mode,
        recorded=load_recorded(snapshot),
        secrets=Secrets(SECRETS),
        nodeid=request.node.nodeid,
    )
    send = _send_for(str(config.rootpath))

    def ask(*texts):
        async def go():
            return await asyncio.gather(*(rec.resolve(_req(t), send) for t in texts))
        return [r.body["choices"][0]["message"]["content"] for r in asyncio.run(go())]

    yield ask
    outcome = rec.finish()
    if outcome.cassette is not None:
        assert_cassette(snapshot, outcome.cassette)
"""

TESTS = """
import pytest


@pytest.mark.parametrize("q", ["capital of France?", "a/b: c", "x [nested]"], ids=lambda q: q)
def test_ask(ask, q):
    assert ask(q)[0].startswith("answer to " + q)


def test_twice(ask):
    assert ask("same", "same", "other") == [
        "answer to same\\nsecond line\\n",
        "answer to same\\nsecond line\\n",
        "answer to other\\nsecond line\\n",
    ]


def test_no_calls():
    pass
"""

INI = """
[pytest]
filterwarnings = error
"""

BASE_ARGS = ("-p", "no:cfgateway", "-p", "no:asyncio", "-p", "no:cacheprovider", "-q")


@pytest.fixture(params=["snapshot-fixture", "case_snapshot"])
def project(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> pytest.Pytester:
    """The temp project; every end-to-end test runs twice: with syrupy's ``snapshot``
    fixture switched to our extension (what ``cf_gateway`` tests use) and with the
    assertion `case_snapshot` builds directly (what config items use)."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    for name in ("FAIL_FSYNC", "ANSWER_PREFIX", "LEAK_KEY", "LEAK_NUMBER", "CFGW_CASE_SNAPSHOT"):
        monkeypatch.delenv(name, raising=False)
    if request.param == "case_snapshot":
        monkeypatch.setenv("CFGW_CASE_SNAPSHOT", "1")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_evals=TESTS)
    pytester.makefile(".ini", pytest=INI)
    return pytester


def run(p: pytest.Pytester, *args: str) -> pytest.RunResult:
    return p.runpytest(*BASE_ARGS, *args)


def snap_dir(p: pytest.Pytester) -> Path:
    return p.path / "__snapshots__" / "test_evals.py"


def files(p: pytest.Pytester) -> dict[str, bytes]:
    d = snap_dir(p)
    return {f.name: f.read_bytes() for f in sorted(d.iterdir())} if d.is_dir() else {}


def calls(p: pytest.Pytester) -> list[str]:
    log = p.path / "calls.log"
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


EXPECTED_FILES = {
    "test_ask[a-b- c]~" + __import__("hashlib").sha1(b"test_ask[a/b: c]").hexdigest()[:8] + ".yaml",
    "test_ask[capital of France-]~"
    + __import__("hashlib").sha1(b"test_ask[capital of France?]").hexdigest()[:8]
    + ".yaml",
    "test_ask[x [nested]].yaml",
    "test_twice.yaml",
}


# --- end to end ------------------------------------------------------------------------------


def test_record_then_replay(project: pytest.Pytester) -> None:
    result = run(project, "--fake-mode", "record")
    result.assert_outcomes(passed=5)
    assert set(files(project)) == EXPECTED_FILES
    result.stdout.fnmatch_lines(["*4 snapshots generated*"])
    assert sorted(calls(project)) == sorted(
        ["capital of France?", "a/b: c", "x [nested]", "same", "same", "other"]
    )
    twice = (snap_dir(project) / "test_twice.yaml").read_text(encoding="utf-8")
    assert twice.count("  fingerprint:") == 3
    assert "  output_text: |\n    answer to same\n    second line\n" in twice
    before = files(project)

    result = run(project)  # replay is the default
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["*4 snapshots passed*"])
    assert "unused" not in result.stdout.str()
    assert len(calls(project)) == 6  # nothing new went out
    assert files(project) == before


def test_record_with_nothing_changed_leaves_files_untouched(project: pytest.Pytester) -> None:
    run(project, "--fake-mode", "record").assert_outcomes(passed=5)
    stamps = {f.name: f.stat().st_mtime_ns for f in snap_dir(project).iterdir()}
    before = files(project)
    run(project, "--snapshot-update").assert_outcomes(passed=5)
    assert files(project) == before
    assert {f.name: f.stat().st_mtime_ns for f in snap_dir(project).iterdir()} == stamps
    assert len(calls(project)) == 6


def test_refresh_rewrites_changed_answers(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(project, "--fake-mode", "record").assert_outcomes(passed=5)
    monkeypatch.setenv("ANSWER_PREFIX", "answer to")  # same answers: nothing rewritten
    before = files(project)
    run(project, "--fake-mode", "refresh").assert_outcomes(passed=5)
    assert files(project) == before
    assert len(calls(project)) == 12


def test_refresh_with_changed_answers_rewrites_exactly_those(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stored text `load_recorded` read is what syrupy compares against (it is not
    read twice): a changed answer is still seen, and written."""
    run(project, "--fake-mode", "record").assert_outcomes(passed=5)
    before = files(project)
    monkeypatch.setenv("LEAK_KEY", "1")  # the replies gain a (scrubbed) field
    result = run(project, "--fake-mode", "refresh", "-k", "twice")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*1 snapshot updated*"])
    after = files(project)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"test_twice.yaml"}
    assert b"the key is <secret:OPENAI_API_KEY>" in after["test_twice.yaml"]
    monkeypatch.delenv("LEAK_KEY")
    run(project, "-k", "twice").assert_outcomes(passed=1)  # replays the new answers
    result = run(project, "--fake-mode", "live", "-k", "twice")
    result.assert_outcomes(passed=1)
    assert files(project) == after  # live never writes


def test_missing_request_fails_with_the_record_command(project: pytest.Pytester) -> None:
    run(project, "--fake-mode", "record").assert_outcomes(passed=5)
    project.makepyfile(test_evals=TESTS + "\n\ndef test_new(ask):\n    ask('never recorded')\n")
    result = run(project)
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*NotRecordedError*test_evals.py::test_new: no recorded answer*",
            "*this test has no snapshot yet*",
            "*record it with: pytest --cf-mode record 'test_evals.py::test_new'*--snapshot-update*",
        ]
    )
    assert "never recorded" not in calls(project)
    # Changed request: the diff names the message that changed.
    project.makepyfile(
        test_evals=TESTS.replace('"same", "same", "other"', '"same", "same", "OTHER"')
    )
    result = run(project, "-k", "test_twice")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*body.messages?0?.content: 'other' -> 'OTHER'*"])


def test_removed_test_is_reported_unused_and_pruned_by_update(project: pytest.Pytester) -> None:
    run(project, "--fake-mode", "record").assert_outcomes(passed=5)
    project.makepyfile(test_evals=TESTS.replace("def test_twice", "def _gone"))
    result = run(project)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*1 snapshot unused*", "*--snapshot-update*"])
    result = run(project, "--snapshot-warn-unused")
    assert result.ret == 0
    result = run(project, "--snapshot-update")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*1 unused snapshot deleted*"])
    assert set(files(project)) == EXPECTED_FILES - {"test_twice.yaml"}
    run(project).assert_outcomes(passed=4)


DISCOVERED_HOOK = """

@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    report = session.config._syrupy.report  # made by syrupy's (tryfirst) sessionfinish
    names = sorted(os.path.basename(c.location) for c in report.discovered)
    with open("discovered.txt", "w", encoding="utf-8") as out:
        out.write("\\n".join(names))
"""


def test_report_discovers_only_cassettes_no_test_asserted(project: pytest.Pytester) -> None:
    """A cassette this session asserted is used by syrupy's rules and never unused, so it is
    left out of the report's discovery (its per-file unused checks cost ~0.2 s per 1,000
    tests at the session's end); an orphan is still discovered and reported."""
    run(project, "--fake-mode", "record").assert_outcomes(passed=5)
    project.makepyfile(test_evals=TESTS.replace("def test_twice", "def _gone"))
    project.makeconftest(CONFTEST + DISCOVERED_HOOK)
    result = run(project, "--snapshot-warn-unused")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*1 snapshot unused*"])
    assert (project.path / "discovered.txt").read_text(encoding="utf-8") == "test_twice.yaml"


@pytest.mark.parametrize(
    "keyword", ["not France", "not FRANCE", "not a/b", "twice", "not x and not capital"]
)
def test_k_with_update_keeps_deselected_files(project: pytest.Pytester, keyword: str) -> None:
    run(project, "--fake-mode", "record").assert_outcomes(passed=5)
    before = files(project)
    result = run(project, "-k", keyword)
    assert result.ret == 0, result.stdout.str()
    assert "unused" not in result.stdout.str()
    result = run(project, "-k", keyword, "--snapshot-update")
    assert result.ret == 0, result.stdout.str()
    assert "deleted" not in result.stdout.str()
    assert files(project) == before


def test_node_id_selection_with_update_keeps_other_files(project: pytest.Pytester) -> None:
    run(project, "--fake-mode", "record").assert_outcomes(passed=5)
    before = files(project)
    result = run(project, "test_evals.py::test_ask[a/b: c]", "--snapshot-update")
    result.assert_outcomes(passed=1)
    assert files(project) == before


def test_failed_and_skipped_tests_keep_their_files(project: pytest.Pytester) -> None:
    run(project, "--fake-mode", "record").assert_outcomes(passed=5)
    before = files(project)
    project.makepyfile(
        test_evals=TESTS.replace(
            "def test_twice(ask):", "def test_twice(ask):\n    assert 0\n"
        ).replace(
            "@pytest.mark.parametrize", "@pytest.mark.skip(reason='off')\n@pytest.mark.parametrize"
        )
    )
    result = run(project, "--snapshot-update")
    result.assert_outcomes(passed=1, failed=1, skipped=3)
    assert files(project) == before


def test_ignored_module_keeps_its_files(project: pytest.Pytester) -> None:
    project.makepyfile(test_other="def test_other(ask):\n    ask('elsewhere')\n")
    run(project, "--fake-mode", "record").assert_outcomes(passed=6)
    other = project.path / "__snapshots__" / "test_other.py" / "test_other.yaml"
    assert other.is_file()
    result = run(project, "--ignore", "test_other.py", "--snapshot-update")
    result.assert_outcomes(passed=5)
    assert other.is_file()


def test_xdist_record_matches_serial_and_replays(
    project: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    run(project, "--fake-mode", "record").assert_outcomes(passed=5)
    serial = files(project)
    for f in snap_dir(project).iterdir():
        f.unlink()
    result = run(project, "-n", "2", "--fake-mode", "record")
    result.assert_outcomes(passed=5)
    assert files(project) == serial
    result = run(project, "-n", "2")
    result.assert_outcomes(passed=5)
    assert result.ret == 0 and "unused" not in result.stdout.str()
    result = run(project, "-n", "2", "-k", "not a/b", "--snapshot-update")
    assert result.ret == 0 and files(project) == serial
    project.makepyfile(test_evals=TESTS.replace("def test_twice", "def _gone"))
    result = run(project, "-n", "2", "--snapshot-update")
    assert result.ret == 0
    assert set(files(project)) == EXPECTED_FILES - {"test_twice.yaml"}


def test_failed_write_leaves_no_partial_file(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(project, "--fake-mode", "record", "-k", "twice").assert_outcomes(passed=1)
    before = files(project)
    monkeypatch.setenv("FAIL_FSYNC", "1")
    monkeypatch.setenv("ANSWER_PREFIX", "a changed answer to")
    result = run(project, "--fake-mode", "refresh", "-k", "twice or nested")
    result.stdout.fnmatch_lines(["*No space left on device (simulated)*"])
    assert result.ret != 0
    assert files(project) == before  # old file intact, new one never appeared
    leftovers = [p.name for p in (project.path / "__snapshots__").rglob("*") if p.is_file()]
    assert leftovers == ["test_twice.yaml"]


def test_secrets_never_reach_disk(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAK_KEY", "1")
    run(project, "--fake-mode", "record").assert_outcomes(passed=5)
    written = "".join(f.decode("utf-8") for f in files(project).values())
    assert FAKE_KEY not in written and "Bearer" not in written
    assert "the key is <secret:OPENAI_API_KEY>" in written
    # A secret that cannot be scrubbed (a number) makes the write fail, loudly.
    for f in snap_dir(project).iterdir():
        f.unlink()
    monkeypatch.delenv("LEAK_KEY")
    monkeypatch.setenv("LEAK_NUMBER", "1")
    result = run(project, "--fake-mode", "record", "-k", "twice")
    result.stdout.fnmatch_lines(["*SecretLeakError*'PIN_PASSWORD'*"])
    assert "12345678901" not in result.stdout.str()
    assert files(project) == {}


# --- pins on syrupy internals ---------------------------------------------------------------


def _params(func: object) -> list[str]:
    return list(inspect.signature(func).parameters)  # type: ignore[arg-type]


def test_pin_extension_hooks_we_override() -> None:
    """Our overrides must keep matching syrupy's hook names and keyword arguments."""
    assert _params(SingleFileSnapshotExtension.get_snapshot_name) == ["test_location", "index"]
    assert _params(AbstractSyrupyExtension.get_snapshot_name) == ["test_location", "index"]
    assert _params(SingleFileSnapshotExtension.matches_test_location) == [
        "test_location",
        "snapshot_location",
    ]
    assert _params(SingleFileSnapshotExtension.owns_snapshot_collection) == [
        "self",
        "filepath",
        "test_location",
    ]
    assert _params(SingleFileSnapshotExtension.delete_snapshots) == [
        "self",
        "snapshot_location",
        "snapshot_names",
    ]
    assert _params(SingleFileSnapshotExtension.write_snapshot_collection) == [
        "snapshot_collection",
        "name_order",
    ]
    assert _params(SingleFileSnapshotExtension.serialize) == [
        "self",
        "data",
        "exclude",
        "include",
        "matcher",
    ]
    assert _params(AbstractSyrupyExtension.matches) == ["self", "serialized_data", "snapshot_data"]
    assert _params(SnapshotCollectionStorage.read_snapshot) == [
        "self",
        "test_location",
        "index",
        "session_id",
    ]
    assert _params(SnapshotCollectionStorage.get_location) == ["test_location", "index"]
    # our write_snapshot replaces syrupy's (documented as final) for one cassette per call
    assert _params(SnapshotCollectionStorage.write_snapshot) == [
        "snapshot_location",
        "snapshots",
        "name_order",
    ]
    assert "write_snapshot" in SnapshotCollectionStorage.__dict__
    assert GatewaySnapshotExtension.write_immediately is True
    assert GatewaySnapshotExtension.file_extension == "yaml"


def test_pin_assertion_session_and_report_fields() -> None:
    fields = SnapshotAssertion.__dataclass_fields__
    for name in ("session", "test_location", "update_snapshots", "extension_class"):
        assert name in fields
    for attr in ("use_extension", "executions", "num_executions", "get_assert_diff", "extension"):
        assert hasattr(SnapshotAssertion, attr)
    session_fields = SnapshotSession.__dataclass_fields__
    for name in (
        "_collected_items",
        "_selected_items",
        "report",
        "ignore_file_extensions",
        "pytest_session",
    ):
        assert name in session_fields
    report_fields = SnapshotReport.__dataclass_fields__
    for name in ("collected_items", "selected_items"):
        assert name in report_fields
    assert ItemStatus("passed").value == "passed"
    assert {s.value for s in ItemStatus} == {False, "passed", "failed", "skipped"}
    assert hasattr(syrupy, "_syrupy")
    for attr in ("filepath", "basename", "snapshot_name", "nodeid"):
        assert hasattr(PyTestLocation, attr) or attr in PyTestLocation.__dataclass_fields__


def test_pin_running_session_global(pytester: pytest.Pytester) -> None:
    """`syrupy._syrupy` is the running session, with selection state keyed by nodeid."""
    pytester.makepyfile(
        """
        import syrupy
        from syrupy.session import ItemStatus

        def test_a(request):
            session = syrupy._syrupy
            assert session is request.config._syrupy
            assert request.node.nodeid in session._collected_items
            # setup already reported "passed" (syrupy records setup and call reports)
            assert session._selected_items[request.node.nodeid] is ItemStatus.PASSED
            assert "test_b" not in str(list(session._selected_items))

        def test_b():
            pass
        """
    )
    pytester.runpytest(*BASE_ARGS, "-k", "test_a").assert_outcomes(passed=1)


def test_pin_single_file_layout_and_name_relation() -> None:
    """Files nest one level under __snapshots__, and our stems keep syrupy's identifier
    prefix (so it never warns that it cannot relate a snapshot name to its test)."""

    class Item:
        def __init__(self, name: str) -> None:
            self.name = name
            self.nodeid = f"tests/test_m.py::{name}"
            self.path = Path("/p/tests/test_m.py")
            self.obj = type("O", (), {"__module__": "test_m", "__name__": "test_q"})

    for name in ["test_q[a/b: c]", "test_q[what?]", "test_q", "Q:A", "test_q[" + "x" * 300 + "]"]:
        location = PyTestLocation(Item(name))  # type: ignore[arg-type]
        path = Path(GatewaySnapshotExtension.get_location(test_location=location, index=0))
        assert path.parent == Path("/p/tests/__snapshots__/test_m.py")
        assert path.name == safe_file_stem(name) + ".yaml"
        assert len(path.name.encode()) <= 255
        assert location.matches_snapshot_name(path.stem)
        assert GatewaySnapshotExtension.matches_test_location(
            test_location=location, snapshot_location=str(path)
        )
    assert safe_file_stem("test_q[ok]") == "test_q[ok]"
    assert safe_file_stem("a/b") != safe_file_stem("a:b")


CASES_CONFTEST = '''
import pytest

pytest_plugins = ["conftest_ask"]


class CasesFile(pytest.File):
    """A stand-in for a promptfoo config: one pytest.Function per line."""

    def collect(self):
        for line in self.path.read_text().splitlines():
            if line.strip():
                func = _case(line, self.path.stem)
                yield pytest.Function.from_parent(self, name=line, callobj=func)


def _case(text, module):
    def case(ask):
        ask(text)
    case.__module__ = module
    case.__name__ = text
    return case


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".cases":
        return CasesFile.from_parent(parent, path=file_path)
'''


@pytest.fixture
def cases_project(project: pytest.Pytester) -> pytest.Pytester:
    (project.path / "conftest.py").rename(project.path / "conftest_ask.py")
    project.makeconftest(CASES_CONFTEST)
    (project.path / "test_evals.py").unlink()
    project.makefile(".cases", a="alpha[openai:gpt-4o]\nbeta [x/y]\n", b="gamma\n")
    project.makepyfile(test_amber="def test_amber(snapshot):\n    assert snapshot == 'x'\n")
    return project


def cassette_names(p: pytest.Pytester) -> set[str]:
    root = p.path / "__snapshots__"
    return {f.relative_to(root).as_posix() for f in root.rglob("*.yaml")}


def test_non_python_collected_files(cases_project: pytest.Pytester) -> None:
    p = cases_project
    result = run(p, "--snapshot-update")
    result.assert_outcomes(passed=4)
    names = cassette_names(p)
    assert len(names) == 3 and {n.split("/")[0] for n in names} == {"a.cases", "b.cases"}
    assert (p.path / "__snapshots__" / "test_amber.ambr").is_file()
    run(p).assert_outcomes(passed=4)
    # A config that exists but is not collected keeps its cassettes (no "unused" either).
    result = run(p, "--ignore", "b.cases")
    assert result.ret == 0 and "unused" not in result.stdout.str()
    run(p, "--ignore", "b.cases", "--snapshot-update").assert_outcomes(passed=3)
    assert cassette_names(p) == names
    # -k against names the file names had to change.
    result = run(p, "-k", "not openai:gpt", "--snapshot-update")
    assert result.ret == 0 and cassette_names(p) == names
    # A removed case and a deleted config are orphans: reported, then pruned.
    (p.path / "a.cases").write_text("alpha[openai:gpt-4o]\n")
    (p.path / "b.cases").unlink()
    result = run(p)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*2 snapshots unused*"])
    result = run(p, "--snapshot-update")
    assert result.ret == 0
    assert {n.split("/")[0] for n in cassette_names(p)} == {"a.cases"} and len(
        cassette_names(p)
    ) == 1
    assert (p.path / "__snapshots__" / "test_amber.ambr").is_file()


def test_case_snapshot_registers_one_assertion_per_test(project: pytest.Pytester) -> None:
    """The fixture route registers two syrupy assertions per test (amber's and ours);
    `case_snapshot` registers one, and it is ours."""
    project.makepyfile(
        test_count="""
        import syrupy

        def test_1(ask):
            ask("one")

        def test_2(ask):
            ask("two")

        def test_zz_count():
            kinds = [a.extension_class.__name__ for a in syrupy._syrupy._assertions]
            with open("kinds.txt", "w") as f:
                f.write(",".join(kinds))
        """
    )
    run(project, "test_count.py", "--fake-mode", "record").assert_outcomes(passed=3)
    kinds = (project.path / "kinds.txt").read_text().split(",")
    if "CFGW_CASE_SNAPSHOT" in os.environ:
        assert kinds == ["GatewaySnapshotExtension"] * 2
    else:
        assert sorted(kinds) == sorted(["AmberSnapshotExtension", "GatewaySnapshotExtension"] * 2)
    run(project, "test_count.py").assert_outcomes(passed=3)


def test_case_snapshot_needs_syrupy() -> None:
    from types import SimpleNamespace

    from pytest_cfgateway.snapshots.extension import case_snapshot

    request = SimpleNamespace(config=SimpleNamespace(option=SimpleNamespace()))
    with pytest.raises(RuntimeError, match="syrupy is not active"):
        case_snapshot(request)
