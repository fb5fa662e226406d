"""`nerfie process`: bad input fails in one actionable line; rotation; resume after cancel."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nerfie.recon.config import preset, with_overrides
from nerfie.recon.errors import NerfieError
from nerfie.recon.events import Cancelled, Progress
from nerfie.recon.ingest.frames import iter_video_frames
from nerfie.recon.ingest.probe import ffmpeg_exe, probe_video
from nerfie.recon.process import process
from nerfie.recon.project import Project


def nerfie_exe() -> str:
    exe = shutil.which("nerfie", path=str(Path(sys.executable).parent))
    assert exe
    return exe


def run_process(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([nerfie_exe(), "process", *args], capture_output=True, text=True, timeout=300)


def assert_one_line_error(res: subprocess.CompletedProcess[str], *words: str) -> None:
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.splitlines() if ln.strip() and not ln.startswith(("I20", "W20"))]
    assert len(lines) == 1 and lines[0].startswith("nerfie: error:"), res.stderr
    for w in words:
        assert w in lines[0], lines[0]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory, small_capture: Path) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    text = d / "notes.mp4"
    text.write_text("this is not a video\n")
    trunc = d / "truncated.mp4"
    trunc.write_bytes((small_capture / "video.mp4").read_bytes()[:2000])
    audio = d / "voice.m4a"
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i", "sine=d=1", str(audio)], check=True)
    one = d / "one.mp4"
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(small_capture / "video.mp4"), "-frames:v", "1",
                    str(one)], check=True)
    return {"text": text, "truncated": trunc, "audio": audio, "one_frame": one}


@pytest.mark.parametrize(
    ("kind", "words"),
    [("text", ["not a readable video"]), ("truncated", ["not a readable video"]), ("audio", ["no picture"]),
     ("one_frame", ["usable frames"])],
)
def test_bad_videos_fail_in_one_line_and_keep_what_was_there(bad_files: dict[str, Path], tmp_path: Path, kind: str,
                                                             words: list[str]) -> None:
    out = tmp_path / "proj"
    out.mkdir()
    (out / "my-notes.txt").write_text("keep me")
    res = run_process(str(bad_files[kind]), "-o", str(out))
    assert_one_line_error(res, *words)
    assert (out / "my-notes.txt").read_text() == "keep me"


def test_missing_path_fails_in_one_line(tmp_path: Path) -> None:
    assert_one_line_error(run_process(str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "p")), "does not exist")


def test_unwritable_output_folder_fails_in_one_line(tmp_path: Path, small_capture: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert_one_line_error(run_process(str(small_capture / "video.mp4"), "-o", str(blocker / "proj")), "Cannot")


def test_an_existing_project_of_another_video_is_not_touched(tmp_path: Path, small_capture: Path,
                                                             bad_files: dict[str, Path]) -> None:
    proj = Project.create(tmp_path / "p", preset("cpu-preview"), source=str(small_capture / "video.mp4"))
    before = (proj.root / "project.json").read_bytes()
    assert_one_line_error(run_process(str(bad_files["one_frame"]), "-o", str(proj.root)), "was made from")
    assert (proj.root / "project.json").read_bytes() == before


def test_phone_rotation_comes_out_upright(tmp_path: Path, small_capture: Path) -> None:
    """Frames decoded by Nerfie equal ffmpeg's own auto-rotated decode, for a clip tagged as rotated."""
    import imageio_ffmpeg

    src = tmp_path / "wide.mp4"  # non-square so a wrong rotation cannot pass
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(small_capture / "video.mp4"),
                    "-vf", "crop=96:64:0:0", "-frames:v", "3", str(src)], check=True)
    rotated = tmp_path / "rotated.mp4"
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-display_rotation", "90", "-i", str(src), "-c", "copy",
                    str(rotated)], check=True)
    info = probe_video(rotated)
    assert info.rotation in (90, 270) and info.display_size == (64, 96)
    ours = list(iter_video_frames(info))
    gen = imageio_ffmpeg.read_frames(str(rotated))  # ffmpeg applies the display matrix itself
    meta = next(gen)
    _w, _h = meta["size"]
    theirs = [np.frombuffer(f, np.uint8) for f in gen]
    assert ours[0].shape == (96, 64, 3)
    ref = theirs[0].reshape(96, 64, 3) if theirs[0].size == 96 * 64 * 3 else None
    assert ref is not None
    assert np.abs(ours[0].astype(int) - ref.astype(int)).mean() < 2.0


def test_cancel_during_poses_then_rerun_resumes_without_decoding_again(tmp_path: Path) -> None:
    from nerfie.recon.synth import SynthSpec, generate

    cap = generate(tmp_path / "cap", SynthSpec(frames=40, width=160, height=160, heldout=0, seed=2))
    cfg = with_overrides(preset("cpu-preview"), {"ingest.min_frames": 20, "ingest.masks": False,
                                                   "sfm.seeds": [0]})
    seen: list[str] = []

    def cancel_when_poses_start() -> bool:
        return "poses" in seen

    def sink(e: object) -> None:
        if isinstance(e, Progress):
            seen.append(e.stage)

    with pytest.raises(Cancelled):
        process(cap.video, tmp_path / "proj", cfg, sink, cancel_when_poses_start)
    proj = Project.load(tmp_path / "proj")
    assert proj.stages["ingest"].state == "done" and proj.stages["poses"].state == "running"
    frame = proj.frames_dir / "frame_00000.png"
    stamp = frame.stat().st_mtime_ns
    seen.clear()
    proj = process(cap.video, tmp_path / "proj", cfg, sink)
    assert "decode" not in seen  # frames were not decoded again
    assert frame.stat().st_mtime_ns == stamp
    assert proj.stages["poses"].state == "done"
    assert proj.stages["poses"].detail["registered"] >= 38
    for rel in ("transforms.json", "sparse_pc.ply", "dataset.json", "metadata.json", "scene.json", "points.npy",
                "colmap/database.db", "colmap/sparse/0/cameras.bin", "report.txt"):
        assert (proj.root / rel).exists(), rel

    # The COLMAP workspace is a standard one: importing it as "bring your own poses" gives the same cameras.
    from nerfie.recon.dataset import load_dataset
    from nerfie.recon.importers import import_colmap

    imported = import_colmap(proj.colmap_dir / "sparse" / "0", proj.frames_dir, tmp_path / "imported", cfg)
    a, b = load_dataset(proj.root), load_dataset(imported.root)
    assert len(a.cameras) == len(b.cameras)
    for ca, cb in zip(a.cameras, b.cameras, strict=True):
        assert np.allclose(ca.position, cb.position, atol=1e-9) and np.allclose(ca.rotation, cb.rotation, atol=1e-9)
    assert b.scale == pytest.approx(a.scale)


def test_still_camera_says_the_camera_barely_moved(tmp_path: Path) -> None:
    from nerfie.recon.synth import SynthSpec, generate

    cap = generate(tmp_path / "cap", SynthSpec(frames=36, width=128, height=128, heldout=0, variant="still-camera"))
    cfg = with_overrides(preset("cpu-preview"), {"ingest.min_frames": 20, "ingest.masks": False})
    with pytest.raises(NerfieError, match="camera barely moved"):
        process(cap.video, tmp_path / "proj", cfg)
    assert "barely moved" in (tmp_path / "proj" / "report.txt").read_text()


def test_a_nerfies_dataset_folder_imports_with_its_cameras_and_scene(small_capture: Path, tmp_path: Path) -> None:
    import json

    from nerfie.recon.camera import Camera
    from nerfie.recon.dataset import load_dataset
    from nerfie.recon.importers import import_nerfies

    root = tmp_path / "nerfies"
    (root / "camera").mkdir(parents=True)
    (root / "rgb" / "1x").mkdir(parents=True)
    ids = [f"left1_{k:06d}" for k in range(6)]
    cams = []
    for k, item in enumerate(ids):
        cam = Camera.from_json(json.loads((small_capture / "cameras" / f"frame_{k:05d}.json").read_text()))
        cams.append(cam)
        (root / "camera" / f"{item}.json").write_text(json.dumps(cam.to_nerfies_json()))
        shutil.copyfile(small_capture / "frames" / f"frame_{k:05d}.png", root / "rgb" / "1x" / f"{item}.png")
    (root / "dataset.json").write_text(json.dumps({"count": 6, "num_exemplars": 6, "ids": ids,
                                                   "train_ids": ids[:5], "val_ids": ids[5:]}))
    (root / "metadata.json").write_text(json.dumps({i: {"warp_id": 10 + 2 * k, "appearance_id": k, "camera_id": 0}
                                                    for k, i in enumerate(ids)}))
    (root / "scene.json").write_text(json.dumps({"center": [0.0, 0.0, 0.0], "scale": 0.5, "near": 0.05,
                                                 "far": 2.0}))
    proj = import_nerfies(root, tmp_path / "p", preset("cpu-preview"))
    ds = load_dataset(proj.root)
    assert ds.time_ids == [0, 1, 2, 3, 4, 5]  # warp ids re-indexed to their rank, as Nerfies does
    assert ds.scale == 0.5 and ds.near == 0.05 and ds.far == 2.0
    for a, b in zip(ds.cameras, cams, strict=True):
        assert np.allclose(a.position, b.position) and np.allclose(a.rotation, b.rotation) and a.fx == b.fx
