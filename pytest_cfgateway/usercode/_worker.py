"""The user-code worker process (run as a script by `pytest_cfgateway.usercode._pool`).

Self-contained on purpose: it is started by path, imports nothing of the plugin, and only
the standard library (plus ``dukpy`` on the first JavaScript call). It reads requests from
its stdin and writes replies to its stdout as length-prefixed JSON frames
(``multiprocessing.connection`` framing); fd 0 and 1 are then pointed at ``/dev/null`` so
user code cannot corrupt the protocol. ``print`` output of a call is captured and returned
with its reply. Every ``BaseException`` of user code (``SystemExit``, ``KeyboardInterrupt``
included) becomes an error reply; a worker that dies (``os._exit``, a segfault) or is
killed on timeout is replaced by the pool.

Requests: ``{"op": ..., "args": [...], ...}``; ops ``py_source`` (``source``, ``fn``),
``py_file`` (``path``, ``fn``), ``js_body`` (``params``, ``body``), ``js_file`` (``path``,
``fn``, ``fallback``), ``js_value`` (``path``, ``fn``: an export, called if a function),
``js_function`` (``source``). Replies: ``{"ok": true, "value": ...}``
(Python values) or ``{"ok": true, "js": "<tagged JSON text>"}`` (JavaScript values, decoded by
the parent), or ``{"ok": false, "error": {"type", "message", "traceback", "lang"}}``; both with
``"out"`` (captured stdout and stderr text).
"""

from __future__ import annotations

import asyncio
import dataclasses
import faulthandler
import hashlib
import importlib.util
import inspect
import io
import json
import math
import os
import re
import sys
import traceback
import types
from multiprocessing.connection import Connection
from typing import Any

MAX_CAPTURED = 64 * 1024
#: appended to the message of an error met while compiling JavaScript source
NOT_JS = " (the code does not parse as JavaScript)"

# --- Python -------------------------------------------------------------------------------

_SCRIPT_GLOBALS: dict[str, Any] = {"json": json, "re": re, "math": math}
_compiled: dict[tuple[str, str], Any] = {}
_modules: dict[tuple[str, int], types.ModuleType] = {}


class ResultNotJSON(TypeError):
    """User code returned a value that cannot be passed back as JSON."""


def _py_value(value: Any) -> Any:
    if inspect.isawaitable(value):
        value = asyncio.run(_await(value))
    return value


async def _await(value: Any) -> Any:
    return await value


def _json_default(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=repr)
    raise ResultNotJSON(
        f"returned a {type(obj).__name__}, which cannot be passed back to the test "
        "process; return JSON-like values (str, number, bool, None, list, dict)"
    )


def _py_source(req: dict[str, Any]) -> Any:
    key = (req["source"], req["fn"])
    fn = _compiled.get(key)
    if fn is None:
        namespace: dict[str, Any] = dict(_SCRIPT_GLOBALS)
        exec(compile(req["source"], f"<{req.get('label') or 'inline'}>", "exec"), namespace)
        fn = namespace[req["fn"]]
        _compiled[key] = fn
    return _py_value(fn(*req["args"]))


def _py_file(req: dict[str, Any]) -> Any:
    path = os.path.abspath(req["path"])
    key = (path, os.stat(path).st_mtime_ns)
    module = _modules.get(key)
    if module is None:
        digest = hashlib.sha1(path.encode()).hexdigest()[:12]
        name = f"_cfgateway_user_{os.path.splitext(os.path.basename(path))[0]}_{digest}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        parent = os.path.dirname(path)
        added = parent not in sys.path
        if added:
            sys.path.insert(0, parent)
        try:
            spec.loader.exec_module(module)
        finally:
            if added and parent in sys.path:
                sys.path.remove(parent)
        _modules[key] = module
    fn: Any = module
    for part in req["fn"].split("."):  # "Class.method": a static or class method, as promptfoo
        fn = getattr(fn, part, None)
    if not callable(fn):
        available = sorted(
            n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
        )
        raise LookupError(
            f"{path} has no function {req['fn']!r} (functions there: "
            f"{', '.join(available) or 'none'})"
        )
    return _py_value(fn(*req["args"]))


# --- JavaScript ---------------------------------------------------------------------------

#: Installed once per interpreter. ``__cf_encode`` turns any JS value into JSON text in which
#: values JSON cannot carry are tagged objects ``{"__cfgateway_js__": kind, ...}``.
_JS_RUNTIME = r"""
globalThis.__cf = {fns: {}, mods: {}, result: undefined};
globalThis.__cf_encode = function (v) {
  var TAG = '__cfgateway_js__';
  function tag(x) {
    if (typeof x === 'number' && !isFinite(x)) { var o = {}; o[TAG] = String(x); return o; }
    if (typeof x === 'bigint') { var b = {}; b[TAG] = 'bigint'; b.value = String(x); return b; }
    return x;
  }
  var t = typeof v;
  if (t === 'undefined' || t === 'function' || t === 'symbol') {
    var u = {}; u[TAG] = t; return JSON.stringify({v: u});
  }
  return JSON.stringify({v: v}, function (k, x) { return tag(x); });
};
globalThis.__cf_invoke = function (fn, addProcess) {
  // "o<json>" a value, "e<json>" an error, "p" a pending promise (read with __cf_settled)
  var args = dukpy.args, out;
  if (addProcess) {
    args = args.slice();
    args.push(typeof process === 'undefined' ? {env: {}} : process);
  }
  try { out = fn.apply(null, args); } catch (e) { return 'e' + JSON.stringify(__cf_error(e)); }
  if (out && typeof out.then === 'function') {
    __cf.result = undefined;
    out.then(function (v) { __cf.result = 'o' + __cf_encode(v); },
             function (e) { __cf.result = 'e' + JSON.stringify(__cf_error(e)); });
    return 'p';
  }
  try { return 'o' + __cf_encode(out); } catch (e) { return 'e' + JSON.stringify(__cf_error(e)); }
};
globalThis.__cf_settled = function () {
  var r = __cf.result; __cf.result = undefined;
  if (r !== undefined) return r;
  var msg = 'the returned promise never settled';
  return 'e' + JSON.stringify({type: 'Error', message: msg, stack: ''});
};
globalThis.__cf_error = function (e) {
  if (e && typeof e === 'object') {
    var msg = e.message === undefined ? e : e.message;
    return {type: String(e.name || 'Error'), message: String(msg), stack: String(e.stack || '')};
  }
  return {type: 'thrown value', message: String(e), stack: ''};
};
// console.* lines go to the call's captured output (dukpy's go to Python logging, which
// nobody sees); objects as JSON, as a reader of Node's output would expect
(function () {
  function text(a) {
    if (typeof a === 'string') return a;
    try { var j = JSON.stringify(a); return j === undefined ? String(a) : j; }
    catch (e) { return String(a); }
  }
  function write() { call_python('cf_print', Array.prototype.map.call(arguments, text).join(' ')); }
  console.log = console.info = console.warn = console.error = console.debug = write;
})();
null;
"""

_interp: Any = None
_js_ids: dict[tuple[str, ...], int] = {}


class JsThrew(Exception):
    """JavaScript threw (or rejected): carries its error name, message and stack."""

    def __init__(self, type_name: str, message: str, stack: str) -> None:
        super().__init__(message)
        self.type_name, self.message, self.stack = type_name, message, stack


def _js_print(text: Any) -> None:
    """A console.* line of JavaScript user code: into the call's captured output."""
    sys.stdout.write(f"{text}\n")


def _js() -> Any:
    global _interp
    if _interp is None:
        import dukpy

        interp = dukpy.JSInterpreter()
        interp.export_function("cf_print", _js_print)
        interp.evaljs(_JS_RUNTIME)
        _interp = interp
    return _interp


def _js_eval(code: str, **kwargs: Any) -> Any:
    import dukpy

    try:
        return _js().evaljs(code, **kwargs)
    except dukpy.JSRuntimeError as exc:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else "JavaScript error"
        m = re.match(r"(?:Error: )?([A-Za-z]*Error): (.*)", first)
        if m:
            raise JsThrew(m.group(1), m.group(2), text) from None
        raise JsThrew("Error", first, text) from None


def _js_call(fn_expr: str, args: list[Any], *, add_process: bool = False) -> str:
    flag = "true" if add_process else "false"
    res = str(_js_eval(f"__cf_invoke({fn_expr}, {flag})", args=args))
    if res == "p":
        res = str(_js_eval("__cf_settled()"))
    if res.startswith("e"):
        err = json.loads(res[1:])
        raise JsThrew(str(err["type"]), str(err["message"]), str(err["stack"]))
    return res[1:]


def _js_compiled(key: tuple[str, ...], make: str, **kwargs: Any) -> str:
    ident = _js_ids.get(key)
    if ident is None:
        ident = len(_js_ids) + 1
        try:
            _js_eval(f"__cf.fns[{ident}] = {make}; null;", **kwargs)
        except JsThrew as exc:
            raise JsThrew(exc.type_name, exc.message + NOT_JS, exc.stack) from None
        _js_ids[key] = ident
    return f"__cf.fns[{ident}]"


def _js_body(req: dict[str, Any]) -> str:
    params = list(req["params"])
    fn = _js_compiled(
        ("body", *params, req["body"]),
        "Function.apply(null, dukpy.params.concat([dukpy.body]))",
        params=params,
        body=req["body"],
    )
    args = list(req["args"])
    # promptfoo passes a process shim as the last argument of inline transforms
    return _js_call(fn, args, add_process="process" in params and len(args) < len(params))


def _js_function(req: dict[str, Any]) -> str:
    fn = _js_compiled(
        ("function", req["source"]), "(0, eval)('(' + dukpy.src + ')')", src=req["source"]
    )
    return _js_call(fn, list(req["args"]))


def _js_module(path: str) -> int:
    """Load a CommonJS or ES module file once per file version; its id in ``__cf.mods``."""
    key = ("file", path, str(os.stat(path).st_mtime_ns))
    ident = _js_ids.get(key)
    if ident is None:
        ident = len(_js_ids) + 1
        target = json.dumps(path.replace(os.sep, "/"))
        try:
            _js_eval(f"__cf.mods[{ident}] = require({target}); null;")
        except JsThrew as exc:
            if "ES module" not in exc.message and "ES module" not in exc.stack:
                raise
            _js()._evaljs_module(
                f"import * as m from {target}; globalThis.__cf.mods[{ident}] = m;",
                module_name=f"cfgateway-entry-{ident}.mjs",
            )
        _js_ids[key] = ident
    return ident


def _js_value(req: dict[str, Any]) -> str:
    """promptfoo's ``importModule(path, fn)`` then "call it if it is a function": the
    module's default export (else the module), or its export ``fn``; a function is called
    with ``args``, any other value is returned as it is (e.g. an exported array of tests)."""
    path = os.path.abspath(req["path"])
    ident = _js_module(path)
    name = req.get("fn")
    pick = (
        f"(function (m, n) {{"
        f" var mod = (m && m.default && m.default.default) || (m && m.default) || m;"
        f" if (!n) return mod;"
        f" if (mod && mod[n] !== undefined) return mod[n];"
        f" return m ? m[n] : undefined; }})(__cf.mods[{ident}], {json.dumps(name)})"
    )
    kind = _js_eval(f"typeof {pick}")
    if kind == "function":
        return _js_call(pick, list(req["args"]))
    if name and kind == "undefined":
        raise LookupError(f"{path} does not export {name!r}")
    return str(_js_eval(f"__cf_encode({pick})"))


def _js_file(req: dict[str, Any]) -> str:
    path = os.path.abspath(req["path"])
    ident = _js_module(path)
    name = req.get("fn")
    fallback = bool(req.get("fallback", True))
    pick = (
        f"(function (m, n, fb) {{"
        f" if (n && m && Object.prototype.hasOwnProperty.call(m, n) && typeof m[n] === 'function')"
        f" return m[n];"
        f" if (n && !fb) return undefined;"
        f" if (typeof m === 'function') return m;"
        f" if (m && typeof m.default === 'function') return m.default;"
        f" if (m && m.default && typeof m.default.default === 'function') return m.default.default;"
        f" return undefined; }})(__cf.mods[{ident}], {json.dumps(name)}, {json.dumps(fallback)})"
    )
    kind = _js_eval(f"typeof {pick}")
    if kind != "function":
        what = f"function {name!r}" if name else "a function (module.exports or default export)"
        raise LookupError(f"{path} does not export {what}")
    return _js_call(pick, list(req["args"]))


# --- the loop -----------------------------------------------------------------------------

_OPS = {
    "py_source": _py_source,
    "py_file": _py_file,
    "js_body": _js_body,
    "js_file": _js_file,
    "js_value": _js_value,
    "js_function": _js_function,
}


def _error(exc: BaseException, lang: str) -> dict[str, Any]:
    if isinstance(exc, JsThrew):
        return {"type": exc.type_name, "message": exc.message, "traceback": exc.stack, "lang": lang}
    tb = "".join(traceback.format_exception(exc))
    message = str(exc)
    if isinstance(exc, SystemExit):
        message = f"SystemExit({exc.code!r})"
    return {"type": type(exc).__name__, "message": message, "traceback": tb, "lang": lang}


def _handle(req: dict[str, Any]) -> dict[str, Any]:
    op = req.get("op", "")
    lang = "javascript" if op.startswith("js_") else "python"
    buf = io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = buf
    try:
        value = _OPS[op](req)
        if lang == "javascript":
            reply: dict[str, Any] = {"ok": True, "js": value}
        else:
            reply = {"ok": True, "value": value}
        text = json.dumps(reply, default=_json_default)
    except BaseException as exc:  # user code may raise anything, SystemExit included
        text = json.dumps({"ok": False, "error": _error(exc, lang)}, default=str)
    finally:
        sys.stdout, sys.stderr = saved
    out = buf.getvalue()
    if out:
        reply = json.loads(text)
        reply["out"] = out[-MAX_CAPTURED:]
        text = json.dumps(reply)
    return {"text": text}


def main() -> None:
    faulthandler.enable()  # a segfault prints where it happened to the worker's stderr file
    req_fd, rep_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    conn_in = Connection(req_fd, writable=False)
    conn_out = Connection(rep_fd, readable=False)
    init = json.loads(conn_in.recv_bytes())
    sys.path[:] = list(init.get("sys_path") or sys.path)
    if init.get("warm_js"):
        try:
            _js()  # JavaScript is the default language of transforms: be ready for it
        except Exception as exc:  # the first JavaScript call tries again and reports it
            print(f"JavaScript engine not ready: {exc!r}", file=sys.stderr)
    while True:
        try:
            raw = conn_in.recv_bytes()
        except EOFError:
            return  # the parent closed the pipe (or exited): stop
        try:
            req = json.loads(raw)
        except ValueError as exc:
            conn_out.send_bytes(
                json.dumps({"ok": False, "error": _error(exc, "protocol")}).encode()
            )
            continue
        _bound_cpu(req.get("cpu_limit_s"))
        conn_out.send_bytes(_handle(req)["text"].encode())


def _bound_cpu(limit: Any) -> None:
    """Let the kernel end this worker (SIGXCPU) once the coming call has used ``limit`` CPU
    seconds. The parent stops a call at its wall-clock limit first; this only matters when
    the parent is gone (killed with SIGKILL) while user code loops for ever. A ``while
    (true) {}`` in the JavaScript engine holds the GIL, so no thread of ours could notice,
    and the parent-death signal of Linux belongs to the thread that started us, which may
    end long before the pool does. POSIX only (``resource``)."""
    if not isinstance(limit, int | float) or not math.isfinite(limit) or limit <= 0:
        return
    try:
        import resource
    except ImportError:  # Windows: no CPU limit to set
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + limit)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


if __name__ == "__main__":
    main()
