"""A streamed exchange's ttft_ms survives the cassette round trip as the same float."""

from __future__ import annotations

from pytest_cfgateway.snapshots.cassette import Cassette, Exchange


def exchange(ttft: float | None) -> Exchange:
    return Exchange(
        fingerprint="f" * 64,
        occurrence=0,
        request={"provider": "openai", "route": "chat/completions", "headers": {}, "body": {}},
        status=200,
        headers={},
        body={"choices": [{"message": {"content": "hi"}}]},
        output_text="hi",
        latency_ms=12.0,
        ttft_ms=ttft,
    )


def test_ttft_round_trip_keeps_value_and_type() -> None:
    for ttft in (167.0, 3.4):
        text = Cassette(exchanges=[exchange(ttft)], write=True).to_text()
        assert f"ttft_ms: {ttft:g}" in text
        (back,) = Cassette.from_text(text).exchanges
        assert back.ttft_ms == ttft and isinstance(back.ttft_ms, float)
        assert back.to_response().ttft_ms == ttft


def test_non_streamed_exchange_has_no_ttft_line() -> None:
    text = Cassette(exchanges=[exchange(None)], write=True).to_text()
    assert "ttft_ms" not in text
    (back,) = Cassette.from_text(text).exchanges
    assert back.ttft_ms is None
