"""A coloured point cloud of the Nerfie at one moment, fused from its own depth renders.

Every input camera is rendered at the chosen frame's time (the deformation of that frame: the cloud
is the scene *as it was then*, in that frame's observation space), and each pixel the model is sure
of (opacity ≥ ``min_opacity``) becomes a point at its surface (median) depth. Points are in the project's data
coordinates (its ``transforms.json`` world, same units and axes), thinned on a voxel grid so views
that see the same surface do not stack duplicates. ``subject_only`` keeps the pixels the project's
subject masks mark as the person, for a cut-out of the subject without the room.

The PLY is binary little-endian with ``x y z`` floats and ``red green blue`` bytes: what MeshLab,
Blender, CloudCompare and Open3D open.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from nerfie.recon.dataset import write_ply
from nerfie.recon.errors import NerfieError
from nerfie.recon.events import Cancelled, EventSink, Progress, StageDone, ignore
from nerfie.render.scene import TrainedScene


@dataclass(frozen=True)
class PointCloudSpec:
    frame: int | None = None  # the moment shown; None: the middle frame
    long_side: int = 160  # render size per view (pixels on the long side)
    max_views: int = 24  # input cameras used, spread over the capture
    min_opacity: float = 0.9
    subject_only: bool = False
    voxel: float = 1 / 512  # thinning grid, as a fraction of the scene's extent


def chosen_frame(scene: TrainedScene, frame: int | None) -> int:
    """``frame``, or the middle one for None; a frame the project does not have is refused."""
    n_frames = scene.num_frames
    chosen = (n_frames - 1) // 2 if frame is None else frame
    if not 0 <= chosen < max(n_frames, 1):
        raise NerfieError(f"Frame {chosen} does not exist: the project has frames 0–{n_frames - 1}.",
                          "Pick a frame in that range (--frame).")
    return chosen


def subject_mask(scene: TrainedScene, view: int, width: int, height: int) -> np.ndarray | None:
    """The subject pixels of input ``view`` at ``width``×``height`` (masks hold 0 on the person)."""
    path = scene.project.masks_dir / scene.dataset.names[view]
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) if path.exists() else None
    if mask is None:
        return None
    return cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST) < 128


def fuse_point_cloud(scene: TrainedScene, spec: PointCloudSpec, on_event: EventSink = ignore,
                     cancelled: Callable[[], bool] = lambda: False) -> tuple[np.ndarray, np.ndarray]:
    """Points [N, 3] (data coordinates, float64) and colours [N, 3] uint8."""
    frame = chosen_frame(scene, spec.frame)
    n = len(scene.cameras)
    views = sorted({round(i) for i in np.linspace(0, n - 1, min(spec.max_views, n))})
    points, colours = [], []
    for k, view in enumerate(views):
        if cancelled():
            raise Cancelled()
        cam = scene.cameras[view]
        factor = max(cam.width, cam.height) / spec.long_side
        small = cam.scaled(factor) if factor > 1 else cam
        out = scene.render(small, float(frame))
        keep = out["acc"].cpu().numpy() >= spec.min_opacity
        if spec.subject_only:
            mask = subject_mask(scene, view, small.width, small.height)
            if mask is None:
                raise NerfieError("This project has no subject masks, so the subject cannot be cut out.",
                                  "Export the whole scene, or process the video with masks on.")
            keep &= mask
        px = small.pixel_centers(dtype=torch.float64)[torch.from_numpy(keep)]
        dist = out["surface"].double().cpu()[torch.from_numpy(keep)]
        points.append(small.unproject(px, dist).numpy())
        colours.append((out["rgb"].clamp(0, 1).cpu().numpy()[keep] * 255 + 0.5).astype(np.uint8))
        on_event(Progress("export", k + 1, len(views), "point cloud: rendering depth of the input views"))
    p = np.concatenate(points) if points else np.zeros((0, 3))
    c = np.concatenate(colours) if colours else np.zeros((0, 3), np.uint8)
    if len(p):
        extent = float(np.ptp(p, axis=0).max()) or 1.0
        cells = np.floor(p / (extent * spec.voxel)).astype(np.int64)
        _, first = np.unique(cells, axis=0, return_index=True)
        p, c = p[np.sort(first)], c[np.sort(first)]
    data = p / scene.dataset.scale + scene.dataset.center  # normalised frame → the project's data coordinates
    return data, c


def export_point_cloud(scene: TrainedScene, spec: PointCloudSpec, out: Path, on_event: EventSink = ignore,
                       cancelled: Callable[[], bool] = lambda: False) -> Path:
    """Write the fused cloud to ``out`` (PLY), atomically; returns ``out``."""
    points, colours = fuse_point_cloud(scene, spec, on_event, cancelled)
    if not len(points):
        raise NerfieError("No pixel was opaque enough to become a point.",
                          f"Lower the opacity threshold (now {spec.min_opacity}) or train longer.")
    write_ply(out, points, colours)  # atomic
    on_event(StageDone("export", f"point cloud: {len(points)} points → {out}"))
    return out
