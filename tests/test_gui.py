"""The desktop app, driven like a user would (offscreen Qt, pytest-qt): drop a video, watch it train,
orbit and scrub the result, export a video, get a dialog (not a crash) for bad input."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from nerfie.app.main_window import MainWindow
from nerfie.app.viewer_widget import TIME_STEPS_PER_FRAME, ViewerWidget
from nerfie.app.workers import RemoteJob
from nerfie.recon.config import preset, with_overrides
from nerfie.render.scene import load_scene
from nerfie.render.viewer import ORBIT_DEGREES_PER_PIXEL

# A model small enough to train a few dozen steps in seconds on two CPU cores.
TINY = {"train.rays_per_batch": 256, "model.proposal_samples": [16], "model.shaded_samples": 12,
        "train.checkpoint_every": 0, "train.eval_every": 10, "train.minutes": 0.0, "train.steps": 40}


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 frames 96x80 of the synthetic selfie (enough for `process` to accept it; ~4 s to make)."""
    from nerfie.recon.synth import SynthSpec, generate

    out = tmp_path_factory.mktemp("gui_capture")
    generate(out, SynthSpec(frames=40, width=96, height=80, heldout=0, seed=3))
    return out


@pytest.fixture(scope="module")
def trained_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with known poses (imported) trained for 30 steps."""
    from nerfie.recon.importers import import_transforms
    from nerfie.recon.synth import SynthSpec, generate
    from nerfie.recon.train import Trainer

    root = tmp_path_factory.mktemp("gui_trained")
    generate(root / "cap", SynthSpec(frames=10, width=48, height=40, heldout=0, seed=5))
    cfg = with_overrides(preset("cpu-preview"), TINY)
    proj = import_transforms(root / "cap" / "transforms.json", root / "proj", cfg)
    Trainer(proj).run(steps=30)
    return proj.root


@pytest.fixture
def window(qtbot, tmp_path: Path) -> MainWindow:  # type: ignore[no-untyped-def]
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = MainWindow(settings=settings, projects_home=tmp_path / "home", overrides=TINY)
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    return w


def drop(widget: MainWindow, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(widget, QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                              Qt.KeyboardModifier.NoModifier))


def test_dropping_a_video_runs_the_pipeline_and_the_stage_bar_advances(window: MainWindow, capture: Path,
                                                                      tmp_path: Path, qtbot) -> None:  # type: ignore[no-untyped-def]
    import shutil

    clip = tmp_path / "gui" / "my clip.mp4"
    clip.parent.mkdir()
    shutil.copy(capture / "video.mp4", clip)
    seen: list[tuple[str, str]] = []
    drop(window, clip)
    assert window.stage_bar.state("ingest") == "running"
    qtbot.waitUntil(lambda: seen.append(tuple(window.stage_bar.state(s) for s in ("ingest", "poses")))
                    or window.poses_page.camera_count > 0, timeout=120_000)
    assert window.stage_bar.state("ingest") == "done"
    registered = window.project.stages["poses"].detail["registered"]
    assert window.poses_page.camera_count == registered >= 30  # the registered frames are drawn
    total = window.project.stages["poses"].detail["total"]
    assert window.poses_page.failed.count() == total - registered  # the others are listed, with thumbnails
    assert "registered" in window.poses_page.report.toPlainText()
    # It goes on to train by itself, and ends in the viewer with the result.
    qtbot.waitUntil(lambda: window.current_page() == "viewer" and window.viewer_page.last_result is not None,
                    timeout=180_000)
    assert window.stage_bar.state("train") == "done"
    assert str(tmp_path / "gui" / "my clip-nerfie") in window.recent_projects()  # beside the clip, the CLI's name
    assert ("done", "running") in seen  # the poses stage ran after ingest finished


def test_nerfie_run_makes_the_project_the_app_makes_for_the_same_clip(window: MainWindow, capture: Path,
                                                                     tmp_path: Path, qtbot) -> None:  # type: ignore[no-untyped-def]
    """Same folder name beside the clip, same files: the CLI and the app drive one engine."""
    import shutil

    from nerfie.app.cli import main as cli_main

    made = {}
    for side in ("gui", "cli"):
        clip = tmp_path / side / "my clip.mp4"
        clip.parent.mkdir()
        shutil.copy(capture / "video.mp4", clip)
        made[side] = clip.parent / "my clip-nerfie"
    drop(window, tmp_path / "gui" / "my clip.mp4")
    qtbot.waitUntil(lambda: window.current_page() == "viewer" and window.viewer_page.last_result is not None,
                    timeout=180_000)
    sets = [arg for k, v in TINY.items() for arg in ("--set", f"{k}={json.dumps(v)}")]
    assert cli_main(["run", str(tmp_path / "cli" / "my clip.mp4"), "--preset", "cpu-preview", *sets, "-q",
                     "--minutes", "0", "--seconds", "0.4", "--fps", "5", "--long-side", "32"]) == 0

    def layout(root: Path) -> set[str]:  # COLMAP's workspace depends on the rungs a run climbed; exports are the CLI's
        rel = (p.relative_to(root) for p in root.rglob("*"))
        return {str(r) for r in rel if r.parts[0] not in ("renders", "colmap")}

    assert made["cli"].is_dir() and made["gui"].is_dir()
    assert layout(made["cli"]) == layout(made["gui"])
    assert (made["cli"] / "renders" / "turntable.mp4").exists()


def test_a_bad_file_gives_an_error_dialog_and_the_app_stays_usable(window: MainWindow, tmp_path: Path,
                                                                   trained_project: Path, qtbot) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video\n")
    window.default_project_dir = lambda video: tmp_path / "bad_proj"  # type: ignore[method-assign]
    drop(window, bad)
    qtbot.waitUntil(lambda: window.last_error is not None and window.last_error.isVisible(), timeout=60_000)
    assert "video" in (window.last_error.text() + window.last_error.informativeText()).lower()
    assert window.last_error.informativeText()  # the engine's advice is shown, not just the failure
    assert window.stage_bar.state("ingest") == "failed"
    window.last_error.accept()
    # Still usable: a good project opens and shows its trained scene.
    window.open_path(trained_project)
    qtbot.waitUntil(lambda: window.viewer_page.last_result is not None, timeout=60_000)
    assert window.isVisible()


def test_stopping_processing_keeps_the_decoded_frames(window: MainWindow, capture: Path, tmp_path: Path,
                                                      qtbot) -> None:  # type: ignore[no-untyped-def]
    from nerfie.recon.project import Project

    window.default_project_dir = lambda video: tmp_path / "proj"  # type: ignore[method-assign]
    drop(window, capture / "video.mp4")
    assert window.stop_button.isEnabled()
    # Stop as soon as poses start (COLMAP on 40 frames takes seconds; the stop reaches it in milliseconds).
    qtbot.waitUntil(lambda: window.stage_bar.state("poses") == "running", timeout=60_000)
    window.stop_button.click()
    qtbot.waitUntil(lambda: not window.jobs, timeout=60_000)
    assert window.last_error is None  # stopping is not an error
    proj = Project.load(tmp_path / "proj")
    assert proj.stages["ingest"].state == "done" and len(list(proj.frames_dir.glob("*.png"))) >= 30
    assert proj.stages["poses"].state != "done"  # it really stopped…
    assert window.stage_bar.state("poses") == "cancelled"  # …and the bar says so
    assert not window.stop_button.isEnabled()


def test_dropping_a_posed_dataset_imports_it_and_trains(window: MainWindow, tmp_path: Path, qtbot) -> None:  # type: ignore[no-untyped-def]
    from nerfie.recon.synth import SynthSpec, generate

    generate(tmp_path / "cap", SynthSpec(frames=8, width=40, height=32, heldout=0, seed=8))
    drop(window, tmp_path / "cap")
    qtbot.waitUntil(lambda: window.stage_bar.state("train") == "done", timeout=120_000)
    assert window.project is not None and window.project.root == tmp_path / "cap-nerfie"
    assert window.poses_page.camera_count == 8


def test_a_folder_that_is_not_a_project_says_so(window: MainWindow, tmp_path: Path, qtbot) -> None:  # type: ignore[no-untyped-def]
    window.open_path(tmp_path)
    assert window.last_error is not None and "not a Nerfie project" in window.last_error.text()


def test_training_runs_in_a_worker_process_and_updates_the_live_view_and_curves_in_order(
        window: MainWindow, tmp_path: Path, qtbot) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from nerfie.recon.importers import import_transforms
    from nerfie.recon.synth import SynthSpec, generate

    generate(tmp_path / "cap", SynthSpec(frames=24, width=48, height=40, heldout=0, seed=6))
    cfg = with_overrides(preset("cpu-preview"), {**TINY, "train.steps": 60})
    proj = import_transforms(tmp_path / "cap" / "transforms.json", tmp_path / "proj", cfg)
    shutil.rmtree(tmp_path / "cap")
    live = window.training_page.viewer
    images: list[int] = []
    live.frame_rendered.connect(lambda r: images.append(r.step))
    window.open_path(proj.root)  # poses are done: training starts by itself
    assert window.current_page() == "train" and window.jobs[0].name == "train"
    job = window.jobs[0]
    assert isinstance(job, RemoteJob) and job.pid is not None and job.pid != os.getpid()  # not this process
    qtbot.waitUntil(lambda: window.stage_bar.state("train") == "done", timeout=180_000)
    tp = window.training_page
    assert len(tp.steps) >= 5 and tp.steps == sorted(tp.steps)
    assert all(math.isfinite(v) for v in tp.losses)
    assert tp.val_steps and all(math.isfinite(v) for v in tp.val_psnr)
    assert images and images == sorted(images)  # live-view images arrived, in step order
    assert tp.stats["step"].text() == "60 / 60"
    qtbot.waitUntil(lambda: "dB" in tp.stats["consistency"].text(), timeout=10_000)  # end-of-run scores shown

    # Closing and reopening the project shows the same curves (kept in the project's metrics.jsonl).
    curves = (list(tp.steps), list(tp.losses), list(tp.val_steps), list(tp.val_psnr))
    consistency = tp.stats["consistency"].text()
    qtbot.waitUntil(lambda: not window.jobs, timeout=60_000)
    window.close()
    reopened = MainWindow(settings=QSettings(str(tmp_path / "s2.ini"), QSettings.Format.IniFormat),
                          projects_home=tmp_path / "home2", overrides=TINY)
    qtbot.addWidget(reopened)
    reopened.open_path(proj.root)
    rp = reopened.training_page
    assert (rp.steps, rp.losses, rp.val_steps, rp.val_psnr) == curves
    assert rp.stats["step"].text() == "60 / 60" and rp.stats["consistency"].text() == consistency
    qtbot.waitUntil(lambda: not reopened.jobs, timeout=60_000)


def test_the_live_view_follows_the_weights_while_training_runs(window: MainWindow, tmp_path: Path, qtbot) -> None:  # type: ignore[no-untyped-def]
    """Open-ended training, so how fast this machine trains or renders cannot decide the outcome."""
    from nerfie.recon.importers import import_transforms
    from nerfie.recon.synth import SynthSpec, generate

    generate(tmp_path / "cap", SynthSpec(frames=10, width=48, height=40, heldout=0, seed=8))
    cfg = with_overrides(preset("cpu-preview"), {**TINY, "train.steps": 100000})
    proj = import_transforms(tmp_path / "cap" / "transforms.json", tmp_path / "proj", cfg)
    images: list[int] = []
    window.training_page.viewer.frame_rendered.connect(lambda r: images.append(r.step))
    window.open_path(proj.root)
    qtbot.waitUntil(lambda: len(set(images)) >= 2, timeout=300_000)  # re-rendered as the weights changed
    assert images == sorted(images)
    window.training_page.stop_button.click()
    qtbot.waitUntil(lambda: not window.jobs, timeout=60_000)


def test_pause_and_stop_keep_the_weights(window: MainWindow, tmp_path: Path, qtbot) -> None:  # type: ignore[no-untyped-def]
    from nerfie.recon.importers import import_transforms
    from nerfie.recon.project import Project
    from nerfie.recon.synth import SynthSpec, generate

    generate(tmp_path / "cap", SynthSpec(frames=10, width=48, height=40, heldout=0, seed=7))
    cfg = with_overrides(preset("cpu-preview"), {**TINY, "train.steps": 100000})
    proj = import_transforms(tmp_path / "cap" / "transforms.json", tmp_path / "proj", cfg)
    window.open_path(proj.root)
    tp = window.training_page
    qtbot.waitUntil(lambda: len(tp.steps) >= 2, timeout=60_000)
    tp.pause_button.click()
    assert window.stage_bar.state("train") == "paused"
    time.sleep(0.3)
    qtbot.wait(300)
    frozen = tp.steps[-1]
    qtbot.wait(1500)
    assert tp.steps[-1] == frozen  # paused: no steps
    tp.pause_button.click()
    qtbot.waitUntil(lambda: tp.steps[-1] > frozen, timeout=60_000)
    tp.stop_button.click()
    qtbot.waitUntil(lambda: window.current_page() == "viewer", timeout=60_000)
    state = Project.load(proj.root).stages["train"]
    assert state.state == "paused" and state.detail["step"] > frozen
    assert (proj.root / "checkpoints" / "latest.pt").exists()


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX; Windows ends a worker with TerminateProcess")
def test_killing_the_training_worker_leaves_the_window_and_resume_continues_from_the_checkpoint(
        window: MainWindow, tmp_path: Path, qtbot) -> None:  # type: ignore[no-untyped-def]
    import signal

    import torch

    from nerfie.recon.importers import import_transforms
    from nerfie.recon.synth import SynthSpec, generate

    generate(tmp_path / "cap", SynthSpec(frames=10, width=48, height=40, heldout=0, seed=9))
    cfg = with_overrides(preset("cpu-preview"), {**TINY, "train.steps": 100000, "train.checkpoint_every": 5})
    proj = import_transforms(tmp_path / "cap" / "transforms.json", tmp_path / "proj", cfg)
    ckpt = proj.root / "checkpoints" / "latest.pt"
    window.open_path(proj.root)
    tp = window.training_page
    qtbot.waitUntil(lambda: ckpt.exists() and len(tp.steps) >= 2, timeout=60_000)
    job = window.jobs[0]
    os.kill(job.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: window.last_error is not None, timeout=30_000)
    assert "killed" in window.last_error.text() and "Resume" in window.last_error.informativeText()
    assert window.isVisible() and window.stage_bar.state("train") == "failed" and not window.jobs
    saved = int(torch.load(ckpt, weights_only=True)["step"])
    assert saved >= 5
    assert tp.resume_button.isVisible()
    tp.resume_button.click()
    assert window.jobs and window.jobs[0].pid != job.pid  # a fresh worker
    qtbot.waitUntil(lambda: f"Resuming from step {saved}." in window.log.toPlainText(), timeout=60_000)
    step_before = tp.steps[-1]
    qtbot.waitUntil(lambda: tp.steps[-1] > step_before, timeout=60_000)
    tp.stop_button.click()
    qtbot.waitUntil(lambda: not window.jobs, timeout=60_000)
    assert int(torch.load(ckpt, weights_only=True)["step"]) > saved


@pytest.fixture
def viewer(qtbot, trained_project: Path) -> ViewerWidget:  # type: ignore[no-untyped-def]
    v = ViewerWidget(still_side=64, moving_side=48, settle_ms=100)
    qtbot.addWidget(v)
    v.resize(500, 400)
    v.show()
    v.set_scene(load_scene(trained_project))
    qtbot.waitUntil(lambda: v.last_result is not None, timeout=30_000)
    return v


def wheel(widget, notches: int) -> None:  # type: ignore[no-untyped-def]
    c = QPointF(widget.width() / 2, widget.height() / 2)
    ev = QWheelEvent(c, widget.mapToGlobal(c), QPoint(0, 0), QPoint(0, 120 * notches), Qt.MouseButton.NoButton,
                     Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, ev)


def test_mouse_gestures_move_the_viewer_camera_as_specified(viewer: ViewerWidget, qtbot) -> None:  # type: ignore[no-untyped-def]
    vp = viewer.viewport
    home = (viewer.view.azimuth, viewer.view.elevation, viewer.view.distance, viewer.view.focus.copy())
    start = QPoint(200, 150)
    # Left-drag 100 px right and 20 px up: orbit by 0.3° per pixel.
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(vp, start + QPoint(100, -20))
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=start + QPoint(100, -20))
    assert math.degrees(home[0] - viewer.view.azimuth) == pytest.approx(100 * ORBIT_DEGREES_PER_PIXEL)
    assert math.degrees(home[1] - viewer.view.elevation) == pytest.approx(20 * ORBIT_DEGREES_PER_PIXEL)
    assert viewer.view.distance == pytest.approx(home[2])
    # While moving it renders at the moving resolution, then refines to the still one.
    qtbot.waitUntil(lambda: viewer.last_result.long_side == 64 and viewer.last_result.serial >= 3, timeout=30_000)
    # Right-drag pans: the focus moves along the image's right axis, the distance stays.
    before = viewer.view.camera(64, 64)
    qtbot.mousePress(vp, Qt.MouseButton.RightButton, pos=start)
    qtbot.mouseMove(vp, start + QPoint(30, 0))
    qtbot.mouseRelease(vp, Qt.MouseButton.RightButton, pos=start + QPoint(30, 0))
    shift = viewer.view.focus - home[3]
    assert shift @ before.rotation[0] < 0 and abs(shift @ before.rotation[1]) < 1e-9
    assert viewer.view.distance == pytest.approx(home[2])
    # Middle-drag pans too.
    focus = viewer.view.focus.copy()
    qtbot.mousePress(vp, Qt.MouseButton.MiddleButton, pos=start)
    qtbot.mouseMove(vp, start + QPoint(0, 30))
    qtbot.mouseRelease(vp, Qt.MouseButton.MiddleButton, pos=start + QPoint(0, 30))
    assert np.linalg.norm(viewer.view.focus - focus) > 0
    # The wheel zooms in 10 % per notch.
    d = viewer.view.distance
    wheel(vp, 2)
    assert viewer.view.distance == pytest.approx(d * 0.81)
    # Double-click resets to the home view.
    qtbot.mouseDClick(vp, Qt.MouseButton.LeftButton, pos=start)
    assert (viewer.view.azimuth, viewer.view.elevation, viewer.view.distance) == pytest.approx(home[:3])
    assert np.allclose(viewer.view.focus, home[3])


def test_the_scrubber_changes_the_rendered_frame_time(viewer: ViewerWidget, qtbot) -> None:  # type: ignore[no-untyped-def]
    first = viewer.last_result.image.copy()
    viewer.slider.setValue(9 * TIME_STEPS_PER_FRAME)
    qtbot.waitUntil(lambda: viewer.last_result.time == 9.0, timeout=30_000)
    assert viewer.time == 9.0
    assert np.abs(viewer.last_result.image.astype(int) - first).max() > 0  # the deformation codes differ
    assert "9.0" in viewer.time_label.text()


def test_snap_to_input_view_shows_the_input_frame_beside_the_render(viewer: ViewerWidget, qtbot) -> None:  # type: ignore[no-untyped-def]
    viewer.slider.setValue(4 * TIME_STEPS_PER_FRAME)
    viewer.snap_button.click()
    assert viewer.snapped_frame == 4 and viewer.input_view.isVisible()
    cam = viewer.scene.cameras[viewer._snap_index]
    qtbot.waitUntil(lambda: viewer.last_result.time == 4.0 and viewer.last_result.long_side == 64, timeout=30_000)
    h, w = viewer.last_result.image.shape[:2]
    assert w / h == pytest.approx(cam.width / cam.height, rel=0.05)
    # Orbiting away leaves the input view.
    qtbot.mousePress(viewer.viewport, Qt.MouseButton.LeftButton, pos=QPoint(50, 50))
    qtbot.mouseMove(viewer.viewport, QPoint(80, 50))
    qtbot.mouseRelease(viewer.viewport, Qt.MouseButton.LeftButton, pos=QPoint(80, 50))
    assert viewer.snapped_frame is None and not viewer.input_view.isVisible()


def test_keyframes_added_in_the_viewer_become_the_export_path(viewer: ViewerWidget, tmp_path: Path,
                                                              qtbot) -> None:  # type: ignore[no-untyped-def]
    from nerfie.app.export_dialog import ExportDialog
    from nerfie.render.export import plan

    assert not viewer.clear_keys_button.isEnabled()
    viewer.key_button.click()  # home view, frame 0
    wheel(viewer.viewport, 2)
    viewer.slider.setValue(6 * TIME_STEPS_PER_FRAME)
    viewer.key_button.click()  # zoomed in, frame 6
    assert len(viewer.keyframes) == 2 and viewer.key_button.text() == "Add keyframe (2)"
    assert [k.time for k in viewer.keyframes] == [0.0, 6.0]
    assert viewer.keyframes[1].camera.position @ viewer.keyframes[1].camera.forward != pytest.approx(
        viewer.keyframes[0].camera.position @ viewer.keyframes[0].camera.forward)
    dlg = ExportDialog(viewer.scene.project, viewer.scene.num_frames, viewer.aspect, 1e4, keyframes=viewer.keyframes)
    qtbot.addWidget(dlg)
    assert dlg.path.currentData() == "keyframes"  # the path the user just made is preselected
    assert not dlg.time_mode.isEnabled()  # its times come from the keyframes
    dlg.seconds.setValue(1.0)
    dlg.fps.setValue(5)
    frames = plan(viewer.scene, dlg.spec())
    assert np.allclose(frames[0].camera.position, viewer.keyframes[0].camera.position)
    assert np.allclose(frames[-1].camera.position, viewer.keyframes[1].camera.position)
    assert [f.time for f in frames] == pytest.approx([0.0, 1.5, 3.0, 4.5, 6.0])
    viewer.clear_keys_button.click()
    assert viewer.keyframes == [] and viewer.key_button.text() == "Add keyframe"


def test_the_export_dialog_writes_an_mp4_and_opens_its_folder(window: MainWindow, trained_project: Path,
                                                              tmp_path: Path, qtbot) -> None:  # type: ignore[no-untyped-def]
    import imageio_ffmpeg

    window.open_path(trained_project)
    qtbot.waitUntil(lambda: window.scene is not None, timeout=60_000)
    window.open_export()
    dlg = window.export_dialog
    assert dlg is not None and dlg.isVisible()
    opened: list[Path] = []
    dlg.open_folder = opened.append
    dlg.path.setCurrentIndex(dlg.path.findData("turntable"))
    dlg.seconds.setValue(1.0)
    dlg.fps.setValue(6)
    dlg.resolution.setValue(64)
    assert "<b>6</b> frames" in dlg.derived.text()
    dlg.out.setText(str(tmp_path / "out" / "turn.mp4"))
    dlg.export_button.click()
    qtbot.waitUntil(lambda: dlg.written is not None, timeout=120_000)

    n, _ = imageio_ffmpeg.count_frames_and_secs(str(tmp_path / "out" / "turn.mp4"))
    assert n == 6
    assert opened == [tmp_path / "out"]
    assert window.stage_bar.state("render") == "done"
    assert dlg.progress.value() == 6


def test_the_export_dialog_also_writes_depth_cutout_a_point_cloud_and_datasets(
        window: MainWindow, trained_project: Path, tmp_path: Path, qtbot) -> None:  # type: ignore[no-untyped-def]
    from nerfie.recon.dataset import read_ply

    window.open_path(trained_project)
    qtbot.waitUntil(lambda: window.scene is not None, timeout=60_000)
    window.open_export()
    dlg = window.export_dialog
    opened: list[Path] = []
    dlg.open_folder = opened.append

    def export(kind: str, out: Path) -> Path:
        dlg.kind.setCurrentIndex(dlg.kind.findData(kind))
        dlg.written = None
        dlg.out.setText(str(out))
        dlg.export_button.click()
        qtbot.waitUntil(lambda: dlg.written is not None or "<b>" in dlg.status.text(), timeout=120_000)
        assert dlg.written is not None, dlg.status.text()
        return dlg.written

    dlg.kind.setCurrentIndex(dlg.kind.findData("video"))
    dlg.path.setCurrentIndex(dlg.path.findData("turntable"))
    dlg.seconds.setValue(0.5)
    dlg.fps.setValue(4)
    dlg.resolution.setValue(48)
    dlg.depth.setChecked(True)
    dlg.cutout.setChecked(True)
    export("video", tmp_path / "v" / "turn.mp4")
    assert {p.name for p in (tmp_path / "v").glob("*.mp4")} == {"turn.mp4", "turn.depth.mp4", "turn.cutout.mp4"}
    assert len(list((tmp_path / "v" / "turn.cutout").glob("*.png"))) == 2

    dlg.kind.setCurrentIndex(dlg.kind.findData("pointcloud"))
    assert not dlg.path.isEnabled() and dlg.subject_only.isEnabled()  # what a point cloud does not use is off
    assert dlg.out.text().endswith(".ply")
    assert dlg.frozen.value() == (window.scene.num_frames - 1) // 2  # the middle moment, as `nerfie export`
    dlg.frozen.setValue(2)
    dlg.min_opacity.setValue(0.0)  # the fixture trained 30 steps: nothing is opaque yet
    points, _ = read_ply(export("pointcloud", tmp_path / "cloud.ply"))
    assert len(points) > 0

    dlg.kind.setCurrentIndex(dlg.kind.findData("mesh"))
    assert dlg.mesh_cells.isEnabled() and not dlg.min_opacity.isEnabled() and dlg.out.text().endswith("mesh.ply")
    assert dlg.request().verb == "export-mesh" and dlg.request().mesh.resolution == dlg.mesh_cells.value()
    dlg.mesh_cells.setValue(32)
    dlg.out.setText(str(tmp_path / "head.obj"))
    dlg.export_button.click()  # 30 steps: nothing is solid yet, and the dialog says what to do
    qtbot.waitUntil(lambda: "Train longer" in dlg.status.text(), timeout=120_000)
    assert not (tmp_path / "head.obj").exists() and dlg.export_button.isEnabled()

    nerfies = export("nerfies", tmp_path / "nerfies")
    assert (nerfies / "dataset.json").exists() and opened[-1] == nerfies  # a dataset opens its own folder
    assert (export("nerfstudio", tmp_path / "ns") / "transforms.json").exists()


def test_cancelling_an_export_leaves_no_video(window: MainWindow, trained_project: Path, tmp_path: Path,
                                             qtbot) -> None:  # type: ignore[no-untyped-def]
    window.open_path(trained_project)
    qtbot.waitUntil(lambda: window.scene is not None, timeout=60_000)
    window.open_export()
    dlg = window.export_dialog
    dlg.open_folder = lambda _p: None
    dlg.seconds.setValue(60.0)
    dlg.resolution.setValue(64)
    dlg.out.setText(str(tmp_path / "long.mp4"))
    dlg.export_button.click()
    qtbot.waitUntil(lambda: dlg.progress.value() >= 1, timeout=60_000)
    dlg.cancel_button.click()
    # The status is the job's last signal; the thread itself ends a moment later.
    qtbot.waitUntil(lambda: "Cancelled" in dlg.status.text() and not dlg.job.isRunning(), timeout=60_000)
    assert not (tmp_path / "long.mp4").exists() and dlg.written is None
    assert dlg.export_button.isEnabled()  # can export again


def test_exporting_before_training_explains_what_to_do(window: MainWindow) -> None:
    window.open_export()
    assert window.last_error is not None and "no trained" in window.last_error.text().lower()


def test_the_auto_preset_is_offered_and_owns_the_training_resolution(qtbot) -> None:  # type: ignore[no-untyped-def]
    from nerfie.app.settings_panel import SettingsPanel

    panel = SettingsPanel("cpu-preview")
    qtbot.addWidget(panel)
    assert panel.resolution.isEnabled()
    panel.preset.setCurrentText("auto")
    assert not panel.resolution.isEnabled() and "this machine" in panel.help.text()
    panel.minutes.setValue(4.0)
    cfg = panel.config()
    assert cfg.preset == "auto" and cfg.train.minutes == 4.0
    panel.preset.setCurrentText("gpu-standard")
    assert panel.resolution.isEnabled()
