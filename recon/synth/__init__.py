"""Synthetic selfie captures with exact ground truth (cameras, depth, subject motion)."""

from nerfie.recon.synth.capture import (
    VARIANTS,
    CaptureInfo,
    SynthSpec,
    camera_path,
    frame_time,
    generate,
    heldout_views,
    iter_frames,
    motion_at,
    parse_size,
    render_view,
)
from nerfie.recon.synth.scene import ELLIPSOIDS, Motion, SelfieScene

__all__ = [
    "ELLIPSOIDS", "VARIANTS", "CaptureInfo", "Motion", "SelfieScene", "SynthSpec", "camera_path",
    "frame_time", "generate", "heldout_views", "iter_frames", "motion_at", "parse_size", "render_view",
]
