"""Scores that see what a user sees: the subject region, SSIM, and views a little off the inputs.

Held-out PSNR at an input camera rewards any camera set that fits its own views, and the face is a
small part of a selfie frame. So beside it:

* **subject PSNR** — the same comparison inside the subject mask (the person);
* **SSIM** — from ``pytorch_msssim`` (a well-kept implementation, not ours);
* **view consistency** — every k-th input frame rendered from its camera *smoothed over time*
  (hand shake removed, rotation and position, no look-at), at its own time, against the frame
  carried into that smoothed camera by the homography of a plane through the subject (exact for the
  rotation part of the change, and for the subject itself at its depth). A model that fits only its
  exact training views — floaters, a face painted onto each view — loses many dB under that small
  change of viewpoint; a model with the right 3-D subject keeps its subject score.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np
import torch

from nerfie.recon.camera import Camera
from nerfie.recon.rotations import orthonormalize

CONSISTENCY_FRAMES = 12  # frames scored for view consistency (spread over the clip)


def psnr_of(pred: torch.Tensor, gt: torch.Tensor, where: torch.Tensor | None = None) -> float:
    """PSNR (dB) of [H, W, 3] images in [0, 1], over the pixels ``where`` is true (all when None)."""
    err = (pred - gt) ** 2
    if where is not None:
        if int(where.sum()) == 0:
            return float("nan")
        err = err[where]
    return -10 * math.log10(max(float(err.mean()), 1e-10))


def ssim_of(pred: torch.Tensor, gt: torch.Tensor) -> float:
    """SSIM of [H, W, 3] images in [0, 1] (pytorch_msssim, 11-px Gaussian window)."""
    from pytorch_msssim import ssim

    if min(pred.shape[:2]) < 11:
        return float("nan")
    a = pred.permute(2, 0, 1)[None].float().clamp(0, 1)
    b = gt.permute(2, 0, 1)[None].float()
    return float(ssim(a, b, data_range=1.0, size_average=True))


@dataclass
class Scores:
    psnr: float
    psnr_subject: float
    ssim: float
    frames: int

    def to_json(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else (round(v, 4) if isinstance(v, float) else v))
                for k, v in asdict(self).items()}


def mean_scores(items: list[tuple[float, float, float]]) -> Scores:
    """Average per-frame (psnr, subject psnr, ssim); PSNRs are averaged as MSEs (the usual mean)."""
    if not items:
        return Scores(float("nan"), float("nan"), float("nan"), 0)

    def mean_db(vals: list[float]) -> float:
        v = [x for x in vals if not math.isnan(x)]
        return -10 * math.log10(float(np.mean([10 ** (-x / 10) for x in v]))) if v else float("nan")

    ss = [s for _, _, s in items if not math.isnan(s)]
    return Scores(mean_db([p for p, _, _ in items]), mean_db([p for _, p, _ in items]),
                  float(np.mean(ss)) if ss else float("nan"), len(items))


def is_filmed_path(cameras: list[Camera]) -> bool:
    """Do the cameras follow one another like a video's? Then a step between consecutive frames is
    short against the distance between two frames taken at random (median ratio ~3/n along a path:
    0.06 for 100 frames, 0.7 for 8); views in no order, as D-NeRF's that jump around a sphere, give
    ~1 (0.91 on hook), and smoothing those makes no sense."""
    if len(cameras) < 3:
        return False
    pos = np.stack([c.position for c in cameras])
    pairs = np.linalg.norm(pos[:, None] - pos[None], axis=-1)[np.triu_indices(len(pos), 1)]
    steps = np.linalg.norm(np.diff(pos, axis=0), axis=1)
    typical = float(np.median(pairs))
    return typical > 0 and float(np.median(steps)) < 0.8 * typical


# ---- smoothed cameras ------------------------------------------------------------------------------


def smoothed_cameras(cameras: list[Camera]) -> list[Camera]:
    """The trajectory with hand shake removed: positions and rotations averaged over a Hann window
    of ~1/15 of the clip each side (rotations re-orthonormalised), intrinsics kept."""
    n = len(cameras)
    k = max(1, n // 15)
    w = np.hanning(2 * k + 3)[1:-1]
    pos = np.stack([c.position for c in cameras])
    rot = np.stack([c.rotation for c in cameras])
    out = []
    for i in range(n):
        lo, hi = max(0, i - k), min(n, i + k + 1)
        ww = w[lo - i + k:hi - i + k]
        ww = ww / ww.sum()
        p = (ww[:, None] * pos[lo:hi]).sum(0)
        R = orthonormalize((ww[:, None, None] * rot[lo:hi]).sum(0))
        out.append(cameras[i].copy(position=p, rotation=R))
    return out


def plane_homography(src: Camera, dst: Camera, depth: float) -> np.ndarray:
    """3×3 map of ``src`` pixels into ``dst`` for the plane fronto-parallel to ``src`` at z-depth ``depth``."""
    corners = np.array([[0, 0], [src.width, 0], [src.width, src.height], [0, src.height]], dtype=np.float64)
    o, d = src.pixels_to_rays(torch.tensor(corners))
    z = d @ torch.tensor(src.forward)
    pts = o + d * (depth / z)[:, None]
    px, zz = dst.project(pts)
    if bool((zz <= 0).any()):
        raise ValueError("plane behind the smoothed camera")
    return cv2.getPerspectiveTransform(corners.astype(np.float32), px.numpy().astype(np.float32))


def warp_to(img: np.ndarray, H: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """``img`` (float [h, w, C]) carried by ``H``; and where it has data (bool [height, width])."""
    out = cv2.warpPerspective(img.astype(np.float32), H, (width, height), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    valid = cv2.warpPerspective(np.ones(img.shape[:2], np.float32), H, (width, height), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0.999
    return out, valid


def consistency_frames(n: int, count: int = CONSISTENCY_FRAMES) -> list[int]:
    """Indices spread evenly over the clip, skipping the first and last few (the smoothing's edges)."""
    if n <= 2:
        return list(range(n))
    return sorted({round(x) for x in np.linspace(0.05 * (n - 1), 0.95 * (n - 1), min(count, n))})


def path_check(cameras: list[Camera], subject: np.ndarray, max_off_center: float = 0.25) -> list[str]:
    """Problems with a camera path: each camera must see the subject in front of it and near the
    middle of the image (within ``max_off_center`` of the image size from the centre)."""
    problems = []
    behind = off = 0
    for cam in cameras:
        px, z = cam.project(torch.tensor(subject[None], dtype=torch.float64))
        if float(z[0]) <= 0:
            behind += 1
            continue
        du = abs(float(px[0, 0]) - cam.width / 2) / cam.width
        dv = abs(float(px[0, 1]) - cam.height / 2) / cam.height
        if max(du, dv) > max_off_center:
            off += 1
    if behind:
        problems.append(f"the subject is behind {behind} of {len(cameras)} cameras")
    if off:
        problems.append(f"the subject is off the middle of the picture in {off} of {len(cameras)} frames")
    return problems
