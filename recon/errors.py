"""One error type for everything a user can cause or fix.

Both front ends (CLI and GUI) catch :class:`NerfieError` and show ``message`` plus ``advice``
instead of a traceback; anything else escaping the engine is a bug.
"""

from __future__ import annotations


class NerfieError(Exception):
    """A failure the user can act on.

    ``message`` says what went wrong in plain words, ``advice`` what to do about it.
    """

    def __init__(self, message: str, advice: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.advice = advice

    def __str__(self) -> str:
        return self.one_line()

    def one_line(self) -> str:
        """The message and advice on one line, for a CLI error or a log."""
        return f"{self.message} {self.advice}".strip()


class ConfigError(NerfieError):
    """A configuration value or file that cannot be used (names the offending key)."""


class ProjectError(NerfieError):
    """A project folder that cannot be opened or written."""
