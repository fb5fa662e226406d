"""The scores that judge a Nerfie where users look: subject PSNR, SSIM, view consistency, path check."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nerfie.recon.camera import Camera
from nerfie.recon.quality import (
    consistency_frames,
    mean_scores,
    path_check,
    plane_homography,
    psnr_of,
    smoothed_cameras,
    ssim_of,
    warp_to,
)
from nerfie.recon.rotations import axis_angle_matrix
from nerfie.render.paths import input_path, orbit_mild, turntable

UP = np.array([0.0, 0.0, 1.0])


def _cam(pos: np.ndarray, target: np.ndarray, w: int = 64, h: int = 48) -> Camera:
    return Camera.look_at(pos, target, UP, w, h, fx=60.0, fy=60.0, cx=w / 2, cy=h / 2)


def test_psnr_over_a_region_counts_only_that_region() -> None:
    gt = torch.zeros(8, 8, 3)
    pred = gt.clone()
    pred[:4] = 0.1  # error only in the top half
    top = torch.zeros(8, 8, dtype=torch.bool)
    top[:4] = True
    assert psnr_of(pred, gt, ~top) == pytest.approx(100.0)  # clamped: no error there
    assert psnr_of(pred, gt, top) == pytest.approx(20.0, abs=1e-4)  # mse 0.01
    assert psnr_of(pred, gt) == pytest.approx(-10 * math.log10(0.005), abs=1e-4)
    assert math.isnan(psnr_of(pred, gt, torch.zeros(8, 8, dtype=torch.bool)))


def test_ssim_comes_from_the_library_and_sees_structure() -> None:
    """Checked against a known pair: identical → 1; the same image shifted loses structure; a uniform
    brightness change loses much less than noise of the same MSE (what SSIM is for)."""
    g = torch.Generator().manual_seed(0)
    img = torch.rand(64, 64, 3, generator=g)
    img = torch.nn.functional.avg_pool2d(img.permute(2, 0, 1)[None], 5, 1, 2)[0].permute(1, 2, 0)
    assert ssim_of(img, img) == pytest.approx(1.0, abs=1e-6)
    brighter = (img + 0.05).clamp(0, 1)
    noise = (img + 0.05 * torch.sign(torch.randn(img.shape, generator=g))).clamp(0, 1)
    assert ssim_of(brighter, img) > ssim_of(noise, img)
    assert math.isnan(ssim_of(img[:8, :8], img[:8, :8]))  # smaller than the window


def test_mean_scores_average_errors_not_decibels() -> None:
    s = mean_scores([(20.0, 10.0, 0.9), (40.0, float("nan"), 0.7)])
    assert s.psnr == pytest.approx(-10 * math.log10((0.01 + 0.0001) / 2))
    assert s.psnr_subject == pytest.approx(10.0)  # NaNs (no mask) left out
    assert s.ssim == pytest.approx(0.8)
    assert s.frames == 2


def test_smoothing_removes_hand_shake_and_keeps_the_path() -> None:
    rng = np.random.default_rng(0)
    truth, shaky = [], []
    for i in range(60):
        a = math.radians(30 * math.sin(2 * math.pi * i / 60))
        pos = np.array([0.6 * math.sin(a), -0.6 * math.cos(a), 0.0])
        cam = _cam(pos, np.zeros(3))
        truth.append(cam)
        R = axis_angle_matrix(rng.normal(size=3), math.radians(0.8)) @ cam.rotation
        shaky.append(cam.copy(position=pos + rng.normal(scale=0.01, size=3), rotation=R))
    smooth = smoothed_cameras(shaky)

    def err(cams: list[Camera]) -> float:
        return float(np.mean([np.linalg.norm(c.position - t.position) for c, t in zip(cams, truth, strict=True)]))

    # White shake over a ±4-frame window: the error falls by well over a third (1.0 without smoothing).
    assert err(smooth) < 0.7 * err(shaky)

    def rot_err(cams: list[Camera]) -> float:
        return float(np.mean([np.linalg.norm(c.rotation - t.rotation) for c, t in zip(cams, truth, strict=True)]))

    assert rot_err(smooth) < 0.85 * rot_err(shaky)  # the path turns 3°/frame: less to gain than on position
    for c in smooth:
        assert np.allclose(c.rotation @ c.rotation.T, np.eye(3), atol=1e-9)  # still rotations
    assert smooth[0].fx == shaky[0].fx


def test_plane_homography_carries_a_frame_exactly_for_points_on_the_plane() -> None:
    a = _cam(np.array([0.0, -0.5, 0.0]), np.zeros(3))
    b = _cam(np.array([0.03, -0.48, 0.01]), np.array([0.01, 0.0, 0.0]))
    H = plane_homography(a, b, 0.5)  # the plane through the subject, fronto-parallel to ``a``
    for px in ([10.0, 12.0], [50.0, 30.0], [32.0, 24.0]):
        o, d = a.pixels_to_rays(torch.tensor([px], dtype=torch.float64))
        p = o + d * (0.5 / float(d[0] @ torch.tensor(a.forward)))
        want, _ = b.project(p)
        got = H @ np.array([*px, 1.0])
        assert np.allclose(got[:2] / got[2], want[0].numpy(), atol=1e-6)
    img = np.zeros((48, 64, 3), np.float32)
    img[20:28, 28:36] = 1.0
    out, valid = warp_to(img, np.eye(3), 64, 48)
    assert np.allclose(out, img) and valid.all()


def test_consistency_frames_spread_over_the_clip() -> None:
    f = consistency_frames(100)
    assert len(f) == 12 and f[0] >= 4 and f[-1] <= 95
    assert consistency_frames(2) == [0, 1]


def test_path_check_passes_built_in_paths_and_catches_a_backwards_one() -> None:
    cams = [_cam(np.array([0.6 * math.sin(a), -0.6 * math.cos(a), 0.05]), np.zeros(3))
            for a in np.radians(np.linspace(-30, 30, 20))]
    subject = np.zeros(3)
    for path in (turntable(cams, subject, UP, 12, 64, 60.0), orbit_mild(cams, subject, UP, 12, 64),
                 input_path(cams, subject, UP, 12, 64)):
        assert path_check(path, subject) == []
    backwards = [c.copy(rotation=axis_angle_matrix([0, 1, 0], math.pi) @ c.rotation) for c in cams]
    assert any("behind" in p for p in path_check(backwards, subject))
    aside = [c.copy(rotation=axis_angle_matrix([0, 1, 0], math.radians(25)) @ c.rotation) for c in cams]
    assert any("off the middle" in p for p in path_check(aside, subject))


def test_paths_ignore_cameras_that_panned_away_and_keep_the_turntable_to_the_seen_arc() -> None:
    """A clip that ends by panning to the room: those cameras must not set the orbit, and a capture that
    saw ±5° of the subject gets a turntable of 1.5× that, not 60° of smear."""
    from nerfie.recon.sfm.subject import facing_cameras, seen_arc_degrees
    from nerfie.render.paths import make_path

    subject = np.zeros(3)
    seen = [_cam(np.array([0.6 * math.sin(a), -0.6 * math.cos(a), 0.0]), subject)
            for a in np.radians(np.linspace(-5, 5, 20))]
    away = [_cam(np.array([1.0 + 0.1 * k, -0.6, 0.0]), np.array([3.0 + 0.1 * k, 1.0, 0.0])) for k in range(8)]
    assert len(facing_cameras(seen + away, subject)) == len(seen)
    arc = seen_arc_degrees(seen, subject, UP)
    assert arc == pytest.approx(8.0, abs=0.1)  # 10th–90th percentile of ±5°
    path = make_path("turntable", seen + away, subject, UP, 11, 64, arc_degrees=60.0)
    assert path_check(path, subject) == []
    azimuths = [math.degrees(math.atan2(c.position[0], -c.position[1])) for c in path]
    assert max(azimuths) - min(azimuths) == pytest.approx(1.5 * arc, abs=0.5)
    orbit = make_path("orbit-mild", seen + away, subject, UP, 12, 64)
    assert max(np.linalg.norm(c.position - np.array([0.0, -0.6, 0.0])) for c in orbit) < 0.1


def test_only_a_filmed_path_is_smoothed_for_view_consistency() -> None:
    from nerfie.recon.quality import is_filmed_path
    from nerfie.recon.synth import SynthSpec, camera_path

    video = camera_path(SynthSpec(frames=30, width=32, height=32))
    assert is_filmed_path(video)
    jumping = [video[i] for i in np.random.default_rng(0).permutation(len(video))]  # D-NeRF: views out of order
    assert not is_filmed_path(jumping)
