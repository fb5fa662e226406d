"""A project's posed frames in the layouts other tools read: nerfstudio and Nerfies / HyperNeRF.

* **nerfstudio** (``ns-train nerfacto --data OUT``): ``transforms.json`` (``camera_model`` OPENCV,
  per-frame intrinsics, ``ply_file_path``, ``time`` in [0, 1] for its dynamic methods) beside
  ``images/`` (and ``masks/`` where the project has subject masks) and ``sparse_pc.ply``.
* **Nerfies / HyperNeRF** (their ``NerfiesDataSource``): ``camera/<id>.json``, ``rgb/{1,2,4,8}x/<id>.png``,
  ``dataset.json``, ``metadata.json`` (``warp_id`` = the time index), ``scene.json`` and ``points.npy``.

Cameras are written in the project's data coordinates (those of its ``transforms.json``), at the
frames' full size; downscaled pyramids get cameras scaled by the loaders themselves, as theirs do.
Every file is written atomically; an existing export folder is updated in place.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np

from nerfie.recon.dataset import load_dataset
from nerfie.recon.errors import NerfieError
from nerfie.recon.events import EventSink, Progress, StageDone, ignore
from nerfie.recon.fileio import atomic_path, read_json, write_json_atomic

NERFIES_SCALES = (1, 2, 4, 8)


def _copy(src: Path, dst: Path) -> None:
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def _need_poses(project_root: Path) -> None:
    if not (project_root / "transforms.json").exists():
        raise NerfieError(f"{project_root} has no camera poses yet, so there is nothing to export.",
                          "Run `nerfie process` on it first.")


def export_nerfstudio(project_root: Path, out: Path, on_event: EventSink = ignore) -> Path:
    """Write a nerfstudio dataset folder ``out``; returns its ``transforms.json``."""
    project_root, out = Path(project_root), Path(out)
    _need_poses(project_root)
    data = read_json(project_root / "transforms.json")
    frames = data.get("frames", [])
    for k, frame in enumerate(frames):
        name = Path(frame["file_path"]).name
        _copy(project_root / frame["file_path"], out / "images" / name)
        frame["file_path"] = f"images/{name}"
        if frame.get("mask_path") and (project_root / frame["mask_path"]).exists():
            _copy(project_root / frame["mask_path"], out / "masks" / name)
            frame["mask_path"] = f"masks/{name}"
        else:
            frame.pop("mask_path", None)
        on_event(Progress("export", k + 1, len(frames), "nerfstudio images"))
    ply = data.get("ply_file_path")
    if ply and (project_root / ply).exists():
        _copy(project_root / ply, out / "sparse_pc.ply")
        data["ply_file_path"] = "sparse_pc.ply"
    else:
        data.pop("ply_file_path", None)
    write_json_atomic(out / "transforms.json", data)
    on_event(StageDone("export", f"nerfstudio dataset: {out}"))
    return out / "transforms.json"


def export_nerfies(project_root: Path, out: Path, scales: tuple[int, ...] = NERFIES_SCALES,
                   on_event: EventSink = ignore) -> Path:
    """Write a Nerfies / HyperNeRF dataset folder ``out``; returns ``out``."""
    project_root, out = Path(project_root), Path(out)
    _need_poses(project_root)
    ds = load_dataset(project_root)
    ids = [Path(n).stem for n in ds.names]
    for k, (name, item, cam) in enumerate(zip(ds.names, ids, ds.cameras, strict=True)):
        write_json_atomic(out / "camera" / f"{item}.json", cam.to_nerfies_json())
        img = cv2.imread(str(project_root / ds.frames_dir / name), cv2.IMREAD_COLOR)
        if img is None:
            raise NerfieError(f"Frame {name} of {project_root} is missing or unreadable.",
                              "Run `nerfie process` on the project again to rebuild its frames.")
        for s in scales:
            size = (max(1, round(img.shape[1] / s)), max(1, round(img.shape[0] / s)))
            scaled = img if s == 1 else cv2.resize(img, size, interpolation=cv2.INTER_AREA)
            with atomic_path(out / "rgb" / f"{s}x" / f"{item}.png") as tmp:
                cv2.imwrite(str(tmp), scaled)
        on_event(Progress("export", k + 1, len(ids), "Nerfies cameras and images"))
    for name in ("dataset.json", "metadata.json", "scene.json", "points.npy"):
        if (project_root / name).exists():
            _copy(project_root / name, out / name)
    if not (project_root / "points.npy").exists():
        with atomic_path(out / "points.npy") as tmp:
            np.save(tmp, np.asarray(ds.background, dtype=np.float64).reshape(-1, 3), allow_pickle=False)
    on_event(StageDone("export", f"Nerfies dataset: {out}"))
    return out
