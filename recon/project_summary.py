"""A project in one machine-readable object: what ``nerfie info PROJECT --json`` prints.

For scripts and other tools: the stages and their figures as ``project.json`` keeps them, plus what
the folder holds (frames, checkpoint, renders) and the end of the training history.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from nerfie.recon.events import EvalResult, TrainStatus
from nerfie.recon.project import Project
from nerfie.recon.training_history import HISTORY_FILE, read_history


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def project_summary(root: Path) -> dict[str, Any]:
    """``project.json``'s content with the folder's files and the training curves' last points."""
    proj = Project.load(root)
    out = proj.to_dict()
    history = read_history(proj.root)
    status = [e for e in history if isinstance(e, TrainStatus)]
    evals = [e for e in history if isinstance(e, EvalResult)]
    ckpt = proj.checkpoints_dir / "latest.pt"
    out["root"] = str(proj.root.resolve())
    out["files"] = {
        "frames": sum(1 for _ in proj.frames_dir.glob("*.png")) if proj.frames_dir.exists() else 0,
        "checkpoint": proj.relative(ckpt) if ckpt.exists() else None,
        "renders": sorted(proj.relative(p) for p in proj.renders_dir.glob("*") if p.is_file())
        if proj.renders_dir.exists() else [],
        "history": HISTORY_FILE if (proj.root / HISTORY_FILE).exists() else None,
    }
    out["history"] = {
        "points": len(status),
        "last": {k: _finite(v) if isinstance(v, float) else v
                 for k, v in dataclasses.asdict(status[-1]).items()} if status else None,
        "evaluations": [{"step": e.step, "psnr": _finite(e.psnr), "psnr_subject": _finite(e.psnr_subject),
                         "ssim": _finite(e.ssim)} for e in evals],
    }
    scored = proj.root / "eval.json"  # `nerfie eval`'s record (render.evaluate), without its per-view rows
    if scored.exists():
        from nerfie.recon.fileio import read_json

        out["eval"] = {k: v for k, v in read_json(scored).items() if k != "per_view"}
    return out
