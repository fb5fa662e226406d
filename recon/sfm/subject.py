"""Where the subject is in 3-D: the one estimate everything frames on.

Why not the cameras' optical axes (what the Nerfies notebook does)? A handheld clip that turns more
than it travels has axes that meet *behind* the cameras, and every path and the fine grid then
centre on empty space. The subject masks say where the person is in each frame: the ray through
the head in every frame must pass through one point in front of every camera, so that point (a
robust least-squares intersection of those rays) is the subject, and its scatter tells whether the
poses can hold a static subject at all:

* the rays meet behind a camera, or only beyond the background → the poses or the clip are wrong
  (a mirrored small-baseline solution, or the person moved along with the phone);
* the rays miss their meeting point by more than the head's own size (seen from each camera) →
  the head moved far more than talking and nodding explain.

Without masks (objects, imported datasets) the optical axes are used, but never a point behind a
camera: then a point along the mean viewing direction at half the scene's median depth is taken,
and the report says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from nerfie.recon.camera import Camera

SUBJECT_BOXES = "subject.json"  # beside the masks: per frame the detected face box (x, y, w, h) in pixels
MAX_MISS = 1.0  # median ray miss, in head radii as seen from each camera, that a still-ish head explains
MIN_SPREAD_DEG = 1.0  # rays that span less than this meet nowhere in particular
MIN_DETECTED = 12  # frames with a detected (not flow-followed) face needed to use those alone


@dataclass(frozen=True)
class SubjectObservation:
    """Where the head is in one frame: its centre (pixels, 1× frame) and half-size in pixels."""

    u: float
    v: float
    radius_px: float
    surface: bool = False  # (u, v) is on the face's front (a face detector's box), not the head's centre


@dataclass
class SubjectEstimate:
    center: np.ndarray  # [3], the cameras' world
    radius: float  # the subject's (head's) radius, same units
    source: str  # "subject masks" | "camera axes" | "mean view direction"
    consistent: bool = True
    problems: list[str] = field(default_factory=list)
    miss: float = 0.0  # median ray miss in head radii (masks only)
    frames: int = 0
    note: str = ""  # one plain-words line for the report

    def to_json(self) -> dict:
        return {"center": self.center.tolist(), "radius": self.radius, "source": self.source,
                "consistent": self.consistent, "problems": self.problems, "miss": round(self.miss, 3),
                "frames": self.frames}


# ---- observations ---------------------------------------------------------------------------------


def write_boxes(masks_dir: Path, boxes: dict[str, tuple[float, ...] | None]) -> None:
    """Record the face box of every frame (None where no face) beside the masks."""
    from nerfie.recon.fileio import write_json_atomic

    write_json_atomic(masks_dir / SUBJECT_BOXES, {k: (list(v) if v is not None else None) for k, v in boxes.items()})


def observation_from_mask(mask: np.ndarray) -> SubjectObservation | None:
    """The head in a mask image (black = subject): the top of the black region, where the head is.

    Used when no detector boxes were saved (ground-truth or imported masks). Head and shoulders
    masks widen downwards, so the head is taken as the part of the region within one head width of
    its top, the width measured on the region's top rows.
    """
    sub = mask < 128
    rows = np.flatnonzero(sub.any(1))
    if len(rows) < 3:
        return None
    top = rows[0]
    band = sub[top:top + max(3, len(rows) // 8)]
    cols = np.flatnonzero(band.any(0))
    width = float(cols[-1] - cols[0] + 1)
    head = sub[top:top + int(1.3 * width) + 1]
    ys, xs = np.nonzero(head)
    if len(xs) < 5:
        return None
    return SubjectObservation(float(xs.mean() + 0.5), float(top + ys.mean() + 0.5), float(np.sqrt(len(xs) / np.pi)))


def observations(masks_dir: Path, names: list[str]) -> dict[str, SubjectObservation]:
    """Per frame name, where the head is: from the detector's head ellipses when saved, else the masks."""
    out: dict[str, SubjectObservation] = {}
    boxes_path = masks_dir / SUBJECT_BOXES
    boxes = json.loads(boxes_path.read_text()) if boxes_path.exists() else None
    if boxes is not None:
        # Boxes the detector found beat boxes followed by optical flow (which drift): use those alone
        # when there are enough of them.
        detected = [n for n in names if boxes.get(n) is not None and (len(boxes[n]) < 5 or boxes[n][4] > 0)]
        if len(detected) >= MIN_DETECTED:
            boxes = {n: boxes[n] for n in detected}
    for n in names:
        if boxes is not None:
            b = boxes.get(n)
            if b is not None:
                # A face box (brows to mouth) is centred on the face; the head's half-width is about
                # half the box's size.
                x, y, w, h = (float(v) for v in b[:4])
                out[n] = SubjectObservation(x + w / 2, y + h / 2, 0.5 * float(np.sqrt(w * h)), True)
            continue
        path = masks_dir / n
        if path.exists():
            m = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if m is not None:
                o = observation_from_mask(m)
                if o is not None:
                    out[n] = o
    return out


# ---- geometry -------------------------------------------------------------------------------------


def _ray(cam: Camera, u: float, v: float) -> tuple[np.ndarray, np.ndarray]:
    o, d = cam.pixels_to_rays(torch.tensor([[u, v]], dtype=torch.float64))
    return o[0].numpy(), d[0].numpy()


def intersect_rays(origins: np.ndarray, dirs: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares point closest to all rays (lines); ``lstsq`` so parallel rays do not raise."""
    w = np.ones(len(origins)) if weights is None else weights
    P = np.eye(3)[None] - dirs[:, :, None] * dirs[:, None, :]
    A = np.einsum("n,nij->ij", w, P)
    b = np.einsum("n,nij,nj->i", w, P, origins)
    return np.linalg.lstsq(A, b, rcond=None)[0]


def robust_intersection(origins: np.ndarray, dirs: np.ndarray, scale: np.ndarray, iters: int = 5) -> np.ndarray:
    """Intersection with Cauchy re-weighting (a few frames with a wrong head box must not pull it)."""
    x = intersect_rays(origins, dirs)
    for _ in range(iters):
        miss = _misses(x, origins, dirs) / np.maximum(scale, 1e-12)
        x = intersect_rays(origins, dirs, 1.0 / (1.0 + miss**2))
    return x


def _misses(x: np.ndarray, origins: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    rel = x - origins
    along = np.einsum("ni,ni->n", rel, dirs)
    return np.linalg.norm(rel - along[:, None] * dirs, axis=1)


def ray_spread_deg(dirs: np.ndarray) -> float:
    """Largest angle between any ray and the mean ray, twice: how far apart the views look."""
    mean = dirs.mean(0)
    mean /= np.linalg.norm(mean)
    return 2 * float(np.degrees(np.arccos(np.clip(dirs @ mean, -1, 1))).max())


def in_front_fallback(cameras: list[Camera], depth: float) -> np.ndarray:
    """A point along the mean viewing direction, ``depth`` in front of the mean camera."""
    fwd = np.mean([c.forward for c in cameras], axis=0)
    fwd /= max(np.linalg.norm(fwd), 1e-12)
    return np.mean([c.position for c in cameras], axis=0) + depth * fwd


def depths_of(point: np.ndarray, cameras: list[Camera]) -> np.ndarray:
    """z-depth of ``point`` in every camera."""
    return np.array([float(c.forward @ (point - c.position)) for c in cameras])


def from_camera_axes(cameras: list[Camera], median_depth: float) -> SubjectEstimate:
    """For captures without a person: where the optical axes meet, if that is in front of every camera."""
    o = np.stack([c.position for c in cameras])
    d = np.stack([c.forward / np.linalg.norm(c.forward) for c in cameras])
    x = intersect_rays(o, d)
    z = depths_of(x, cameras)
    spread = ray_spread_deg(d)
    if len(cameras) >= 2 and spread >= MIN_SPREAD_DEG and z.min() > 0.05 * median_depth:
        return SubjectEstimate(x, 0.25 * float(np.median(z)), "camera axes", frames=len(cameras),
                               note="Subject: where the cameras' optical axes meet (no subject masks).")
    x = in_front_fallback(cameras, 0.5 * median_depth)
    why = "meet behind the cameras" if spread >= MIN_SPREAD_DEG and z.min() <= 0 else "hardly converge"
    return SubjectEstimate(x, 0.25 * 0.5 * median_depth, "mean view direction", frames=len(cameras),
                           note=f"Subject: the cameras' optical axes {why}; framing on a point half the median "
                                "scene depth in front of the cameras instead.")


def estimate_subject(cameras: dict[str, Camera], obs: dict[str, SubjectObservation],
                     median_depth: float) -> SubjectEstimate:
    """The subject from the head rays of every frame (see the module docstring).

    ``median_depth``: the median depth of the scene's (background) points over the cameras, in the
    cameras' units: the subject must sit in front of it. Falls back to the camera axes with fewer
    than 5 observed frames.
    """
    names = [n for n in cameras if n in obs]
    cams = list(cameras.values())
    if len(names) < 5:
        return from_camera_axes(cams, median_depth)
    rays = [_ray(cameras[n], obs[n].u, obs[n].v) for n in names]
    o = np.stack([r[0] for r in rays])
    d = np.stack([r[1] for r in rays])
    fx = np.array([0.5 * (cameras[n].fx + cameras[n].fy) for n in names])
    ang = np.array([obs[n].radius_px for n in names]) / fx  # head radius as an angle, radians
    spread = ray_spread_deg(d)
    # First pass with the head size at the background depth as the scale of a miss.
    x = robust_intersection(o, d, ang * median_depth)
    z = np.einsum("ni,ni->n", x - o, d)
    problems = []
    if spread < MIN_SPREAD_DEG:
        problems.append(f"the views of the subject span only {spread:.1f}°: its depth cannot be told")
    if z.min() <= 0:
        problems.append(f"the rays through the subject meet behind {int((z <= 0).sum())} of {len(z)} cameras")
    elif np.median(z) > 1.2 * median_depth:
        problems.append("the rays through the subject meet beyond the background")
    if problems:
        # Not a usable meeting point: hold the subject at the depth where the head has a plausible
        # size relative to the background, along each frame's own ray.
        depth = 0.5 * median_depth
        x = np.median(o + depth * d, axis=0)
        z = np.einsum("ni,ni->n", x - o, d)
    zc = np.maximum(z, 1e-9)
    miss = float(np.median(_misses(x, o, d) / (zc * ang)))
    if not problems and miss > MAX_MISS:
        problems.append(f"the rays through the subject miss each other by {miss:.1f} head sizes: "
                        "the head moved far more than a still subject does")
    radius = float(np.median(ang * zc))
    consistent = not problems
    if consistent and np.mean([obs[n].surface for n in names]) > 0.5:
        # Face boxes put the rays through the face, which is one head radius in front of the head's
        # centre: the subject is that much further along the mean view.
        view = x - o.mean(0)
        view /= np.linalg.norm(view)
        x = x + radius * view
        z = np.einsum("ni,ni->n", x - o, d)
        radius = float(np.median(ang * z))
    note = (f"Subject: from the subject masks of {len(names)} frames, {float(np.median(z)):.3g} in front of the "
            f"cameras (median), head rays within {miss:.2f} head sizes" if consistent else
            "Subject: the subject masks cannot be explained by a subject holding still in front of these "
            f"cameras ({'; '.join(problems)})")
    return SubjectEstimate(x, radius, "subject masks", consistent, problems, miss, len(names), note)


FACING = 0.25  # an input camera "faces" the subject when it sees it this near the centre (fraction of the image)


def facing_cameras(cameras: list[Camera], focus: np.ndarray) -> list[Camera]:
    """The input cameras that look at the subject (it projects near the middle of their picture).

    A clip that pans away at the end (to the room, after the face) has cameras whose positions would
    otherwise set the paths' span, distance and height: the orbit would leave the face for the room.
    With fewer than 3 such cameras all are kept."""
    keep = []
    for c in cameras:
        px, z = c.project(torch.tensor(np.asarray(focus, dtype=np.float64)[None]))
        off = max(abs(float(px[0, 0]) / c.width - 0.5), abs(float(px[0, 1]) / c.height - 0.5))
        if float(z[0]) > 0 and off <= FACING:
            keep.append(c)
    return keep if len(keep) >= 3 else list(cameras)


def seen_arc_degrees(cameras: list[Camera], focus: np.ndarray, up: np.ndarray) -> float:
    """How far around the subject (about ``up``) the bulk of the cameras went (10th–90th percentile
    of their azimuths), in degrees."""
    up = up / np.linalg.norm(up)
    rel = np.stack([c.position for c in cameras]) - focus
    flat = rel - np.outer(rel @ up, up)
    mean = flat.mean(0)
    if np.linalg.norm(mean) < 1e-12:
        return 360.0
    e1 = mean / np.linalg.norm(mean)
    e2 = np.cross(up, e1)
    az = np.degrees(np.arctan2(flat @ e2, flat @ e1))
    lo, hi = np.percentile(az, [10, 90])  # the bulk of the views: a few frames of a pan do not count
    return float(hi - lo)


TURNED_ON_THE_SPOT = (
    "the camera turned without moving around you",
    "Film again walking the phone in an arc around your face (about a shoulder's width) while it keeps "
    "pointing at you, rather than turning it on the spot.",
)


def diagnose(cameras: list[Camera], median_depth: float) -> tuple[str, str]:
    """(cause, what to do) in plain words for a capture whose subject estimate is inconsistent.

    A camera that turns much more than it travels (seen from the subject) gives no parallax on the
    subject; one that travels but keeps the head in the same place of the frame had the person move
    along with it.
    """
    c = np.stack([x.position for x in cameras])
    travel_deg = float(np.degrees(np.linalg.norm(c.max(0) - c.min(0)) / max(median_depth, 1e-12)))
    # The turn about the vertical only: a hand's nodding pitch is not a pan.
    up = -np.mean([x.rotation[1] for x in cameras], axis=0)
    up /= np.linalg.norm(up)
    f = np.stack([x.forward for x in cameras])
    f = f - np.outer(f @ up, up)
    turn_deg = ray_spread_deg(f / np.linalg.norm(f, axis=1, keepdims=True))
    if travel_deg < 0.5 * turn_deg:
        return TURNED_ON_THE_SPOT
    return ("you moved along with the camera",
            "Film again keeping your head still while the phone moves around it (or ask someone to hold it).")
