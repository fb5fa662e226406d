"""Scene normalisation as Nerfies does it (``nerfies-method.md`` §4.6–4.8), recorded in the project.

centre/scale: bounding box of the 95 %-inlier SfM points ∪ camera centres, ``scale = 1/‖diagonal‖``
(the scene then fits roughly in [−0.5, 0.5]³); near/far from per-image depth quantiles of those
points (near ×0.8 — Nerfies' ÷0.8 clipped faces, their issue #10 — far ×1.2); background points =
SfM points seen on the static background (white in the masks; without masks, points tracked through
≥ 5 frames); up = −mean of the cameras' y axes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from nerfie.recon.camera import Camera
from nerfie.recon.sfm.subject import SubjectEstimate, from_camera_axes


@dataclass
class Scene:
    center: np.ndarray  # [3] raw world
    scale: float
    near: float  # normalised units
    far: float
    up: np.ndarray  # [3] unit, world
    bbox_min: np.ndarray  # normalised
    bbox_max: np.ndarray
    background: np.ndarray  # [B, 3] raw world
    inliers: np.ndarray  # bool [P]
    subject: SubjectEstimate  # raw world

    def to_json(self) -> dict:
        return {
            "center": self.center.tolist(), "scale": self.scale, "near": self.near, "far": self.far,
            "up": self.up.tolist(), "bbox": [self.bbox_min.tolist(), self.bbox_max.tolist()],
            "background_points": len(self.background), "subject": self.subject.to_json(),
        }


def inlier_mask(points: np.ndarray, fraction: float = 0.95) -> np.ndarray:
    if len(points) == 0:
        return np.zeros(0, dtype=bool)
    q = (1 - fraction) / 2
    lo, hi = np.quantile(points, q, axis=0), np.quantile(points, 1 - q, axis=0)
    return np.all((points >= lo) & (points <= hi), axis=1)


def background_points(points: np.ndarray, observers: list[list[str]], cameras: dict[str, Camera],
                      masks_dir: Path | None) -> np.ndarray:
    """Points seen on white (background) mask pixels in most of the images observing them."""
    if masks_dir is None or not len(points):
        return np.zeros((0, 3))
    masks: dict[str, np.ndarray | None] = {}
    keep = np.zeros(len(points), dtype=bool)
    for i, (p, names) in enumerate(zip(points, observers, strict=True)):
        votes, total = 0, 0
        for name in names:
            if name not in masks:
                path = masks_dir / name
                masks[name] = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) if path.exists() else None
            m = masks[name]
            if m is None:
                continue
            px, _ = cameras[name].project(torch.tensor(p[None], dtype=torch.float64))
            u, v = int(px[0, 0]), int(px[0, 1])
            if 0 <= v < m.shape[0] and 0 <= u < m.shape[1]:
                total += 1
                votes += m[v, u] > 127
        keep[i] = total > 0 and votes >= 0.5 * total
    return points[keep]


def scene_median_depth(cameras: dict[str, Camera], points: np.ndarray) -> float:
    """Median over cameras of the median depth of the (95 %-inlier) points each sees in front of it:
    how far the background is. Without points, the camera path's extent stands in."""
    pts = points[inlier_mask(points)] if len(points) >= 10 else points
    meds = []
    cloud = torch.tensor(pts, dtype=torch.float64).reshape(-1, 3)
    for cam in cameras.values():
        if not len(cloud):
            break
        _, z = cam.project(cloud)
        z = z[z > 0]
        if len(z) >= 3:
            meds.append(float(z.median()))
    if meds:
        return float(np.median(meds))
    c = np.stack([cam.position for cam in cameras.values()])
    return max(float(np.linalg.norm(c.max(0) - c.min(0))), 1e-6)


def normalize_scene(cameras: dict[str, Camera], points: np.ndarray, observers: list[list[str]],
                    masks_dir: Path | None, subject: SubjectEstimate | None = None) -> Scene:
    """``subject``: the estimate from the subject masks (raw world); without one, the camera axes'."""
    if subject is None:
        subject = from_camera_axes(list(cameras.values()), scene_median_depth(cameras, points))
    centers = np.stack([c.position for c in cameras.values()])
    inl = inlier_mask(points)
    pts = points[inl]
    both = np.concatenate([pts, centers]) if len(pts) else centers
    lo, hi = both.min(0), both.max(0)
    center = (lo + hi) / 2
    diag = float(np.linalg.norm(hi - lo))
    scale = 1.0 / diag if diag > 0 else 1.0
    nears, fars, medians = [], [], []
    cloud = torch.tensor(pts if len(pts) >= 10 else both, dtype=torch.float64)
    for cam in cameras.values():
        px, z = cam.project(cloud)
        ok = (z > 1e-9) & (px[:, 0] >= 0) & (px[:, 0] < cam.width) & (px[:, 1] >= 0) & (px[:, 1] < cam.height)
        if int(ok.sum()) >= 3:
            d = z[ok].numpy()
            nears.append(np.quantile(d, 0.001))
            fars.append(np.quantile(d, 0.999))
            medians.append(np.median(d))
    if nears:
        # SfM points lie mostly on the background (the subject is masked out or moves), so the
        # nearest point can be behind the face: never put near beyond a tenth of the median depth.
        near = min(float(np.quantile(nears, 0.001)) * 0.8, 0.1 * float(np.median(medians))) * scale
        far = float(np.quantile(fars, 0.999)) * 1.2 * scale
    else:  # degenerate: fall back to the box
        near, far = 0.01, 2.0
    # The subject estimate must lie between near and far in every camera (its front half a radius
    # clear of near): the SfM points are the background, so they alone can put near behind the face.
    sz = np.array([float(c.forward @ (subject.center - c.position)) for c in cameras.values()]) * scale
    sr = subject.radius * scale
    if len(sz) and sz.min() > 0:
        near = min(near, 0.5 * float(sz.min() - sr)) if sz.min() > sr else min(near, 0.5 * float(sz.min()))
        far = max(far, 1.5 * float(sz.max() + sr))
    up = -np.mean([c.rotation[1] for c in cameras.values()], axis=0)
    up /= np.linalg.norm(up)
    inl_obs = [o for o, k in zip(observers, inl, strict=True) if k]
    if masks_dir is not None:
        bg = background_points(points[inl], inl_obs, cameras, masks_dir)
    else:
        # No masks: points tracked consistently through ≥ 5 frames are static enough to hold still.
        long = np.array([len(o) >= 5 for o in inl_obs], dtype=bool)
        bg = points[inl][long] if len(long) else np.zeros((0, 3))
    return Scene(center=center, scale=scale, near=near, far=far, up=up, bbox_min=(lo - center) * scale,
                 bbox_max=(hi - center) * scale, background=bg, inliers=inl, subject=subject)


def fine_ball_radius(cameras: list[Camera], subject_center: np.ndarray) -> float:
    """Radius of the ball around the subject that holds every camera: the arm's-length sphere the
    model must resolve finely. Everything further out (the room) is background."""
    radius = float(max(np.linalg.norm(c.position - subject_center) for c in cameras))
    return max(radius, 1e-6)
