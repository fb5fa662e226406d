"""Typed progress events shared by every long-running stage.

Workers emit these small frozen dataclasses; the CLI turns them into progress bars and log lines,
the GUI forwards them through Qt signals. Neither front end parses strings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` units of ``stage`` finished (``total`` 0 means unknown)."""

    stage: str
    done: int
    total: int
    message: str = ""


@dataclass(frozen=True)
class Log:
    """A human-readable line for the log panel / terminal."""

    stage: str
    message: str
    level: str = "info"  # "info" | "warning" | "error"


@dataclass(frozen=True)
class StageDone:
    """A stage finished; ``summary`` is a short plain-words report."""

    stage: str
    summary: str = ""


@dataclass(frozen=True)
class TrainStatus:
    """One training step's figures (emitted every few steps)."""

    step: int
    total: int
    loss: float
    psnr: float  # on the training batch
    alpha: float  # deformation window α
    active_levels: float  # hash levels switched on (coarse-to-fine)
    rays_per_second: float
    eta_seconds: float
    lr: float


@dataclass(frozen=True)
class EvalResult:
    """Held-out figures at ``step``: whole frame, subject region (NaN without masks), SSIM."""

    step: int
    psnr: float
    frames: int
    psnr_subject: float = float("nan")
    ssim: float = float("nan")


@dataclass(frozen=True)
class QualityReport:
    """What a user would see, scored at the end of training (``recon.quality``): held-out frames and
    view consistency (input frames from their hand-shake-free cameras), whole and subject region."""

    step: int
    heldout_psnr: float
    heldout_psnr_subject: float
    heldout_ssim: float
    consistency_psnr: float
    consistency_psnr_subject: float
    consistency_ssim: float
    consistency_frames: int

    def lines(self) -> list[str]:
        def db(x: float) -> str:
            return "n/a" if x != x else f"{x:.2f} dB"

        return [f"held-out: {db(self.heldout_psnr)} whole, {db(self.heldout_psnr_subject)} subject, "
                f"SSIM {self.heldout_ssim:.3f}",
                f"view consistency ({self.consistency_frames} frames from smoothed cameras): "
                f"{db(self.consistency_psnr)} whole, {db(self.consistency_psnr_subject)} subject, "
                f"SSIM {self.consistency_ssim:.3f}"]


@dataclass(frozen=True)
class PreviewImage:
    """A live-view render of the weights at ``step``, answering the view request ``serial``."""

    image: Any  # np.ndarray [H, W, 3] uint8
    step: int
    time: float  # frame time rendered
    seconds: float  # what the render cost
    serial: int
    long_side: int


Event = Progress | Log | StageDone | TrainStatus | EvalResult | QualityReport | PreviewImage
EventSink = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """The default sink: drop events."""


class Cancelled(Exception):
    """Raised inside a stage when the user asked it to stop; partial results stay on disk."""
