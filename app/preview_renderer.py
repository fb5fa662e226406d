"""The viewport's renderers: its own render thread (a trained scene, in this process), or the
worker process of a job in training (:class:`RemoteRenderer`).

Both render the newest request and drop the ones they never got to: mouse motion produces requests
far faster than a CPU can render them; keeping only the latest one (instead of a queue) makes the
view follow the mouse instead of replaying a backlog. The local thread joins the machine's thread
budget while it has work, so an export or a second Nerfie running meanwhile is not oversubscribed.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from nerfie.recon.camera import Camera
from nerfie.recon.events import PreviewImage
from nerfie.recon.thread_budget import ThreadBudget
from nerfie.render.engine import ViewRequest
from nerfie.render.live import render_preview
from nerfie.render.scene import TrainedScene
from nerfie.render.viewer import OrbitCamera


@dataclass
class RenderRequest:
    scene: TrainedScene
    view: OrbitCamera | Camera
    time: float
    long_side: int
    aspect: float
    serial: int


@dataclass
class RenderResult:
    image: Any  # np.ndarray [H, W, 3] uint8
    long_side: int
    seconds: float
    step: int
    time: float
    serial: int


class PreviewRenderer(QThread):
    rendered = Signal(object)  # RenderResult
    failed = Signal(str)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._cond = threading.Condition()
        self._pending: RenderRequest | None = None
        self._stopping = False
        self.busy = False

    def request(self, scene: TrainedScene, view: OrbitCamera | Camera, time_: float, long_side: int, aspect: float,
                serial: int) -> None:
        with self._cond:
            self._pending = RenderRequest(scene, copy.deepcopy(view), time_, long_side, aspect, serial)
            self._cond.notify()
        if not self.isRunning():
            self.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self.wait()

    def run(self) -> None:
        budget = ThreadBudget("viewer")
        try:
            self._serve(budget)
        finally:
            budget.leave()

    def _serve(self, budget: ThreadBudget) -> None:
        while True:
            with self._cond:
                if self._pending is None and not self._stopping:
                    budget.leave()  # idle: give the cores back to whoever trains or exports
                while self._pending is None and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                req, self._pending = self._pending, None
                self.busy = True
            if budget.joined:
                budget.refresh()
            else:
                budget.join()
            t0 = time.perf_counter()
            try:
                img = render_preview(req.scene, req.view, req.time, req.long_side, req.aspect)
            except Exception as exc:  # shown in the viewport; the app carries on
                self.failed.emit(f"Preview failed: {type(exc).__name__}: {exc}")
            else:
                self.rendered.emit(RenderResult(img, req.long_side, time.perf_counter() - t0, req.scene.step,
                                                req.time, req.serial))
            finally:
                self.busy = False


class RemoteRenderer(QObject):
    """The viewport's renderer while a job trains in a worker process: requests go to the worker,
    which answers them between training steps (and re-renders the last one as the weights change);
    this process only shows the images. Same interface as :class:`PreviewRenderer`."""

    rendered = Signal(object)  # RenderResult
    failed = Signal(str)

    def __init__(self, job: Any, parent: Any = None) -> None:
        super().__init__(parent)
        self.job = job
        self._waiting: int | None = None  # serial of the request not answered yet
        job.preview.connect(self._on_preview)

    @property
    def busy(self) -> bool:
        return self._waiting is not None and self.job.isRunning()

    def request(self, scene: Any, view: OrbitCamera | Camera, time_: float, long_side: int, aspect: float,
                serial: int) -> None:
        self._waiting = serial
        self.job.request_view(ViewRequest(copy.deepcopy(view), time_, long_side, aspect, serial))

    def _on_preview(self, ev: PreviewImage) -> None:
        if self._waiting is not None and ev.serial >= self._waiting:
            self._waiting = None
        self.rendered.emit(RenderResult(ev.image, ev.long_side, ev.seconds, ev.step, ev.time, ev.serial))

    def stop(self) -> None:
        self._waiting = None
