"""The training curves, kept in the project: ``metrics.jsonl``, one event per line.

The window draws its curves from the trainer's events; without this file they lived only in the
window's memory, so reopening a project showed empty plots and nobody could plot a run elsewhere.
Every :class:`TrainStatus`, :class:`EvalResult` and :class:`QualityReport` the trainer emits is appended
as a JSON object with a ``"type"`` and the wall-clock ``"time"`` (NaN written as ``null``).

It is an append-only log rather than an atomically replaced file (rewriting it every few steps would
cost more than the step): a process killed mid-line leaves at most one torn last line, which
:func:`read_history` skips. Training that resumes from a checkpoint first drops the lines past the
checkpoint's step (they describe weights that no longer exist), with an atomic rewrite.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any

from nerfie.recon.events import EvalResult, Event, QualityReport, TrainStatus
from nerfie.recon.fileio import write_bytes_atomic

HISTORY_FILE = "metrics.jsonl"
TYPES: dict[str, type] = {"train": TrainStatus, "eval": EvalResult, "quality": QualityReport}
HistoryEvent = TrainStatus | EvalResult | QualityReport


def _type_name(event: object) -> str | None:
    for name, cls in TYPES.items():
        if isinstance(event, cls):
            return name
    return None


def _clean(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


class TrainingHistory:
    """Appends the curve events of one project's training to ``metrics.jsonl``."""

    def __init__(self, project_root: Path) -> None:
        self.path = Path(project_root) / HISTORY_FILE

    def record(self, event: Event) -> None:
        """Append ``event`` if it is one the curves show; ignore any other."""
        name = _type_name(event)
        if name is None:
            return
        row = {"type": name, "time": round(time.time(), 3)}
        row.update({k: _clean(v) for k, v in dataclasses.asdict(event).items()})  # type: ignore[arg-type]
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, allow_nan=False) + "\n")

    def keep_until(self, step: int) -> None:
        """Drop what was recorded after ``step`` (a resume from that step's checkpoint, or 0: a new run)."""
        if not self.path.exists():
            return
        kept = [line for line in self.path.read_text(encoding="utf-8").splitlines()
                if (row := _parse(line)) is not None and int(row.get("step", 0)) <= step]
        if step == 0:
            kept = []
        write_bytes_atomic(self.path, "".join(line + "\n" for line in kept).encode("utf-8"))


def _parse(line: str) -> dict[str, Any] | None:
    try:
        row = json.loads(line)
    except json.JSONDecodeError:  # a torn last line from a killed process
        return None
    return row if isinstance(row, dict) and row.get("type") in TYPES else None


def read_history(project_root: Path) -> list[HistoryEvent]:
    """The recorded events, typed, in order (``[]`` when the project has none)."""
    path = Path(project_root) / HISTORY_FILE
    if not path.exists():
        return []
    events: list[HistoryEvent] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = _parse(line)
        if row is None:
            continue
        cls = TYPES[row["type"]]
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: (float("nan") if v is None else v) for k, v in row.items() if k in names}
        try:
            events.append(cls(**values))
        except TypeError:  # written by another version with other fields: skip, never fail the open
            continue
    return events
