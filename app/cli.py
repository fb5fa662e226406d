"""The ``nerfie`` command line: one verb per GUI action, on the same engine.

Errors the user can act on (:class:`~nerfie.recon.errors.NerfieError`) print one line and exit
with status 2; Ctrl-C exits with 130. Tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from nerfie.recon.errors import NerfieError
from nerfie.recon.version import __version__


def _cmd_info(args: argparse.Namespace) -> int:
    from nerfie.recon.sysinfo import collect_info

    for key, value in collect_info().items():
        print(f"{key + ':':<20} {value}")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from nerfie.app.progress import TerminalProgress
    from nerfie.recon.device import configure_threads
    from nerfie.recon.synth import SynthSpec, generate, parse_size

    configure_threads()
    w, h = parse_size(args.size)
    spec = SynthSpec(
        frames=args.frames, width=w, height=h, variant=args.variant, seed=args.seed, fps=args.fps,
        distortion_k1=args.distortion, supersample=args.supersample, heldout=args.heldout,
    )
    spec.validate()
    sink = TerminalProgress(quiet=args.quiet)
    try:
        info = generate(Path(args.out_dir), spec, sink)
    finally:
        sink.close()
    print(f"Wrote {info.frames} frames, {info.heldout} held-out views and {info.video} in {info.seconds:.1f} s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nerfie",
        description="Turn a handheld selfie video into a deformable NeRF (a Nerfie) and a turntable video.",
    )
    parser.add_argument("--version", action="version", version=f"nerfie {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("info", help="show version, compute device, kernels and tool versions")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("synth", help="write a synthetic selfie capture with exact ground truth")
    p.add_argument("out_dir", help="output folder")
    p.add_argument("--frames", type=int, default=150, help="number of frames (default 150)")
    p.add_argument("--size", default="256x256", help="WIDTHxHEIGHT (default 256x256)")
    p.add_argument("--variant", default="dynamic", choices=["dynamic", "static", "still-camera"],
                   help="dynamic subject (default), static subject, or a camera that never moves")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fps", type=float, default=15.0, help="video frame rate (default 15)")
    p.add_argument("--distortion", type=float, default=0.0, help="radial distortion k1 (default 0)")
    p.add_argument("--supersample", type=int, default=1, help="anti-aliasing rays per pixel side (1-4)")
    p.add_argument("--heldout", type=int, default=8, help="held-out novel views (default 8)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_synth)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except NerfieError as exc:
        print(f"nerfie: error: {exc.one_line()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nerfie: interrupted; finished work is kept.", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
