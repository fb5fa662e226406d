"""Line geometry for drawing input cameras as frustums (the poses view), in the normalised scene frame."""

from __future__ import annotations

import numpy as np

from nerfie.recon.camera import Camera


def frustum_segments(cameras: list[Camera], depth: float) -> np.ndarray:
    """Line segments [K·16, 3] (consecutive pairs) drawing each camera's pyramid to ``depth``.

    Eight edges per camera: four from the centre to the image corners at ``depth`` and the four
    sides of that image rectangle, so the frustum shows where each frame looked and how wide.
    """
    segs = []
    for cam in cameras:
        corners_px = np.array([[0, 0], [cam.width, 0], [cam.width, cam.height], [0, cam.height]], dtype=np.float64)
        local = np.stack([(corners_px[:, 0] - cam.cx) / cam.fx, (corners_px[:, 1] - cam.cy) / cam.fy,
                          np.ones(4)], 1) * depth
        world = local @ cam.rotation + cam.position  # rotation is world→camera: local·R = Rᵀ·local
        for k in range(4):
            segs += [cam.position, world[k], world[k], world[(k + 1) % 4]]
    return np.asarray(segs, dtype=np.float64).reshape(-1, 3)


def frustum_depth(cameras: list[Camera]) -> float:
    """A frustum size that reads well: a tenth of the spread of the camera centres (or of their distance)."""
    pos = np.stack([c.position for c in cameras])
    spread = float(np.linalg.norm(pos.max(0) - pos.min(0)))
    return max(0.1 * spread, 0.02 * float(np.linalg.norm(pos, axis=1).mean()) + 1e-3)
