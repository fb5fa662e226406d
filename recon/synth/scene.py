"""An analytic "selfie" scene and its ray caster, independent of the NeRF code.

The subject is a union of ellipsoids in three piecewise-rigid parts:

* ``torso`` — shoulders and neck, static;
* ``head`` — skull, nose, ears and eyes, turning (yaw) and nodding (pitch) about a neck pivot;
* ``jaw`` — rides on the head and opens/closes about a hinge.

Each part is textured by a solid procedural texture evaluated in the part's canonical frame, so
appearance is consistent across views and times. The subject stands in a closed, well-textured room
(static background for structure from motion). World axes: +Z up, the subject faces −Y, metres.

Ray casting is exact (closed-form ray–ellipsoid and ray–box intersections), so depth maps are
ground truth: the distance along each unit ray to the first surface.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from nerfie.recon.rotations import axis_angle_matrix
from nerfie.recon.synth.noise import fbm, value_noise

PARTS = ("torso", "head", "jaw")

NECK_PIVOT = np.array([0.0, 0.01, -0.10])  # head rotates about this point
JAW_HINGE = np.array([0.0, 0.0, -0.045])  # jaw rotates about the x-axis through this point
HEAD_CENTER = np.array([0.0, 0.0, 0.0])
ROOM_MIN = np.array([-1.5, -1.3, -1.3])
ROOM_MAX = np.array([1.5, 1.6, 1.25])


@dataclass(frozen=True)
class Ellipsoid:
    part: str
    center: tuple[float, float, float]  # in the part's canonical frame (= world at rest)
    radii: tuple[float, float, float]
    material: str


ELLIPSOIDS: tuple[Ellipsoid, ...] = (
    Ellipsoid("head", (0.0, 0.0, 0.0), (0.075, 0.095, 0.115), "skin"),
    Ellipsoid("head", (0.0, -0.097, -0.012), (0.017, 0.03, 0.032), "skin"),  # nose
    Ellipsoid("head", (0.079, 0.0, -0.005), (0.014, 0.028, 0.035), "skin"),  # ears
    Ellipsoid("head", (-0.079, 0.0, -0.005), (0.014, 0.028, 0.035), "skin"),
    Ellipsoid("head", (0.031, -0.08, 0.028), (0.016, 0.012, 0.010), "eye"),
    Ellipsoid("head", (-0.031, -0.08, 0.028), (0.016, 0.012, 0.010), "eye"),
    Ellipsoid("jaw", (0.0, -0.03, -0.072), (0.056, 0.062, 0.042), "skin"),
    Ellipsoid("torso", (0.0, 0.015, -0.18), (0.056, 0.056, 0.10), "skin"),  # neck
    Ellipsoid("torso", (0.0, 0.035, -0.36), (0.21, 0.11, 0.15), "shirt"),
)

MATERIAL_IDS = {"background": 0, "skin": 1, "eye": 2, "shirt": 3}


@dataclass(frozen=True)
class Motion:
    """Subject pose at one instant (degrees)."""

    head_yaw: float = 0.0
    head_pitch: float = 0.0
    jaw_open: float = 0.0
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)  # the whole subject moved (metres)

    def part_transform(self, part: str) -> tuple[np.ndarray, np.ndarray]:
        """(R, t) mapping the part's canonical coordinates to world: x_w = R x_c + t."""
        R, t = self._part_transform(part)
        return R, t + np.asarray(self.offset, dtype=np.float64)

    def _part_transform(self, part: str) -> tuple[np.ndarray, np.ndarray]:
        if part == "torso":
            return np.eye(3), np.zeros(3)
        R_head = axis_angle_matrix([0, 0, 1], math.radians(self.head_yaw)) @ axis_angle_matrix(
            [1, 0, 0], math.radians(self.head_pitch)
        )
        t_head = NECK_PIVOT - R_head @ NECK_PIVOT
        if part == "head":
            return R_head, t_head
        if part == "jaw":
            # A positive rotation about +x swings the chin (at -y, below the hinge) down and back.
            R_j = axis_angle_matrix([1, 0, 0], math.radians(self.jaw_open))
            t_j = JAW_HINGE - R_j @ JAW_HINGE
            return R_head @ R_j, R_head @ t_j + t_head
        raise KeyError(part)

    def to_world(self, part: str, points: np.ndarray) -> np.ndarray:
        """Canonical points [..., 3] of ``part`` in world coordinates at this instant."""
        R, t = self.part_transform(part)
        return np.asarray(points, dtype=np.float64) @ R.T + t


@dataclass
class RenderOutput:
    rgb: torch.Tensor  # [..., 3] in [0, 1]
    depth: torch.Tensor  # [...] distance along the unit ray
    subject: torch.Tensor  # [...] bool, ray hit the subject


class SelfieScene:
    """The procedural scene; ``seed`` changes textures, never geometry."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)

    # ---- intersection ------------------------------------------------------------------------

    def cast(self, origins: torch.Tensor, dirs: torch.Tensor, motion: Motion) -> RenderOutput:
        """Shade rays (world origins/unit directions [N, 3]) against the scene at ``motion``."""
        dtype = torch.float64
        o = origins.to(dtype)
        d = dirs.to(dtype)
        n = o.shape[0]
        best_t = torch.full((n,), math.inf, dtype=dtype)
        best_id = torch.full((n,), -1, dtype=torch.int64)
        transforms = {p: motion.part_transform(p) for p in PARTS}
        local: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for part, (R, t) in transforms.items():
            Rt = torch.as_tensor(R, dtype=dtype)
            tt = torch.as_tensor(t, dtype=dtype)
            local[part] = ((o - tt) @ Rt, d @ Rt)  # R^T (o - t), R^T d for row vectors
        for k, e in enumerate(ELLIPSOIDS):
            oc, dc = local[e.part]
            c = torch.tensor(e.center, dtype=dtype)
            r = torch.tensor(e.radii, dtype=dtype)
            op = (oc - c) / r
            dp = dc / r
            a = (dp * dp).sum(-1)
            b = 2 * (op * dp).sum(-1)
            cc = (op * op).sum(-1) - 1
            disc = b * b - 4 * a * cc
            hit = disc > 0
            s = (-b - torch.sqrt(disc.clamp_min(0))) / (2 * a)
            hit &= s > 1e-6
            closer = hit & (s < best_t)
            best_t = torch.where(closer, s, best_t)
            best_id = torch.where(closer, torch.full_like(best_id, k), best_id)
        # room walls: exit distance of the box the camera is inside
        lo = torch.as_tensor(ROOM_MIN, dtype=dtype)
        hi = torch.as_tensor(ROOM_MAX, dtype=dtype)
        safe = torch.where(d.abs() < 1e-12, torch.full_like(d, 1e-12), d)
        t_exit = torch.where(d > 0, (hi - o) / safe, (lo - o) / safe).amin(-1)
        subject = best_id >= 0
        depth = torch.where(subject, best_t, t_exit)
        rgb = torch.zeros((n, 3), dtype=torch.float32)

        # background shading
        bg = ~subject
        if bool(bg.any()):
            p = o[bg] + d[bg] * t_exit[bg, None]
            rgb[bg] = self._background(p.to(torch.float32))
        # subject shading, per ellipsoid
        for k, e in enumerate(ELLIPSOIDS):
            m = best_id == k
            if not bool(m.any()):
                continue
            oc, dc = local[e.part]
            pc = oc[m] + dc[m] * best_t[m, None]  # canonical hit point
            c = torch.tensor(e.center, dtype=dtype)
            r = torch.tensor(e.radii, dtype=dtype)
            normal = (pc - c) / (r * r)
            normal = normal / torch.linalg.vector_norm(normal, dim=-1, keepdim=True)
            rgb[m] = self._subject(pc.to(torch.float32), normal.to(torch.float32), e.material, e.part)
        return RenderOutput(rgb=rgb.clamp(0, 1), depth=depth.to(torch.float32), subject=subject)

    # ---- materials -----------------------------------------------------------------------

    def _background(self, p: torch.Tensor) -> torch.Tensor:
        """Walls, floor and ceiling: multi-scale coloured blobs and tiles — rich in SIFT features."""
        s = self.seed
        a = fbm(p * 4.0, s + 11, octaves=3)[..., None]
        b = fbm(p * 4.0 + 17.3, s + 29, octaves=3)[..., None]
        detail = value_noise(p * 23.0, s + 7)[..., None]
        palette_a = torch.tensor([0.85, 0.55, 0.2]) - torch.tensor([0.6, 0.3, 0.05])
        palette_b = torch.tensor([0.1, 0.45, 0.75]) - torch.tensor([0.05, 0.15, 0.3])
        col = 0.12 + a * palette_a + b * palette_b + 0.3 * (detail - 0.5)
        # large tiles with dark grout on every surface
        tile = torch.frac(p * 2.5)
        grout = ((tile < 0.04) | (tile > 0.96)).sum(-1) >= 2
        col = torch.where(grout[..., None], col * 0.35, col)
        # a few bright "posters"
        poster = value_noise(p * 1.3, s + 3) > 0.72
        col = torch.where(poster[..., None], 0.25 + 0.9 * col[..., [2, 0, 1]], col)
        return col.clamp(0, 1)

    def _subject(self, pc: torch.Tensor, normal: torch.Tensor, material: str, part: str) -> torch.Tensor:
        s = self.seed
        light = torch.tensor([-0.35, -0.75, 0.55])
        light = light / light.norm()
        shade = (0.65 + 0.35 * (normal @ light).clamp_min(0))[..., None]
        if material == "eye":
            iris = torch.tensor([0.2, 0.25, 0.32])
            white = torch.tensor([0.78, 0.76, 0.74])
            dx = (pc[..., 0].abs() - 0.031) / 0.016
            dz = (pc[..., 2] - 0.028) / 0.010
            in_iris = (dx * dx + dz * dz) < 0.5
            col = torch.where(in_iris[..., None], iris, white)
            pupil = (dx * dx + dz * dz) < 0.08
            col = torch.where(pupil[..., None], torch.tensor([0.03, 0.03, 0.04]), col)
            return col * shade
        if material == "shirt":
            stripes = 0.5 + 0.5 * torch.sin(pc[..., 2] * 90.0 + 6.0 * fbm(pc * 8.0, s + 41, octaves=2))
            base = torch.tensor([0.15, 0.35, 0.6]) + stripes[..., None] * torch.tensor([0.55, 0.4, 0.15])
            speck = value_noise(pc * 60.0, s + 43)[..., None]
            return (base * (0.8 + 0.35 * speck)).clamp(0, 1) * shade
        # skin: warm base with blotches and freckles, hair on top/back of the head, red lips
        blot = fbm(pc * 25.0, s + 5, octaves=3)[..., None]
        freck = value_noise(pc * 90.0, s + 9)[..., None]
        skin = torch.tensor([0.86, 0.64, 0.52]) * (0.8 + 0.35 * blot) - 0.12 * (freck - 0.7).clamp(0, 1) / 0.3
        col = skin
        if part in ("head", "jaw"):
            hair_line = 0.045 + 0.03 * (fbm(pc * 18.0, s + 21, octaves=2) - 0.5)
            is_hair = (pc[..., 2] > hair_line - 0.9 * (pc[..., 1] + 0.02).clamp_min(0)) & (pc[..., 1] > -0.075)
            is_hair &= part == "head"
            strands = value_noise(pc * torch.tensor([110.0, 110.0, 20.0]), s + 23)[..., None]
            hair = torch.tensor([0.28, 0.17, 0.09]) * (0.6 + 0.8 * strands)
            col = torch.where(is_hair[..., None], hair, col)
            lips = (pc[..., 1] < -0.06) & ((pc[..., 2] + 0.052).abs() < 0.008) & (pc[..., 0].abs() < 0.026)
            col = torch.where(lips[..., None], torch.tensor([0.7, 0.2, 0.22]) * (0.85 + 0.3 * blot), col)
            brow = (pc[..., 1] < -0.06) & ((pc[..., 2] - 0.047).abs() < 0.006) & (
                (pc[..., 0].abs() - 0.032).abs() < 0.018
            )
            col = torch.where(brow[..., None], torch.tensor([0.22, 0.13, 0.08]), col)
            # shading of real faces: darker eye sockets and cheek hollows, a lit nose bridge
            dx = (pc[..., 0].abs() - 0.031) / 0.03
            dz = (pc[..., 2] - 0.03) / 0.022
            socket = torch.exp(-(dx * dx + dz * dz))[..., None]
            col = col * (1 - 0.45 * socket * (pc[..., 1] < -0.05).float()[..., None])
            cheek = torch.exp(-(((pc[..., 0].abs() - 0.05) / 0.02) ** 2 + ((pc[..., 2] + 0.02) / 0.03) ** 2))
            col = col * (1 - 0.2 * cheek[..., None])
        return col.clamp(0, 1) * shade
