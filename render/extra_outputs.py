"""What a render computes besides colour, written beside the RGB video: depth and a subject cut-out.

For a video ``renders/turntable.mp4``:

* ``depth``: ``turntable.depth.mp4`` (a colour map, near = warm, one range for the whole video so
  colours mean the same depth in every frame) and ``turntable.depth/frame_00000.png`` — 16-bit PNGs of
  the distance along each pixel's ray in the project's ``transforms.json`` units, ``value × unit``,
  with ``unit`` in ``turntable.depth/depth.json``.
* ``cutout``: ``turntable.cutout/frame_00000.png`` — RGBA, the subject opaque and everything else
  transparent — and ``turntable.cutout.mp4`` with the subject on white or black (H.264 has no alpha),
  or ``turntable.cutout.webm`` (VP9 with an alpha channel: browsers, Blender, DaVinci Resolve and
  After Effects read it) for a transparent background.
  The subject is what lies within a ball around the subject estimate (``recon.sfm.subject``) that
  reaches halfway to the static background (:func:`cutout_radius`), times the render's opacity: a
  selfie's room falls away and the person — head, neck and shoulders — stays.
* ``compare``: ``turntable.compare.mp4`` — the input frame of the same moment (left) beside the render
  (right), each at the render's size: with ``--path input`` it shows how the Nerfie holds up a little
  off the filmed view, frame by frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import imageio.v3 as iio
import numpy as np
import torch

from nerfie.recon.camera import Camera
from nerfie.recon.errors import NerfieError
from nerfie.recon.fileio import atomic_path, write_json_atomic

OUTPUTS = ("depth", "cutout", "compare")
BACKGROUNDS = ("white", "black", "transparent")
DEPTH_LEVELS = 65535
MIN_CUTOUT = 1.25  # × the subject (head) radius: the smallest ball that counts as the subject


def cutout_radius(focus: np.ndarray, subject_radius: float, background: np.ndarray) -> float:
    """Radius of the ball around ``focus`` whose content is the subject (all in one frame).

    The subject estimate's own radius covers the head; the person goes on below it. Halfway to the
    static background (the median background point) takes in the shoulders and leaves the room.
    """
    bg = np.asarray(background, dtype=np.float64).reshape(-1, 3)
    if not len(bg):
        return 3.0 * subject_radius
    return max(MIN_CUTOUT * subject_radius, 0.5 * float(np.median(np.linalg.norm(bg - focus, axis=1))))


def h264_writer(path: Path, size: tuple[int, int], fps: int) -> Any:
    """An imageio-ffmpeg H.264 (yuv420p, CRF 18) writer for ``path``, primed to take RGB frames."""
    import imageio_ffmpeg

    writer = imageio_ffmpeg.write_frames(str(path), size, fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                         quality=None, bitrate=None, ffmpeg_log_level="error",
                                         output_params=["-crf", "18"], macro_block_size=2)
    writer.send(None)
    return writer


def vp9_alpha_writer(path: Path, size: tuple[int, int], fps: int) -> Any:
    """An imageio-ffmpeg VP9 (WebM, yuva420p: colour and alpha) writer for ``path``, taking RGBA frames."""
    import imageio_ffmpeg

    writer = imageio_ffmpeg.write_frames(str(path), size, fps=fps, codec="libvpx-vp9", pix_fmt_in="rgba",
                                         pix_fmt_out="yuva420p", quality=None, bitrate=None,
                                         ffmpeg_log_level="error", output_params=["-crf", "24", "-b:v", "0"],
                                         macro_block_size=2)
    writer.send(None)
    return writer


def movie_path(video: Path, kind: str, background: str = "white") -> Path:
    """Where the ``kind`` movie of ``video`` goes (a WebM for a transparent cut-out, else an MP4)."""
    suffix = ".webm" if kind == "cutout" and background == "transparent" else ".mp4"
    return video.with_name(f"{video.stem}.{kind}{suffix}")


@dataclass
class ExtraOutputs:
    """Writers for the requested extra outputs of one video; ``add`` each rendered frame, then ``close``."""

    video: Path
    outputs: tuple[str, ...]
    size: tuple[int, int]
    fps: int
    scale: float  # normalised frame → data units: divide distances by this
    focus: np.ndarray  # subject centre, normalised frame
    subject_radius: float  # the cut-out ball's radius, normalised frame (:func:`cutout_radius`)
    background: str = "white"
    input_frame: Callable[[float], np.ndarray] | None = None  # compare: the input picture at a frame index
    _depth_range: tuple[float, float] | None = None
    _unit: float = 0.0
    _writers: dict[str, Any] = field(default_factory=dict)
    _tmp: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        unknown = [o for o in self.outputs if o not in OUTPUTS]
        if unknown:
            raise NerfieError(f"Unknown render output {unknown[0]!r}.", f"Use any of: {', '.join(OUTPUTS)}.")
        if self.background not in BACKGROUNDS:
            raise NerfieError(f"Unknown cut-out background {self.background!r}.",
                              f"Use one of: {', '.join(BACKGROUNDS)}.")
        if "cutout" in self.outputs and not self.subject_radius > 0:
            raise NerfieError("This project has no subject estimate, so there is nothing to cut out.",
                              "Process the video again (the subject is found during `nerfie process`).")
        if "compare" in self.outputs and self.input_frame is None:
            raise NerfieError("There are no input frames to compare with.", "Render without the comparison.")

    def folder(self, kind: str) -> Path:
        return self.video.with_name(f"{self.video.stem}.{kind}")

    def movie(self, kind: str) -> Path:
        return movie_path(self.video, kind, self.background)

    def _writer(self, kind: str, size: tuple[int, int] | None = None) -> Any:
        if kind not in self._writers:
            ctx = atomic_path(self.movie(kind))
            tmp = ctx.__enter__()
            self._tmp.append((kind, ctx))
            alpha = kind == "cutout" and self.background == "transparent"
            self._writers[kind] = (vp9_alpha_writer if alpha else h264_writer)(tmp, size or self.size, self.fps)
        return self._writers[kind]

    def add(self, index: int, camera: Camera, out: dict[str, torch.Tensor], rgb: np.ndarray,
            time: float = 0.0) -> None:
        if "depth" in self.outputs:
            self._add_depth(index, out["depth"].double().cpu().numpy() / self.scale)
        if "cutout" in self.outputs:
            self._add_cutout(index, camera, out, rgb)
        if "compare" in self.outputs and self.input_frame is not None:
            w, h = self.size
            shot = cv2.resize(self.input_frame(time), (w, h), interpolation=cv2.INTER_AREA)
            self._writer("compare", (2 * w, h)).send(np.ascontiguousarray(np.hstack([shot, rgb])))

    def _add_depth(self, index: int, depth: np.ndarray) -> None:
        if self._depth_range is None:  # one range for the whole video, from its first frame
            lo, hi = np.percentile(depth, [1, 99])
            self._depth_range = (float(lo), float(max(hi, lo * 1.001 + 1e-9)))
            self._unit = float(depth.max()) * 2 / DEPTH_LEVELS  # headroom for later frames seeing farther
            write_json_atomic(self.folder("depth") / "depth.json", {
                "unit": self._unit, "meaning": "distance along the pixel's ray = PNG value × unit, in the "
                "units of the project's transforms.json (0: farther than the range)"})
        levels = np.round(depth / self._unit)
        png = np.where(levels > DEPTH_LEVELS, 0, levels).astype(np.uint16)
        with atomic_path(self.folder("depth") / f"frame_{index:05d}.png") as p:
            cv2.imwrite(str(p), png)
        lo, hi = self._depth_range
        near_warm = np.clip((hi - depth) / (hi - lo), 0, 1)
        colour = cv2.applyColorMap((near_warm * 255).astype(np.uint8), cv2.COLORMAP_TURBO)[..., ::-1]
        self._writer("depth").send(np.ascontiguousarray(colour))

    def _add_cutout(self, index: int, camera: Camera, out: dict[str, torch.Tensor], rgb: np.ndarray) -> None:
        px = camera.pixel_centers(dtype=torch.float64)
        points = camera.unproject(px, out["depth"].double().cpu())
        inside = np.linalg.norm(points.numpy() - self.focus, axis=-1) <= self.subject_radius
        alpha = np.where(inside, out["acc"].clamp(0, 1).cpu().numpy(), 0.0)
        a8 = (alpha * 255 + 0.5).astype(np.uint8)
        with atomic_path(self.folder("cutout") / f"frame_{index:05d}.png") as p:
            iio.imwrite(p, np.dstack([rgb, a8]), extension=".png")
        if self.background == "transparent":
            self._writer("cutout").send(np.ascontiguousarray(np.dstack([rgb, a8])))
            return
        bg = 255.0 if self.background == "white" else 0.0
        over = (rgb * alpha[..., None] + bg * (1 - alpha[..., None]) + 0.5).astype(np.uint8)
        self._writer("cutout").send(np.ascontiguousarray(over))

    def close(self, ok: bool) -> None:
        """Finish the movies (``ok``) or drop them (an error or cancel: no half video is left)."""
        for writer in self._writers.values():
            writer.close()
        for _kind, ctx in self._tmp:
            if ok:
                ctx.__exit__(None, None, None)
            else:
                ctx.__exit__(RuntimeError, RuntimeError("cancelled"), None)
        self._writers.clear()
        self._tmp.clear()
