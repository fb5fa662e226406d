"""A project exports to the nerfstudio and Nerfies / HyperNeRF layouts, and they read back the same."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from nerfie.recon.camera import Camera, cameras_from_transforms
from nerfie.recon.config import preset
from nerfie.recon.dataset import load_dataset
from nerfie.recon.errors import NerfieError
from nerfie.recon.fileio import read_json
from nerfie.recon.importers import import_nerfies, import_transforms
from nerfie.recon.project import Project
from nerfie.render.dataset_export import export_nerfies, export_nerfstudio


@pytest.fixture(scope="module")
def project(small_capture: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("export_src") / "proj"
    return import_transforms(small_capture / "transforms.json", root, preset("cpu-preview")).root


def _same_cameras(a: list[Camera], b: list[Camera]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert np.allclose(x.rotation, y.rotation, atol=1e-6) and np.allclose(x.position, y.position, atol=1e-6)
        assert np.allclose(x.intrinsics, y.intrinsics, atol=1e-6)
        assert (x.width, x.height) == (y.width, y.height)


def test_nerfstudio_export_has_what_ns_train_reads_and_the_same_cameras(project: Path, tmp_path: Path) -> None:
    tf_path = export_nerfstudio(project, tmp_path / "ns")
    data = read_json(tf_path)
    assert data["camera_model"] == "OPENCV" and data["ply_file_path"] == "sparse_pc.ply"
    assert (tmp_path / "ns" / "sparse_pc.ply").exists()
    pairs = cameras_from_transforms(data)
    assert all((tmp_path / "ns" / rel).exists() and rel.startswith("images/") for _, rel in pairs)
    assert all(0.0 <= f["time"] <= 1.0 for f in data["frames"])
    assert all((tmp_path / "ns" / f["mask_path"]).exists() for f in data["frames"])
    _same_cameras([c for c, _ in pairs], load_dataset(project).cameras)
    # and Nerfie reads it back: same cameras, same times, the sparse points kept
    back = import_transforms(tf_path, tmp_path / "again", preset("cpu-preview"))
    again, orig = load_dataset(back.root), load_dataset(project)
    _same_cameras(again.cameras, orig.cameras)
    assert again.time_ids == orig.time_ids


def test_nerfies_export_loads_with_the_nerfies_importer_and_keeps_cameras_and_times(project: Path,
                                                                                     tmp_path: Path) -> None:
    out = export_nerfies(project, tmp_path / "nerfies")
    orig = load_dataset(project)
    ids = read_json(out / "dataset.json")["ids"]
    assert len(ids) == len(orig.names)
    for s in (1, 2, 4, 8):  # the pyramid their loaders pick a scale from
        img = cv2.imread(str(out / "rgb" / f"{s}x" / f"{ids[0]}.png"))
        assert img.shape[1] == round(orig.cameras[0].width / s)
    meta = read_json(out / "metadata.json")
    assert [meta[i]["warp_id"] for i in ids] == orig.time_ids
    assert np.load(out / "points.npy").shape[1] == 3 and read_json(out / "scene.json")["scale"] > 0
    back = import_nerfies(out, tmp_path / "again", preset("cpu-preview"))
    again = load_dataset(back.root)
    _same_cameras(again.cameras, orig.cameras)
    assert again.time_ids == orig.time_ids


def test_shared_times_stay_shared_through_a_nerfstudio_round_trip(project: Path, tmp_path: Path) -> None:
    """Two views filmed at one instant (a D-NeRF-style file) get one deformation code."""
    import json

    data = read_json(export_nerfstudio(project, tmp_path / "ns"))
    for f in data["frames"]:
        f.pop("nerfie_id", None)
    data["frames"][1]["time"] = data["frames"][0]["time"]
    (tmp_path / "ns" / "transforms.json").write_text(json.dumps(data))
    imported = import_transforms(tmp_path / "ns" / "transforms.json", tmp_path / "p", preset("cpu-preview"))
    back = load_dataset(imported.root)
    assert back.time_ids[0] == back.time_ids[1] and back.time_ids[2] == 1


def test_a_project_without_poses_says_what_to_do(tmp_path: Path) -> None:
    Project.create(tmp_path / "empty", preset("cpu-preview"))
    with pytest.raises(NerfieError, match="nerfie process"):
        export_nerfies(tmp_path / "empty", tmp_path / "out")
