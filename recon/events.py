"""Typed progress events shared by every long-running stage.

Workers emit these small frozen dataclasses; the CLI turns them into progress bars and log lines,
the GUI forwards them through Qt signals. Neither front end parses strings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


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
    """Held-out figures at ``step``."""

    step: int
    psnr: float
    frames: int


Event = Progress | Log | StageDone | TrainStatus | EvalResult
EventSink = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """The default sink: drop events."""


class Cancelled(Exception):
    """Raised inside a stage when the user asked it to stop; partial results stay on disk."""
