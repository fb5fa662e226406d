"""The trainable dataset inside a project: cameras, ids/time codes, split, scene bounds, points.

Written after poses (from SfM or an importer) and read by the trainer and renderer:

* ``transforms.json`` — nerfstudio-compatible cameras in the raw SfM world, with per-frame
  ``mask_path`` and ``time``; ``sparse_pc.ply`` — the SfM points with colours;
* ``dataset.json`` — ``ids``, ``train_ids``, ``val_ids`` (every 20th frame held out);
* ``metadata.json`` — per id: ``warp_id``, ``appearance_id``, ``camera_id`` (the time index);
* ``scene.json`` — ``center``, ``scale``, ``near``, ``far``, ``up`` (the Nerfies normalisation);
* ``points.npy`` — background points (raw world), for the background regulariser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nerfie.recon.camera import Camera, cameras_from_transforms, transforms_dict
from nerfie.recon.errors import NerfieError
from nerfie.recon.fileio import atomic_path, read_json, write_bytes_atomic, write_json_atomic

VAL_EVERY = 20


def write_ply(path: Path, points: np.ndarray, colors: np.ndarray) -> None:
    """Binary little-endian PLY with float xyz and uchar rgb (what nerfstudio's sparse_pc.ply holds)."""
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"element vertex {len(points)}\n"
        "property float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n"
    ).encode()
    rec = np.zeros(len(points), dtype=[("p", "<f4", 3), ("c", "u1", 3)])
    rec["p"] = points
    rec["c"] = colors
    write_bytes_atomic(path, header + rec.tobytes())



def read_ply(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Points [N, 3] float64 and colours [N, 3] uint8 from a PLY written by :func:`write_ply`."""
    data = path.read_bytes()
    end = data.find(b"end_header\n")
    if not data.startswith(b"ply\n") or end < 0:
        raise NerfieError(f"{path} is not a PLY point cloud.")
    n = next(int(line.split()[2]) for line in data[:end].decode().splitlines() if line.startswith("element vertex"))
    rec = np.frombuffer(data, dtype=[("p", "<f4", 3), ("c", "u1", 3)], count=n, offset=end + len(b"end_header\n"))
    return rec["p"].astype(np.float64), rec["c"].copy()

@dataclass
class Dataset:
    root: Path
    names: list[str]  # image file names (frames/<name>), in time order
    cameras: list[Camera]  # raw world, 1× pixels
    time_ids: list[int]  # warp/appearance id of each frame
    train: list[int]  # indices into names
    val: list[int]
    center: np.ndarray
    scale: float
    near: float
    far: float
    up: np.ndarray
    background: np.ndarray  # raw world
    frames_dir: str = "frames"
    test: list[int] = field(default_factory=list)  # kept aside for `nerfie eval` (D-NeRF's test split)
    code_times: list[float] | None = None  # each code's moment in [0, 1] when the source gave real times
    subject_center: np.ndarray | None = None  # raw world; None: not estimated (a project from before)
    subject_radius: float = 0.0
    subject_source: str = ""

    def normalized_cameras(self) -> list[Camera]:
        return [c.normalized(self.center, self.scale) for c in self.cameras]

    def subject(self) -> tuple[np.ndarray, float]:
        """The subject's centre and radius in the normalised frame: what the model, the paths and the
        viewer frame on (``recon.sfm.subject``)."""
        if self.subject_center is None:
            from nerfie.recon.sfm.normalize import scene_median_depth
            from nerfie.recon.sfm.subject import from_camera_axes

            ply = self.root / "sparse_pc.ply"
            pts = read_ply(ply)[0] if ply.exists() else np.zeros((0, 3))
            depth = scene_median_depth(dict(zip(self.names, self.cameras, strict=True)), pts)
            est = from_camera_axes(self.cameras, depth)
            self.subject_center, self.subject_radius, self.subject_source = est.center, est.radius, est.source
        return (self.subject_center - self.center) * self.scale, self.subject_radius * self.scale

    @property
    def num_codes(self) -> int:
        return max(self.time_ids) + 1 if self.time_ids else 0


def write_dataset(root: Path, names: list[str], cameras: list[Camera], time_ids: list[int], scene_json: dict,
                  points: np.ndarray, colors: np.ndarray, background: np.ndarray, masks: bool,
                  frames_dir: str = "frames", splits: dict[str, list[int]] | None = None,
                  code_times: list[float] | None = None) -> None:
    """Write the dataset files listed in the module docstring (atomically, paths relative).

    ``splits``: {"train", "val", "test"} frame indices given by the source (default: every
    ``VAL_EVERY``-th frame held out); ``code_times``: each code's real moment (default: evenly spaced).
    """
    n_codes = max(time_ids) + 1 if time_ids else 1
    tf = transforms_dict(cameras, [f"{frames_dir}/{n}" for n in names], ply_file_path="sparse_pc.ply")
    for f, n, t in zip(tf["frames"], names, time_ids, strict=True):
        f["time"] = code_times[t] if code_times else t / max(n_codes - 1, 1)
        f["nerfie_id"] = t
        if masks and (root / "masks" / n).exists():
            f["mask_path"] = f"masks/{n}"
    write_json_atomic(root / "transforms.json", tf)
    write_ply(root / "sparse_pc.ply", points, colors)
    ids = [Path(n).stem for n in names]
    if splits is None:
        val = [i for i in range(len(ids)) if i % VAL_EVERY == VAL_EVERY // 2] if len(ids) >= VAL_EVERY else []
        splits = {"train": [i for i in range(len(ids)) if i not in set(val)], "val": val, "test": []}
    write_json_atomic(root / "dataset.json", {
        "count": len(ids), "num_exemplars": len(ids), "ids": ids,
        "train_ids": [ids[i] for i in splits["train"]], "val_ids": [ids[i] for i in splits.get("val", [])],
        **({"test_ids": [ids[i] for i in splits["test"]]} if splits.get("test") else {}),
        **({"code_times": list(code_times)} if code_times else {}),
    })
    write_json_atomic(root / "metadata.json", {
        i: {"warp_id": t, "appearance_id": t, "camera_id": 0} for i, t in zip(ids, time_ids, strict=True)
    })
    write_json_atomic(root / "scene.json", scene_json)
    with atomic_path(root / "points.npy") as tmp:
        np.save(tmp, np.asarray(background, dtype=np.float64).reshape(-1, 3), allow_pickle=False)


def load_dataset(root: Path) -> Dataset:
    """Read what :func:`write_dataset` wrote; a clear error when poses are missing."""
    if not (root / "transforms.json").exists() or not (root / "scene.json").exists():
        raise NerfieError(f"{root} has no camera poses yet.", "Run `nerfie process` on it first.")
    tf = read_json(root / "transforms.json")
    pairs = cameras_from_transforms(tf)
    names = [Path(p).name for _, p in pairs]
    frames_dir = Path(pairs[0][1]).parent.as_posix() if pairs else "frames"
    time_ids = [int(f.get("nerfie_id", i)) for i, f in enumerate(tf["frames"])]
    ds = read_json(root / "dataset.json")
    index = {Path(n).stem: i for i, n in enumerate(names)}
    scene = read_json(root / "scene.json")
    bg = np.load(root / "points.npy") if (root / "points.npy").exists() else np.zeros((0, 3))
    out = Dataset(
        root=root, names=names, cameras=[c for c, _ in pairs], time_ids=time_ids,
        train=[index[i] for i in ds["train_ids"] if i in index], val=[index[i] for i in ds["val_ids"] if i in index],
        center=np.asarray(scene["center"], dtype=np.float64), scale=float(scene["scale"]),
        near=float(scene["near"]), far=float(scene["far"]), up=np.asarray(scene["up"], dtype=np.float64),
        background=bg, frames_dir=frames_dir, test=[index[i] for i in ds.get("test_ids", []) if i in index],
        code_times=[float(t) for t in ds["code_times"]] if ds.get("code_times") else None,
    )
    subj = scene.get("subject")
    if subj:
        out.subject_center = np.asarray(subj["center"], dtype=np.float64)
        out.subject_radius = float(subj["radius"])
        out.subject_source = str(subj.get("source", ""))
    return out
