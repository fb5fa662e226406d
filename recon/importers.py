"""Bring your own poses: build a project from a nerfstudio / instant-ngp ``transforms.json`` dataset
(or a Nerfie synthetic capture, which is one, with exact depth), skipping structure from motion."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import torch

from nerfie.recon.camera import Camera, cameras_from_transforms
from nerfie.recon.config import NerfieConfig
from nerfie.recon.dataset import write_dataset
from nerfie.recon.errors import NerfieError
from nerfie.recon.fileio import read_json
from nerfie.recon.ingest.frames import frame_name, write_pyramid
from nerfie.recon.process import open_or_create
from nerfie.recon.project import Project
from nerfie.recon.sfm.normalize import normalize_scene


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
    return p, np.concatenate(cols), [["synthetic"] * 5 for _ in range(len(p))]


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
        img = cv2.imread(str(src / rel), cv2.IMREAD_COLOR)
        if img is None:
            raise NerfieError(f"Image {src / rel} listed in {transforms.name} is missing.", "Check the dataset.")
        name = frame_name(k)
        w, h = write_pyramid(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), proj.root, name, config.ingest)
        if (w, h) != (cam.width, cam.height):  # capped or cropped: keep the camera consistent
            s = w / img.shape[1] if w != img.shape[1] else 1.0
            cam = cam.scaled(1 / s) if s != 1.0 else cam
            cam = cam.copy(width=w, height=h, cx=cam.cx - (cam.width - w) / 2, cy=cam.cy - (cam.height - h) / 2)
        mask_rel = data["frames"][k].get("mask_path")
        if mask_rel and (src / mask_rel).exists():
            proj.masks_dir.mkdir(exist_ok=True)
            shutil.copyfile(src / mask_rel, proj.masks_dir / name)
        names.append(name)
        cams.append(cam)
    if (src / "depth.npy").exists() and (src / "capture.json").exists():
        points, colors, observers = _points_from_depth(src, cams)
    else:
        centers = np.stack([c.position for c in cams])
        points = centers + np.stack([c.forward for c in cams]) * np.linalg.norm(centers.std(0)) * 2
        colors = np.full((len(points), 3), 128, np.uint8)
        observers = [[] for _ in points]
    cam_map = dict(zip(names, cams, strict=True))
    scene = normalize_scene(cam_map, points, observers, None)
    if (src / "depth.npy").exists():  # exact depths: background points are the points themselves
        scene.background = points[scene.inliers]
    time_ids = list(range(len(names)))
    write_dataset(proj.root, names, cams, time_ids, scene.to_json(), points, colors, scene.background,
                  masks=proj.masks_dir.exists() and any(proj.masks_dir.iterdir()))
    proj.set_stage("ingest", "done", names=names, decoded=len(names), source_kind="transforms",
                   rejected_blurry=0, rejected_duplicate=0, size=[cams[0].width, cams[0].height], fps=0.0,
                   duration=0.0, rotation=0, dark=False, seconds=0.0)
    proj.set_stage("poses", "done", registered=len(names), total=len(names), failed=[], rung="imported",
                   points=len(points), masks=False, seconds=0.0, report=[f"Poses imported from {transforms}"])
    return proj
