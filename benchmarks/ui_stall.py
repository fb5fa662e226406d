"""How long the desktop app's event loop stalls while it trains, exports and orbits.

    .venv/bin/python benchmarks/ui_stall.py [--train-seconds 45] [--orbit-seconds 15]

Drives the real main window (offscreen Qt) on a synthetic project (60 frames at 128², imported
poses, ``cpu-preview``) like a user: opens it (training starts in the engine's worker process, the
live view on screen), lets it train, then exports a short video from the Export dialog, then orbits
the trained result in the viewer with a drag every 30 ms. A 5 ms timer measures how late each of
its ticks fires; the worst and the 99th-percentile lateness of each phase are printed (the
acceptance: worst ≤ 50 ms, p99 ≤ 20 ms while training on 2 cores). Run nothing else meanwhile.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TICK_S = 0.005


class StallMeter:
    """Lateness of a 5 ms timer's ticks: how long the event loop could not run."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(round(TICK_S * 1000))
        self.timer.timeout.connect(self._tick)
        self.late: list[float] = []
        self.last = 0.0

    def start(self) -> None:
        self.late = []
        self.last = time.perf_counter()
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.late.append(max(0.0, now - self.last - TICK_S))
        self.last = now

    def stop(self) -> tuple[float, float, int]:
        import numpy as np

        self.timer.stop()
        late = np.asarray(self.late or [0.0])
        return float(late.max()), float(np.percentile(late, 99)), len(late)


def wait(app, seconds: float, until=None) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + seconds
    while time.monotonic() < end and not (until is not None and until()):
        app.processEvents()
        time.sleep(0.001)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train-seconds", type=float, default=45.0)
    ap.add_argument("--orbit-seconds", type=float, default=15.0)
    args = ap.parse_args()

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from nerfie.app.main_window import MainWindow
    from nerfie.recon.config import preset, with_overrides
    from nerfie.recon.device import available_cores, configure_threads
    from nerfie.recon.importers import import_transforms
    from nerfie.recon.synth import SynthSpec, generate

    configure_threads()
    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp(prefix="nerfie-ui-stall-"))
    os.environ["NERFIE_RUNTIME_DIR"] = str(tmp / "registry")
    generate(tmp / "cap", SynthSpec(frames=60, width=128, height=128, heldout=0, seed=2))
    cfg = with_overrides(preset("cpu-preview"), {"train.minutes": args.train_seconds / 60, "train.steps": 10**7,
                                                 "train.checkpoint_every": 250, "train.eval_every": 250})
    proj = import_transforms(tmp / "cap" / "transforms.json", tmp / "proj", cfg)
    window = MainWindow(settings=QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat),
                        projects_home=tmp / "home")
    window.resize(1400, 880)
    window.show()
    wait(app, 1.0)
    meter = StallMeter()
    rows = []

    window.open_path(proj.root)  # poses are done: training starts in a worker process
    wait(app, 0.5)
    meter.start()
    wait(app, args.train_seconds + 120, until=lambda: window.stage_bar.state("train") == "done")
    rows.append(("training (live view on screen)", *meter.stop()))
    wait(app, 30, until=lambda: window.current_page() == "viewer" and window.viewer_page.last_result is not None)

    window.open_export()
    dlg = window.export_dialog
    assert dlg is not None
    dlg.open_folder = lambda _p: None  # type: ignore[method-assign]
    dlg.seconds.setValue(2.0)
    dlg.fps.setValue(10)
    dlg.resolution.setValue(128)
    dlg.out.setText(str(tmp / "export.mp4"))
    meter.start()
    dlg.start()
    wait(app, 600, until=lambda: dlg.written is not None)
    rows.append(("export (worker process)", *meter.stop()))
    dlg.close()

    viewer = window.viewer_page
    meter.start()
    end = time.monotonic() + args.orbit_seconds
    while time.monotonic() < end:
        viewer._orbit(6.0, 0.0)  # what a left-drag of 6 px does
        wait(app, 0.03)
    viewer._settle()
    wait(app, 1.0)
    rows.append(("orbiting the trained scene (render thread)", *meter.stop()))
    window.close()

    print(f"ui_stall: {available_cores()} cores, 60×128² synthetic, cpu-preview, 5 ms timer")
    print(f"{'phase':<46} {'worst':>9} {'p99':>9} {'ticks':>7}")
    for name, worst, p99, n in rows:
        print(f"{name:<46} {worst * 1000:>7.1f}ms {p99 * 1000:>7.1f}ms {n:>7}")


if __name__ == "__main__":
    main()
