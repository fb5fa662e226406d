"""The viewport's own render thread: renders the newest request, drops the ones it never got to.

Mouse motion produces requests far faster than a CPU can render them; keeping only the latest one
(instead of a queue) makes the view follow the mouse instead of replaying a backlog.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QThread, Signal

from nerfie.recon.camera import Camera
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
        while True:
            with self._cond:
                while self._pending is None and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                req, self._pending = self._pending, None
                self.busy = True
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
