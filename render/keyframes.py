"""A camera path through user keyframes: a Catmull-Rom spline through their positions, rotations
slerped between neighbours, field of view and (optionally) time interpolated linearly.

Keyframes come from the viewer ("Add keyframe") or from a JSON file whose entries look like
nerfstudio's camera-path entries (``camera_to_world`` row-major 4×4 in OpenGL axes and data
coordinates, ``fov`` vertical in degrees, ``aspect``) plus an optional ``time`` (fractional frame
index). The path passes exactly through every keyframe, so what the user framed is what is rendered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nerfie.recon.camera import Camera
from nerfie.recon.errors import NerfieError
from nerfie.recon.rotations import matrix_to_quat, quat_to_matrix


@dataclass
class Keyframe:
    camera: Camera  # normalised scene frame
    time: float | None = None  # fractional frame index; None = the render's time mode decides


def slerp(q0: np.ndarray, q1: np.ndarray, t: float) -> np.ndarray:
    """Spherical linear interpolation of unit quaternions along the shorter arc."""
    d = float(np.dot(q0, q1))
    if d < 0:
        q1, d = -q1, -d
    if d > 0.9995:  # nearly equal: normalised lerp is exact to float precision and avoids 0/0
        q = q0 + t * (q1 - q0)
        return q / np.linalg.norm(q)
    theta = math.acos(min(d, 1.0))
    return (math.sin((1 - t) * theta) * q0 + math.sin(t * theta) * q1) / math.sin(theta)


def catmull_rom(points: np.ndarray, u: float) -> np.ndarray:
    """Uniform Catmull-Rom spline through ``points`` [K, D] at parameter u ∈ [0, K − 1]; the end
    tangents come from reflected phantom points, so the curve starts and ends on the first/last point."""
    K = len(points)
    if K == 1:
        return points[0].copy()
    p = np.concatenate([2 * points[:1] - points[1:2], points, 2 * points[-1:] - points[-2:-1]])
    i = min(math.floor(u), K - 2)
    t = u - i
    p0, p1, p2, p3 = p[i], p[i + 1], p[i + 2], p[i + 3]
    return 0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t * t
                  + (-p0 + 3 * p1 - 3 * p2 + p3) * t ** 3)


def keyframe_path(keys: list[Keyframe], n: int, width: int, height: int) -> tuple[list[Camera], list[float] | None]:
    """``n`` cameras (``width``×``height``) along the spline, and their times if every keyframe has one."""
    if not keys:
        raise NerfieError("A keyframe path needs at least one keyframe.",
                          "Add keyframes in the viewer, or pass a file with a \"keyframes\" list.")
    pos = np.stack([k.camera.position for k in keys])
    quats = [matrix_to_quat(k.camera.rotation) for k in keys]
    fovs = np.array([k.camera.fov_y_degrees for k in keys])
    timed = all(k.time is not None for k in keys)
    times = np.array([k.time for k in keys], dtype=np.float64) if timed else None
    K = len(keys)
    cams, out_times = [], []
    for f in range(n):
        u = f * (K - 1) / (n - 1) if n > 1 else 0.0
        i = min(math.floor(u), max(K - 2, 0))
        t = u - i
        if K == 1:
            q, fov = quats[0], fovs[0]
        else:
            q = slerp(quats[i], quats[i + 1], t)
            fov = (1 - t) * fovs[i] + t * fovs[i + 1]
        fy = 0.5 * height / math.tan(math.radians(fov) / 2)
        cams.append(Camera(width=width, height=height, fx=fy, fy=fy, cx=width / 2, cy=height / 2,
                           rotation=quat_to_matrix(q), position=catmull_rom(pos, u)))
        if times is not None:
            out_times.append(float(times[0] if K == 1 else (1 - t) * times[i] + t * times[i + 1]))
    return cams, (out_times if times is not None else None)
