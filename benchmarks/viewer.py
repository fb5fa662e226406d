"""Interactive viewer speed: frames per second of the orbit viewer's renders, still and moving.

    .venv/bin/python benchmarks/viewer.py [PROJECT] [--repeats 5]

PROJECT is a trained project (default: ``sample_selfie-nerfie`` from ``nerfie run`` if present,
else a synthetic capture trained for 200 steps with the ``cpu-preview`` preset; render speed
depends on the model size and sample counts, not on how well it is trained). It renders from the
viewer's home view, orbiting a little between frames, exactly as the GUI's render thread does
(:func:`nerfie.render.live.render_preview`), and prints side by side:

* still: 128² (the viewer's still resolution) — target ≥ 1 fps on the 2-core build machine;
* moving: the resolution the viewer picks while the camera moves (:func:`moving_side`, aiming at
  5 fps from the measured rate) and a fixed 64² — target ≥ 4 fps;
* the same 128² view with the model's full sample budget (what export uses), for the ratio.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from nerfie.recon.device import configure_threads
from nerfie.render.live import render_preview
from nerfie.render.scene import TrainedScene, load_scene
from nerfie.render.viewer import home_view, moving_side


def synthetic_project(root: Path) -> Path:
    from nerfie.recon.config import preset, with_overrides
    from nerfie.recon.importers import import_transforms
    from nerfie.recon.synth import SynthSpec, generate
    from nerfie.recon.train import Trainer

    generate(root / "cap", SynthSpec(frames=30, width=128, height=128, heldout=0, seed=1))
    cfg = with_overrides(preset("cpu-preview"), {"train.checkpoint_every": 0, "train.eval_every": 0,
                                                 "train.minutes": 0.0})
    proj = import_transforms(root / "cap" / "transforms.json", root / "proj", cfg)
    Trainer(proj).run(steps=200)
    return proj.root


def fps(scene: TrainedScene, side: int, repeats: int, full: bool = False) -> float:
    view = home_view(scene.cameras, scene.focus, scene.up)
    c = scene.cameras[0]
    aspect = c.width / c.height
    render_preview(scene, view, 0.0, side, aspect)  # warm-up
    t0 = time.perf_counter()
    for k in range(repeats):
        view.orbit(5.0, 0.0)
        if full:
            from nerfie.render.viewer import view_size

            scene.render(view.camera(*view_size(aspect, side)), float(k))
        else:
            render_preview(scene, view, float(k), side, aspect)
    return repeats / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("project", nargs="?")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    threads = configure_threads()
    tmp = None
    if args.project:
        root = Path(args.project)
    elif Path("sample_selfie-nerfie/checkpoints/latest.pt").exists():
        root = Path("sample_selfie-nerfie")
    else:
        tmp = tempfile.TemporaryDirectory()
        print("no trained project given: training a synthetic cpu-preview model for 200 steps…")
        root = synthetic_project(Path(tmp.name))
    scene = load_scene(root)
    cfg = scene.model.cfg
    print(f"project {root} · preset {scene.project.config.preset} · {threads} threads · "
          f"viewer samples {scene.reduced_samples()} (model {cfg.proposal_samples[0]}, {cfg.shaded_samples})")
    still = fps(scene, 128, args.repeats)
    rate = still * 128 * 128
    c = scene.cameras[0]
    mv = moving_side(rate, c.width / c.height, 64, 128)
    moving = fps(scene, mv, args.repeats * 2)
    fixed64 = fps(scene, 64, args.repeats * 2)
    full = fps(scene, 128, args.repeats, full=True)
    print(f"{'view':<34}{'fps':>8}{'target':>10}")
    print(f"{'still 128² (viewer samples)':<34}{still:>8.2f}{'≥ 1':>10}")
    print(f"{f'moving {mv}² (chosen for 5 fps)':<34}{moving:>8.2f}{'≥ 4':>10}")
    print(f"{'moving 64² (fixed)':<34}{fixed64:>8.2f}{'':>10}")
    print(f"{'still 128² (full samples, export)':<34}{full:>8.2f}{'':>10}")
    print(f"viewer / full-sample speed at 128²: {still / full:.2f}×")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
