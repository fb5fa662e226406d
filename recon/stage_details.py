"""What each stage records about itself in ``project.json``: one type per stage.

``Project.set_stage`` checks the keys it is given against the stage's type (a misspelt key is a
bug caught where it is written, not a silently missing figure later), and ``Project.detail(stage)``
reads the record back typed, so the CLI, the app and the benchmarks read the same fields the same
way. Keys written by another version that this one does not know are ignored on reading.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class IngestDetail:
    """Frames chosen from the video (or photos)."""

    names: list[str] = field(default_factory=list)
    decoded: int = 0
    source_kind: str = ""  # "video" | "photos" | an importer's name
    rejected_blurry: int = 0
    rejected_duplicate: int = 0
    size: list[int] = field(default_factory=list)  # [width, height] of the frames
    fps: float = 0.0
    duration: float = 0.0
    rotation: int = 0
    dark: bool = False
    seconds: float = 0.0
    reason: str = ""  # why it failed


@dataclass(frozen=True)
class PosesDetail:
    """Camera poses: how many frames registered, on which rung of the ladder."""

    registered: int = 0
    total: int = 0
    failed: list[str] = field(default_factory=list)  # frames without a pose
    rung: str = ""
    points: int = 0
    masks: bool = False
    seconds: float = 0.0
    report: list[str] = field(default_factory=list)
    reason: str = ""


@dataclass(frozen=True)
class TrainDetail:
    """Where training stands and what it scored (None: not scored)."""

    step: int = 0
    seconds: float = 0.0
    stopped: str = ""  # "steps" | "time budget" | "cancelled"
    val_psnr: float | None = None
    val_psnr_subject: float | None = None
    val_ssim: float | None = None
    consistency_psnr: float | None = None
    consistency_psnr_subject: float | None = None
    reason: str = ""


@dataclass(frozen=True)
class RenderDetail:
    """The last export."""

    video: str = ""
    frames: int = 0
    fps: int = 0
    path: str = ""
    time_mode: str = ""
    path_check: list[str] = field(default_factory=list)  # problems found; empty = passed
    reason: str = ""


StageDetail = IngestDetail | PosesDetail | TrainDetail | RenderDetail
DETAIL_TYPES: dict[str, type] = {"ingest": IngestDetail, "poses": PosesDetail, "train": TrainDetail,
                                 "render": RenderDetail}


def check_keys(stage: str, detail: dict[str, Any]) -> None:
    """Raise ``KeyError`` (a bug: the engine wrote a key its stage type does not have)."""
    known = {f.name for f in dataclasses.fields(DETAIL_TYPES[stage])}
    unknown = sorted(set(detail) - known)
    if unknown:
        raise KeyError(f"stage {stage!r} has no detail {unknown} (see nerfie.recon.stage_details)")


def typed(stage: str, detail: dict[str, Any]) -> Any:
    """The stored record of ``stage`` as its type; unknown keys (another version's) are left out."""
    cls = DETAIL_TYPES[stage]
    known = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in detail.items() if k in known})
