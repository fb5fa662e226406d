"""The one camera type every coordinate convention converts through.

Internal convention (the Nerfies / COLMAP / OpenCV one):

* ``rotation`` is the **world→camera** rotation; its rows are the camera's x (right), y (down) and
  z (forward) axes in world coordinates. ``position`` is the camera centre in world coordinates.
* Image coordinates put the top-left *corner* of the image at (0, 0), so the centre of pixel
  (row i, column j) is (j + 0.5, i + 0.5) — the COLMAP / Nerfies convention.
* Distortion is OpenCV's: radial k1, k2, k3 and tangential p1, p2, applied to normalised image
  coordinates; ``skew`` couples x to y as in Nerfies (``u = fx·x + skew·y + cx``).

Converters exist for COLMAP (world→camera quaternion + translation, OpenCV axes), nerfstudio /
instant-ngp ``transforms.json`` (camera→world, OpenGL axes: +Y up, camera looks down −Z) and the
Nerfies camera JSON (``orientation`` = world→camera, ``position`` = centre). Most NeRF-tool bugs
users report are convention bugs, so nothing else in Nerfie converts poses by hand.

The maths (rays, projection, undistortion) is batched in torch and broadcasts: a single
:class:`Camera` works on pixel tensors of any leading shape, and :class:`CameraBatch` holds many
cameras as tensors for per-ray indexing during training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from nerfie.recon.errors import NerfieError
from nerfie.recon.rotations import matrix_to_quat, orthonormalize, quat_to_matrix

# OpenCV camera axes → OpenGL camera axes (flip y and z).
_CV_TO_GL = np.diag([1.0, -1.0, -1.0])

# Intrinsics vector layout shared by every batched function below.
INTRINSICS = ("fx", "fy", "cx", "cy", "skew", "k1", "k2", "k3", "p1", "p2")

_COLMAP_PARAMS: dict[str, tuple[str, ...]] = {
    "SIMPLE_PINHOLE": ("f", "cx", "cy"),
    "PINHOLE": ("fx", "fy", "cx", "cy"),
    "SIMPLE_RADIAL": ("f", "cx", "cy", "k1"),
    "RADIAL": ("f", "cx", "cy", "k1", "k2"),
    "OPENCV": ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2"),
    "FULL_OPENCV": ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6"),
}


# --------------------------------------------------------------------------------------------
# batched maths on an intrinsics tensor [..., 10] (layout INTRINSICS)


def distort(x: torch.Tensor, y: torch.Tensor, intr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply OpenCV radial + tangential distortion to normalised coordinates."""
    k1, k2, k3, p1, p2 = (intr[..., i] for i in range(5, 10))
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return xd, yd


def undistort(
    xd: torch.Tensor, yd: torch.Tensor, intr: torch.Tensor, iterations: int = 10
) -> tuple[torch.Tensor, torch.Tensor]:
    """Invert :func:`distort` by Newton's method (fixed iteration count: no data-dependent branches,
    so it runs the same on GPU). The images are never resampled; rays are undistorted instead."""
    k1, k2, k3, p1, p2 = (intr[..., i] for i in range(5, 10))
    x, y = xd, yd
    for _ in range(iterations):
        r2 = x * x + y * y
        d = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
        d_r = k1 + r2 * (2 * k2 + 3 * k3 * r2)  # d(d)/d(r2)
        fx = x * d + 2 * p1 * x * y + p2 * (r2 + 2 * x * x) - xd
        fy = y * d + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y - yd
        fx_x = d + 2 * x * x * d_r + 2 * p1 * y + 6 * p2 * x
        fx_y = 2 * x * y * d_r + 2 * p1 * x + 2 * p2 * y
        fy_x = 2 * x * y * d_r + 2 * p1 * x + 2 * p2 * y
        fy_y = d + 2 * y * y * d_r + 6 * p1 * y + 2 * p2 * x
        det = fx_x * fy_y - fx_y * fy_x
        x = x - (fx * fy_y - fy * fx_y) / det
        y = y - (fy * fx_x - fx * fy_x) / det
    return x, y


def pixels_to_local_dirs(pixels: torch.Tensor, intr: torch.Tensor) -> torch.Tensor:
    """Unit ray directions in the camera frame (OpenCV axes) for pixel coordinates [..., 2]."""
    fx, fy, cx, cy, skew = (intr[..., i] for i in range(5))
    yd = (pixels[..., 1] - cy) / fy
    xd = (pixels[..., 0] - cx - skew * yd) / fx
    x, y = undistort(xd, yd, intr)
    d = torch.stack([x, y, torch.ones_like(x)], dim=-1)
    return d / torch.linalg.vector_norm(d, dim=-1, keepdim=True)


def project_local(points_cam: torch.Tensor, intr: torch.Tensor) -> torch.Tensor:
    """Pixel coordinates [..., 2] of camera-frame points [..., 3] (z > 0 in front)."""
    fx, fy, cx, cy, skew = (intr[..., i] for i in range(5))
    z = points_cam[..., 2]
    x, y = distort(points_cam[..., 0] / z, points_cam[..., 1] / z, intr)
    return torch.stack([fx * x + skew * y + cx, fy * y + cy], dim=-1)


# --------------------------------------------------------------------------------------------


def _f(v: Any) -> float:
    return float(v)


@dataclass
class Camera:
    """A pinhole camera with OpenCV distortion and a pose (see the module docstring)."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    skew: float = 0.0
    k1: float = 0.0
    k2: float = 0.0
    k3: float = 0.0
    p1: float = 0.0
    p2: float = 0.0
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))  # world→camera
    position: np.ndarray = field(default_factory=lambda: np.zeros(3))  # centre, world

    def __post_init__(self) -> None:
        self.width, self.height = int(self.width), int(self.height)
        for name in INTRINSICS:
            setattr(self, name, float(getattr(self, name)))
        self.rotation = np.asarray(self.rotation, dtype=np.float64).reshape(3, 3)
        self.position = np.asarray(self.position, dtype=np.float64).reshape(3)
        if self.width <= 0 or self.height <= 0:
            raise NerfieError(f"Camera image size must be positive, got {self.width}x{self.height}.")
        if self.fx <= 0 or self.fy <= 0:
            raise NerfieError(f"Camera focal length must be positive, got fx={self.fx}, fy={self.fy}.")

    # ---- basic properties -------------------------------------------------------------------

    @property
    def has_distortion(self) -> bool:
        return any(getattr(self, k) != 0.0 for k in ("k1", "k2", "k3", "p1", "p2"))

    @property
    def intrinsics(self) -> np.ndarray:
        """The 10-vector (fx, fy, cx, cy, skew, k1, k2, k3, p1, p2)."""
        return np.array([getattr(self, k) for k in INTRINSICS], dtype=np.float64)

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, self.skew, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def world_to_camera(self) -> np.ndarray:
        """4x4 world→camera matrix (OpenCV axes), what COLMAP stores."""
        m = np.eye(4)
        m[:3, :3] = self.rotation
        m[:3, 3] = -self.rotation @ self.position
        return m

    @property
    def camera_to_world(self) -> np.ndarray:
        """4x4 camera→world matrix (OpenCV axes)."""
        m = np.eye(4)
        m[:3, :3] = self.rotation.T
        m[:3, 3] = self.position
        return m

    @property
    def forward(self) -> np.ndarray:
        """Viewing direction in world coordinates."""
        return self.rotation[2].copy()

    @property
    def fov_y_degrees(self) -> float:
        return math.degrees(2 * math.atan(0.5 * self.height / self.fy))

    @property
    def fov_x_degrees(self) -> float:
        return math.degrees(2 * math.atan(0.5 * self.width / self.fx))

    def copy(self, **changes: Any) -> Camera:
        kw: dict[str, Any] = {"rotation": self.rotation.copy(), "position": self.position.copy(), **changes}
        return replace(self, **kw)

    # ---- constructors ---------------------------------------------------------------------

    @classmethod
    def look_at(
        cls,
        position: np.ndarray | list[float],
        target: np.ndarray | list[float],
        up: np.ndarray | list[float],
        width: int,
        height: int,
        fx: float,
        fy: float | None = None,
        cx: float | None = None,
        cy: float | None = None,
        **distortion: float,
    ) -> Camera:
        """A camera at ``position`` looking at ``target`` with ``up`` (world) pointing up in the image."""
        position = np.asarray(position, dtype=np.float64)
        z = np.asarray(target, dtype=np.float64) - position
        nz = np.linalg.norm(z)
        if nz == 0:
            raise NerfieError("look_at: the camera position equals the target.")
        z /= nz
        x = np.cross(z, np.asarray(up, dtype=np.float64))
        nx = np.linalg.norm(x)
        if nx < 1e-12:
            raise NerfieError("look_at: the up vector is parallel to the viewing direction.")
        x /= nx
        y = np.cross(z, x)
        return cls(
            width=width, height=height, fx=fx, fy=fx if fy is None else fy,
            cx=width / 2 if cx is None else cx, cy=height / 2 if cy is None else cy,
            rotation=np.stack([x, y, z]), position=position, **distortion,
        )

    # ---- image and scene transforms -------------------------------------------------------

    def scaled(self, factor: float) -> Camera:
        """The same camera for an image downscaled by ``factor`` (2 → half width and height).

        With the corner-at-zero pixel convention the principal point scales like the focal length.
        """
        s = 1.0 / factor
        return self.copy(
            width=max(1, round(self.width * s)), height=max(1, round(self.height * s)),
            fx=self.fx * s, fy=self.fy * s, cx=self.cx * s, cy=self.cy * s, skew=self.skew * s,
        )

    def normalized(self, center: np.ndarray | list[float], scale: float) -> Camera:
        """Apply the scene normalisation ``x' = (x − center)·scale`` (rotation unchanged)."""
        return self.copy(position=(self.position - np.asarray(center, dtype=np.float64)) * scale)

    # ---- torch maths -----------------------------------------------------------------------

    def intrinsics_tensor(self, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
                          ) -> torch.Tensor:
        return torch.tensor(self.intrinsics, device=device, dtype=dtype)

    def _pose_tensors(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        R = torch.as_tensor(self.rotation, device=like.device, dtype=like.dtype)
        C = torch.as_tensor(self.position, device=like.device, dtype=like.dtype)
        return R, C

    def pixel_centers(self, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
                      ) -> torch.Tensor:
        """[H, W, 2] pixel-centre coordinates (u, v) = (j + 0.5, i + 0.5)."""
        v, u = torch.meshgrid(
            torch.arange(self.height, device=device, dtype=dtype) + 0.5,
            torch.arange(self.width, device=device, dtype=dtype) + 0.5,
            indexing="ij",
        )
        return torch.stack([u, v], dim=-1)

    def pixels_to_rays(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """World-space ray origins and unit directions for pixel coordinates [..., 2]."""
        R, C = self._pose_tensors(pixels)
        intr = self.intrinsics_tensor(pixels.device, pixels.dtype)
        if self.has_distortion:
            local = pixels_to_local_dirs(pixels, intr)
        else:  # skip the Newton iterations: identical result, 10x less work
            yd = (pixels[..., 1] - self.cy) / self.fy
            xd = (pixels[..., 0] - self.cx - self.skew * yd) / self.fx
            local = torch.stack([xd, yd, torch.ones_like(xd)], dim=-1)
            local = local / torch.linalg.vector_norm(local, dim=-1, keepdim=True)
        dirs = local @ R  # R^T · d for row vectors
        dirs = dirs / torch.linalg.vector_norm(dirs, dim=-1, keepdim=True)
        return C.expand_as(dirs), dirs

    def unproject(self, pixels: torch.Tensor, distance: torch.Tensor) -> torch.Tensor:
        """World points at ``distance`` (along the unit ray, not z-depth) behind pixels [..., 2]."""
        origins, dirs = self.pixels_to_rays(pixels)
        return origins + dirs * distance[..., None]

    def world_to_local(self, points: torch.Tensor) -> torch.Tensor:
        R, C = self._pose_tensors(points)
        return (points - C) @ R.T

    def project(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixel coordinates [..., 2] and z-depth [...] of world points [..., 3]."""
        local = self.world_to_local(points)
        return project_local(local, self.intrinsics_tensor(points.device, points.dtype)), local[..., 2]

    # ---- COLMAP -------------------------------------------------------------------------------

    @classmethod
    def from_colmap(
        cls, model: str, params: list[float] | np.ndarray, width: int, height: int,
        qvec: list[float] | np.ndarray, tvec: list[float] | np.ndarray,
    ) -> Camera:
        """From a COLMAP camera (model name + params) and image pose (world→camera qvec w,x,y,z; tvec)."""
        names = _COLMAP_PARAMS.get(model)
        if names is None:
            raise NerfieError(
                f"COLMAP camera model {model} is not supported.",
                f"Use one of {', '.join(_COLMAP_PARAMS)} (re-run SfM with OPENCV for distortion).",
            )
        params = [float(p) for p in params]
        if len(params) != len(names):
            raise NerfieError(f"COLMAP {model} needs {len(names)} parameters, got {len(params)}.")
        p = dict(zip(names, params, strict=True))
        if any(p.get(k, 0.0) != 0.0 for k in ("k4", "k5", "k6")):
            raise NerfieError("FULL_OPENCV with rational terms k4..k6 is not supported.")
        f = p.get("f")
        R = quat_to_matrix(qvec)
        t = np.asarray(tvec, dtype=np.float64)
        return cls(
            width=width, height=height,
            fx=p.get("fx", f), fy=p.get("fy", f), cx=p["cx"], cy=p["cy"],
            k1=p.get("k1", 0.0), k2=p.get("k2", 0.0), k3=p.get("k3", 0.0),
            p1=p.get("p1", 0.0), p2=p.get("p2", 0.0),
            rotation=R, position=-R.T @ t,
        )

    def colmap_model(self) -> str:
        """The simplest COLMAP model that represents these intrinsics exactly."""
        if self.skew != 0.0:
            raise NerfieError("COLMAP cannot represent a skewed camera.")
        if self.k3 != 0.0:
            return "FULL_OPENCV"
        if self.p1 != 0.0 or self.p2 != 0.0 or self.fx != self.fy:
            return "OPENCV" if self.has_distortion else "PINHOLE"
        if self.k2 != 0.0:
            return "RADIAL"
        if self.k1 != 0.0:
            return "SIMPLE_RADIAL"
        return "SIMPLE_PINHOLE"

    def to_colmap(self, model: str | None = None) -> dict[str, Any]:
        """``{"model", "params", "width", "height", "qvec", "tvec"}`` in COLMAP's conventions."""
        model = model or self.colmap_model()
        names = _COLMAP_PARAMS[model]
        values = {"f": self.fx, "k4": 0.0, "k5": 0.0, "k6": 0.0, **{k: getattr(self, k) for k in INTRINSICS}}
        dropped = {k for k in ("k1", "k2", "k3", "p1", "p2") if k not in names and getattr(self, k) != 0.0}
        if dropped or ("f" in names and self.fx != self.fy) or self.skew != 0.0:
            raise NerfieError(f"COLMAP model {model} cannot represent this camera ({sorted(dropped)}).")
        return {
            "model": model, "params": [values[n] for n in names],
            "width": self.width, "height": self.height,
            "qvec": matrix_to_quat(self.rotation).tolist(),
            "tvec": (-self.rotation @ self.position).tolist(),
        }

    # ---- nerfstudio / instant-ngp transforms.json --------------------------------------------

    def transform_matrix(self) -> np.ndarray:
        """4x4 camera→world in OpenGL camera axes, as ``transforms.json`` stores it."""
        m = self.camera_to_world
        m[:3, :3] = m[:3, :3] @ _CV_TO_GL
        return m

    def to_transforms_frame(self) -> dict[str, Any]:
        """One ``frames[]`` entry with per-frame intrinsics (nerfstudio's format)."""
        if self.skew != 0.0:
            raise NerfieError("transforms.json cannot represent a skewed camera.")
        return {
            "fl_x": self.fx, "fl_y": self.fy, "cx": self.cx, "cy": self.cy,
            "w": self.width, "h": self.height,
            "k1": self.k1, "k2": self.k2, "k3": self.k3, "p1": self.p1, "p2": self.p2,
            "transform_matrix": self.transform_matrix().tolist(),
        }

    @classmethod
    def from_transforms_frame(
        cls, frame: dict[str, Any], defaults: dict[str, Any] | None = None,
        width: int | None = None, height: int | None = None,
    ) -> Camera:
        """From a ``frames[]`` entry; intrinsics come from the frame, else from the file's top level.

        Accepts instant-ngp / original-NeRF files that give ``camera_angle_x`` instead of ``fl_x``
        (then pass ``width``/``height`` if the file has no ``w``/``h``).
        """
        d = {**(defaults or {}), **frame}
        w = d.get("w", width)
        h = d.get("h", height)
        if w is None or h is None:
            raise NerfieError("transforms.json gives no image size (w, h).", "Pass the image size.")
        w, h = int(w), int(h)
        if "fl_x" in d:
            fx = _f(d["fl_x"])
        elif "camera_angle_x" in d:
            fx = 0.5 * w / math.tan(0.5 * _f(d["camera_angle_x"]))
        else:
            raise NerfieError("transforms.json gives no focal length (fl_x or camera_angle_x).")
        if "fl_y" in d:
            fy = _f(d["fl_y"])
        elif "camera_angle_y" in d:
            fy = 0.5 * h / math.tan(0.5 * _f(d["camera_angle_y"]))
        else:
            fy = fx
        if _f(d.get("k4", 0.0)) != 0.0:
            raise NerfieError("transforms.json uses k4 (fisheye); only OPENCV perspective is supported.")
        m = np.asarray(d["transform_matrix"], dtype=np.float64)
        c2w_cv = m[:3, :3] @ _CV_TO_GL
        return cls(
            width=w, height=h, fx=fx, fy=fy,
            cx=_f(d.get("cx", w / 2)), cy=_f(d.get("cy", h / 2)),
            k1=_f(d.get("k1", 0.0)), k2=_f(d.get("k2", 0.0)), k3=_f(d.get("k3", 0.0)),
            p1=_f(d.get("p1", 0.0)), p2=_f(d.get("p2", 0.0)),
            rotation=orthonormalize(c2w_cv).T, position=m[:3, 3],
        )

    # ---- Nerfies camera JSON -------------------------------------------------------------

    def to_nerfies_json(self) -> dict[str, Any]:
        """The Nerfies / HyperNeRF ``camera/<id>.json`` dictionary."""
        return {
            "orientation": self.rotation.tolist(),
            "position": self.position.tolist(),
            "focal_length": self.fx,
            "principal_point": [self.cx, self.cy],
            "skew": self.skew,
            "pixel_aspect_ratio": self.fy / self.fx,
            "radial_distortion": [self.k1, self.k2, self.k3],
            "tangential_distortion": [self.p1, self.p2],
            "image_size": [self.width, self.height],
        }

    @classmethod
    def from_nerfies_json(cls, d: dict[str, Any]) -> Camera:
        try:
            radial = [*list(d.get("radial_distortion", [0.0, 0.0, 0.0])), 0.0, 0.0, 0.0][:3]
            tangential = [*list(d.get("tangential_distortion", [0.0, 0.0])), 0.0, 0.0][:2]
            f = _f(d["focal_length"])
            return cls(
                width=int(d["image_size"][0]), height=int(d["image_size"][1]),
                fx=f, fy=f * _f(d.get("pixel_aspect_ratio", 1.0)),
                cx=_f(d["principal_point"][0]), cy=_f(d["principal_point"][1]),
                skew=_f(d.get("skew", 0.0)),
                k1=radial[0], k2=radial[1], k3=radial[2], p1=tangential[0], p2=tangential[1],
                rotation=np.asarray(d["orientation"], dtype=np.float64),
                position=np.asarray(d["position"], dtype=np.float64),
            )
        except KeyError as exc:
            raise NerfieError(f"Camera JSON is missing the key {exc.args[0]!r}.") from None

    # Our own on-disk camera format *is* the Nerfies one: readable by their tools.
    to_json = to_nerfies_json
    from_json = from_nerfies_json


# --------------------------------------------------------------------------------------------


@dataclass
class CameraBatch:
    """Many cameras as tensors, for per-ray indexing: ``intrinsics`` [B, 10] (layout INTRINSICS),
    ``rotation`` [B, 3, 3] world→camera, ``position`` [B, 3]."""

    intrinsics: torch.Tensor
    rotation: torch.Tensor
    position: torch.Tensor

    @classmethod
    def stack(cls, cameras: list[Camera], device: torch.device | str | None = None,
              dtype: torch.dtype = torch.float32) -> CameraBatch:
        return cls(
            intrinsics=torch.tensor(np.stack([c.intrinsics for c in cameras]), device=device, dtype=dtype),
            rotation=torch.tensor(np.stack([c.rotation for c in cameras]), device=device, dtype=dtype),
            position=torch.tensor(np.stack([c.position for c in cameras]), device=device, dtype=dtype),
        )

    def __len__(self) -> int:
        return self.intrinsics.shape[0]

    def rays(self, index: torch.Tensor, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Origins and unit directions [N, 3] for camera ``index`` [N] and pixels [N, 2]."""
        local = pixels_to_local_dirs(pixels, self.intrinsics[index])
        dirs = torch.einsum("nij,ni->nj", self.rotation[index], local)  # R^T d
        dirs = dirs / torch.linalg.vector_norm(dirs, dim=-1, keepdim=True)
        return self.position[index], dirs

    def project(self, index: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixels [N, 2] and z-depth [N] of world points [N, 3] in cameras ``index`` [N]."""
        local = torch.einsum("nij,nj->ni", self.rotation[index], points - self.position[index])
        return project_local(local, self.intrinsics[index]), local[..., 2]


# --------------------------------------------------------------------------------------------
# whole transforms.json files


def transforms_dict(cameras: list[Camera], file_paths: list[str], **extra: Any) -> dict[str, Any]:
    """A nerfstudio-style ``transforms.json``: shared intrinsics at the top when all frames agree."""
    if len(cameras) != len(file_paths):
        raise ValueError("one file path per camera")
    frames = [{"file_path": p, **c.to_transforms_frame()} for c, p in zip(cameras, file_paths, strict=True)]
    out: dict[str, Any] = {"camera_model": "OPENCV"}
    intrinsic_keys = ("fl_x", "fl_y", "cx", "cy", "w", "h", "k1", "k2", "k3", "p1", "p2")
    if frames and all(all(f[k] == frames[0][k] for k in intrinsic_keys) for f in frames):
        out.update({k: frames[0][k] for k in intrinsic_keys})
        frames = [{k: v for k, v in f.items() if k not in intrinsic_keys} for f in frames]
    out.update(extra)
    out["frames"] = frames
    return out


def cameras_from_transforms(data: dict[str, Any]) -> list[tuple[Camera, str]]:
    """Every (camera, file_path) in a ``transforms.json`` dictionary (nerfstudio or instant-ngp)."""
    top = {k: v for k, v in data.items() if k != "frames"}
    return [(Camera.from_transforms_frame(f, top), str(f.get("file_path", ""))) for f in data.get("frames", [])]
