"""Synthetic ground-truth "selfie" captures: video, frames, cameras, depth, motion, held-out views.

One generator serves the tests, the benchmarks and the bundled sample clip. Everything is
deterministic for a given :class:`SynthSpec` (seed included).

Variants:

* ``dynamic`` — handheld camera sweep and a subject that turns, nods and talks (the normal case);
* ``static`` — the same camera path, subject frozen (a rigid scene);
* ``still-camera`` — the camera never moves (a negative case: no parallax, SfM must refuse);
* ``pan`` — the camera mostly turns and travels little (a small baseline, its axes meet behind it;
  the subject holds still as in ``dynamic``): the subject must still be found in front;
* ``drift`` — the person moves along with the camera, further than it travels (the rays through
  the head meet behind the cameras: no static subject fits; a negative case the pose check refuses).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np
import torch

from nerfie.recon.camera import Camera, transforms_dict
from nerfie.recon.errors import NerfieError
from nerfie.recon.events import EventSink, Log, Progress, StageDone, ignore
from nerfie.recon.fileio import atomic_path, write_json_atomic
from nerfie.recon.synth.scene import HEAD_CENTER, Motion, SelfieScene

VARIANTS = ("dynamic", "static", "still-camera", "pan", "drift")
DRIFT_GAIN = 1.5  # drift: the head moves this many times the camera's sideways travel, the same way
PAN_TRAVEL = 0.065  # pan: the camera travels ±6.5 cm sideways (metres; ~3.5° of parallax on the room) …
PAN_TURN_DEG = 4.5  # … while it turns ±4.5° towards that side (a look-at orbit would turn ±7° the other way)
UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class SynthSpec:
    """What to generate. Sizes in pixels; ``supersample`` = rays per pixel side for anti-aliasing."""

    frames: int = 150
    width: int = 256
    height: int = 256
    variant: str = "dynamic"
    seed: int = 0
    fps: float = 15.0
    fov_y_deg: float = 55.0
    distortion_k1: float = 0.0
    supersample: int = 1
    heldout: int = 8
    distance: float = 0.55
    yaw_amplitude_deg: float = 35.0

    def validate(self) -> None:
        if self.frames < 1:
            raise NerfieError(f"frames must be at least 1, got {self.frames}.")
        if self.width < 16 or self.height < 16 or self.width > 8192 or self.height > 8192:
            raise NerfieError(f"size must be between 16 and 8192 pixels a side, got {self.width}x{self.height}.")
        if self.variant not in VARIANTS:
            raise NerfieError(f"unknown variant {self.variant!r}; choose one of {', '.join(VARIANTS)}.")
        if self.supersample < 1 or self.supersample > 4:
            raise NerfieError("supersample must be 1..4.")
        if self.fps <= 0:
            raise NerfieError("fps must be positive.")
        if self.heldout < 0:
            raise NerfieError("heldout must be >= 0.")


def parse_size(text: str) -> tuple[int, int]:
    """'256x192' → (256, 192), with a one-line error for anything else."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise NerfieError(f"bad size {text!r}: write it as WIDTHxHEIGHT, e.g. 256x256.")
    w, h = int(parts[0]), int(parts[1])
    if w <= 0 or h <= 0:
        raise NerfieError(f"bad size {text!r}: width and height must be positive.")
    return w, h


# --------------------------------------------------------------------------------------------
# schedules


def frame_time(i: int, n: int) -> float:
    """Normalised time in [0, 1] of frame ``i`` of ``n``."""
    return 0.0 if n <= 1 else i / (n - 1)


def motion_at(spec: SynthSpec, tau: float) -> Motion:
    """The subject's pose at time ``tau``: turns a few degrees, nods, opens and closes the jaw
    (``drift``: and the whole person follows the camera sideways)."""
    if spec.variant == "static":
        return Motion()
    offset = (0.0, 0.0, 0.0)
    if spec.variant == "drift":
        offset = (DRIFT_GAIN * _drift_travel(spec, tau), 0.0, 0.0)
    return Motion(
        head_yaw=9.0 * math.sin(2 * math.pi * 1.5 * tau),
        head_pitch=5.0 * math.sin(2 * math.pi * 2.0 * tau + 0.7),
        jaw_open=11.0 * (0.5 - 0.5 * math.cos(2 * math.pi * 3.0 * tau)),
        offset=offset,
    )


DRIFT_YAW_DEG = 12.0  # drift: the camera's arc (a gentle one, so the person stays in the room)


def _drift_travel(spec: SynthSpec, tau: float) -> float:
    """Sideways (x) position of the drift variant's camera at ``tau`` relative to the arc's middle."""
    return spec.distance * math.sin(math.radians(DRIFT_YAW_DEG) * math.sin(2 * math.pi * tau))


def _intrinsics(spec: SynthSpec) -> dict[str, float]:
    f = 0.5 * spec.height / math.tan(math.radians(spec.fov_y_deg) / 2)
    return {"fx": f, "fy": f, "cx": spec.width / 2, "cy": spec.height / 2, "k1": spec.distortion_k1}


def _smooth_noise(rng: np.random.Generator, n: int, dims: int, smooth: int = 6) -> np.ndarray:
    """Low-pass random walk of unit RMS per dimension (hand shake)."""
    raw = rng.standard_normal((n + 2 * smooth, dims))
    kernel = np.hanning(2 * smooth + 1)
    kernel /= kernel.sum()
    out = np.stack([np.convolve(raw[:, k], kernel, mode="valid") for k in range(dims)], axis=1)[:n]
    rms = np.sqrt((out**2).mean(0, keepdims=True)) + 1e-12
    return out / rms


def _orbit_camera(spec: SynthSpec, yaw: float, pitch: float, dist: float, target: np.ndarray,
                  roll: float = 0.0) -> Camera:
    pos = target + dist * np.array(
        [math.sin(yaw) * math.cos(pitch), -math.cos(yaw) * math.cos(pitch), math.sin(pitch)]
    )
    fwd = (target - pos) / np.linalg.norm(target - pos)
    up = UP * math.cos(roll) + np.cross(fwd, UP) * math.sin(roll)
    return Camera.look_at(pos, target, up, spec.width, spec.height, **_intrinsics(spec))


def camera_path(spec: SynthSpec) -> list[Camera]:
    """Handheld selfie path: yaw sweep ±A°, some pitch, ±10 % distance, small smoothed jitter."""
    n = spec.frames
    target0 = HEAD_CENTER + np.array([0.0, 0.0, -0.03])
    if spec.variant == "still-camera":
        cam = _orbit_camera(spec, 0.0, math.radians(4.0), spec.distance, target0)
        return [cam.copy() for _ in range(n)]
    rng = np.random.default_rng(spec.seed)
    jitter = _smooth_noise(rng, n, 6)
    if spec.variant == "pan":
        return _pan_path(spec, target0, jitter)
    cams = []
    for i in range(n):
        tau = frame_time(i, n)
        amplitude = DRIFT_YAW_DEG if spec.variant == "drift" else spec.yaw_amplitude_deg
        yaw = math.radians(amplitude) * math.sin(2 * math.pi * tau)
        pitch = math.radians(6.0 + 8.0 * math.sin(2 * math.pi * 2.0 * tau + 0.3))
        dist = spec.distance * (1 + 0.1 * math.sin(2 * math.pi * 1.5 * tau + 1.0))
        target = target0 + 0.01 * jitter[i, :3]
        cam = _orbit_camera(spec, yaw + math.radians(0.6) * jitter[i, 3], pitch + math.radians(0.6) * jitter[i, 4],
                            dist, target, roll=math.radians(1.5) * jitter[i, 5])
        if spec.variant == "drift":  # the camera keeps the drifting head in view
            cam = Camera.look_at(cam.position, target + np.array(motion_at(spec, tau).offset), UP, spec.width,
                                 spec.height, **_intrinsics(spec))
        cams.append(cam)
    return cams


def _pan_path(spec: SynthSpec, target0: np.ndarray, jitter: np.ndarray) -> list[Camera]:
    """A camera that turns ±PAN_TURN_DEG while travelling only ±PAN_TRAVEL sideways, turning towards
    the side it travels to (a phone swung on the spot): its optical axes meet behind it."""
    cams = []
    base = target0 + np.array([0.0, -spec.distance, 0.02])
    for i in range(spec.frames):
        s = math.sin(2 * math.pi * frame_time(i, spec.frames))
        pos = base + np.array([PAN_TRAVEL * s, 0.0, 0.0]) + 0.003 * jitter[i, :3]
        a = math.radians(PAN_TURN_DEG) * s + math.radians(0.6) * jitter[i, 3]
        e = math.radians(-2.0) + math.radians(0.6) * jitter[i, 4]
        fwd = np.array([math.sin(a) * math.cos(e), math.cos(a) * math.cos(e), math.sin(e)])
        roll = math.radians(1.5) * jitter[i, 5]
        up = UP * math.cos(roll) + np.cross(fwd, UP) * math.sin(roll)
        cams.append(Camera.look_at(pos, pos + fwd, up, spec.width, spec.height, **_intrinsics(spec)))
    return cams


def heldout_views(spec: SynthSpec) -> list[tuple[Camera, int]]:
    """Novel cameras (off the training path: other pitch, closer) paired with a training frame index,
    whose time they are rendered at."""
    if spec.heldout == 0:
        return []
    rng = np.random.default_rng(spec.seed + 1000)
    target = HEAD_CENTER + np.array([0.0, 0.0, -0.03])
    out = []
    for k in range(spec.heldout):
        frame = round((k + 0.5) * (spec.frames - 1) / spec.heldout)
        yaw = math.radians(rng.uniform(-0.8, 0.8) * spec.yaw_amplitude_deg)
        pitch = math.radians(rng.choice([-1.0, 1.0]) * 3.0 + 6.0)
        dist = spec.distance * rng.uniform(0.92, 1.05)
        out.append((_orbit_camera(spec, yaw, pitch, dist, target), int(frame)))
    return out


# --------------------------------------------------------------------------------------------
# rendering


def render_view(scene: SelfieScene, cam: Camera, motion: Motion, supersample: int = 1,
                chunk: int = 1 << 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RGB (uint8 [H, W, 3]), depth at pixel centres (float32 [H, W]) and subject mask (bool [H, W])."""
    s = supersample
    H, W = cam.height, cam.width
    # sub-pixel sample positions, pixel-centre sample first (for depth and mask)
    offs = [((a + 0.5) / s, (b + 0.5) / s) for b in range(s) for a in range(s)]
    rgb = torch.zeros((H * W, 3))
    centers = cam.pixel_centers(dtype=torch.float64).reshape(-1, 2)
    depth = torch.zeros(H * W)
    subject = torch.zeros(H * W, dtype=torch.bool)
    for start in range(0, H * W, chunk):
        px = centers[start:start + chunk]
        o, d = cam.pixels_to_rays(px)
        out = scene.cast(o, d, motion)
        depth[start:start + chunk] = out.depth
        subject[start:start + chunk] = out.subject
        if s == 1:
            rgb[start:start + chunk] = out.rgb
            continue
        acc = torch.zeros((px.shape[0], 3))
        for ox, oy in offs:
            sub = px - 0.5 + torch.tensor([ox, oy], dtype=px.dtype)
            o, d = cam.pixels_to_rays(sub)
            acc += scene.cast(o, d, motion).rgb
        rgb[start:start + chunk] = acc / len(offs)
    img = (rgb.reshape(H, W, 3).numpy() * 255.0 + 0.5).clip(0, 255).astype(np.uint8)
    return img, depth.reshape(H, W).numpy(), subject.reshape(H, W).numpy()


def iter_frames(spec: SynthSpec, scene: SelfieScene | None = None
                ) -> Iterator[tuple[int, Camera, Motion, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield (index, camera, motion, rgb, depth, subject mask) for every frame, in order."""
    scene = scene or SelfieScene(spec.seed)
    for i, cam in enumerate(camera_path(spec)):
        m = motion_at(spec, frame_time(i, spec.frames))
        rgb, depth, subject = render_view(scene, cam, m, spec.supersample)
        yield i, cam, m, rgb, depth, subject


# --------------------------------------------------------------------------------------------
# writing a capture


def _write_png(path: Path, img: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, img, extension=".png")


def _write_npy(path: Path, arr: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        np.save(tmp, arr, allow_pickle=False)


@dataclass
class CaptureInfo:
    out_dir: Path
    video: Path
    frames: int
    heldout: int
    seconds: float


def generate(out_dir: str | Path, spec: SynthSpec, on_event: EventSink = ignore) -> CaptureInfo:
    """Write a complete synthetic capture to ``out_dir``.

    Layout: ``video.mp4`` (H.264, yuv420p), ``frames/frame_#####.png``, ``masks/`` (white = static
    background, nerfstudio polarity), ``cameras/frame_#####.json`` (Nerfies camera JSON),
    ``transforms.json`` (nerfstudio), ``depth.npy`` [N, H, W] (distance along the unit ray),
    ``motion.json`` (per-frame subject pose), ``heldout/`` (novel views with cameras, depth and the
    frame index whose time they show) and ``capture.json`` (the spec and scene facts).
    """
    import time

    import imageio_ffmpeg

    spec.validate()
    t0 = time.perf_counter()
    out = Path(out_dir)
    for sub in ("frames", "masks", "cameras", "heldout/frames", "heldout/cameras"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    scene = SelfieScene(spec.seed)
    even_w, even_h = spec.width - spec.width % 2, spec.height - spec.height % 2
    depth_all = np.zeros((spec.frames, spec.height, spec.width), dtype=np.float32)
    cams: list[Camera] = []
    motions: list[dict[str, Any]] = []
    names: list[str] = []
    total = spec.frames + spec.heldout
    with atomic_path(out / "video.mp4") as tmp_video:
        writer = imageio_ffmpeg.write_frames(
            str(tmp_video), (even_w, even_h), fps=spec.fps, codec="libx264", pix_fmt_out="yuv420p",
            quality=None, bitrate=None, ffmpeg_log_level="error",
            output_params=["-crf", "18", "-preset", "medium"], macro_block_size=1,
        )
        writer.send(None)
        try:
            for i, cam, m, rgb, depth, subject in iter_frames(spec, scene):
                name = f"frame_{i:05d}"
                names.append(name)
                _write_png(out / "frames" / f"{name}.png", rgb)
                _write_png(out / "masks" / f"{name}.png", np.where(subject, 0, 255).astype(np.uint8))
                write_json_atomic(out / "cameras" / f"{name}.json", cam.to_json())
                depth_all[i] = depth
                cams.append(cam)
                motions.append({"index": i, "time": frame_time(i, spec.frames), **asdict(m)})
                writer.send(np.ascontiguousarray(rgb[:even_h, :even_w]))
                on_event(Progress("synth", i + 1, total, name))
        finally:
            writer.close()
    _write_npy(out / "depth.npy", depth_all)

    held = heldout_views(spec)
    held_depth = np.zeros((len(held), spec.height, spec.width), dtype=np.float32)
    views = []
    for k, (cam, frame) in enumerate(held):
        m = motion_at(spec, frame_time(frame, spec.frames))
        rgb, depth, _ = render_view(scene, cam, m, spec.supersample)
        name = f"view_{k:03d}"
        _write_png(out / "heldout" / "frames" / f"{name}.png", rgb)
        write_json_atomic(out / "heldout" / "cameras" / f"{name}.json", cam.to_json())
        held_depth[k] = depth
        views.append({"name": name, "frame_index": frame, "time": frame_time(frame, spec.frames)})
        on_event(Progress("synth", spec.frames + k + 1, total, name))
    _write_npy(out / "heldout" / "depth.npy", held_depth)
    write_json_atomic(out / "heldout" / "views.json", {"views": views})

    tf = transforms_dict(cams, [f"frames/{n}.png" for n in names])
    for f, m in zip(tf["frames"], motions, strict=True):
        f["time"] = m["time"]
        f["mask_path"] = f"masks/{Path(f['file_path']).name}"
    write_json_atomic(out / "transforms.json", tf)
    write_json_atomic(out / "motion.json", {"units": "degrees", "frames": motions})
    write_json_atomic(out / "capture.json", {
        "generator": "nerfie.recon.synth",
        "spec": asdict(spec),
        "world_up": UP.tolist(),
        "subject_center": HEAD_CENTER.tolist(),
        "depth": "distance along the unit ray from the camera centre, metres",
        "masks": "white = static background (keep), black = subject",
    })
    seconds = time.perf_counter() - t0
    on_event(Log("synth", f"wrote {spec.frames} frames and {len(held)} held-out views in {seconds:.1f} s"))
    on_event(StageDone("synth", str(out)))
    return CaptureInfo(out_dir=out, video=out / "video.mp4", frames=spec.frames, heldout=len(held),
                       seconds=seconds)
