"""Recorder modes with a fake `send`: matching, replay, record, refresh, live, errors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pytest_cfgateway.gateway.errors import NotRecordedError
from pytest_cfgateway.gateway.fingerprint import fingerprint
from pytest_cfgateway.gateway.redact import Secrets
from pytest_cfgateway.snapshots import Cassette, Mode, Recorder, is_final_status


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def record(mk: Any, send: Any, contents: list[str], **kw: Any) -> Cassette:
    rec = Recorder(mode="record", recorded=None, nodeid="t.py::test_x", **kw)

    async def go() -> None:
        for c in contents:
            await rec.resolve(mk(c), send)

    run(go())
    out = rec.finish()
    assert out.cassette is not None
    return out.cassette


def test_mode_accepts_strings_and_rejects_unknown() -> None:
    assert Recorder(mode="live", recorded=None, nodeid="x").mode is Mode.LIVE
    with pytest.raises(ValueError, match=r"unknown snapshot mode 'replya'.*replay, record"):
        Recorder(mode="replya", recorded=None, nodeid="x")


def test_record_then_replay_never_calls_send(mk: Any, fake_send: Any, send_factory: Any) -> None:
    cassette = record(mk, fake_send, ["a", "b"])
    assert [e.occurrence for e in cassette] == [0, 0]
    assert cassette.write is True
    assert [e.output_text for e in cassette] == ["echo: a", "echo: b"]
    assert cassette.exchanges[0].usage == {
        "prompt_tokens": 3,
        "completion_tokens": 5,
        "total_tokens": 8,
    }
    assert cassette.exchanges[0].latency_ms == 12.0  # whole milliseconds

    never = send_factory()
    rec = Recorder(mode=Mode.REPLAY, recorded=cassette, nodeid="t.py::test_x")
    raw = run(rec.resolve(mk("b"), never))
    assert raw.replayed is True
    assert raw.body["choices"][0]["message"]["content"] == "echo: b"
    assert never.calls == []
    out = rec.finish()
    assert out.replayed_count == 1 and out.live_count == 0
    assert out.cassette is cassette and out.cassette.write is False
    assert out.stale_count == 1


def test_nth_occurrence_and_gather_order(mk: Any, send_factory: Any) -> None:
    # Two identical requests get occurrences 0 and 1; a replay in another order still
    # answers each occurrence with its own recording.
    send = send_factory()
    rec = Recorder(mode="record", recorded=None, nodeid="t::x")

    async def go() -> list[Any]:
        return list(
            await asyncio.gather(
                rec.resolve(mk("same"), send),
                rec.resolve(mk("other"), send),
                rec.resolve(mk("same"), send),
            )
        )

    run(go())
    cassette = rec.finish().cassette
    assert cassette is not None
    same_fp = fingerprint(mk("same"), Secrets())
    assert sorted(e.occurrence for e in cassette if e.fingerprint == same_fp) == [0, 1]
    # Distinguish the occurrences, then replay with the calls gathered in reverse.
    cassette.get(same_fp, 1).body["choices"][0]["message"]["content"] = "second"  # type: ignore[union-attr]
    replay = Recorder(mode="replay", recorded=cassette, nodeid="t::x")

    async def go_reversed() -> list[Any]:
        return list(
            await asyncio.gather(
                replay.resolve(mk("other"), send),
                replay.resolve(mk("same"), send),
                replay.resolve(mk("same"), send),
            )
        )

    answers = [r.body["choices"][0]["message"]["content"] for r in run(go_reversed())]
    assert answers == ["echo: other", "echo: same", "second"]


def test_replay_missing_names_test_request_diff_and_command(mk: Any, fake_send: Any) -> None:
    recorded = record(mk, fake_send, ["What is the capital of France?"])
    rec = Recorder(
        mode="replay",
        recorded=recorded,
        nodeid="evals/promptfooconfig.yaml::capital[openai]",
        record_hint="pytest --cf-mode record 'evals/promptfooconfig.yaml::capital[openai]'",
    )
    with pytest.raises(NotRecordedError) as info:
        run(rec.resolve(mk("What is the capital of Spain?", temperature=0.2), fake_send))
    msg = str(info.value)
    assert "evals/promptfooconfig.yaml::capital[openai]: no recorded answer" in msg
    assert "POST openai chat/completions model=gpt-4o, occurrence 0" in msg
    assert (
        "body.messages[0].content: 'What is the capital of France?' -> "
        "'What is the capital of Spain?'" in msg
    )
    assert "body.temperature: (absent) -> 0.2" in msg
    assert (
        "record it with: pytest --cf-mode record 'evals/promptfooconfig.yaml::capital[openai]'"
        in msg
    )
    assert "--snapshot-update" in msg
    assert len(fake_send.calls) == 1  # only the recording call
    assert "SECRET" not in msg


def test_replay_without_snapshot_and_with_extra_occurrence(mk: Any, fake_send: Any) -> None:
    rec = Recorder(mode="replay", recorded=None, nodeid="t::x")
    with pytest.raises(NotRecordedError, match="has no snapshot yet"):
        run(rec.resolve(mk("a"), fake_send))
    recorded = record(mk, fake_send, ["a"])
    rec = Recorder(mode="replay", recorded=recorded, nodeid="t::x")
    run(rec.resolve(mk("a"), fake_send))
    with pytest.raises(NotRecordedError, match="recorded 1 time"):
        run(rec.resolve(mk("a"), fake_send))


def test_default_record_hint(mk: Any, fake_send: Any) -> None:
    rec = Recorder(mode="replay", recorded=None, nodeid="tests/test_a.py::test_b[x y]")
    with pytest.raises(NotRecordedError) as info:
        run(rec.resolve(mk("a"), fake_send))
    assert "pytest --cf-mode record 'tests/test_a.py::test_b[x y]'" in str(info.value)


def test_record_replays_matches_and_drops_stale(mk: Any, send_factory: Any) -> None:
    old = record(mk, send_factory("old"), ["keep", "gone"])
    send = send_factory("new")
    rec = Recorder(mode="record", recorded=old, nodeid="t::x")

    async def go() -> None:
        await rec.resolve(mk("keep"), send)
        await rec.resolve(mk("added"), send)

    run(go())
    out = rec.finish()
    assert [c.body["messages"][0]["content"] for c in send.calls] == ["added"]
    assert out.cassette is not None
    assert [e.output_text for e in out.cassette] == ["old: keep", "new: added"]
    assert out.replayed_count == 1 and out.live_count == 1 and out.stale_count == 1


def test_record_interrupted_keeps_every_recording(mk: Any, send_factory: Any) -> None:
    old = record(mk, send_factory("old"), ["a", "b"])
    send = send_factory("new")
    rec = Recorder(mode="record", recorded=old, nodeid="t::x")
    run(rec.resolve(mk("c"), send))
    out = rec.finish(completed=False)
    assert out.cassette is not None
    assert [e.output_text for e in out.cassette] == ["old: a", "old: b", "new: c"]


def test_record_nothing_used_gives_no_cassette(mk: Any, fake_send: Any) -> None:
    old = record(mk, fake_send, ["a"])
    out = Recorder(mode="record", recorded=old, nodeid="t::x").finish()
    assert out.cassette is None and out.stale_count == 1


def test_refresh_calls_everything(mk: Any, send_factory: Any) -> None:
    old = record(mk, send_factory("old"), ["a"])
    send = send_factory("new")
    rec = Recorder(mode="refresh", recorded=old, nodeid="t::x")
    run(rec.resolve(mk("a"), send))
    out = rec.finish()
    assert len(send.calls) == 1
    assert out.cassette is not None and out.cassette.write
    assert [e.output_text for e in out.cassette] == ["new: a"]


def test_live_reports_drift_and_never_writes(mk: Any, send_factory: Any) -> None:
    old = record(mk, send_factory("old"), ["a", "b"])
    old.exchanges[1].output_text = "new: b"  # b will not drift
    send = send_factory("new")
    rec = Recorder(mode="live", recorded=old, nodeid="t::x")

    async def go() -> None:
        await rec.resolve(mk("a"), send)
        await rec.resolve(mk("b"), send)
        await rec.resolve(mk("c"), send)

    run(go())
    out = rec.finish()
    assert len(send.calls) == 3 and out.live_count == 3
    assert out.cassette is old and out.cassette.write is False
    assert out.unrecorded_count == 1
    assert len(out.drift) == 1
    drift = out.drift[0]
    assert (drift.old_text, drift.new_text, drift.occurrence) == ("old: a", "new: a", 0)
    text = drift.describe()
    assert text.startswith("openai gpt-4o (request ")
    assert "-old: a" in text and "+new: a" in text


def test_live_without_snapshot_has_no_cassette(mk: Any, fake_send: Any) -> None:
    rec = Recorder(mode="live", recorded=None, nodeid="t::x")
    run(rec.resolve(mk("a"), fake_send))
    out = rec.finish()
    assert out.cassette is None and out.drift == [] and out.unrecorded_count == 1


def test_retryable_errors_are_not_stored_and_release_the_occurrence(
    mk: Any, send_factory: Any
) -> None:
    send = send_factory(statuses=[429, 503, 200])
    rec = Recorder(mode="record", recorded=None, nodeid="t::x")

    async def client_with_retries() -> Any:
        for _ in range(3):
            raw = await rec.resolve(mk("a"), send)
            if raw.status == 200:
                return raw
        raise AssertionError("no success")

    run(client_with_retries())
    cassette = rec.finish().cassette
    assert cassette is not None
    assert [(e.occurrence, e.status) for e in cassette] == [(0, 200)]


def test_error_replies_are_never_stored(mk: Any, send_factory: Any) -> None:
    # e.g. a 401 from a wrong CF_AIG_TOKEN: the test sees it, the snapshot never keeps it
    send = send_factory(statuses=[401, 400])
    rec = Recorder(mode="record", recorded=None, nodeid="t::x")
    assert run(rec.resolve(mk("a"), send)).status == 401
    assert run(rec.resolve(mk("a"), send)).status == 400
    assert rec.finish().cassette is None


@pytest.mark.parametrize("mode", ["record", "refresh"])
def test_an_error_an_old_snapshot_kept_is_called_again(
    mode: str, mk: Any, send_factory: Any
) -> None:
    req = mk("a")
    old = Cassette.from_text(
        "version: 1\nexchanges:\n"
        f"- {{fingerprint: {fingerprint(req)}, occurrence: 0, status: 401,"
        " body: {error: bad token}}\n"
    )
    # replay still answers from it (as before); record and refresh call again and keep 2xx
    replayed = run(Recorder(mode="replay", recorded=old, nodeid="t::x").resolve(req, None))
    assert replayed.status == 401
    send = send_factory("good")
    rec = Recorder(mode=mode, recorded=old, nodeid="t::x")
    assert run(rec.resolve(mk("a"), send)).status == 200
    cassette = rec.finish().cassette
    assert len(send.calls) == 1
    assert cassette is not None and [e.status for e in cassette] == [200]


def test_transport_error_releases_the_occurrence(mk: Any, fake_send: Any) -> None:
    rec = Recorder(mode="record", recorded=None, nodeid="t::x")

    async def boom(req: Any) -> Any:
        raise ConnectionError("dropped")

    with pytest.raises(ConnectionError):
        run(rec.resolve(mk("a"), boom))
    run(rec.resolve(mk("a"), fake_send))
    cassette = rec.finish().cassette
    assert cassette is not None and [e.occurrence for e in cassette] == [0]


@pytest.mark.parametrize(
    ("status", "final"),
    [
        (200, True),
        (201, True),
        (400, False),
        (401, False),
        (404, False),
        (408, False),
        (429, False),
        (500, False),
        (503, False),
        (302, False),
    ],
)
def test_is_final_status(status: int, final: bool) -> None:
    assert is_final_status(status) is final


def test_grader_kind_and_cache_hits(mk: Any, send_factory: Any) -> None:
    send = send_factory()
    rec = Recorder(mode="record", recorded=None, nodeid="t::x")

    async def hit(req: Any) -> Any:
        raw = await send(req)
        raw.headers["cf-aig-cache-status"] = "HIT"
        return raw

    run(rec.resolve(mk("a"), send))
    run(rec.resolver("grader")(mk("grade this"), hit))
    out = rec.finish()
    assert out.cassette is not None
    assert [e.kind for e in out.cassette] == ["chat", "grader"]
    assert out.cache_hits == 1


def test_use_after_finish_is_an_error(mk: Any, fake_send: Any) -> None:
    rec = Recorder(mode="record", recorded=None, nodeid="t::x")
    rec.finish()
    with pytest.raises(RuntimeError, match="after finish"):
        run(rec.resolve(mk("a"), fake_send))


def test_stored_request_is_redacted_and_allow_listed(mk: Any, fake_send: Any) -> None:
    req = mk(
        "use key sk-test-SECRET-0123456789 please",
        extra_headers={"x-api-key": "zzzzzzzzzz", "Prefer": "wait", "X-Custom": "v"},
    )
    rec = Recorder(mode="record", recorded=None, nodeid="t::x")
    run(rec.resolve(req, fake_send))
    cassette = rec.finish().cassette
    assert cassette is not None
    ex = cassette.exchanges[0]
    assert ex.request["headers"] == {
        "cf-aig-cache-ttl": "60",
        "content-type": "application/json",
        "prefer": "wait",
    }
    assert ex.request["body"]["messages"][0]["content"] == "use key <secret:OPENAI_API_KEY> please"
    assert ex.output_text == "echo: use key <secret:OPENAI_API_KEY> please"
    assert ex.headers == {"cf-aig-cache-status": "MISS"}  # per-call ids are not stored
    assert list(ex.request) == [
        "v",
        "provider",
        "route",
        "query",
        "repeat",
        "method",
        "model",
        "headers",
        "body",
    ]
    text = cassette.to_text()
    assert "SECRET" not in text and "cf-token" not in text and "zzzz" not in text


# --- in-place updates and the review of a changed answer ----------------------------------


def test_rerecording_the_same_answer_keeps_the_stored_exchange(mk: Any, send_factory: Any) -> None:
    old = Cassette.from_text(record(mk, send_factory("same"), ["a"]).to_text())
    old.exchanges[0].latency_ms = 5.0  # the first recording's latency
    rec = Recorder(mode="refresh", recorded=old, nodeid="t::x")
    run(rec.resolve(mk("a"), send_factory("same")))
    out = rec.finish()
    assert out.cassette is not None and out.cassette.exchanges[0] is old.exchanges[0]
    old.write = True
    assert out.cassette.to_text() == old.to_text()
    assert "latency_ms: 5\n" in old.to_text()
    assert (out.changed, out.committed_text, out.new_text) == (False, "same: a", "same: a")


def test_a_changed_request_takes_the_place_of_the_one_it_replaces(
    mk: Any, send_factory: Any
) -> None:
    rec = Recorder(mode="record", recorded=None, nodeid="t::x")

    async def first() -> None:
        await rec.resolve(mk("question v1"), send_factory("old"))
        await rec.resolver("grader")(mk("grade it"), send_factory("old"))

    run(first())
    old = rec.finish().cassette
    assert old is not None
    rec = Recorder(mode="record", recorded=old, nodeid="t::x")

    async def second() -> None:
        await rec.resolver("grader")(mk("grade it"), send_factory("new"))  # replayed
        await rec.resolve(mk("question v2"), send_factory("new"))  # a prompt edit

    run(second())
    out = rec.finish()
    assert out.cassette is not None
    data = out.cassette.to_data()
    assert [(e["role"], e["output_text"]) for e in data["exchanges"]] == [
        ("answer", "new: question v2"),
        ("grader", "old: grade it"),
    ]
    assert out.changed is True
    assert (out.committed_text, out.new_text) == ("old: question v1", "new: question v2")


def test_live_and_replay_review(mk: Any, send_factory: Any) -> None:
    old = record(mk, send_factory("old"), ["a"])
    replay = Recorder(mode="replay", recorded=old, nodeid="t::x")
    run(replay.resolve(mk("a"), None))
    assert replay.finish().changed is False
    live = Recorder(mode="live", recorded=old, nodeid="t::x")
    run(live.resolve(mk("a"), send_factory("new")))
    out = live.finish()
    assert (out.changed, out.committed_text, out.new_text) == (True, "old: a", "new: a")
    fresh = Recorder(mode="record", recorded=None, nodeid="t::x")
    run(fresh.resolve(mk("a"), send_factory("new")))
    out = fresh.finish()
    assert (out.changed, out.committed_text) == (True, None)
