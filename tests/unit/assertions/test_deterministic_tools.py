"""is-valid-openai-tools-call, is-valid-openai-function-call, tool-call-f1, and webhook
(against a throwaway http.server on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from pytest_cfgateway.assertions.base import (
    AssertionCall,
    AssertionConfigError,
    AssertionContext,
    GradingResult,
)
from pytest_cfgateway.assertions.tools import HANDLERS as TOOL_HANDLERS
from pytest_cfgateway.assertions.tools import tool_names
from pytest_cfgateway.assertions.webhook import HANDLERS as WEBHOOK_HANDLERS
from pytest_cfgateway.assertions.webhook import handle_webhook

from .assertion_helpers import assertion_call, make_completion, run_sync

WEATHER_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    },
    {"type": "function", "function": {"name": "get_time"}},
]


def make_call(
    type_: str,
    value: Any,
    output: Any,
    *,
    threshold: float | None = None,
    tools: Any = WEATHER_TOOLS,
    tool_calls: list[dict[str, Any]] | None = None,
    vars: dict[str, Any] | None = None,
) -> AssertionCall:
    comp = None
    if tool_calls is not None:
        comp = make_completion(model="m", tool_calls=tool_calls)
    config = {} if tools is None else {"tools": tools}
    return assertion_call(
        type_,
        value,
        output,
        threshold=threshold,
        context=AssertionContext(
            completion=comp,
            provider_config=config,
            prompt="What is the weather?",
            vars=vars or {},
            provider_id="openai:gpt-test",
        ),
    )


def run(type_: str, value: Any, output: Any, **kw: Any) -> GradingResult:
    return run_sync(TOOL_HANDLERS, make_call(type_, value, output, **kw))


def tc(name: str, args: Any) -> dict[str, Any]:
    arguments = args if isinstance(args, str) else json.dumps(args)
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}


VALID_CALLS: list[tuple[str, Any, dict[str, Any], bool]] = [
    # type, output, extra kwargs, expected
    ("is-valid-openai-tools-call", [tc("get_weather", {"city": "Paris"})], {}, True),
    (
        "is-valid-openai-tools-call",
        {"tool_calls": [tc("get_weather", {"city": "Oslo", "days": 2})]},
        {},
        True,
    ),
    # tool calls given as JSON text fail, as in promptfoo (it wants an object)
    ("is-valid-openai-tools-call", json.dumps([tc("get_time", {})]), {}, False),
    # arguments must be a JSON string, as in promptfoo
    (
        "is-valid-openai-tools-call",
        [{"type": "function", "function": {"name": "get_time", "arguments": {}}}],
        {},
        False,
    ),
    ("is-valid-openai-tools-call", "MCP Tool Result (get_time): 12:00", {}, True),
    ("is-valid-openai-tools-call", "MCP Tool Error (get_time): boom", {}, False),
    ("is-valid-openai-tools-call", "", {"tool_calls": [tc("get_weather", {"city": "Rome"})]}, True),
    ("is-valid-openai-tools-call", [tc("get_weather", {})], {}, False),  # missing required
    ("is-valid-openai-tools-call", [tc("get_weather", {"city": 3})], {}, False),
    ("is-valid-openai-tools-call", [tc("get_weather", {"city": "x", "extra": 1})], {}, False),
    ("is-valid-openai-tools-call", [tc("launch_rocket", {})], {}, False),
    ("is-valid-openai-tools-call", [tc("get_weather", "{not json")], {}, False),
    ("is-valid-openai-tools-call", "The weather is nice.", {}, False),
    ("is-valid-openai-tools-call", [], {}, False),
    # promptfoo 0.123.1 ignores not- for this type: same verdict as the plain form
    ("not-is-valid-openai-tools-call", [tc("launch_rocket", {})], {}, False),
    ("not-is-valid-openai-tools-call", [tc("get_weather", {"city": "Paris"})], {}, True),
    ("not-is-valid-openai-tools-call", "plain text", {}, False),
    (
        "is-valid-openai-function-call",
        {"name": "get_weather", "arguments": '{"city": "Lima"}'},
        {},
        True,
    ),
    (
        "is-valid-openai-function-call",
        {"function_call": {"name": "get_weather", "arguments": "{}"}},
        {},
        False,
    ),
    # as in promptfoo 0.123.1: not- is ignored, arguments must be a JSON string, text is not parsed
    ("not-is-valid-openai-function-call", {"name": "nope", "arguments": "{}"}, {}, False),
    ("not-is-valid-openai-function-call", {"name": "get_time", "arguments": "{}"}, {}, True),
    ("is-valid-openai-function-call", {"name": "get_time", "arguments": {}}, {}, False),
    ("is-valid-openai-function-call", {"name": "get_time", "arguments": ""}, {}, False),
    ("is-valid-openai-function-call", '{"name": "get_time", "arguments": "{}"}', {}, False),
]


@pytest.mark.parametrize(("type_", "output", "kw", "expected"), VALID_CALLS)
def test_tools_call_validation(type_: str, output: Any, kw: dict[str, Any], expected: bool) -> None:
    result = run(type_, None, output, **kw)
    assert result.passed is expected, result.reason
    assert result.score == (1.0 if expected else 0.0)


def test_tools_call_reasons() -> None:
    assert run("is-valid-openai-tools-call", None, [tc("nope", {})]).reason == (
        'Called "nope", but there is no function with that name'
    )
    reason = run("is-valid-openai-tools-call", None, [tc("get_weather", {"city": 3})]).reason
    assert reason.startswith('Call to "get_weather" with arguments {"city":3} does not match')
    assert "city: 3 is not of type 'string'" in reason
    assert run("is-valid-openai-tools-call", None, "plain").reason.startswith(
        "OpenAI did not return a valid-looking tools response"
    )


def test_tools_call_without_declared_tools_is_a_config_error() -> None:
    with pytest.raises(AssertionConfigError, match="declare `tools`"):
        run("is-valid-openai-tools-call", None, [tc("get_weather", {"city": "x"})], tools=None)
    with pytest.raises(AssertionConfigError, match="no function name"):
        run("is-valid-openai-tools-call", None, [tc("x", {})], tools=[{"type": "function"}])


F1: list[tuple[str, Any, Any, float | None, bool, float]] = [
    # type, expected tools, output, threshold, pass, score
    ("tool-call-f1", ["get_weather"], [tc("get_weather", {})], None, True, 1.0),
    ("tool-call-f1", "get_weather, get_time", [tc("get_weather", {})], None, False, 2 / 3),
    ("tool-call-f1", "get_weather, get_time", [tc("get_weather", {})], 0.6, True, 2 / 3),
    ("tool-call-f1", ["a"], [tc("b", {})], None, False, 0.0),
    ("tool-call-f1", ["a"], "no tools called", None, False, 0.0),
    ("tool-call-f1", ["a", "b"], [{"name": "a"}, {"name": "b"}, {"name": "a"}], None, True, 1.0),
    (
        "tool-call-f1",
        ["search"],
        {"type": "tool_use", "name": "search", "input": {}},
        None,
        True,
        1.0,
    ),
    ("tool-call-f1", ["search"], [{"functionCall": {"name": "search"}}], None, True, 1.0),
    ("tool-call-f1", ["s"], {"toolCall": {"functionCalls": [{"name": "s"}]}}, None, True, 1.0),
    (
        "tool-call-f1",
        ["s"],
        'Calling:\n```json\n{"tool_calls": [{"function": {"name": "s"}}]}\n```',
        None,
        True,
        1.0,
    ),
    (
        "tool-call-f1",
        "a, b",
        'first {"tool_calls": [{"name": "a"}]} then {"tool_calls": [{"name": "b"}]}',
        None,
        True,
        1.0,
    ),
    # the score stays F1 under not- (promptfoo)
    ("not-tool-call-f1", ["a"], [tc("b", {})], None, True, 0.0),
    ("not-tool-call-f1", ["a"], [tc("a", {})], None, False, 1.0),
    ("not-tool-call-f1", "a,b", [tc("a", {})], None, True, 2 / 3),
]


@pytest.mark.parametrize(("type_", "value", "output", "threshold", "expected", "score"), F1)
def test_tool_call_f1(
    type_: str, value: Any, output: Any, threshold: float | None, expected: bool, score: float
) -> None:
    result = run(type_, value, output, threshold=threshold)
    assert result.passed is expected, result.reason
    assert result.score == pytest.approx(score)


def test_tool_call_f1_reads_completion_tool_calls_when_output_is_text() -> None:
    result = run("tool-call-f1", ["get_time"], "", tool_calls=[tc("get_time", {})])
    assert result.passed
    assert result.reason.startswith("Tool Call F1: 1.000 (precision=1.000, recall=1.000)")


def test_tool_call_f1_failure_reason() -> None:
    reason = run("tool-call-f1", "a,b", [tc("a", {})]).reason
    assert reason == (
        "Tool Call F1 score 0.667 is below threshold 1. Expected: [a, b], Called: [a]. "
        "Precision=1.000, Recall=0.500"
    )


@pytest.mark.parametrize("value", [None, 3, "", " , ", []])
def test_tool_call_f1_needs_expected_names(value: Any) -> None:
    with pytest.raises(AssertionConfigError, match="tool"):
        run("tool-call-f1", value, [tc("a", {})])


def test_tool_names_ignores_non_tool_json() -> None:
    assert tool_names('{"answer": 42}') == set()
    assert tool_names(None) == set()


# --- webhook -----------------------------------------------------------------------------


class _Grader(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    reply: Any = {"pass": True, "score": 0.9, "reason": "looks good"}
    status = 200

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        type(self).received.append(json.loads(self.rfile.read(length)))
        body = self.reply if isinstance(self.reply, bytes) else json.dumps(self.reply).encode()
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # silence test output
        return


@pytest.fixture(scope="module")
def _grader_server() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Grader)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/grade?token=s3cret-token-value"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def grader_url(_grader_server: str) -> str:
    _Grader.received = []
    _Grader.reply = {"pass": True, "score": 0.9, "reason": "looks good"}
    _Grader.status = 200
    return _grader_server


def webhook(type_: str, url: Any, output: Any = "the output") -> GradingResult:
    call = make_call(type_, url, output, vars={"city": "Paris"})
    assert WEBHOOK_HANDLERS["webhook"] is handle_webhook
    return asyncio.run(handle_webhook(call))


def test_webhook_posts_output_and_context(grader_url: str) -> None:
    result = webhook("webhook", grader_url, {"structured": True})
    assert result.passed and result.score == 0.9 and result.reason == "looks good"
    assert _Grader.received == [
        {
            "output": {"structured": True},
            "context": {"prompt": "What is the weather?", "vars": {"city": "Paris"}},
        }
    ]


@pytest.mark.parametrize(
    ("type_", "reply", "expected", "score"),
    [
        ("webhook", {"pass": True}, True, 1.0),
        ("webhook", {"pass": False}, False, 0.0),
        ("webhook", {"pass": False, "score": 0.2, "reason": "too short"}, False, 0.2),
        ("not-webhook", {"pass": False, "score": 0.2}, True, 0.8),
        ("not-webhook", {"pass": True}, False, 0.0),
    ],
)
def test_webhook_verdicts(
    grader_url: str, type_: str, reply: Any, expected: bool, score: float
) -> None:
    _Grader.reply = reply
    result = webhook(type_, grader_url)
    assert result.passed is expected, result.reason
    assert result.score == pytest.approx(score)
    assert not result.grader_error


@pytest.mark.parametrize(
    ("reply", "status", "fragment"),
    [
        ({"pass": "yes"}, 200, 'must answer {"pass": true|false'),
        ({"score": 1}, 200, 'must answer {"pass": true|false'),
        ({"pass": True, "score": "high"}, 200, "non-numeric score"),
        (b"not json", 200, "did not answer with JSON"),
        ({"pass": True}, 500, "answered HTTP 500"),
    ],
)
def test_webhook_bad_answers_are_grader_errors(
    grader_url: str, reply: Any, status: int, fragment: str
) -> None:
    _Grader.reply = reply
    _Grader.status = status
    for type_ in ("webhook", "not-webhook"):  # never flipped into a pass
        result = webhook(type_, grader_url)
        assert not result.passed and result.grader_error
        assert fragment in result.reason
        assert "s3cret" not in result.reason  # the query string (may hold a token) is not echoed


def test_webhook_unreachable_is_a_grader_error() -> None:
    result = webhook("webhook", "http://127.0.0.1:9/grade?key=abcdefgh12345678")
    assert not result.passed and result.grader_error
    assert result.reason.startswith("Webhook error: request to http://127.0.0.1:9/grade failed")
    assert "abcdefgh" not in result.reason


@pytest.mark.parametrize("url", [None, "", "ftp://x/y", "grade.example.com", 42])
def test_webhook_needs_an_http_url(url: Any) -> None:
    with pytest.raises(AssertionConfigError, match="webhook URL"):
        webhook("webhook", url)
