"""Peers on the D-NeRF scenes, each in its own virtual environment (never Nerfie's).

    .venv/bin/python benchmarks/peers.py [--scenes hook] [--minutes 10] [--peers nerfstudio-dnerf kplanes]
        [--venvs ~/.cache/nerfie-peers] [--eval-minutes 30]

(``benchmarks/dnerf.py --peers …`` runs the same beside Nerfie and prints one table.)

For each peer: a venv of its own under ``--venvs`` with exactly the pinned packages below (the list
``pip freeze`` gives is written beside it as ``installed.txt``); the method's import is checked; then
``ns-train METHOD`` on the scene's D-NeRF layout (half resolution, as the papers' protocol) on the CPU
for the same wall-clock minutes as Nerfie, stopped at the budget; then ``ns-eval`` of its last
checkpoint on the 20 test views. A peer that cannot get that far gets a row saying why, in the words of
what stopped it (an import error, steps too slow to leave a checkpoint, an eval over its own budget).

Two things are changed in the peers' runs, both outside training: nerfstudio builds LPIPS (torchmetrics,
torchvision's AlexNet) when it builds a model, which downloads the AlexNet weights; this machine reaches
only package registries, so LPIPS is replaced by a stub that scores NaN (PSNR and SSIM are nerfstudio's
own). And the viewer is off (``--vis tensorboard``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(os.environ.get("NERFIE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
VENVS = Path(os.environ.get("NERFIE_PEERS", Path.home() / ".cache" / "nerfie-peers"))
# The only torch / torchvision pair that imports together on this machine's index (x86_64, Python 3.11):
# a CUDA build of several GB that runs on the CPU (see the library's env notes).
TORCH = ["torch==2.14.1", "torchvision==0.29.1"]


@dataclass(frozen=True)
class Peer:
    name: str
    method: str  # ns-train's method name
    packages: list[str] = field(default_factory=list)
    check: str = "import nerfstudio"  # the import that must work before training is tried


PEERS = {
    p.name: p for p in (
        Peer("nerfstudio-dnerf", "dnerf", [*TORCH, "nerfstudio==1.1.5"],
             "from nerfstudio.configs.method_configs import method_configs; method_configs['dnerf']"),
        Peer("kplanes", "kplanes-dynamic", [*TORCH, "nerfstudio==1.1.5", "kplanes-nerfstudio==0.5.2", "torchtyping"],
             "import kplanes.kplanes_configs"),
    )
}

# Runs a nerfstudio entry point with LPIPS stubbed (see the module docstring): argv[1] is train / eval.
RUNNER = '''
import sys, torch
import torchmetrics.image as tmi
import torchmetrics.image.lpip as lp

class NoLpips(torch.nn.Module):
    """LPIPS without its AlexNet weights (a download): scores NaN."""
    def __init__(self, *args, **kwargs):
        super().__init__()
    def forward(self, a, b):
        return torch.tensor(float("nan"))

lp.LearnedPerceptualImagePatchSimilarity = tmi.LearnedPerceptualImagePatchSimilarity = NoLpips
which = sys.argv.pop(1)
if which == "train":
    from nerfstudio.scripts.train import entrypoint
else:
    from nerfstudio.scripts.eval import entrypoint
sys.exit(entrypoint())
'''

# ns-train keeps its last checkpoint only, saved every this many steps, and none when it is stopped: the
# peer is scored at the last multiple before the budget ran out (up to this many steps short of it).
SAVE_EVERY = 50
STEP_LINE = re.compile(r"^\s*(\d+) \(\s*[\d.]+%\)\s+(.+?)\s{2,}")


def ensure_venv(peer: Peer, venvs: Path) -> tuple[Path, str | None]:
    """The peer's python, installing its venv on first use; (python, None) or (python, why it failed)."""
    root = venvs / peer.name
    py = root / "bin" / "python"
    stamp = root / "installed.txt"
    if not stamp.exists():
        root.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(root)], check=True)
        print(f"{peer.name}: installing {' '.join(peer.packages)} into {root} (several GB) …", flush=True)
        r = subprocess.run([str(py), "-m", "pip", "install", "-q", *peer.packages], capture_output=True, text=True)
        if r.returncode:
            return py, "pip install failed: " + last_error(r.stderr)
        freeze = subprocess.run([str(py), "-m", "pip", "freeze"], capture_output=True, text=True).stdout
        stamp.write_text(freeze)
    (root / "nerfie_runner.py").write_text(RUNNER)
    r = subprocess.run([str(py), "-c", peer.check], capture_output=True, text=True)
    return py, (None if r.returncode == 0 else "does not import: " + last_error(r.stderr))


def last_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("WARNING: Location")]
    errs = [ln for ln in lines if re.match(r"^\w*(Error|Exception)\b", ln)]
    return (errs or lines or ["(no output)"])[-1][:300]


def logged_steps(log: str) -> tuple[int, str]:
    """Last step ns-train printed and its per-iteration time, from its progress table."""
    step, per = -1, ""
    for ln in re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", log).replace("\r", "\n").splitlines():
        if m := STEP_LINE.match(ln):
            step, per = int(m.group(1)), m.group(2).strip()
    return step, per


def run_peer(peer: Peer, scene: str, minutes: float, out: Path, venvs: Path = VENVS, data: Path = DATA,
             eval_minutes: float = 30.0) -> dict:
    """Train and score one peer on one scene; a dict with psnr / ssim / steps, or ``why`` it has none."""
    src = data / f"dnerf_{scene}"
    row: dict = {"peer": peer.name, "scene": scene, "method": peer.method}
    if not src.exists():
        return row | {"why": f"{src} absent"}
    py, why = ensure_venv(peer, venvs)
    if why:
        return row | {"why": why}
    run_dir = out / f"{scene}-{peer.name}"
    run_dir.mkdir(parents=True, exist_ok=True)
    runner = str(venvs / peer.name / "nerfie_runner.py")
    cmd = [str(py), runner, "train", peer.method, "--machine.device-type", "cpu", "--vis", "tensorboard",
           "--output-dir", str(run_dir), "--steps-per-save", str(SAVE_EVERY), "--logging.steps-per-log", "10",
           "--steps-per-eval-batch", "10000000", "--steps-per-eval-image", "10000000",
           "--steps-per-eval-all-images", "10000000", "--max-num-iterations", "10000000",
           "--pipeline.datamanager.camera-res-scale-factor", "0.5", "--data", str(src), "dnerf-data"]
    log_path = run_dir / "train.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        t0 = time.perf_counter()
        while proc.poll() is None and time.perf_counter() - t0 < minutes * 60:
            time.sleep(2)
        stopped = proc.poll() is None  # the budget ran out, not ns-train
        if stopped:
            os.killpg(proc.pid, signal.SIGINT)  # stops ns-train; it saves nothing then (see SAVE_EVERY)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    text = log_path.read_text(errors="replace")
    step, per = logged_steps(text)
    row |= {"steps": max(step, 0), "per_step": per, "minutes": minutes}
    configs = sorted(run_dir.rglob("config.yml"))
    ckpts = sorted(run_dir.rglob("*.ckpt"))
    if not stopped and proc.returncode and not ckpts:
        return row | {"why": "ns-train failed: " + last_error(text)}
    if not configs or not ckpts:
        return row | {"why": f"no checkpoint after {minutes:g} min ({max(step, 0)} steps, {per or '?'} a step)"}
    result = run_dir / "eval.json"
    try:
        r = subprocess.run([str(py), runner, "eval", "--load-config", str(configs[-1]), "--output-path",
                            str(result)], capture_output=True, text=True, timeout=eval_minutes * 60)
    except subprocess.TimeoutExpired:
        return row | {"why": f"scoring the 20 test views took over {eval_minutes:g} min"}
    if r.returncode or not result.exists():
        return row | {"why": "ns-eval failed: " + last_error(r.stderr + r.stdout)}
    res = json.loads(result.read_text())["results"]
    return row | {"psnr": res.get("psnr"), "ssim": res.get("ssim")}


def table_row(r: dict) -> str:
    if "psnr" in r:
        return (f"| {r['scene']} | {r['peer']} (`ns-train {r['method']}`, CPU) | {r['psnr']:.2f} / {r['ssim']:.4f} | "
                f"{r['steps']} | {r['steps'] / max(r['minutes'], 1e-9):.0f} | {r['minutes']:g} min, this machine | "
                "400², white |")
    return (f"| {r['scene']} | {r['peer']} (`ns-train {r['method']}`, CPU) | not scored: {r['why']} | "
            f"{r.get('steps', '')} | | {r.get('minutes', '')} | |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", nargs="+", default=["hook", "mutant"])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--peers", nargs="+", default=list(PEERS), choices=list(PEERS))
    ap.add_argument("--venvs", type=Path, default=VENVS, help="where the peers' own venvs live")
    ap.add_argument("--out", type=Path, default=Path("peer-runs"), help="the peers' run folders")
    ap.add_argument("--eval-minutes", type=float, default=30.0)
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args()
    rows = [run_peer(PEERS[p], s, args.minutes, args.out, args.venvs, args.data, args.eval_minutes)
            for s in args.scenes for p in args.peers]
    print("\n| scene | method | PSNR / SSIM | steps | steps/min | training | protocol |")
    print("|---|---|---|---:|---:|---|---|")
    for r in rows:
        print(table_row(r))
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
