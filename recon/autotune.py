"""The ``auto`` preset: time a few training steps on this machine, pick the model size that fits the budget.

A preset sized by guesswork is wrong on most machines: ``gpu-standard`` on a laptop CPU manages a few
hundred steps in ten minutes (a blur), ``cpu-preview`` on an H200 leaves the GPU idle. ``auto`` keeps a
ladder of sizes (hash grid, rays per step, samples per ray, training resolution), times each one's real
training step on the project's own data and device, smallest first, and takes the largest whose
measured step time still gives it the steps its schedule needs inside the wall-clock budget. The
schedule (step count, annealing length, checkpoint and evaluation intervals) is then scaled to the
steps the budget really buys. Timing stops at the first size that does not fit, so tuning costs a few
seconds, not minutes.

This module only decides; the trainer supplies the timing function (see ``Trainer``), so the choice is
testable with made-up latencies.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from nerfie.recon.config import AUTO_DEFAULT_MINUTES, AUTO_PRESET, NerfieConfig, preset, with_overrides


@dataclass(frozen=True)
class Tier:
    """One rung of the ladder: a base preset plus the sizes that set a step's cost."""

    name: str
    base: str
    sizes: dict[str, object]
    min_steps: int  # steps this size needs in the budget to beat the rung below (see the RESULTS ladder)


# Smallest first; cpu-preview's own sizes are the second rung. On the 2-core build machine (RESULTS.md,
# "The auto preset") the lighter grid's extra steps won on the moving capture at 3 and 10 minutes
# (+0.5, +1.5 dB) and lost on the static one (−0.6, −1.6): selfies move, so it is picked until the budget
# buys cpu-preview ~4000 steps. The larger rungs' thresholds are judgement, not measured.
TIERS: tuple[Tier, ...] = (
    Tier("cpu-small", "cpu-preview", {
        "model.hash_log2_table": 16, "model.hash_max_res": 1024, "model.shaded_samples": 16,
        "model.proposal_samples": [24], "train.rays_per_batch": 512}, 0),
    Tier("cpu-preview", "cpu-preview", {}, 4000),
    Tier("mid", "cpu-preview", {
        "model.hash_levels": 12, "model.hash_log2_table": 18, "model.density_width": 64, "model.color_width": 64,
        "model.proposal_samples": [64], "model.shaded_samples": 32, "train.rays_per_batch": 2048,
        "train.max_image_side": 512}, 6000),
    Tier("gpu-standard", "gpu-standard", {}, 12000),
    Tier("gpu-quality", "gpu-quality", {}, 30000),
)

# Size keys a tier sets; ``auto`` owns these, every other setting stays the user's.
TUNED_KEYS = sorted({k for t in TIERS for k in t.sizes} | {
    "model.hash_levels", "model.hash_log2_table", "model.hash_max_res", "model.density_width",
    "model.color_width", "model.warp_width", "model.warp_depth", "model.warp_freqs", "model.proposal_samples",
    "model.shaded_samples", "train.rays_per_batch", "train.max_image_side", "train.lr_final",
    "train.lr_cooldown", "train.warp_lr",
    "train.background_points", "train.mixed_precision"})

# The timed step is the dearest one of a run (all hash levels on); the budget also pays for held-out
# evaluations and checkpoints, so only this share of it is counted on for steps.
STEP_SHARE = 0.9


@dataclass
class TierTiming:
    name: str
    seconds_per_step: float | None  # None: could not run (out of memory)
    steps_in_budget: int
    fits: bool


@dataclass
class AutoChoice:
    config: NerfieConfig
    tier: str
    seconds_per_step: float
    steps: int
    timings: list[TierTiming]

    def summary(self) -> str:
        tried = ", ".join(f"{t.name} {t.seconds_per_step * 1000:.0f} ms" if t.seconds_per_step is not None
                          else f"{t.name} out of memory" for t in self.timings)
        return (f"auto preset: {self.tier} ({self.seconds_per_step * 1000:.0f} ms/step, ~{self.steps} steps "
                f"in the budget; timed {tried})")


def is_auto(cfg: NerfieConfig) -> bool:
    return cfg.preset == AUTO_PRESET


def _get(cfg: NerfieConfig, key: str) -> object:
    section, name = key.split(".")
    value = getattr(getattr(cfg, section), name)
    return list(value) if isinstance(value, tuple) else value


def tier_config(user: NerfieConfig, tier: Tier) -> NerfieConfig:
    """``user``'s config with ``tier``'s sizes (and its base preset's size keys) in place."""
    base = with_overrides(preset(tier.base), tier.sizes)
    cfg = with_overrides(user, {k: _get(base, k) for k in TUNED_KEYS})
    return dataclasses.replace(cfg, preset=AUTO_PRESET)


def scale_schedule(cfg: NerfieConfig, steps: int) -> NerfieConfig:
    """Fit the step-counted parts of the schedule to the ``steps`` the budget buys: the deformation and
    hash windows open over the first 30 % (cpu-preview: 1500 of 5000), ten evaluations, twenty checkpoints."""
    steps = max(steps, 10)
    return with_overrides(cfg, {
        "train.steps": steps,
        "train.warp_anneal_steps": max(1, int(0.3 * steps)),
        "train.eval_every": max(10, steps // 10) if cfg.train.eval_every else 0,
        "train.checkpoint_every": max(10, steps // 20) if cfg.train.checkpoint_every else 0,
    })


def choose(user: NerfieConfig, seconds_per_step: Callable[[NerfieConfig], float | None],
           minutes: float | None = None) -> AutoChoice:
    """Time the ladder smallest first and keep the largest tier that gets its ``min_steps`` in the budget.

    ``seconds_per_step(cfg)`` measures one training step with ``cfg`` (None when it cannot run, e.g. out
    of memory). The smallest tier is kept even if it does not fit: a short run beats no run.
    """
    budget_s = 60.0 * (minutes if minutes else (user.train.minutes or AUTO_DEFAULT_MINUTES))
    timings: list[TierTiming] = []
    best: tuple[Tier, NerfieConfig, float, int] | None = None
    for tier in TIERS:
        cfg = tier_config(user, tier)
        sps = seconds_per_step(cfg)
        if sps is None:
            timings.append(TierTiming(tier.name, None, 0, False))
            break
        steps = int(STEP_SHARE * budget_s / max(sps, 1e-9))
        fits = steps >= tier.min_steps
        timings.append(TierTiming(tier.name, sps, steps, fits))
        if fits or best is None:
            best = (tier, cfg, sps, steps)
        if not fits:
            break
    if best is None:  # even the smallest tier could not run
        tier, cfg, sps, steps = TIERS[0], tier_config(user, TIERS[0]), float("nan"), user.train.steps
    else:
        tier, cfg, sps, steps = best
    cfg = scale_schedule(with_overrides(cfg, {"train.minutes": budget_s / 60}), steps)
    # The schedule never plans fewer than 10 steps: the choice reports the steps it really planned.
    return AutoChoice(cfg, tier.name, sps, cfg.train.steps, timings)
