"""Rendering speed of a trained project: rays/s, seconds per 512² frame, and a 6 s / 30 fps / 256²
turntable's time, with the model's full sample budget and with the fast (viewer) budget side by side.

    .venv/bin/python benchmarks/render.py [PROJECT] [--frames 6] [--whole]

PROJECT defaults to ``sample_selfie-nerfie`` (from ``nerfie run``) when present, else a synthetic
capture trained 200 steps with ``cpu-preview`` (speed depends on model size and samples, not on
training progress). The turntable time is extrapolated from ``--frames`` frames of the real path
(``--whole`` renders and encodes all 180 frames instead). Target from the render issue on the 2-core
build machine: the 6 s / 30 fps / 256² turntable in ≤ 5 minutes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from nerfie.recon.device import configure_threads
from nerfie.render.export import RenderSpec, plan, render_video
from nerfie.render.scene import TrainedScene, load_scene
from nerfie.render.viewer import home_view


def seconds_per_frame(scene: TrainedScene, side: int, samples: tuple[int, int] | None, repeats: int) -> float:
    view = home_view(scene.cameras, scene.focus, scene.up)
    cam = view.camera(side, side)
    scene.render(cam, 0.0, samples=samples)  # warm-up
    t0 = time.perf_counter()
    for k in range(repeats):
        scene.render(cam, float(k), samples=samples)
    return (time.perf_counter() - t0) / repeats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("project", nargs="?")
    ap.add_argument("--frames", type=int, default=6, help="turntable frames to time (extrapolated to 180)")
    ap.add_argument("--whole", action="store_true", help="render and encode the whole 180-frame turntable")
    args = ap.parse_args()
    threads = configure_threads()
    tmp = tempfile.TemporaryDirectory()
    if args.project:
        root = Path(args.project)
    elif Path("sample_selfie-nerfie/checkpoints/latest.pt").exists():
        root = Path("sample_selfie-nerfie")
    else:
        from viewer import synthetic_project  # benchmarks/viewer.py

        print("no trained project given: training a synthetic cpu-preview model for 200 steps…")
        root = synthetic_project(Path(tmp.name))
    scene = load_scene(root)
    cfg = scene.model.cfg
    print(f"project {root} · preset {scene.project.config.preset} · {threads} threads · device {scene.device}")
    rows = []
    for label, samples in ((f"full {cfg.proposal_samples[0]}/{cfg.shaded_samples}", None),
                           ("fast {}/{}".format(*scene.reduced_samples()), scene.reduced_samples())):
        s512 = seconds_per_frame(scene, 512, samples, 1)
        spec = RenderSpec(path="turntable", seconds=6.0, fps=30, long_side=256, fast_samples=samples is not None)
        frames = plan(scene, spec)
        n = len(frames) if args.whole else min(args.frames, len(frames))
        t0 = time.perf_counter()
        render_video(scene, frames[:n], Path(tmp.name) / "t.mp4", spec.fps, samples=samples)
        per = (time.perf_counter() - t0) / n
        rows.append((label, 512 * 512 / s512, s512, per * len(frames), n))
    print(f"{'samples':<14}{'rays/s':>10}{'s / 512² frame':>16}{'6 s 30 fps 256² turntable':>28}")
    for label, rays, s512, total, n in rows:
        how = "measured" if n == 180 else f"from {n} frames"
        print(f"{label:<14}{rays:>10.0f}{s512:>16.1f}{f'{total / 60:.1f} min ({how})':>28}")
    print(f"fast / full speed: {rows[0][3] / rows[1][3]:.2f}×   target: turntable ≤ 5 min")
    tmp.cleanup()


if __name__ == "__main__":
    main()
