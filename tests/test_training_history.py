"""The training curves are kept in the project (metrics.jsonl) and survive a kill and a resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

from nerfie.recon.config import preset, with_overrides
from nerfie.recon.events import EvalResult, Log, TrainStatus
from nerfie.recon.importers import import_transforms
from nerfie.recon.train import Trainer
from nerfie.recon.training_history import HISTORY_FILE, TrainingHistory, read_history

TINY = {"train.rays_per_batch": 64, "model.proposal_samples": [8], "model.shaded_samples": 8,
        "train.checkpoint_every": 0, "train.eval_every": 10, "train.minutes": 0.0}


def _status(step: int, loss: float = 0.1) -> TrainStatus:
    return TrainStatus(step=step, total=100, loss=loss, psnr=20.0, alpha=1.0, active_levels=4.0,
                       rays_per_second=1000.0, eta_seconds=5.0, lr=1e-3)


def test_events_round_trip_with_nan_as_null_and_other_events_ignored(tmp_path: Path) -> None:
    history = TrainingHistory(tmp_path)
    history.record(_status(10))
    history.record(Log("train", "not a curve"))
    history.record(EvalResult(10, 25.0, 3))  # psnr_subject and ssim NaN: no masks
    rows = [json.loads(line) for line in (tmp_path / HISTORY_FILE).read_text().splitlines()]
    assert [r["type"] for r in rows] == ["train", "eval"] and rows[1]["psnr_subject"] is None
    events = read_history(tmp_path)
    assert events[0] == _status(10)
    assert isinstance(events[1], EvalResult) and events[1].psnr == 25.0 and math.isnan(events[1].ssim)


def test_a_torn_last_line_from_a_killed_process_is_skipped(tmp_path: Path) -> None:
    TrainingHistory(tmp_path).record(_status(10))
    with open(tmp_path / HISTORY_FILE, "a") as fh:
        fh.write('{"type": "train", "step": 2')
    assert read_history(tmp_path) == [_status(10)]
    assert read_history(tmp_path / "no-such-project") == []


def test_resuming_drops_what_came_after_the_checkpoint_and_a_new_run_starts_empty(tmp_path: Path) -> None:
    history = TrainingHistory(tmp_path)
    for step in (10, 20, 30):
        history.record(_status(step))
    history.keep_until(20)
    assert [e.step for e in read_history(tmp_path)] == [10, 20]
    history.keep_until(0)
    assert read_history(tmp_path) == []


def test_a_training_run_records_its_curves_and_a_resume_continues_them(small_capture: Path, tmp_path: Path) -> None:
    cfg = with_overrides(preset("cpu-preview"), TINY)
    proj = import_transforms(small_capture / "transforms.json", tmp_path / "proj", cfg)
    Trainer(proj).run(steps=20)
    first = read_history(proj.root)
    steps = [e.step for e in first if isinstance(e, TrainStatus)]
    assert steps == [10, 20]
    assert any(isinstance(e, EvalResult) for e in first)
    TrainingHistory(proj.root).record(_status(999))  # what a killed run wrote past its last checkpoint
    Trainer(proj).run(steps=30)  # a fresh trainer resumes from the step-20 checkpoint
    steps = [e.step for e in read_history(proj.root) if isinstance(e, TrainStatus)]
    assert steps == [10, 20, 30]
