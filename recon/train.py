"""``nerfie train``: fit a Nerfie to a processed project, resumably, on CUDA, MPS or CPU.

Adam with per-group learning rates decaying exponentially; rays drawn i.i.d. over all pixels of all
training frames; the deformation window α and the hash-level window rise over the first
``warp_anneal_steps``. Checkpoints are written atomically every ``checkpoint_every`` steps and on
stop, and load with ``torch.load(weights_only=True)``; rerunning resumes from the last one. A
non-finite loss skips the step, halves the learning rate and is reported — it never reaches a
checkpoint. Stops at the step budget, the wall-clock budget (``minutes``) or on cancel.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from nerfie.recon.autotune import choose, is_auto
from nerfie.recon.camera import Camera, CameraBatch
from nerfie.recon.config import NerfieConfig, config_from_dict, to_dict
from nerfie.recon.dataset import Dataset, load_dataset
from nerfie.recon.device import configure_threads, describe_device, pick_device
from nerfie.recon.error_map import ErrorMap
from nerfie.recon.errors import NerfieError
from nerfie.recon.events import (
    Cancelled,
    EvalResult,
    Event,
    EventSink,
    Log,
    QualityReport,
    StageDone,
    TrainStatus,
    ignore,
)
from nerfie.recon.fileio import atomic_path, write_json_atomic
from nerfie.recon.model.losses import background_loss, elastic_loss
from nerfie.recon.model.nerfie import NerfieModel
from nerfie.recon.model.rendering import surface_depth
from nerfie.recon.project import Project
from nerfie.recon.quality import (
    Scores,
    consistency_frames,
    is_filmed_path,
    mean_scores,
    plane_homography,
    psnr_of,
    smoothed_cameras,
    ssim_of,
    warp_to,
)
from nerfie.recon.sfm.normalize import fine_ball_radius
from nerfie.recon.thread_budget import ThreadBudget
from nerfie.recon.training_history import TrainingHistory

EVAL_VIEWS_DURING_TRAINING = 5  # held-out views scored at each of training's evaluations (all at the end)
EVAL_SIDE_DURING_TRAINING = 256  # and at most this size (the final report scores at the training size)
OBJECT_BALL_MARGIN = 1.2  # model.fine_ball = "object": the subject's radius times this (its estimate is a bound
# from the masks' extents, and the contraction outside still holds whatever pokes out)
CHECKPOINT = "latest.pt"
AUTOTUNE_RECORD = "autotune.json"  # what the auto preset timed and picked, beside project.json
QUALITY_RECORD = "quality.json"  # the last training run's held-out and view-consistency scores
CHECKPOINT_FORMAT = 1


@dataclass
class TrainData:
    """Training images and cameras at the chosen pyramid level, in normalised scene units."""

    images: torch.Tensor  # uint8 [N, H, W, 3]
    cameras: CameraBatch
    frame_ids: torch.Tensor  # [N] code index of each image
    train: list[int]
    val: list[int]
    near: float
    far: float
    background: torch.Tensor  # [B, 3] normalised
    factor: int
    subject_masks: torch.Tensor | None = None  # bool [N, H, W], True on the subject; None without masks
    camera_list: list[Camera] | None = None  # the same cameras as ``cameras``, one object each


def pick_factor(ds: Dataset, max_side: int) -> int:
    w, h = ds.cameras[0].width, ds.cameras[0].height
    for f in (1, 2, 4, 8):
        d = ds.root / ("frames" if f == 1 else f"frames_{f}")
        if max(w, h) / f <= max_side and d.exists():
            return f
    return 8 if (ds.root / "frames_8").exists() else 1


def load_train_data(ds: Dataset, max_side: int, device: torch.device) -> TrainData:
    f = pick_factor(ds, max_side)
    folder = ds.root / (ds.frames_dir if f == 1 else f"{ds.frames_dir}_{f}")
    cams = [c.scaled(f) for c in ds.normalized_cameras()]
    imgs = []
    for name, cam in zip(ds.names, cams, strict=True):
        img = cv2.imread(str(folder / name), cv2.IMREAD_COLOR)
        if img is None:
            raise NerfieError(f"Frame {folder / name} is missing or unreadable.", "Run `nerfie process` again.")
        if img.shape[:2] != (cam.height, cam.width):
            img = cv2.resize(img, (cam.width, cam.height), interpolation=cv2.INTER_AREA)
        imgs.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    bg = torch.tensor((ds.background - ds.center) * ds.scale, dtype=torch.float32).reshape(-1, 3)
    return TrainData(
        images=torch.from_numpy(np.stack(imgs)).to(device),
        cameras=CameraBatch.stack(cams, device=device),
        frame_ids=torch.tensor(ds.time_ids, device=device),
        train=ds.train or list(range(len(ds.names))), val=ds.val,
        near=ds.near, far=ds.far, background=bg.to(device), factor=f,
        subject_masks=_subject_masks(ds, cams), camera_list=cams,
    )


def _subject_masks(ds: Dataset, cams: list[Camera]) -> torch.Tensor | None:
    """The subject (black in ``masks/``) of every frame at the training size; None unless all have one."""
    out = []
    for name, cam in zip(ds.names, cams, strict=True):
        path = ds.root / "masks" / name
        m = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) if path.exists() else None
        if m is None:
            return None
        if m.shape != (cam.height, cam.width):
            m = cv2.resize(m, (cam.width, cam.height), interpolation=cv2.INTER_NEAREST)
        out.append(m < 128)
    return torch.from_numpy(np.stack(out)) if out else None


def measure_step_seconds(cfg: NerfieConfig, dataset: Dataset, data: TrainData, device: torch.device,
                         cancelled: Callable[[], bool] = lambda: False, steps: int = 5) -> float | None:
    """Seconds one training step with ``cfg`` takes on ``device``, timed on the project's own data.

    Timed at the end of the annealing, when every hash level is on (the dearest steps); two warm-up
    steps first (allocations, kernel selection). None if it runs out of memory.
    """
    rig = Trainer.__new__(Trainer)
    rig.on_event, rig.cancelled, rig.paused = ignore, cancelled, lambda: False
    try:
        rig._build(cfg, dataset, data, device)
        rig.step = cfg.train.warp_anneal_steps
        for _ in range(2):
            rig.train_step()
        times = []
        for _ in range(steps):
            if cancelled():
                raise Cancelled()
            t0 = time.perf_counter()
            rig.train_step()
            times.append(time.perf_counter() - t0)
    except torch.OutOfMemoryError:
        return None
    finally:
        del rig
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return sorted(times)[len(times) // 2]


def warp_alpha(cfg: NerfieConfig, step: int) -> float:
    """The deformation window α at ``step``: 0 → warp_freqs over warp_anneal_steps (coarse-to-fine)."""
    return cfg.model.warp_freqs * min(step / max(cfg.train.warp_anneal_steps, 1), 1.0)


def psnr(mse: float) -> float:
    return -10 * math.log10(max(mse, 1e-10))


def render_camera(model: NerfieModel, cameras: CameraBatch, index: int, width: int, height: int,
                  frame_id: int | None, near: float, far: float, alpha: float, chunk: int = 8192,
                  codes: tuple[torch.Tensor, torch.Tensor] | None = None,
                  samples: tuple[int, int] | None = None) -> dict[str, torch.Tensor]:
    """Render one camera of ``cameras`` in chunks; ``samples`` = (proposal, shaded) overrides the model's."""
    dev = cameras.intrinsics.device
    v, u = torch.meshgrid(torch.arange(height, device=dev) + 0.5, torch.arange(width, device=dev) + 0.5, indexing="ij")
    px = torch.stack([u, v], -1).reshape(-1, 2).float()
    rgb, depth, surface, acc = [], [], [], []
    with torch.no_grad():
        for s in range(0, px.shape[0], chunk):
            p = px[s:s + chunk]
            idx = torch.full((p.shape[0],), index, device=dev, dtype=torch.long)
            o, d = cameras.rays(idx, p)
            if codes is None:
                w, a = model.codes(torch.full((p.shape[0],), int(frame_id or 0), device=dev, dtype=torch.long))
            else:
                w, a = codes[0][:1].expand(p.shape[0], -1), codes[1][:1].expand(p.shape[0], -1)
            out = model.render(o, d, w, a, near, far, alpha, train=False, n_prop=samples[0] if samples else None,
                               n_fine=samples[1] if samples else None)
            rgb.append(out["rgb"])
            depth.append(out["depth"])
            surface.append(surface_depth(out["weights"], out["t_mid"]))
            acc.append(out["acc"])
    return {"rgb": torch.cat(rgb).reshape(height, width, 3), "depth": torch.cat(depth).reshape(height, width),
            "surface": torch.cat(surface).reshape(height, width), "acc": torch.cat(acc).reshape(height, width)}


class Trainer:
    """Owns the model, optimiser and schedule for one project; ``run()`` trains (or resumes)."""

    def __init__(self, project: Project, on_event: EventSink = ignore, cancelled: Callable[[], bool] = lambda: False,
                 paused: Callable[[], bool] = lambda: False, device: str | None = None,
                 between_steps: Callable[[Trainer], None] | None = None) -> None:
        configure_threads()
        self.project = project
        self.cancelled, self.paused = cancelled, paused
        # The curves' events are also kept in the project (metrics.jsonl), so a reopened project shows them.
        self.history = TrainingHistory(project.root)

        def emit(event: Event) -> None:
            self.history.record(event)
            on_event(event)

        self.on_event: EventSink = emit
        # Called after every step and while paused, on this thread, when the weights are consistent:
        # the engine serves live-view renders there (recon knows nothing of viewers).
        self.between_steps = between_steps or (lambda _trainer: None)
        dataset = load_dataset(project.root)
        dev = pick_device(device or project.config.train.device)
        self.ckpt_path = project.checkpoints_dir / CHECKPOINT
        if is_auto(project.config) and not self.ckpt_path.exists():
            # Tuned once, before the first step; a resumed run keeps the sizes its checkpoint has.
            project.config = self._autotune(project.config, dataset, dev)
            project.save()
        self._build(project.config, dataset, load_train_data(dataset, project.config.train.max_image_side, dev), dev)
        if self.ckpt_path.exists():
            self.load(self.ckpt_path)

    def _build(self, cfg: NerfieConfig, dataset: Dataset, data: TrainData, device: torch.device) -> None:
        self.cfg = cfg
        self.device = device
        self.dataset = dataset
        self.data = data
        torch.manual_seed(self.cfg.train.seed)
        self.model = NerfieModel(self.cfg.model, self.dataset.num_codes).to(self.device)
        focus, subject_radius = self.dataset.subject()
        self.model.set_framing(torch.tensor(focus), self.fine_radius(focus, subject_radius))
        self.optimizer = self._optimizer()
        self.generator = torch.Generator(device=self.device).manual_seed(self.cfg.train.seed)
        self.step = 0
        self.progress = 0.0  # learning-rate schedule progress (see schedule_progress)
        self._budget, self._t0, self._p0 = 0.0, 0.0, 0.0
        self.lr_scale = 1.0
        self.nan_steps = 0
        self.subject_pixels = self._subject_pixels()
        t = self.cfg.train
        self.error_map = (ErrorMap(len(data.images), data.images.shape[1], data.images.shape[2], data.train,
                                   t.error_map_cell, t.error_uniform_fraction, device)
                          if t.ray_sampling == "error" else None)
        self._batch_pixels: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        # The opacity loss's targets, on the training device once (not copied there every step).
        masks = self.data.subject_masks
        self.opacity_masks = (masks.to(self.device) if self.cfg.train.opacity_weight > 0 and masks is not None
                              and self.cfg.model.background != "learned" else None)

    def _subject_pixels(self) -> torch.Tensor | None:
        """Flat indices (image · H · W + y · W + x) of the training images' subject pixels, the pool
        ``train.subject_ray_fraction`` draws from; None when that is off or there are no masks."""
        masks = self.data.subject_masks
        if self.cfg.train.subject_ray_fraction <= 0 or masks is None:
            return None
        keep = torch.zeros(len(masks), dtype=torch.bool)
        keep[self.data.train] = True
        margin = self.cfg.train.subject_ray_margin
        if margin > 0:
            # The pool reaches past the silhouette: the backdrop right beside the subject is where a model
            # leaves haze, and drawn from the mask alone it would get fewer rays than under uniform sampling.
            r = max(1, round(margin * max(masks.shape[1:])))
            disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
            masks = torch.from_numpy(np.stack([cv2.dilate(m.numpy().astype(np.uint8), disk) > 0 for m in masks]))
        flat = torch.nonzero((masks & keep[:, None, None]).flatten()).flatten()
        return flat.to(self.device) if len(flat) else None

    def fine_radius(self, focus: np.ndarray, subject_radius: float) -> float:
        """Radius of the finely resolved ball around ``focus`` (``model.fine_ball``)."""
        if self.cfg.model.fine_ball == "object" and subject_radius > 0:
            return OBJECT_BALL_MARGIN * subject_radius
        # The ball holds the subject and part of the way to the cameras; the cameras themselves (and
        # the empty space around them) sit in the contracted shell.
        return 0.6 * fine_ball_radius(self.dataset.normalized_cameras(), focus)

    # ---- the auto preset ------------------------------------------------------------------------------

    def _autotune(self, cfg: NerfieConfig, dataset: Dataset, device: torch.device) -> NerfieConfig:
        """Pick the ``auto`` preset's sizes by timing real steps on this device (see recon.autotune)."""
        self.on_event(Log("train", "auto preset: timing a few training steps to size the model for the budget"))
        t0 = time.perf_counter()
        # A step's cost does not depend on the image size (rays are drawn per pixel), so every size is
        # timed on the small images: quick to load.
        data = load_train_data(dataset, 256, device)
        choice = choose(cfg, lambda c: measure_step_seconds(c, dataset, data, device, self.cancelled))
        secs = time.perf_counter() - t0
        write_json_atomic(self.project.root / AUTOTUNE_RECORD, {
            "device": describe_device(device), "tier": choice.tier, "seconds_per_step": choice.seconds_per_step,
            "steps": choice.steps, "minutes": choice.config.train.minutes, "tuning_seconds": round(secs, 1),
            "timings": [dataclasses.asdict(t) for t in choice.timings]})
        self.on_event(Log("train", f"{choice.summary()}; {secs:.0f} s to decide"))
        return choice.config

    # ---- optimisation -----------------------------------------------------------------------------

    def _optimizer(self) -> torch.optim.Optimizer:
        t = self.cfg.train
        m = self.model
        codes = t.learn_codes
        for emb in (m.warp_codes, m.appearance_codes):
            emb.weight.requires_grad_(codes)
        groups = [
            {"params": list(m.template.parameters()) + (list(m.appearance_codes.parameters()) if codes else [])
             + (list(m.ambient.parameters()) if m.ambient is not None else []), "lr": t.lr, "name": "template"},
            {"params": list(m.proposal.parameters()), "lr": t.lr, "name": "proposal"},
        ]
        if m.warp is not None:
            # A hash-encoded warp's table learns at the template's rate (tables want ~10x an MLP's).
            grid = list(m.warp.grid.parameters()) if m.warp.grid is not None else []
            in_grid = {id(q) for q in grid}
            groups.append({"params": [q for q in m.warp.parameters() if id(q) not in in_grid]
                           + (list(m.warp_codes.parameters()) if codes else []),
                           "lr": t.warp_lr,
                           "name": "warp"})
            if grid:
                groups.append({"params": grid, "lr": t.lr, "name": "warp_grid"})
        for g in groups:
            g["base_lr"] = g["lr"]
        return torch.optim.Adam(groups, eps=1e-15)

    def total_steps(self) -> int:
        return max(1, self.cfg.train.steps)

    def schedule_progress(self, step: int) -> float:
        """How far the learning-rate decay has come, 0 → 1: by steps, or by the wall-clock budget when
        that will end the run first (so a run cut by ``minutes`` still ends at ``lr_final`` instead of at a
        high, noisy learning rate). A resumed run continues from the progress it had."""
        by_steps = min(step / max(self.total_steps() - 1, 1), 1.0)
        if not self._budget:
            return max(by_steps, self.progress)
        frac = min((time.perf_counter() - self._t0) / self._budget, 1.0)
        by_time = self._p0 + (1.0 - self._p0) * frac
        return max(by_steps, by_time)

    def lr_factor(self) -> float:
        """Exponential decay lr → lr_final over the schedule's progress, times the NaN back-off.

        With ``lr_cooldown`` = c > 0 the decay reaches lr_final at progress 1 − c and the last c of the
        run falls a further 10×: a short schedule whose lr_final is kept high for the hash tables would
        otherwise end on whatever noisy step the last one happened to be.
        """
        t = self.cfg.train
        p, c = self.progress, min(max(t.lr_cooldown, 0.0), 0.9)
        f = (t.lr_final / t.lr) ** min(p / (1 - c), 1.0)
        if c > 0 and p > 1 - c:
            f *= 0.1 ** ((p - (1 - c)) / c)
        return f * self.lr_scale

    def alpha(self, step: int) -> float:
        return warp_alpha(self.cfg, step)

    def hash_alpha(self, step: int) -> float:
        L = self.cfg.model.hash_levels
        if not self.cfg.model.hash_anneal:
            return float(L)
        start = min(self.cfg.train.hash_start_levels, L)
        return start + (L - start) * min(step / max(self.cfg.train.warp_anneal_steps, 1), 1.0)

    # ---- one step ---------------------------------------------------------------------------------

    def sample_batch(self) -> tuple[torch.Tensor, ...]:
        d = self.data
        R = self.cfg.train.rays_per_batch
        H, W = d.images.shape[1:3]
        if self.error_map is not None:
            img, yy, xx = self.error_map.sample(R, self.generator)
        else:
            train = torch.tensor(d.train, device=self.device)
            img = train[torch.randint(0, len(d.train), (R,), device=self.device, generator=self.generator)]
            yy = torch.randint(0, H, (R,), device=self.device, generator=self.generator)
            xx = torch.randint(0, W, (R,), device=self.device, generator=self.generator)
        pix = self.subject_pixels
        k = round(min(max(self.cfg.train.subject_ray_fraction, 0.0), 1.0) * R) if pix is not None else 0
        if k > 0:
            flat = pix[torch.randint(0, len(pix), (k,), device=self.device, generator=self.generator)]
            img[:k], yy[:k], xx[:k] = flat // (H * W), flat // W % H, flat % W
        self._batch_pixels = (img, yy, xx)
        px = torch.stack([xx, yy], -1).float() + 0.5
        o, dirs = d.cameras.rays(img, px)
        target = d.images[img, yy, xx].float() / 255.0
        return o, dirs, d.frame_ids[img], target, self._mask_target(img, yy, xx)

    def _mask_target(self, img: torch.Tensor, yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor | None:
        """The rays' subject masks as opacity targets (1 on the object, 0 on the backdrop), when the opacity
        loss applies: ``train.opacity_weight`` > 0, a fixed backdrop and a mask for every frame."""
        masks = self.opacity_masks
        return None if masks is None else masks[img, yy, xx].float()

    def autocast(self) -> torch.autocast:
        """bfloat16 autocast of the rendering pass's matrix products (``train.mixed_precision``, CUDA only).

        bfloat16 keeps float32's range, so no loss scaling is needed. The elastic loss stays outside it:
        its finite-difference Jacobian (steps of 1e-3) would drown in bfloat16's 3 significant digits.
        On CPU it stays off: the hash-grid lookups dominate there and are not matrix products.
        """
        on = self.cfg.train.mixed_precision and self.device.type == "cuda"
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=on)

    def losses(self, step: int) -> dict[str, torch.Tensor]:
        t = self.cfg.train
        o, dirs, fid, target, inside = self.sample_batch()
        wc, ac = self.model.codes(fid)
        alpha = self.alpha(step)
        self.model.template.grid.anneal(self.hash_alpha(step))
        with self.autocast():
            out = self.model.render(o, dirs, wc, ac, self.data.near, self.data.far, alpha, train=True,
                                    generator=self.generator)
        losses = {"rgb": torch.mean((out["rgb"] - target) ** 2)}
        if self.error_map is not None and self._batch_pixels is not None:
            self.error_map.update(*self._batch_pixels, ((out["rgb"].detach().float() - target) ** 2).sum(-1))
        losses["interlevel"] = self.model.interlevel(out)
        if inside is not None:
            losses["opacity"] = t.opacity_weight * torch.mean((out["acc"] - inside) ** 2)
        if self.model.warp is not None:
            if t.elastic_weight > 0:
                k = min(256, o.shape[0])
                best = out["weights"][:k].argmax(-1)
                x = out["x_obs"][torch.arange(k, device=self.device), best]
                w = out["weights"][torch.arange(k, device=self.device), best]
                losses["elastic"] = t.elastic_weight * elastic_loss(self.model.warp, x.detach(), wc[:k], w, alpha)
            bg = self.data.background
            if t.background_weight > 0 and len(bg):
                n = min(t.background_points, len(bg))
                pick = torch.randint(0, len(bg), (n,), device=self.device, generator=self.generator)
                ids = self.data.frame_ids[torch.randint(0, len(self.data.frame_ids), (n,), device=self.device,
                                                        generator=self.generator)]
                gen = self.generator if self.device.type == "cpu" else None
                losses["background"] = t.background_weight * background_loss(
                    self.model.warp, bg[pick], self.model.warp_codes(ids), alpha, generator=gen)
        return losses

    def train_step(self) -> dict[str, float]:
        self.progress = self.schedule_progress(self.step)
        for g in self.optimizer.param_groups:
            g["lr"] = g["base_lr"] * self.lr_factor()
        losses = self.losses(self.step)
        total = sum(losses.values())
        if not torch.isfinite(total):
            self.optimizer.zero_grad(set_to_none=True)
            self.nan_steps += 1
            self.lr_scale *= 0.5
            self.on_event(Log("train", f"step {self.step}: non-finite loss skipped; learning rate halved", "warning"))
            if self.nan_steps > 20:
                raise NerfieError("Training diverged (repeated NaN losses).",
                                  "Resume with a lower learning rate (--set train.lr=...) or a smaller preset.")
            self.step += 1
            return {"loss": float("nan")}
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        self.step += 1
        out = {k: float(v.detach()) for k, v in losses.items()}
        out["loss"] = float(total.detach())
        return out

    # ---- checkpoints ------------------------------------------------------------------------------

    def state(self) -> dict:
        return {
            "format": CHECKPOINT_FORMAT, "step": self.step, "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(), "config": to_dict(self.cfg),
            "num_codes": self.dataset.num_codes, "lr_scale": self.lr_scale, "progress": self.progress,
            "rng": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            # The ray sampler's error map, so a resumed run draws the rays an uninterrupted one would.
            **({"error_map": self.error_map.values} if self.error_map is not None else {}),
        }

    def trained_code_ids(self) -> list[int]:
        return sorted({int(self.data.frame_ids[i]) for i in self.data.train})

    def save(self) -> Path:
        self.model.fill_untrained_codes(self.trained_code_ids(), self.dataset.code_times)
        with atomic_path(self.ckpt_path) as tmp:
            torch.save(self.state(), tmp)
        return self.ckpt_path

    def load(self, path: Path) -> None:
        try:
            ck = torch.load(path, map_location=self.device, weights_only=True)
        except Exception as exc:
            raise NerfieError(f"Checkpoint {path} cannot be read ({type(exc).__name__}).",
                              "Delete it to start training from scratch.") from exc
        if ck.get("format") != CHECKPOINT_FORMAT or ck.get("num_codes") != self.dataset.num_codes:
            raise NerfieError(f"Checkpoint {path} does not fit this project (different format or frames).",
                              "Move it away to start training from scratch.")
        if config_from_dict(ck["config"], stored=True).model != self.cfg.model:
            raise NerfieError(f"Checkpoint {path} was trained with different model settings.",
                              "Train with the settings it was made with, or move it away to start over.")
        self.model.load_state_dict(ck["model"])
        self.optimizer.load_state_dict(ck["optimizer"])
        self.step = int(ck["step"])
        self.lr_scale = float(ck.get("lr_scale", 1.0))
        self.progress = float(ck.get("progress", min(self.step / max(self.total_steps() - 1, 1), 1.0)))
        self.generator.set_state(ck["rng"].cpu() if self.device.type == "cpu" else ck["rng"])
        torch.set_rng_state(ck["torch_rng"].cpu())
        if self.error_map is not None:
            self.error_map.restore(ck.get("error_map"))

    # ---- evaluation -------------------------------------------------------------------------------

    def evaluate(self, indices: list[int] | None = None) -> float:
        """Held-out PSNR (whole frame) of ``indices`` (default the validation frames)."""
        return self.evaluate_scores(indices).psnr

    def evaluate_scores(self, indices: list[int] | None = None, max_side: int | None = None) -> Scores:
        """Held-out PSNR whole and on the subject, and SSIM, each frame at its own camera and time;
        ``max_side``: at an integer reduction of the training size whose long side fits it (a cheap
        point on training's curve), else at the training size."""
        idx = indices if indices is not None else self.data.val
        if not idx:
            return mean_scores([])
        self.model.fill_untrained_codes(self.trained_code_ids(), self.dataset.code_times)
        self.model.eval()
        items = []
        masks = self.data.subject_masks
        H, W = self.data.images.shape[1:3]
        f = max(1, math.ceil(max(W, H) / max_side)) if max_side and self.data.camera_list is not None else 1
        for i in idx:
            gt = self.data.images[i].float() / 255
            sub = masks[i] if masks is not None else None
            if f == 1:
                out = render_camera(self.model, self.data.cameras, i, W, H, int(self.data.frame_ids[i]),
                                    self.data.near, self.data.far, self.alpha(self.step))
            else:
                cam = self.data.camera_list[i].scaled(f)
                out = render_camera(self.model, CameraBatch.stack([cam], device=self.device), 0, cam.width,
                                    cam.height, int(self.data.frame_ids[i]), self.data.near, self.data.far,
                                    self.alpha(self.step))
                gt = torch.nn.functional.interpolate(gt.permute(2, 0, 1)[None], size=(cam.height, cam.width),
                                                     mode="area")[0].permute(1, 2, 0)
                if sub is not None:
                    sub = torch.nn.functional.interpolate(sub[None, None].float(), size=(cam.height, cam.width),
                                                          mode="area")[0, 0] > 0.5
            pred = out["rgb"].clamp(0, 1)
            sub = sub.to(pred.device) if sub is not None else None
            items.append((psnr_of(pred, gt), psnr_of(pred, gt, sub) if sub is not None else float("nan"),
                          ssim_of(pred.cpu(), gt.cpu())))
        self.model.train()
        return mean_scores(items)

    def view_consistency(self, count: int | None = None) -> Scores:
        """Input frames rendered from their smoothed cameras, against the frame carried there by the
        subject plane's homography (``recon.quality``); whole frame where the frame has data, and the
        subject region. Frames spread over the whole clip, trained and held out alike."""
        cams = self.data.camera_list
        if cams is None or not is_filmed_path(cams):  # photo sets, D-NeRF's jumping views: nothing to smooth
            return mean_scores([])
        smooth = smoothed_cameras(cams)
        focus, _ = self.dataset.subject()
        batch = CameraBatch.stack(smooth, device=self.device)
        self.model.fill_untrained_codes(self.trained_code_ids(), self.dataset.code_times)
        self.model.eval()
        items = []
        masks = self.data.subject_masks
        for i in consistency_frames(len(cams), count or 12):
            cam, sm = cams[i], smooth[i]
            depth = float(cam.forward @ (focus - cam.position))
            if depth <= 0:
                continue
            try:
                Hm = plane_homography(cam, sm, depth)
            except ValueError:
                continue
            gt, valid = warp_to(self.data.images[i].cpu().numpy() / 255.0, Hm, sm.width, sm.height)
            out = render_camera(self.model, batch, i, sm.width, sm.height, int(self.data.frame_ids[i]),
                                self.data.near, self.data.far, self.alpha(self.step))
            pred = out["rgb"].clamp(0, 1).cpu()
            gt_t = torch.from_numpy(gt)
            ok = torch.from_numpy(valid)
            sub = None
            if masks is not None:
                wm, _ = warp_to(masks[i].numpy().astype(np.float32)[..., None], Hm, sm.width, sm.height)
                sub = torch.from_numpy(wm.reshape(sm.height, sm.width) > 0.5) & ok
            filled = torch.where(ok[..., None], gt_t, pred)  # SSIM over the frame: outside the data, no error
            items.append((psnr_of(pred, gt_t, ok), psnr_of(pred, gt_t, sub) if sub is not None else float("nan"),
                          ssim_of(pred, filled)))
        self.model.train()
        return mean_scores(items)

    def quality_report(self) -> QualityReport:
        """Held-out and view-consistency scores, written to the project's ``quality.json``."""
        held = self.evaluate_scores()
        cons = self.view_consistency()
        rep = QualityReport(self.step, held.psnr, held.psnr_subject, held.ssim, cons.psnr, cons.psnr_subject,
                            cons.ssim, cons.frames)
        write_json_atomic(self.project.root / QUALITY_RECORD, {
            "step": self.step, "heldout": held.to_json(), "view_consistency": cons.to_json(),
            "subject_source": self.dataset.subject_source or "camera axes"})
        return rep

    # ---- the loop ---------------------------------------------------------------------------------

    def run(self, steps: int | None = None, minutes: float | None = None) -> dict[str, float]:
        """Train to ``steps`` or for ``minutes`` (default the config's), saving on the way out."""
        with ThreadBudget("train") as threads:  # a second Nerfie process on this machine re-balances us
            return self._run(threads, steps, minutes)

    def _run(self, threads: ThreadBudget, steps: int | None, minutes: float | None) -> dict[str, float]:
        t = self.cfg.train
        end_step = steps if steps is not None else t.steps
        budget = (minutes if minutes is not None else t.minutes) * 60
        t0 = time.perf_counter()
        self._budget, self._t0, self._p0 = budget, t0, self.progress
        start_step = self.step
        self.history.keep_until(self.step)  # lines past the checkpoint describe weights that are gone
        self.project.set_stage("train", "running", step=self.step)
        last: dict[str, float] = {}
        evaluated: tuple[int, float] | None = None
        stop_reason = "steps"
        try:
            while self.step < end_step:
                if self.cancelled():
                    stop_reason = "cancelled"
                    break
                while self.paused() and not self.cancelled():
                    self.between_steps(self)
                    time.sleep(0.05)
                threads.refresh()
                if budget and time.perf_counter() - t0 > budget:
                    stop_reason = "time budget"
                    break
                last = self.train_step()
                self.between_steps(self)
                if self.step % 10 == 0 or self.step == end_step:
                    el = time.perf_counter() - t0
                    rate = (self.step - start_step) / max(el, 1e-9)
                    eta = (end_step - self.step) / max(rate, 1e-9)
                    if budget:
                        eta = min(eta, max(budget - el, 0))
                    self.on_event(TrainStatus(
                        step=self.step, total=end_step, loss=last.get("loss", float("nan")),
                        psnr=psnr(last.get("rgb", 1.0)), alpha=self.alpha(self.step),
                        active_levels=self.hash_alpha(self.step), rays_per_second=rate * t.rays_per_batch,
                        eta_seconds=eta, lr=self.optimizer.param_groups[0]["lr"],
                    ))
                if t.checkpoint_every and self.step % t.checkpoint_every == 0:
                    self.save()
                if t.eval_every and self.step % t.eval_every == 0 and self.data.val:
                    # The curve's points score a few held-out views spread over the clip, at a reduced size: a
                    # D-NeRF val split (20 views at 400²) scored in full every time would eat most of a CPU
                    # budget's steps. The final report scores them all, at the training size.
                    few = self.data.val[:: max(1, math.ceil(len(self.data.val) / EVAL_VIEWS_DURING_TRAINING))]
                    sc = self.evaluate_scores(few, EVAL_SIDE_DURING_TRAINING)
                    evaluated = (self.step, sc.psnr)
                    self.on_event(EvalResult(self.step, sc.psnr, len(few), sc.psnr_subject, sc.ssim))
        finally:
            self.save()
        secs = time.perf_counter() - t0
        if stop_reason == "cancelled":
            val = evaluated[1] if evaluated is not None else float("nan")
            self.project.set_stage("train", "paused", step=self.step, seconds=round(secs, 1), stopped=stop_reason,
                                   val_psnr=None if math.isnan(val) else round(val, 2))
            self.on_event(StageDone("train", f"{self.step} steps ({stop_reason})"))
            raise Cancelled()
        rep = self.quality_report()
        val = rep.heldout_psnr
        if not math.isnan(val):
            self.on_event(EvalResult(self.step, val, len(self.data.val), rep.heldout_psnr_subject, rep.heldout_ssim))
        self.on_event(rep)

        def r2(x: float) -> float | None:
            return None if math.isnan(x) else round(x, 2)

        self.project.set_stage("train", "done", step=self.step, val_psnr=r2(val), seconds=round(secs, 1),
                               stopped=stop_reason, val_psnr_subject=r2(rep.heldout_psnr_subject),
                               val_ssim=None if math.isnan(rep.heldout_ssim) else round(rep.heldout_ssim, 4),
                               consistency_psnr=r2(rep.consistency_psnr),
                               consistency_psnr_subject=r2(rep.consistency_psnr_subject))
        self.on_event(StageDone("train", f"{self.step} steps, held-out PSNR {val:.2f} dB ({stop_reason})"))
        return {"step": self.step, "val_psnr": val, "seconds": secs, "val_psnr_subject": rep.heldout_psnr_subject,
                "consistency_psnr": rep.consistency_psnr, "consistency_psnr_subject": rep.consistency_psnr_subject,
                **last}
