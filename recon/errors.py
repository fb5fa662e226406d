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


def describe_failure(exc: BaseException) -> tuple[str, str]:
    """(message, advice) for any exception: the engine's words for its own errors, plain words for the rest.

    Both front ends and the engine's worker process use it, so a failure reads the same everywhere.
    """
    import errno

    if isinstance(exc, NerfieError):
        return exc.message, exc.advice
    name = type(exc).__name__
    if isinstance(exc, MemoryError) or name == "OutOfMemoryError":
        return ("Ran out of memory.", "Choose a smaller preset or a lower training resolution in Settings, "
                "then start again: finished stages are kept.")
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return ("The disk is full.", "Free some space, then start again: finished stages are kept.")
    if isinstance(exc, OSError):
        return (f"Could not read or write a file ({exc.strerror or exc}).",
                "Check the project folder is writable and the disk is attached, then start again.")
    return (f"Unexpected error: {name}: {exc}",
            "This is a bug in Nerfie. The log panel has the details; finished stages are kept.")
