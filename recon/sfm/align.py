"""Similarity alignment (Umeyama) and pose-error figures, for judging poses against a reference."""

from __future__ import annotations

import numpy as np

from nerfie.recon.rotations import rotation_angles_deg


def umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Scale s, rotation R, translation t minimising ‖s·R·src + t − dst‖² over points [N, 3]."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    xs, xd = src - mu_s, dst - mu_d
    cov = xd.T @ xs / len(src)
    U, S, Vt = np.linalg.svd(cov)
    D = np.eye(3)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        D[2, 2] = -1
    R = U @ D @ Vt
    var = (xs**2).sum() / len(src)
    s = float(np.trace(np.diag(S) @ D) / var)
    return s, R, mu_d - s * R @ mu_s


def pose_errors(centers: np.ndarray, rotations: np.ndarray, ref_centers: np.ndarray, ref_rotations: np.ndarray
                ) -> dict[str, float]:
    """Median centre error as % of the reference camera-path spread, and median rotation error (deg),
    after aligning the estimate to the reference with a similarity transform."""
    s, R, t = umeyama(centers, ref_centers)
    aligned = (s * (R @ centers.T)).T + t
    spread = float(np.linalg.norm(ref_centers.max(0) - ref_centers.min(0)))
    err_c = np.linalg.norm(aligned - ref_centers, axis=1) / spread * 100
    # world→camera rotations: R_est_aligned = R_est · Rᵀ
    ang = rotation_angles_deg(rotations @ R.T, ref_rotations)
    return {"center_err_pct_median": float(np.median(err_c)), "rot_err_deg_median": float(np.median(ang)),
            "center_err_pct_max": float(err_c.max()), "rot_err_deg_max": float(ang.max())}
