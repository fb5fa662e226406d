"""The D-NeRF / Blender synthetic layout: ``transforms_{train,val,test}.json`` beside RGBA renders.

The protocol the published tables use (D-NeRF's ``load_blender.py`` and configs): ``camera_angle_x``
for the focal length, ``file_path`` without its ``.png``, the RGBA images resized to half resolution
(400² for the 800² renders) and then composited onto white, a per-frame ``time`` in [0, 1]. Here:

* every split becomes frames of one project; the train split is trained on, the val split is the
  held-out set scored while training, and the **test split is kept aside** for ``nerfie eval``;
* each distinct time gets its own deformation/appearance code, and the code's real moment is kept,
  so a view at an untrained time blends its neighbours' codes *by time* (D-NeRF's test views fall
  between training times);
* the alpha channel is the object's mask (``masks/``), and the object — not an optical-axes point —
  is the subject estimate: the rays through each mask's centre meet at it, and its radius is the
  largest mask extent seen at that distance;
* the model trains at the imported size (the test views are scored at it);
* the backdrop (white, or black) is recorded in the project's config (``model.background``), so the
  model renders it as a backdrop rather than growing floaters to paint it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

from nerfie.recon.camera import Camera
from nerfie.recon.config import NerfieConfig, with_overrides
from nerfie.recon.dataset import write_dataset
from nerfie.recon.errors import NerfieError
from nerfie.recon.events import EventSink, Log, Progress, ignore
from nerfie.recon.fileio import atomic_path, read_json
from nerfie.recon.ingest.frames import frame_name, write_pyramid
from nerfie.recon.process import open_or_create
from nerfie.recon.project import Project
from nerfie.recon.sfm.normalize import normalize_scene
from nerfie.recon.sfm.subject import SubjectEstimate, intersect_rays

SPLITS = ("train", "val", "test")


def is_blender_layout(root: Path) -> bool:
    return root.is_dir() and (root / "transforms_train.json").exists()


def _read_rgba(path: Path) -> np.ndarray:
    """RGBA float [0, 1] (an RGB image counts as opaque)."""
    for candidate in (path, path.with_name(path.name + ".png")):
        if candidate.is_file():
            img = cv2.imread(str(candidate), cv2.IMREAD_UNCHANGED)
            if img is not None:
                break
    else:
        raise NerfieError(f"Image {path}(.png) is missing or unreadable.", "Check the dataset folder.")
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGRA)
    elif img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
    scale = 65535.0 if img.dtype == np.uint16 else 255.0
    return cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA).astype(np.float32) / scale


def _object_estimate(cams: list[Camera], alphas: list[np.ndarray]) -> SubjectEstimate:
    """The object's centre (rays through each mask's centroid meet there) and radius (the largest
    half-extent of a mask, at that view's distance to the centre)."""
    origins, dirs, boxes = [], [], []
    for cam, a in zip(cams, alphas, strict=True):
        ys, xs = np.nonzero(a > 0.5)
        if len(xs) < 10:
            continue
        o, d = cam.pixels_to_rays(torch.tensor([[xs.mean() + 0.5, ys.mean() + 0.5]], dtype=torch.float64))
        origins.append(o[0].numpy())
        dirs.append(d[0].numpy())
        boxes.append((cam, xs, ys))
    if len(origins) < 2:
        raise NerfieError("The images' alpha channels show no object in enough views.",
                          "Use the RGBA renders of the dataset (the object opaque, the background clear).")
    center = intersect_rays(np.stack(origins), np.stack(dirs))
    radius = 0.0
    for cam, xs, ys in boxes:
        depth = float(cam.forward @ (center - cam.position))
        if depth <= 0:
            continue
        u, v = cam.project(torch.tensor(center[None], dtype=torch.float64))[0][0].numpy()
        half = max(np.abs(xs + 0.5 - u).max(), np.abs(ys + 0.5 - v).max())
        radius = max(radius, float(half) * depth / cam.fx)
    in_front = all(float(c.forward @ (center - c.position)) > 0 for c in cams)
    return SubjectEstimate(center=center, radius=radius, source="object masks (alpha)", consistent=in_front,
                           frames=len(origins),
                           note="The object was found from the images' alpha channels.")


def _sphere(center: np.ndarray, radius: float, n: int = 512) -> np.ndarray:
    """``n`` points evenly on a sphere (a Fibonacci lattice): the object's bounding sphere."""
    k = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * k / n)
    theta = math.pi * (1 + 5 ** 0.5) * k
    unit = np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], -1)
    return center + radius * unit


def import_blender(root: str | Path, project_dir: str | Path, config: NerfieConfig, background: str = "white",
                   half_res: bool = True, on_event: EventSink = ignore,
                   cancelled: Callable[[], bool] = lambda: False) -> Project:
    """Create a project from a D-NeRF / Blender-layout folder (see the module docstring)."""
    from nerfie.recon.events import Cancelled

    root = Path(root)
    if background not in ("white", "black"):
        raise NerfieError(f"Unknown background {background!r}.", "Use white or black.")
    files = {s: root / f"transforms_{s}.json" for s in SPLITS if (root / f"transforms_{s}.json").exists()}
    if "train" not in files:
        raise NerfieError(f"{root} has no transforms_train.json.", "Point at a D-NeRF / Blender dataset folder.")
    entries: list[tuple[str, dict, float]] = []  # (split, frame, camera_angle_x)
    for split, path in files.items():
        data = read_json(path)
        try:
            angle = float(data["camera_angle_x"])
            frames = list(data["frames"])
        except (KeyError, TypeError, ValueError) as exc:
            raise NerfieError(f"{path} has no camera_angle_x or frames.", "Use the dataset's own files.") from exc
        entries += [(split, f, angle) for f in frames]
    if not all("time" in f for _, f, _ in entries):
        on_event(Log("import", "The frames carry no time: imported as one moment (a static scene).", "warning"))
    # An object in a fixed light, one view per moment: per-frame appearance codes only let each view
    # explain itself, and free warp codes let each moment's one view pick its own deformation; held on
    # their smooth time curve the warp becomes a function of time, as in D-NeRF (RESULTS.md, "A compiled
    # hash-grid kernel for the CPU, and hook at 30 minutes": the largest gain measured on hook). A body that
    # moves across its own earlier place needs the sampler to follow the deformation (ModelConfig.proposal_space).
    # Four fifths of each view are an empty backdrop learnt in the first minute: the rays follow the error
    # instead (recon.error_map; RESULTS.md, "hook at 30 minutes …").
    config = with_overrides(config, {"model.background": background, "model.fine_ball": "object",
                                     "model.appearance_code_dim": 0, "train.learn_codes": False,
                                     "model.proposal_space": "template", "train.ray_sampling": "error"})
    proj = open_or_create(Path(project_dir), None, config)
    proj.config = config  # a re-import takes this run's backdrop
    proj.save()
    times = sorted({float(f.get("time", 0.0)) for _, f, _ in entries})
    code_of = {t: i for i, t in enumerate(times)}
    names, cams, alphas, time_ids = [], [], [], []
    splits: dict[str, list[int]] = {s: [] for s in SPLITS}
    back = 1.0 if background == "white" else 0.0
    proj.masks_dir.mkdir(exist_ok=True)
    for k, (split, frame, angle) in enumerate(entries):
        if cancelled():
            raise Cancelled()
        rgba = _read_rgba(root / frame["file_path"])
        if half_res:  # D-NeRF's order: resize the RGBA, then composite
            h, w = rgba.shape[:2]
            rgba = cv2.resize(rgba, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        rgb = rgba[..., :3] * rgba[..., 3:] + back * (1 - rgba[..., 3:])
        name = frame_name(k)
        h, w = rgb.shape[:2]
        ow, oh = write_pyramid((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8), proj.root, name, config.ingest)
        if (ow, oh) != (w, h):
            raise NerfieError(f"{frame['file_path']} is {w}×{h}: the pyramid would crop it.",
                              "Use square renders whose side is a multiple of 16 (D-NeRF's are 800²).")
        cam = Camera.from_transforms_frame({"transform_matrix": frame["transform_matrix"], "camera_angle_x": angle,
                                            "w": w, "h": h})
        alpha = rgba[..., 3]
        with atomic_path(proj.masks_dir / name) as tmp:
            cv2.imwrite(str(tmp), np.where(alpha > 0.5, 0, 255).astype(np.uint8))  # black = the subject
        names.append(name)
        cams.append(cam)
        alphas.append(alpha)
        time_ids.append(code_of[float(frame.get("time", 0.0))])
        splits[split].append(k)
        on_event(Progress("import", k + 1, len(entries), f"{split} {frame['file_path']}"))
    subject = _object_estimate([cams[i] for i in splits["train"]], [alphas[i] for i in splits["train"]])
    hull = _sphere(subject.center, subject.radius)
    scene = normalize_scene(dict(zip(names, cams, strict=True)), hull, [[] for _ in hull], None, subject)
    scene_json = scene.to_json()
    # The object is all there is (the backdrop is empty): rays need samples only across its ball, not
    # from a tenth of the way out as a selfie's room-filled views do.
    depths = np.array([float(c.forward @ (subject.center - c.position)) for c in cams])
    scene_json["near"] = 0.9 * max(float(depths.min()) - subject.radius, 0.05 * float(depths.min())) * scene.scale
    scene_json["far"] = 1.1 * (float(depths.max()) + subject.radius) * scene.scale
    write_dataset(proj.root, names, cams, time_ids, scene_json, hull, np.full((len(hull), 3), 128, np.uint8),
                  np.zeros((0, 3)), masks=True, splits=splits, code_times=times if len(times) > 1 else None)
    w, h = cams[0].width, cams[0].height
    if proj.config.train.max_image_side < max(w, h):
        # Scored at the imported size, so trained at it: a step costs the same at any image size (rays
        # are drawn per pixel); a half-size pyramid level would only blur what the test views show.
        proj.config = with_overrides(proj.config, {"train.max_image_side": max(w, h)})
        proj.save()
    proj.set_stage("ingest", "done", names=names, decoded=len(names), source_kind="dnerf", rejected_blurry=0,
                   rejected_duplicate=0, size=[w, h], fps=0.0, duration=0.0, rotation=0, dark=False, seconds=0.0)
    counts = ", ".join(f"{len(splits[s])} {s}" for s in SPLITS if splits[s])
    proj.set_stage("poses", "done", registered=len(names), total=len(names), failed=[], rung="imported",
                   points=0, masks=True, seconds=0.0,
                   report=[f"Poses imported (D-NeRF / Blender layout: {counts}; {w}×{h}, on {background}).",
                           "The test split is kept aside for `nerfie eval`; it is never trained on."])
    return proj
