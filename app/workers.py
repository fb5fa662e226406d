"""Background jobs for the GUI: every long engine call runs on a QThread and talks back by signals.

A :class:`Job` wraps one engine call ``fn(on_event, cancelled, paused)``. The engine's typed events
arrive on the UI thread through a queued signal; failures arrive as (message, advice) — the
engine's own words — so the window can show them in a dialog. Nothing raised in a worker reaches
the Qt event loop: the app never exits because a job failed.
"""

from __future__ import annotations

import errno
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QThread, Signal

from nerfie.recon.errors import NerfieError
from nerfie.recon.events import Cancelled, Event, Log

JobFn = Callable[[Callable[[Event], None], Callable[[], bool], Callable[[], bool]], Any]


def describe_failure(exc: BaseException) -> tuple[str, str]:
    """(message, advice) for any exception: the engine's words for its own errors, plain words for the rest."""
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


class Job(QThread):
    """One engine call off the UI thread, cancellable and pausable."""

    event = Signal(object)  # an engine Event
    failed = Signal(str, str)  # message, advice
    succeeded = Signal(object)  # the engine call's return value
    was_cancelled = Signal()
    snapshot = Signal(object)  # a renderable copy of weights in training (nerfie.render.scene.TrainedScene)

    def __init__(self, name: str, fn: JobFn, parent: Any = None) -> None:
        super().__init__(parent)
        self.name = name
        self.fn = fn
        self._cancel = threading.Event()
        self._pause = threading.Event()
        self.outcome: str = "running"  # → "done" | "failed" | "cancelled"

    def cancel(self) -> None:
        self._cancel.set()
        self._pause.clear()

    def set_paused(self, paused: bool) -> None:
        if paused:
            self._pause.set()
        else:
            self._pause.clear()

    @property
    def paused(self) -> bool:
        return self._pause.is_set()

    def run(self) -> None:
        try:
            result = self.fn(self.event.emit, self._cancel.is_set, self._pause.is_set)
        except Cancelled:
            self.outcome = "cancelled"
            self.was_cancelled.emit()
        except BaseException as exc:  # a worker must never take the app down
            self.outcome = "failed"
            if not isinstance(exc, NerfieError):
                self.event.emit(Log(self.name, traceback.format_exc().rstrip(), "error"))
            self.failed.emit(*describe_failure(exc))
        else:
            self.outcome = "done"
            self.succeeded.emit(result)
