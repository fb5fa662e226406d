"""Render a camera path of a trained scene to an MP4 (H.264, yuv420p), PNG frames and a
nerfstudio-compatible camera-path JSON — chunked, with progress and cancel, on CPU or GPU."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from nerfie.recon.camera import Camera
from nerfie.recon.errors import NerfieError
from nerfie.recon.events import Cancelled, EventSink, Log, Progress, StageDone, ignore
from nerfie.recon.fileio import atomic_path, read_json, write_json_atomic
from nerfie.recon.project import Project
from nerfie.recon.quality import path_check
from nerfie.render.dataparser import DataparserTransform
from nerfie.render.extra_outputs import ExtraOutputs, cutout_radius, h264_writer
from nerfie.render.keyframes import Keyframe, keyframe_path
from nerfie.render.paths import PathFrame, frame_times, intrinsics_for, make_path
from nerfie.render.scene import TrainedScene


@dataclass
class RenderSpec:
    path: str = "orbit-mild"
    seconds: float = 6.0
    fps: int = 30
    long_side: int = 512
    time_mode: str = "play"
    frozen_frame: int = 0
    arc_degrees: float = 360.0
    fast_samples: bool = False  # the viewer's reduced sample budget (TrainedScene.reduced_samples)
    keyframes: list[Keyframe] | None = None  # for path="keyframes" (normalised frame)
    # A camera-path file carries its own render size; only an explicit choice (``--long-side``) rescales it.
    resize_camera_path: bool = False
    outputs: tuple[str, ...] = ()  # beside RGB: "depth", "cutout" (render.extra_outputs)
    cutout_background: str = "white"  # the cut-out video's background (its PNGs are transparent)
    # nerfstudio's training frame (render.dataparser): camera paths are read from and written in it, so a
    # path drawn in nerfstudio's viewer lands where it was drawn and ours render in ns-render as here.
    dataparser: DataparserTransform | None = None

    @property
    def frames(self) -> int:
        return max(1, round(self.seconds * self.fps))


def plan(scene: TrainedScene, spec: RenderSpec) -> list[PathFrame]:
    n = spec.frames
    times = frame_times(n, scene.num_frames, spec.time_mode, spec.frozen_frame)
    if spec.path == "keyframes":
        if not spec.keyframes:
            raise NerfieError("The keyframes path needs keyframes.",
                              "Pass --keyframes FILE, or add keyframes in the viewer first.")
        ref = spec.keyframes[0].camera
        intr = intrinsics_for(ref, spec.long_side)
        cams, key_times = keyframe_path(spec.keyframes, n, int(intr["width"]), int(intr["height"]))
        if key_times is not None:
            last = max(scene.num_frames - 1, 0)
            times = [min(max(t, 0.0), float(last)) for t in key_times]
    else:
        cams = make_path(spec.path, scene.cameras, scene.focus, scene.up, n, spec.long_side, spec.arc_degrees)
    return [PathFrame(c, t) for c, t in zip(cams, times, strict=True)]


def keyframes_json(scene: TrainedScene, keys: list[Keyframe]) -> list[dict]:
    """Keyframes as camera-path-style entries in data coordinates (what :func:`keyframes_from_json` reads)."""
    out = []
    for k in keys:
        c = scene.to_data(k.camera)
        entry = {"camera_to_world": c.transform_matrix().reshape(-1).tolist(), "fov": c.fov_y_degrees,
                 "aspect": c.width / c.height}
        if k.time is not None:
            entry["time"] = float(k.time)
        out.append(entry)
    return out


def keyframes_from_json(scene: TrainedScene, data: dict | list) -> list[Keyframe]:
    """Keyframes from ``{"keyframes": [...]}``, a bare list, or a camera path we exported
    (``{"nerfie": {"keyframes": [...]}}``); each entry needs ``camera_to_world`` (4×4, row-major,
    OpenGL axes, data coordinates), and may give ``fov`` (vertical degrees), ``aspect`` and ``time``
    (fractional frame index) or ``render_time`` (0–1 over the capture)."""
    entries = data
    if isinstance(data, dict):
        entries = data.get("keyframes", (data.get("nerfie") or {}).get("keyframes"))
    if not isinstance(entries, list) or not entries:
        raise NerfieError("This file has no keyframes.",
                          'Give a JSON file with a "keyframes" list of {"camera_to_world": [16 numbers], "fov": …}.')
    last = max(scene.num_frames - 1, 1)
    keys = []
    for i, e in enumerate(entries):
        try:
            m = np.asarray(e["camera_to_world"], dtype=np.float64).reshape(4, 4)
            fov = float(e.get("fov", 50.0))
            aspect = float(e.get("aspect", 1.0))
        except (KeyError, TypeError, ValueError) as exc:
            raise NerfieError(f"Keyframe {i} has no valid camera_to_world (a 4×4 matrix, 16 numbers).",
                              "Fix that entry of the keyframes file.") from exc
        if not 0 < fov < 180 or aspect <= 0:
            raise NerfieError(f"Keyframe {i} has an impossible fov ({fov}°) or aspect ({aspect}).")
        cam = _entry_camera(scene, m, fov, max(2, round(512 * aspect)), 512)  # size is re-chosen at render time
        time = e.get("time")
        if time is None and "render_time" in e:
            time = float(e["render_time"]) * last
        keys.append(Keyframe(cam, None if time is None else float(time)))
    return keys


def camera_path_json(scene: TrainedScene, frames: list[PathFrame], spec: RenderSpec) -> dict:
    """nerfstudio's camera-path format (``camera_to_world`` row-major 4×4, OpenGL axes; ``fov`` vertical
    in degrees; ``render_time`` in [0, 1]), plus our own ``nerfie`` block. Cameras are in the data's
    coordinates, or in nerfstudio's training frame when ``spec.dataparser`` is given (then recorded, so
    that reading the file back needs nothing else)."""
    cam0 = frames[0].camera
    last = max(scene.num_frames - 1, 1)
    frame = spec.dataparser or DataparserTransform()
    entries = []
    for f in frames:
        c = scene.to_data(f.camera)
        c2w = frame.to_nerfstudio(c.transform_matrix())
        entries.append({"camera_to_world": c2w.reshape(-1).tolist(), "fov": c.fov_y_degrees,
                        "aspect": c.width / c.height, "render_time": f.time / last})
    return {
        "camera_type": "perspective", "render_height": cam0.height, "render_width": cam0.width,
        "fps": spec.fps, "seconds": spec.seconds, "camera_path": entries,
        "nerfie": {"path": spec.path, "time_mode": spec.time_mode, "frozen_frame": spec.frozen_frame,
                   "arc_degrees": spec.arc_degrees,
                   **({"dataparser_transform": frame.to_json()} if not frame.is_identity else {}),
                   **({"keyframes": keyframes_json(scene, spec.keyframes)} if spec.keyframes else {})},
    }


def _entry_camera(scene: TrainedScene, c2w: np.ndarray, fov_degrees: float, w: int, h: int) -> Camera:
    """A camera-path entry (camera_to_world in OpenGL axes, data coordinates; vertical fov) as a
    normalised-frame camera of ``w``×``h`` pixels — shared by camera paths and keyframes."""
    fy = 0.5 * h / math.tan(math.radians(fov_degrees) / 2)
    frame = {"transform_matrix": c2w.tolist(), "fl_x": fy, "fl_y": fy, "w": w, "h": h}
    return scene.from_data(Camera.from_transforms_frame(frame))


def frames_from_camera_path(scene: TrainedScene, data: dict, long_side: int | None = None,
                            dataparser: DataparserTransform | None = None) -> list[PathFrame]:
    """Read a camera path written by us or by nerfstudio's viewer. Its cameras are in nerfstudio's
    training frame ``dataparser`` when given, else in the frame the file records (ours), else in the
    data's own coordinates."""
    try:
        w, h = int(data["render_width"]), int(data["render_height"])
        entries = data["camera_path"]
    except (KeyError, TypeError, ValueError) as exc:
        raise NerfieError("This camera-path file has no render size or camera_path list.",
                          "Use a file written by `nerfie render` or nerfstudio's viewer.") from exc
    kind = data.get("camera_type", "perspective")
    if kind != "perspective":
        raise NerfieError(f"This camera path is for a {kind} camera; Nerfie renders perspective ones.",
                          "Set the camera type to perspective in nerfstudio's render panel and save it again.")
    recorded = (data.get("nerfie") or {}).get("dataparser_transform")
    frame = dataparser or (DataparserTransform.from_json(recorded, "the camera path's dataparser_transform")
                           if recorded else DataparserTransform())
    if long_side:
        s = long_side / max(w, h)
        w, h = max(2, round(w * s / 2) * 2), max(2, round(h * s / 2) * 2)
    out = []
    last = max(scene.num_frames - 1, 1)
    for e in entries:
        c2w = frame.from_nerfstudio(np.asarray(e["camera_to_world"], dtype=np.float64).reshape(4, 4))
        cam = _entry_camera(scene, c2w, float(e.get("fov", 50.0)), w, h)
        out.append(PathFrame(cam, float(e.get("render_time", 0.0)) * last))
    if not out:
        raise NerfieError("The camera path is empty.")
    return out


def to_uint8(rgb) -> np.ndarray:
    return (rgb.clamp(0, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)


def input_frames(scene: TrainedScene) -> Callable[[float], np.ndarray]:
    """The input picture (RGB, uint8) of the frame nearest a fractional frame index."""
    ds = scene.dataset
    by_time = sorted(zip(ds.time_ids, ds.names, strict=True))
    ids = np.array([t for t, _ in by_time])

    def picture(time: float) -> np.ndarray:
        _, name = by_time[int(np.argmin(np.abs(ids - time)))]
        img = iio.imread(ds.root / ds.frames_dir / name)
        return np.ascontiguousarray(img[..., :3]) if img.ndim == 3 else np.dstack([img] * 3)

    return picture


def render_video(scene: TrainedScene, frames: list[PathFrame], out: Path, fps: int, png_dir: Path | None = None,
                 on_event: EventSink = ignore, cancelled: Callable[[], bool] = lambda: False,
                 samples: tuple[int, int] | None = None, outputs: tuple[str, ...] = (),
                 cutout_background: str = "white") -> Path:
    """Render every frame and encode ``out`` (MP4), and the ``outputs`` beside it; writes the videos
    only when complete."""
    w, h = frames[0].camera.width, frames[0].camera.height
    extra = None
    if outputs:
        ds = scene.dataset
        radius = cutout_radius(scene.focus, scene.subject_radius, (ds.background - ds.center) * ds.scale)
        extra = ExtraOutputs(out, outputs, (w, h), fps, ds.scale, scene.focus, radius, cutout_background,
                             input_frame=input_frames(scene))
    chunk = scene.project.config.render.chunk_rays
    t0 = time.perf_counter()
    with atomic_path(out) as tmp:
        writer = h264_writer(tmp, (w, h), fps)
        try:
            for k, f in enumerate(frames):
                if cancelled():
                    raise Cancelled()
                rendered = scene.render(f.camera, f.time, chunk=chunk, samples=samples)
                img = to_uint8(rendered["rgb"])
                writer.send(np.ascontiguousarray(img))
                if extra is not None:
                    extra.add(k, f.camera, rendered, img, f.time)
                if png_dir is not None:
                    with atomic_path(png_dir / f"frame_{k:05d}.png") as p:
                        iio.imwrite(p, img, extension=".png")
                el = time.perf_counter() - t0
                on_event(Progress("render", k + 1, len(frames), f"ETA {el / (k + 1) * (len(frames) - k - 1):.0f} s"))
        except BaseException:
            if extra is not None:
                extra.close(ok=False)
            raise
        finally:
            writer.close()
        if extra is not None:
            extra.close(ok=True)
    on_event(StageDone("render", str(out)))
    return out


def export(scene: TrainedScene, spec: RenderSpec, out: Path, camera_path: Path | None = None, png: bool = False,
           on_event: EventSink = ignore, cancelled: Callable[[], bool] = lambda: False) -> Path:
    """Plan (or read) the path, write its camera-path JSON beside the video, render the video."""
    if camera_path is not None:
        data = read_json(camera_path)
        if spec.dataparser is None and "keyframes" in data and "nerfie" not in data:
            on_event(Log("render", "this camera path looks like one from nerfstudio's viewer: its cameras are in "
                                   "nerfstudio's training frame; give that run's dataparser_transforms.json "
                                   "(--dataparser-transforms) so it lands where it was drawn", "warning"))
        frames = frames_from_camera_path(scene, data, spec.long_side if spec.resize_camera_path else None,
                                         spec.dataparser)
    else:
        frames = plan(scene, spec)
        write_json_atomic(out.with_suffix(".camera_path.json"), camera_path_json(scene, frames, spec))
    problems = check_path(scene, frames)
    for p in problems:
        on_event(Log("render", f"path check: {p} — this path does not look at the subject", "warning"))
    png_dir = out.with_suffix("") if png else None
    samples = scene.reduced_samples() if spec.fast_samples else None
    written = render_video(scene, frames, out, spec.fps, png_dir, on_event, cancelled, samples, spec.outputs,
                           spec.cutout_background)
    # Record it (re-read first: the scene's Project object may be older than project.json).
    proj = Project.load(scene.project.root)
    try:
        video = proj.relative(written)
    except ValueError:  # written outside the project folder
        video = str(written)
    proj.set_stage("render", "done", video=video, frames=len(frames), fps=spec.fps, path=spec.path,
                   time_mode=spec.time_mode, path_check=problems)
    return written


def check_path(scene: TrainedScene, frames: list[PathFrame]) -> list[str]:
    """Every camera of the path must see the subject estimate in front of it, near the middle of the
    picture (``recon.quality.path_check``); the problems found, none when it passes."""
    return path_check([f.camera for f in frames], scene.focus)


def estimate_seconds(spec: RenderSpec, aspect: float, rays_per_second: float) -> float:
    """Rough render time of ``spec``: pixels to render over a measured ray rate (the viewer's own)."""
    w, h = (spec.long_side, spec.long_side / aspect) if aspect >= 1 else (spec.long_side * aspect, spec.long_side)
    return spec.frames * w * h / max(rays_per_second, 1.0)
