"""The user-code executor: every piece of Python or JavaScript written in a config runs here.

Pure (knows nothing of pytest). Used for ``python``/``javascript`` assertions, transforms
(``options.transform``, assertion ``transform``/``contextTransform``, ``transformVars``,
provider ``transform``), ``file://`` value scripts, and -- through `js_function` -- JavaScript
prompt functions and ``nunjucksFilters``; also JavaScript var loaders and test generators
(`js_value`) and ``extensions`` hooks (Python and JavaScript).

**Where code runs.** In a pool of warm worker processes (`_pool.Executor`, at most
`MAX_WORKERS`, started on first use and kept for the session), never in the pytest process:

- a time limit is real: on expiry the worker is killed (SIGKILL) and replaced, which stops a
  Python ``time.sleep``, a JavaScript ``while(true){}`` or a busy loop alike (the embedded
  JavaScript engine, dukpy/QuickJS, holds the GIL and has no interrupt in its Python API, and
  SIGALRM only reaches the main thread, so nothing in-process could stop it);
- ``SystemExit``/``KeyboardInterrupt`` raised by user code come back as an error reply, and
  ``os._exit`` or a segfault only ends a worker: the pytest session and the other items are
  untouched (each becomes an error of the item whose code did it);
- JavaScript runs in one QuickJS context per worker, reused across calls (functions are
  compiled once per source and cached), so inline JavaScript is *not* run in-process.

Measured per-call overhead (``bench/usercode.py``; see its docstring for the numbers): a warm
call costs one pipe round trip plus JSON encoding, well under a millisecond; the first call
of a session pays for starting a worker (a Python start-up, ~50-100 ms).

**Arguments and results cross as JSON.** Arguments must be JSON-like (str, number, bool,
None, list, dict); anything else is a `UserCodeError` naming the call. Python results:
dataclasses become dicts, sets lists, NaN/inf stay floats; other objects are an error.
JavaScript results come back faithfully where Python has the value (``NaN``, ``Infinity``,
``-Infinity`` as floats at any depth, BigInt as int) and as `JsSpecial` markers where it has
not (top-level ``undefined``, a function, a symbol): `describe_js` names them for messages.
Inside objects and arrays ``undefined`` follows ``JSON.stringify`` (dropped from objects,
``null`` in arrays).

**Time limit.** Each call takes ``timeout`` seconds; None means `DEFAULT_TIMEOUT_S` (30 s):
long enough for user code that does real work (a tokenizer, a file read, a local model),
short enough that a hung script in CI fails within a minute instead of hitting the CI job's
own limit with nothing reported. Callers pass ``evaluateOptions.timeoutMs`` when the config
sets it.

**Errors** (`errors`): `UserCodeRaised` -- the code raised (a verdict-level failure);
`UserCodeAborted` -- `UserCodeTimeout`, `UserCodeExited` (SystemExit, KeyboardInterrupt),
`UserCodeCrashed` (the worker died): never a verdict, the item is an error naming the code.

API::

    value = run(python_source(src, "main", [output, ctx], label="python assertion `...`"),
                timeout=1.0)
    value = await arun(js_body("return output.toUpperCase()", ("output", "context"),
                               ["hi", {}], label="transform"), timeout=None)
    fn_result = run(js_function("function (x) { return x * 2 }", [21], label="filter"))
    python_file(path, fn, args, label=...), js_file(path, fn, args, label=..., fallback=True)

`limited(seconds)` sets the limit for work in the current context that takes no explicit
``timeout`` (`current_limit()`: user regexes, see ``assertions.jsregex``). `running()` gives,
for the current context, the labels of user code in flight (so a caller
that times out a whole evaluation can say what was running); `shutdown()` stops the pool.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import dataclasses
import json
import math
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import (
    UserCodeAborted,
    UserCodeCrashed,
    UserCodeError,
    UserCodeExited,
    UserCodeRaised,
    UserCodeTimeout,
)

if TYPE_CHECKING:
    from ._pool import Executor

#: Time limit of one call when the config sets no ``evaluateOptions.timeoutMs``.
DEFAULT_TIMEOUT_S = 30.0
#: Worker processes per pytest process (assertions of a case run three at a time).
MAX_WORKERS = 4

_EXITS = frozenset({"SystemExit", "KeyboardInterrupt", "GeneratorExit"})
_TAG = "__cfgateway_js__"


@dataclasses.dataclass(frozen=True)
class JsSpecial:
    """A JavaScript value Python has no equivalent for (``undefined``, a function, a symbol)."""

    kind: str

    def __repr__(self) -> str:
        return self.kind


JS_UNDEFINED = JsSpecial("undefined")


@dataclasses.dataclass(frozen=True)
class Request:
    """One call: an op for the worker, its fields, and the label used in errors."""

    op: str
    fields: dict[str, Any]
    label: str

    def payload(self) -> dict[str, Any]:
        return {"op": self.op, "label": self.label, **self.fields}


def python_source(source: str, fn: str, args: Sequence[Any], *, label: str) -> Request:
    """Python ``source`` (compiled once per worker) defining ``fn``, called with ``args``."""
    return Request("py_source", {"source": source, "fn": fn, "args": list(args)}, label)


def python_file(path: Path | str, fn: str, args: Sequence[Any], *, label: str) -> Request:
    """``fn`` of the Python file ``path`` (imported once per file version per worker)."""
    return Request("py_file", {"path": str(path), "fn": fn, "args": list(args)}, label)


def js_body(body: str, params: Sequence[str], args: Sequence[Any], *, label: str) -> Request:
    """``new Function(...params, body)`` called with ``args``. A ``process`` parameter with
    no argument given receives the engine's ``process`` object (promptfoo's transforms)."""
    return Request("js_body", {"body": body, "params": list(params), "args": list(args)}, label)


def js_function(source: str, args: Sequence[Any], *, label: str) -> Request:
    """A JavaScript function *expression* (``function (x) {...}``, ``x => ...``) called with
    ``args``: prompt functions and ``nunjucksFilters`` given as source."""
    return Request("js_function", {"source": source, "args": list(args)}, label)


def js_file(
    path: Path | str, fn: str | None, args: Sequence[Any], *, label: str, fallback: bool = True
) -> Request:
    """A function exported by a CommonJS or ES module file: the export ``fn`` if named (else,
    with ``fallback``, the module itself or its default export, as promptfoo picks)."""
    return Request(
        "js_file",
        {"path": str(path), "fn": fn, "args": list(args), "fallback": fallback},
        label,
    )


def js_value(path: Path | str, fn: str | None, args: Sequence[Any], *, label: str) -> Request:
    """What a JavaScript module file exports (its default export, else the module; or its
    export ``fn``), called with ``args`` when it is a function (promptfoo's test generators:
    a file may export the tests themselves or a function that returns them)."""
    return Request("js_value", {"path": str(path), "fn": fn, "args": list(args)}, label)


# --- the process-wide pool ---------------------------------------------------------------

_executor: Executor | None = None
#: what user code printed passes through this before it is written (the plugin's secret scrub:
#: a hook run outside an item's capture prints straight to the terminal)
_output_filter: Callable[[str], str] | None = None


def set_output_filter(fn: Callable[[str], str] | None) -> None:
    """Pass what user code prints through ``fn`` before it reaches ``sys.stdout``."""
    global _output_filter
    _output_filter = fn


_executor_lock = threading.Lock()
_running: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "cfgateway_usercode_running", default=None
)


def executor() -> Executor:
    """The process-wide pool (created on first use, stopped at exit)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            from ._pool import Executor  # loaded on first use: keeps plugin start-up cheap

            _executor = Executor(MAX_WORKERS)
            atexit.register(shutdown)
        return _executor


def prewarm(count: int = 1) -> None:
    """Start ``count`` workers in the background now, so the first call finds one warm."""
    executor().prewarm(count)


def shutdown() -> None:
    """Stop the pool's workers; a later call starts a new pool."""
    global _executor
    with _executor_lock:
        ex, _executor = _executor, None
    if ex is not None:
        ex.shutdown()


@contextlib.contextmanager
def running() -> Iterator[list[str]]:
    """Track the labels of user code in flight in this context (and tasks started from it),
    and of code that was cancelled or aborted (timed out, exited, crashed) there."""
    labels: list[str] = []
    token = _running.set(labels)
    try:
        yield labels
    finally:
        _running.reset(token)


def note_aborted(label: str) -> None:
    """Name code run in this process (a user regex) that was stopped by its time limit, so
    a case timeout that ends the case meanwhile still names it (see `running`)."""
    labels = _running.get()
    if labels is not None:
        labels.append(label)


_limit_var: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "cfgateway_usercode_limit", default=None
)


@contextlib.contextmanager
def limited(timeout: float | None) -> Iterator[None]:
    """Set the time limit that code run in this context without an explicit ``timeout``
    (e.g. a user regex, see `current_limit`) gets; None keeps the default."""
    token = _limit_var.set(timeout)
    try:
        yield
    finally:
        _limit_var.reset(token)


def current_limit() -> float:
    """The time limit (seconds) set by `limited` for this context, else the default."""
    return _limit(_limit_var.get())


def _limit(timeout: float | None) -> float:
    if timeout is None or not math.isfinite(timeout) or timeout <= 0:
        return DEFAULT_TIMEOUT_S
    return float(timeout)


def run(request: Request, *, timeout: float | None = None) -> Any:
    """Run ``request`` and return its value (blocking); see the module docstring."""
    labels = _running.get()
    if labels is not None:
        labels.append(request.label)
    try:
        reply = executor().call(request.payload(), timeout=_limit(timeout), label=request.label)
    except UserCodeAborted:
        raise  # the label stays (see `arun`)
    except BaseException:
        if labels is not None:
            labels.remove(request.label)
        raise
    if labels is not None:
        labels.remove(request.label)
    return _decode(reply, request.label)


async def arun(request: Request, *, timeout: float | None = None) -> Any:
    """`run` for a coroutine: a slow call waits in a thread, never on the event loop."""
    import asyncio

    labels = _running.get()
    if labels is not None:
        labels.append(request.label)
    try:
        reply = await executor().acall(
            request.payload(), timeout=_limit(timeout), label=request.label
        )
    except (asyncio.CancelledError, UserCodeAborted):
        raise  # the label stays: whoever cancels or times out the whole case can name it
    except BaseException:
        if labels is not None:
            labels.remove(request.label)
        raise
    if labels is not None:
        labels.remove(request.label)
    return _decode(reply, request.label)


def _decode(reply: dict[str, Any], label: str) -> Any:
    out = reply.get("out")
    if out:
        if _output_filter is not None:
            out = _output_filter(out)
        sys.stdout.write(out)  # pytest captures it with the item's output
    if reply.get("ok"):
        if "js" in reply:
            return decode_js(str(reply["js"]))
        return reply.get("value")
    err = reply.get("error") or {}
    type_name = str(err.get("type") or "Error")
    message = str(err.get("message") or "")
    lang = str(err.get("lang") or "")
    details = str(err.get("traceback") or "")
    if type_name in _EXITS and lang == "python":
        raise UserCodeExited(
            label,
            f"raised {message or type_name}, which would end the test session; "
            "return a value or raise an ordinary exception instead",
            details=details,
            lang=lang,
        )
    raise UserCodeRaised(label, message, type_name=type_name, details=details, lang=lang)


def _untag(obj: dict[str, Any]) -> Any:
    if len(obj) <= 2 and _TAG in obj:
        kind = obj[_TAG]
        if kind in ("NaN", "Infinity", "-Infinity"):
            return float(kind.replace("Infinity", "inf"))
        if kind == "bigint":
            return int(obj.get("value", "0"))
        return JS_UNDEFINED if kind == "undefined" else JsSpecial(str(kind))
    return obj


def decode_js(text: str) -> Any:
    """A value encoded by the worker's ``__cf_encode`` (JSON with tags) as Python."""
    return json.loads(text, object_hook=_untag)["v"]


def describe_js(value: Any) -> str:
    """How JavaScript would print ``value`` (for messages): ``Infinity``, ``undefined``..."""
    if isinstance(value, JsSpecial):
        return value.kind
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except ValueError:
        text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


__all__ = [
    "DEFAULT_TIMEOUT_S",
    "JS_UNDEFINED",
    "MAX_WORKERS",
    "JsSpecial",
    "Request",
    "UserCodeAborted",
    "UserCodeCrashed",
    "UserCodeError",
    "UserCodeExited",
    "UserCodeRaised",
    "UserCodeTimeout",
    "arun",
    "current_limit",
    "decode_js",
    "describe_js",
    "executor",
    "js_body",
    "js_file",
    "js_function",
    "js_value",
    "limited",
    "note_aborted",
    "prewarm",
    "python_file",
    "python_source",
    "run",
    "running",
    "shutdown",
]
