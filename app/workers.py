"""Background jobs for the GUI, talking back by signals.

* :class:`RemoteJob` — every long engine call (process, import, train, export): the engine runs in a
  spawned worker process (:mod:`nerfie.render.worker`); a timer on the UI thread drains its message
  queue and re-emits the engine's typed events, live-view images, and the outcome. The window's
  process does no torch work meanwhile, and a worker that is killed leaves the window alive.
* :class:`Job` — a short in-process call on a QThread (loading a trained scene for the viewer).

Failures arrive as (message, advice) — the engine's own words — so the window can show them in a
dialog. Nothing raised in a job reaches the Qt event loop: the app never exits because a job failed.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal

from nerfie.recon.errors import NerfieError, describe_failure
from nerfie.recon.events import Cancelled, Event, Log, PreviewImage
from nerfie.render.engine import JobRequest, ViewRequest
from nerfie.render.worker import EngineProcess, Failed, Finished, Stopped

POLL_MS = 20  # how often the UI thread drains a worker's messages

DIED_ADVICE = {
    "train": "Training continues from its last checkpoint: press Resume training.",
    "export": "Nothing was written. Export again; if it happens again, choose fewer pixels.",
}

JobFn = Callable[[Callable[[Event], None], Callable[[], bool], Callable[[], bool]], Any]


class Job(QThread):
    """One engine call off the UI thread, cancellable and pausable."""

    event = Signal(object)  # an engine Event
    failed = Signal(str, str)  # message, advice
    succeeded = Signal(object)  # the engine call's return value
    was_cancelled = Signal()

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


class RemoteJob(QObject):
    """One engine call in a worker process, with the same signals as :class:`Job`."""

    event = Signal(object)  # an engine Event
    failed = Signal(str, str)  # message, advice
    succeeded = Signal(object)  # the call's result (a path, as text)
    was_cancelled = Signal()
    preview = Signal(object)  # PreviewImage: a live-view render from the worker
    finished = Signal()

    def __init__(self, name: str, request: JobRequest, parent: Any = None) -> None:
        super().__init__(parent)
        self.name = name
        self.worker = EngineProcess(request)
        self.outcome: str = "running"  # → "done" | "failed" | "cancelled" | "died"
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._drain)
        self._started = False

    def start(self) -> None:
        self.worker.start()
        self._started = True
        self._timer.start()

    def isRunning(self) -> bool:
        return self._started and self.outcome == "running"

    @property
    def pid(self) -> int | None:
        return self.worker.pid

    def cancel(self) -> None:
        self.worker.cancel()

    def set_paused(self, paused: bool) -> None:
        self.worker.set_paused(paused)

    @property
    def paused(self) -> bool:
        return self.worker.paused

    def request_view(self, req: ViewRequest) -> None:
        if self.isRunning():
            self.worker.request_view(req)

    def wait(self, msecs: int = -1) -> bool:
        """Block until the worker has ended (or ``msecs`` passed) and deliver what it sent."""
        self.worker.join(None if msecs < 0 else msecs / 1000)
        self._drain()
        return not self.isRunning()

    def _drain(self) -> None:
        if self.outcome != "running":
            return
        for msg in self.worker.poll():
            if isinstance(msg, PreviewImage):
                self.preview.emit(msg)
            elif isinstance(msg, Finished):
                self._end("done")
                self.succeeded.emit(msg.result)
            elif isinstance(msg, Stopped):
                self._end("cancelled")
                self.was_cancelled.emit()
            elif isinstance(msg, Failed):
                self._end("failed")
                if msg.details:
                    self.event.emit(Log(self.name, msg.details.rstrip(), "error"))
                self.failed.emit(msg.message, msg.advice)
            else:
                self.event.emit(msg)
            if self.outcome != "running":
                break
        if self.outcome == "running" and self.worker.died():
            self._end("died")
            code = self.worker.process.exitcode
            how = f"was killed (signal {-code})" if code is not None and code < 0 else f"ended (exit code {code})"
            self.failed.emit(f"The {self.name} process {how} before it finished — out of memory, or stopped "
                             "from outside.", DIED_ADVICE.get(self.name, "Start it again: finished stages are kept."))
        if self.outcome != "running":
            self.finished.emit()

    def _end(self, outcome: str) -> None:
        # No join here: the worker takes a moment to exit after its last message, and the window
        # must not wait for that (multiprocessing reaps it; ``wait`` joins when asked to).
        self.outcome = outcome
        self._timer.stop()
