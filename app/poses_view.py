"""Poses page: input cameras as frustums with the sparse points in 3-D, the frames that failed to
register (with thumbnails) and the plain-words diagnostics report with its advice.

3-D uses pyqtgraph.opengl where an OpenGL context can be made; without one (remote desktops, the
offscreen test platform) it falls back to a top-down 2-D plot of the same geometry.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QPlainTextEdit, QSplitter, QVBoxLayout, QWidget

from nerfie.recon.dataset import load_dataset, read_ply
from nerfie.recon.device import preload_lazy_torch_modules
from nerfie.recon.project import Project
from nerfie.render.frustums import frustum_depth, frustum_segments


def opengl_available() -> bool:
    from PySide6.QtGui import QGuiApplication, QOpenGLContext

    if QGuiApplication.platformName() in ("offscreen", "minimal"):
        return False
    preload_lazy_torch_modules()  # Triton's LLVM must load before Mesa's (segfault otherwise)
    return QOpenGLContext().create()


class PosesView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.use_gl = opengl_available()
        if self.use_gl:
            import pyqtgraph.opengl as gl

            self.canvas = gl.GLViewWidget()
            self.canvas.setBackgroundColor((22, 24, 28))
        else:
            import pyqtgraph as pg

            self.canvas = pg.PlotWidget()
            self.canvas.setAspectLocked(True)
            self.canvas.setBackground((22, 24, 28))
        self.canvas.setMinimumSize(300, 240)
        self.summary = QLabel("No poses yet.")
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet("font-size: 13px;")
        self.failed = QListWidget()
        self.failed.setViewMode(QListWidget.ViewMode.IconMode)
        self.failed.setIconSize(QSize(96, 72))
        self.failed.setMaximumHeight(130)
        self.report = QPlainTextEdit()
        self.report.setReadOnly(True)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.summary)
        rl.addWidget(QLabel("Frames that did not register:"))
        rl.addWidget(self.failed)
        rl.addWidget(QLabel("Diagnostics report:"))
        rl.addWidget(self.report, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.canvas)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)
        self.camera_count = 0

    def show_project(self, project: Project) -> None:
        """Show what ``nerfie process`` produced (also a partial or failed run: the report still says why)."""
        report = project.path("report.txt")
        self.report.setPlainText(report.read_text() if report.exists() else "")
        state, d = project.stages["poses"].state, project.detail("poses")
        self.failed.clear()
        for name in d.failed:
            item = QListWidgetItem(QIcon(QPixmap(str(project.frames_dir / name))), name)
            self.failed.addItem(item)
        if state != "done":
            self.summary.setText(f"Poses: {state}" + (f" — {d.reason}" if d.reason else ""))
            return
        self.summary.setText(f"<b>{d.registered} of {d.total}</b> frames registered, "
                             f"{d.points} points · {d.seconds:.0f} s")
        ds = load_dataset(project.root)
        cams = ds.normalized_cameras()
        segs = frustum_segments(cams, frustum_depth(cams))
        pts = np.zeros((0, 3))
        cols = np.zeros((0, 3), dtype=np.uint8)
        ply = project.path("sparse_pc.ply")
        if ply.exists():
            pts, cols = read_ply(ply)
            pts = (pts - ds.center) * ds.scale
        self._draw(segs, pts, cols, len(cams))

    def _draw(self, segs: np.ndarray, pts: np.ndarray, cols: np.ndarray, n_cams: int) -> None:
        self.camera_count = n_cams
        # Draw with "up" along the screen's vertical: OpenCV world y points down in the capture.
        flip = np.array([1.0, -1.0, -1.0])
        import pyqtgraph as pg

        if self.use_gl:
            import pyqtgraph.opengl as gl

            for item in list(self.canvas.items):
                self.canvas.removeItem(item)
            self.canvas.addItem(gl.GLLinePlotItem(pos=segs * flip, mode="lines", color=(1.0, 0.75, 0.2, 1.0),
                                                  width=1.5, antialias=True))
            if len(pts):
                rgba = np.concatenate([cols / 255.0, np.ones((len(cols), 1))], 1)
                self.canvas.addItem(gl.GLScatterPlotItem(pos=pts * flip, color=rgba, size=3.0))
            extent = float(np.linalg.norm(segs.max(0) - segs.min(0))) if len(segs) else 1.0
            self.canvas.setCameraPosition(distance=1.6 * extent, elevation=20, azimuth=-90)
            self.canvas.opts["center"] = pg.Vector(*(segs * flip).mean(0))
        else:
            self.canvas.clear()
            # Top-down: x right, z (depth) up the plot.
            if len(pts):
                self.canvas.addItem(pg.ScatterPlotItem(pts[:, 0], pts[:, 2], size=2, pen=None,
                                                       brush=pg.mkBrush(170, 180, 190)))
            xs = np.stack([segs[0::2, 0], segs[1::2, 0]], 1).reshape(-1)
            zs = np.stack([segs[0::2, 2], segs[1::2, 2]], 1).reshape(-1)
            self.canvas.plot(xs, zs, connect="pairs", pen=pg.mkPen((255, 190, 50), width=1))
