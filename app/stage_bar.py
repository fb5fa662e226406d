"""Import → Poses → Train → Export: each stage's state and progress at a glance; click to open its page."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from nerfie.recon.project import STAGES

TITLES = {"ingest": "1  Import", "poses": "2  Poses", "train": "3  Train", "render": "4  Export"}
# Engine event stage → the bar segment it advances.
EVENT_STAGE = {"decode": "ingest", "frames": "ingest", "ingest": "ingest", "masks": "poses", "poses": "poses",
               "train": "train", "render": "render"}
COLOURS = {"pending": "#2a2e35", "running": "#1f4f82", "done": "#24613a", "failed": "#7a2626",
           "paused": "#6b5a1e", "cancelled": "#6b5a1e"}
WORDS = {"pending": "waiting", "running": "running…", "done": "done", "failed": "failed", "paused": "paused",
         "cancelled": "stopped"}


class StageSegment(QFrame):
    clicked = Signal(str)

    def __init__(self, stage: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stage = stage
        self.state = "pending"
        self.title = QLabel(TITLES[stage])
        self.title.setStyleSheet("font-weight: bold; font-size: 13px; color: white; background: transparent;")
        self.detail = QLabel(WORDS["pending"])
        self.detail.setStyleSheet("color: #d8dde3; background: transparent;")
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(6)
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.addWidget(self.title)
        lay.addWidget(self.detail)
        lay.addWidget(self.bar)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.set_state("pending")

    def set_state(self, state: str, detail: str = "") -> None:
        self.state = state
        self.detail.setText(detail or WORDS.get(state, state))
        self.setStyleSheet(f"StageSegment {{ background: {COLOURS.get(state, '#2a2e35')}; border-radius: 6px; }}")
        if state == "done":
            self.bar.setRange(0, 1)
            self.bar.setValue(1)
        elif state == "running":
            self.bar.setRange(0, 0)  # busy until a Progress event says how far
        elif state == "pending":
            self.bar.setRange(0, 1)
            self.bar.setValue(0)

    def set_progress(self, done: int, total: int, message: str = "") -> None:
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
        if message:
            self.detail.setText(message)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.clicked.emit(self.stage)


class StageBar(QWidget):
    """Four segments, one per engine stage (``nerfie.recon.project.STAGES``)."""

    activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.segments = {s: StageSegment(s) for s in STAGES}
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        for seg in self.segments.values():
            seg.clicked.connect(self.activated)
            lay.addWidget(seg, 1)

    def state(self, stage: str) -> str:
        return self.segments[stage].state

    def set_state(self, stage: str, state: str, detail: str = "") -> None:
        self.segments[stage].set_state(state, detail)

    def progress(self, event_stage: str, done: int, total: int, message: str = "") -> None:
        stage = EVENT_STAGE.get(event_stage)
        if stage is None:
            return
        seg = self.segments[stage]
        if seg.state not in ("running", "paused"):  # an event queued before a pause must not unpause the bar
            seg.set_state("running")
        seg.set_progress(done, total, message or f"{event_stage}: {done}/{total}" if total else message)
