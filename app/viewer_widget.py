"""Orbit viewer: mouse → :class:`~nerfie.render.viewer.OrbitCamera`, a time scrubber, snap to input view.

Left-drag orbits, right- or middle-drag pans, the wheel zooms, double-click resets. While the camera
moves the view renders at a low resolution and refines once it has been still for a moment. All
geometry is in :mod:`nerfie.render.viewer`; this widget only routes events and shows images.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QMouseEvent, QPixmap, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from nerfie.app.preview_renderer import PreviewRenderer, RemoteRenderer, RenderResult
from nerfie.render.keyframes import Keyframe
from nerfie.render.scene import SceneFrame, TrainedScene
from nerfie.render.viewer import OrbitCamera, home_view, moving_side, view_size

TIME_STEPS_PER_FRAME = 10  # scrubber resolution: tenths of a frame (the codes blend between frames)


def to_qimage(img: np.ndarray) -> QImage:
    h, w = img.shape[:2]
    return QImage(np.ascontiguousarray(img).data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class Viewport(QLabel):
    """Shows the latest render scaled to fit and turns mouse gestures into signals."""

    orbited = Signal(float, float)
    panned = Signal(float, float)
    zoomed = Signal(float)
    reset_requested = Signal()
    released = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setStyleSheet("background: #16181c; color: #9aa3ad;")
        self._image: QImage | None = None
        self._last: QPointF | None = None
        self._button = Qt.MouseButton.NoButton

    def show_image(self, image: QImage) -> None:
        self._image = image
        self._rescale()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._image is not None:
            pm = QPixmap.fromImage(self._image).scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                                       Qt.TransformationMode.SmoothTransformation)
            self.setPixmap(pm)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._last = event.position()
        self._button = event.button()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._last is None:
            return
        pos = event.position()
        dx, dy = pos.x() - self._last.x(), pos.y() - self._last.y()
        self._last = pos
        if self._button == Qt.MouseButton.LeftButton:
            self.orbited.emit(dx, dy)
        elif self._button in (Qt.MouseButton.RightButton, Qt.MouseButton.MiddleButton):
            self.panned.emit(dx, dy)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._last = None
        self._button = Qt.MouseButton.NoButton
        self.released.emit()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.reset_requested.emit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        self.zoomed.emit(event.angleDelta().y() / 120.0)


class ViewerWidget(QWidget):
    """A trained (or training) scene, orbitable, with a time scrubber and an input-view comparison."""

    frame_rendered = Signal(object)  # RenderResult, after it is on screen

    def __init__(self, parent: QWidget | None = None, still_side: int = 128, moving_side: int = 64,
                 settle_ms: int = 200) -> None:
        super().__init__(parent)
        self.still_side, self.moving_side = still_side, moving_side
        self.scene: TrainedScene | None = None
        self.view: OrbitCamera | None = None
        self.time = 0.0
        self.snapped_frame: int | None = None
        self._snap_index = 0
        self.last_result: RenderResult | None = None
        self._serial = 0
        self._shown_serial = -1
        self._dirty = False
        self._rays_per_second = 0.0  # measured on this machine by the renders so far
        self.local_renderer = PreviewRenderer(self)
        self.renderer: PreviewRenderer | RemoteRenderer = self.local_renderer
        self._connect(self.local_renderer)

        self.viewport = Viewport()
        self.viewport.setText("No trained scene yet.\nDrop a video on the Import page to make one.")
        self.viewport.orbited.connect(self._orbit)
        self.viewport.panned.connect(self._pan)
        self.viewport.zoomed.connect(self._zoom)
        self.viewport.reset_requested.connect(self.reset_view)
        self.viewport.released.connect(self._settle)
        self.input_view = QLabel()
        self.input_view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.input_view.setMinimumSize(160, 160)
        self.input_view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.input_view.hide()

        self.play_button = QPushButton("▶ Play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self._toggle_play)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self._on_slider)
        self.time_label = QLabel("frame 0")
        self.snap_button = QPushButton("Snap to input view")
        self.snap_button.setToolTip("Move to the camera that filmed the current frame and show that frame beside")
        self.snap_button.clicked.connect(self.snap_to_input)
        self.reset_button = QPushButton("Reset view")
        self.reset_button.clicked.connect(self.reset_view)
        self.keyframes: list[Keyframe] = []  # the user's camera path, exported as path "keyframes"
        self.key_button = QPushButton("Add keyframe")
        self.key_button.setToolTip("Remember this view and time; Export can fly a smooth path through your keyframes")
        self.key_button.clicked.connect(self.add_keyframe)
        self.clear_keys_button = QPushButton("Clear keyframes")
        self.clear_keys_button.clicked.connect(self.clear_keyframes)
        self.info = QLabel("")
        self.info.setStyleSheet("color: #6b7480;")

        images = QHBoxLayout()
        images.addWidget(self.viewport, 1)
        images.addWidget(self.input_view, 1)
        controls = QHBoxLayout()
        controls.addWidget(self.play_button)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.time_label)
        controls.addWidget(self.snap_button)
        controls.addWidget(self.reset_button)
        controls.addWidget(self.key_button)
        controls.addWidget(self.clear_keys_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(images, 1)
        lay.addLayout(controls)
        lay.addWidget(self.info)
        for w in (self.play_button, self.slider, self.snap_button, self.reset_button, self.key_button,
                  self.clear_keys_button):
            w.setEnabled(False)

        self._settle_timer = QTimer(self)
        self._settle_timer.setSingleShot(True)
        self._settle_timer.setInterval(settle_ms)
        self._settle_timer.timeout.connect(lambda: self.request_render(moving=False))
        self._play_timer = QTimer(self)
        self._play_timer.setInterval(100)
        self._play_timer.timeout.connect(self._advance)

    # ---- scene -----------------------------------------------------------------------------------

    def _connect(self, renderer: PreviewRenderer | RemoteRenderer) -> None:
        renderer.rendered.connect(self._on_rendered)
        renderer.failed.connect(lambda msg: self.info.setText(msg))

    def set_scene(self, scene: TrainedScene | SceneFrame, renderer: RemoteRenderer | None = None) -> None:
        """Show ``scene``; the camera and time stay where the user left them.

        With ``renderer`` (a job training in a worker process) ``scene`` is only its framing
        (:class:`~nerfie.render.scene.SceneFrame`) and the worker renders; without, ``scene`` is a
        trained scene rendered on this widget's own thread.
        """
        first = self.scene is None or self.scene.dataset.root != scene.dataset.root
        if renderer is not None and renderer is not self.renderer:
            self._connect(renderer)
        self.renderer = renderer or self.local_renderer
        self.scene = scene
        if first or self.view is None:
            self.view = home_view(scene.cameras, scene.focus, scene.up)
            self.slider.blockSignals(True)
            self.slider.setRange(0, max(scene.num_frames - 1, 0) * TIME_STEPS_PER_FRAME)
            self.slider.setValue(0)
            self.slider.blockSignals(False)
            self.time = 0.0
            self._update_time_label()
        if first:
            self.keyframes = []
        for w in (self.play_button, self.slider, self.snap_button, self.reset_button, self.key_button):
            w.setEnabled(True)
        self.clear_keys_button.setEnabled(bool(self.keyframes))
        self.request_render(moving=False)

    @property
    def aspect(self) -> float:
        if self.scene is None or not self.scene.cameras:
            return 1.0
        c = self.scene.cameras[0]
        return c.width / c.height

    def request_render(self, moving: bool) -> None:
        if self.scene is None or self.view is None:
            return
        if not self.isVisible():
            self._dirty = True  # rendered when shown: hidden viewers must not steal the CPU
            return
        self._dirty = False
        self._serial += 1
        side = moving_side(self._rays_per_second, self.aspect, self.moving_side, self.still_side) if moving \
            else self.still_side
        view = self.scene.cameras[self._snap_index] if self.snapped_frame is not None else self.view
        self.renderer.request(self.scene, view, self.time, side, self.aspect, self._serial)

    def _on_rendered(self, result: RenderResult) -> None:
        if result.serial < self._shown_serial:
            return  # an older request finished after a newer one
        self._shown_serial = result.serial
        self.last_result = result
        h, w = result.image.shape[:2]
        self._rays_per_second = w * h / max(result.seconds, 1e-6)
        self.viewport.show_image(to_qimage(result.image))
        self.info.setText(f"{w}×{h} in {result.seconds * 1000:.0f} ms · step {result.step} · "
                          f"frame {result.time:.1f}")
        self.frame_rendered.emit(result)

    # ---- gestures --------------------------------------------------------------------------------

    def _moved(self) -> None:
        self.snapped_frame = None
        self.input_view.hide()
        self.request_render(moving=True)
        self._settle_timer.start()

    def _orbit(self, dx: float, dy: float) -> None:
        if self.view is not None:
            self.view.orbit(dx, dy)
            self._moved()

    def _pan(self, dx: float, dy: float) -> None:
        if self.view is not None:
            self.view.pan(dx, dy, self.viewport.height())
            self._moved()

    def _zoom(self, notches: float) -> None:
        if self.view is not None:
            self.view.zoom(notches)
            self._moved()

    def _settle(self) -> None:
        self._settle_timer.start()

    def reset_view(self) -> None:
        if self.view is not None:
            self.view.reset()
            self._moved()

    # ---- time ------------------------------------------------------------------------------------

    def set_time(self, frame_time: float) -> None:
        self.slider.setValue(round(frame_time * TIME_STEPS_PER_FRAME))

    def _on_slider(self, value: int) -> None:
        self.time = value / TIME_STEPS_PER_FRAME
        self._update_time_label()
        if self.snapped_frame is not None:
            self.snap_to_input()
        else:
            self.request_render(moving=self._play_timer.isActive())
            if not self._play_timer.isActive():
                self._settle_timer.stop()

    def _update_time_label(self) -> None:
        total = self.scene.num_frames if self.scene is not None else 0
        self.time_label.setText(f"frame {self.time:.1f} / {max(total - 1, 0)}")

    def _toggle_play(self, playing: bool) -> None:
        self.play_button.setText("❚❚ Pause" if playing else "▶ Play")
        if playing:
            self._play_timer.start()
        else:
            self._play_timer.stop()
            self.request_render(moving=False)

    def _advance(self) -> None:
        if self.renderer.busy:
            return  # never run ahead of what can be shown
        v = self.slider.value() + TIME_STEPS_PER_FRAME
        self.slider.setValue(v if v <= self.slider.maximum() else 0)

    # ---- keyframes -------------------------------------------------------------------------------

    def add_keyframe(self) -> None:
        """Remember the current view (the input camera when snapped) and time as the next keyframe."""
        if self.scene is None or self.view is None:
            return
        if self.snapped_frame is not None:
            cam = self.scene.cameras[self._snap_index]
        else:
            cam = self.view.camera(*view_size(self.aspect, self.still_side))
        self.keyframes.append(Keyframe(cam, self.time))
        self.clear_keys_button.setEnabled(True)
        self.key_button.setText(f"Add keyframe ({len(self.keyframes)})")

    def clear_keyframes(self) -> None:
        self.keyframes = []
        self.clear_keys_button.setEnabled(False)
        self.key_button.setText("Add keyframe")

    # ---- input comparison ------------------------------------------------------------------------

    def snap_to_input(self) -> None:
        """Jump to the input camera of the current frame and show that input frame beside the render."""
        if self.scene is None or self.view is None:
            return
        ds = self.scene.dataset
        frame = round(self.time)
        idx = min(range(len(ds.time_ids)), key=lambda i: abs(ds.time_ids[i] - frame))
        self.view.snap_to(self.scene.cameras[idx])  # orbiting away starts from here
        self.snapped_frame, self._snap_index = ds.time_ids[idx], idx
        path = ds.root / ds.frames_dir / ds.names[idx]
        pm = QPixmap(str(path))
        if not pm.isNull():
            self.input_view.setPixmap(pm.scaled(self.input_view.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                                Qt.TransformationMode.SmoothTransformation))
            self.input_view.setToolTip(f"Input frame {ds.names[idx]}")
            self.input_view.show()
        self.request_render(moving=False)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._dirty:
            self.request_render(moving=False)

    def shutdown(self) -> None:
        self._play_timer.stop()
        self.local_renderer.stop()

    def closeEvent(self, event: Any) -> None:
        self.shutdown()
        super().closeEvent(event)
