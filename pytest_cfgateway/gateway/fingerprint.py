"""The request fingerprint: what identifies a call across machines, keys and gateways.

sha256 over canonical JSON ``{"v", "provider", "route", "query", "body", "repeat"}`` (plus
``"stream": true`` for a streamed call, so streamed and non-streamed answers are different
recordings whatever the adapter puts in the body) of the *redacted* request (sorted keys,
compact separators). Base URL, account, gateway, auth and
volatile headers are left out on purpose, so a suite recorded on one gateway replays anywhere,
with or without keys. Bump `FINGERPRINT_VERSION` whenever the scheme changes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .redact import Secrets
from .types import PreparedRequest

FINGERPRINT_VERSION = 1
_NO_SECRETS = Secrets()


def _unredacted(req: PreparedRequest) -> dict[str, Any]:
    out = {
        "v": FINGERPRINT_VERSION,
        "provider": req.provider,
        "route": req.path,
        "query": dict(req.query),
        "body": req.body,
        "repeat": req.repeat,
    }
    if req.stream:
        out["stream"] = True
    return out


def canonical_request(req: PreparedRequest, secrets: Secrets | None = None) -> dict[str, Any]:
    """The redacted, fingerprinted part of a request (also what snapshots store). A new
    top-level dict; the body is the request's own object when no secret occurs in it (a
    redacted copy otherwise), so do not change what is inside."""
    scrub = (secrets or _NO_SECRETS).including(req.secrets)
    return scrub.scrub_fresh(_unredacted(req))  # type: ignore[no-any-return]


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(req: PreparedRequest, secrets: Secrets | None = None) -> str:
    """Hex sha256 of the canonical redacted request.

    The canonical text of the request as it is, and its hash, are memoized on the request
    object (the recorder, the scheduler and the client each fingerprint it, with their own
    secret sets): when no secret of ``secrets`` occurs in that text, the redacted request
    is the request itself and so is its hash (JSON escapes character by character, so a
    secret in any string shows in the text in one of the forms `Secrets.find_in` looks
    for). Otherwise the redacted request is hashed, memoized for that `Secrets` object
    (held, so compared by identity: never confused with another).
    """
    memo = req.__dict__.get("_fingerprint_memo")
    if memo is None:
        text = canonical_json(_unredacted(req))
        memo = (text, hashlib.sha256(text.encode()).hexdigest())
        object.__setattr__(req, "_fingerprint_memo", memo)  # frozen dataclass: a memo
    scrub = (secrets or _NO_SECRETS).including(req.secrets)
    if scrub.find_in(memo[0]) is None:
        return str(memo[1])
    redacted = req.__dict__.get("_fingerprint_redacted")
    if redacted is not None and redacted[0] is secrets:
        return str(redacted[1])
    text = canonical_json(canonical_request(req, secrets))
    fp = hashlib.sha256(text.encode()).hexdigest()
    object.__setattr__(req, "_fingerprint_redacted", (secrets, fp))
    return fp
