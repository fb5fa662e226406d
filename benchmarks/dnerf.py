"""Nerfie on the D-NeRF scenes beside the published rows.

    .venv/bin/python benchmarks/dnerf.py [--scenes hook mutant] [--minutes 10] [--preset cpu-preview] [--keep DIR]

For each scene in ../shared/data/dnerf_<scene> (skipped with the reason when absent): ``nerfie import``
(the papers' protocol: half resolution, 400², on white; the test split kept aside), ``nerfie train``
for a wall-clock budget, ``nerfie eval --split test`` (20 views at their own cameras and times). One
table: Nerfie's PSNR / SSIM / MS-SSIM, steps, steps/min and minutes, then the published rows of the
same protocol (400², white) read from ../shared/data/README.md, so the two can be read side by side.
The 800²-on-black rows there are a different protocol and are not printed beside ours.

``--peers nerfstudio-dnerf kplanes`` runs the same-machine peers after each scene, same split, same
minutes, each in its own virtual environment (``benchmarks/peers.py``: what is installed, and how a peer
that cannot run says why), and prints their rows in the same table.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

from nerfie.recon.config import preset, with_overrides
from nerfie.recon.device import configure_threads
from nerfie.recon.project import Project
from nerfie.render.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # benchmarks/peers.py, beside this script

DATA = peers.DATA  # ../shared/data or $NERFIE_SHARED_DATA


def published_rows(scene: str, data: Path = DATA) -> list[tuple[str, str, str]]:
    """(method, "PSNR / SSIM / LPIPS", protocol) rows of the 400²-on-white protocol for ``scene``."""
    readme = data / "README.md"
    if not readme.exists():
        return []
    col = {"hook": 1, "mutant": 2}[scene]
    rows = []
    for line in readme.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 6 and re.match(r"^[\d.*]+ / ", cells[col].replace("**", "")) and "400²" in cells[3]:
            rows.append((cells[0], cells[col].replace("**", ""), cells[4]))
    return rows


def _value(text: str) -> object:
    """A ``--set`` value: JSON where it parses (numbers, lists, true), else the text itself (``torch``)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def one(scene: str, root: Path, minutes: float, preset_name: str, data: Path = DATA,
        overrides: dict | None = None) -> dict | None:
    src = data / f"dnerf_{scene}"
    if not src.exists():
        print(f"{scene}: skipped ({src} absent)")
        return None
    engine = Engine()
    project = root / f"{scene}-nerfie"
    # The budget is wall-clock minutes, so the preset's step cap (cpu-preview: 5000) must not end the run
    # first on a machine that steps faster; the learning-rate schedule follows the clock either way.
    cfg = with_overrides(preset(preset_name), {"train.minutes": minutes, "train.steps": 10_000_000,
                                               **(overrides or {})})
    engine.import_dataset(src, project, cfg)
    if overrides:  # the import sets the object layout's own defaults; an A/B's --set values win over them
        proj = Project.load(project)
        proj.config = with_overrides(proj.config, overrides)
        proj.save()
    t0 = time.perf_counter()
    engine.train(project, live=False)
    wall_min = (time.perf_counter() - t0) / 60
    detail = Project.load(project).detail("train")
    t1 = time.perf_counter()
    record = engine.evaluate(project, "test")
    eval_min = (time.perf_counter() - t1) / 60
    # The steps/min are the training loop's (the project records its seconds); the final held-out report
    # (every val view at 400²) comes after the budget and is shown apart.
    return {"scene": scene, "record": record, "steps": detail.step, "minutes": detail.seconds / 60,
            "report_minutes": wall_min - detail.seconds / 60, "eval_minutes": eval_min}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", nargs="+", default=["hook", "mutant"])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--preset", default="cpu-preview")
    ap.add_argument("--keep", type=Path, help="keep the projects here")
    ap.add_argument("--data", type=Path, default=DATA,
                    help="folder with dnerf_<scene>/ and README.md (default ../shared/data or $NERFIE_SHARED_DATA)")
    ap.add_argument("--set", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                    help="config overrides for an A/B, e.g. train.opacity_weight=0 (JSON values)")
    ap.add_argument("--peers", nargs="*", default=[], choices=list(peers.PEERS),
                    help="same-machine peers to run beside Nerfie (own venvs, see benchmarks/peers.py)")
    ap.add_argument("--venvs", type=Path, default=peers.VENVS, help="where the peers' venvs live")
    ap.add_argument("--eval-minutes", type=float, default=30.0, help="a peer's budget for scoring the test views")
    args = ap.parse_args()
    overrides = {k: _value(v) for k, v in (kv.split("=", 1) for kv in args.set)}
    configure_threads()
    tmp = tempfile.TemporaryDirectory(prefix="nerfie-dnerf-")
    root = args.keep or Path(tmp.name)
    root.mkdir(parents=True, exist_ok=True)
    results = [r for s in args.scenes if (r := one(s, root, args.minutes, args.preset, args.data, overrides))]
    # One after the other, never beside Nerfie's run: two torch processes on two cores slow each other 5-25x.
    peer_rows = {(r["scene"], p): peers.run_peer(peers.PEERS[p], r["scene"], args.minutes, root / "peers",
                                                args.venvs, args.data, args.eval_minutes)
                 for r in results for p in args.peers}
    print("\n| scene | method | PSNR / SSIM (MS-SSIM) | steps | steps/min | training (+ report, eval) | protocol |")
    print("|---|---|---|---:|---:|---|---|")
    for r in results:
        m = r["record"]["mean"]
        ms = f" ({m['ms_ssim']:.4f})" if m.get("ms_ssim") is not None else ""
        label = args.preset + "".join(f", {kv}" for kv in args.set)
        print(f"| {r['scene']} | **Nerfie** ({label}) | {m['psnr']:.2f} / {m['ssim']:.4f}{ms} | {r['steps']} | "
              f"{r['steps'] / max(r['minutes'], 1e-9):.0f} | {r['minutes']:.1f} min (+ {r['report_minutes']:.1f}, "
              f"{r['eval_minutes']:.1f}), this machine | 400², white |")
        for p in args.peers:
            print(peers.table_row(peer_rows[(r["scene"], p)]))
        for method, cell, trained in published_rows(r["scene"], args.data):
            print(f"| {r['scene']} | {method} (published) | {cell} | | | {trained} | 400², white |")
    print(json.dumps([{k: v for k, v in r.items() if k != "record"} | {"mean": r["record"]["mean"]}
                      for r in results]))
    if args.keep is None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
