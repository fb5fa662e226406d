"""Is a COLMAP model plausible? A model that 'registered everything' can still be broken.

Rules measured on four real clips (``selfie-sfm.md``): camera path extent > 3x the median scene
depth (exploded) or < 0.01x (no parallax); < 30 point observations per registered image (median);
an isolated jump in the camera path (step > 25x the median step and > 4x both neighbours);
> 15° rotation between consecutive frames; mean reprojection error > 2 px.
And the background must be seen from directions a few degrees apart (parallax, below): a camera
that turns on the spot gives SfM a consistent model whose translations are guesswork.
Before a video model is judged, it is cut to the longest run of frames without a break in its camera
path (``continuous_run``): a wrongly registered swing at a clip's end should cost those frames, not the
model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from nerfie.recon.rotations import rotation_angles_deg

# 90th percentile of the points' widest view angle below which depth cannot be told. Measured
# (RESULTS.md, "Parallax"): the synthetic pan capture whose accepted model put the subject at less than
# half its true depth 1.3°; the sample capture and foreman ~8–9°, the apple orbit 34°.
MIN_PARALLAX_DEG = 2.5
PARALLAX_PROBLEM = "parallax:"  # prefix of the problem line, for the plain-words diagnosis


def widest_view_angles_deg(points: list[np.ndarray], seen_from: list[np.ndarray]) -> np.ndarray:
    """For each point [3], the widest angle (degrees) between the rays from the camera centres [k, 3]
    that see it; points seen from fewer than two places are left out.

    What tells whether SfM could measure depth: a camera that only turns sees each background point
    from one direction, so its translation, and all that is triangulated from it, is guesswork.
    """
    out = []
    for p, c in zip(points, seen_from, strict=True):
        if len(c) < 2:
            continue
        v = c - p
        v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        out.append(float(np.degrees(np.arccos(np.clip((v @ v.T).min(), -1.0, 1.0)))))
    return np.asarray(out)


@dataclass
class ModelStats:
    registered: list[str]  # image names, sorted
    centers: np.ndarray  # [R, 3] in registered order
    rotations: np.ndarray  # [R, 3, 3] world→camera
    median_depth: float
    observations: np.ndarray  # [R] point observations per image
    reprojection_error: float
    num_points: int
    # per sampled point, the widest angle between the cameras that see it (degrees); empty = not measured
    parallax_deg: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass
class Verdict:
    sane: bool
    problems: list[str] = field(default_factory=list)


MAX_TURN_DEG = 15.0  # rotation between consecutive video frames above which the path is broken
JUMP_X_MEDIAN = 25.0  # a step this many times the path's median step …
JUMP_X_NEIGHBOUR = 4.0  # … and this many times the calmer step beside it is a jump, not a speed-up


def continuous_run(stats: ModelStats) -> slice:
    """The longest run of consecutive registered video frames with no break in the camera path.

    A break is a turn above ``MAX_TURN_DEG`` or a sudden jump between two frames. Why: a selfie clip
    often ends (or starts) with the phone swung away fast; SfM then registers those blurred frames
    wrongly (a 21° flip, a tail of cameras flung thousands of steps away) while the frames that film
    the subject are right. Judged whole, such a model is refused and the ladder climbs to worse ones;
    cut at the break, its good part is what the trainer would keep anyway (it trims swinging ends).
    """
    c = stats.centers
    n = len(c)
    if n < 3:
        return slice(0, n)
    steps = np.linalg.norm(np.diff(c, axis=0), axis=1)
    med = float(np.median(steps))
    turns = rotation_angles_deg(stats.rotations[1:], stats.rotations[:-1])

    def calmer_neighbour(i: int) -> float:
        return float(min((steps[j] for j in (i - 1, i + 1) if 0 <= j < n - 1), default=0.0))

    breaks = [i + 1 for i in range(n - 1)
              if turns[i] > MAX_TURN_DEG
              or (med > 0 and steps[i] > JUMP_X_MEDIAN * med and steps[i] > JUMP_X_NEIGHBOUR * calmer_neighbour(i))]
    edges = [0, *breaks, n]
    a, b = max(pairwise(edges), key=lambda e: e[1] - e[0])
    return slice(a, b)


def check_model(stats: ModelStats, ordered: bool = True) -> Verdict:
    """``ordered``: the images are consecutive video frames, so the path must be continuous (jump and
    per-frame rotation rules); a set of photos is not."""
    problems = []
    c = stats.centers
    if len(c) >= 2:
        extent = float(np.linalg.norm(c.max(0) - c.min(0)))
        depth = max(stats.median_depth, 1e-12)
        if extent > 3 * depth:
            problems.append(f"camera path {extent / depth:.1f}x the scene depth (exploded model)")
        if extent < 0.01 * depth:
            problems.append("the camera barely moved relative to the scene depth (no parallax)")
        steps = np.linalg.norm(np.diff(c, axis=0), axis=1) if ordered else np.zeros(0)
        med = float(np.median(steps)) if len(steps) else 0.0
        for i, s in enumerate(steps):
            before = steps[i - 1] if i > 0 else 0.0
            after = steps[i + 1] if i + 1 < len(steps) else 0.0
            if med > 0 and s > JUMP_X_MEDIAN * med and s > JUMP_X_NEIGHBOUR * max(before, after, 1e-12):
                problems.append(f"isolated jump in the camera path at {stats.registered[i + 1]}")
                break
        R = stats.rotations
        angles = rotation_angles_deg(R[1:], R[:-1])
        if ordered and len(angles) and angles.max() > MAX_TURN_DEG:
            problems.append(f"{angles.max():.0f}° rotation between consecutive frames")
    if len(stats.observations) and float(np.median(stats.observations)) < 30:
        problems.append(f"only {np.median(stats.observations):.0f} point observations per image (median)")
    if len(stats.parallax_deg) >= 20:
        p90 = float(np.percentile(stats.parallax_deg, 90))
        if p90 < MIN_PARALLAX_DEG:
            problems.append(f"{PARALLAX_PROBLEM} the background is seen from directions at most {p90:.1f}° apart "
                            "(90th percentile): the camera turned more than it travelled, so depth cannot be told")
    if stats.reprojection_error > 2.0:
        problems.append(f"reprojection error {stats.reprojection_error:.2f} px")
    return Verdict(sane=not problems, problems=problems)
