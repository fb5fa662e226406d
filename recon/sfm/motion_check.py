"""'Did the camera move at all?' — decided before running SfM, from the images alone.

Measured on real clips (``selfie-sfm.md``): the median displacement of fundamental-matrix inlier
matches between frames 1/10 and 1/4 of the clip apart is ~0.05 % of the image diagonal for a still
phone selfie and 2.4–4 % for moving clips; a homography test does not separate them. A camera fixed inside a
moving car measured 0.52 % here (the scenery outside the window moves), so the threshold is 1 %.
SfM on a still camera "succeeds" with a broken model, so we stop early with a clear message instead.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

STILL_THRESHOLD_PERCENT = 1.0  # 2.4x below the slowest moving clip measured (2.4 %); a fixed car camera gave 0.52 %


def _features(path: Path, mask_path: Path | None, sift: cv2.SIFT) -> tuple[list, np.ndarray | None, float]:
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    s = min(1.0, 640 / max(img.shape))
    if s < 1:
        img = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
    mask = None
    if mask_path is not None and mask_path.exists():
        mask = cv2.resize(cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE), (img.shape[1], img.shape[0]),
                          interpolation=cv2.INTER_NEAREST)
    kp, desc = sift.detectAndCompute(img, mask)
    return kp, desc, float(np.hypot(*img.shape))


def median_motion_percent(frames: list[Path], masks: list[Path | None]) -> float | None:
    """Median inlier displacement (% of the diagonal) over frame pairs 1/10 and 1/4 of the clip apart;
    None when too few matches to tell."""
    n = len(frames)
    if n < 4:
        return None
    sift = cv2.SIFT_create(nfeatures=2000)
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    values = []
    for gap_frac in (0.1, 0.25):
        gap = max(1, round(gap_frac * n))
        for start in np.linspace(0, n - 1 - gap, num=min(4, n - gap), dtype=int):
            a, b = int(start), int(start) + gap
            ka, da, diag = _features(frames[a], masks[a], sift)
            kb, db, _ = _features(frames[b], masks[b], sift)
            if da is None or db is None or len(ka) < 20 or len(kb) < 20:
                continue
            pairs = [m for m, m2 in (p for p in matcher.knnMatch(da, db, k=2) if len(p) == 2)
                     if m.distance < 0.75 * m2.distance]
            if len(pairs) < 15:
                continue
            pa = np.float32([ka[m.queryIdx].pt for m in pairs])
            pb = np.float32([kb[m.trainIdx].pt for m in pairs])
            _, inl = cv2.findFundamentalMat(pa, pb, cv2.FM_RANSAC, 1.0, 0.999)
            if inl is None or inl.sum() < 10:
                continue
            keep = inl.ravel().astype(bool)
            values.append(float(np.median(np.linalg.norm(pa[keep] - pb[keep], axis=1))) / diag * 100)
    return float(np.median(values)) if values else None
