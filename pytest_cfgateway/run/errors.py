"""How a config item ends other than by passing (shared by the items and the case runner)."""

from __future__ import annotations


class CaseFailed(AssertionError):
    """The case ran and its assertions failed; the message is the readable report."""


class CaseError(Exception):
    """The case could not run (bad template, bad assertion config, gateway error)."""


class CaseTimeout(Exception):
    """The case ran past ``evaluateOptions.timeoutMs``."""
