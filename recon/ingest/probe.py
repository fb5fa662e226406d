"""What a video file is, read from ffmpeg's own description of it (imageio-ffmpeg's binary).

We decode with ``-noautorotate`` and rotate frames ourselves, because the rotation of phone videos
is stored either as a legacy ``rotate`` tag or as a display matrix, and decoders disagree on whether
they apply it; doing it once, here, makes portrait clips come out upright everywhere.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from nerfie.recon.errors import NerfieError

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".mpg", ".mpeg", ".3gp"}


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int  # as stored (before rotation)
    height: int
    fps: float
    duration: float  # seconds (0 when unknown)
    rotation: int  # degrees clockwise to apply for display: 0, 90, 180, 270
    codec: str

    @property
    def display_size(self) -> tuple[int, int]:
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def probe_video(path: str | Path) -> VideoInfo:
    """Describe a video or raise a one-line, actionable :class:`NerfieError`."""
    path = Path(path)
    if not path.exists():
        raise NerfieError(f"{path} does not exist.", "Check the path to the video.")
    if path.is_dir():
        raise NerfieError(f"{path} is a folder, not a video.", "Pass a video file, or a folder of photos.")
    res = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True,
                         errors="replace", timeout=120)
    text = res.stderr
    if "Invalid data found when processing input" in text or "moov atom not found" in text:
        raise NerfieError(
            f"{path.name} is not a readable video (damaged, truncated or not a video at all).",
            "Re-export or re-copy the clip (mp4, mov, webm, mkv) and try again.",
        )
    video = re.search(r"Stream #\S+.*?: Video: (\w+).*?, (\d{2,5})x(\d{2,5})", text)
    if video is None:
        if re.search(r"Stream #\S+.*?: Audio:", text):
            raise NerfieError(f"{path.name} has sound but no picture.", "Pass a video clip with a video track.")
        raise NerfieError(f"{path.name} has no video stream ffmpeg can read.", "Pass an mp4, mov or webm clip.")
    codec, w, h = video.group(1), int(video.group(2)), int(video.group(3))
    fps_m = re.search(r"([\d.]+) fps", text) or re.search(r"([\d.]+) tbr", text)
    fps = float(fps_m.group(1)) if fps_m else 30.0
    dur_m = re.search(r"Duration: (\d+):(\d+):([\d.]+)", text)
    duration = int(dur_m.group(1)) * 3600 + int(dur_m.group(2)) * 60 + float(dur_m.group(3)) if dur_m else 0.0
    rotation = 0
    rot_tag = re.search(r"rotate\s*:\s*(-?\d+)", text)
    matrix = re.search(r"rotation of (-?[\d.]+) degrees", text)
    if matrix:
        rotation = round(-float(matrix.group(1))) % 360  # display matrix is counter-clockwise
    elif rot_tag:
        rotation = int(rot_tag.group(1)) % 360
    if rotation not in (0, 90, 180, 270):
        rotation = 0
    return VideoInfo(path=path, width=w, height=h, fps=fps, duration=duration, rotation=rotation, codec=codec)
