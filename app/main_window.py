"""The Nerfie main window: drop a video, watch it become a Nerfie, orbit it, export a video.

Pages follow the stage bar (Import → Poses → Train → Export). Every long step is a
:class:`~nerfie.app.workers.RemoteJob`: the engine (:mod:`nerfie.render.engine`, the same one the CLI
verbs drive) in a worker process. The window only routes its events to widgets, sends it commands
(pause, stop, render this view) and turns its failures into dialogs with the engine's advice; it
does no torch work while a job runs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from nerfie.app.export_dialog import ExportDialog
from nerfie.app.poses_view import PosesView
from nerfie.app.preview_renderer import RemoteRenderer
from nerfie.app.settings_panel import SettingsPanel
from nerfie.app.stage_bar import EVENT_STAGE, StageBar
from nerfie.app.training_view import TrainingView
from nerfie.app.viewer_widget import ViewerWidget
from nerfie.app.workers import Job, RemoteJob
from nerfie.recon.config import with_overrides
from nerfie.recon.errors import NerfieError
from nerfie.recon.events import EvalResult, Log, Progress, QualityReport, StageDone, TrainStatus
from nerfie.recon.project import Project
from nerfie.recon.stage_details import IngestDetail, PosesDetail, StageDetail, TrainDetail
from nerfie.recon.training_history import read_history
from nerfie.render.engine import Engine, JobRequest, default_project_dir
from nerfie.render.scene import TrainedScene, scene_frame

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi"}
PAGES = ("import", "poses", "train", "viewer")
MAX_RECENT = 8


def sample_clip() -> Path:
    import nerfie.assets

    return Path(nerfie.assets.__file__).with_name("sample_selfie.mp4")


class ImportPage(QWidget):
    """The drop zone, open buttons, the sample clip and recent projects."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.drop = QLabel("Drop a selfie video (mp4, mov, webm…) or a Nerfie project folder here\n\n"
                           "Film 10–20 s, moving the phone slowly in an arc around your face.")
        self.drop.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.drop.setWordWrap(True)
        self.drop.setMinimumHeight(220)
        self.drop.setStyleSheet("border: 2px dashed #5a6570; border-radius: 12px; font-size: 16px; "
                                "color: #9aa3ad; padding: 20px;")
        self.open_video = QPushButton("Open video…")
        self.open_project = QPushButton("Open project…")
        self.sample = QPushButton("Try the sample clip")
        buttons = QHBoxLayout()
        for b in (self.open_video, self.open_project, self.sample):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.recent = QListWidget()
        self.recent.setMaximumHeight(160)
        lay = QVBoxLayout(self)
        lay.addWidget(self.drop, 1)
        lay.addLayout(buttons)
        lay.addWidget(QLabel("Recent projects (double-click to open):"))
        lay.addWidget(self.recent)


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, projects_home: Path | None = None,
                 overrides: dict[str, object] | None = None) -> None:
        super().__init__()
        from nerfie.recon.device import available_cores, describe_device, pick_device, preload_lazy_torch_modules

        preload_lazy_torch_modules()  # now, not on the training thread while the UI waits for the GIL
        self.settings = settings or QSettings("Nerfie", "Nerfie")
        self.projects_home = projects_home or Path.home() / "Nerfie"
        self.overrides = dict(overrides or {})  # extra config keys (``nerfie gui --set``)
        self.project: Project | None = None
        self.scene: TrainedScene | None = None
        self.jobs: list[Job | RemoteJob] = []
        self.last_error: QMessageBox | None = None
        self.export_dialog: ExportDialog | None = None
        self.auto_continue = True  # after poses, train; after training, show the viewer
        self.setWindowTitle("Nerfie")
        self.resize(1400, 880)
        self.setAcceptDrops(True)

        device = pick_device("auto")
        self.stage_bar = StageBar()
        self.stage_bar.activated.connect(self._stage_clicked)
        self.import_page = ImportPage()
        self.poses_page = PosesView()
        self.training_page = TrainingView()
        self.viewer_page = ViewerWidget(still_side=128, moving_side=64)
        self.pages = QStackedWidget()
        for page in (self.import_page, self.poses_page, self.training_page, self.viewer_page):
            self.pages.addWidget(page)
        central = QWidget()
        cl = QVBoxLayout(central)
        cl.setContentsMargins(4, 4, 4, 4)
        cl.addWidget(self.stage_bar)
        cl.addWidget(self.pages, 1)
        self.setCentralWidget(central)

        self.settings_panel = SettingsPanel("cpu-preview" if device.type == "cpu" else "gpu-standard")
        dock = QDockWidget("Settings", self)
        dock.setObjectName("settings")
        dock.setWidget(self.settings_panel)
        dock.setFeatures(QDockWidget.DockWidgetFeature.NoDockWidgetFeatures)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        log_dock = QDockWidget("Log", self)
        log_dock.setObjectName("log")
        log_dock.setWidget(self.log)
        log_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, log_dock)
        self.resizeDocks([log_dock], [150], Qt.Orientation.Vertical)

        self.device_label = QLabel(f"Device: {describe_device(device)} · {available_cores()} threads")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the running step; everything finished so far is kept")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop_jobs)
        self.statusBar().addPermanentWidget(self.stop_button)
        self.statusBar().addPermanentWidget(self.device_label)
        self.statusBar().showMessage("Drop a video to start.")

        self._build_menu()
        self.import_page.open_video.clicked.connect(self.choose_video)
        self.import_page.open_project.clicked.connect(self.choose_project)
        self.import_page.sample.clicked.connect(lambda: self.start_video(sample_clip()))
        self.import_page.recent.itemDoubleClicked.connect(lambda item: self.open_path(Path(item.text())))
        self.training_page.pause_toggled.connect(self._pause_training)
        self.training_page.stop_requested.connect(self._stop_training)
        self.training_page.resume_requested.connect(self.start_training)
        self._refresh_recent()

    # ---- menus -----------------------------------------------------------------------------------

    def _build_menu(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        for text, shortcut, slot in (("Open &video…", QKeySequence.StandardKey.Open, self.choose_video),
                                     ("Open &project…", None, self.choose_project),
                                     ("&Export video…", QKeySequence("Ctrl+E"), self.open_export)):
            act = QAction(text, self)
            if shortcut is not None:
                act.setShortcut(shortcut)
            act.triggered.connect(slot)
            file_menu.addAction(act)
        self.recent_menu = file_menu.addMenu("Recent projects")
        file_menu.addSeparator()
        quit_act = QAction("&Quit", self)
        quit_act.setShortcut(QKeySequence.StandardKey.Quit)
        quit_act.triggered.connect(self.close)
        file_menu.addAction(quit_act)
        view_menu = self.menuBar().addMenu("&View")
        for name, page in zip(("Import", "Poses", "Training", "Viewer"), PAGES, strict=True):
            act = QAction(name, self)
            act.triggered.connect(lambda _=False, p=page: self.show_page(p))
            view_menu.addAction(act)

    def show_page(self, page: str) -> None:
        self.pages.setCurrentIndex(PAGES.index(page))

    def current_page(self) -> str:
        return PAGES[self.pages.currentIndex()]

    def _stage_clicked(self, stage: str) -> None:
        if stage == "render":
            self.open_export()
        else:
            self.show_page({"ingest": "import", "poses": "poses", "train": "train"}[stage])

    # ---- opening things --------------------------------------------------------------------------

    def choose_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a selfie video", str(Path.home()),
                                              "Videos (*.mp4 *.mov *.m4v *.webm *.mkv *.avi);;All files (*)")
        if path:
            self.open_path(Path(path))

    def choose_project(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a Nerfie project folder", str(self.projects_home))
        if path:
            self.open_path(Path(path))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            self.open_path(Path(urls[0]))

    def open_path(self, path: Path) -> None:
        """A dropped or chosen path: a project folder opens, anything else is treated as a video."""
        from nerfie.recon.importers import detect_dataset

        if path.is_dir() and (path / "project.json").exists():
            self.open_project(path)
        elif detect_dataset(path) is not None:
            self.import_dataset(path)
        elif path.is_dir():
            self.show_error(f"{path.name} is a folder but not a Nerfie project.",
                            "Drop a video file, a folder made by Nerfie (it holds project.json), or a dataset "
                            "with camera poses (transforms.json, COLMAP sparse/ + images/, Nerfies folder).")
        else:
            self.start_video(path)

    def default_project_dir(self, video: Path) -> Path:
        """``<name>-nerfie`` next to the video when that folder is writable (the CLI's name), else in ~/Nerfie."""
        return default_project_dir(video, self.projects_home)

    def start_video(self, video: Path, project_dir: Path | None = None) -> None:
        if self._busy():
            return
        project_dir = project_dir or self.default_project_dir(video)
        cfg = with_overrides(self.settings_panel.config(), self.overrides) if self.overrides \
            else self.settings_panel.config()
        for stage in ("ingest", "poses", "train", "render"):
            self.stage_bar.set_state(stage, "pending")
        self.stage_bar.set_state("ingest", "running")
        self.training_page.reset()
        self.append_log(f"Processing {video} into {project_dir}")
        self.statusBar().showMessage(f"Processing {video.name}…")

        job = self._start_job("process", JobRequest("process", str(project_dir), source=str(video), config=cfg))
        job.succeeded.connect(lambda root: self._processed(Project.load(Path(root))))
        job.failed.connect(lambda *_: self._failed_project(project_dir))

    def import_dataset(self, source: Path, project_dir: Path | None = None) -> None:
        """A dataset that already has camera poses: import it (no COLMAP), then carry on as for a video."""
        if self._busy():
            return
        base = source.parent if source.is_file() else source
        project_dir = project_dir or default_project_dir(base, self.projects_home)
        cfg = with_overrides(self.settings_panel.config(), self.overrides) if self.overrides \
            else self.settings_panel.config()
        self.stage_bar.set_state("ingest", "running", "importing poses")
        self.append_log(f"Importing {source} into {project_dir}")

        job = self._start_job("process", JobRequest("import", str(project_dir), source=str(source), config=cfg))
        job.succeeded.connect(lambda root: self._processed(Project.load(Path(root))))

    def open_project(self, root: Path) -> None:
        if self._busy():
            return
        try:
            proj = Project.load(root)
        except NerfieError as exc:
            self.show_error(exc.message, exc.advice)
            return
        self._set_project(proj)
        self.append_log(f"Opened {root}")
        if proj.stages["train"].state in ("done", "paused") and (proj.checkpoints_dir / "latest.pt").exists():
            self._load_trained(proj.root)
        elif proj.stages["poses"].state == "done":
            self.show_page("poses")
            if self.auto_continue:
                self.start_training()
        else:
            self.show_page("poses" if proj.stages["ingest"].state == "done" else "import")

    def _set_project(self, proj: Project) -> None:
        self.project = proj
        self.settings_panel.show_config(proj.config)
        self.setWindowTitle(f"Nerfie — {proj.root.name}")
        words = {"done": "done", "failed": "failed", "running": "paused", "paused": "paused"}
        for stage, st in proj.stages.items():
            text = _stage_text(stage, proj.detail(stage), st.state)
            self.stage_bar.set_state(stage, words.get(st.state, "pending"), text)
        self.poses_page.show_project(proj)
        self.training_page.show_history(read_history(proj.root))
        self._remember(proj.root)

    # ---- the pipeline ----------------------------------------------------------------------------

    def _processed(self, proj: Project) -> None:
        self._set_project(proj)
        self.show_page("poses")
        if self.auto_continue:
            self.start_training()

    def _failed_project(self, project_dir: Path) -> None:
        """Show whatever the failed run left (frames, report) so the user sees why."""
        if (project_dir / "project.json").exists():
            try:
                self._set_project(Project.load(project_dir))
                self.show_page("poses")
            except NerfieError:
                pass

    def start_training(self) -> None:
        if self.project is None or self._busy():
            return
        root = self.project.root
        self.stage_bar.set_state("train", "running")
        self.training_page.set_running(True)
        self.show_page("train")
        self.statusBar().showMessage("Training…")
        job = self._start_job("train", JobRequest("train", str(root)))
        # The live view: the worker renders what this viewport asks for, between training steps.
        self.training_page.viewer.set_scene(scene_frame(root), RemoteRenderer(job, job))
        job.succeeded.connect(lambda _root: self._trained(root))
        job.was_cancelled.connect(self._training_stopped)
        job.failed.connect(lambda *_: self._training_failed(root))

    def _pause_training(self, paused: bool) -> None:
        for job in self.jobs:
            if job.name == "train":
                job.set_paused(paused)
                self.stage_bar.set_state("train", "paused" if paused else "running")

    def _stop_training(self) -> None:
        for job in self.jobs:
            if job.name == "train":
                job.cancel()

    def _training_stopped(self) -> None:
        self.training_page.set_running(False, resumable=True)
        self.stage_bar.set_state("train", "paused", "stopped — weights kept")
        if self.project is not None:
            self._load_trained(self.project.root)

    def _training_failed(self, root: Path) -> None:
        """The worker failed or was killed: the window stays; Resume continues from the last checkpoint."""
        resumable = (Project.load(root).checkpoints_dir / "latest.pt").exists()
        self.training_page.set_running(False, resumable=resumable)

    def _trained(self, root: Path) -> None:
        self.training_page.set_running(False)
        self._load_trained(root)

    def _load_trained(self, root: Path) -> None:
        """Read the checkpoint into this process for the orbit viewer (no job is training now)."""
        job = Job("load", lambda _e, _c, _p: Engine().load_scene(root), self)
        self._track(job)
        job.succeeded.connect(lambda scene: self._show_scene(Project.load(root), scene))

    def _show_scene(self, proj: Project, scene: TrainedScene) -> None:
        self._set_project(proj)
        self.scene = scene
        self.viewer_page.set_scene(scene)
        self.training_page.viewer.set_scene(scene)
        self.show_page("viewer")
        self.statusBar().showMessage("Trained. Drag to orbit, scrub through time, File ▸ Export video.")

    # ---- export ----------------------------------------------------------------------------------

    def open_export(self) -> None:
        if self.project is None or not (self.project.checkpoints_dir / "latest.pt").exists():
            self.show_error("There is no trained Nerfie to export yet.",
                            "Drop a video and let it train (or open a trained project) first.")
            return
        if self._busy():
            return
        res = self.viewer_page.last_result
        rays_per_s = (res.image.shape[0] * res.image.shape[1] / max(res.seconds, 1e-3)) if res else 10000.0
        c = self.scene.cameras[0] if self.scene is not None else None
        aspect = c.width / c.height if c is not None else 1.0
        num = self.scene.num_frames if self.scene is not None else 1
        self.export_dialog = ExportDialog(self.project, num, aspect, rays_per_s, self,
                                          keyframes=self.viewer_page.keyframes)
        self.export_dialog.export_started.connect(lambda: self.stage_bar.set_state("render", "running"))
        self.export_dialog.exported.connect(lambda p: self.stage_bar.set_state("render", "done", Path(p).name))
        self.export_dialog.job_failed.connect(lambda msg: self.stage_bar.set_state("render", "failed", msg[:80]))
        self.export_dialog.open()

    # ---- jobs, events and errors -----------------------------------------------------------------

    def _busy(self) -> bool:
        running = [j for j in self.jobs if j.isRunning()]
        if running:
            self.show_error(f"Nerfie is busy ({running[0].name}).",
                            "Wait for it to finish or stop it first.")
        return bool(running)

    def _start_job(self, name: str, request: JobRequest) -> RemoteJob:
        """Start an engine call in a worker process; its events, failure and stop are routed here."""
        return self._track(RemoteJob(name, request, self))

    def _track(self, job: Any) -> Any:
        job.event.connect(self._on_event)
        job.failed.connect(lambda msg, adv: self._job_failed(job, msg, adv))
        job.was_cancelled.connect(lambda: self._job_cancelled(job.name))
        job.finished.connect(lambda: self._job_finished(job))
        self.jobs.append(job)
        job.start()
        self.stop_button.setEnabled(True)
        return job

    def _job_finished(self, job: Job | RemoteJob) -> None:
        if job in self.jobs:
            self.jobs.remove(job)
        job.deleteLater()
        self.stop_button.setEnabled(any(j.isRunning() for j in self.jobs))

    def stop_jobs(self) -> None:
        """Cancel whatever runs; stages already finished stay finished, the running one is marked stopped."""
        for job in self.jobs:
            job.cancel()

    def _job_cancelled(self, name: str) -> None:
        self.append_log(f"{name}: stopped")
        self.statusBar().showMessage("Stopped. Finished stages are kept; open the project to continue.")
        for stage, seg in self.stage_bar.segments.items():
            if seg.state == "running":
                self.stage_bar.set_state(stage, "cancelled")

    def _job_failed(self, job: Job | RemoteJob, message: str, advice: str) -> None:
        stage = EVENT_STAGE.get(job.name)
        if stage is not None:
            self.stage_bar.set_state(stage, "failed", message[:80])
        self.append_log(f"{job.name} failed: {message} {advice}", "error")
        self.statusBar().showMessage(message)
        self.show_error(message, advice)

    def _on_event(self, ev: object) -> None:
        if isinstance(ev, Progress):
            self.stage_bar.progress(ev.stage, ev.done, ev.total, ev.message)
        elif isinstance(ev, TrainStatus):
            self.training_page.on_status(ev)
            self.stage_bar.progress("train", ev.step, ev.total, f"step {ev.step} / {ev.total}")
        elif isinstance(ev, EvalResult):
            self.training_page.on_eval(ev)
            self.append_log(f"held-out PSNR {ev.psnr:.2f} dB at step {ev.step}")
        elif isinstance(ev, QualityReport):
            self.training_page.on_quality(ev)
            for line in ev.lines():
                self.append_log(line)
        elif isinstance(ev, Log):
            self.append_log(f"{ev.stage}: {ev.message}", ev.level)
        elif isinstance(ev, StageDone):
            stage = EVENT_STAGE.get(ev.stage)
            if stage is not None:
                self.stage_bar.set_state(stage, "done", ev.summary[:80])
            if stage == "ingest":
                self.stage_bar.set_state("poses", "running")  # process goes straight on to poses
            self.append_log(f"{ev.stage} done: {ev.summary}")

    def append_log(self, line: str, level: str = "info") -> None:
        prefix = {"warning": "⚠ ", "error": "✖ "}.get(level, "")
        self.log.appendPlainText(time.strftime("%H:%M:%S ") + prefix + line)

    def show_error(self, message: str, advice: str = "") -> None:
        """A non-blocking dialog with the engine's message and advice; the window stays usable."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Nerfie", message, QMessageBox.StandardButton.Ok, self)
        if advice:
            box.setInformativeText(advice)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        self.last_error = box
        box.open()

    # ---- recent projects -------------------------------------------------------------------------

    def _remember(self, root: Path) -> None:
        recent = [str(root)] + [p for p in self.recent_projects() if p != str(root)]
        self.settings.setValue("recent", recent[:MAX_RECENT])
        self._refresh_recent()

    def recent_projects(self) -> list[str]:
        value = self.settings.value("recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or []) if (Path(str(v)) / "project.json").exists()]

    def _refresh_recent(self) -> None:
        items = self.recent_projects()
        self.import_page.recent.clear()
        self.import_page.recent.addItems(items)
        self.recent_menu.clear()
        for p in items:
            act = QAction(p, self)
            act.triggered.connect(lambda _=False, path=p: self.open_path(Path(path)))
            self.recent_menu.addAction(act)
        self.recent_menu.setEnabled(bool(items))

    # ---- shutdown --------------------------------------------------------------------------------

    def closeEvent(self, event: Any) -> None:
        """Stop workers cleanly: training saves its checkpoint on the way out, so nothing is lost."""
        for job in list(self.jobs):
            job.cancel()
        deadline = time.monotonic() + 30
        for job in list(self.jobs):
            job.wait(max(0, int((deadline - time.monotonic()) * 1000)))
        self.viewer_page.shutdown()
        self.training_page.viewer.shutdown()
        if self.export_dialog is not None:
            self.export_dialog.close()
        super().closeEvent(event)


def _stage_text(stage: str, detail: StageDetail, state: str) -> str:
    if state == "done":
        if isinstance(detail, IngestDetail):
            return f"{len(detail.names)} frames"
        if isinstance(detail, PosesDetail):
            return f"{detail.registered} of {detail.total} registered"
        if isinstance(detail, TrainDetail):
            return f"{detail.step} steps" + (f" · {detail.val_psnr:.1f} dB" if detail.val_psnr else "")
    if state == "failed":
        return (detail.reason or "failed")[:80]
    return ""

