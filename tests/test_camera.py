"""One camera type: exact conversions between conventions, rays, projection, undistortion."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from nerfie.recon.camera import Camera, CameraBatch, cameras_from_transforms, transforms_dict
from nerfie.recon.errors import NerfieError
from nerfie.recon.rotations import axis_angle_matrix


def random_camera(rng: np.random.Generator, distortion: bool = True, skew: bool = False) -> Camera:
    axis = rng.normal(size=3)
    R = axis_angle_matrix(axis, rng.uniform(-math.pi, math.pi))
    w, h = int(rng.integers(64, 2000)), int(rng.integers(64, 2000))
    f = rng.uniform(0.5, 2.0) * max(w, h)
    d = (
        {"k1": rng.uniform(-0.2, 0.2), "k2": rng.uniform(-0.05, 0.05), "k3": rng.uniform(-0.01, 0.01),
         "p1": rng.uniform(-0.005, 0.005), "p2": rng.uniform(-0.005, 0.005)}
        if distortion else {}
    )
    return Camera(
        width=w, height=h, fx=f, fy=f * rng.uniform(0.95, 1.05), cx=w * rng.uniform(0.4, 0.6),
        cy=h * rng.uniform(0.4, 0.6), skew=rng.uniform(-2, 2) if skew else 0.0,
        rotation=R, position=rng.normal(size=3) * 3, **d,
    )


def assert_same_camera(a: Camera, b: Camera, tol: float = 1e-6) -> None:
    assert (a.width, a.height) == (b.width, b.height)
    np.testing.assert_allclose(a.intrinsics, b.intrinsics, rtol=tol, atol=tol)
    np.testing.assert_allclose(a.rotation, b.rotation, atol=tol)
    np.testing.assert_allclose(a.position, b.position, atol=tol)


# ---- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_round_trip_through_every_format_is_exact(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cam = random_camera(rng, distortion=seed % 2 == 0)
    col = cam.to_colmap()
    assert_same_camera(Camera.from_colmap(**col), cam)
    # through text, as the files store it
    col = json.loads(json.dumps(col))
    assert_same_camera(Camera.from_colmap(**col), cam)
    tf = json.loads(json.dumps(cam.to_transforms_frame()))
    assert_same_camera(Camera.from_transforms_frame(tf), cam)
    nj = json.loads(json.dumps(cam.to_nerfies_json()))
    assert_same_camera(Camera.from_nerfies_json(nj), cam)
    # chained: COLMAP → transforms.json → Nerfies → COLMAP
    chained = Camera.from_nerfies_json(Camera.from_transforms_frame(
        Camera.from_colmap(**col).to_transforms_frame()).to_nerfies_json())
    assert_same_camera(chained, cam)


def test_nerfies_json_keeps_skew() -> None:
    cam = random_camera(np.random.default_rng(5), skew=True)
    assert_same_camera(Camera.from_nerfies_json(cam.to_nerfies_json()), cam)
    with pytest.raises(NerfieError, match="skew"):
        cam.to_colmap()


@pytest.mark.parametrize(
    ("model", "params"),
    [
        ("SIMPLE_PINHOLE", [500.0, 320.0, 240.0]),
        ("PINHOLE", [500.0, 510.0, 320.0, 240.0]),
        ("SIMPLE_RADIAL", [500.0, 320.0, 240.0, -0.1]),
        ("RADIAL", [500.0, 320.0, 240.0, -0.1, 0.02]),
        ("OPENCV", [500.0, 510.0, 320.0, 240.0, -0.1, 0.02, 0.001, -0.002]),
        ("FULL_OPENCV", [500.0, 510.0, 320.0, 240.0, -0.1, 0.02, 0.001, -0.002, 0.003, 0, 0, 0]),
    ],
)
def test_each_colmap_model_reads_back_to_the_same_model(model: str, params: list[float]) -> None:
    cam = Camera.from_colmap(model, params, 640, 480, [1, 0, 0, 0], [0, 0, 0])
    out = cam.to_colmap()
    assert out["model"] == model
    np.testing.assert_allclose(out["params"], params)


def test_unsupported_colmap_model_gives_advice() -> None:
    with pytest.raises(NerfieError, match="OPENCV_FISHEYE"):
        Camera.from_colmap("OPENCV_FISHEYE", [1, 1, 1, 1, 0, 0, 0, 0], 10, 10, [1, 0, 0, 0], [0, 0, 0])


# ---- hand-checked examples -----------------------------------------------------------------
# A camera 2 m in front of the origin on -Y, looking at the origin, world up +Z (nerfstudio's up).
# Camera x = world +X, camera y (down) = world -Z, camera z (forward) = world +Y.


@pytest.fixture
def front_camera() -> Camera:
    return Camera.look_at([0, -2, 0], [0, 0, 0], [0, 0, 1], width=640, height=480, fx=500)


def test_look_at_hand_checked(front_camera: Camera) -> None:
    np.testing.assert_allclose(front_camera.rotation, [[1, 0, 0], [0, 0, -1], [0, 1, 0]], atol=1e-12)
    np.testing.assert_allclose(front_camera.forward, [0, 1, 0], atol=1e-12)
    assert (front_camera.cx, front_camera.cy) == (320, 240)


def test_colmap_hand_checked(front_camera: Camera) -> None:
    col = front_camera.to_colmap()
    # +90 degrees about x: q = (cos 45, sin 45, 0, 0); t = -R C = (0, 0, 2)
    s = math.sqrt(0.5)
    np.testing.assert_allclose(col["qvec"], [s, s, 0, 0], atol=1e-12)
    np.testing.assert_allclose(col["tvec"], [0, 0, 2], atol=1e-12)
    assert col["model"] == "SIMPLE_PINHOLE" and col["params"] == [500, 320, 240]


def test_transforms_json_hand_checked(front_camera: Camera) -> None:
    m = np.array(front_camera.to_transforms_frame()["transform_matrix"])
    # OpenGL camera→world: columns are camera +X (right), +Y (up), +Z (backward), then the centre.
    np.testing.assert_allclose(m, [[1, 0, 0, 0], [0, 0, -1, -2], [0, 1, 0, 0], [0, 0, 0, 1]], atol=1e-12)


def test_nerfies_json_hand_checked(front_camera: Camera) -> None:
    d = front_camera.to_nerfies_json()
    np.testing.assert_allclose(d["orientation"], [[1, 0, 0], [0, 0, -1], [0, 1, 0]], atol=1e-12)
    assert d["position"] == [0, -2, 0]
    assert d["focal_length"] == 500 and d["pixel_aspect_ratio"] == 1 and d["image_size"] == [640, 480]


def test_principal_point_ray_and_projection_hand_checked(front_camera: Camera) -> None:
    o, d = front_camera.pixels_to_rays(torch.tensor([[320.0, 240.0], [320.0 + 500.0, 240.0]], dtype=torch.float64))
    np.testing.assert_allclose(o[0].numpy(), [0, -2, 0])
    np.testing.assert_allclose(d[0].numpy(), [0, 1, 0], atol=1e-12)
    # one focal length right of centre: 45 degrees towards +X
    np.testing.assert_allclose(d[1].numpy(), [math.sqrt(0.5), math.sqrt(0.5), 0], atol=1e-12)
    # the world point (0, 0, 1) is above the origin → above the image centre (smaller v)
    px, z = front_camera.project(torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64))
    np.testing.assert_allclose(px[0].numpy(), [320, 240 - 500 * 1 / 2], atol=1e-9)
    assert z.item() == pytest.approx(2.0)


def test_instant_ngp_file_with_camera_angle_x() -> None:
    data = {
        "camera_angle_x": 2 * math.atan(320 / 500), "w": 640, "h": 480,
        "frames": [{"file_path": "images/0001.jpg",
                    "transform_matrix": [[1, 0, 0, 0], [0, 0, -1, -2], [0, 1, 0, 0], [0, 0, 0, 1]]}],
    }
    [(cam, path)] = cameras_from_transforms(data)
    assert path == "images/0001.jpg"
    assert cam.fx == pytest.approx(500) and cam.fy == pytest.approx(500)
    np.testing.assert_allclose(cam.position, [0, -2, 0])
    np.testing.assert_allclose(cam.forward, [0, 1, 0], atol=1e-12)


def test_transforms_file_factors_shared_intrinsics_to_the_top() -> None:
    rng = np.random.default_rng(1)
    base = random_camera(rng)
    cams = [base.copy(position=rng.normal(size=3)) for _ in range(3)]
    data = transforms_dict(cams, [f"frames/{i}.png" for i in range(3)])
    assert "fl_x" in data and "fl_x" not in data["frames"][0]
    for (cam, _), ref in zip(cameras_from_transforms(json.loads(json.dumps(data))), cams, strict=True):
        assert_same_camera(cam, ref)


# ---- rays, projection, undistortion --------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_project_of_unproject_returns_the_pixel_with_distortion(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    cam = random_camera(rng, distortion=True)
    g = torch.Generator().manual_seed(seed)
    px = torch.rand(2000, 2, generator=g, dtype=torch.float64) * torch.tensor(
        [cam.width, cam.height], dtype=torch.float64)
    dist = torch.rand(2000, generator=g, dtype=torch.float64) * 10 + 0.1
    back, _ = cam.project(cam.unproject(px, dist))
    assert (back - px).abs().max().item() < 1e-4


def test_float32_rays_stay_within_a_thousandth_of_a_pixel() -> None:
    cam = random_camera(np.random.default_rng(7), distortion=True)
    px = cam.pixel_centers(dtype=torch.float32).reshape(-1, 2)[::97]
    back, _ = cam.project(cam.unproject(px, torch.full(px.shape[:1], 2.0)))
    assert (back - px).abs().max().item() < 2e-3


def test_distortion_changes_rays_and_undistortion_inverts_it() -> None:
    cam = random_camera(np.random.default_rng(8), distortion=True)
    plain = cam.copy(k1=0, k2=0, k3=0, p1=0, p2=0)
    corner = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    _, d1 = cam.pixels_to_rays(corner)
    _, d2 = plain.pixels_to_rays(corner)
    assert (d1 - d2).abs().max() > 1e-4  # distortion matters at the corner


def test_undistort_inverts_distort_across_the_image() -> None:
    """The rays of a distorted camera rely on undistort(distort(x)) = x (and the reverse) to well
    under a pixel, out to the image corners."""
    from nerfie.recon.camera import distort, undistort

    cam = random_camera(np.random.default_rng(8), distortion=True)
    intr = torch.as_tensor(cam.intrinsics, dtype=torch.float64)
    g = torch.linspace(-0.6, 0.6, 25, dtype=torch.float64)
    x, y = torch.meshgrid(g, g, indexing="ij")
    xd, yd = distort(x, y, intr)
    assert (xd - x).abs().max() > 1e-3  # the distortion is not negligible here
    xu, yu = undistort(xd, yd, intr)
    assert torch.allclose(xu, x, atol=1e-7) and torch.allclose(yu, y, atol=1e-7)
    xr, yr = distort(*undistort(x, y, intr), intr)
    assert torch.allclose(xr, x, atol=1e-7) and torch.allclose(yr, y, atol=1e-7)


def test_ray_directions_are_unit_and_pass_through_the_projection(front_camera: Camera) -> None:
    px = front_camera.pixel_centers(dtype=torch.float64)
    o, d = front_camera.pixels_to_rays(px)
    assert torch.allclose(torch.linalg.vector_norm(d, dim=-1), torch.ones(px.shape[:2], dtype=torch.float64))
    back, z = front_camera.project(o + 3 * d)
    assert torch.allclose(back, px, atol=1e-9) and bool((z > 0).all())


def test_scaling_for_a_downscaled_image_maps_pixels_consistently() -> None:
    cam = random_camera(np.random.default_rng(9), distortion=True).copy(width=800, height=600)
    half = cam.scaled(2)
    assert (half.width, half.height) == (400, 300)
    pts = torch.tensor([[0.3, -0.2, 4.0], [1.0, 1.0, 3.0]], dtype=torch.float64) @ torch.as_tensor(
        cam.rotation) + torch.as_tensor(cam.position)
    full_px, _ = cam.project(pts)
    half_px, _ = half.project(pts)
    assert torch.allclose(half_px, full_px / 2, atol=1e-9)


def test_normalisation_moves_only_the_centre() -> None:
    cam = random_camera(np.random.default_rng(10))
    n = cam.normalized(center=[1, 2, 3], scale=0.5)
    np.testing.assert_allclose(n.position, (cam.position - [1, 2, 3]) * 0.5)
    np.testing.assert_allclose(n.rotation, cam.rotation)


def test_camera_batch_matches_single_cameras() -> None:
    rng = np.random.default_rng(11)
    cams = [random_camera(rng) for _ in range(4)]
    batch = CameraBatch.stack(cams, dtype=torch.float64)
    idx = torch.tensor([0, 3, 1, 2, 3])
    px = torch.tensor([[10.0, 20.0], [30.5, 40.5], [1.0, 2.0], [50.0, 60.0], [7.0, 8.0]], dtype=torch.float64)
    o, d = batch.rays(idx, px)
    for k in range(len(idx)):
        o1, d1 = cams[int(idx[k])].pixels_to_rays(px[k : k + 1])
        assert torch.allclose(o[k], o1[0]) and torch.allclose(d[k], d1[0], atol=1e-12)
    back, _ = batch.project(idx, o + 2.5 * d)
    assert (back - px).abs().max() < 1e-4


def test_invalid_cameras_are_refused() -> None:
    with pytest.raises(NerfieError):
        Camera(width=0, height=10, fx=1, fy=1, cx=0, cy=0)
    with pytest.raises(NerfieError):
        Camera.look_at([0, 0, 0], [0, 0, 1], [0, 0, 1], 10, 10, 10)
