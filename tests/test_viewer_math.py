"""The viewer's camera maths, live snapshots and frustum geometry (no Qt needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nerfie.recon.camera import Camera
from nerfie.render.frustums import frustum_segments
from nerfie.render.viewer import MIN_SIDE, OrbitCamera, home_view, moving_side, view_size

UP = np.array([0.0, -1.0, 0.0])  # OpenCV world: y down, so up is -y
FOCUS = np.array([0.1, 0.0, 2.0])


def input_camera(pos: list[float]) -> Camera:
    return Camera.look_at(pos, FOCUS, UP, 64, 48, fx=60.0)


def test_an_orbit_camera_reproduces_the_camera_it_was_made_from() -> None:
    cam = input_camera([0.5, -0.3, 0.0])
    view = OrbitCamera.from_camera(cam, FOCUS, UP)
    again = view.camera(64, 48)
    assert np.allclose(again.position, cam.position, atol=1e-9)
    assert np.allclose(again.rotation, cam.rotation, atol=1e-9)
    assert again.fy == pytest.approx(cam.fy)


def nose_pixel(view: OrbitCamera, nose: np.ndarray) -> np.ndarray:
    px, _ = view.camera(100, 100).project(torch.tensor(nose[None], dtype=torch.float64))
    return px[0].numpy()


def test_orbiting_turns_the_subject_with_the_mouse_at_a_constant_distance() -> None:
    view = OrbitCamera.from_camera(input_camera([0.0, 0.0, 0.0]), FOCUS, UP)
    d = view.distance
    nose = FOCUS + 0.2 * (view.position - FOCUS) / d  # a point on the subject facing the camera
    x0, y0 = nose_pixel(view, nose)
    view.orbit(20, 0)  # drag right: the near side of the subject moves right
    x1, y1 = nose_pixel(view, nose)
    assert x1 > x0 + 1 and abs(y1 - y0) < 1e-6
    view.orbit(0, -20)  # drag up: it moves up (the camera goes lower)
    _, y2 = nose_pixel(view, nose)
    assert y2 < y1 - 1
    cam = view.camera(64, 64)
    assert np.linalg.norm(cam.position - FOCUS) == pytest.approx(d)
    assert np.allclose(cam.forward, (FOCUS - cam.position) / d)


def test_elevation_stops_short_of_the_poles() -> None:
    view = OrbitCamera.from_camera(input_camera([0.0, 0.0, 0.0]), FOCUS, UP)
    view.orbit(0, 10_000)
    assert view.elevation == pytest.approx(math.radians(85))
    view.orbit(0, -100_000)
    assert view.elevation == pytest.approx(math.radians(-85))
    view.camera(32, 32)  # still a valid camera (up not parallel to the view direction)


def test_panning_moves_the_focus_point_under_the_cursor() -> None:
    view = OrbitCamera.from_camera(input_camera([0.0, 0.0, 0.0]), FOCUS, UP)
    cam = view.camera(100, 100)
    view.pan(10, 0, 100)
    # The old focus now projects 10 px to the right of the image centre: it followed the cursor.
    px, _ = view.camera(100, 100).project(torch.tensor(FOCUS[None], dtype=torch.float32))
    assert px[0, 0].item() == pytest.approx(50 + 10, abs=1e-3)
    assert np.allclose(view.camera(100, 100).rotation, cam.rotation)


def test_zoom_and_reset() -> None:
    view = OrbitCamera.from_camera(input_camera([0.0, 0.0, 0.0]), FOCUS, UP)
    d = view.distance
    view.zoom(1)
    assert view.distance == pytest.approx(0.9 * d)
    view.zoom(-1000)
    assert view.distance == pytest.approx(view.max_distance)
    view.orbit(50, 50)
    view.pan(5, 5, 100)
    view.reset()
    assert view.distance == pytest.approx(d) and view.azimuth == 0 and np.allclose(view.focus, FOCUS)


def test_snap_to_puts_the_orbit_camera_where_the_input_camera_was() -> None:
    cams = [input_camera([x, 0.0, 0.0]) for x in (-0.4, 0.0, 0.4)]
    view = home_view(cams, FOCUS, UP)
    view.snap_to(cams[2])
    assert np.allclose(view.position, cams[2].position, atol=1e-9)


def test_moving_resolution_follows_the_measured_speed_within_bounds() -> None:
    assert moving_side(0.0, 1.0, 64, 128) == 64  # nothing measured yet
    assert moving_side(1e9, 1.0, 64, 128) == 64  # fast: the preferred size
    assert moving_side(20_000, 1.0, 64, 128) == int(math.sqrt(20_000 / 5))  # 5 fps at 20 k rays/s
    assert moving_side(100, 1.0, 64, 128) == MIN_SIDE  # never unreadably small
    assert view_size(2.0, 10) == (MIN_SIDE, MIN_SIDE)
    assert view_size(4 / 3, 128) == (128, 96)


def test_frustums_start_at_the_camera_and_reach_its_image_corners() -> None:
    cam = input_camera([0.0, 0.0, 0.0])
    segs = frustum_segments([cam], depth=0.5)
    assert segs.shape == (16, 3)
    assert np.allclose(segs[0], cam.position)
    px, depth = cam.project(torch.tensor(segs[1::2], dtype=torch.float64))
    corners = {(0, 0), (64, 0), (64, 48), (0, 48)}
    assert {(round(x), round(y)) for x, y in px.tolist()} == corners
    assert np.allclose(depth.numpy(), 0.5)


def test_a_live_snapshot_does_not_change_when_training_goes_on(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from nerfie.recon.config import preset, with_overrides
    from nerfie.recon.importers import import_transforms
    from nerfie.recon.synth import SynthSpec, generate
    from nerfie.recon.train import Trainer
    from nerfie.render.live import render_preview, snapshot_scene

    generate(tmp_path / "cap", SynthSpec(frames=6, width=32, height=32, heldout=0, seed=2))
    cfg = with_overrides(preset("cpu-preview"), {"train.rays_per_batch": 128, "model.proposal_samples": [16],
                                                 "model.shaded_samples": 12, "train.checkpoint_every": 0})
    trainer = Trainer(import_transforms(tmp_path / "cap" / "transforms.json", tmp_path / "p", cfg))
    for _ in range(3):
        trainer.train_step()
    snap = snapshot_scene(trainer)
    view = home_view(snap.cameras, snap.focus, snap.up)
    before = render_preview(snap, view, 0.0, 48)
    for _ in range(5):
        trainer.train_step()
    assert snap.step == 3
    assert np.array_equal(render_preview(snap, view, 0.0, 48), before)
    assert not np.array_equal(render_preview(snapshot_scene(trainer), view, 0.0, 48), before)
