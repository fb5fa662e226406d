"""The engine: the one object every front end drives (``nerfie …`` verbs in this process, the
desktop app in a worker process — :mod:`nerfie.render.worker`).

It owns the pipeline's order (ingest/import → poses → train → render), where projects go, which
thread budget each stage runs under, how a checkpoint becomes a renderable scene, and the live view
of a model in training. What it does it reports as one typed event stream
(:mod:`nerfie.recon.events`); what it is told comes in as :class:`Controls` (cancel, pause, render
this view). Nothing here knows about Qt or terminals.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nerfie.recon.camera import Camera
from nerfie.recon.config import NerfieConfig, with_overrides
from nerfie.recon.errors import NerfieError
from nerfie.recon.events import EventSink, PreviewImage, ignore
from nerfie.recon.fileio import read_json
from nerfie.recon.project import Project
from nerfie.recon.thread_budget import ThreadBudget
from nerfie.render.export import RenderSpec, export
from nerfie.render.mesh import MeshSpec
from nerfie.render.point_cloud import PointCloudSpec
from nerfie.render.scene import TrainedScene, load_scene
from nerfie.render.viewer import OrbitCamera

PROJECT_SUFFIX = "-nerfie"
DATASET_FORMATS = ("nerfstudio", "nerfies")
LIVE_PERIOD_S = 1.0  # the live view re-renders with fresh weights at most this often…
LIVE_MAX_SHARE = 0.15  # …and never spends more than about this share of training time on it


def project_name(source: Path) -> str:
    """The folder name a new project of ``source`` gets, for the CLI and the app alike."""
    base = source.parent if source.is_file() and source.suffix == ".json" else source
    return (base.stem if base.is_file() else base.name) + PROJECT_SUFFIX


def default_project_dir(source: Path, home: Path) -> Path:
    """``<name>-nerfie`` beside the source when that folder is writable (and not inside the
    installed package, i.e. the bundled sample), else in ``home``."""
    import os

    import nerfie.assets

    base = source.parent
    assets = Path(nerfie.assets.__file__).resolve().parent
    if base.resolve() != assets and os.access(base, os.W_OK):
        return base / project_name(source)
    return home / project_name(source)


@dataclass(frozen=True)
class ViewRequest:
    """'Render this view': the viewer's camera (orbit or an input camera), frame time and size."""

    view: OrbitCamera | Camera
    time: float
    long_side: int
    aspect: float
    serial: int


def _never() -> bool:
    return False


def _no_view() -> ViewRequest | None:
    return None


@dataclass
class Controls:
    """What a front end can tell a running job; each is polled between units of work."""

    cancelled: Callable[[], bool] = _never
    paused: Callable[[], bool] = _never
    next_view: Callable[[], ViewRequest | None] = _no_view  # the newest unanswered view request


@dataclass
class RunResult:
    """What ``nerfie run`` reports: the project, its scores and where the video went."""

    project: Path
    video: Path
    registered: int = 0
    total: int = 0
    val_psnr: float = float("nan")
    seconds: dict[str, float] = field(default_factory=dict)
    quality: dict = field(default_factory=dict)  # the project's quality.json (recon.quality)
    path_check: list[str] = field(default_factory=list)


class LiveView:
    """Serves view requests between training steps: the newest request at once, and the last one
    again with fresh weights every :data:`LIVE_PERIOD_S` (stretched so it costs at most
    :data:`LIVE_MAX_SHARE` of the time). Runs on the training thread, so it never competes with the
    optimiser for cores or reads half-updated weights."""

    def __init__(self, on_event: EventSink, next_view: Callable[[], ViewRequest | None]) -> None:
        self.on_event, self.next_view = on_event, next_view
        self.request: ViewRequest | None = None
        self.last = 0.0
        self.cost = 0.0
        self.rendered_step = -1

    def __call__(self, trainer: Any) -> None:
        from nerfie.render.live import render_preview, snapshot_scene

        new = self.next_view()
        now = time.monotonic()
        if new is not None:
            self.request = new
        elif self.request is None or trainer.step == self.rendered_step or \
                now - self.last < max(LIVE_PERIOD_S, self.cost / LIVE_MAX_SHARE):
            return
        req = self.request
        t0 = time.perf_counter()
        scene = snapshot_scene(trainer)
        image = render_preview(scene, req.view, req.time, req.long_side, req.aspect)
        self.cost = time.perf_counter() - t0
        self.last, self.rendered_step = time.monotonic(), trainer.step
        self.on_event(PreviewImage(image=image, step=trainer.step, time=req.time, seconds=self.cost,
                                   serial=req.serial, long_side=req.long_side))


class Engine:
    """Runs a project's stages; one instance per job."""

    def __init__(self, on_event: EventSink = ignore, controls: Controls | None = None) -> None:
        self.on_event = on_event
        self.controls = controls or Controls()

    # ---- stages ----------------------------------------------------------------------------------

    def process(self, source: Path | None, project_dir: Path, config: NerfieConfig) -> Project:
        """Video or photos → frames, masks, poses (resumes finished stages)."""
        from nerfie.recon.process import process

        with ThreadBudget("process"):
            return process(source, project_dir, config, self.on_event, self.controls.cancelled)

    def import_dataset(self, source: Path, project_dir: Path, config: NerfieConfig, background: str = "white",
                       half_res: bool = True) -> Project:
        """A posed dataset (transforms.json, D-NeRF, COLMAP, Nerfies) → project, no SfM."""
        from nerfie.recon.importers import import_dataset

        if not source.exists():
            raise NerfieError(f"{source} does not exist.", "Check the path to the dataset.")
        return import_dataset(source, project_dir, config, background, half_res, self.on_event)

    def train(self, project_dir: Path, overrides: dict[str, object] | None = None, live: bool = True) -> dict:
        """Train (or resume) the project's model; view requests are answered between steps."""
        from nerfie.recon.train import Trainer

        proj = Project.load(project_dir)
        if overrides:
            proj.config = with_overrides(proj.config, overrides)
            proj.save()
        c = self.controls
        hook = LiveView(self.on_event, c.next_view) if live else None
        trainer = Trainer(proj, self.on_event, c.cancelled, c.paused, between_steps=hook)
        if trainer.step:
            from nerfie.recon.events import Log

            self.on_event(Log("train", f"Resuming from step {trainer.step}."))
        return trainer.run()

    def load_scene(self, project_dir: Path, device: str = "auto") -> TrainedScene:
        """The trained model of a project, ready to render (the checkpoint read and checked)."""
        return load_scene(project_dir, device)

    def export(self, project_dir: Path | TrainedScene, spec: RenderSpec, out: Path | None = None,
               camera_path: Path | None = None, png: bool = False, device: str = "auto") -> Path:
        """Render a camera path to an MP4 (and PNGs); returns the video's path."""
        scene = project_dir if isinstance(project_dir, TrainedScene) else self.load_scene(project_dir, device)
        out = out or scene.project.renders_dir / f"{spec.path}.mp4"
        out.parent.mkdir(parents=True, exist_ok=True)
        with ThreadBudget("render"):
            return export(scene, spec, out, camera_path, png, self.on_event, self.controls.cancelled)

    def export_dataset(self, project_dir: Path, fmt: str, out: Path | None = None) -> Path:
        """The project's posed frames as a nerfstudio or Nerfies / HyperNeRF dataset folder."""
        from nerfie.render.dataset_export import export_nerfies, export_nerfstudio

        if fmt not in DATASET_FORMATS:
            raise NerfieError(f"Unknown dataset format {fmt!r}.", f"Use one of: {', '.join(DATASET_FORMATS)}.")
        out = out or project_dir / "exports" / fmt
        if fmt == "nerfstudio":
            return export_nerfstudio(project_dir, out, self.on_event).parent
        return export_nerfies(project_dir, out, on_event=self.on_event)

    def export_point_cloud(self, project_dir: Path | TrainedScene, spec: PointCloudSpec | None = None,
                           out: Path | None = None, device: str = "auto") -> Path:
        """A coloured PLY point cloud of the trained Nerfie at one frame (its observation space)."""
        from nerfie.render.point_cloud import export_point_cloud

        scene = project_dir if isinstance(project_dir, TrainedScene) else self.load_scene(project_dir, device)
        spec = spec or PointCloudSpec()
        frame = (scene.num_frames - 1) // 2 if spec.frame is None else spec.frame
        out = out or scene.project.root / "exports" / f"point_cloud_frame{frame:03d}.ply"
        with ThreadBudget("render"):
            return export_point_cloud(scene, spec, out, self.on_event, self.controls.cancelled)

    def export_mesh(self, project_dir: Path | TrainedScene, spec: MeshSpec | None = None,
                    out: Path | None = None, device: str = "auto") -> Path:
        """A closed, coloured mesh (PLY or OBJ by ``out``'s suffix) of the subject at one frame."""
        from nerfie.render.mesh import export_mesh

        scene = project_dir if isinstance(project_dir, TrainedScene) else self.load_scene(project_dir, device)
        spec = spec or MeshSpec()
        frame = (scene.num_frames - 1) // 2 if spec.frame is None else spec.frame
        out = out or scene.project.root / "exports" / f"mesh_frame{frame:03d}.ply"
        with ThreadBudget("render"):
            return export_mesh(scene, spec, out, self.on_event, self.controls.cancelled)

    def evaluate(self, project_dir: Path | TrainedScene, split: str = "test", device: str = "auto",
                 images: bool = True) -> dict:
        """Score a split the model never trained on (``render.evaluate``); writes ``eval.json`` (and each
        view beside its render under ``eval/``, with ``images``)."""
        from nerfie.render.evaluate import evaluate_split

        scene = project_dir if isinstance(project_dir, TrainedScene) else self.load_scene(project_dir, device)
        with ThreadBudget("render"):
            return evaluate_split(scene, split, self.on_event, self.controls.cancelled, images=images)

    def run(self, source: Path | None, project_dir: Path, config: NerfieConfig,
            turntable: Callable[[TrainedScene], RenderSpec]) -> RunResult:
        """Video → poses → trained Nerfie → turntable MP4; each finished stage is kept and skipped on rerun."""
        from nerfie.recon.train import QUALITY_RECORD

        seconds: dict[str, float] = {}
        if (project_dir / "project.json").exists():  # a rerun takes this run's settings
            proj = Project.load(project_dir)
            proj.config = config
            proj.save()
        t0 = time.perf_counter()
        proj = self.process(source, project_dir, config)
        seconds["process"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if proj.stages["train"].state != "done":
            val = float(self.train(proj.root, live=False)["val_psnr"])
        else:
            val = proj.detail("train").val_psnr
            val = float("nan") if val is None else float(val)
        seconds["train"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        scene = self.load_scene(proj.root)
        video = self.export(scene, turntable(scene), proj.renders_dir / "turntable.mp4")
        seconds["render"] = time.perf_counter() - t0
        proj = Project.load(proj.root)
        poses = proj.detail("poses")
        q = proj.path(QUALITY_RECORD)
        return RunResult(project=proj.root, video=video, registered=poses.registered, total=poses.total,
                         val_psnr=val, seconds=seconds, quality=read_json(q) if q.exists() else {},
                         path_check=list(proj.detail("render").path_check))


@dataclass(frozen=True)
class JobRequest:
    """One engine call, picklable, for a worker process: ``verb`` names the method."""

    # "process" | "import" | "train" | "export" | "export-dataset" | "export-point-cloud" | "export-mesh" | "eval"
    verb: str
    project: str
    source: str | None = None
    config: NerfieConfig | None = None
    overrides: dict | None = None
    spec: RenderSpec | None = None
    output: str | None = None
    format: str | None = None  # export-dataset: "nerfstudio" | "nerfies"; eval: the split
    point_cloud: PointCloudSpec | None = None  # export-point-cloud
    mesh: MeshSpec | None = None  # export-mesh


def execute(engine: Engine, req: JobRequest) -> str:
    """Run ``req`` on ``engine``; returns the project's (or the video's) path as text."""
    project = Path(req.project)
    if req.verb in ("process", "import"):
        if req.config is None:
            raise ValueError(f"{req.verb} needs a config")
        source = Path(req.source) if req.source else None
        if req.verb == "import":
            if source is None:
                raise ValueError("import needs a source")
            return str(engine.import_dataset(source, project, req.config).root)
        return str(engine.process(source, project, req.config).root)
    if req.verb == "train":
        engine.train(project, req.overrides)
        return str(project)
    if req.verb == "export":
        if req.spec is None:
            raise ValueError("export needs a spec")
        return str(engine.export(project, req.spec, Path(req.output) if req.output else None))
    if req.verb == "export-dataset":
        return str(engine.export_dataset(project, req.format or "nerfstudio", Path(req.output) if req.output else None))
    if req.verb == "export-point-cloud":
        return str(engine.export_point_cloud(project, req.point_cloud, Path(req.output) if req.output else None))
    if req.verb == "eval":
        engine.evaluate(project, req.format or "test")
        return str(project / "eval.json")
    if req.verb == "export-mesh":
        return str(engine.export_mesh(project, req.mesh, Path(req.output) if req.output else None))
    raise ValueError(f"unknown engine verb {req.verb!r}")
