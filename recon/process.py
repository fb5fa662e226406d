"""``nerfie process``: video (or photos) → frames → masks → poses → dataset, resumable.

One engine call for the CLI and the GUI. Every stage records its state in ``project.json``; a rerun
skips finished stages (decoded frames are never decoded again), so a cancelled or killed run loses
at most the stage it was in. A plain-words diagnostics report is written to ``report.txt``.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nerfie.recon.camera import Camera
from nerfie.recon.config import NerfieConfig
from nerfie.recon.dataset import write_dataset
from nerfie.recon.errors import NerfieError, ProjectError
from nerfie.recon.events import EventSink, Log, StageDone, ignore
from nerfie.recon.fileio import write_bytes_atomic
from nerfie.recon.ingest.frames import ingest
from nerfie.recon.ingest.masks import make_masks
from nerfie.recon.project import Project
from nerfie.recon.rotations import rotation_angles_deg
from nerfie.recon.sfm.motion_check import STILL_THRESHOLD_PERCENT, median_motion_percent

if TYPE_CHECKING:  # the SfM module is imported only when poses run
    from nerfie.recon.sfm.colmap_runner import Attempt

NARROW_ARC_DEG = 15.0  # views of the subject spanning less than this make a flat, input-view-only Nerfie


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        self.lines.append(line)

    def text(self) -> str:
        out = ["Nerfie processing report", "", *self.lines]
        if self.advice:
            out += ["", "Advice:", *(f"- {a}" for a in self.advice)]
        return "\n".join(out) + "\n"


SWING_FACTOR = 4.0  # a frame turns this many times the clip's median turn per frame: the phone is being swung
SWING_MIN_DEG = 0.5  # …and at least this much (a tripod-steady clip's median turn is ~0)


def swinging(cameras: list[Camera]) -> list[bool]:
    """Per frame, whether the camera turned fast since the previous frame (the phone being swung to or
    from the subject): ≥ ``SWING_FACTOR`` × the clip's median turn per frame and ≥ ``SWING_MIN_DEG``.

    Such frames are motion-blurred, and the person in them moves with the swinging arm; measured on
    foreman (RESULTS.md), the swing at its end turns 1–4° per frame against a median of 0.2°, and the
    subject is still near the middle of the picture for its first frames, so the facing test alone keeps them.
    """
    if len(cameras) < 2:
        return [False] * len(cameras)
    R = np.stack([c.rotation for c in cameras])
    turns = rotation_angles_deg(R[1:], R[:-1])
    limit = max(SWING_FACTOR * float(np.median(turns)), SWING_MIN_DEG)
    return [False, *(bool(t >= limit) for t in turns)]


def trim_swung_away(names: list[str], cameras: dict[str, Camera], subject: np.ndarray, min_frames: int) -> list[str]:
    """``names`` without the runs of frames at the start and the end whose camera does not face the
    subject or is being swung (a clip that ends by swinging the phone to the room): they teach the
    model the room and a blurred, moving person, not the person, and the paths' ``play`` time ends on
    them. Nothing is dropped if fewer than ``min_frames`` (or half) would remain."""
    from nerfie.recon.sfm.subject import facing_cameras

    cams = [cameras[n] for n in names]
    facing = {id(c) for c in facing_cameras(cams, subject)}
    swing = swinging(cams)
    # A swing's first frame is the one that turned away; the frame before it is still steady.
    ok = [id(c) in facing and not s for c, s in zip(cams, swing, strict=True)]
    if not any(ok):
        return names
    lo = ok.index(True)
    hi = len(ok) - ok[::-1].index(True)
    kept = names[lo:hi]
    return kept if len(kept) >= max(min_frames, len(names) // 2) else names


def open_or_create(project_dir: Path, source: Path | None, config: NerfieConfig) -> Project:
    if (project_dir / "project.json").exists():
        proj = Project.load(project_dir)
        if source is not None and proj.source and proj.resolve(proj.source) != source.resolve():
            raise ProjectError(
                f"{project_dir} was made from {proj.source}, not {source}.",
                "Choose another output folder, or delete this one to start over.",
            )
        return proj
    try:
        return Project.create(project_dir, config, source=str(source) if source else None)
    except PermissionError as exc:
        raise ProjectError(f"Cannot write to {project_dir} (permission denied).",
                           "Choose an output folder you can write to.") from exc
    except OSError as exc:
        raise ProjectError(f"Cannot create {project_dir} ({exc.strerror}).", "Choose another output folder.") from exc


def process(source: str | Path | None, project_dir: str | Path, config: NerfieConfig, on_event: EventSink = ignore,
            cancelled: Callable[[], bool] = lambda: False) -> Project:
    """Run (or resume) ingest and poses for ``source`` into ``project_dir``."""
    project_dir = Path(project_dir)
    src = Path(source) if source is not None else None
    if src is not None and not src.exists():
        raise NerfieError(f"{src} does not exist.", "Check the path to the video.")
    proj = open_or_create(project_dir, src, config)
    if src is None:
        if not proj.source:
            raise NerfieError("No video given and the project has none.", "Pass the video to process.")
        src = proj.resolve(proj.source)
    report = Report()
    t0 = time.perf_counter()
    try:
        _frames_and_poses(proj, src, report, on_event, cancelled, t0)
    finally:
        write_bytes_atomic(proj.path("report.txt"), report.text().encode())
    return proj


def _frames_and_poses(proj: Project, src: Path, report: Report, on_event: EventSink,
                      cancelled: Callable[[], bool], t0: float) -> None:
    cfg = proj.config
    ing = proj.stages["ingest"]
    if ing.state != "done":
        proj.set_stage("ingest", "running")
        try:
            res = ingest(src, proj.root, cfg.ingest, on_event, cancelled)
        except NerfieError as exc:
            proj.set_stage("ingest", "failed", reason=exc.message)
            report.add(f"Frames: {exc.message}")
            report.advice.append(exc.advice)
            raise
        proj.set_stage("ingest", "done", names=res.names, decoded=res.decoded, source_kind=res.source_kind,
                       rejected_blurry=res.rejected_blurry, rejected_duplicate=res.rejected_duplicate,
                       size=list(res.size), fps=res.fps, duration=res.duration, rotation=res.rotation,
                       dark=res.dark, seconds=round(time.perf_counter() - t0, 1))
        on_event(StageDone("ingest", f"{len(res.names)} frames selected of {res.decoded}"))
    d = proj.detail("ingest")
    names: list[str] = list(d.names)
    report.add(f"Source: {src.name} ({d.source_kind}, {d.decoded} frames decoded"
               + (f", {d.fps:.1f} fps, {d.duration:.1f} s" if d.source_kind == "video" else "")
               + (f", rotated {d.rotation}°" if d.rotation else "") + ")")
    report.add(f"Frames: {len(names)} selected at {d.size[0]}x{d.size[1]}; {d.rejected_blurry} rejected "
               f"as blurry, {d.rejected_duplicate} as near-duplicates (camera paused)")
    if d.dark:
        report.advice.append("The video is dark: film in brighter, even light.")

    _poses(proj, names, report, on_event, cancelled)


def _refuse_if_turned_on_the_spot(proj: Project, report: Report, attempts: list[Attempt], larger_than: int) -> None:
    """Stop, in the capture's words, when the models registering more than ``larger_than`` frames were
    refused for want of parallax (``sanity.PARALLAX_PROBLEM``): they held together but could not see depth."""
    from nerfie.recon.sfm.sanity import PARALLAX_PROBLEM
    from nerfie.recon.sfm.subject import TURNED_ON_THE_SPOT

    models = [(a.registered, a.problems) for a in attempts] + [a.refused_larger for a in attempts if a.refused_larger]
    flat = [p for n, problems in models if n > larger_than for p in problems if p.startswith(PARALLAX_PROBLEM)]
    if not flat:
        return
    cause, fix = TURNED_ON_THE_SPOT
    why = flat[0].removeprefix(PARALLAX_PROBLEM).strip().split(":")[0]
    report.advice.append(fix)
    proj.set_stage("poses", "failed", reason=cause)
    raise NerfieError(f"These camera poses cannot give depth: {cause} ({why}).", fix)


def _poses(proj: Project, names: list[str], report: Report, on_event: EventSink,
           cancelled: Callable[[], bool]) -> None:
    from nerfie.recon.sfm.colmap_runner import SfmFailed, SfmModel, run_sfm
    from nerfie.recon.sfm.normalize import normalize_scene, scene_median_depth
    from nerfie.recon.sfm.subject import (
        SubjectEstimate,
        diagnose,
        estimate_subject,
        facing_cameras,
        observations,
        seen_arc_degrees,
    )

    cfg = proj.config
    if proj.stages["poses"].state == "done":
        for line in proj.detail("poses").report:
            report.add(line)
        return
    proj.set_stage("poses", "running")
    t0 = time.perf_counter()
    first_line = len(report.lines)
    frames_dir = proj.frames_dir
    masks_used = False
    if cfg.ingest.masks:
        mrep = make_masks(frames_dir, names, proj.masks_dir, on_event, cancelled)
        masks_used = mrep.used
        report.add(f"Subject masks: {mrep.reason}"
                   + (f" (mean {mrep.mean_masked_fraction:.0%} of each frame masked)" if mrep.used else ""))
        if mrep.used and mrep.mean_masked_fraction > 0.6:
            report.advice.append("The face fills most of the frame: hold the phone further away so the "
                                 "background shows around you.")
    else:
        report.add("Subject masks: off")
    colmap_masks = None
    if masks_used:
        colmap_masks = proj.colmap_dir / "masks"  # COLMAP wants <image name>.png
        colmap_masks.mkdir(parents=True, exist_ok=True)
        for n in names:
            shutil.copyfile(proj.masks_dir / n, colmap_masks / f"{n}.png")

    motion = median_motion_percent([frames_dir / n for n in names],
                                   [proj.masks_dir / n if masks_used else None for n in names])
    if motion is not None:
        report.add(f"Camera motion: median feature displacement {motion:.2f} % of the image diagonal")
    if motion is not None and motion < STILL_THRESHOLD_PERCENT:
        proj.set_stage("poses", "failed", reason="camera barely moved")
        report.advice.append("The camera barely moved: a Nerfie needs the phone to travel in an arc around "
                             "your face (about a shoulder's width), not to stay still while you move.")
        raise NerfieError(
            f"The camera barely moved (features shift {motion:.2f} % of the image; moving clips show > 2 %).",
            "Film again moving the phone slowly in an arc around your face; a still camera cannot give 3-D.",
        )
    obs = observations(proj.masks_dir, names) if masks_used else {}
    # Models refused by the subject check: (estimate, cameras, background depth), for the diagnosis.
    refused: list[tuple[SubjectEstimate, list[Camera], float]] = []

    def subject_check(model: SfmModel) -> list[str]:
        if not obs:
            return []
        depth = scene_median_depth(model.cameras, model.points)
        est = estimate_subject(model.cameras, obs, depth)
        if not est.consistent:
            refused.append((est, list(model.cameras.values()), depth))
        return [f"subject: {p}" for p in est.problems]
    try:
        ordered = proj.detail("ingest").source_kind == "video"
        res = run_sfm(frames_dir, names, colmap_masks, proj.colmap_dir, cfg.sfm, on_event, cancelled, ordered,
                      subject_check)
    except SfmFailed as exc:
        for a in exc.attempts:
            report.add(f"  attempt {a.line(len(names))}")
        if refused:
            # A model was refused for where it puts the subject: say why in the words of the
            # capture, not of COLMAP.
            est, model_cams, depth = max(refused, key=lambda r: len(r[1]))  # the largest refused model
            cause, fix = diagnose(model_cams, depth)
            report.add(f"Subject: {'; '.join(est.problems)}")
            report.advice.append(fix)
            proj.set_stage("poses", "failed", reason=cause)
            raise NerfieError(f"These camera poses cannot hold a still subject: {cause} "
                              f"({est.problems[0]}).", fix) from exc
        _refuse_if_turned_on_the_spot(proj, report, exc.attempts, 0)
        report.advice.append(exc.advice)
        proj.set_stage("poses", "failed", reason=exc.message)
        raise
    for a in res.attempts:
        report.add(f"  attempt {a.line(len(names))}")
    registered = [n for n in names if n in res.cameras]
    failed = [n for n in names if n not in res.cameras]
    cam = res.cameras[registered[0]] if registered else None
    # The field of view is in the line because small-baseline clips leave it loosely pinned: foreman's sane
    # models have ranged from 30° to 50° across, and the trained model follows (RESULTS.md, 2026-12-08).
    fixed = " fixed by sfm.focal_px" if cfg.sfm.focal_px > 0 else ""
    lens = f", focal length {cam.fx:.0f} px{fixed} ({cam.fov_x_degrees:.0f}° field of view across)" if cam else ""
    report.add(f"Poses: {len(registered)} of {len(names)} frames registered ({res.chosen.name}), "
               f"{len(res.points)} points, reprojection error {res.reprojection_error:.2f} px{lens}")
    if failed:
        report.add(f"Not registered: {', '.join(failed[:20])}" + (" …" if len(failed) > 20 else ""))
    if len(registered) < max(cfg.ingest.min_frames // 2, 10):
        # a sliver left after larger models were refused for want of parallax: that is the cause
        _refuse_if_turned_on_the_spot(proj, report, res.attempts, len(registered))
        proj.set_stage("poses", "failed", reason="too few registered")
        raise NerfieError(f"Only {len(registered)} frames got camera poses.",
                          "Film a longer, slower clip with a textured background.")
    cams = {n: res.cameras[n] for n in registered}
    median_depth = scene_median_depth(cams, res.points)
    subject = estimate_subject(cams, obs, median_depth) if obs else None
    scene = normalize_scene(cams, res.points, res.point_observers, proj.masks_dir if masks_used else None, subject)
    report.add(scene.subject.note)
    arc = seen_arc_degrees(facing_cameras(list(cams.values()), scene.subject.center), scene.subject.center, scene.up)
    report.add(f"Views of the subject: the camera went {arc:.0f}° around it while facing it")
    if arc < NARROW_ARC_DEG:
        report.advice.append(f"The camera went only {arc:.0f}° around you while it filmed you (it mostly turned or "
                             "shook): the Nerfie can be seen only from about where you filmed, so the turntable "
                             "keeps to that. For a real 3-D Nerfie walk the phone in an arc around your face, about "
                             "a shoulder's width.")
        on_event(Log("poses", f"the camera went only {arc:.0f}° around the subject: a narrow Nerfie", "warning"))
    report.add(f"Scene: near {scene.near:.3f}, far {scene.far:.3f} (normalised units), "
               f"{len(scene.background)} background points")
    kept = registered
    if obs and scene.subject.consistent:
        kept = trim_swung_away(registered, cams, scene.subject.center, cfg.ingest.min_frames)
        if len(kept) < len(registered):
            report.add(f"Frames: {len(registered) - len(kept)} at the ends dropped from training — the camera "
                       "had swung away from the subject there")
    first = names.index(kept[0])
    time_ids = [names.index(n) - first for n in kept]
    write_dataset(proj.root, kept, [cams[n] for n in kept], time_ids, scene.to_json(), res.points,
                  res.colors, scene.background, masks_used)
    proj.set_stage("poses", "done", registered=len(registered), total=len(names), failed=failed,
                   rung=res.chosen.name, points=len(res.points), masks=masks_used,
                   seconds=round(time.perf_counter() - t0, 1), report=report.lines[first_line:])
    on_event(Log("poses", f"{len(registered)}/{len(names)} frames registered"))
    on_event(StageDone("poses", f"{len(registered)} of {len(names)} registered"))
