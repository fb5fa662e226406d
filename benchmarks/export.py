"""Time and size of every export, on one trained project, on this machine.

    .venv/bin/python benchmarks/export.py [--project DIR] [--minutes 3] [--keep DIR]

Without ``--project`` it processes the bundled sample clip and trains it for ``--minutes``
(cpu-preview) first, so the figures come from a real model. Then, one after the other with nothing
else running, through the same engine calls as ``nerfie export`` / ``nerfie render`` and the app:
the nerfstudio and Nerfies dataset folders, the point cloud (whole scene and subject only), the mesh
(PLY and OBJ), and a 4 s turntable at 256 px with each extra output (depth, cut-out, transparent
cut-out, and the input path beside its frames). One line each: seconds, megabytes written, and what
a user would open (points, vertices and triangles, frames). Look at what it wrote (``--keep``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from importlib.resources import files
from pathlib import Path

from nerfie.recon.config import preset, with_overrides
from nerfie.recon.dataset import read_ply
from nerfie.recon.device import configure_threads
from nerfie.render.engine import Engine
from nerfie.render.export import RenderSpec
from nerfie.render.extra_outputs import movie_path
from nerfie.render.mesh import MeshSpec, read_mesh_ply
from nerfie.render.point_cloud import PointCloudSpec


def size_mb(path: Path) -> float:
    paths = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in paths) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--project", type=Path, help="a trained project (default: train the sample clip)")
    ap.add_argument("--minutes", type=float, default=3.0, help="training budget when training the sample")
    ap.add_argument("--keep", type=Path, help="write everything here instead of a temporary folder")
    args = ap.parse_args()
    configure_threads()
    tmp_ctx = tempfile.TemporaryDirectory(prefix="nerfie-export-bench-")
    root = args.keep or Path(tmp_ctx.name)
    root.mkdir(parents=True, exist_ok=True)
    engine = Engine()
    project = args.project
    if project is None:
        project = root / "sample-nerfie"
        clip = Path(str(files("nerfie.assets") / "sample_selfie.mp4"))
        t0 = time.perf_counter()
        engine.process(clip, project, with_overrides(preset("cpu-preview"), {"train.minutes": args.minutes}))
        engine.train(project, live=False)
        print(f"trained the sample clip in {(time.perf_counter() - t0) / 60:.1f} min (with poses)")
    scene = engine.load_scene(project)
    out = root / "exports"
    rows: list[tuple[str, float, float, str]] = []

    def timed(name: str, call, describe) -> None:  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        written = Path(call())
        rows.append((name, time.perf_counter() - t0, size_mb(written), describe(written)))
        print(f"  {name}: {rows[-1][1]:.1f} s", flush=True)

    timed("nerfstudio dataset", lambda: engine.export_dataset(project, "nerfstudio", out / "nerfstudio"),
          lambda p: f"{len(list((p / 'images').glob('*')))} images")
    timed("Nerfies dataset", lambda: engine.export_dataset(project, "nerfies", out / "nerfies"),
          lambda p: f"{len(list((p / 'rgb' / '1x').glob('*')))} frames × 4 scales")
    timed("point cloud", lambda: engine.export_point_cloud(scene, PointCloudSpec(), out / "cloud.ply"),
          lambda p: f"{len(read_ply(p)[0])} points")
    timed("point cloud, subject only",
          lambda: engine.export_point_cloud(scene, PointCloudSpec(subject_only=True), out / "subject.ply"),
          lambda p: f"{len(read_ply(p)[0])} points")
    timed("mesh (PLY)", lambda: engine.export_mesh(scene, MeshSpec(), out / "mesh.ply"),
          lambda p: "{} vertices, {} triangles".format(*(len(a) for a in read_mesh_ply(p)[:2])))
    timed("mesh (OBJ)", lambda: engine.export_mesh(scene, MeshSpec(), out / "mesh.obj"), lambda p: "same mesh")

    def video(path: str, outputs: tuple[str, ...], background: str = "white") -> RenderSpec:
        return RenderSpec(path=path, seconds=4.0, fps=15, long_side=256, fast_samples=True, arc_degrees=60.0,
                          outputs=outputs, cutout_background=background)

    plain = out / "turntable.mp4"
    timed("turntable 4 s, 256 px", lambda: engine.export(scene, video("turntable", ()), plain),
          lambda p: "60 frames")
    for name, outputs, background in (("+ depth", ("depth",), "white"), ("+ cut-out", ("cutout",), "white"),
                                      ("+ transparent cut-out", ("cutout",), "transparent")):
        target = out / f"turntable-{outputs[0]}-{background}.mp4"
        timed(f"turntable {name}",
              lambda o=outputs, b=background, t=target: engine.export(scene, video("turntable", o, b), t),
              lambda p, o=outputs, b=background: f"extra {size_mb(movie_path(p, o[0], b)):.1f} MB movie "
                                                 f"+ {size_mb(p.with_name(p.stem + '.' + o[0])):.1f} MB PNGs")
    timed("input path + compare", lambda: engine.export(scene, video("input", ("compare",)), out / "input.mp4"),
          lambda p: f"side by side {size_mb(movie_path(p, 'compare')):.1f} MB")

    print(f"\nExports of {project} (step {scene.step}), one after the other:\n")
    print("| export | seconds | MB | what |\n|---|---:|---:|---|")
    for name, seconds, mb, what in rows:
        print(f"| {name} | {seconds:.1f} | {mb:.1f} | {what} |")
    tmp_ctx.cleanup() if args.keep is None else print(f"\nkept in {root}")


if __name__ == "__main__":
    main()
