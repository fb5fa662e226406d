"""Interactive viewer camera: orbit / pan / zoom around the subject, and the resolution policy.

The GUI turns mouse motion into calls on :class:`OrbitCamera` and asks it for a :class:`Camera`
to render; all the geometry lives here so the Qt code holds none and the behaviour is testable
without a window.

Conventions (what users of instant-ngp, nerfstudio and Blender expect):

* left-drag orbits and the subject turns with the mouse, as if grabbed: drag right and its near
  side moves right; drag up and it tilts up (the camera goes lower). Elevation stops 5° short of
  the poles so the image never flips;
* right/middle-drag pans: the point under the cursor follows the cursor;
* the wheel zooms towards the focus point (one notch = 10 %), clamped to a sane range;
* reset returns to the home view (the mean input camera).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nerfie.recon.camera import Camera

ORBIT_DEGREES_PER_PIXEL = 0.3
ZOOM_PER_NOTCH = 0.9
MAX_ELEVATION = math.radians(85.0)
MIN_SIDE = 48  # never render below this: smaller is unreadable, however fast


@dataclass
class OrbitCamera:
    """A look-at camera on a sphere around ``focus``; angles are radians."""

    focus: np.ndarray
    up: np.ndarray
    east: np.ndarray  # unit vector ⟂ up: azimuth 0 points from the focus along it
    distance: float
    azimuth: float = 0.0
    elevation: float = 0.0
    fov_y_degrees: float = 40.0
    min_distance: float = 0.05
    max_distance: float = 20.0

    def __post_init__(self) -> None:
        self.focus = np.asarray(self.focus, dtype=np.float64).copy()
        self.up = np.asarray(self.up, dtype=np.float64) / np.linalg.norm(self.up)
        self.east = np.asarray(self.east, dtype=np.float64) / np.linalg.norm(self.east)
        self._home = (self.focus.copy(), self.distance, self.azimuth, self.elevation)

    @classmethod
    def from_camera(cls, cam: Camera, focus: np.ndarray, up: np.ndarray) -> OrbitCamera:
        """The orbit camera that reproduces ``cam``'s position (looking at ``focus``) and field of view."""
        up = np.asarray(up, dtype=np.float64) / np.linalg.norm(up)
        rel = cam.position - np.asarray(focus, dtype=np.float64)
        dist = float(np.linalg.norm(rel))
        height = float(rel @ up)
        flat = rel - height * up
        if np.linalg.norm(flat) < 1e-9 * max(dist, 1e-9):  # looking straight down: any east will do
            flat = np.cross(up, [1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.cross(up, [0.0, 1.0, 0.0])
        east = flat / np.linalg.norm(flat)
        elevation = math.asin(max(-1.0, min(1.0, height / max(dist, 1e-12))))
        return cls(focus=focus, up=up, east=east, distance=dist, azimuth=0.0,
                   elevation=max(-MAX_ELEVATION, min(MAX_ELEVATION, elevation)), fov_y_degrees=cam.fov_y_degrees,
                   min_distance=0.05 * dist, max_distance=10.0 * dist)

    # ---- derived geometry -------------------------------------------------------------------

    @property
    def north(self) -> np.ndarray:
        return np.cross(self.up, self.east)

    @property
    def position(self) -> np.ndarray:
        ce, se = math.cos(self.elevation), math.sin(self.elevation)
        horizontal = math.cos(self.azimuth) * self.east + math.sin(self.azimuth) * self.north
        return self.focus + self.distance * (ce * horizontal + se * self.up)

    def camera(self, width: int, height: int) -> Camera:
        """The pinhole camera for a ``width`` × ``height`` viewport."""
        fy = 0.5 * height / math.tan(math.radians(self.fov_y_degrees) / 2)
        return Camera.look_at(self.position, self.focus, self.up, width, height, fx=fy, fy=fy)

    # ---- mouse gestures ---------------------------------------------------------------------

    def orbit(self, dx_pixels: float, dy_pixels: float) -> None:
        """Left-drag by (dx, dy) screen pixels (y grows downwards, as Qt reports it); 0.3° per pixel."""
        step = math.radians(ORBIT_DEGREES_PER_PIXEL)
        self.azimuth -= dx_pixels * step
        self.elevation = max(-MAX_ELEVATION, min(MAX_ELEVATION, self.elevation + dy_pixels * step))

    def pan(self, dx_pixels: float, dy_pixels: float, viewport_height: int) -> None:
        """Right/middle-drag: slide the focus so the point at the focus depth follows the cursor."""
        cam = self.camera(max(viewport_height, 1), max(viewport_height, 1))
        metres_per_pixel = self.distance / cam.fy
        right, down = cam.rotation[0], cam.rotation[1]
        self.focus = self.focus - metres_per_pixel * (dx_pixels * right + dy_pixels * down)

    def zoom(self, notches: float) -> None:
        """Wheel: positive notches (wheel forwards) move closer."""
        self.distance = float(np.clip(self.distance * ZOOM_PER_NOTCH ** notches, self.min_distance,
                                      self.max_distance))

    def reset(self) -> None:
        focus, self.distance, self.azimuth, self.elevation = self._home
        self.focus = focus.copy()

    def snap_to(self, cam: Camera) -> None:
        """Move onto an input camera's position (its look-at approximation around the current focus)."""
        other = OrbitCamera.from_camera(cam, self.focus, self.up)
        rel = other.position - self.focus
        flat = rel - (rel @ self.up) * self.up
        self.distance = other.distance
        self.elevation = other.elevation
        self.azimuth = math.atan2(float(flat @ self.north), float(flat @ self.east))
        self.fov_y_degrees = cam.fov_y_degrees


def view_size(aspect: float, long_side: int) -> tuple[int, int]:
    """(width, height) with the viewport's aspect ratio and the given long side, never below ``MIN_SIDE``."""
    long_side = max(int(long_side), MIN_SIDE)
    if aspect >= 1:
        return long_side, max(MIN_SIDE, round(long_side / aspect))
    return max(MIN_SIDE, round(long_side * aspect)), long_side


def moving_side(rays_per_second: float, aspect: float, preferred: int, still: int,
                target_fps: float = 5.0) -> int:
    """Long side to render at while the camera moves: ``preferred``, lowered until a frame fits
    1/``target_fps`` at the measured ray rate (as instant-ngp's dynamic resolution does), never
    below ``MIN_SIDE`` nor above the still resolution. Before any measurement: ``preferred``."""
    side = min(preferred, still)
    if rays_per_second <= 0:
        return max(side, MIN_SIDE)
    budget_pixels = rays_per_second / target_fps
    fit = math.sqrt(budget_pixels * max(aspect, 1 / aspect))  # long side whose image has budget_pixels
    return int(max(MIN_SIDE, min(side, fit)))


def home_view(cameras: list[Camera], focus: np.ndarray, up: np.ndarray) -> OrbitCamera:
    """The viewer's starting (and reset) view: from the mean input camera position, at its field of view."""
    mean = np.mean([c.position for c in cameras], axis=0)
    return OrbitCamera.from_camera(cameras[0].copy(position=mean), focus, up)
