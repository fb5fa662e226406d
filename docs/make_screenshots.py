"""Screenshots of each stage of the desktop app, for the README: run on a real (virtual) display.

    Xvfb :99 -screen 0 1600x1000x24 &
    DISPLAY=:99 .venv/bin/python docs/make_screenshots.py PROJECT

PROJECT is a trained project (e.g. from ``nerfie run``); it is copied, never modified. The shots
show the real app on that project: import page, poses (3-D frustums and points), training resumed
for a few hundred steps with the live view, the orbit viewer beside an input frame, export running.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

OUT = Path(__file__).resolve().parent


def main() -> int:
    from nerfie.app.main_window import MainWindow
    from nerfie.recon.config import with_overrides
    from nerfie.recon.device import configure_threads
    from nerfie.recon.project import Project

    configure_threads()
    src = Path(sys.argv[1]).resolve()
    work = Path(tempfile.mkdtemp(prefix="nerfie-shots-"))
    proj_dir = work / src.name
    shutil.copytree(src, proj_dir, ignore=shutil.ignore_patterns("renders"))
    app = QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    settings = QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("recent", [str(proj_dir)])
    win = MainWindow(settings=settings, projects_home=work)
    win.auto_continue = False
    win.resize(1500, 920)
    win.show()

    def pump(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def wait(cond, timeout: float = 600) -> None:  # type: ignore[no-untyped-def]
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise TimeoutError
            pump(0.05)

    def shot(name: str) -> None:
        pump(0.5)
        screen = app.primaryScreen()
        geo = win.frameGeometry()
        pm = screen.grabWindow(0, geo.x(), geo.y(), geo.width(), geo.height())
        pm.save(str(OUT / f"gui-{name}.png"))
        print("wrote", OUT / f"gui-{name}.png")

    pump(1)
    shot("import")

    # Poses: the processed project's cameras and points.
    win.open_project(proj_dir)
    wait(lambda: win.scene is not None)
    win.show_page("poses")
    shot("poses")

    # Training: resume the trained weights for a few hundred more steps, live view on.
    proj = Project.load(proj_dir)
    step = int(proj.stages["train"].detail.get("step", 0))
    proj.config = with_overrides(proj.config, {"train.steps": step + 400, "train.minutes": 0.0,
                                               "train.eval_every": 100})
    proj.set_stage("train", "paused", step=step)
    win.project = proj
    win.start_training()
    wait(lambda: len(win.training_page.steps) >= 25 and len(win.training_page.val_steps) >= 1)
    wait(lambda: win.training_page.viewer.last_result is not None
         and win.training_page.viewer.last_result.step > step)
    shot("training")
    win.training_page.stop_button.click()
    wait(lambda: win.current_page() == "viewer" and win.viewer_page.last_result is not None)

    # Viewer: scrub to a frame, snap to its input view, orbit off a little.
    v = win.viewer_page
    v.set_time(min(40, v.scene.num_frames - 1))
    v.snap_to_input()
    wait(lambda: v.last_result is not None and v.last_result.long_side == v.still_side
         and v.snapped_frame is not None and v.last_result.time == v.time, 120)
    shot("viewer")

    # Export: the dialog mid-render.
    win.open_export()
    dlg = win.export_dialog
    dlg.open_folder = lambda _p: None
    dlg.path.setCurrentIndex(dlg.path.findData("turntable"))
    dlg.seconds.setValue(2.0)
    dlg.fps.setValue(15)
    dlg.resolution.setValue(256)
    dlg.out.setText(str(work / "turntable.mp4"))
    dlg.export_button.click()
    wait(lambda: dlg.progress.value() >= 3)
    shot("export")
    dlg.job.cancel()
    win.close()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
