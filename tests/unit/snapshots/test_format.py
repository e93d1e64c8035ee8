"""The cassette YAML: lossless round trip, readable diffs, validation, secret refusal."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from pytest_cfgateway.gateway.redact import Secrets
from pytest_cfgateway.snapshots import Cassette, CassetteError, Exchange, SecretLeakError
from pytest_cfgateway.snapshots.cassette import comparable, select_request_headers
from pytest_cfgateway.snapshots.yamlio import dump_yaml, literal_block_ok, load_yaml

TRICKY_STRINGS = [
    "",
    " ",
    "plain",
    "yes",
    "no",
    "on",
    "null",
    "~",
    "123",
    "1e3",
    "0x1F",
    "2024-01-01",
    "a: b",
    "- item",
    "# not a comment",
    "'quoted'",
    '"dq"',
    "%percent",
    "@at",
    "`tick",
    "{flow}",
    "[seq]",
    "trailing space ",
    " leading space",
    "tab\there",
    "line1\nline2",
    "line1\nline2\n",
    "line1\nline2\n\n\n",
    "\nleading newline",
    "  indented first\nsecond",
    "markdown hard break  \nnext line",
    "code:\n\tindented with tab\n",
    "windows\r\nline\r\n",
    "unicode: é ü ß 日本語 🙂\nzweite Zeile",
    "nel\x85char",
    "ls\u2028sep",
    "bom\ufeff",
    "ctrl\x01char\nline",
    "del\x7f",
    "---\ndocument marker",
    "...\nend marker",
    "\n",
    "\n\n",
    " \n ",
]


@pytest.mark.parametrize("text", TRICKY_STRINGS)
def test_strings_round_trip_exactly(text: str) -> None:
    data = {"s": text, "nested": [{"k": text}], text or "empty": 1}
    assert load_yaml(dump_yaml(data)) == data


def test_multiline_text_is_a_literal_block_and_diffs_by_line() -> None:
    answer = "\n".join(f"line {i}" for i in range(30)) + "\n"
    text = dump_yaml({"output_text": answer})
    assert text.startswith("output_text: |\n  line 0\n  line 1\n")
    changed = dump_yaml({"output_text": answer.replace("line 17", "LINE 17")})
    differing = [
        (a, b) for a, b in zip(text.splitlines(), changed.splitlines(), strict=True) if a != b
    ]
    assert differing == [("  line 17", "  LINE 17")]


def test_text_a_block_cannot_hold_becomes_lines() -> None:
    text = "first  \n\tsecond\nthird"
    out = dump_yaml({"t": text})
    assert out == "t: !lines\n- 'first  '\n- \"\\tsecond\"\n- third\n"
    assert load_yaml(out) == {"t": text}
    assert not literal_block_ok(text)
    assert literal_block_ok("a\nb\n")


def test_numbers_nested_json_and_flow_lists() -> None:
    data: dict[str, Any] = {
        "big": 10**40,
        "neg": -(2**63) - 1,
        "floats": [0.1 + 0.2, 1e-05, 1e300, -0.0, 5e-324, 123456789.123456789],
        "bools": [True, False, None],
        "empty": {"list": [], "map": {}},
        "nested": {"a": [{"b": [1, [2, [3, {"c": "d"}]]]}]},
        "embedding": [0.0123, -0.5, 1, 2],
    }
    text = dump_yaml(data)
    assert load_yaml(text) == data
    assert "embedding: [0.0123, -0.5, 1, 2]\n" in text
    assert "bools:\n- true\n- false\n- null\n" in text


def test_dump_is_deterministic_and_keeps_key_order() -> None:
    data = {"z": 1, "a": {"y": [1, 2], "b": "x\ny"}}
    assert dump_yaml(data) == dump_yaml(dict(data))
    assert dump_yaml(data).splitlines()[0] == "z: 1"


def test_no_anchors_for_shared_objects() -> None:
    shared = {"k": "v"}
    text = dump_yaml({"a": shared, "b": shared})
    assert "&" not in text and "*" not in text


def _exchange(**kw: Any) -> Exchange:
    base: dict[str, Any] = dict(
        fingerprint="f" * 64,
        occurrence=0,
        request={
            "v": 1,
            "provider": "openai",
            "route": "chat/completions",
            "query": {},
            "repeat": 0,
            "method": "POST",
            "headers": {"content-type": "application/json"},
            "body": {"a": 1},
        },
        status=200,
        headers={"cf-aig-cache-status": "MISS", "cf-aig-log-id": "L1"},
        body={"choices": [{"message": {"content": "Hello\nWorld\n"}}]},
        output_text="Hello\nWorld\n",
        usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        cost=0.000123,
        latency_ms=41.5,
    )
    base.update(kw)
    return Exchange(**base)


def test_cassette_text_round_trip_and_layout() -> None:
    cassette = Cassette([_exchange(), _exchange(occurrence=1, kind="grader")], write=True)
    text = cassette.to_text()
    assert text.startswith("version: 2\nexchanges:\n- role: answer\n  fingerprint: ffff")
    assert "- role: grader\n  fingerprint: ffff" in text and "\n  occurrence: 1\n" in text
    assert "  output_text: |\n    Hello\n    World\n" in text
    # one copy of the answer: the body holds a placeholder and where the text goes back
    assert text.count("Hello") == 2 and "content: (output_text)" in text
    assert "text_at: choices.0.message.content" in text
    assert "occurrence: 0" not in text and "v: 1" not in text  # defaults left out
    back = Cassette.from_text(text, source="x.yaml")
    assert back.exchanges == cassette.exchanges
    assert back.exchanges[0].body == {"choices": [{"message": {"content": "Hello\nWorld\n"}}]}
    assert back.source_text == text
    # An unchanged, loaded cassette serializes to its source text byte for byte.
    assert back.to_text() == text


def test_loaded_cassette_keeps_hand_formatting_when_not_written() -> None:
    text = Cassette([_exchange()], write=True).to_text().replace("status: 200", "status:   200")
    loaded = Cassette.from_text(text)
    assert loaded.to_text() == text
    loaded.write = True
    assert "status: 200" in loaded.to_text()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "not a pytest-cfgateway cassette"),
        ("version: 3\nexchanges: []\n", "cassette version 3 is not supported"),
        (
            "version: 2\nexchanges:\n- {fingerprint: f, status: 200, response: {body: x}}\n",
            "'role' must be",
        ),
        (
            "version: 2\nexchanges:\n- {role: answer, fingerprint: f, status: 200,"
            " output_text: x, response: {text_at: a.b, body: {a: 1}}}\n",
            "does not point into the body",
        ),
        ("version: 1\nexchanges: {}\n", "'exchanges' must be a list"),
        (
            "version: 1\nexchanges:\n- {occurrence: 0, status: 200, body: x}\n",
            r"exchanges\[0\]: 'fingerprint'",
        ),
        (
            "version: 1\nexchanges:\n- {fingerprint: f, occurrence: -1, status: 200, body: x}\n",
            "'occurrence' must be",
        ),
        (
            "version: 1\nexchanges:\n- {fingerprint: f, occurrence: 0, status: ok, body: x}\n",
            "'status' must be",
        ),
        (
            "version: 1\nexchanges:\n- {fingerprint: f, occurrence: 0, status: 200}\n",
            "'body' is missing",
        ),
        (
            "version: 1\nexchanges:\n"
            "- {fingerprint: f, occurrence: 0, status: 200, body: x, cost: cheap}\n",
            "'cost' must be",
        ),
        (
            "version: 1\nexchanges:\n- {fingerprint: f, occurrence: 0, status: 200, body: x}\n"
            "- {fingerprint: f, occurrence: 0, status: 200, body: y}\n",
            "two exchanges with fingerprint",
        ),
        ("version: 1\nexchanges: [\n", "not valid YAML"),
    ],
)
def test_invalid_cassettes_name_file_and_fix(text: str, message: str) -> None:
    with pytest.raises(CassetteError, match=message) as info:
        Cassette.from_text(text, source="snaps/t.yaml")
    assert str(info.value).startswith("snaps/t.yaml")


def test_version_1_files_are_read_without_per_call_ids() -> None:
    text = (
        "version: 1\nexchanges:\n- fingerprint: f\n  occurrence: 0\n  kind: grader\n"
        "  request: {v: 1, provider: openai, route: r, query: {}, repeat: 0,"
        " headers: {cf-aig-skip-cache: 'true'}, body: {}}\n"
        "  status: 200\n  headers: {cf-aig-log-id: L, cf-aig-step: '0'}\n"
        "  output_text: hi\n  latency_ms: 3.25\n  body: {choices: [{text: hi}]}\n"
    )
    c = Cassette.from_text(text)
    assert c.version == 1
    ex = c.exchanges[0]
    assert (ex.kind, ex.headers, ex.request["headers"]) == ("grader", {"cf-aig-step": "0"}, {})
    assert ex.to_response().body == {"choices": [{"text": "hi"}]}
    c.write = True
    assert c.to_text().startswith("version: 2\nexchanges:\n- role: grader\n")


def test_roles_follow_file_order_per_kind() -> None:
    exchanges = [
        _exchange(fingerprint=f, kind=k)
        for f, k in [("a", "chat"), ("b", "grader"), ("c", "grader"), ("d", "row"), ("e", "chat")]
    ]
    data = Cassette(exchanges).to_data()
    roles = [ex["role"] for ex in data["exchanges"]]
    assert roles == ["answer", "grader", "grader-2", "row", "answer-2"]
    back = Cassette.from_data(data)
    assert [ex.kind for ex in back] == ["chat", "grader", "grader", "row", "chat"]


def test_empty_exchanges_and_lookup() -> None:
    c = Cassette.from_text("version: 1\nexchanges:\n")
    assert len(c) == 0 and c.get("f", 0) is None
    c2 = Cassette([_exchange(), _exchange(occurrence=1)])
    assert c2.get("f" * 64, 1) is c2.exchanges[1]
    assert c2.occurrences("f" * 64) == 2


def test_secrets_are_scrubbed_everywhere_before_writing() -> None:
    secrets = Secrets({"OPENAI_API_KEY": "sk-live-abcdefgh12345"})
    ex = _exchange(
        body={"echo": "key=sk-live-abcdefgh12345", "sk-live-abcdefgh12345": ["x"]},
        output_text="my key is sk-live-abcdefgh12345\nok",
    )
    text = Cassette([ex], write=True, secrets=secrets).to_text()
    assert "sk-live" not in text
    assert text.count("<secret:OPENAI_API_KEY>") == 3


def test_refuses_to_write_a_secret_it_cannot_scrub() -> None:
    # A numeric secret (e.g. a PIN stored as a number) survives string scrubbing; the final
    # scan of the rendered text catches it.
    secrets = Secrets({"BANK_PASSWORD": "12345678901"})
    ex = _exchange(body={"n": 12345678901})
    with pytest.raises(SecretLeakError, match="'BANK_PASSWORD'") as info:
        Cassette([ex], write=True, secrets=secrets).to_text()
    assert "12345678901" not in str(info.value)


def test_request_header_allow_list() -> None:
    headers = {
        "Authorization": "Bearer k",
        "x-api-key": "k",
        "api-key": "k",
        "x-goog-api-key": "k",
        "cf-aig-authorization": "Bearer t",
        "Content-Type": "application/json",
        "anthropic-version": "2023-06-01",
        "cf-aig-metadata": '{"a":1}',
        "cf-aig-byok-alias": "prod",
        "cf-aig-skip-cache": "true",
        "Prefer": "wait",
        "X-Unknown": "dropped",
    }
    assert select_request_headers(headers) == {
        "anthropic-version": "2023-06-01",
        "cf-aig-byok-alias": "prod",
        "cf-aig-metadata": '{"a":1}',
        "content-type": "application/json",
        "prefer": "wait",
    }  # cf-aig-skip-cache depends on the mode, not the test: never stored


def test_comparable_ignores_latency_order_and_call_ids() -> None:
    a = Cassette([_exchange(), _exchange(fingerprint="a" * 64)]).to_data()
    b = Cassette(
        [
            _exchange(fingerprint="a" * 64, latency_ms=999.0),
            _exchange(
                headers={"cf-aig-cache-status": "HIT", "cf-aig-log-id": "L1"},
                body={
                    "id": "chatcmpl-2",
                    "created": 2,
                    "choices": [{"message": {"content": "Hello\nWorld\n"}}],
                },
            ),
        ]
    ).to_data()
    a["exchanges"][0]["response"]["body"] = {
        "id": "chatcmpl-1",
        "created": 1,
        **a["exchanges"][0]["response"]["body"],
    }
    assert comparable(a) == comparable(b)
    c = Cassette([_exchange(output_text="different"), _exchange(fingerprint="a" * 64)]).to_data()
    assert comparable(a) != comparable(c)


# --- the fast builder gives exactly PyYAML's data ----------------------------------------

HAND_WRITTEN = [
    "a: 1\nb: -5\nc: +5\nd: 012\ne: 0x1F\nf: 1_000\ng: 0\nh: 190:20:30\ni: 0b101\n",
    "a: 1.5\nb: .inf\nc: -.Inf\nd: 1e3\ne: 6.8523015e+5\nf: 1_0.5\ng: 190:20:30.15\n",
    "a: yes\nb: No\nc: on\nd: OFF\ne: true\nf: ~\ng: null\nh:\n",
    "d: 2024-01-31\nt: 2001-12-14t21:59:43.10-05:00\n",
    "b: !!binary aGVsbG8=\n",
    "s: !!set {a, b}\no: !!omap [{a: 1}, {b: 2}]\n",
    "base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n",
    "a: &x [1, 2]\nb: *x\n",
    "? [1, 2]\n: x\n",
    "a: !lines [one, two]\nb: !lines\n- 'x '\n- \"\\ty\"\n",
    "a: !lines []\n",
    "a: 1\na: 2\nb: 3\n",
    "a: !!str 12\nb: !!int '12'\nc: !!float '1'\nd: !!null ''\ne: !!bool 'yes'\n",
    "- 1\n- [2, {3: 4}]\n- {true: 1, null: 2, 1.5: 3}\n",
    "x: '١٢'\ny: !!int ١٢\n",
    "",
    "# only a comment\n",
    "plain\n",
]


def _reference(text: str) -> Any:
    from pytest_cfgateway.snapshots.yamlio import _CassetteLoader

    return yaml.load(text, Loader=_CassetteLoader)  # PyYAML's own constructor


def _result(fn: Any, text: str) -> Any:
    try:
        return ("ok", repr(fn(text)))
    except yaml.YAMLError as exc:
        return ("error", type(exc).__name__, str(exc))
    except (ValueError, RecursionError) as exc:
        return ("error", type(exc).__name__, str(exc))


@pytest.mark.parametrize("text", HAND_WRITTEN)
def test_fast_builder_equals_pyyaml_constructor(text: str) -> None:
    assert _result(load_yaml, text) == _result(_reference, text)


def test_recursive_alias_is_refused() -> None:
    """A recursive structure could never be scrubbed or written back: refused on read."""
    with pytest.raises(yaml.YAMLError, match="recursive alias"):
        load_yaml("a: &r [1, *r]\n")


@pytest.mark.parametrize("text", ["a: !lines {x: 1}\n", "a: !lines [1, 2]\n", "a: !nope x\n"])
def test_bad_tags_raise_pyyamls_error(text: str) -> None:
    with pytest.raises(yaml.YAMLError) as fast:
        load_yaml(text)
    with pytest.raises(yaml.YAMLError) as ref:
        _reference(text)
    assert str(fast.value) == str(ref.value)


def test_aliases_are_shared_as_pyyaml_shares_them() -> None:
    data = load_yaml("a: &x [1, 2]\nb: *x\n")
    assert data["a"] is data["b"]


@pytest.mark.parametrize("text", TRICKY_STRINGS)
def test_fast_builder_on_dumped_strings(text: str) -> None:
    dumped = dump_yaml({"s": text, "l": [text, {text or "e": [1, 2.5, None, True]}]})
    assert repr(load_yaml(dumped)) == repr(_reference(dumped))


def test_copy_data_is_a_deep_copy() -> None:
    from pytest_cfgateway.snapshots.cassette import copy_data

    body: dict[str, Any] = {"a": [1, {"b": "c"}], "t": (1, [2]), "n": None, "f": 1.5}
    copied = copy_data(body)
    assert copied == body
    copied["a"][1]["b"] = "changed"
    copied["t"][1].append(3)
    assert body == {"a": [1, {"b": "c"}], "t": (1, [2]), "n": None, "f": 1.5}
