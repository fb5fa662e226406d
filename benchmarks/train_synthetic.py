"""Training on synthetic captures with ground truth: novel-view PSNR after a wall-clock budget.

    .venv/bin/python benchmarks/train_synthetic.py [--minutes 10] [--frames 150] [--size 128]
        [--runs dynamic static dynamic-nowarp static-nowarp dynamic-translation dynamic-noanneal
                dynamic-noanneal-samesteps dynamic-auto static-auto]

Each run imports a synthetic capture with its exact cameras (no SfM: this measures the model),
trains the ``cpu-preview`` preset (or ``--preset``) for ``--minutes``, and scores the held-out
novel cameras (rendered by the analytic ray caster at training-frame times) plus the validation
frames. Runs are printed side by side with steps/min; targets from the model issue: static ≥ 33 dB,
deforming ≥ 30 dB, deformation off ≥ 1.5 dB lower on the deforming capture and within 0.5 dB on the
static one, ≥ 300 steps/min at 1024 rays.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch

from nerfie.recon.camera import Camera, CameraBatch
from nerfie.recon.config import preset, with_overrides
from nerfie.recon.device import configure_threads
from nerfie.recon.importers import import_transforms
from nerfie.recon.synth import SynthSpec, generate
from nerfie.recon.train import AUTOTUNE_RECORD, Trainer, psnr, render_camera

RUNS = {
    "dynamic": ("dynamic", {}),
    "static": ("static", {}),
    "dynamic-nowarp": ("dynamic", {"model.warp": "none"}),
    "static-nowarp": ("static", {"model.warp": "none"}),
    "dynamic-translation": ("dynamic", {"model.warp": "translation"}),
    "dynamic-noanneal": ("dynamic", {"model.hash_anneal": False}),
    # the hash annealing ablation at the step count the `dynamic` run reached (run it after `dynamic`):
    # step rates drift ±20 % on a shared machine, which confounds a same-minutes comparison
    "dynamic-noanneal-samesteps": ("dynamic", {"model.hash_anneal": False}),
    # the auto preset: times this machine and picks the grid, rays and samples for the budget
    "dynamic-auto": ("dynamic", {"preset": "auto"}),
    "static-auto": ("static", {"preset": "auto"}),
    # the warp's hash-grid encoding (model.warp_encoding) at the depth it was tried with, beside the preset's
    "dynamic-hashwarp": ("dynamic", {"model.warp_encoding": "hashgrid", "model.warp_depth": 2}),
    "static-hashwarp": ("static", {"model.warp_encoding": "hashgrid", "model.warp_depth": 2}),
}


def heldout_psnr(trainer: Trainer, capture: Path) -> float:
    ds = trainer.dataset
    views = json.loads((capture / "heldout" / "views.json").read_text())["views"]
    mses = []
    for v in views:
        cam = Camera.from_json(json.loads((capture / "heldout" / "cameras" / f"{v['name']}.json").read_text()))
        cam = cam.normalized(ds.center, ds.scale).scaled(trainer.data.factor)
        batch = CameraBatch.stack([cam], device=trainer.device)
        out = render_camera(trainer.model, batch, 0, cam.width, cam.height, int(v["frame_index"]), trainer.data.near,
                            trainer.data.far, trainer.alpha(trainer.step))
        gt = torch.from_numpy(iio.imread(capture / "heldout" / "frames" / f"{v['name']}.png")).float().to(
            trainer.device) / 255
        mses.append(float(torch.mean((out["rgb"] - gt) ** 2)))
    return psnr(float(np.mean(mses)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--preset", default="cpu-preview")
    ap.add_argument("--runs", nargs="*", default=["dynamic", "static", "dynamic-nowarp", "static-nowarp"])
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    threads = configure_threads()
    extra = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    rows = []
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        captures: dict[str, Path] = {}
        for name in args.runs:
            variant, overrides = RUNS[name]
            if variant not in captures:
                captures[variant] = tmp / f"cap-{variant}"
                generate(captures[variant], SynthSpec(frames=args.frames, width=args.size, height=args.size,
                                                      variant=variant, heldout=8))
            budget = {"train.minutes": args.minutes, "train.steps": 10**9}
            if name.endswith("-samesteps"):
                base = next((r for r in rows if r[0] == name.split("-")[0]), None)
                if base is None:
                    raise SystemExit(f"{name} needs the {name.split('-')[0]!r} run before it")
                budget = {"train.minutes": 0.0, "train.steps": base[1]}
            cfg = with_overrides(preset(args.preset), {**budget, "train.eval_every": 0, "train.checkpoint_every": 0,
                                                        **overrides, **extra})
            proj = import_transforms(captures[variant] / "transforms.json", tmp / f"proj-{name}", cfg)
            trainer = Trainer(proj)
            tuned = proj.root / AUTOTUNE_RECORD
            if tuned.exists():
                rec = json.loads(tuned.read_text())
                print(f"{name:<20} auto picked {rec['tier']} ({rec['seconds_per_step'] * 1000:.0f} ms/step, "
                      f"{rec['tuning_seconds']} s to decide)", flush=True)
            t0 = time.perf_counter()
            result = trainer.run()
            minutes = (time.perf_counter() - t0) / 60
            held = heldout_psnr(trainer, captures[variant])
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
            rows.append((name, trainer.step, trainer.step / minutes, result["val_psnr"], held, peak))
            print(f"{name:<20} {trainer.step:>6} steps {trainer.step / minutes:>7.0f}/min  "
                  f"val {result['val_psnr']:6.2f} dB  novel views {held:6.2f} dB  peak RSS {peak:.1f} GiB", flush=True)
    print(f"\n# {args.frames} frames at {args.size}², preset {args.preset}, {args.minutes} min each, {threads} threads")
    print(f"{'run':<20} {'steps':>6} {'steps/min':>10} {'val PSNR':>9} {'novel PSNR':>11}")
    for name, steps, rate, val, held, _ in rows:
        print(f"{name:<20} {steps:>6} {rate:>10.0f} {val:>9.2f} {held:>11.2f}")
    by = {r[0]: r[4] for r in rows}
    if "dynamic" in by and "dynamic-nowarp" in by:
        gap = by["dynamic"] - by["dynamic-nowarp"]
        print(f"deformation on − off, deforming capture: {gap:+.2f} dB (target ≥ +1.5)")
    if "static" in by and "static-nowarp" in by:
        gap = by["static"] - by["static-nowarp"]
        print(f"deformation on − off, static capture:    {gap:+.2f} dB (target within ±0.5)")


if __name__ == "__main__":
    main()
