"""Synthetic captures: their ground truth must be exactly right, or every later score is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from nerfie.recon.camera import Camera, cameras_from_transforms
from nerfie.recon.errors import NerfieError
from nerfie.recon.synth import (
    ELLIPSOIDS,
    Motion,
    SelfieScene,
    SynthSpec,
    camera_path,
    frame_time,
    motion_at,
    render_view,
)

NOSE_TIP = np.array([0.0, -0.127, -0.012])  # front of the nose ellipsoid, head's canonical frame
FOREHEAD = np.array([0.0, -0.095 * np.sqrt(1 - (0.07 / 0.115) ** 2), 0.07])  # on the skull ellipsoid


def surface_residual(points: np.ndarray, motion: Motion) -> np.ndarray:
    """Distance-like residual of world points to the nearest ellipsoid surface (0 on the surface)."""
    best = np.full(points.shape[0], np.inf)
    for e in ELLIPSOIDS:
        R, t = motion.part_transform(e.part)
        local = (points - t) @ R  # R^T (x - t)
        q = (local - np.array(e.center)) / np.array(e.radii)
        res = np.abs(np.linalg.norm(q, axis=1) - 1.0) * min(e.radii)
        best = np.minimum(best, res)
    return best


def test_capture_has_every_output(small_capture: Path) -> None:
    for rel in ("video.mp4", "transforms.json", "motion.json", "capture.json", "depth.npy",
                "frames/frame_00000.png", "masks/frame_00023.png", "cameras/frame_00023.json",
                "heldout/views.json", "heldout/depth.npy", "heldout/frames/view_002.png",
                "heldout/cameras/view_002.json"):
        assert (small_capture / rel).is_file(), rel
    assert not list(small_capture.rglob(".*partial*")), "temporary files left behind"


def test_video_decodes_with_the_expected_frames_size_and_rate(small_capture: Path) -> None:
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(small_capture / "video.mp4"))
    meta = reader.__next__()
    frames = list(reader)
    assert len(frames) == 24
    assert tuple(meta["size"]) == (96, 80)
    assert meta["fps"] == pytest.approx(15.0)
    # the video shows the same images as the PNGs (up to H.264 loss)
    first = np.frombuffer(frames[0], np.uint8).reshape(80, 96, 3).astype(float)
    png = iio.imread(small_capture / "frames/frame_00000.png").astype(float)
    assert np.abs(first - png).mean() < 8.0


def test_transforms_json_and_camera_files_agree(small_capture: Path) -> None:
    tf = json.loads((small_capture / "transforms.json").read_text())
    pairs = cameras_from_transforms(tf)
    assert len(pairs) == 24
    for cam, path in pairs:
        name = Path(path).stem
        ref = Camera.from_json(json.loads((small_capture / "cameras" / f"{name}.json").read_text()))
        np.testing.assert_allclose(cam.rotation, ref.rotation, atol=1e-9)
        np.testing.assert_allclose(cam.position, ref.position, atol=1e-9)
        assert cam.fx == pytest.approx(ref.fx)
    assert [f["time"] for f in tf["frames"]] == pytest.approx([frame_time(i, 24) for i in range(24)])


def test_a_subject_surface_point_projects_onto_the_pixel_whose_depth_is_its_distance(small_capture: Path) -> None:
    depth = np.load(small_capture / "depth.npy")
    motions = json.loads((small_capture / "motion.json").read_text())["frames"]
    checked = 0
    for i, m in enumerate(motions):
        cam = Camera.from_json(json.loads((small_capture / "cameras" / f"frame_{i:05d}.json").read_text()))
        motion = Motion(m["head_yaw"], m["head_pitch"], m["jaw_open"])
        for point in (NOSE_TIP, FOREHEAD):
            world = motion.to_world("head", point[None])[0]
            px, _ = cam.project(torch.tensor(world[None]))
            u, v = px[0].tolist()
            assert 1 <= u < cam.width - 1 and 1 <= v < cam.height - 1
            distance = float(np.linalg.norm(world - cam.position))
            # Bilinear depth at the projected point (pixel centres at +0.5).
            x, y = u - 0.5, v - 0.5
            c0, r0 = int(np.floor(x)), int(np.floor(y))
            fx, fy = x - c0, y - r0
            patch = depth[i, r0 : r0 + 2, c0 : c0 + 2].astype(np.float64)
            if np.abs(patch - distance).max() > 0.03:
                continue  # on the silhouette from this view (nose seen side-on): no smooth depth here
            interp = (patch[0, 0] * (1 - fx) * (1 - fy) + patch[0, 1] * fx * (1 - fy)
                      + patch[1, 0] * (1 - fx) * fy + patch[1, 1] * fx * fy)
            # "±0.5 px": the mismatch is at most the depth change over half a pixel here
            # (plus the surface's curvature within the 2x2 pixel patch, < 0.5 mm at this size).
            slope = max(abs(patch[0, 1] - patch[0, 0]), abs(patch[1, 1] - patch[1, 0]),
                        abs(patch[1, 0] - patch[0, 0]), abs(patch[1, 1] - patch[0, 1]))
            assert abs(interp - distance) <= 0.5 * slope + 5e-4, (i, interp, distance, slope)
            checked += 1
    assert checked >= 36  # of 48: most views see both points away from the silhouette


def test_every_subject_pixel_unprojects_onto_the_analytic_surface(small_capture: Path) -> None:
    depth = np.load(small_capture / "depth.npy")
    for i in (0, 9, 23):
        cam = Camera.from_json(json.loads((small_capture / "cameras" / f"frame_{i:05d}.json").read_text()))
        m = json.loads((small_capture / "motion.json").read_text())["frames"][i]
        motion = Motion(m["head_yaw"], m["head_pitch"], m["jaw_open"])
        mask = iio.imread(small_capture / "masks" / f"frame_{i:05d}.png") == 0  # black = subject
        assert 0.05 < mask.mean() < 0.8
        px = cam.pixel_centers(dtype=torch.float64)[torch.from_numpy(mask)]
        pts = cam.unproject(px, torch.from_numpy(depth[i][mask]).double()).numpy()
        assert np.percentile(surface_residual(pts, motion), 99) < 1e-4
        back, _ = cam.project(torch.from_numpy(pts))
        assert (back - px).abs().max() < 1e-3


def test_heldout_views_are_novel_cameras_at_training_times(small_capture: Path) -> None:
    views = json.loads((small_capture / "heldout/views.json").read_text())["views"]
    train = [Camera.from_json(json.loads(p.read_text())) for p in sorted((small_capture / "cameras").glob("*.json"))]
    for v in views:
        cam = Camera.from_json(json.loads((small_capture / "heldout/cameras" / f"{v['name']}.json").read_text()))
        gaps = [np.linalg.norm(cam.position - t.position) for t in train]
        assert min(gaps) > 1e-3, "held-out camera coincides with a training camera"
        assert 0 <= v["frame_index"] < 24
        img = iio.imread(small_capture / "heldout/frames" / f"{v['name']}.png")
        assert img.shape == (80, 96, 3) and img.std() > 10


def test_static_variant_renders_identical_subject_pixels_at_different_times() -> None:
    spec = SynthSpec(frames=30, width=64, height=64, variant="static")
    scene = SelfieScene(0)
    cam = camera_path(spec)[0]
    a, da, sa = render_view(scene, cam, motion_at(spec, 0.0))
    b, db, sb = render_view(scene, cam, motion_at(spec, 0.37))
    assert sa.any() and np.array_equal(sa, sb)
    assert np.array_equal(a[sa], b[sb]) and np.array_equal(da, db)


def test_dynamic_variant_changes_subject_pixels_over_time_for_a_fixed_camera() -> None:
    spec = SynthSpec(frames=30, width=64, height=64)
    scene = SelfieScene(0)
    cam = camera_path(spec)[0]
    a, _, sa = render_view(scene, cam, motion_at(spec, 0.1))
    b, _, sb = render_view(scene, cam, motion_at(spec, 0.35))
    changed = (np.abs(a.astype(int) - b.astype(int)).sum(-1) > 30) & (sa | sb)
    assert changed.sum() > 50
    # the background never moves
    bg = ~(sa | sb)
    assert np.array_equal(a[bg], b[bg])


def test_still_camera_variant_really_has_identical_poses() -> None:
    cams = camera_path(SynthSpec(frames=20, variant="still-camera"))
    for c in cams[1:]:
        assert np.array_equal(c.rotation, cams[0].rotation) and np.array_equal(c.position, cams[0].position)


def test_handheld_path_sweeps_yaw_and_varies_distance() -> None:
    spec = SynthSpec(frames=120)
    cams = camera_path(spec)
    pos = np.stack([c.position for c in cams])
    yaw = np.degrees(np.arctan2(pos[:, 0], -pos[:, 1]))
    assert yaw.max() > 30 and yaw.min() < -30
    dist = np.linalg.norm(pos - np.array([0, 0, -0.03]), axis=1)
    assert 0.15 < (dist.max() - dist.min()) / dist.mean() < 0.3
    for c in cams:  # every camera looks roughly at the head
        to_head = -c.position / np.linalg.norm(c.position)
        assert np.degrees(np.arccos(np.clip(c.forward @ to_head, -1, 1))) < 10


def test_generation_is_deterministic_for_a_seed() -> None:
    spec = SynthSpec(frames=5, width=48, height=48, seed=7)
    cams1, cams2 = camera_path(spec), camera_path(spec)
    assert all(np.array_equal(a.rotation, b.rotation) for a, b in zip(cams1, cams2, strict=True))
    s1, s2 = SelfieScene(7), SelfieScene(8)
    r1, _, _ = render_view(s1, cams1[2], motion_at(spec, 0.5))
    r1b, _, _ = render_view(SelfieScene(7), cams1[2], motion_at(spec, 0.5))
    r2, _, _ = render_view(s2, cams1[2], motion_at(spec, 0.5))
    assert np.array_equal(r1, r1b) and not np.array_equal(r1, r2)


def test_radial_distortion_option_is_recorded_in_the_cameras() -> None:
    cams = camera_path(SynthSpec(frames=3, distortion_k1=-0.05))
    assert all(c.k1 == -0.05 for c in cams)


@pytest.mark.parametrize(
    "kwargs", [{"frames": 0}, {"width": 4}, {"variant": "wobbly"}, {"supersample": 0}, {"fps": 0}]
)
def test_bad_specs_are_refused(kwargs: dict) -> None:
    with pytest.raises(NerfieError):
        SynthSpec(**kwargs).validate()
