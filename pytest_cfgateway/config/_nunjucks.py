"""What templates print and how Nunjucks-only syntax is translated: the parts of the template
engine (`_jinja`) that need no Jinja2, so simple templates render without importing it."""

from __future__ import annotations

import contextvars
import re
import sys
from collections.abc import Mapping
from typing import Any

#: Bounds that keep a template from hanging or exhausting memory (real prompts stay far below).
TEMPLATE_LIMITS = {
    "range_per_call": 100_000,  # items of one range(...)
    "range_per_render": 1_000_000,  # range(...) items summed over one render (nested loops)
    "text_chars": 10_000_000,  # characters of one rendered template or one `*` product
    "power_bits": 4_096,  # bits of the result of `**`
}
_RANGE_BUDGET: contextvars.ContextVar[list[int]] = contextvars.ContextVar("cfgw_range_budget")


def _js_number(value: float) -> str:
    """JavaScript's ``Number.prototype.toString()``: shortest round-trip digits, plain
    notation for exponents -7 < e < 21, else ``1.5e+21`` / ``1e-7``."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"  # also -0
    sign = "-" if value < 0 else ""
    mantissa, _, exp = repr(abs(value)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    point = len(whole) + int(exp or 0) - (len(whole + frac) - len((whole + frac).lstrip("0")))
    digits = digits.rstrip("0") or "0"
    k, n = len(digits), point
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = n - 1
    e_text = f"e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + (digits if k == 1 else digits[0] + "." + digits[1:]) + e_text


def _js_str(value: Any) -> str:
    """``String(value)`` as JavaScript prints it (what Nunjucks writes for ``{{ value }}``).

    Objects print as ``[object Object]``; arrays as their elements joined with ``,`` (each
    element ``String()``-ed, ``null``/``undefined`` elements empty, nested arrays flattened
    the same way); ``true``/``false``; numbers as JS does (``1`` not ``1.0``). ``None`` and
    undefined print as "" (Nunjucks suppresses them; ``String(null)`` itself would be
    ``"null"``). Use ``| dump`` for JSON.
    """
    if value is None or _undefined(value):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if abs(value) < 2**53 else _js_number(float(value))
    if isinstance(value, float):
        return _js_number(value)
    if isinstance(value, Mapping):
        return "[object Object]"
    if isinstance(value, list | tuple):
        return ",".join(_js_str(item) for item in value)
    return str(value)


def _finalize(value: Any) -> Any:
    if isinstance(value, str):
        return value
    return _js_str(value)


_TAG = re.compile(r"(\{\{|\{%)(.*?)(\}\}|%\})", re.S)
_RAW = re.compile(r"(\{%-?\s*raw\s*-?%\}.*?\{%-?\s*endraw\s*-?%\})", re.S)


_PAIR_FOR = re.compile(
    r"^(?P<head>\s*-?\s*for\s+\w+\s*,\s*\w+\s+in\s+)(?P<expr>.+?)(?P<tail>\s*-?\s*)$", re.S
)


def _translate_tag(m: re.Match[str]) -> str:
    body = m.group(2).replace("===", "==").replace("!==", "!=")
    body = re.sub(r"^(\s*-?\s*)elseif\b", r"\1elif", body)
    if m.group(1) == "{%":
        body = _PAIR_FOR.sub(r"\g<head>(\g<expr>)|__nj_pairs\g<tail>", body)
    return m.group(1) + body + m.group(3)


def translate_nunjucks(source: str) -> str:
    """Rewrite the Nunjucks-only bits Jinja2 would reject (outside ``{% raw %}`` blocks)."""
    if "{{" not in source and "{%" not in source:
        return source
    parts = _RAW.split(source)
    return "".join(p if i % 2 else _TAG.sub(_translate_tag, p) for i, p in enumerate(parts))


def _undefined(value: Any) -> bool:
    """Whether ``value`` is Jinja2's undefined (only a rendering Jinja2 makes one, so it is
    never imported to find out)."""
    runtime = sys.modules.get("jinja2.runtime")
    return runtime is not None and isinstance(value, runtime.Undefined)
