"""COLMAP through pycolmap, in-process, with a retry ladder and sanity checks.

Facts this follows (``selfie-sfm.md``): masking the person is what makes selfie videos register;
sequential matching beats exhaustive on video; results vary a lot across mapper seeds, so "same
settings, another seed" is a rung; relaxed mapper thresholds are needed for the small baselines of
handheld clips; loop detection would try to download a vocabulary tree and abort the process, so it
is never enabled. Each attempt is logged with its result and the largest *sane* model wins.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nerfie.recon.camera import Camera
from nerfie.recon.config import SfmConfig
from nerfie.recon.device import available_cores
from nerfie.recon.errors import NerfieError
from nerfie.recon.events import Cancelled, EventSink, Log, Progress, ignore
from nerfie.recon.sfm.sanity import ModelStats, Verdict, check_model, continuous_run, widest_view_angles_deg

GOOD_ENOUGH = 0.9  # stop climbing the ladder once a sane model registers this fraction
SUBJECT_REFUSALS = 2  # rungs whose models cannot hold a still subject before the clip itself is blamed


@dataclass(frozen=True)
class Rung:
    name: str
    matcher: str
    relaxed: bool
    seed: int
    masks: bool
    camera_model: str


@dataclass
class Attempt:
    rung: Rung
    registered: int = 0
    models: int = 0
    sane: bool = False
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # The largest model of this rung that was refused when a smaller one passed: (frames, problems).
    refused_larger: tuple[int, list[str]] | None = None
    # Frames the best model had registered beyond a break in its camera path, and dropped (sanity.continuous_run).
    dropped_at_break: int = 0

    def line(self, total: int) -> str:
        verdict = "sane" if self.sane else ("; ".join(self.problems) or "no model")
        if self.dropped_at_break:
            verdict += (f" ({self.dropped_at_break} frame(s) past a break in the camera path dropped: "
                        "a swing too fast to track)")
        if self.refused_larger is not None:
            verdict += (f"; a larger model ({self.refused_larger[0]} frames) was refused: "
                        + "; ".join(self.refused_larger[1]))
        return (f"{self.rung.name}: {self.registered}/{total} registered in the best of {self.models} "
                f"model(s), {verdict} ({self.seconds:.0f} s)")


@dataclass
class SfmModel:
    """One COLMAP model as Nerfie sees it (what the subject check needs)."""

    cameras: dict[str, Camera]
    points: np.ndarray
    colors: np.ndarray
    point_observers: list[list[str]]


@dataclass
class SfmResult:
    cameras: dict[str, Camera]  # image name → camera (1× pixels, COLMAP world)
    points: np.ndarray  # [P, 3]
    colors: np.ndarray  # [P, 3] uint8
    point_observers: list[list[str]]  # image names observing each point
    attempts: list[Attempt]
    chosen: Rung
    reprojection_error: float
    model_dir: Path


def ladder(cfg: SfmConfig, have_masks: bool) -> list[Rung]:
    """The rungs, in order. Relaxed thresholds first: defaults register ~20 % of selfie frames."""
    other = "OPENCV" if cfg.camera_model != "OPENCV" else "SIMPLE_RADIAL"
    s = list(cfg.seeds) or [0]
    rungs = [Rung(f"{cfg.matcher}, relaxed, seed {seed}" + (", masks" if have_masks else ""), cfg.matcher, True,
                  seed, have_masks, cfg.camera_model) for seed in s]
    alt = "exhaustive" if cfg.matcher == "sequential" else "sequential"
    rungs.append(Rung(f"{alt}, relaxed, seed {s[0]}" + (", masks" if have_masks else ""), alt, True, s[0],
                      have_masks, cfg.camera_model))
    if have_masks:
        rungs.append(Rung(f"{cfg.matcher}, relaxed, seed {s[0]}, masks off", cfg.matcher, True, s[0], False,
                          cfg.camera_model))
    rungs.append(Rung(f"{cfg.matcher}, default thresholds, seed {s[0]}", cfg.matcher, False, s[0], have_masks,
                      cfg.camera_model))
    rungs.append(Rung(f"{cfg.matcher}, relaxed, {other} camera", cfg.matcher, True, s[0], have_masks, other))
    return rungs


@contextmanager
def _cancellable(cancelled: Callable[[], bool]) -> Iterator[object]:
    """A pycolmap CancellationToken that a watcher thread trips when the user cancels."""
    import pycolmap

    token = pycolmap.CancellationToken()
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            if cancelled():
                token.cancel()
                return

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    try:
        yield token
    except InterruptedError as exc:  # pycolmap's answer to a tripped token
        raise Cancelled() from exc
    finally:
        done.set()
        t.join()
    if token.is_cancelled or cancelled():
        raise Cancelled()


def _quiet_colmap() -> None:
    import pycolmap

    try:
        pycolmap.logging.minloglevel = 2  # warnings and errors only: COLMAP logs heavily otherwise
    except Exception:  # pragma: no cover - logging API differs between versions
        pass


def _database(workspace: Path, image_dir: Path, names: list[str], mask_dir: Path | None, rung: Rung,
              cfg: SfmConfig, threads: int, cancelled: Callable[[], bool]) -> Path:
    """Features and matches for this rung's (masks, camera model, matcher), cached across rungs."""
    import pycolmap

    key = f"{'mask' if rung.masks else 'nomask'}_{rung.camera_model.lower()}_{rung.matcher}"
    db = workspace / "databases" / f"{key}.db"
    if db.exists():
        return db
    db.parent.mkdir(parents=True, exist_ok=True)
    tmp = db.with_suffix(".partial.db")
    tmp.unlink(missing_ok=True)
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = rung.camera_model
    if rung.masks and mask_dir is not None:
        reader.mask_path = str(mask_dir)
    ext = pycolmap.FeatureExtractionOptions()
    ext.max_image_size = cfg.max_image_size
    ext.num_threads = threads
    ext.sift.max_num_features = cfg.max_num_features
    ext.use_gpu = False
    with _cancellable(cancelled) as token:
        pycolmap.extract_features(tmp, image_dir, image_names=names, camera_mode=pycolmap.CameraMode.SINGLE,
                                  reader_options=reader, extraction_options=ext, device=pycolmap.Device.cpu,
                                  cancellation_token=token)
    match = pycolmap.FeatureMatchingOptions()
    match.num_threads = threads
    match.use_gpu = False
    with _cancellable(cancelled) as token:
        if rung.matcher == "sequential":
            pairing = pycolmap.SequentialPairingOptions()
            pairing.overlap = cfg.sequential_overlap
            pairing.quadratic_overlap = True
            pairing.loop_detection = False  # would download a vocabulary tree and abort offline
            pycolmap.match_sequential(tmp, matching_options=match, pairing_options=pairing,
                                      device=pycolmap.Device.cpu, cancellation_token=token)
        else:
            pycolmap.match_exhaustive(tmp, matching_options=match, device=pycolmap.Device.cpu,
                                      cancellation_token=token)
    tmp.rename(db)
    return db


def _with_fixed_focal(db: Path, focal_px: float) -> Path:
    """A copy of the cached ``db`` whose cameras start at ``focal_px`` with it marked as known; the cache
    itself is left as extraction wrote it (an EXIF prior included), so turning the option off restores it."""
    import pycolmap

    fixed = db.with_name(f"{db.stem}_focal{focal_px:g}.db")
    if fixed.exists():
        return fixed
    tmp = fixed.with_suffix(".partial.db")
    shutil.copyfile(db, tmp)
    database = pycolmap.Database.open(tmp)
    try:
        for cam in database.read_all_cameras():
            params = list(cam.params)
            for i in cam.focal_length_idxs():
                params[i] = focal_px
            cam.params = params
            cam.has_prior_focal_length = True
            database.update_camera(cam)
    finally:
        database.close()
    tmp.rename(fixed)
    return fixed


def _mapper_options(rung: Rung, threads: int, fixed_focal: bool = False) -> object:
    import pycolmap

    opts = pycolmap.IncrementalPipelineOptions()
    opts.num_threads = threads
    opts.random_seed = rung.seed
    opts.min_model_size = 3
    opts.mapper.num_threads = threads
    if rung.relaxed:
        opts.mapper.init_min_tri_angle = 4.0
        opts.mapper.init_min_num_inliers = 50
        opts.mapper.abs_pose_min_num_inliers = 15
        opts.mapper.filter_min_tri_angle = 0.5
        opts.triangulation.min_angle = 0.5
    if fixed_focal:
        opts.ba_refine_focal_length = False
        opts.mapper.abs_pose_refine_focal_length = False
    return opts


PARALLAX_SAMPLE = 2000  # points whose view angles are measured (a stride over the model's points)


def point_parallax_deg(rec: object, centers: dict[int, np.ndarray]) -> np.ndarray:
    """Per point (a stride of at most ``PARALLAX_SAMPLE``), the widest angle between its observers' rays."""
    pts = rec.points3D  # type: ignore[attr-defined]
    ids = sorted(pts.keys())
    ids = ids[:: max(1, len(ids) // PARALLAX_SAMPLE)]
    xyz = [np.asarray(pts[i].xyz) for i in ids]
    seen_from = [np.array([centers[el.image_id] for el in pts[i].track.elements if el.image_id in centers])
                 .reshape(-1, 3) for i in ids]
    return widest_view_angles_deg(xyz, seen_from)


def model_stats(rec: object) -> ModelStats:
    images = sorted((img for img in rec.images.values() if img.has_pose), key=lambda im: im.name)  # type: ignore[attr-defined]
    centers, rots, obs, depths = [], [], [], []
    by_id: dict[int, np.ndarray] = {}
    pts = rec.points3D  # type: ignore[attr-defined]
    for img in images:
        pose = img.cam_from_world()
        R = np.asarray(pose.rotation.matrix())
        t = np.asarray(pose.translation)
        centers.append(-R.T @ t)
        by_id[img.image_id] = centers[-1]
        rots.append(R)
        ids = [p.point3D_id for p in img.points2D if p.has_point3D()]
        obs.append(len(ids))
        if ids:
            xyz = np.stack([pts[i].xyz for i in ids])
            z = (xyz @ R.T + t)[:, 2]
            depths.append(float(np.median(z)))
    return ModelStats(
        registered=[im.name for im in images], centers=np.asarray(centers).reshape(-1, 3),
        rotations=np.asarray(rots).reshape(-1, 3, 3), median_depth=float(np.median(depths)) if depths else 0.0,
        observations=np.asarray(obs), reprojection_error=float(rec.compute_mean_reprojection_error()),  # type: ignore[attr-defined]
        num_points=len(pts), parallax_deg=point_parallax_deg(rec, by_id),
    )


def _cut_at_break(rec: object, stats: ModelStats) -> tuple[ModelStats, int]:
    """Keep only the longest unbroken run of a video model's camera path (``sanity.continuous_run``):
    the frames beyond a break are de-registered from ``rec`` and the model's stats recomputed."""
    run = continuous_run(stats)
    keep = set(stats.registered[run])
    if len(keep) == len(stats.registered):
        return stats, 0
    for img in list(rec.images.values()):  # type: ignore[attr-defined]
        if img.has_pose and img.name not in keep:
            rec.deregister_frame(img.frame_id)  # type: ignore[attr-defined]
    return model_stats(rec), len(stats.registered) - len(keep)


def run_sfm(image_dir: Path, names: list[str], mask_dir: Path | None, workspace: Path, cfg: SfmConfig,
            on_event: EventSink = ignore, cancelled: Callable[[], bool] = lambda: False,
            ordered: bool = True, subject_check: Callable[[SfmModel], list[str]] | None = None) -> SfmResult:
    """Run the ladder until a sane model registers ≥ 90 % of the frames; return the best sane model.
    ``ordered``: video frames in time order (photos are not, so path-continuity checks are skipped).
    ``subject_check``: problems with where a model puts the subject (``recon.sfm.subject``); a model
    with any is not sane, so the ladder climbs on."""
    import pycolmap

    _quiet_colmap()
    threads = cfg.threads or available_cores()
    total = len(names)
    have_masks = mask_dir is not None and any((mask_dir / f"{n}.png").exists() for n in names)
    rungs = ladder(cfg, have_masks)
    attempts: list[Attempt] = []
    best: tuple[int, Rung, object, ModelStats] | None = None
    used_db: dict[Rung, Path] = {}  # the feature database each rung mapped
    subject_moved = False  # a masked model was refused because its subject cannot hold still
    for k, rung in enumerate(rungs):
        on_event(Progress("poses", k, len(rungs), rung.name))
        t0 = time.perf_counter()
        db = _database(workspace, image_dir, names, mask_dir, rung, cfg, threads, cancelled)
        if cfg.focal_px > 0:
            db = _with_fixed_focal(db, cfg.focal_px)
        used_db[rung] = db
        out = workspace / "attempts" / f"{k:02d}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        with _cancellable(cancelled) as token:
            options = _mapper_options(rung, threads, fixed_focal=cfg.focal_px > 0)
            models = pycolmap.incremental_mapping(db, image_dir, out, options=options, cancellation_token=token)
        att = Attempt(rung, models=len(models), seconds=time.perf_counter() - t0)
        rung_best: tuple[int, object, ModelStats, Verdict, int] | None = None
        refused: list[tuple[int, list[str]]] = []
        for rec in models.values():
            stats, dropped = model_stats(rec), 0
            if ordered:
                stats, dropped = _cut_at_break(rec, stats)
            verdict = check_model(stats, ordered)
            if verdict.sane and subject_check is not None:
                found = subject_check(SfmModel(*reconstruction_cameras(rec)))
                if not found and have_masks and not rung.masks and subject_moved:
                    # Without masks SfM can lock onto the person instead of the room; when the masked
                    # models saw the person move, a model in which they hold still has done just that.
                    found = ["subject: this unmasked model tracks the person, whom the masked models saw move"]
                subject_moved |= bool(found) and rung.masks
                verdict.problems += found
                verdict.sane = not verdict.problems
            n = len(stats.registered)
            if not verdict.sane:
                refused.append((n, verdict.problems))
            if rung_best is None or (verdict.sane, n) > (rung_best[3].sane, rung_best[0]):
                rung_best = (n, rec, stats, verdict, dropped)
        if rung_best is not None:
            att.registered, att.sane, att.problems = rung_best[0], rung_best[3].sane, rung_best[3].problems
            att.dropped_at_break = rung_best[4]
            if att.sane:  # what was refused in favour of a smaller sane model says what the clip lacks
                att.refused_larger = max((r for r in refused if r[0] > att.registered), default=None,
                                         key=lambda r: r[0])
            if att.sane and (best is None or rung_best[0] > best[0]):
                best = (rung_best[0], rung, rung_best[1], rung_best[2])
        attempts.append(att)
        on_event(Log("poses", att.line(total)))
        if best is not None and best[0] >= GOOD_ENOUGH * total:
            break
        refusals = sum(any(p.startswith("subject:") for p in a.problems) for a in attempts)
        if best is None and refusals >= SUBJECT_REFUSALS:
            # A mirrored small-baseline solution is a matter of the seed; a subject that cannot hold
            # still on two rungs is the clip's. Later rungs only find models that are wrong in a way
            # the check cannot see (measured on the synthetic drift capture: 27° rotation errors).
            on_event(Log("poses", f"{refusals} models put the subject in motion: stopping the ladder", "warning"))
            break
    on_event(Progress("poses", len(rungs), len(rungs), "done"))
    if best is None:
        raise SfmFailed(attempts, total)
    n, rung, rec, stats = best
    model_dir = workspace / "sparse" / "0"
    shutil.rmtree(model_dir, ignore_errors=True)
    model_dir.mkdir(parents=True)
    rec.write(model_dir)  # type: ignore[attr-defined]
    shutil.copyfile(used_db[rung], workspace / "database.db")
    return _result(rec, attempts, rung, stats, model_dir)


class SfmFailed(NerfieError):
    def __init__(self, attempts: list[Attempt], total: int) -> None:
        best = max((a.registered for a in attempts), default=0)
        super().__init__(
            f"Camera poses failed: no sane COLMAP model (best attempt registered {best} of {total} frames).",
            "Film again moving the camera slowly in an arc around the subject (not just turning it), with "
            "a textured, static background, good light and no fast motion.",
        )
        self.attempts = attempts


def reconstruction_cameras(rec: object) -> tuple[dict[str, Camera], np.ndarray, np.ndarray, list[list[str]]]:
    """Cameras by image name, points, colours and the image names observing each point."""
    cameras: dict[str, Camera] = {}
    for img in rec.images.values():  # type: ignore[attr-defined]
        if not img.has_pose:
            continue
        cam = img.camera
        pose = img.cam_from_world()
        q = np.asarray(pose.rotation.quat)  # x, y, z, w (Eigen order)
        cameras[img.name] = Camera.from_colmap(
            cam.model.name, list(cam.params), cam.width, cam.height, [q[3], q[0], q[1], q[2]], list(pose.translation)
        )
    ids = sorted(rec.points3D.keys())  # type: ignore[attr-defined]
    pts = rec.points3D  # type: ignore[attr-defined]
    xyz = np.array([pts[i].xyz for i in ids]).reshape(-1, 3)
    rgb = np.array([pts[i].color for i in ids], dtype=np.uint8).reshape(-1, 3)
    id_to_name = {img.image_id: img.name for img in rec.images.values()}  # type: ignore[attr-defined]
    observers = [[id_to_name[el.image_id] for el in pts[i].track.elements] for i in ids]
    return cameras, xyz, rgb, observers


def _result(rec: object, attempts: list[Attempt], rung: Rung, stats: ModelStats, model_dir: Path) -> SfmResult:
    cameras, xyz, rgb, observers = reconstruction_cameras(rec)
    return SfmResult(cameras=cameras, points=xyz, colors=rgb, point_observers=observers, attempts=attempts,
                     chosen=rung, reprojection_error=stats.reprojection_error, model_dir=model_dir)
