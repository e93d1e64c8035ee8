"""The last line of defence for secrets in pytest's reports.

The gateway keeps secrets out of reprs (`gateway.redact.Secret`), and the plugin scrubs what
it writes; this scrubs what pytest itself renders from a report (a traceback with function
arguments and ``-l`` locals, captured output), before the terminal, junit-xml or xdist see it.
A failure report with any secret, or any long enough piece of one (a truncated repr), gets its
long representation replaced by the scrubbed text; captured output loses whole secrets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .gateway.redact import Secrets


def scrub_report(report: Any, secrets: Secrets) -> None:
    """Scrub ``report.longrepr`` and its captured sections in place."""
    if not secrets:
        return
    longrepr = getattr(report, "longrepr", None)
    if longrepr is not None:
        text = _text(longrepr)
        clean = secrets.scrub_fragments(text)
        if clean != text:
            if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, reason)
                report.longrepr = (longrepr[0], longrepr[1], secrets.scrub_fragments(longrepr[2]))
            else:
                report.longrepr = clean
    sections = getattr(report, "sections", None)
    if sections:
        report.sections = [(title, secrets.scrub_text(body)) for title, body in sections]


def _text(longrepr: Any) -> str:
    if isinstance(longrepr, str):
        return longrepr
    if isinstance(longrepr, tuple):
        return " ".join(str(part) for part in longrepr)
    return str(longrepr)
