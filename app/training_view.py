"""Training page: the live viewport beside loss / PSNR curves, annealing progress, speed, ETA and
pause / resume / stop."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout, QWidget

from nerfie.app.viewer_widget import ViewerWidget
from nerfie.recon.events import EvalResult, QualityReport, TrainStatus


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "–"
    m, s = divmod(int(seconds + 0.5), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


class TrainingView(QWidget):
    pause_toggled = Signal(bool)
    stop_requested = Signal()
    resume_requested = Signal()  # continue a stopped (or killed) run from its last checkpoint

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = ViewerWidget(still_side=96, moving_side=64)
        pg.setConfigOptions(antialias=True)
        self.loss_plot = pg.PlotWidget(title="Training loss")
        self.loss_plot.setLogMode(y=True)
        self.loss_plot.setLabel("bottom", "step")
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen((90, 170, 255), width=1.5))
        self.psnr_plot = pg.PlotWidget(title="PSNR (dB)")
        self.psnr_plot.setLabel("bottom", "step")
        self.psnr_plot.addLegend(offset=(5, 5))
        self.train_psnr_curve = self.psnr_plot.plot(pen=pg.mkPen((90, 170, 255), width=1.5), name="training batch")
        self.val_psnr_curve = self.psnr_plot.plot(pen=pg.mkPen((255, 170, 60), width=2), symbol="o", symbolSize=6,
                                                  symbolBrush=(255, 170, 60), name="held-out frames")
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.train_psnr: list[float] = []
        self.val_steps: list[int] = []
        self.val_psnr: list[float] = []
        self._last: tuple[float, int] | None = None  # (time, step) of the previous status

        self.stats = {k: QLabel("–") for k in ("step", "speed", "eta", "alpha", "levels", "val", "consistency")}
        grid = QGridLayout()
        for r, (key, title) in enumerate((("step", "Step"), ("speed", "Speed"), ("eta", "Time left"),
                                          ("alpha", "Deformation window α"), ("levels", "Hash levels on"),
                                          ("val", "Held-out PSNR"),
                                          ("consistency", "View consistency"))):
            grid.addWidget(QLabel(title), r, 0)
            self.stats[key].setStyleSheet("font-weight: bold;")
            grid.addWidget(self.stats[key], r, 1)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._pause)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop and keep the weights trained so far (training can be resumed)")
        self.stop_button.clicked.connect(self.stop_requested)
        self.resume_button = QPushButton("Resume training")
        self.resume_button.setToolTip("Continue from the last checkpoint")
        self.resume_button.clicked.connect(self.resume_requested)
        self.resume_button.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.pause_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.resume_button)
        self.set_running(False)

        side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.loss_plot, 1)
        sl.addWidget(self.psnr_plot, 1)
        sl.addLayout(grid)
        sl.addLayout(buttons)
        split = QSplitter()
        split.addWidget(self.viewer)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)

    def set_running(self, running: bool, resumable: bool = False) -> None:
        """Buttons for a run in progress, or (``resumable``) for one that stopped before its end."""
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.resume_button.setVisible(resumable and not running)
        if not running:
            self.pause_button.blockSignals(True)
            self.pause_button.setChecked(False)
            self.pause_button.setText("Pause")
            self.pause_button.blockSignals(False)

    def _pause(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_toggled.emit(paused)

    def reset(self) -> None:
        self._last = None
        for seq in (self.steps, self.losses, self.train_psnr, self.val_steps, self.val_psnr):
            seq.clear()
        self._redraw()

    def show_history(self, events: Sequence[TrainStatus | EvalResult | QualityReport]) -> None:
        """Draw a project's recorded curves (``metrics.jsonl``), as they were when it was closed."""
        self.reset()
        for ev in events:
            if isinstance(ev, TrainStatus):
                self._append_status(ev)
                self.stats["step"].setText(f"{ev.step} / {ev.total}")
                self.stats["alpha"].setText(f"{ev.alpha:.2f}")
                self.stats["levels"].setText(f"{ev.active_levels:.1f}")
            elif isinstance(ev, EvalResult):
                self.on_eval(ev)
            elif isinstance(ev, QualityReport):
                self.on_quality(ev)
        self._redraw()

    def _append_status(self, ev: TrainStatus) -> None:
        while self.steps and self.steps[-1] >= ev.step:  # resumed from an earlier checkpoint: its future is gone
            for seq in (self.steps, self.losses, self.train_psnr):
                seq.pop()
        while self.val_steps and self.val_steps[-1] > ev.step:
            self.val_steps.pop()
            self.val_psnr.pop()
        if math.isfinite(ev.loss) and ev.loss > 0:
            self.steps.append(ev.step)
            self.losses.append(ev.loss)
            self.train_psnr.append(ev.psnr)

    def on_status(self, ev: TrainStatus) -> None:
        self._append_status(ev)
        self.stats["step"].setText(f"{ev.step} / {ev.total}")
        now = time.monotonic()
        if self._last is not None and ev.step > self._last[1]:
            steps_per_s = (ev.step - self._last[1]) / max(now - self._last[0], 1e-6)
            self.stats["speed"].setText(f"{steps_per_s:.1f} steps/s · {ev.rays_per_second / 1000:.1f} k rays/s")
        self._last = (now, ev.step)
        self.stats["eta"].setText(_duration(ev.eta_seconds))
        self.stats["alpha"].setText(f"{ev.alpha:.2f}")
        self.stats["levels"].setText(f"{ev.active_levels:.1f}")
        self._redraw()

    def on_eval(self, ev: EvalResult) -> None:
        if math.isfinite(ev.psnr):
            self.val_steps.append(ev.step)
            self.val_psnr.append(ev.psnr)
            subject = f", subject {ev.psnr_subject:.2f} dB" if math.isfinite(ev.psnr_subject) else ""
            self.stats["val"].setText(f"{ev.psnr:.2f} dB{subject} on {ev.frames} frames")
            self._redraw()

    def on_quality(self, ev: QualityReport) -> None:
        """The end-of-training scores: view consistency is what a new viewpoint will look like."""
        if math.isfinite(ev.consistency_psnr):
            subject = (f", subject {ev.consistency_psnr_subject:.2f} dB"
                       if math.isfinite(ev.consistency_psnr_subject) else "")
            self.stats["consistency"].setText(f"{ev.consistency_psnr:.2f} dB{subject}")
            self.stats["consistency"].setToolTip("\n".join(ev.lines()))

    def _redraw(self) -> None:
        self.loss_curve.setData(self.steps, self.losses)
        self.train_psnr_curve.setData(self.steps, self.train_psnr)
        self.val_psnr_curve.setData(self.val_steps, self.val_psnr)
