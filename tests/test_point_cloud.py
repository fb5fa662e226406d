"""The exported point cloud lies on the surface, in the project's own coordinates.

The fast tests stand in exact depth (the synthetic capture's own) for the model's, so they check
the fusion itself: rays, units, the normalisation undone, masks, thinning. The slow one trains a
model on a static synthetic capture and measures its cloud against the true surface.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from exact_scene import exact_scene

from nerfie.recon.config import preset, with_overrides
from nerfie.recon.dataset import load_dataset, read_ply
from nerfie.recon.errors import NerfieError
from nerfie.recon.importers import import_transforms
from nerfie.render.point_cloud import PointCloudSpec, export_point_cloud, fuse_point_cloud


def _truth(capture: Path, project_root: Path) -> np.ndarray:
    """Dense surface points of a static capture from its exact depth (data coordinates)."""
    ds = load_dataset(project_root)
    depth = np.load(capture / "depth.npy")
    pts = [cam.unproject(cam.pixel_centers(dtype=torch.float64).reshape(-1, 2),
                         torch.from_numpy(depth[k].reshape(-1)).double()).numpy() for k, cam in enumerate(ds.cameras)]
    return np.concatenate(pts)


def _nearest(points: np.ndarray, truth: np.ndarray) -> np.ndarray:
    p, t = torch.from_numpy(points), torch.from_numpy(truth)
    return torch.cat([torch.cdist(c, t).min(1).values for c in p.split(2048)]).numpy()


def test_fused_points_from_exact_depth_lie_on_the_true_surface(static_capture: tuple[Path, Path]) -> None:
    capture, root = static_capture
    scene = exact_scene(capture, root)
    points, colours = fuse_point_cloud(scene, PointCloudSpec(long_side=96, max_views=4))
    truth = _truth(capture, root)
    extent = float(np.ptp(truth, axis=0).max())
    assert len(points) > 1000 and colours.dtype == np.uint8
    assert np.median(_nearest(points, truth)) < 1e-3 * extent  # the same surface, in data coordinates


def test_the_subject_only_cloud_keeps_the_masked_person(static_capture: tuple[Path, Path]) -> None:
    capture, root = static_capture
    scene = exact_scene(capture, root)
    whole, _ = fuse_point_cloud(scene, PointCloudSpec(long_side=96, max_views=4))
    subject, _ = fuse_point_cloud(scene, PointCloudSpec(long_side=96, max_views=4, subject_only=True))
    centre = np.asarray(__import__("json").loads((capture / "capture.json").read_text())["subject_center"])
    assert 0 < len(subject) < len(whole)
    assert np.median(np.linalg.norm(subject - centre, axis=1)) < 0.5 * np.median(np.linalg.norm(whole - centre, axis=1))


def test_a_frame_outside_the_capture_is_refused(static_capture: tuple[Path, Path]) -> None:
    scene = exact_scene(*static_capture)
    with pytest.raises(NerfieError, match="does not exist"):
        fuse_point_cloud(scene, PointCloudSpec(frame=999))


@pytest.mark.slow
def test_a_trained_models_cloud_lies_on_the_true_surface(static_capture: tuple[Path, Path], tmp_path: Path) -> None:
    from nerfie.recon.train import Trainer
    from nerfie.render.scene import load_scene

    capture, _ = static_capture
    cfg = with_overrides(preset("cpu-preview"), {"train.minutes": 4.0, "train.steps": 100000})
    proj = import_transforms(capture / "transforms.json", tmp_path / "proj", cfg)
    Trainer(proj).run()
    out = export_point_cloud(load_scene(proj.root, "cpu"), PointCloudSpec(), tmp_path / "cloud.ply")
    points, _ = read_ply(out)
    truth = _truth(capture, proj.root)
    radius = 0.5 * float(np.ptp(truth, axis=0).max())
    dist = _nearest(points, truth)
    print(f"{len(points)} points; median distance {np.median(dist) / radius:.4f} of the scene radius")
    assert np.median(dist) <= 0.01 * radius
