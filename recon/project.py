"""The project folder: one self-contained, relocatable directory per capture.

Layout (format version 1)::

    project.json        format, version, config tree, source video, stage states
    frames/             selected frames (1x), frames_2/, frames_4/, frames_8/ downscales
    masks/              subject masks, white = keep (nerfstudio polarity)
    colmap/             COLMAP workspace: database.db, sparse/<k>/
    transforms.json     nerfstudio-compatible cameras
    checkpoints/        model checkpoints
    renders/            exported videos and frames

Every path stored in ``project.json`` is relative to the project folder, so the folder can be
moved or copied to another machine. ``project.json`` is written atomically.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nerfie.recon.config import NerfieConfig, config_from_dict, to_dict
from nerfie.recon.errors import ConfigError, ProjectError
from nerfie.recon.fileio import read_json, write_json_atomic
from nerfie.recon.stage_details import check_keys, typed
from nerfie.recon.version import __version__

FORMAT = "nerfie-project"
FORMAT_VERSION = 1
PROJECT_FILE = "project.json"
STAGES = ("ingest", "poses", "train", "render")
SUBDIRS = ("frames", "masks", "colmap", "checkpoints", "renders")


@dataclass
class StageState:
    """Where a stage stands: ``pending`` → ``running`` → ``done`` | ``failed``."""

    state: str = "pending"
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Project:
    root: Path
    config: NerfieConfig
    source: str | None = None  # source video, relative to root when possible
    stages: dict[str, StageState] = field(default_factory=lambda: {s: StageState() for s in STAGES})
    created: str = ""

    # ---- paths ----------------------------------------------------------------------------

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    @property
    def frames_dir(self) -> Path:
        return self.path("frames")

    @property
    def masks_dir(self) -> Path:
        return self.path("masks")

    @property
    def colmap_dir(self) -> Path:
        return self.path("colmap")

    @property
    def checkpoints_dir(self) -> Path:
        return self.path("checkpoints")

    @property
    def renders_dir(self) -> Path:
        return self.path("renders")

    def relative(self, p: str | os.PathLike[str]) -> str:
        """``p`` relative to the project root (POSIX separators), for storing in project.json.

        A file on another Windows drive has no relative path to the project: it is stored absolute.
        """
        try:
            return Path(os.path.relpath(Path(p).absolute(), self.root.absolute())).as_posix()
        except ValueError:  # "path is on mount 'D:', start on mount 'C:'"
            return Path(p).absolute().as_posix()

    def resolve(self, rel: str) -> Path:
        return (self.root / rel).resolve()

    # ---- create / load / save ---------------------------------------------------------------

    @classmethod
    def create(cls, root: str | os.PathLike[str], config: NerfieConfig, source: str | None = None) -> Project:
        root = Path(root)
        if (root / PROJECT_FILE).exists():
            raise ProjectError(
                f"{root} already holds a Nerfie project.", "Open it instead, or choose another folder."
            )
        root.mkdir(parents=True, exist_ok=True)
        for sub in SUBDIRS:
            (root / sub).mkdir(exist_ok=True)
        proj = cls(root=root, config=config, created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
        if source is not None:
            proj.source = proj.relative(source)
        proj.save()
        return proj

    @classmethod
    def load(cls, root: str | os.PathLike[str]) -> Project:
        root = Path(root)
        file = root / PROJECT_FILE
        if not file.exists():
            raise ProjectError(
                f"{root} is not a Nerfie project (no {PROJECT_FILE}).",
                "Pass the folder that `nerfie process` created.",
            )
        data = read_json(file)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, dict) else None
            raise ProjectError(
                f"{file} is not a Nerfie project file (format {found!r}).",
                "Point Nerfie at a folder created by `nerfie process`.",
            )
        version = data.get("version")
        if not isinstance(version, int):
            raise ProjectError(f"{file} has an unknown format version {version!r}.", "The file is damaged.")
        if version > FORMAT_VERSION:
            raise ProjectError(
                f"{file} was written by a newer Nerfie (project format {version}; this Nerfie "
                f"{__version__} reads up to {FORMAT_VERSION}).",
                "Update Nerfie to open it.",
            )
        if version < 1:
            raise ProjectError(f"{file} has an unknown format version {version}.", "The file is damaged.")
        try:
            config = config_from_dict(data.get("config", {}), stored=True)
        except ConfigError as exc:
            raise ProjectError(f"{file}: {exc.message}", exc.advice) from exc
        stages = {s: StageState() for s in STAGES}
        for name, st in (data.get("stages") or {}).items():
            if name in stages and isinstance(st, dict):
                stages[name] = StageState(state=str(st.get("state", "pending")), detail=dict(st.get("detail", {})))
        return cls(root=root, config=config, source=data.get("source"), stages=stages,
                   created=str(data.get("created", "")))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "nerfie_version": __version__,
            "created": self.created,
            "source": self.source,
            "config": to_dict(self.config),
            "stages": {k: {"state": v.state, "detail": v.detail} for k, v in self.stages.items()},
        }

    def save(self) -> None:
        write_json_atomic(self.root / PROJECT_FILE, self.to_dict())

    def set_stage(self, stage: str, state: str, **detail: Any) -> None:
        """Record ``stage``'s state and its details (keys of its type in :mod:`~nerfie.recon.stage_details`)."""
        check_keys(stage, detail)
        self.stages[stage] = StageState(state=state, detail=detail)
        self.save()

    def detail(self, stage: str) -> Any:
        """``stage``'s record, typed (IngestDetail, PosesDetail, TrainDetail or RenderDetail)."""
        return typed(stage, self.stages[stage].detail)
