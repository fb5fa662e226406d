"""Bring your own poses, skipping structure from motion: a nerfstudio / instant-ngp
``transforms.json`` dataset (a Nerfie synthetic capture is one, with exact depth), a COLMAP
``sparse/<k>`` model with its images, or a Nerfies / HyperNeRF dataset folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import torch

from nerfie.recon.camera import Camera, cameras_from_transforms
from nerfie.recon.config import NerfieConfig
from nerfie.recon.dataset import read_ply, write_dataset
from nerfie.recon.errors import NerfieError
from nerfie.recon.events import EventSink, ignore
from nerfie.recon.fileio import read_json
from nerfie.recon.ingest.frames import frame_name, write_pyramid
from nerfie.recon.process import open_or_create
from nerfie.recon.project import Project
from nerfie.recon.sfm.normalize import normalize_scene, scene_median_depth
from nerfie.recon.sfm.subject import estimate_subject, observations


def _points_from_depth(capture: Path, cams: list[Camera], every: int = 7) -> tuple[np.ndarray, np.ndarray, list]:
    """Surface points from a synthetic capture's exact depth maps (background pixels only)."""
    depth = np.load(capture / "depth.npy")
    pts, cols = [], []
    for k, cam in enumerate(cams):
        if k % 5:
            continue
        mask_path = capture / "masks" / f"frame_{k:05d}.png"
        if mask_path.exists():
            keep = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE) > 127
        else:
            keep = np.ones_like(depth[k], bool)
        px = cam.pixel_centers(dtype=torch.float64)
        sel = torch.from_numpy(keep)
        grid = torch.zeros_like(sel)
        grid[::every, ::every] = True
        sel &= grid
        p = cam.unproject(px[sel], torch.from_numpy(depth[k][sel.numpy()]).double()).numpy()
        pts.append(p)
        cols.append(np.full((len(p), 3), 128, np.uint8))
    p = np.concatenate(pts)
    return p, np.concatenate(cols), [[] for _ in range(len(p))]  # exact points: no SfM tracks


def import_transforms(transforms: str | Path, project_dir: str | Path, config: NerfieConfig) -> Project:
    """Create a project from ``transforms.json`` (paths relative to its folder), keeping its cameras."""
    transforms = Path(transforms)
    src = transforms.parent
    data = read_json(transforms)
    pairs = cameras_from_transforms(data)
    if not pairs:
        raise NerfieError(f"{transforms} lists no frames.", "Pass a nerfstudio or instant-ngp transforms.json.")
    proj = open_or_create(Path(project_dir), None, config)
    names, cams = [], []
    for k, (cam, rel) in enumerate(pairs):
        name = frame_name(k)
        cams.append(_copy_frame(proj, src / rel, name, config, cam))
        mask_rel = data["frames"][k].get("mask_path")
        if mask_rel and (src / mask_rel).exists():
            proj.masks_dir.mkdir(exist_ok=True)
            shutil.copyfile(src / mask_rel, proj.masks_dir / name)
        names.append(name)
    background = None
    ply = data.get("ply_file_path")
    if (src / "depth.npy").exists() and (src / "capture.json").exists():
        points, colors, observers = _points_from_depth(src, cams)
        background = points  # exact surface points of the static room
    elif ply and (src / ply).exists():  # nerfstudio's sparse points (ns-process-data, `nerfie export`)
        points, colors = read_ply(src / ply)
        observers = [[] for _ in points]
    else:
        centers = np.stack([c.position for c in cams])
        points = centers + np.stack([c.forward for c in cams]) * np.linalg.norm(centers.std(0)) * 2
        colors = np.full((len(points), 3), 128, np.uint8)
        observers = [[] for _ in points]
    return _finish_import(proj, names, cams, points, colors, observers, _time_ids(data["frames"]), "transforms",
                          background=background)


def _time_ids(frames: list[dict]) -> list[int]:
    """Each frame's time index: Nerfie's own ``nerfie_id``, else the rank of its ``time`` (nerfstudio,
    D-NeRF: frames filmed at one instant share a deformation code), else one per frame."""
    if frames and all("nerfie_id" in f for f in frames):
        ids = [int(f["nerfie_id"]) for f in frames]
    elif frames and all("time" in f for f in frames):
        ids = [float(f["time"]) for f in frames]  # type: ignore[misc]
    else:
        return list(range(len(frames)))
    rank = {v: r for r, v in enumerate(sorted(set(ids)))}
    return [rank[v] for v in ids]


def _finish_import(proj: Project, names: list[str], cams: list[Camera], points: np.ndarray, colors: np.ndarray,
                   observers: list[list[str]], time_ids: list[int], source: str,
                   scene_override: dict | None = None, background: np.ndarray | None = None) -> Project:
    cam_map = dict(zip(names, cams, strict=True))
    subject = None
    if proj.masks_dir.exists() and any(proj.masks_dir.iterdir()):
        obs = observations(proj.masks_dir, names)
        if obs:
            subject = estimate_subject(cam_map, obs, scene_median_depth(cam_map, points))
    scene = normalize_scene(cam_map, points, observers, None, subject)
    scene_json = scene.to_json()
    if scene_override:
        scene_json.update(scene_override)
    bg = scene.background if background is None else background
    write_dataset(proj.root, names, cams, time_ids, scene_json, points, colors, bg,
                  masks=proj.masks_dir.exists() and any(proj.masks_dir.iterdir()))
    proj.set_stage("ingest", "done", names=names, decoded=len(names), source_kind=source, rejected_blurry=0,
                   rejected_duplicate=0, size=[cams[0].width, cams[0].height], fps=0.0, duration=0.0, rotation=0,
                   dark=False, seconds=0.0)
    proj.set_stage("poses", "done", registered=len(names), total=len(names), failed=[], rung="imported",
                   points=len(points), masks=False, seconds=0.0, report=[f"Poses imported ({source})"])
    return proj


def _copy_frame(proj: Project, src: Path, name: str, config: NerfieConfig, cam: Camera) -> Camera:
    img = cv2.imread(str(src), cv2.IMREAD_COLOR)
    if img is None:
        raise NerfieError(f"Image {src} is missing or unreadable.", "Check the dataset folder.")
    if (img.shape[1], img.shape[0]) != (cam.width, cam.height):
        raise NerfieError(f"{src.name} is {img.shape[1]}x{img.shape[0]} but its camera says "
                          f"{cam.width}x{cam.height}.", "Point the importer at the full-size images.")
    w, h = write_pyramid(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), proj.root, name, config.ingest)
    if (w, h) != (cam.width, cam.height):
        s = min(1.0, config.ingest.max_side / max(cam.width, cam.height))
        scaled = cam.scaled(1 / s) if s < 1 else cam
        cam = scaled.copy(width=w, height=h, cx=scaled.cx - (scaled.width - w) / 2,
                          cy=scaled.cy - (scaled.height - h) / 2)
    return cam


def import_colmap(model_dir: str | Path, image_dir: str | Path, project_dir: str | Path,
                  config: NerfieConfig) -> Project:
    """A COLMAP model folder (``cameras/images/points3D`` .bin or .txt) and the images it was made from."""
    import pycolmap

    from nerfie.recon.sfm.colmap_runner import reconstruction_cameras

    model_dir, image_dir = Path(model_dir), Path(image_dir)
    try:
        rec = pycolmap.Reconstruction(str(model_dir))
    except Exception as exc:
        raise NerfieError(f"{model_dir} is not a readable COLMAP model ({exc}).",
                          "Pass a sparse/<k> folder with cameras, images and points3D files.") from exc
    cameras, points, colors, observers = reconstruction_cameras(rec)
    if not cameras:
        raise NerfieError(f"The COLMAP model in {model_dir} has no registered images.")
    proj = open_or_create(Path(project_dir), None, config)
    order = sorted(cameras)
    names, cams = [], []
    rename = {}
    for k, src_name in enumerate(order):
        name = frame_name(k)
        rename[src_name] = name
        cams.append(_copy_frame(proj, image_dir / src_name, name, config, cameras[src_name]))
        names.append(name)
    observers = [[rename[o] for o in obs if o in rename] for obs in observers]
    return _finish_import(proj, names, cams, points, colors, observers, list(range(len(names))), "colmap")


def import_nerfies(dataset_dir: str | Path, project_dir: str | Path, config: NerfieConfig) -> Project:
    """A Nerfies / HyperNeRF dataset: ``camera/<id>.json``, ``rgb/1x/<id>.png``, ``dataset.json``,
    ``metadata.json`` (warp ids = the time index), ``scene.json`` and optional ``points.npy``."""
    root = Path(dataset_dir)
    ds = read_json(root / "dataset.json")
    meta = read_json(root / "metadata.json") if (root / "metadata.json").exists() else {}
    ids = list(ds.get("ids", []))
    if not ids:
        raise NerfieError(f"{root / 'dataset.json'} lists no ids.", "Pass a Nerfies dataset folder.")
    proj = open_or_create(Path(project_dir), None, config)
    names, cams, time_ids = [], [], []
    warp_ids = sorted({int(meta.get(i, {}).get("warp_id", k)) for k, i in enumerate(ids)})
    rank = {w: r for r, w in enumerate(warp_ids)}
    for k, item in enumerate(ids):
        cam = Camera.from_nerfies_json(read_json(root / "camera" / f"{item}.json"))
        name = frame_name(k)
        cams.append(_copy_frame(proj, root / "rgb" / "1x" / f"{item}.png", name, config, cam))
        names.append(name)
        time_ids.append(rank[int(meta.get(item, {}).get("warp_id", k))])
    scene = read_json(root / "scene.json") if (root / "scene.json").exists() else {}
    pts = np.load(root / "points.npy") if (root / "points.npy").exists() else np.zeros((0, 3))
    if len(pts) == 0:
        centers = np.stack([c.position for c in cams])
        pts = centers + np.stack([c.forward for c in cams]) * np.linalg.norm(centers.std(0)) * 2
    override = {k: scene[k] for k in ("center", "scale", "near", "far") if k in scene}
    return _finish_import(proj, names, cams, pts, np.full((len(pts), 3), 128, np.uint8), [[] for _ in pts],
                          time_ids, "nerfies", override, background=pts)


def detect_dataset(source: str | Path) -> str | None:
    """Which importer reads ``source``: "transforms", "blender" (D-NeRF), "colmap", "nerfies", or None."""
    from nerfie.recon.import_blender import is_blender_layout

    src = Path(source)
    if src.is_file():
        return "transforms" if src.suffix == ".json" else None
    if not src.is_dir():
        return None
    if is_blender_layout(src):
        return "blender"
    if (src / "transforms.json").exists():
        return "transforms"
    if (src / "dataset.json").exists() and (src / "camera").is_dir():
        return "nerfies"
    if _colmap_model_dir(src) is not None:
        return "colmap"
    return None


def _colmap_model_dir(root: Path) -> Path | None:
    """The model folder in a COLMAP workspace: ``sparse/0``, ``sparse`` or the folder itself."""
    for cand in (root / "sparse" / "0", root / "sparse", root / "colmap" / "sparse" / "0", root):
        if any((cand / f"images{ext}").exists() for ext in (".bin", ".txt")):
            return cand
    return None


def import_dataset(source: str | Path, project_dir: str | Path, config: NerfieConfig, background: str = "white",
                   half_res: bool = True, on_event: EventSink = ignore) -> Project:
    """Create a project from any posed dataset :func:`detect_dataset` recognises (``background`` and
    ``half_res``: the D-NeRF / Blender layout's compositing and size)."""
    src = Path(source)
    kind = detect_dataset(src)
    if kind == "blender":
        from nerfie.recon.import_blender import import_blender

        return import_blender(src, project_dir, config, background, half_res, on_event)
    if kind == "transforms":
        return import_transforms(src if src.is_file() else src / "transforms.json", project_dir, config)
    if kind == "nerfies":
        return import_nerfies(src, project_dir, config)
    if kind == "colmap":
        model = _colmap_model_dir(src)
        assert model is not None
        images = next((p for p in (src / "images", model.parent / "images", model.parent.parent / "images")
                       if p.is_dir()), None)
        if images is None:
            raise NerfieError(f"Found a COLMAP model in {model} but no images/ folder beside it.",
                              "Put the images the model was made from in an images/ folder next to sparse/.")
        return import_colmap(model, images, project_dir, config)
    raise NerfieError(f"{src} is not a dataset with camera poses Nerfie can read.",
                      "Give a transforms.json (nerfstudio / instant-ngp), a D-NeRF folder (transforms_train.json …), "
                      "a COLMAP workspace (sparse/ and "
                      "images/) or a Nerfies dataset folder (camera/, rgb/, dataset.json); for a video, "
                      "use `nerfie process`.")
