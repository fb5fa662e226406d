"""Pose accuracy on a full-size synthetic capture and on real clips (slow: minutes each).

Run with ``.venv/bin/pytest -m slow``. Real clips come from ../shared/data and are skipped, with the
reason, where that folder is absent (a user's fresh clone).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nerfie.recon.camera import Camera
from nerfie.recon.config import preset, with_overrides
from nerfie.recon.dataset import load_dataset
from nerfie.recon.errors import NerfieError
from nerfie.recon.process import process
from nerfie.recon.sfm.align import pose_errors

pytestmark = pytest.mark.slow
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_synthetic_selfie_poses_match_ground_truth(tmp_path: Path) -> None:
    from nerfie.recon.synth import SynthSpec, generate

    cap = generate(tmp_path / "cap", SynthSpec(frames=150, width=256, height=256, heldout=0))
    proj = process(cap.video, tmp_path / "p", with_overrides(preset("cpu-preview"), {"ingest.target_frames": 150}))
    ds = load_dataset(proj.root)
    assert len(ds.names) >= 0.95 * 150
    gt = [Camera.from_json(json.loads((cap.out_dir / "cameras" / f"frame_{int(n[6:11]):05d}.json").read_text()))
          for n in ds.names]
    e = pose_errors(np.stack([c.position for c in ds.cameras]), np.stack([c.rotation for c in ds.cameras]),
                    np.stack([c.position for c in gt]), np.stack([c.rotation for c in gt]))
    assert e["center_err_pct_median"] < 1.0 and e["rot_err_deg_median"] < 1.0, e


@pytest.mark.parametrize("base", [0, 10, 20])
def test_foreman_registers_most_frames_for_any_base_seed(tmp_path: Path, base: int) -> None:
    clip = DATA / "videos" / "foreman_handheld_face.mp4"
    if not clip.exists():
        pytest.skip(f"{clip} is absent (real clips live in ../shared/data, not in the repository)")
    cfg = with_overrides(preset("cpu-preview"), {"ingest.end_seconds": 8.0, "sfm.seeds": [base, base + 1, base + 2]})
    proj = process(clip, tmp_path / "p", cfg)
    d = proj.stages["poses"].detail
    assert d["registered"] >= 0.8 * d["total"]


def test_a_camera_fixed_in_a_car_is_called_still(tmp_path: Path) -> None:
    clip = DATA / "videos" / "carphone_fixed_camera.mp4"
    if not clip.exists():
        pytest.skip(f"{clip} is absent (real clips live in ../shared/data, not in the repository)")
    with pytest.raises(NerfieError, match="barely moved"):
        process(clip, tmp_path / "p", with_overrides(preset("cpu-preview"), {"ingest.min_frames": 20}))
