"""SfM models that hold together but cannot be right: the parallax rule.

A camera that turns on the spot sees every background point from one direction. COLMAP still returns
a tidy model (small reprojection error, every rule of thumb green), but its translations, and the
subject triangulated from them, are guesswork: on the full-size synthetic pan such a model put the
head at less than half its true depth. What tells it apart is the angle between the rays that see each
point, not the path's length against the scene depth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nerfie.recon.rotations import rotation_angles_deg
from nerfie.recon.sfm.sanity import (
    MIN_PARALLAX_DEG,
    ModelStats,
    check_model,
    continuous_run,
    widest_view_angles_deg,
)

WALL = 2.0  # metres to the room's wall; the head would be at ~0.5 m


def _wall_points(rng: np.random.Generator, n: int = 200) -> np.ndarray:
    return np.stack([rng.uniform(-1.0, 1.0, n), np.full(n, WALL), rng.uniform(-0.7, 0.7, n)], axis=1)


def _stats(centers: np.ndarray, points: np.ndarray, track: int) -> ModelStats:
    """A model whose cameras face +y; each point is tracked over ``track`` consecutive frames, as a
    sequential matcher links them."""
    rng = np.random.default_rng(0)
    starts = rng.integers(0, len(centers) - track + 1, len(points))
    seen_from = [centers[s:s + track] for s in starts]
    R = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])  # world→camera: camera z along world +y
    return ModelStats(registered=[f"frame_{i:05d}.png" for i in range(len(centers))], centers=centers,
                      rotations=np.repeat(R[None], len(centers), 0), median_depth=WALL,
                      observations=np.full(len(centers), 200), reprojection_error=0.3, num_points=len(points),
                      parallax_deg=widest_view_angles_deg(list(points), seen_from))


def test_the_widest_view_angle_of_a_point_is_the_angle_between_its_two_furthest_observers() -> None:
    p = np.array([0.0, 2.0, 0.0])
    cams = np.array([[-0.1, 0.0, 0.0], [0.0, 0.0, 0.0], [0.1, 0.0, 0.0]])
    (angle,) = widest_view_angles_deg([p], [cams])
    assert angle == pytest.approx(2 * np.degrees(np.arctan(0.1 / 2.0)), rel=1e-6)
    assert len(widest_view_angles_deg([p], [cams[:1]])) == 0  # one observer: no angle at all


def test_a_camera_turning_on_the_spot_is_not_sane_however_tidy_its_model() -> None:
    rng = np.random.default_rng(1)
    sway = rng.normal(0.0, 0.01, (100, 3))  # a hand holding the phone still-ish: ±1 cm
    verdict = check_model(_stats(sway, _wall_points(rng), track=30))
    assert not verdict.sane
    assert any(p.startswith("parallax:") and "turned more than it travelled" in p for p in verdict.problems)


def test_a_camera_walking_an_arc_around_the_face_passes_the_parallax_rule() -> None:
    rng = np.random.default_rng(2)
    a = np.radians(np.linspace(-30, 30, 100))  # a shoulder's width (~50 cm) on a 0.5 m circle around the head
    arc = np.stack([0.5 * np.sin(a), 0.5 - 0.5 * np.cos(a), np.zeros_like(a)], axis=1)
    stats = _stats(arc, _wall_points(rng), track=30)
    assert np.percentile(stats.parallax_deg, 90) > MIN_PARALLAX_DEG
    assert check_model(stats).sane, check_model(stats).problems


@pytest.mark.parametrize("outcome", ["no sane model", "a sliver left, another rung's model refused",
                                     "a sliver left, its own rung's larger model refused"])
def test_process_names_the_turn_when_the_models_lack_parallax(small_capture: Path, tmp_path: Path, outcome: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The refusal is in the capture's words, whether every model was refused or only a few frames were
    left in a model that passed; and the report keeps the attempts."""
    import nerfie.recon.sfm.colmap_runner as runner
    from nerfie.recon.config import preset, with_overrides
    from nerfie.recon.errors import NerfieError
    from nerfie.recon.process import process

    def flat_sfm(*args: object, **kwargs: object) -> runner.SfmResult:
        rungs = runner.ladder(preset("cpu-preview").sfm, True)
        refused = runner.Attempt(rungs[0], registered=40, models=3, sane=False, problems=[
            "parallax: the background is seen from directions at most 1.3° apart (90th percentile): the camera "
            "turned more than it travelled, so depth cannot be told"])
        if outcome == "no sane model":
            raise runner.SfmFailed([refused], 48)
        sliver = runner.Attempt(rungs[1], registered=3, models=9, sane=True)
        attempts = [refused, sliver]
        if "own rung" in outcome:
            sliver.refused_larger = (refused.registered, refused.problems)
            attempts = [sliver]
        return runner.SfmResult(cameras={}, points=np.zeros((0, 3)), colors=np.zeros((0, 3), np.uint8),
                                point_observers=[], attempts=attempts, chosen=rungs[1],
                                reprojection_error=0.4, model_dir=tmp_path)

    monkeypatch.setattr(runner, "run_sfm", flat_sfm)
    cfg = with_overrides(preset("cpu-preview"), {"ingest.min_frames": 10})
    with pytest.raises(NerfieError) as err:
        process(small_capture / "video.mp4", tmp_path / "proj", cfg)
    assert "turned without moving around you" in err.value.message
    assert "1.3°" in err.value.message
    assert "arc around your face" in err.value.advice
    report = (tmp_path / "proj" / "report.txt").read_text()
    assert "attempt" in report and "parallax" in report


def _turning(yaw_deg: np.ndarray) -> np.ndarray:
    """World→camera rotations of a camera turning about the vertical by ``yaw_deg``."""
    a = np.radians(yaw_deg)
    c, s = np.cos(a), np.sin(a)
    z, o = np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _arc_stats(n: int = 100) -> ModelStats:
    rng = np.random.default_rng(3)
    a = np.radians(np.linspace(-5, 5, n))
    arc = np.stack([0.5 * np.sin(a), 0.5 - 0.5 * np.cos(a), np.zeros_like(a)], axis=1)
    stats = _stats(arc, _wall_points(rng), track=30)
    stats.rotations = _turning(np.linspace(-5, 5, n))
    return stats


def test_an_unbroken_video_path_is_kept_whole() -> None:
    assert continuous_run(_arc_stats()) == slice(0, 100)


def test_a_clip_that_ends_in_a_swing_sfm_could_not_track_keeps_the_frames_before_it() -> None:
    # foreman's seed-0 model: right for the 92 frames filming the face, then a 21° flip as the phone swings
    flipped = _arc_stats()
    flipped.rotations[92:] = _turning(np.linspace(-5, 5, 100)[92:] + 21.0)
    assert rotation_angles_deg(flipped.rotations[92:93], flipped.rotations[91:92])[0] > 15
    assert not check_model(flipped).sane
    assert continuous_run(flipped) == slice(0, 92)
    # foreman's seed-1 model: the last five cameras flung thousands of steps away (an exploded tail)
    flung = _arc_stats()
    flung.centers[95:] += np.array([50.0, 0.0, 0.0]) * np.arange(1, 6)[:, None]
    assert not check_model(flung).sane
    assert continuous_run(flung) == slice(0, 95)
    # a wrong start is cut the same way
    assert continuous_run(_reversed(flung)) == slice(5, 100)


def _reversed(stats: ModelStats) -> ModelStats:
    return ModelStats(registered=stats.registered, centers=stats.centers[::-1].copy(),
                      rotations=stats.rotations[::-1].copy(), median_depth=stats.median_depth,
                      observations=stats.observations, reprojection_error=stats.reprojection_error,
                      num_points=stats.num_points, parallax_deg=stats.parallax_deg)


def test_a_camera_that_speeds_up_gradually_is_not_cut() -> None:
    stats = _arc_stats()
    steps = np.geomspace(1.0, 60.0, 99)  # the last steps ≥ 25 × the median, but never 4 × the one before
    stats.centers = np.concatenate([[0.0], np.cumsum(steps)])[:, None] * np.array([[1e-3, 0.0, 0.0]])
    assert continuous_run(stats) == slice(0, 100)


def _colmap_model(yaw_deg: np.ndarray, centers: np.ndarray) -> object:
    """A COLMAP model built by hand: one camera per frame, 12 wall points every frame sees."""
    import pycolmap

    rec = pycolmap.Reconstruction()
    rec.add_camera_with_trivial_rig(
        pycolmap.Camera.create_from_model_id(1, pycolmap.CameraModelId.SIMPLE_PINHOLE, 100.0, 96, 80))
    wall = _wall_points(np.random.default_rng(5), 12)
    for i, (R, c) in enumerate(zip(_turning(yaw_deg), centers, strict=True)):
        pts = [pycolmap.Point2D(np.array([48.0, 40.0])) for _ in wall]
        image = pycolmap.Image(name=f"frame_{i:05d}.png", points2D=pts, camera_id=1, image_id=i + 1)
        rec.add_image_with_trivial_frame(image, pycolmap.Rigid3d(pycolmap.Rotation3d(R), -R @ c))
    for k, xyz in enumerate(wall):
        track = pycolmap.Track()
        for i in range(len(centers)):
            track.add_element(i + 1, k)
        rec.add_point3D(xyz, track)
    return rec


def test_the_frames_past_a_break_leave_the_colmap_model_itself() -> None:
    from nerfie.recon.sfm.colmap_runner import _cut_at_break, model_stats

    n = 30
    line = np.stack([np.linspace(0.0, 0.03, n), np.zeros(n), np.zeros(n)], axis=1)
    yaw = np.linspace(-2.0, 2.0, n)
    yaw[26:] += 30.0  # the last four frames flipped, as a swing SfM could not follow
    rec = _colmap_model(yaw, line)
    stats, dropped = _cut_at_break(rec, model_stats(rec))
    assert dropped == 4 and len(stats.registered) == 26 and stats.registered[-1] == "frame_00025.png"
    assert rec.num_reg_images() == 26  # what is written to sparse/ and read back as the cameras
    assert all(len(p.track.elements) == 26 for p in rec.points3D.values())
    # an unbroken model is left as it was
    smooth = _colmap_model(np.linspace(-2.0, 2.0, n), line)
    stats, dropped = _cut_at_break(smooth, model_stats(smooth))
    assert dropped == 0 and smooth.num_reg_images() == n


def test_a_focal_length_given_by_the_user_starts_every_rung_and_stays_fixed(tmp_path: Path) -> None:
    import pycolmap

    from nerfie.recon.sfm.colmap_runner import Rung, _mapper_options, _with_fixed_focal

    cached = tmp_path / "features.db"
    db = pycolmap.Database.open(cached)
    db.write_camera(pycolmap.Camera.create_from_model_id(1, pycolmap.CameraModelId.SIMPLE_RADIAL, 300.0, 352, 288))
    db.close()

    def camera(path: Path) -> object:
        db = pycolmap.Database.open(path)
        try:
            return db.read_all_cameras()[0]
        finally:
            db.close()

    fixed = _with_fixed_focal(cached, 900.0)
    assert camera(fixed).params[0] == 900.0 and camera(fixed).has_prior_focal_length
    assert camera(cached).params[0] == 300.0  # the cache keeps what extraction wrote (an EXIF prior, say)
    assert _with_fixed_focal(cached, 900.0) == fixed and _with_fixed_focal(cached, 700.0) != fixed
    rung = Rung("r", "sequential", True, 0, True, "SIMPLE_RADIAL")
    held, free = _mapper_options(rung, 1, fixed_focal=True), _mapper_options(rung, 1)
    assert not held.ba_refine_focal_length and not held.mapper.abs_pose_refine_focal_length
    assert free.ba_refine_focal_length and free.mapper.abs_pose_refine_focal_length
