"""``nerfie eval``: score a split the model never trained on, each view at its own camera and time.

What the published tables do (D-NeRF, TiNeuVox, HexPlane …): every test view rendered at its own
pose and time, at the resolution the images were imported at (400² for D-NeRF's half-res protocol),
compared with the image composited on the same backdrop; PSNR per view and their plain mean (not
the MSE-mean the training report uses), SSIM (pytorch-msssim, 11-px Gaussian window, as the papers'
``skimage``/TF SSIM), MS-SSIM where the image is large enough for its five scales (> 160 px a side).

LPIPS needs a pretrained network's weights. Nothing is downloaded: it is computed only when the
``lpips`` package and its backbone's weights are already on this machine, and ``eval.json`` says
which network (VGG, as HexPlane and Deformable-3DGS report) or why it was left out.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

from nerfie.recon.errors import NerfieError
from nerfie.recon.events import Cancelled, EventSink, Progress, StageDone, ignore
from nerfie.recon.fileio import atomic_path, write_json_atomic
from nerfie.recon.quality import psnr_of, ssim_of
from nerfie.render.scene import TrainedScene

SPLITS = ("test", "val", "heldout", "train")
TRAIN_SAMPLE = 8  # training views scored by the "train" split, spread evenly through the clip
EVAL_RECORD = "eval.json"
EVAL_IMAGES = "eval"  # eval/<split>/<frame>: the image (left) and the render (right)
MS_SSIM_MIN_SIDE = 161  # pytorch-msssim: five scales of an 11-px window need > (11 - 1) · 2⁴ pixels


def split_indices(scene: TrainedScene, split: str) -> list[int]:
    """The frames of ``split``: "test" (kept aside at import), "val" / "heldout" (scored while training),
    "train" (``TRAIN_SAMPLE`` views the model trained on: far above held-out means the model paints each
    view rather than holding one consistent scene; close to it and low means it is not fitting at all)."""
    if split not in SPLITS:
        raise NerfieError(f"Unknown split {split!r}.", f"Use one of: {', '.join(SPLITS)}.")
    if split == "train":
        train = list(scene.dataset.train)
        if not train:
            raise NerfieError("This project has no training views.", "Process the capture again.")
        picks = np.linspace(0, len(train) - 1, min(TRAIN_SAMPLE, len(train))).round().astype(int)
        return [train[i] for i in sorted(set(picks.tolist()))]
    idx = scene.dataset.test if split == "test" else scene.dataset.val
    if not idx:
        advice = ("Only datasets imported with a test split have one (D-NeRF: transforms_test.json); "
                  "use --split heldout." if split == "test" else "This project held no frames out of training.")
        raise NerfieError(f"This project has no {split} views.", advice)
    return list(idx)


def ms_ssim_of(pred: torch.Tensor, gt: torch.Tensor) -> float:
    """MS-SSIM of [H, W, 3] images in [0, 1] (pytorch-msssim); NaN when the image is too small."""
    from pytorch_msssim import ms_ssim

    if min(pred.shape[:2]) < MS_SSIM_MIN_SIDE:
        return float("nan")
    a = pred.permute(2, 0, 1)[None].float().clamp(0, 1)
    b = gt.permute(2, 0, 1)[None].float()
    return float(ms_ssim(a, b, data_range=1.0, size_average=True))


def lpips_metric() -> tuple[Callable[[torch.Tensor, torch.Tensor], float] | None, str]:
    """(LPIPS-VGG, "vgg") when its package and weights are here already; else (None, the reason)."""
    try:
        import lpips  # type: ignore[import-not-found]
    except Exception:
        return None, "not computed: the lpips package is not installed (pip install lpips, with its VGG weights)"
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    if not any(hub.glob("vgg16-*.pth")):
        return None, f"not computed: no VGG16 weights in {hub} (nothing is downloaded at run time)"
    net = lpips.LPIPS(net="vgg", verbose=False).eval()

    def score(pred: torch.Tensor, gt: torch.Tensor) -> float:
        with torch.no_grad():
            return float(net(pred.permute(2, 0, 1)[None] * 2 - 1, gt.permute(2, 0, 1)[None] * 2 - 1))

    return score, "vgg"


def _mean(values: list[float]) -> float | None:
    v = [x for x in values if not math.isnan(x)]
    return float(np.mean(v)) if v else None


def evaluate_split(scene: TrainedScene, split: str = "test", on_event: EventSink = ignore,
                   cancelled: Callable[[], bool] = lambda: False, write: bool = True, images: bool = True) -> dict:
    """Render and score every view of ``split``; writes ``eval.json`` into the project (``write``) and
    each view as ``eval/<split>/<frame>``: the image and the render side by side (``images``), to look at."""
    idx = split_indices(scene, split)
    ds = scene.dataset
    lpips_fn, lpips_name = lpips_metric()
    views = []
    t0 = time.perf_counter()
    for k, i in enumerate(idx):
        if cancelled():
            raise Cancelled()
        cam = scene.cameras[i]
        img = cv2.imread(str(ds.root / ds.frames_dir / ds.names[i]), cv2.IMREAD_COLOR)
        if img is None:
            raise NerfieError(f"Frame {ds.names[i]} is missing from the project.", "Import the dataset again.")
        gt = torch.from_numpy(cv2.cvtColor(img, cv2.COLOR_BGR2RGB)).float() / 255
        if gt.shape[:2] != (cam.height, cam.width):
            raise NerfieError(f"Frame {ds.names[i]} is not the size of its camera.", "Import the dataset again.")
        pred = scene.render(cam, float(ds.time_ids[i]))["rgb"].clamp(0, 1).cpu().float()
        view = {"frame": ds.names[i], "time": ds.code_times[ds.time_ids[i]] if ds.code_times else ds.time_ids[i],
                "psnr": psnr_of(pred, gt), "ssim": ssim_of(pred, gt), "ms_ssim": ms_ssim_of(pred, gt)}
        if lpips_fn is not None:
            view["lpips"] = lpips_fn(pred, gt)
        views.append(view)
        if write and images:
            pair = (torch.cat([gt, pred], dim=1).numpy() * 255 + 0.5).astype(np.uint8)
            with atomic_path(scene.project.root / EVAL_IMAGES / split / ds.names[i]) as tmp:
                cv2.imwrite(str(tmp), cv2.cvtColor(pair, cv2.COLOR_RGB2BGR))
        on_event(Progress("eval", k + 1, len(idx), f"{split} view {k + 1}: {view['psnr']:.2f} dB"))
    mean = {m: _mean([v[m] for v in views]) for m in ("psnr", "ssim", "ms_ssim", *(["lpips"] if lpips_fn else []))}
    record = {
        "split": split, "views": len(views), "step": scene.step, "resolution": [scene.cameras[idx[0]].width,
                                                                               scene.cameras[idx[0]].height],
        "background": scene.project.config.model.background, "mean": mean,
        "psnr_mean": "per-view PSNR, then their mean (as the published tables)",
        "lpips": {"network": lpips_name} if lpips_fn else {"skipped": lpips_name},
        "seconds": round(time.perf_counter() - t0, 1),
        **({"images": f"{EVAL_IMAGES}/{split}/"} if write and images else {}),
        "per_view": [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in view.items()}
                     for view in views],
    }
    if write:
        write_json_atomic(scene.project.root / EVAL_RECORD, record)
    on_event(StageDone("eval", f"{split}: {len(views)} views, PSNR {mean['psnr']:.2f} dB, SSIM {mean['ssim']:.4f}"))
    return record
