"""Project folders: versioned, relocatable, written atomically."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nerfie.recon.config import preset
from nerfie.recon.errors import NerfieError, ProjectError
from nerfie.recon.fileio import atomic_path, write_json_atomic
from nerfie.recon.project import FORMAT_VERSION, PROJECT_FILE, Project


def test_create_then_load_restores_config_and_stages(tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00")
    proj = Project.create(tmp_path / "p", preset("cpu-preview"), source=str(video))
    proj.set_stage("ingest", "done", decoded=120)
    back = Project.load(tmp_path / "p")
    assert back.config == preset("cpu-preview")
    assert back.stages["ingest"].state == "done" and back.stages["ingest"].detail == {"decoded": 120}
    assert back.source == "../clip.mp4"
    for sub in ("frames", "masks", "colmap", "checkpoints", "renders"):
        assert (tmp_path / "p" / sub).is_dir()


def test_project_json_holds_only_relative_paths_and_survives_a_move(tmp_path: Path) -> None:
    proj = Project.create(tmp_path / "a" / "p", preset("gpu-standard"), source=str(tmp_path / "a" / "v.mp4"))
    text = (proj.root / PROJECT_FILE).read_text()
    assert str(tmp_path) not in text
    shutil.move(str(tmp_path / "a"), str(tmp_path / "b"))
    moved = Project.load(tmp_path / "b" / "p")
    assert moved.resolve(moved.source) == (tmp_path / "b" / "v.mp4").resolve()


def test_a_newer_project_format_is_refused_with_advice(tmp_path: Path) -> None:
    proj = Project.create(tmp_path / "p", preset("cpu-preview"))
    data = json.loads((proj.root / PROJECT_FILE).read_text())
    data["version"] = FORMAT_VERSION + 1
    (proj.root / PROJECT_FILE).write_text(json.dumps(data))
    with pytest.raises(ProjectError, match="newer Nerfie") as err:
        Project.load(proj.root)
    assert "Update Nerfie" in err.value.advice


@pytest.mark.parametrize(
    "payload",
    [{"format": "something-else", "version": 1}, {"version": 1}, {"format": "nerfie-project", "version": "x"}],
)
def test_unknown_formats_are_refused(tmp_path: Path, payload: dict) -> None:
    (tmp_path / PROJECT_FILE).write_text(json.dumps(payload))
    with pytest.raises(ProjectError):
        Project.load(tmp_path)


def test_a_bad_config_in_the_project_names_the_key(tmp_path: Path) -> None:
    proj = Project.create(tmp_path / "p", preset("cpu-preview"))
    data = json.loads((proj.root / PROJECT_FILE).read_text())
    data["config"]["train"]["stepz"] = 3
    (proj.root / PROJECT_FILE).write_text(json.dumps(data))
    with pytest.raises(ProjectError, match=r"train\.stepz"):
        Project.load(proj.root)


def test_corrupt_and_missing_project_files_give_plain_errors(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="not a Nerfie project"):
        Project.load(tmp_path)
    (tmp_path / PROJECT_FILE).write_text("{ half written")
    with pytest.raises(NerfieError, match="not valid JSON"):
        Project.load(tmp_path)


def test_creating_over_an_existing_project_is_refused(tmp_path: Path) -> None:
    Project.create(tmp_path / "p", preset("cpu-preview"))
    with pytest.raises(ProjectError, match="already holds"):
        Project.create(tmp_path / "p", preset("cpu-preview"))


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    write_json_atomic(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("killed mid-write")
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_atomic_write_reports_a_full_disk_plainly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    def full(*_a: object, **_k: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(NerfieError, match="disk is full"):
        write_json_atomic(tmp_path / "y.json", {"b": 2})
    assert list(tmp_path.iterdir()) == []


def test_each_stage_records_only_the_fields_of_its_type_and_reads_back_typed(tmp_path: Path) -> None:
    from nerfie.recon.stage_details import PosesDetail, TrainDetail

    proj = Project.create(tmp_path / "p", preset("cpu-preview"))
    proj.set_stage("poses", "done", registered=30, total=40, failed=["a.png"])
    with pytest.raises(KeyError, match="registred"):  # a misspelt key is caught where it is written
        proj.set_stage("poses", "done", registred=30)
    back = Project.load(proj.root)
    assert back.detail("poses") == PosesDetail(registered=30, total=40, failed=["a.png"])
    assert back.detail("train") == TrainDetail()  # nothing recorded yet: the type's defaults
    data = json.loads((proj.root / "project.json").read_text())
    data["stages"]["poses"]["detail"]["from_a_newer_version"] = 1  # ignored on reading
    (proj.root / "project.json").write_text(json.dumps(data))
    assert Project.load(proj.root).detail("poses").registered == 30
