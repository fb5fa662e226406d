"""Camera paths around a trained subject, each with a time for every frame.

* ``turntable`` — orbit the subject (look-at = the subject estimate, radius and height from the input
  cameras, up from the capture); a full 360° or a front-facing arc;
* ``orbit-mild`` — the Nerfies ellipse around the mean input camera, looking at the subject: the
  safe default for selfies (the back of the head was never seen);
* ``input`` — the input trajectory, smoothed;
* ``keyframes`` — a spline through the user's keyframes (:mod:`nerfie.render.keyframes`).

Time modes: ``frozen`` at one frame, ``play`` through all frames once, ``bounce`` there and back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nerfie.recon.camera import Camera
from nerfie.recon.errors import NerfieError
from nerfie.recon.quality import smoothed_cameras
from nerfie.recon.sfm.subject import facing_cameras, seen_arc_degrees

PATHS = ("turntable", "orbit-mild", "input")  # plus "keyframes" (render.keyframes)
TIME_MODES = ("frozen", "play", "bounce")


@dataclass
class PathFrame:
    camera: Camera  # normalised scene frame
    time: float  # fractional frame index


def intrinsics_for(ref: Camera, long_side: int) -> dict[str, float | int]:
    s = long_side / max(ref.width, ref.height)
    w = max(2, round(ref.width * s / 2) * 2)  # even sizes for H.264
    h = max(2, round(ref.height * s / 2) * 2)
    return {"width": w, "height": h, "fx": ref.fx * w / ref.width, "fy": ref.fy * h / ref.height,
            "cx": w / 2, "cy": h / 2}


def frame_times(n: int, num_codes: int, mode: str, frozen: int = 0) -> list[float]:
    if mode not in TIME_MODES:
        raise NerfieError(f"Unknown time mode {mode!r}.", f"Use one of {', '.join(TIME_MODES)}.")
    last = max(num_codes - 1, 0)
    if mode == "frozen":
        return [float(min(max(frozen, 0), last))] * n
    u = np.linspace(0, 1, n) if n > 1 else np.zeros(1)
    if mode == "bounce":
        u = 1 - np.abs(2 * u - 1)
    return [float(x * last) for x in u]


def turntable(cameras: list[Camera], focus: np.ndarray, up: np.ndarray, n: int, long_side: int,
              arc_degrees: float = 360.0) -> list[Camera]:
    """Cameras on a circle around ``focus`` (axis ``up``) at the input cameras' mean distance and
    height, starting from the mean input view; ``arc_degrees`` < 360 sweeps an arc centred on it."""
    up = up / np.linalg.norm(up)
    rel = np.stack([c.position for c in cameras]) - focus
    height = float((rel @ up).mean())
    flat = rel - np.outer(rel @ up, up)
    radius = float(np.linalg.norm(flat, axis=1).mean())
    e1 = flat.mean(0)
    if np.linalg.norm(e1) < 1e-9:
        raise NerfieError("The input cameras surround the subject evenly; no front direction for a turntable.")
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(up, e1)
    intr = intrinsics_for(cameras[0], long_side)
    out = []
    for k in range(n):
        frac = k / n if arc_degrees >= 360 else (k / max(n - 1, 1) - 0.5)
        a = math.radians(arc_degrees) * frac
        pos = focus + up * height + radius * (math.cos(a) * e1 + math.sin(a) * e2)
        out.append(Camera.look_at(pos, focus, up, **intr))
    return out


def orbit_mild(cameras: list[Camera], focus: np.ndarray, up: np.ndarray, n: int, long_side: int) -> list[Camera]:
    """The Nerfies notebook's mild ellipse, fitted to where the input cameras were: in the plane of
    their two main directions of spread, centred on the middle of that spread, semi-axes 0.75 x half
    of it, always looking at the subject. It never leaves the span of the input cameras."""
    centers = np.stack([c.position for c in cameras])
    mean = centers.mean(0)
    _, _, vt = np.linalg.svd(centers - mean, full_matrices=False)
    axes = vt[:2]
    coords = (centers - mean) @ axes.T
    lo, hi = np.percentile(coords, 5, axis=0), np.percentile(coords, 95, axis=0)  # a few stray frames do not count
    mid = mean + ((lo + hi) / 2) @ axes
    semi = 0.75 * (hi - lo) / 2
    intr = intrinsics_for(cameras[0], long_side)
    out = []
    for k in range(n):
        t = 2 * math.pi * k / n
        pos = mid + semi[0] * math.cos(t) * axes[0] + semi[1] * math.sin(t) * axes[1]
        out.append(Camera.look_at(pos, focus, up, **intr))
    return out


def input_path(cameras: list[Camera], focus: np.ndarray, up: np.ndarray, n: int, long_side: int) -> list[Camera]:
    """The input trajectory with hand shake removed (the smoothing the view-consistency score uses),
    resampled to ``n`` frames, looking at the subject."""
    smooth = np.stack([c.position for c in smoothed_cameras(cameras)])
    u = np.linspace(0, len(smooth) - 1, n)
    pos = np.stack([np.interp(u, np.arange(len(smooth)), smooth[:, d]) for d in range(3)], 1)
    intr = intrinsics_for(cameras[0], long_side)
    return [Camera.look_at(p, focus, up, **intr) for p in pos]


MIN_ARC = 10.0  # a turntable never shrinks below this arc (degrees)


def make_path(kind: str, cameras: list[Camera], focus: np.ndarray, up: np.ndarray, n: int, long_side: int,
              arc_degrees: float = 360.0) -> list[Camera]:
    """A path of ``kind`` around ``focus`` framed by the cameras that face the subject. A turntable
    arc under 360° is held to 1.5× the arc the cameras saw (at least ``MIN_ARC``): beyond it the model
    has never seen the subject and renders a smear."""
    facing = facing_cameras(cameras, focus)
    if kind == "turntable":
        seen = seen_arc_degrees(facing, focus, up)
        arc = arc_degrees if arc_degrees >= 360 else min(arc_degrees, max(MIN_ARC, 1.5 * seen))
        return turntable(facing, focus, up, n, long_side, arc)
    if kind == "orbit-mild":
        return orbit_mild(facing, focus, up, n, long_side)
    if kind == "input":
        return input_path(cameras, focus, up, n, long_side)
    raise NerfieError(f"Unknown camera path {kind!r}.", f"Use one of {', '.join(PATHS)}.")
