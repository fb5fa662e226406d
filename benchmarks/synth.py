"""How long a synthetic capture takes to generate (target: 150 frames at 256x256 in < 60 s on 2 cores).

    .venv/bin/python benchmarks/synth.py [--frames 150] [--size 256x256]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from nerfie.recon.device import configure_threads
from nerfie.recon.synth import SynthSpec, generate, parse_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--size", default="256x256")
    args = ap.parse_args()
    threads = configure_threads()
    w, h = parse_size(args.size)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        info = generate(tmp, SynthSpec(frames=args.frames, width=w, height=h))
        dt = time.perf_counter() - t0
    print(f"synth: {info.frames} frames + {info.heldout} held-out at {w}x{h}, {threads} threads: "
          f"{dt:.1f} s total, {dt / (info.frames + info.heldout) * 1000:.0f} ms per image "
          f"({'within' if dt < 60 else 'OVER'} the 60 s target)")


if __name__ == "__main__":
    main()
