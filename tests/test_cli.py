"""The `nerfie` command line: info, synth, and one-line errors with a non-zero exit."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nerfie.app.cli import main


def nerfie_exe() -> str:
    exe = shutil.which("nerfie", path=str(Path(sys.executable).parent))
    assert exe
    return exe


def test_info_reports_device_threads_backends_and_tools() -> None:
    res = subprocess.run([nerfie_exe(), "info"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    for key in ("nerfie:", "device:", "mps:", "torch threads:", "hashgrid/torch:", "hashgrid/triton:",
                "hashgrid/tinycudann:", "pycolmap:", "ffmpeg:"):
        assert key in out, key
    assert "CPU" in out or "CUDA" in out or "MPS" in out


def test_synth_writes_a_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["synth", str(tmp_path / "s"), "--frames", "6", "--size", "48x40", "--heldout", "1", "-q"])
    assert rc == 0
    assert (tmp_path / "s" / "video.mp4").stat().st_size > 0
    assert len(list((tmp_path / "s" / "frames").glob("*.png"))) == 6
    assert "Wrote 6 frames" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args", [["--size", "12xab"], ["--size", "0x10"], ["--frames", "0"], ["--size", "256"]]
)
def test_synth_bad_input_exits_non_zero_with_one_line(tmp_path: Path, args: list[str]) -> None:
    res = subprocess.run([nerfie_exe(), "synth", str(tmp_path / "s"), *args], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("nerfie: error:"), res.stderr
    assert "Traceback" not in res.stderr


def test_bad_set_option_and_untrained_project_fail_in_one_line(tmp_path: Path) -> None:
    from nerfie.recon.config import preset
    from nerfie.recon.project import Project

    res = subprocess.run([nerfie_exe(), "process", str(tmp_path / "v.mp4"), "-o", str(tmp_path / "p"), "--set",
                          "train.lr"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stderr.strip().startswith("nerfie: error: --set")
    assert "Traceback" not in res.stderr
    Project.create(tmp_path / "q", preset("cpu-preview"))
    for verb in ("train", "render"):
        res = subprocess.run([nerfie_exe(), verb, str(tmp_path / "q")], capture_output=True, text=True, timeout=120)
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert res.returncode == 2 and len(lines) == 1 and lines[0].startswith("nerfie: error:"), res.stderr


def test_import_recognises_a_transforms_dataset_and_refuses_a_plain_folder(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from nerfie.recon.project import Project
    from nerfie.recon.synth import SynthSpec, generate

    generate(tmp_path / "cap", SynthSpec(frames=6, width=32, height=32, heldout=0, seed=1))
    assert main(["import", str(tmp_path / "cap"), "-o", str(tmp_path / "proj"), "--preset", "cpu-preview"]) == 0
    assert "Imported a transforms dataset: 6 posed frames" in capsys.readouterr().out
    proj = Project.load(tmp_path / "proj")
    assert proj.stages["poses"].state == "done" and proj.config.preset == "cpu-preview"
    (tmp_path / "empty").mkdir()
    res = subprocess.run([nerfie_exe(), "import", str(tmp_path / "empty")], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2 and "not a dataset with camera poses" in res.stderr and "Traceback" not in res.stderr


def test_run_help_states_the_turntable_defaults_run_uses_on_cpu_and_gpu() -> None:
    from nerfie.app.cli import build_parser, run_turntable_spec
    from nerfie.recon.config import RenderConfig

    parser = build_parser()
    run_parser = next(a for a in parser._subparsers._group_actions[0].choices.values()  # type: ignore[union-attr]
                      if a.prog.endswith(" run"))
    helps = {a.dest: a.help for a in run_parser._actions}
    args = parser.parse_args(["run"])
    cpu = run_turntable_spec(RenderConfig(), True, args)
    gpu = run_turntable_spec(RenderConfig(), False, args)
    assert f"default {cpu.seconds:g} s on a CPU, {gpu.seconds:g} s on a GPU" in helps["seconds"]
    assert f"default {cpu.fps} on a CPU, {gpu.fps} on a GPU" in helps["fps"]
    assert f"default {cpu.long_side} on a CPU" in helps["long_side"] and str(gpu.long_side) in helps["long_side"]
    flagged = run_turntable_spec(RenderConfig(), True, parser.parse_args(["run", "--seconds", "2", "--fps", "8"]))
    assert (flagged.seconds, flagged.fps) == (2, 8)


def test_train_and_info_print_machine_readable_summaries_with_json(small_capture: Path, tmp_path: Path) -> None:
    import json

    from nerfie.recon.config import preset, with_overrides
    from nerfie.recon.importers import import_transforms

    cfg = with_overrides(preset("cpu-preview"), {"train.rays_per_batch": 64, "model.proposal_samples": [8],
                                                 "model.shaded_samples": 8, "train.eval_every": 10,
                                                 "train.checkpoint_every": 0, "train.minutes": 0.0})
    proj = import_transforms(small_capture / "transforms.json", tmp_path / "proj", cfg)
    res = subprocess.run([nerfie_exe(), "train", str(proj.root), "--steps", "20", "--json"], capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    trained = json.loads(res.stdout)  # stdout is the JSON object alone; progress went to stderr
    assert trained["step"] == 20 and trained["checkpoint"].endswith("latest.pt")

    res = subprocess.run([nerfie_exe(), "info", str(proj.root), "--json"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["stages"]["train"]["state"] == "done" and summary["stages"]["train"]["detail"]["step"] == 20
    assert summary["files"]["checkpoint"] == "checkpoints/latest.pt"
    assert summary["history"]["last"]["step"] == 20 and summary["history"]["evaluations"]
    assert json.loads(subprocess.run([nerfie_exe(), "info", "--json"], capture_output=True, text=True,
                                     timeout=120).stdout)["nerfie"]


def test_export_verbs_write_datasets_a_point_cloud_and_extra_render_outputs(small_capture: Path, tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from nerfie.recon.config import preset, with_overrides
    from nerfie.recon.dataset import read_ply
    from nerfie.recon.importers import import_transforms
    from nerfie.recon.train import Trainer

    cfg = with_overrides(preset("cpu-preview"), {"train.rays_per_batch": 64, "model.proposal_samples": [8],
                                                 "model.shaded_samples": 8, "train.eval_every": 0,
                                                 "train.checkpoint_every": 0, "train.minutes": 0.0})
    proj = import_transforms(small_capture / "transforms.json", tmp_path / "proj", cfg)
    Trainer(proj).run(steps=10)
    root = str(proj.root)
    assert main(["export", root, "nerfstudio", "-q"]) == 0
    assert (proj.root / "exports" / "nerfstudio" / "transforms.json").exists()
    assert main(["export", root, "nerfies", "-o", str(tmp_path / "nf"), "-q"]) == 0
    assert (tmp_path / "nf" / "dataset.json").exists() and (tmp_path / "nf" / "rgb" / "4x").is_dir()
    assert main(["export", root, "pointcloud", "--frame", "3", "--min-opacity", "0", "--long-side", "24", "-q"]) == 0
    points, _ = read_ply(proj.root / "exports" / "point_cloud_frame003.ply")
    assert len(points) > 100
    capsys.readouterr()
    assert main(["export", root, "mesh", "--resolution", "24", "-q"]) == 2  # 10 steps: nothing solid yet
    assert "Train longer" in capsys.readouterr().err and not (proj.root / "exports" / "mesh_frame004.ply").exists()
    assert main(["render", root, "--path", "turntable", "--seconds", "1", "--fps", "2", "--long-side", "24",
                 "--outputs", "depth", "cutout", "-q"]) == 0
    renders = proj.root / "renders"
    assert {p.name for p in renders.glob("*.mp4")} == {"turntable.mp4", "turntable.depth.mp4", "turntable.cutout.mp4"}
    assert len(list((renders / "turntable.depth").glob("frame_*.png"))) == 2
    assert "turntable.cutout.mp4" in capsys.readouterr().out
    bad = tmp_path / "dataparser_transforms.json"
    bad.write_text('{"transform": [[2, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], "scale": 1.0}')
    assert main(["render", root, "--camera-path", str(renders / "turntable.camera_path.json"),
                 "--dataparser-transforms", str(bad), "-q"]) == 2
    assert "not a rotation" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "nowhere"), "nerfies"]) == 2  # a clear one-line error, not a traceback
