"""What warping the proposal's samples costs: a training step and a rendered view, side by side.

    .venv/bin/python benchmarks/proposal_space.py PROJECT [--rounds 3]

``model.proposal_space = "template"`` queries the proposal at each sample's warped point (one more warp
evaluation, forward only, per proposal sample); ``"observation"`` does not warp them. This times both on
the project's own data and framing, alternating them ``--rounds`` times so that a machine whose speed
drifts affects both alike, and prints the medians and the ratio. A training step is timed when every
hash level is on (the dearest steps, as ``measure_step_seconds`` does); a view is rendered at the
project's first training camera at the training size, with a freshly built model (the cost depends on
the sample counts and the warp's reach, not on what was learnt).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from nerfie.recon.config import NerfieConfig, with_overrides
from nerfie.recon.dataset import Dataset, load_dataset
from nerfie.recon.device import configure_threads
from nerfie.recon.project import Project
from nerfie.recon.train import TrainData, Trainer, load_train_data, measure_step_seconds, render_camera

SPACES = ("observation", "template")


def view_seconds(cfg: NerfieConfig, dataset: Dataset, data: TrainData, device: torch.device) -> float:
    """Seconds to render the first training camera at its training size, with a freshly built model."""
    rig = Trainer.__new__(Trainer)
    rig._build(cfg, dataset, data, device)
    h, w = data.images.shape[1], data.images.shape[2]
    t0 = time.perf_counter()
    render_camera(rig.model, data.cameras, 0, w, h, 0, data.near, data.far, float(cfg.model.warp_freqs))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("project")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    configure_threads()
    project = Project.load(Path(args.project))
    dataset = load_dataset(project.root)
    device = torch.device("cpu")
    data = load_train_data(dataset, project.config.train.max_image_side, device)
    cfgs = {s: with_overrides(project.config, {"model.proposal_space": s}) for s in SPACES}
    step: dict[str, list[float]] = {s: [] for s in SPACES}
    view: dict[str, list[float]] = {s: [] for s in SPACES}
    for _ in range(args.rounds):
        for s in SPACES:
            step[s].append(measure_step_seconds(cfgs[s], dataset, data, device) or float("nan"))
            view[s].append(view_seconds(cfgs[s], dataset, data, device))
    print(f"project {project.root.name}, {torch.get_num_threads()} threads, {args.rounds} rounds alternated")
    h, w = data.images.shape[1], data.images.shape[2]
    print(f"| proposal_space | training step (ms) | one view, {w}×{h} (s) |\n|---|---:|---:|")
    for s in SPACES:
        print(f"| {s} | {1000 * statistics.median(step[s]):.0f} | {statistics.median(view[s]):.2f} |")
    r_step = statistics.median(step["template"]) / statistics.median(step["observation"])
    r_view = statistics.median(view["template"]) / statistics.median(view["observation"])
    print(f"| template / observation | {r_step:.2f}× | {r_view:.2f}× |")


if __name__ == "__main__":
    main()
