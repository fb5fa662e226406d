"""The ``nerfie`` command line: one verb per GUI action, on the same engine.

Errors the user can act on (:class:`~nerfie.recon.errors.NerfieError`) print one line and exit
with status 2; Ctrl-C exits with 130. Tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from nerfie.recon.config import PRESETS, NerfieConfig, RenderConfig
from nerfie.recon.errors import NerfieError
from nerfie.recon.version import __version__

if TYPE_CHECKING:
    from nerfie.render.engine import Engine
    from nerfie.render.export import RenderSpec


def _cmd_info(args: argparse.Namespace) -> int:
    import json

    if args.project:
        from nerfie.recon.project_summary import project_summary

        summary = project_summary(Path(args.project))
        if args.json:
            print(json.dumps(summary, indent=2, allow_nan=False))
            return 0
        print(f"{'project:':<20} {summary['root']}")
        for stage, st in summary["stages"].items():
            figures = ", ".join(f"{k} {v}" for k, v in st["detail"].items() if not isinstance(v, (dict, list)))
            print(f"{stage + ':':<20} {st['state']}{'; ' + figures if figures else ''}")
        files = summary["files"]
        print(f"{'files:':<20} {files['frames']} frames, checkpoint {files['checkpoint'] or 'none'}, "
              f"{len(files['renders'])} renders")
        return 0
    from nerfie.recon.sysinfo import collect_info

    info = collect_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for key, value in info.items():
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


def _cmd_gui(args: argparse.Namespace) -> int:
    from nerfie.app.gui import run_gui

    return run_gui(args.path, _parse_sets(args.set))


class _CancelOnSigint:
    """First Ctrl-C asks the engine to stop cleanly (also inside COLMAP); a second one kills."""

    def __init__(self) -> None:
        import threading

        self.event = threading.Event()

    def __enter__(self) -> _CancelOnSigint:
        import signal

        def handler(_sig: int, _frame: object) -> None:
            if self.event.is_set():
                raise KeyboardInterrupt
            self.event.set()
            print("\nnerfie: stopping after the current step (Ctrl-C again to abort)…", file=sys.stderr)

        self._old = signal.signal(signal.SIGINT, handler)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        signal.signal(signal.SIGINT, self._old)


def _config_from_args(args: argparse.Namespace, project_dir: Path) -> NerfieConfig:
    from nerfie.recon.config import preset, with_overrides

    if (project_dir / "project.json").exists():
        from nerfie.recon.project import Project

        cfg = Project.load(project_dir).config
    else:
        cfg = preset(args.preset or _default_preset())
    overrides: dict[str, object] = {}
    for key, attr in (("ingest.target_frames", "frames"), ("sfm.matcher", "matcher"),
                      ("ingest.start_seconds", "start"), ("ingest.end_seconds", "end"),
                      ("sfm.camera_model", "camera_model")):
        value = getattr(args, attr, None)
        if value is not None:
            overrides[key] = value
    if getattr(args, "no_masks", False):
        overrides["ingest.masks"] = False
    overrides.update(_parse_sets(getattr(args, "set", None)))
    return with_overrides(cfg, overrides) if overrides else cfg


def _parse_sets(items: list[str] | None) -> dict[str, object]:
    """``--set key=value`` pairs; values are JSON where they parse (numbers, lists, true), else strings."""
    import json

    out: dict[str, object] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep:
            raise NerfieError(f"--set {item!r} has no '='.", "Write it as key=value, e.g. train.lr=0.005.")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _default_preset() -> str:
    from nerfie.recon.device import pick_device

    return "cpu-preview" if pick_device("auto").type == "cpu" else "gpu-standard"


def _cmd_process(args: argparse.Namespace) -> int:
    from nerfie.app.progress import TerminalProgress
    from nerfie.recon.device import configure_threads
    from nerfie.recon.events import Cancelled

    configure_threads()
    source = Path(args.source)
    out = Path(args.output) if args.output else _default_dir(source, Path.cwd())
    cfg = _config_from_args(args, out)
    sink = TerminalProgress(quiet=args.quiet)
    try:
        with _CancelOnSigint() as cancel:
            proj = _engine(sink, cancel).process(source, out, cfg)
    except Cancelled:
        sink.close()
        print(f"nerfie: cancelled; run the same command again to resume ({out}).", file=sys.stderr)
        return 130
    except NerfieError as exc:
        report = out / "report.txt"
        if report.exists() and "poses" in report.read_text():
            exc.advice = f"{exc.advice} Details: {report}".strip()
        raise
    finally:
        sink.close()
    report = out / "report.txt"
    if report.exists() and not args.quiet:
        print(report.read_text(), file=sys.stderr)
    d = proj.detail("poses")
    print(f"Poses: {d.registered} of {d.total} frames registered. Project: {proj.root}")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from nerfie.recon.device import configure_threads
    from nerfie.recon.importers import detect_dataset

    configure_threads()
    source = Path(args.source)
    if not source.exists():
        raise NerfieError(f"{source} does not exist.", "Check the path to the dataset.")
    base = source.parent if source.is_file() else source
    out = Path(args.output) if args.output else _default_dir(base, Path.cwd())
    cfg = _config_from_args(args, out)
    kind = detect_dataset(source)
    from nerfie.app.progress import TerminalProgress

    sink = TerminalProgress(quiet=False)
    try:
        proj = _engine(sink).import_dataset(source, out, cfg, args.background, not args.full_res)
    finally:
        sink.close()
    label = {"blender": "D-NeRF / Blender"}.get(kind or "", kind)
    print(f"Imported a {label} dataset: {proj.detail('poses').registered} posed frames. "
          f"Project: {proj.root} — next: nerfie train {proj.root}")
    for line in proj.detail("poses").report[1:] if kind != "blender" else proj.detail("poses").report:
        print(line)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from nerfie.app.progress import TerminalProgress
    from nerfie.recon.events import Cancelled
    from nerfie.recon.project import Project

    proj = Project.load(Path(args.project))
    overrides: dict[str, object] = {}
    if args.steps is not None:
        overrides["train.steps"] = args.steps
    if args.minutes is not None:
        overrides["train.minutes"] = args.minutes
    if args.device is not None:
        overrides["train.device"] = args.device
    overrides.update(_parse_sets(args.set))
    sink = TerminalProgress(quiet=args.quiet)
    try:
        with _CancelOnSigint() as cancel:
            result = _engine(sink, cancel).train(proj.root, overrides, live=False)
    except Cancelled:
        print(f"nerfie: stopped; the last checkpoint is kept — run the same command to resume ({proj.root}).",
              file=sys.stderr)
        return 130
    finally:
        sink.close()
    if args.json:
        import json

        clean = {k: (None if isinstance(v, float) and v != v else v) for k, v in result.items()
                 if isinstance(v, (int, float, str))}
        print(json.dumps({"project": str(proj.root.resolve()), **clean,
                          "checkpoint": str(proj.checkpoints_dir / "latest.pt")}, indent=2))
        return 0

    def db(key: str) -> str:
        x = result.get(key, float("nan"))
        return _db(None if x != x else x)

    print(f"Trained {result['step']} steps in {result['seconds']:.0f} s; held-out PSNR {db('val_psnr')} "
          f"(subject {db('val_psnr_subject')}), view consistency {db('consistency_psnr')} "
          f"(subject {db('consistency_psnr_subject')}). Checkpoint: {proj.checkpoints_dir / 'latest.pt'}")
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    from nerfie.app.progress import TerminalProgress
    from nerfie.recon.events import Cancelled
    from nerfie.render.export import RenderSpec

    scene = _engine().load_scene(Path(args.project), args.device or "auto")
    cfg = scene.project.config.render
    long_side = args.long_side or (cfg.long_side if scene.device.type != "cpu" else min(cfg.long_side, 512))
    path = args.path or ("keyframes" if args.keyframes else cfg.path)
    keys = None
    if args.keyframes:
        from nerfie.recon.errors import NerfieError
        from nerfie.recon.fileio import read_json
        from nerfie.render.export import keyframes_from_json

        try:
            data = read_json(Path(args.keyframes))
        except NerfieError as exc:  # its advice is about project files; this one is the user's own
            raise NerfieError(exc.message, 'Give a JSON file with a "keyframes" list of '
                              '{"camera_to_world": [16 numbers], "fov": …, "time": …}.') from exc
        keys = keyframes_from_json(scene, data)
    dataparser = None
    if args.dataparser_transforms:
        from nerfie.render.dataparser import DataparserTransform

        dataparser = DataparserTransform.read(Path(args.dataparser_transforms))
    spec = RenderSpec(path=path, seconds=args.seconds or cfg.seconds, fps=args.fps or cfg.fps,
                      long_side=long_side, time_mode=args.time or cfg.time_mode,
                      frozen_frame=args.frame if args.frame is not None else cfg.frozen_frame,
                      arc_degrees=args.arc, fast_samples=cfg.fast_samples, keyframes=keys,
                      resize_camera_path=bool(args.long_side), outputs=tuple(args.outputs or ()),
                      cutout_background=args.background, dataparser=dataparser)
    out = Path(args.output) if args.output else scene.project.renders_dir / f"{spec.path}.mp4"
    n = spec.frames if not args.camera_path else "the file's"
    size = f"{spec.long_side} px" if not args.camera_path or args.long_side else "the file's size"
    timing = "as keyed" if keys and all(k.time is not None for k in keys) else spec.time_mode
    print(f"Rendering {n} frames at {size} ({spec.path}, time {timing}) → {out}", file=sys.stderr)
    sink = TerminalProgress(quiet=args.quiet)
    try:
        with _CancelOnSigint() as cancel:
            _engine(sink, cancel).export(scene, spec, out, Path(args.camera_path) if args.camera_path else None,
                                         args.png)
    except Cancelled:
        print("nerfie: render cancelled; nothing was written.", file=sys.stderr)
        return 130
    finally:
        sink.close()
    print(f"Wrote {out}")
    from nerfie.render.extra_outputs import movie_path

    for kind in spec.outputs:
        pngs = f" and {out.with_name(out.stem + '.' + kind)}/" if kind != "compare" else ""
        print(f"Wrote {movie_path(out, kind, spec.cutout_background)}{pngs}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from nerfie.app.progress import TerminalProgress
    from nerfie.recon.events import Cancelled
    from nerfie.render.mesh import MeshSpec
    from nerfie.render.point_cloud import PointCloudSpec

    project = Path(args.project)
    out = Path(args.output) if args.output else None
    sink = TerminalProgress(quiet=args.quiet)
    try:
        with _CancelOnSigint() as cancel:
            engine = _engine(sink, cancel)
            if args.what == "pointcloud":
                spec = PointCloudSpec(frame=args.frame, min_opacity=args.min_opacity, subject_only=args.subject_only,
                                      long_side=args.long_side or PointCloudSpec.long_side)
                written = engine.export_point_cloud(project, spec, out, args.device or "auto")
            elif args.what == "mesh":
                spec = MeshSpec(frame=args.frame, resolution=args.resolution or MeshSpec.resolution)
                written = engine.export_mesh(project, spec, out, args.device or "auto")
            else:
                written = engine.export_dataset(project, args.what, out)
    except Cancelled:
        print("nerfie: export cancelled; nothing was written.", file=sys.stderr)
        return 130
    finally:
        sink.close()
    print(f"Wrote {written}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    import json

    from nerfie.app.progress import TerminalProgress
    from nerfie.recon.events import Cancelled

    sink = TerminalProgress(quiet=args.quiet or args.json)
    try:
        with _CancelOnSigint() as cancel:
            record = _engine(sink, cancel).evaluate(Path(args.project), args.split, args.device or "auto",
                                                    images=not args.no_images)
    except Cancelled:
        print("nerfie: eval cancelled; nothing was written.", file=sys.stderr)
        return 130
    finally:
        sink.close()
    if args.json:
        print(json.dumps(record))
        return 0
    m = record["mean"]
    ms = f", MS-SSIM {m['ms_ssim']:.4f}" if m.get("ms_ssim") is not None else ""
    lp = f", LPIPS ({record['lpips']['network']}) {m['lpips']:.4f}" if "lpips" in m else ""
    w, h = record["resolution"]
    print(f"{record['split']}: {record['views']} views at {w}×{h}, step {record['step']}: PSNR {m['psnr']:.2f} dB, "
          f"SSIM {m['ssim']:.4f}{ms}{lp}")
    if "skipped" in record["lpips"]:
        print(f"LPIPS {record['lpips']['skipped']}")
    print(f"Wrote {Path(args.project) / 'eval.json'}"
          + (f" and {Path(args.project) / record['images']} (each image beside its render)" if "images" in record
             else ""))
    return 0


def _sample_clip() -> Path:
    from importlib.resources import files

    return Path(str(files("nerfie.assets") / "sample_selfie.mp4"))


# On a CPU the renderer manages ~10k rays/s (2 cores): `nerfie run` defaults to a short, small preview
# there instead of the preset's GPU-sized video (`--help` prints these).
CPU_TURNTABLE = {"seconds": 4.0, "fps": 15, "long_side": 256}


def run_turntable_spec(render: RenderConfig, cpu: bool, args: argparse.Namespace) -> RenderSpec:
    """The turntable `nerfie run` renders: the CPU preview or the preset's video, flags first."""
    from nerfie.render.export import RenderSpec

    base = CPU_TURNTABLE if cpu else {"seconds": render.seconds, "fps": render.fps, "long_side": render.long_side}
    return RenderSpec(path="turntable", seconds=args.seconds or base["seconds"], fps=args.fps or int(base["fps"]),
                      long_side=args.long_side or int(base["long_side"]), time_mode=render.time_mode,
                      arc_degrees=args.arc, fast_samples=render.fast_samples)


def _cmd_run(args: argparse.Namespace) -> int:
    from nerfie.app.progress import TerminalProgress
    from nerfie.recon.config import with_overrides
    from nerfie.recon.device import configure_threads
    from nerfie.recon.events import Cancelled
    from nerfie.render.scene import TrainedScene

    configure_threads()
    source = Path(args.source) if args.source else _sample_clip()
    out = Path(args.output) if args.output else _default_dir(source, Path.cwd())
    cfg = with_overrides(_config_from_args(args, out),
                         {"train.minutes": args.minutes if args.minutes is not None else 8.0})

    def turntable(scene: TrainedScene) -> RenderSpec:
        return run_turntable_spec(scene.project.config.render, scene.device.type == "cpu", args)

    sink = TerminalProgress(quiet=args.quiet)
    try:
        with _CancelOnSigint() as cancel:
            res = _engine(sink, cancel).run(source, out, cfg, turntable)
    except Cancelled:
        print(f"nerfie: stopped; run the same command again to resume ({out}).", file=sys.stderr)
        return 130
    finally:
        sink.close()
    times = ", ".join(f"{k} {v / 60:.1f} min" for k, v in res.seconds.items())
    held, cons = res.quality.get("heldout", {}), res.quality.get("view_consistency", {})
    print(f"Frames registered: {res.registered}/{res.total}\n"
          f"Held-out PSNR:     {_db(res.val_psnr)} whole, {_db(held.get('psnr_subject'))} subject, "
          f"SSIM {_num(held.get('ssim'))}\n"
          f"View consistency:  {_db(cons.get('psnr'))} whole, {_db(cons.get('psnr_subject'))} subject "
          f"(input frames from hand-shake-free cameras)\n"
          f"Path check:        {'passed' if not res.path_check else '; '.join(res.path_check)}\n"
          f"Subject:           {res.quality.get('subject_source', 'n/a')}\n"
          f"Time:              {times}\n"
          f"Project:           {res.project}\n"
          f"Turntable video:   {res.video}")
    return 0


def _engine(sink: object = None, cancel: _CancelOnSigint | None = None) -> Engine:
    """The engine every verb drives (the app drives the same one in a worker process)."""
    from nerfie.recon.events import ignore
    from nerfie.render.engine import Controls, Engine

    controls = Controls(cancelled=cancel.event.is_set) if cancel is not None else Controls()
    return Engine(sink or ignore, controls)  # type: ignore[arg-type]


def _default_dir(source: Path, home: Path) -> Path:
    from nerfie.render.engine import default_project_dir

    return default_project_dir(source, home)


def _db(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{x:.2f} dB"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nerfie",
        description="Turn a handheld selfie video into a deformable NeRF (a Nerfie) and a turntable video.",
    )
    parser.add_argument("--version", action="version", version=f"nerfie {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("info", help="show version, compute device, kernels and tool versions; or a project's state")
    p.add_argument("project", nargs="?", help="a project folder: its stages, figures and files instead")
    p.add_argument("--json", action="store_true", help="print one JSON object (for scripts)")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("synth", help="write a synthetic selfie capture with exact ground truth")
    p.add_argument("out_dir", help="output folder")
    p.add_argument("--frames", type=int, default=150, help="number of frames (default 150)")
    p.add_argument("--size", default="256x256", help="WIDTHxHEIGHT (default 256x256)")
    p.add_argument("--variant", default="dynamic", choices=["dynamic", "static", "still-camera", "pan", "drift"],
                   help="dynamic subject (default), static subject, a camera that never moves, a camera that "
                        "mostly turns (pan), or a person who moves along with the camera (drift)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fps", type=float, default=15.0, help="video frame rate (default 15)")
    p.add_argument("--distortion", type=float, default=0.0, help="radial distortion k1 (default 0)")
    p.add_argument("--supersample", type=int, default=1, help="anti-aliasing rays per pixel side (1-4)")
    p.add_argument("--heldout", type=int, default=8, help="held-out novel views (default 8)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("process", help="video or photo folder → frames, masks, camera poses (resumable)")
    p.add_argument("source", help="video file (mp4, mov, webm, mkv, …) or a folder of photos")
    p.add_argument("-o", "--output", help="project folder (default: next to the video, <name>-nerfie)")
    p.add_argument("--preset", choices=list(PRESETS),
                   help="settings preset for a new project (default: by device; auto times this machine)")
    p.add_argument("--frames", type=int, help="target number of frames (default 150; 100 on cpu-preview)")
    p.add_argument("--no-masks", action="store_true", help="do not mask the person out for SfM")
    p.add_argument("--start", type=float, help="use the video from this second on")
    p.add_argument("--end", type=float, help="use the video up to this second")
    p.add_argument("--matcher", choices=["sequential", "exhaustive"], help="COLMAP matching (default sequential)")
    p.add_argument("--camera-model", choices=["SIMPLE_RADIAL", "OPENCV"], help="COLMAP camera model")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any config value, e.g. sfm.seeds=[0,5]")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or report")
    p.set_defaults(func=_cmd_process)

    p = sub.add_parser("import", help="posed dataset → project, skipping SfM: transforms.json, a D-NeRF / Blender "
                                      "folder, COLMAP sparse/ + images/, or a Nerfies/HyperNeRF dataset folder")
    p.add_argument("source", help="transforms.json (or its folder), D-NeRF folder (transforms_train.json …), "
                                  "COLMAP workspace, or Nerfies dataset folder")
    p.add_argument("-o", "--output", help="project folder (default: <source folder>-nerfie beside it)")
    p.add_argument("--preset", choices=list(PRESETS))
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any config value, e.g. train.steps=5000")
    p.add_argument("--background", choices=["white", "black"], default="white",
                   help="D-NeRF / Blender layout: composite the RGBA renders on this (default white, as the papers)")
    p.add_argument("--full-res", action="store_true",
                   help="D-NeRF / Blender layout: keep the renders' size (default: half, 400² as the papers)")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("train", help="train the Nerfie of a processed project (resumes from its checkpoint)")
    p.add_argument("project", help="project folder made by `nerfie process`")
    p.add_argument("--steps", type=int, help="total training steps (default: the preset's)")
    p.add_argument("--minutes", type=float, help="wall-clock budget in minutes (0 = none)")
    p.add_argument("--device", choices=["auto", "cuda", "mps", "cpu"])
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any config value, e.g. train.lr=0.005")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object at the end")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("render", help="render a trained project to an MP4 along a camera path")
    p.add_argument("project", help="a trained project folder")
    p.add_argument("-o", "--output", help="video file (default: PROJECT/renders/<path>.mp4)")
    p.add_argument("--path", choices=["turntable", "orbit-mild", "input", "keyframes"],
                   help="camera path (default orbit-mild; keyframes needs --keyframes)")
    p.add_argument("--keyframes", metavar="FILE",
                   help="JSON keyframes to fly through (camera_to_world, fov, optional time); implies --path keyframes")
    p.add_argument("--arc", type=float, default=360.0, help="turntable arc in degrees (default 360)")
    p.add_argument("--seconds", type=float, help="video length (default: the project's render.seconds, 6)")
    p.add_argument("--fps", type=int, help="frames per second (default: the project's render.fps, 30)")
    p.add_argument("--long-side", type=int, help="pixels on the long side (default 512 on CPU, 1080 on GPU)")
    p.add_argument("--time", choices=["frozen", "play", "bounce"], help="how time moves (default play)")
    p.add_argument("--frame", type=int, help="the frame shown with --time frozen")
    p.add_argument("--camera-path", help="render a camera-path JSON (ours or nerfstudio's) instead")
    p.add_argument("--dataparser-transforms", metavar="FILE",
                   help="a nerfstudio run's dataparser_transforms.json: camera paths are read in (and the one "
                        "written beside the video is in) that run's frame, as its viewer and ns-render use")
    p.add_argument("--png", action="store_true", help="also write the frames as PNGs")
    p.add_argument("--outputs", nargs="+", choices=["depth", "cutout", "compare"],
                   help="also write depth (colour-mapped MP4 + 16-bit PNGs), the subject cut-out (RGBA PNGs + MP4) "
                        "and/or compare (the input frame beside the render, best with --path input) beside the video")
    p.add_argument("--background", choices=["white", "black", "transparent"], default="white",
                   help="the cut-out video's background: white, black (MP4) or transparent (a WebM with alpha); "
                        "its PNGs are always transparent (default white)")
    p.add_argument("--device", choices=["auto", "cuda", "mps", "cpu"])
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_cmd_render)

    p = sub.add_parser("export", help="export a project: nerfstudio or Nerfies dataset, a point cloud or a mesh")
    p.add_argument("project", help="a project folder (trained, for pointcloud and mesh)")
    p.add_argument("what", choices=["nerfstudio", "nerfies", "pointcloud", "mesh"],
                   help="nerfstudio: transforms.json + images for ns-train; nerfies: a Nerfies/HyperNeRF dataset; "
                        "pointcloud: the trained Nerfie at one frame as a coloured PLY; "
                        "mesh: the subject at one frame as a closed, coloured mesh (.ply or .obj)")
    p.add_argument("-o", "--output", help="folder (datasets), .ply file or .obj (mesh) (default: PROJECT/exports/…)")
    p.add_argument("--frame", type=int,
                   help="pointcloud, mesh: the frame whose moment is shown (default: the middle one)")
    p.add_argument("--subject-only", action="store_true", help="pointcloud: only the person (needs subject masks)")
    p.add_argument("--min-opacity", type=float, default=0.9, help="pointcloud: keep pixels at least this opaque")
    p.add_argument("--long-side", type=int, help="pointcloud: render size per input view (default 160)")
    p.add_argument("--resolution", type=int,
                   help="mesh: grid cells across the subject's cube (default 160; time grows with its cube)")
    p.add_argument("--device", choices=["auto", "cuda", "mps", "cpu"])
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("eval", help="score a split never trained on (D-NeRF's test views, or the held-out frames): "
                                    "PSNR, SSIM, MS-SSIM, LPIPS if installed → PROJECT/eval.json")
    p.add_argument("project", help="a trained project folder")
    p.add_argument("--split", choices=["test", "val", "heldout", "train"], default="test",
                   help="test: the dataset's test split (D-NeRF); val/heldout: the frames held out of training; "
                        "train: 8 training views (how well it fits what it saw, beside held-out)")
    p.add_argument("--json", action="store_true", help="print eval.json's content instead of a summary")
    p.add_argument("--no-images", action="store_true",
                   help="do not write eval/<split>/<frame> (each image beside its render)")
    p.add_argument("--device", choices=["auto", "cuda", "mps", "cpu"])
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("run", help="video → poses → training → turntable MP4 in one go (resumable)")
    p.add_argument("source", nargs="?", help="video or photo folder (default: the bundled sample clip)")
    p.add_argument("-o", "--output", help="project folder (default: ./<video name>-nerfie)")
    p.add_argument("--preset", choices=list(PRESETS))
    p.add_argument("--minutes", type=float, help="training time budget in minutes (default 8)")
    p.add_argument("--frames", type=int, help="target number of frames")
    p.add_argument("--no-masks", action="store_true", help="do not mask the person out for SfM")
    gpu = RenderConfig()
    p.add_argument("--seconds", type=float, help=f"turntable length (default {CPU_TURNTABLE['seconds']:g} s on a "
                   f"CPU, {gpu.seconds:g} s on a GPU)")
    p.add_argument("--fps", type=int, help=f"turntable frame rate (default {CPU_TURNTABLE['fps']} on a CPU, "
                   f"{gpu.fps} on a GPU)")
    p.add_argument("--long-side", type=int, help=f"turntable size in pixels on the long side (default "
                   f"{CPU_TURNTABLE['long_side']} on a CPU, the preset's on a GPU: {gpu.long_side} by default)")
    p.add_argument("--arc", type=float, default=60.0, help="turntable arc in degrees (default 60: the seen side)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any config value")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("gui", help="open the desktop app (optionally on a video or project folder)")
    p.add_argument("path", nargs="?", help="video to process or project folder to open")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="config values for new projects")
    p.set_defaults(func=_cmd_gui)
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
