"""A local Cloudflare AI Gateway emulator (SPEC section 8).

``python -m pytest_cfgateway.emulator --port 8787`` runs it from a shell; ``Emulator`` runs it
inside Python (the ``cf_gateway_emulator`` fixture uses it). The server needs the
``[emulator]`` extra (starlette, uvicorn); importing this package does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import EmulatorDependencyError
    from .faults import Fault, FaultError, Faults
    from .records import RecordedRequest, StepAttempt
    from .rules import Rule, RulesError, load_rules
    from .server import Emulator
    from .state import EmulatorConfigError

__all__ = [
    "Emulator",
    "EmulatorConfigError",
    "EmulatorDependencyError",
    "Fault",
    "FaultError",
    "Faults",
    "RecordedRequest",
    "Rule",
    "RulesError",
    "StepAttempt",
    "load_rules",
]

_WHERE = {
    "Emulator": "server",
    "EmulatorConfigError": "state",
    "EmulatorDependencyError": "app",
    "Fault": "faults",
    "FaultError": "faults",
    "Faults": "faults",
    "RecordedRequest": "records",
    "StepAttempt": "records",
    "Rule": "rules",
    "RulesError": "rules",
    "load_rules": "rules",
}


def __getattr__(name: str) -> Any:
    """Import public names on first use, so importing the package stays cheap."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
