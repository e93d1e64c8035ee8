"""File names for snapshot names, and the request/answer diffs used in messages."""

from __future__ import annotations

import pytest

from pytest_cfgateway.snapshots.explain import describe_differences, request_differences, text_diff
from pytest_cfgateway.snapshots.extension import MAX_STEM_BYTES, safe_file_stem


@pytest.mark.parametrize("name", ["test_x", "test_x[a b]", "Class.test[1-2]", "déjà vu [é]"])
def test_safe_names_are_kept(name: str) -> None:
    assert safe_file_stem(name) == name


@pytest.mark.parametrize("name", ["q[a/b]", "q[a:b]", 'q["x"]', "q[a?]", "q[tab\there]", "q<>|*"])
def test_unsafe_characters_become_dashes_plus_hash(name: str) -> None:
    stem = safe_file_stem(name)
    body, _, digest = stem.rpartition("~")
    assert len(digest) == 8 and all(c in "0123456789abcdef" for c in digest)
    assert not any(c in body for c in '\\/?*:|"<>\t')
    assert len(body) == len(name)


def test_stems_follow_the_rule_for_any_name() -> None:
    # the rule (module docstring), character by character, against the fast path's regex
    import hashlib
    import random

    def rule(name: str) -> str:
        unsafe = set('\\/?*:|"<>')
        cleaned = "".join(
            "-" if c in unsafe or ord(c) < 32 or 0x7F <= ord(c) < 0xA0 else c for c in name
        )
        encoded = cleaned.encode()
        if cleaned == name and len(encoded) <= MAX_STEM_BYTES:
            return name
        if len(encoded) > MAX_STEM_BYTES:
            cleaned = encoded[:MAX_STEM_BYTES].decode(errors="ignore")
        return f"{cleaned}~{hashlib.sha1(name.encode()).hexdigest()[:8]}"

    rng = random.Random(7)
    alphabet = [chr(i) for i in range(0x250)] + ["\U0001f600", "日", "\u2028"]
    for _ in range(3000):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120)))
        assert safe_file_stem(name) == rule(name), repr(name)
    for n in (49, 50, 51, 60, 199, 200, 201):  # around the fast path's length bound
        for ch in ("x", "é", "日", "\U0001f600"):
            assert safe_file_stem(ch * n) == rule(ch * n)


def test_distinct_names_never_share_a_file() -> None:
    names = ["q[a/b]", "q[a:b]", "q[a-b]", "q[ab]", "q[a?b]"]
    assert len({safe_file_stem(n) for n in names}) == len(names)


def test_long_and_multibyte_names_fit_the_filesystem() -> None:
    for name in ["t[" + "x" * 400 + "]", "t[" + "日本語" * 100 + "]"]:
        stem = safe_file_stem(name)
        assert len((stem + ".yaml").encode()) <= 255
        assert len(stem.rpartition("~")[0].encode()) <= MAX_STEM_BYTES
        stem.encode("utf-8")  # no split characters
    assert safe_file_stem("t[" + "x" * 400 + "]") != safe_file_stem("t[" + "x" * 401 + "]")


def test_request_differences_paths() -> None:
    old = {
        "v": 1,
        "provider": "openai",
        "route": "chat/completions",
        "query": {},
        "repeat": 0,
        "body": {"messages": [{"role": "user", "content": "a"}], "temperature": 0.2},
        "headers": {"ignored": "x"},
    }
    new = {
        "v": 1,
        "provider": "openai",
        "route": "chat/completions",
        "query": {},
        "repeat": 1,
        "body": {"messages": [{"role": "user", "content": "b"}, {"role": "user", "content": "c"}]},
    }
    diffs = request_differences(old, new)
    lines = describe_differences(diffs)
    assert lines == [
        "repeat: 0 -> 1",
        "body.messages[0].content: 'a' -> 'b'",
        "body.messages[1]: (absent) -> {'role': 'user', 'content': 'c'}",
        "body.temperature: 0.2 -> (absent)",
    ]


def test_long_strings_are_shown_around_their_first_difference() -> None:
    a = "x" * 100 + "AAA" + "y" * 50
    b = "x" * 100 + "BBB" + "y" * 50
    (line,) = describe_differences([("body.p", a, b)])
    assert "AAA" in line and "BBB" in line and line.count("…") == 2


def test_differences_are_limited() -> None:
    diffs = [(f"k{i}", i, i + 1) for i in range(10)]
    lines = describe_differences(diffs, limit=3)
    assert len(lines) == 4 and lines[-1] == "... and 7 more difference(s)"


def test_text_diff_is_limited() -> None:
    old = "\n".join(str(i) for i in range(200))
    new = "\n".join(str(i * 2) for i in range(200))
    lines = text_diff(old, new, limit=10)
    assert len(lines) == 11 and lines[0] == "--- snapshot" and "more diff lines" in lines[-1]


# --- memoized names and paths ----------------------------------------------------------------


class _Item:
    def __init__(self, name: str, path: str) -> None:
        from pathlib import Path

        self.name = name
        self.nodeid = f"t/{Path(path).name}::{name}"
        self.path = Path(path)
        self.obj = type("O", (), {"__module__": "test_m", "__name__": "test_q"})


def test_memoized_locations_follow_every_input(monkeypatch: pytest.MonkeyPatch) -> None:
    from syrupy.extensions.base import SnapshotCollectionStorage
    from syrupy.extensions.single_file import SingleFileSnapshotExtension
    from syrupy.location import PyTestLocation

    from pytest_cfgateway.snapshots.extension import GatewaySnapshotExtension as Ext

    def where(name: str, path: str, index: int | str = 0) -> tuple[str, str, str, str]:
        loc = PyTestLocation(_Item(name, path))  # type: ignore[arg-type]
        return (
            Ext.get_location(test_location=loc, index=index),
            Ext.get_snapshot_name(test_location=loc, index=index),
            Ext.dirname(test_location=loc),
            Ext.discovery_dirname(test_location=loc),
        )

    def unmemoized(name: str, path: str, index: int | str = 0) -> tuple[str, str, str, str]:
        loc = PyTestLocation(_Item(name, path))  # type: ignore[arg-type]
        stem = safe_file_stem(f"{loc.snapshot_name}" + (f".{index}" if index else ""))
        base = SingleFileSnapshotExtension.dirname.__func__(Ext, test_location=loc)  # type: ignore[attr-defined]
        dirname = f"{base.rpartition('/')[0]}/{path.rpartition('/')[2]}"  # whole file name
        return (f"{dirname}/{stem}.yaml", stem, dirname, dirname.rpartition("/")[0])

    cases = [
        ("test_q[a/b]", "/p/t/test_m.py", 0),
        ("test_q[a/b]", "/p/t/test_m.py", 1),
        ("test_q[a/b]", "/p/u/test_m.py", 0),
        ("test_r", "/p/t/test_m.py", 0),
        ("test_r", "/p/t/cfg.yaml", 0),
    ]
    for case in cases * 2:  # the second round is served from the memo
        assert where(*case) == unmemoized(*case)
    # syrupy's --snapshot-dirname option changes the directory, memo or not
    monkeypatch.setattr(SnapshotCollectionStorage, "snapshot_dirname", "__other__")
    loc, _, dirname, _ = where("test_r", "/p/t/test_m.py")
    assert dirname == "/p/t/__other__/test_m.py" and loc.startswith(dirname + "/")
