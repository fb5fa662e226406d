"""Frame selection: stream the video once to score every frame, choose, stream again to write.

Why two passes: a 30 s 4K clip does not fit in memory, and scoring needs only a sharpness number
and a 32×32 thumbnail per frame. Selection keeps the sharpest frame of each time window, judged
*relative to its temporal neighbours* (variance of the Laplacian depends on the scene, so an
absolute threshold rejects whole textureless clips), and drops near-duplicates where the camera
paused. The kept frames are written upright, cropped to a multiple of 8 and as a 1×/2×/4×/8× pyramid.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from nerfie.recon.config import IngestConfig
from nerfie.recon.errors import NerfieError
from nerfie.recon.events import Cancelled, EventSink, Progress, ignore
from nerfie.recon.fileio import atomic_path
from nerfie.recon.ingest.probe import VideoInfo, probe_video

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def frame_name(index: int) -> str:
    return f"frame_{index:05d}.png"


def level_dir(root: Path, factor: int) -> Path:
    """``frames/`` for 1×, ``frames_2/`` … for downscales (nerfstudio's naming)."""
    return root / ("frames" if factor == 1 else f"frames_{factor}")


def _rotate(img: np.ndarray, rotation: int) -> np.ndarray:
    if rotation == 90:
        return cv2.rotate(img, cv2.ROTATE_90_CLOCKWISE)
    if rotation == 180:
        return cv2.rotate(img, cv2.ROTATE_180)
    if rotation == 270:
        return cv2.rotate(img, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return img


def iter_video_frames(info: VideoInfo, start: float = 0.0, end: float = 0.0) -> Iterator[np.ndarray]:
    """Upright RGB uint8 frames between ``start`` and ``end`` seconds (0 = the end), streamed
    (one frame in memory at a time)."""
    import imageio_ffmpeg

    inp = ["-noautorotate"] + (["-ss", f"{start:.3f}"] if start > 0 else [])
    out = ["-t", f"{end - start:.3f}"] if end > start else []
    reader = imageio_ffmpeg.read_frames(str(info.path), input_params=inp, output_params=out)
    try:
        meta = next(reader)
        w, h = meta["size"]
        for raw in reader:
            frame = np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)
            yield _rotate(frame, info.rotation)
    except (RuntimeError, OSError) as exc:
        raise NerfieError(f"Decoding {info.path.name} failed ({str(exc).splitlines()[0][:120]}).",
                          "The file may be damaged; re-export it and try again.") from exc
    finally:
        reader.close()


def _iter_photo_frames(paths: list[Path]) -> Iterator[np.ndarray]:
    for p in paths:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)  # honours EXIF orientation
        if img is None:
            raise NerfieError(f"{p.name} is not a readable image.", "Remove it from the folder and retry.")
        yield cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


@dataclass
class FrameScores:
    sharpness: list[float] = field(default_factory=list)
    thumbs: list[np.ndarray] = field(default_factory=list)
    brightness: list[float] = field(default_factory=list)
    size: tuple[int, int] = (0, 0)  # upright (w, h)


def score_frame(rgb: np.ndarray) -> tuple[float, np.ndarray, float]:
    """Variance of the Laplacian at ~256 px, a 32×32 thumbnail in [0, 1], mean brightness."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    s = 256 / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    small = cv2.resize(gray, size, interpolation=cv2.INTER_AREA) if s < 1 else gray
    sharp = float(cv2.Laplacian(small, cv2.CV_32F).var())
    thumb = cv2.resize(small, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return sharp, thumb, float(gray.mean())


@dataclass
class Selection:
    indices: list[int]
    rejected_blurry: list[int]
    rejected_duplicate: list[int]


def select_frames(scores: FrameScores, cfg: IngestConfig) -> Selection:
    """Choose about ``cfg.target_frames`` evenly spread, locally sharpest, non-duplicate frames."""
    n = len(scores.sharpness)
    sharp = np.asarray(scores.sharpness, dtype=np.float64)
    target = min(cfg.target_frames, n)
    bounds = np.linspace(0, n, target + 1).round().astype(int)
    picks, blurry = [], []
    for a, b in itertools.pairwise(bounds):
        if b <= a:
            continue
        best = a + int(np.argmax(sharp[a:b]))
        # local relative test: compare with the sharpness of the surrounding ±3 windows
        span = max(b - a, 1)
        lo, hi = max(0, a - 3 * span), min(n, b + 3 * span)
        neighbourhood = float(np.median(sharp[lo:hi]))
        if neighbourhood > 0 and sharp[best] < 0.35 * neighbourhood:
            blurry.append(best)
            continue
        picks.append(best)
    kept, dupes = [], []
    for i in picks:
        if kept and float(np.abs(scores.thumbs[i] - scores.thumbs[kept[-1]]).mean()) < cfg.dedupe_threshold:
            dupes.append(i)
            continue
        kept.append(i)
    return Selection(indices=kept, rejected_blurry=blurry, rejected_duplicate=dupes)


def _fit_size(w: int, h: int, max_side: int, multiple: int) -> tuple[int, int, float]:
    """Output size of the 1× level: capped long side, cropped to a multiple of the largest factor."""
    s = min(1.0, max_side / max(w, h))
    ow, oh = round(w * s), round(h * s)
    return ow - ow % multiple, oh - oh % multiple, s


def write_pyramid(rgb: np.ndarray, root: Path, name: str, cfg: IngestConfig) -> tuple[int, int]:
    """Write 1× (capped, cropped to a multiple of the largest factor) and its integer downscales."""
    h, w = rgb.shape[:2]
    mult = max(cfg.pyramid)
    ow, oh = _fit_size(w, h, cfg.max_side, mult)[:2]
    if ow < mult or oh < mult:
        raise NerfieError(f"Frames of {w}x{h} are too small.", "Use a video of at least 64 pixels a side.")
    s = min(1.0, cfg.max_side / max(w, h))
    img = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA) if s < 1 else rgb
    y0 = (img.shape[0] - oh) // 2
    x0 = (img.shape[1] - ow) // 2
    img = np.ascontiguousarray(img[y0:y0 + oh, x0:x0 + ow])
    bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    for f in cfg.pyramid:
        level = bgr if f == 1 else cv2.resize(bgr, (ow // f, oh // f), interpolation=cv2.INTER_AREA)
        target = level_dir(root, f) / name
        with atomic_path(target) as tmp:
            if not cv2.imwrite(str(tmp), level):
                raise NerfieError(f"Could not write {target}.", "Check the disk space and permissions.")
    return ow, oh


@dataclass
class IngestResult:
    source_kind: str  # "video" | "photos"
    decoded: int
    selected: list[int]  # source frame indices, in order
    names: list[str]
    rejected_blurry: int
    rejected_duplicate: int
    size: tuple[int, int]  # 1× (w, h)
    fps: float
    duration: float
    rotation: int
    dark: bool


def ingest(source: str | Path, out_root: Path, cfg: IngestConfig, on_event: EventSink = ignore,
           cancelled: Callable[[], bool] = lambda: False) -> IngestResult:
    """Decode ``source`` (a video or a folder of photos) into ``out_root/frames*`` and report."""
    source = Path(source)
    if source.is_dir():
        photos = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not photos:
            raise NerfieError(f"{source} holds no photos (jpg, png, …).", "Pass a video or a folder of photos.")
        frames_iter: Callable[[], Iterator[np.ndarray]] = lambda: _iter_photo_frames(photos)  # noqa: E731
        kind, fps, duration, rotation, expected = "photos", 0.0, 0.0, 0, len(photos)
    else:
        info = probe_video(source)
        frames_iter = lambda: iter_video_frames(info, cfg.start_seconds, cfg.end_seconds)  # noqa: E731
        span = (cfg.end_seconds or info.duration) - cfg.start_seconds
        kind, fps, duration, rotation = "video", info.fps, max(span, 0.0), info.rotation
        expected = round(info.fps * duration)

    scores = FrameScores()
    for i, rgb in enumerate(frames_iter()):
        if cancelled():
            raise Cancelled()
        sharp, thumb, bright = score_frame(rgb)
        scores.sharpness.append(sharp)
        scores.thumbs.append(thumb)
        scores.brightness.append(bright)
        scores.size = (rgb.shape[1], rgb.shape[0])
        if i % 10 == 0:
            on_event(Progress("decode", i + 1, max(expected, i + 1), "scoring frames"))
    decoded = len(scores.sharpness)
    on_event(Progress("decode", decoded, decoded, "scored"))
    if decoded == 0:
        raise NerfieError(f"No frames could be decoded from {source.name}.", "The file may be damaged.")
    if kind == "photos":
        sel = Selection(indices=list(range(decoded)), rejected_blurry=[], rejected_duplicate=[])
    else:
        sel = select_frames(scores, cfg)
    if len(sel.indices) < cfg.min_frames and len(sel.rejected_duplicate) > len(sel.indices):
        raise NerfieError(
            f"The camera barely moved: {len(sel.rejected_duplicate)} of the frames picked from {source.name} "
            "are near-identical.",
            "Film again moving the phone slowly in an arc around your face; a still camera cannot give 3-D.",
        )
    if len(sel.indices) < cfg.min_frames:
        raise NerfieError(
            f"Only {len(sel.indices)} usable frames in {source.name} ({decoded} decoded; at least "
            f"{cfg.min_frames} are needed).",
            "Film a longer clip (10–30 s) moving the camera slowly around the face, or lower ingest.min_frames.",
        )
    wanted = {src: k for k, src in enumerate(sel.indices)}
    names = [frame_name(k) for k in range(len(sel.indices))]
    size = (0, 0)
    for i, rgb in enumerate(frames_iter()):
        if cancelled():
            raise Cancelled()
        k = wanted.get(i)
        if k is None:
            continue
        size = write_pyramid(rgb, out_root, names[k], cfg)
        on_event(Progress("frames", k + 1, len(names), names[k]))
    dark = float(np.median([scores.brightness[i] for i in sel.indices])) < 40
    return IngestResult(
        source_kind=kind, decoded=decoded, selected=sel.indices, names=names,
        rejected_blurry=len(sel.rejected_blurry), rejected_duplicate=len(sel.rejected_duplicate),
        size=size, fps=fps, duration=duration, rotation=rotation, dark=dark,
    )
