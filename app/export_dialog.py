"""Export dialog: camera path, length, frame rate, resolution and time mode → an MP4 (with depth and
subject cut-out beside it if asked), with the derived frame count and ETA up front, a progress bar,
cancel, and the folder opened when done. The same dialog exports a point cloud (PLY) of one frame and
the posed frames as a nerfstudio or Nerfies dataset. Every export runs in the engine's worker
process, like training: the window stays responsive."""

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
from nerfie.render.mesh import MeshSpec
from nerfie.render.paths import PATHS, TIME_MODES

KINDS = {"video": "Video (MP4)", "pointcloud": "Point cloud of one frame (PLY)",
         "mesh": "Mesh of the subject at one frame (PLY / OBJ)",
         "nerfstudio": "nerfstudio dataset (transforms.json + images)",
         "nerfies": "Nerfies / HyperNeRF dataset"}
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
        self.kind = QComboBox()
        for key, label in KINDS.items():
            self.kind.addItem(label, key)
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
        self.frozen.setValue(rc.frozen_frame)
        self._middle_frame = max(num_frames - 1, 0) // 2  # the point cloud's default moment, as the engine's
        self.fast = QCheckBox("Fast (the viewer's sample budget: ~1.5× faster, ~0.1 dB softer)")
        self.fast.setChecked(rc.fast_samples)
        self.depth = QCheckBox("Depth (colour-mapped video and 16-bit PNGs)")
        self.cutout = QCheckBox("Subject cut-out (transparent PNGs and a video on")
        self.compare = QCheckBox("Side by side with the input frames (best with the input camera path)")
        self.background = QComboBox()
        self.background.addItems(["white", "black", "transparent"])
        cut_row = QHBoxLayout()
        cut_row.addWidget(self.cutout)
        cut_row.addWidget(self.background)
        cut_row.addWidget(QLabel(")"))
        cut_row.addStretch(1)
        self.subject_only = QCheckBox("Only the person (uses the subject masks)")
        self.min_opacity = QDoubleSpinBox()
        self.min_opacity.setRange(0.0, 1.0)
        self.min_opacity.setSingleStep(0.05)
        self.min_opacity.setValue(0.9)
        self.min_opacity.setToolTip("Pixels the model is less sure of than this are left out (lower it for a "
                                    "model trained briefly)")
        self.mesh_cells = QSpinBox()
        self.mesh_cells.setRange(32, 512)
        self.mesh_cells.setSingleStep(32)
        self.mesh_cells.setValue(MeshSpec.resolution)
        self.mesh_cells.setSuffix(" cells across the subject")
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
        form.addRow("Export", self.kind)
        form.addRow("Camera path", self.path)
        form.addRow("Length", self.seconds)
        form.addRow("Frame rate", self.fps)
        form.addRow("Resolution", self.resolution)
        form.addRow("Time", self.time_mode)
        form.addRow("Frozen at frame", self.frozen)
        form.addRow("Quality", self.fast)
        form.addRow("Also write", self.depth)
        form.addRow("", cut_row)
        form.addRow("", self.compare)
        form.addRow("Point cloud", self.subject_only)
        form.addRow("Opacity at least", self.min_opacity)
        form.addRow("Mesh grid", self.mesh_cells)
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
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self._kind_changed()

    def spec(self) -> RenderSpec:
        return RenderSpec(path=self.path.currentData(), seconds=self.seconds.value(), fps=self.fps.value(),
                          long_side=self.resolution.value(), time_mode=self.time_mode.currentText(),
                          frozen_frame=self.frozen.value(), fast_samples=self.fast.isChecked(),
                          keyframes=self.keyframes if self.path.currentData() == "keyframes" else None,
                          outputs=tuple(k for k, box in (("depth", self.depth), ("cutout", self.cutout),
                                                         ("compare", self.compare)) if box.isChecked()),
                          cutout_background=self.background.currentText())

    def _kind_changed(self) -> None:
        """Show what the chosen export uses; point the output at a sensible place for it."""
        kind = self.kind.currentData()
        video = kind == "video"
        for w in (self.path, self.seconds, self.fps, self.resolution, self.time_mode, self.fast, self.depth,
                  self.cutout, self.background, self.compare):
            w.setEnabled(video)
        geometry = kind in ("pointcloud", "mesh")
        self.frozen.setEnabled(geometry or (video and self.time_mode.currentText() == "frozen"))
        self.subject_only.setEnabled(kind == "pointcloud")
        if geometry:
            self.frozen.setValue(self._middle_frame)
        self.min_opacity.setEnabled(kind == "pointcloud")
        self.mesh_cells.setEnabled(kind == "mesh")
        exports = self.project.root / "exports"
        default = {"video": self.project.renders_dir / "nerfie.mp4",
                   "pointcloud": exports / "point_cloud.ply", "mesh": exports / "mesh.ply",
                   "nerfstudio": exports / "nerfstudio", "nerfies": exports / "nerfies"}[kind]
        self.out.setText(str(default))
        self.setWindowTitle("Export video" if video else f"Export {KINDS[kind]}")
        self._update_derived()

    def _update_derived(self) -> None:
        if self.kind.currentData() != "video":
            self.derived.setText({"pointcloud": "The frame's moment, fused from depth renders of the input views",
                                  "mesh": "The subject's surface at the frame's moment (marching cubes on the "
                                          "density); .obj also works",
                                  "nerfstudio": "The posed frames, for `ns-train … --data FOLDER`",
                                  "nerfies": "The posed frames at 1×, 2×, 4× and 8×, for the Nerfies / HyperNeRF "
                                             "code"}[self.kind.currentData()])
            return
        spec = self.spec()
        keyed = spec.path == "keyframes"  # keyframes made in the viewer carry their own times
        self.time_mode.setEnabled(not keyed)
        self.frozen.setEnabled(spec.time_mode == "frozen" and not keyed)
        # The rate was measured by the viewer, on its reduced budget: full samples take ~1.4× longer.
        eta = estimate_seconds(spec, self.aspect, self.rays_per_second) * (1.0 if spec.fast_samples else 1.4)
        self.derived.setText(f"<b>{spec.frames}</b> frames · about {eta / 60:.1f} min to render on this machine")

    def _browse(self) -> None:
        kind = self.kind.currentData()
        if kind in ("nerfstudio", "nerfies"):
            path = QFileDialog.getExistingDirectory(self, "Export the dataset into", self.out.text())
            if path:
                self.out.setText(path)
            return
        ext, what = {"pointcloud": (".ply", "PLY point cloud (*.ply)"),
                     "mesh": (".ply", "Mesh (*.ply *.obj)")}.get(kind, (".mp4", "MP4 video (*.mp4)"))
        path, _ = QFileDialog.getSaveFileName(self, "Save as", self.out.text(), what)
        if path:
            keep = path.lower().endswith(ext) or (kind == "mesh" and path.lower().endswith(".obj"))
            self.out.setText(path if keep else path + ext)

    def request(self) -> JobRequest:
        """The engine call this dialog's settings make."""
        from nerfie.render.point_cloud import PointCloudSpec

        kind, root = self.kind.currentData(), str(self.project.root)
        out = str(Path(self.out.text()).expanduser())
        if kind == "pointcloud":
            spec = PointCloudSpec(frame=self.frozen.value(), subject_only=self.subject_only.isChecked(),
                                  min_opacity=self.min_opacity.value())
            return JobRequest("export-point-cloud", root, output=out, point_cloud=spec)
        if kind == "mesh":
            return JobRequest("export-mesh", root, output=out,
                              mesh=MeshSpec(frame=self.frozen.value(), resolution=self.mesh_cells.value()))
        if kind in ("nerfstudio", "nerfies"):
            return JobRequest("export-dataset", root, output=out, format=kind)
        return JobRequest("export", root, spec=self.spec(), output=out)

    def start(self) -> None:
        spec = self.spec()
        self.job = RemoteJob("export", self.request(), self)
        self.job.event.connect(self._on_event)
        self.job.succeeded.connect(self._done)
        self.job.failed.connect(self._failed)
        self.job.was_cancelled.connect(self._cancelled)
        self.export_button.setEnabled(False)
        self.progress.setRange(0, spec.frames if self.kind.currentData() == "video" else 0)
        self.status.setText("Rendering…" if self.kind.currentData() != "nerfstudio" else "Copying…")
        self.export_started.emit()
        self.job.start()

    def _on_event(self, ev: object) -> None:
        if isinstance(ev, Progress) and ev.stage in ("render", "export"):
            self.progress.setRange(0, ev.total)
            self.progress.setValue(ev.done)
            self.status.setText(f"Frame {ev.done} of {ev.total} · {ev.message}")

    def _done(self, path: Path) -> None:
        self.written = Path(path)
        self.status.setText(f"Wrote {path}")
        self.export_button.setEnabled(True)
        self.cancel_button.setText("Close")
        self.exported.emit(self.written)
        self.open_folder(self.written if self.written.is_dir() else self.written.parent)

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
