"""Gateway-originated error bodies (reference/cloudflare-gateway.md section 5.3 and 5.4).

The gateway's own errors use a singular ``error`` list plus ``name``/``httpCode``/
``internalCode``; provider errors are passed through in the provider's own format
(see ``wire.py``).
"""

from __future__ import annotations

from typing import Any

from .wire import Reply

#: internalCode -> (HTTP status, message) for the codes the emulator answers.
GATEWAY_ERRORS: dict[int, tuple[int, str]] = {
    2001: (400, "Please configure AI Gateway in the Cloudflare dashboard"),
    2003: (429, "Rate limited"),
    2008: (400, "Invalid provider"),
    2009: (401, "Unauthorized"),
    2019: (400, "Chat completion bad format"),
    2040: (400, "Invalid BYOK alias"),
}


def gateway_error(code: int, message: str | None = None) -> tuple[int, dict[str, Any]]:
    """``(status, body)`` of the ``AiGatewayError`` envelope for ``code``."""
    status, default = GATEWAY_ERRORS[code]
    return status, {
        "success": False,
        "result": [],
        "messages": [],
        "error": [{"code": code, "message": message or default}],
        "name": "AiGatewayError",
        "httpCode": status,
        "internalCode": code,
    }


def gateway_reply(code: int, message: str | None = None) -> Reply:
    """The envelope of ``code`` as a non-cacheable ``Reply``."""
    status, body = gateway_error(code, message)
    return Reply(status=status, body=body, cacheable=False, gateway_code=code)
