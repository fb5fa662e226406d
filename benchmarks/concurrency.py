"""Training speed when something else runs beside it: the live viewer, or a second Nerfie process.

    .venv/bin/python benchmarks/concurrency.py [--seconds 60]

One synthetic project (150 frames at 128², ``cpu-preview``, evaluation off), trained through the
engine in fresh processes, each for the same wall-clock window, side by side in one run:

* alone — the reference steps/min;
* with the live viewer watching — the engine's live view answering a view request at the training
  page's size (96 px) and re-rendering it as the weights change, as the app does while training;
* with the live viewer orbiting — a new view request every 100 ms at 64 px (a user dragging
  the whole time: the worst case, not the usual one);
* two processes at once — two trainings started together, each under the shared thread budget;
* two processes at once, uncoordinated — the same with ``NERFIE_THREADS`` set to every core in
  both (what happened before the budget existed): the control.

Prints steps/min and the ratio to "alone" for each. Ratios only: run nothing else meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
from pathlib import Path
from nerfie.recon.camera import Camera
from nerfie.render.engine import Controls, Engine, ViewRequest
from nerfie.render.scene import scene_frame
from nerfie.render.viewer import home_view

root, mode, seconds, out = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
frame = scene_frame(root)
view = home_view(frame.cameras, frame.focus, frame.up)
c = frame.cameras[0]
aspect = c.width / c.height
state = {"serial": 0, "last": 0.0, "previews": 0}

def next_view():
    now = time.monotonic()
    if mode == "watch" and state["serial"] == 0:
        state["serial"] = 1
        return ViewRequest(view, 0.0, 96, aspect, 1)
    if mode == "orbit" and now - state["last"] >= 0.1:
        state["last"] = now
        state["serial"] += 1
        view.orbit(4.0, 0.0)
        return ViewRequest(view, 0.0, 64, aspect, state["serial"])
    return None

def on_event(ev):
    if type(ev).__name__ == "PreviewImage":
        state["previews"] += 1

engine = Engine(on_event, Controls(next_view=next_view))
res = engine.train(root, {"train.minutes": seconds / 60, "train.steps": 10**7}, live=mode != "none")
Path(out).write_text(json.dumps({"steps": res["step"], "seconds": res["seconds"], "previews": state["previews"]}))
"""


def make_project(root: Path) -> Path:
    from nerfie.recon.config import preset, with_overrides
    from nerfie.recon.importers import import_transforms
    from nerfie.recon.synth import SynthSpec, generate

    generate(root / "cap", SynthSpec(frames=150, width=128, height=128, heldout=0, seed=1))
    cfg = with_overrides(preset("cpu-preview"), {"train.checkpoint_every": 0, "train.eval_every": 0})
    return import_transforms(root / "cap" / "transforms.json", root / "proj", cfg).root


def copy_project(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def run_children(jobs: list[tuple[Path, str, dict[str, str]]], seconds: float, scratch: Path) -> list[dict]:
    """Start every job at once; each trains ``seconds`` in its own process; return their figures."""
    procs = []
    for k, (proj, mode, env) in enumerate(jobs):
        ckpt = proj / "checkpoints" / "latest.pt"
        if ckpt.exists():
            ckpt.unlink()  # every run starts from scratch
        out = scratch / f"res-{k}-{time.monotonic_ns()}.json"
        procs.append((subprocess.Popen([sys.executable, "-c", CHILD, str(proj), mode, str(seconds), str(out)],
                                       env={**os.environ, **env}), out))
    results = []
    for p, out in procs:
        if p.wait() != 0:
            raise SystemExit(f"a benchmark child failed (exit {p.returncode})")
        r = json.loads(out.read_text())
        r["steps_per_min"] = 60 * r["steps"] / max(r["seconds"], 1e-9)
        results.append(r)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="training window of every measurement")
    args = ap.parse_args()
    from nerfie.recon.device import available_cores

    cores = available_cores()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        os.environ["NERFIE_RUNTIME_DIR"] = str(scratch / "registry")  # this benchmark's processes only
        os.environ.pop("NERFIE_THREADS", None)
        a = make_project(scratch / "a")
        b = copy_project(a, scratch / "b")
        rows: list[tuple[str, list[dict]]] = []
        rows.append(("alone", run_children([(a, "none", {})], args.seconds, scratch)))
        rows.append(("live viewer watching (96 px)", run_children([(a, "watch", {})], args.seconds, scratch)))
        rows.append(("live viewer orbiting (64 px, 10 req/s)", run_children([(a, "orbit", {})], args.seconds, scratch)))
        rows.append(("two processes, thread budget", run_children([(a, "none", {}), (b, "none", {})], args.seconds,
                                                                  scratch)))
        fixed = {"NERFIE_THREADS": str(cores)}
        rows.append(("two processes, uncoordinated (control)",
                     run_children([(a, "none", fixed), (b, "none", fixed)], args.seconds, scratch)))
    base = rows[0][1][0]["steps_per_min"]
    print(f"concurrency: {cores} cores, {args.seconds:.0f} s per measurement, 150×128² synthetic, cpu-preview")
    print(f"{'run':<42} {'steps/min':>20} {'of alone':>16} {'previews':>9}")
    for name, res in rows:
        rates = " + ".join(f"{r['steps_per_min']:.0f}" for r in res)
        ratios = " / ".join(f"{r['steps_per_min'] / base:.0%}" for r in res)
        previews = sum(r["previews"] for r in res)
        print(f"{name:<42} {rates:>20} {ratios:>16} {previews:>9}")


if __name__ == "__main__":
    main()
