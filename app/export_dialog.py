"""Export dialog: camera path, length, frame rate, resolution and time mode → an MP4, with the
derived frame count and ETA up front, a progress bar, cancel, and the folder opened when done.
The render runs in the engine's worker process, like training: the window stays responsive."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from nerfie.app.workers import RemoteJob
from nerfie.recon.events import Progress
from nerfie.recon.project import Project
from nerfie.render.engine import JobRequest
from nerfie.render.export import RenderSpec, estimate_seconds
from nerfie.render.keyframes import Keyframe
from nerfie.render.paths import PATHS, TIME_MODES

PATH_LABELS = {"turntable": "Turntable (full circle)", "orbit-mild": "Gentle orbit (within the filmed arc)",
               "input": "Input camera path, smoothed"}


def _open_folder(path: Path) -> None:
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


class ExportDialog(QDialog):
    export_started = Signal()
    exported = Signal(object)  # Path of the MP4
    job_failed = Signal(str)
    def __init__(self, project: Project, num_frames: int, aspect: float, rays_per_second: float,
                 parent: QWidget | None = None, keyframes: list[Keyframe] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export video")
        self.project = project
        self.aspect = aspect
        self.rays_per_second = rays_per_second
        self.job: RemoteJob | None = None
        self.written: Path | None = None
        self.open_folder = _open_folder  # replaced in tests

        rc = project.config.render
        self.keyframes = list(keyframes or [])
        self.path = QComboBox()
        for p in PATHS:
            self.path.addItem(PATH_LABELS[p], p)
        if len(self.keyframes) >= 2:
            self.path.addItem(f"Through your {len(self.keyframes)} keyframes (time as keyed)", "keyframes")
        self.path.setCurrentIndex(PATHS.index(rc.path) if rc.path in PATHS else 0)
        if len(self.keyframes) >= 2:
            self.path.setCurrentIndex(self.path.count() - 1)  # the user just made them: that is the path wanted
        self.seconds = QDoubleSpinBox()
        self.seconds.setRange(0.1, 600)
        self.seconds.setValue(rc.seconds)
        self.seconds.setSuffix(" s")
        self.fps = QSpinBox()
        self.fps.setRange(1, 120)
        self.fps.setValue(rc.fps)
        self.resolution = QSpinBox()
        self.resolution.setRange(32, 4096)
        self.resolution.setSingleStep(64)
        self.resolution.setValue(rc.long_side)
        self.resolution.setSuffix(" px (long side)")
        self.time_mode = QComboBox()
        self.time_mode.addItems(list(TIME_MODES))
        self.time_mode.setCurrentText(rc.time_mode)
        self.frozen = QSpinBox()
        self.frozen.setRange(0, max(num_frames - 1, 0))
        self.fast = QCheckBox("Fast (the viewer's sample budget: ~1.5× faster, ~0.1 dB softer)")
        self.fast.setChecked(rc.fast_samples)
        self.out = QLineEdit(str(project.renders_dir / "nerfie.mp4"))
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out, 1)
        out_row.addWidget(browse)
        self.derived = QLabel()
        self.progress = QProgressBar()
        self.progress.setValue(0)
        self.status = QLabel("")
        self.status.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Camera path", self.path)
        form.addRow("Length", self.seconds)
        form.addRow("Frame rate", self.fps)
        form.addRow("Resolution", self.resolution)
        form.addRow("Time", self.time_mode)
        form.addRow("Frozen at frame", self.frozen)
        form.addRow("Quality", self.fast)
        form.addRow("Save to", out_row)
        form.addRow(self.derived)
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.export_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self._cancel)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        lay.addWidget(self.buttons)
        for w in (self.seconds, self.fps, self.resolution):
            w.valueChanged.connect(self._update_derived)
        self.time_mode.currentTextChanged.connect(self._update_derived)
        self.path.currentIndexChanged.connect(self._update_derived)
        self.fast.toggled.connect(self._update_derived)
        self._update_derived()

    def spec(self) -> RenderSpec:
        return RenderSpec(path=self.path.currentData(), seconds=self.seconds.value(), fps=self.fps.value(),
                          long_side=self.resolution.value(), time_mode=self.time_mode.currentText(),
                          frozen_frame=self.frozen.value(), fast_samples=self.fast.isChecked(),
                          keyframes=self.keyframes if self.path.currentData() == "keyframes" else None)

    def _update_derived(self) -> None:
        spec = self.spec()
        keyed = spec.path == "keyframes"  # keyframes made in the viewer carry their own times
        self.time_mode.setEnabled(not keyed)
        self.frozen.setEnabled(spec.time_mode == "frozen" and not keyed)
        # The rate was measured by the viewer, on its reduced budget: full samples take ~1.4× longer.
        eta = estimate_seconds(spec, self.aspect, self.rays_per_second) * (1.0 if spec.fast_samples else 1.4)
        self.derived.setText(f"<b>{spec.frames}</b> frames · about {eta / 60:.1f} min to render on this machine")

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save video as", self.out.text(), "MP4 video (*.mp4)")
        if path:
            self.out.setText(path if path.lower().endswith(".mp4") else path + ".mp4")

    def start(self) -> None:
        spec = self.spec()
        out = Path(self.out.text()).expanduser()
        self.job = RemoteJob("export", JobRequest("export", str(self.project.root), spec=spec, output=str(out)), self)
        self.job.event.connect(self._on_event)
        self.job.succeeded.connect(self._done)
        self.job.failed.connect(self._failed)
        self.job.was_cancelled.connect(self._cancelled)
        self.export_button.setEnabled(False)
        self.progress.setRange(0, spec.frames)
        self.status.setText("Rendering…")
        self.export_started.emit()
        self.job.start()

    def _on_event(self, ev: object) -> None:
        if isinstance(ev, Progress) and ev.stage == "render":
            self.progress.setRange(0, ev.total)
            self.progress.setValue(ev.done)
            self.status.setText(f"Frame {ev.done} of {ev.total} · {ev.message}")

    def _done(self, path: Path) -> None:
        self.written = Path(path)
        self.status.setText(f"Wrote {path}")
        self.export_button.setEnabled(True)
        self.cancel_button.setText("Close")
        self.exported.emit(self.written)
        self.open_folder(self.written.parent)

    def _failed(self, message: str, advice: str) -> None:
        self.status.setText(f"<b>{message}</b><br>{advice}")
        self.export_button.setEnabled(True)
        self.job_failed.emit(message)

    def _cancelled(self) -> None:
        self.status.setText("Cancelled; nothing was written.")
        self.export_button.setEnabled(True)

    def _cancel(self) -> None:
        if self.job is not None and self.job.isRunning():
            self.job.cancel()
        else:
            self.reject()

    def closeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if self.job is not None and self.job.isRunning():
            self.job.cancel()
            self.job.wait()
        super().closeEvent(event)
