"""``nerfie run``: video → poses → trained Nerfie → turntable MP4, resumable stage by stage.

A thin driver over the same engine calls the CLI verbs and the GUI use. Each stage is skipped when
the project records it as done, so rerunning after a crash, Ctrl-C or SIGKILL continues from the last
finished stage (training from its last checkpoint).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nerfie.recon.config import NerfieConfig
from nerfie.recon.events import EventSink, ignore
from nerfie.recon.fileio import read_json
from nerfie.recon.process import process
from nerfie.recon.project import Project
from nerfie.recon.train import QUALITY_RECORD, Trainer


@dataclass
class RunSummary:
    project: Path
    registered: int = 0
    total: int = 0
    val_psnr: float = float("nan")
    seconds: dict[str, float] = field(default_factory=dict)
    quality: dict = field(default_factory=dict)  # the project's quality.json (recon.quality)


def process_and_train(source: Path | None, project_dir: Path, config: NerfieConfig, on_event: EventSink = ignore,
                      cancelled: Callable[[], bool] = lambda: False) -> tuple[Project, RunSummary]:
    summary = RunSummary(project=project_dir)
    t0 = time.perf_counter()
    proj = process(source, project_dir, config, on_event, cancelled)
    summary.seconds["process"] = time.perf_counter() - t0
    d = proj.stages["poses"].detail
    summary.registered, summary.total = int(d.get("registered", 0)), int(d.get("total", 0))
    t0 = time.perf_counter()
    if proj.stages["train"].state != "done":
        result = Trainer(proj, on_event, cancelled).run()
        summary.val_psnr = float(result["val_psnr"])
    else:
        summary.val_psnr = float(proj.stages["train"].detail.get("val_psnr") or float("nan"))
    summary.seconds["train"] = time.perf_counter() - t0
    q = proj.path(QUALITY_RECORD)
    summary.quality = read_json(q) if q.exists() else {}
    return proj, summary
