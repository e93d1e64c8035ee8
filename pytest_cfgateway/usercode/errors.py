"""What running user code can raise (see the package docstring for who maps them to what)."""

from __future__ import annotations


class UserCodeError(Exception):
    """User code could not produce a value. ``label`` names the code ("python assertion
    `...`"), ``type_name``/``message`` the error, ``details`` a traceback or JS stack."""

    def __init__(
        self,
        label: str,
        message: str,
        *,
        type_name: str = "",
        details: str = "",
        lang: str = "",
    ) -> None:
        super().__init__(f"{label} {message}" if not type_name else f"{type_name}: {message}")
        self.label = label
        self.message = message
        self.type_name = type_name
        self.details = details
        self.lang = lang

    @property
    def short(self) -> str:
        """``Type: message`` for an exception raised by the code, else the full sentence."""
        return str(self)


class UserCodeRaised(UserCodeError):
    """The code raised an ordinary exception (or returned a value that cannot cross back):
    a verdict-level failure, as in promptfoo ("Python code execution failed: ...")."""


class UserCodeAborted(UserCodeError):
    """The code did not end normally: it timed out, exited, or took its worker down. Never a
    verdict: the item is an error naming the code."""


class UserCodeTimeout(UserCodeAborted):
    """The code ran past its time limit; its worker was killed."""


class UserCodeExited(UserCodeAborted):
    """The code raised ``SystemExit``, ``KeyboardInterrupt`` or ``GeneratorExit``."""


class UserCodeCrashed(UserCodeAborted):
    """The worker process died while running the code (``os._exit``, a signal)."""
