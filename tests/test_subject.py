"""The subject estimate: where the head is in 3-D, and whether the poses can hold a still head at all.

Two synthetic captures reproduce what real clips do and the optical-axes focus got wrong: a camera
that turns more than it travels (its axes meet behind it, the head is still in front), and a person
who moves along with the camera (no still subject fits). Cameras are the ground truth, masks come
from the app's own face detector, so what is tested is the estimator, not SfM.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from nerfie.recon.camera import Camera
from nerfie.recon.ingest.masks import make_masks
from nerfie.recon.sfm.subject import (
    SubjectObservation,
    depths_of,
    diagnose,
    estimate_subject,
    from_camera_axes,
    intersect_rays,
    observation_from_mask,
    observations,
)
from nerfie.recon.synth import SynthSpec, generate, motion_at
from nerfie.render.paths import turntable

UP = np.array([0.0, 0.0, 1.0])


def _capture(tmp: Path, variant: str) -> tuple[dict[str, Camera], dict[str, SubjectObservation], float, SynthSpec]:
    spec = SynthSpec(frames=40, width=192, height=192, variant=variant, heldout=0, seed=1)
    generate(tmp / "capture", spec)
    names = sorted(p.name for p in (tmp / "capture" / "frames").iterdir())
    rep = make_masks(tmp / "capture" / "frames", names, tmp / "masks")
    assert rep.used, rep.reason
    cams = {n: Camera.from_json(json.loads((tmp / "capture" / "cameras" / f"{Path(n).stem}.json").read_text()))
            for n in names}
    depth = np.load(tmp / "capture" / "depth.npy")
    background = float(np.median(depth[depth > 1.0]))  # the room's depth (the head is ~0.55 m away)
    return cams, observations(tmp / "masks", names), background, spec


@pytest.fixture(scope="module")
def pan(tmp_path_factory: pytest.TempPathFactory):
    return _capture(tmp_path_factory.mktemp("pan"), "pan")


@pytest.fixture(scope="module")
def drift(tmp_path_factory: pytest.TempPathFactory):
    return _capture(tmp_path_factory.mktemp("drift"), "drift")


def test_pan_heavy_camera_axes_meet_behind_it(pan) -> None:
    """The premise: on this capture the old focus (where the optical axes meet) is behind the cameras."""
    cams, _, background, _ = pan
    cl = list(cams.values())
    axes = intersect_rays(np.stack([c.position for c in cl]), np.stack([c.forward for c in cl]))
    assert depths_of(axes, cl).max() < 0
    fallback = from_camera_axes(cl, background)
    assert fallback.source == "mean view direction"  # never a focus behind the cameras
    assert depths_of(fallback.center, cl).min() > 0


def test_pan_heavy_subject_lands_on_the_head_in_front_of_every_camera(pan) -> None:
    cams, obs, background, _ = pan
    est = estimate_subject(cams, obs, background)
    cl = list(cams.values())
    head = np.zeros(3)  # HEAD_CENTER; the pan variant's head turns and talks but does not travel
    distance = float(np.median([np.linalg.norm(c.position - head) for c in cl]))
    assert est.consistent, est.problems
    assert np.linalg.norm(est.center - head) <= 0.10 * distance
    assert depths_of(est.center, cl).min() > 0
    assert 0.05 < est.radius < 0.2  # a head's size (its ellipsoid's radii are 7.5–11.5 cm)


def test_turntable_middle_frame_looks_at_the_head(pan) -> None:
    cams, obs, background, _ = pan
    est = estimate_subject(cams, obs, background)
    path = turntable(list(cams.values()), est.center, UP, 61, 192, 60.0)
    mid = path[30]
    to_head = -mid.position / np.linalg.norm(mid.position)
    assert math.degrees(math.acos(float(np.clip(to_head @ mid.forward, -1, 1)))) <= 2.0


def test_drifting_head_is_flagged_as_no_still_subject(drift) -> None:
    cams, obs, background, spec = drift
    assert abs(motion_at(spec, 0.25).offset[0]) > 0.1  # the premise: the person really moves along
    est = estimate_subject(cams, obs, background)
    assert not est.consistent
    assert any("behind" in p or "miss" in p or "beyond" in p for p in est.problems)
    cause, fix = diagnose(list(cams.values()), background)
    assert cause == "you moved along with the camera"
    assert "head still" in fix


def test_diagnosis_of_a_pan_names_the_turn(pan) -> None:
    cams, _, background, _ = pan
    cause, fix = diagnose(list(cams.values()), background)
    assert cause == "the camera turned without moving around you"
    assert "arc" in fix


def test_a_static_orbit_is_consistent_and_on_the_head(small_capture: Path) -> None:
    """The normal capture (camera orbits a still-standing, talking head) passes, with ground-truth masks."""
    names = sorted(p.name for p in (small_capture / "frames").iterdir())
    cams = {n: Camera.from_json(json.loads((small_capture / "cameras" / f"{Path(n).stem}.json").read_text()))
            for n in names}
    obs = observations(small_capture / "masks", names)  # exact masks: no detector boxes saved
    assert len(obs) == len(names)
    est = estimate_subject(cams, obs, 1.5)
    assert est.consistent, est.problems
    assert np.linalg.norm(est.center) < 0.1 * 0.55


def test_observation_from_a_head_and_shoulders_mask_is_the_head() -> None:
    """Without detector boxes the head is the top of the black region, not the middle of the shoulders."""
    import cv2

    m = np.full((200, 200), 255, np.uint8)
    cv2.circle(m, (100, 60), 25, 0, -1)  # head
    cv2.rectangle(m, (30, 100), (170, 199), 0, -1)  # shoulders: far more pixels than the head
    o = observation_from_mask(m)
    assert o is not None
    assert abs(o.u - 100) < 3 and abs(o.v - 60) < 8
    assert 15 < o.radius_px < 35


def test_too_few_observations_fall_back_to_camera_axes(pan) -> None:
    cams, obs, background, _ = pan
    few = dict(list(obs.items())[:3])
    est = estimate_subject(cams, few, background)
    assert est.source in ("camera axes", "mean view direction")
    assert depths_of(est.center, list(cams.values())).min() > 0


def test_near_and_far_bracket_the_subject_even_when_sfm_points_lie_only_on_the_wall() -> None:
    from nerfie.recon.sfm.normalize import normalize_scene
    from nerfie.recon.sfm.subject import SubjectEstimate

    cams = {f"f{i}": Camera.look_at(np.array([0.1 * i - 0.2, -1.0, 0.0]), np.zeros(3), UP, 64, 64, fx=60.0, fy=60.0,
                                    cx=32.0, cy=32.0) for i in range(5)}
    rng = np.random.default_rng(0)
    wall = np.c_[rng.uniform(-1, 1, 400), np.full(400, 3.0), rng.uniform(-1, 1, 400)]  # 4 m away
    subject = SubjectEstimate(np.zeros(3), 0.7, "subject masks")  # front 0.3 m away: nearer than 0.1 x the wall
    scene = normalize_scene(cams, wall, [[] for _ in wall], None, subject)
    depths = [float(c.forward @ (subject.center - c.position)) for c in cams.values()]
    assert scene.near < (min(depths) - subject.radius) * scene.scale
    assert scene.far > (max(depths) + subject.radius) * scene.scale
    assert scene.to_json()["subject"]["source"] == "subject masks"


@pytest.mark.slow
def test_process_refuses_a_person_who_moves_along_with_the_camera(tmp_path: Path) -> None:
    """End to end through SfM (about two minutes): the run stops with the cause and the fix, and the
    report keeps every attempt."""
    from nerfie.recon.config import preset, with_overrides
    from nerfie.recon.errors import NerfieError
    from nerfie.recon.process import process

    cap = generate(tmp_path / "cap", SynthSpec(frames=100, width=256, height=256, variant="drift", heldout=0))
    cfg = with_overrides(preset("cpu-preview"), {"ingest.target_frames": 100})
    with pytest.raises(NerfieError) as err:
        process(cap.video, tmp_path / "proj", cfg)
    assert "moved along with the camera" in err.value.message
    assert "head still" in err.value.advice
    report = (tmp_path / "proj" / "report.txt").read_text()
    assert "attempt" in report and "Subject:" in report


def test_a_swing_at_the_end_is_dropped_while_the_subject_is_still_in_the_middle() -> None:
    from nerfie.recon.process import trim_swung_away

    # Steady: the camera sways 0.2° a frame around the subject; then it swings 2° a frame to the right
    # (the subject drifts from the middle, still inside the central half for the first swing frames).
    yaw = [0.2 * ((-1) ** k) for k in range(40)] + [2.0 * (k + 1) for k in range(6)]
    yaw[20] = 1.5  # one fast frame mid-clip (a twitch) stays

    def cam(deg: float) -> Camera:
        c = Camera.look_at(np.array([0.0, -0.6, 0.0]), np.zeros(3), UP, 64, 64, fx=60.0, fy=60.0, cx=32.0, cy=32.0)
        a = np.radians(deg)
        turn = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
        return dataclasses.replace(c, rotation=turn @ c.rotation)  # turned in place about its own vertical

    names = [f"f{i:02d}" for i in range(len(yaw))]
    cams = {n: cam(d) for n, d in zip(names, yaw, strict=True)}
    assert trim_swung_away(names, cams, np.zeros(3), min_frames=10) == names[:40]


def test_frames_where_the_camera_swung_away_are_dropped_from_the_ends_only() -> None:
    from nerfie.recon.process import trim_swung_away

    def cam(facing: bool, k: int) -> Camera:
        pos = np.array([0.01 * k, -0.6, 0.0])
        target = np.zeros(3) if facing else np.array([2.0, 0.5, 0.0])
        return Camera.look_at(pos, target, UP, 64, 64, fx=60.0, fy=60.0, cx=32.0, cy=32.0)

    pattern = [False] * 3 + [True] * 20 + [False] + [True] * 20 + [False] * 6  # a glance away mid-clip stays
    names = [f"f{i:02d}" for i in range(len(pattern))]
    cams = {n: cam(f, i) for i, (n, f) in enumerate(zip(names, pattern, strict=True))}
    kept = trim_swung_away(names, cams, np.zeros(3), min_frames=10)
    # frame 3 is where the phone arrives on the subject from far away (a fast turn): dropped too
    assert kept == names[4:44]
    assert trim_swung_away(names, cams, np.zeros(3), min_frames=45) == names  # would leave too few
