"""Engine events → terminal progress bars (tqdm) and log lines, for the CLI."""

from __future__ import annotations

import sys
from typing import Any

from nerfie.recon.events import EvalResult, Event, Log, Progress, QualityReport, StageDone, TrainStatus


class TerminalProgress:
    """An event sink that draws one tqdm bar per stage and prints log lines above it (bars only on a
    terminal: piped output stays clean)."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self._bars: dict[str, Any] = {}

    def __call__(self, event: Event) -> None:
        from tqdm import tqdm

        if self.quiet:
            return
        if isinstance(event, Progress):
            bar = self._bars.get(event.stage)
            if bar is None:
                for other in [k for k, b in self._bars.items() if b.total and b.n >= b.total]:
                    self._bars.pop(other).close()
                bar = tqdm(total=event.total or None, desc=event.stage, unit="it", dynamic_ncols=True, disable=None,
                           file=sys.stderr)
                self._bars[event.stage] = bar
            if event.total and bar.total != event.total:
                bar.total = event.total
            bar.n = event.done
            if event.message:
                bar.set_postfix_str(event.message, refresh=False)
            bar.refresh()
        elif isinstance(event, TrainStatus):
            self(Progress("train", event.step, event.total,
                          f"loss {event.loss:.4f}, {event.psnr:.1f} dB, α {event.alpha:.1f}, "
                          f"{event.rays_per_second / 1000:.0f}k rays/s, ETA {event.eta_seconds / 60:.1f} min"))
        elif isinstance(event, EvalResult):
            subject = "" if event.psnr_subject != event.psnr_subject else f", subject {event.psnr_subject:.2f} dB"
            tqdm.write(f"[eval] step {event.step}: held-out PSNR {event.psnr:.2f} dB{subject} ({event.frames} frames)",
                       file=sys.stderr)
        elif isinstance(event, QualityReport):
            for line in event.lines():
                tqdm.write(f"[quality] {line}", file=sys.stderr)
        elif isinstance(event, Log):
            tqdm.write(f"[{event.stage}] {event.message}", file=sys.stderr)
        elif isinstance(event, StageDone):
            for bar in self._bars.values():
                bar.close()
            self._bars.clear()
            if event.summary:
                tqdm.write(f"[{event.stage}] {event.summary}", file=sys.stderr)

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()
