"""Subject masks for structure from motion: find the person, mask head and shoulders out.

The person moves (that is the point of a Nerfie), so SfM must lock onto the static background.
Detector: OpenCV's Haar face cascades shipped inside the opencv wheel (frontal, then profile and
mirrored profile) — nothing is downloaded. Per frame the candidate nearest the ±5-frame median is
kept, boxes that jump away are rejected, and each box is grown into a head-and-shoulders region;
between detections the face is followed with optical flow. Masking only starts when faces are found
in ≥ 20 % of the frames, so an object clip with a few false detections is left unmasked. Masks use
nerfstudio's polarity: white = keep (background), black = ignore (subject).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from nerfie.recon.events import Cancelled, EventSink, Progress, ignore
from nerfie.recon.fileio import atomic_path
from nerfie.recon.sfm.subject import write_boxes

DETECT_SIDE = 480  # long side the detector sees: fast, and faces in selfies are large
MIN_FACE_FRACTION = 0.2
MAX_GAP = 6  # frames a missing detection is interpolated across


def _cascades() -> list[cv2.CascadeClassifier]:
    root = Path(cv2.data.haarcascades)
    out = []
    for name in ("haarcascade_frontalface_default.xml", "haarcascade_profileface.xml"):
        c = cv2.CascadeClassifier(str(root / name))
        if c.empty():  # pragma: no cover - broken opencv install
            raise RuntimeError(f"OpenCV cascade {name} is missing")
        out.append(c)
    return out


def detect_faces(gray: np.ndarray, cascades: list[cv2.CascadeClassifier]) -> list[tuple[float, float, float, float]]:
    """Candidate face boxes (x, y, w, h) in ``gray``'s pixel units: frontal first, profiles (both
    directions) only when no frontal face is found — the slow step, so do no more than needed."""
    h, w = gray.shape
    s = min(1.0, DETECT_SIDE / max(h, w))
    small = cv2.resize(gray, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA) if s < 1 else gray
    small = cv2.equalizeHist(small)
    min_size = max(20, round(0.1 * min(small.shape)))
    frontal, profile = cascades
    boxes = [tuple(float(v) for v in b) for b in frontal.detectMultiScale(small, 1.1, 5, minSize=(min_size,) * 2)]
    if not boxes:
        boxes += [tuple(float(v) for v in b) for b in profile.detectMultiScale(small, 1.1, 5, minSize=(min_size,) * 2)]
        flipped = small[:, ::-1].copy()
        for x, y, bw, bh in profile.detectMultiScale(flipped, 1.1, 5, minSize=(min_size,) * 2):
            boxes.append((small.shape[1] - x - bw, float(y), float(bw), float(bh)))
    return [(x / s, y / s, bw / s, bh / s) for x, y, bw, bh in boxes]


def pick_consistent(candidates: list[list[tuple[float, float, float, float]]]
                    ) -> list[tuple[float, float, float, float] | None]:
    """Per frame, the candidate closest to the ±5-frame median of all candidates' centres (the
    subject stays put from frame to frame; background false positives do not)."""
    n = len(candidates)
    centres = [[(x + w / 2, y + h / 2) for x, y, w, h in c] for c in candidates]
    out: list[tuple[float, float, float, float] | None] = []
    for i in range(n):
        if not candidates[i]:
            out.append(None)
            continue
        pool = [c for j in range(max(0, i - 5), min(n, i + 6)) for c in centres[j]]
        med = np.median(np.asarray(pool), axis=0)
        k = int(np.argmin([np.hypot(cx - med[0], cy - med[1]) for cx, cy in centres[i]]))
        out.append(candidates[i][k])
    return out


@dataclass
class MaskReport:
    frames: int
    faces_found: int
    used: bool
    reason: str
    mean_masked_fraction: float


def smooth_boxes(boxes: list[tuple[float, float, float, float] | None]) -> list[np.ndarray | None]:
    """Reject boxes far from the ±5-frame median, then interpolate gaps (and hold the ends)."""
    n = len(boxes)
    arr = np.full((n, 4), np.nan)
    for i, b in enumerate(boxes):
        if b is not None:
            arr[i] = b
    good = ~np.isnan(arr[:, 0])
    centres = arr[:, :2] + arr[:, 2:] / 2
    for i in np.flatnonzero(good):
        lo, hi = max(0, i - 5), min(n, i + 6)
        neigh = good[lo:hi]
        if neigh.sum() < 3:
            continue
        med_c = np.nanmedian(centres[lo:hi][neigh], axis=0)
        med_w = np.nanmedian(arr[lo:hi, 2][neigh])
        if np.linalg.norm(centres[i] - med_c) > 0.75 * med_w or not 0.6 < arr[i, 2] / med_w < 1.6:
            good[i] = False
    if not good.any():
        return [None] * n
    idx = np.flatnonzero(good)
    out = np.stack([np.interp(np.arange(n), idx, arr[idx, k]) for k in range(4)], axis=1)
    # Bridge short gaps only: far from any detection (e.g. after a pan away) there is no subject.
    dist = np.min(np.abs(np.arange(n)[:, None] - idx[None, :]), axis=1)
    return [out[i] if dist[i] <= MAX_GAP else None for i in range(n)]


def propagate_boxes(boxes: list[np.ndarray | None], grays: list[np.ndarray], scale: float,
                    max_steps: int = 90) -> list[np.ndarray | None]:
    """Carry boxes into frames without a detection by following the face with optical flow.

    Haar cascades find faces within ~±20° of frontal or at full profile; in between (most of an
    arc-shaped selfie capture) the face is still there, so track it from the nearest detection:
    median Lucas–Kanade displacement of corners inside the box, frame to frame, forwards then
    backwards. ``grays`` are the frames at detector scale ``scale`` (boxes are in full pixels).
    """
    out = list(boxes)
    n = len(out)
    lk = {"winSize": (21, 21), "maxLevel": 3,
          "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)}

    def step(box: np.ndarray, src: int, dst: int) -> np.ndarray | None:
        x, y, w, h = (box * scale).astype(int)
        roi = np.zeros_like(grays[src])
        roi[max(0, y):max(0, y + h), max(0, x):max(0, x + w)] = 255
        pts = cv2.goodFeaturesToTrack(grays[src], 60, 0.01, 3, mask=roi)
        if pts is None or len(pts) < 5:
            return None
        nxt, st, _ = cv2.calcOpticalFlowPyrLK(grays[src], grays[dst], pts, None, **lk)
        ok = st.ravel() == 1
        if ok.sum() < 5:
            return None
        shift = np.median((nxt[ok] - pts[ok]).reshape(-1, 2), axis=0) / scale
        return box + np.array([shift[0], shift[1], 0.0, 0.0])

    def sweep(direction: int) -> tuple[list[np.ndarray | None], list[int]]:
        res: list[np.ndarray | None] = list(boxes)
        dist = [0 if b is not None else 10**9 for b in boxes]
        order = range(n) if direction == 1 else range(n - 1, -1, -1)
        for i in order:
            j = i - direction
            if res[i] is None and 0 <= j < n and res[j] is not None and dist[j] < max_steps:
                res[i] = step(res[j], j, i)
                dist[i] = dist[j] + 1
        return res, dist

    fwd, df = sweep(1)
    bwd, db = sweep(-1)
    for i in range(n):
        if boxes[i] is not None:
            out[i] = boxes[i]
        elif fwd[i] is not None and bwd[i] is not None:  # inside a gap: blend, trusting the nearer anchor
            w = df[i] / (df[i] + db[i])
            out[i] = (1 - w) * fwd[i] + w * bwd[i]
        else:
            out[i] = fwd[i] if fwd[i] is not None else bwd[i]
    return out


def head_ellipse(box: np.ndarray) -> tuple[float, float, float, float]:
    """(cx, cy, rx, ry) of the head around a face box: a Haar box spans brows to mouth; the head is
    ~1.5x wider and reaches above and below it."""
    x, y, w, h = (float(v) for v in box)
    return x + w / 2, y + 0.42 * h, 0.7 * w, 0.9 * h


def head_and_shoulders(box: np.ndarray, width: int, height: int) -> np.ndarray:
    """Keep-mask (uint8, 255 = background) with the face box grown to head, neck and shoulders."""
    x, y, w, h = box
    cx = x + w / 2
    mask = np.full((height, width), 255, np.uint8)
    ex, ey, rx, ry = head_ellipse(box)
    cv2.ellipse(mask, (int(ex), int(ey)), (int(rx), int(ry)), 0, 0, 360, 0, thickness=-1)
    # neck and shoulders: a trapezoid widening towards the bottom of the frame
    top = y + 1.15 * h
    if top < height:
        pts = np.array([[cx - 0.45 * w, top], [cx + 0.45 * w, top], [cx + 1.6 * w, height], [cx - 1.6 * w, height]],
                       dtype=np.int32)
        cv2.fillPoly(mask, [pts], 0)
    return mask


def make_masks(frames_dir: Path, names: list[str], masks_dir: Path, on_event: EventSink = ignore,
               cancelled: Callable[[], bool] = lambda: False) -> MaskReport:
    """Detect the subject in every frame and write ``masks_dir/<name>`` (white = keep)."""
    cascades = _cascades()
    boxes = []
    grays = []
    shape = (0, 0)
    scale = 1.0
    for k, name in enumerate(names):
        if cancelled():
            raise Cancelled()
        gray = cv2.imread(str(frames_dir / name), cv2.IMREAD_GRAYSCALE)
        shape = gray.shape
        scale = min(1.0, DETECT_SIDE / max(shape))
        grays.append(cv2.resize(gray, (round(shape[1] * scale), round(shape[0] * scale)),
                                interpolation=cv2.INTER_AREA) if scale < 1 else gray)
        boxes.append(detect_faces(gray, cascades))
        on_event(Progress("masks", k + 1, len(names), "finding the subject"))
    found = sum(bool(b) for b in boxes)
    if found < MIN_FACE_FRACTION * len(names):
        return MaskReport(len(names), found, False,
                          f"a face was found in only {found} of {len(names)} frames: no masks used", 0.0)
    smoothed = propagate_boxes(smooth_boxes(pick_consistent(boxes)), grays, scale)
    fractions = []
    masks_dir.mkdir(parents=True, exist_ok=True)
    heads: dict[str, tuple[float, ...] | None] = {}
    for name, box, found_here in zip(names, smoothed, boxes, strict=True):
        mask = np.full(shape, 255, np.uint8) if box is None else head_and_shoulders(box, shape[1], shape[0])
        # (x, y, w, h, detected): 1 where the detector saw the face, 0 where it was followed by flow
        heads[name] = None if box is None else (*(float(v) for v in box), float(bool(found_here)))
        fractions.append(float((mask == 0).mean()))
        with atomic_path(masks_dir / name) as tmp:
            cv2.imwrite(str(tmp), mask)
    write_boxes(masks_dir, heads)  # where the face is, for the 3-D subject estimate
    return MaskReport(len(names), found, True, f"face found in {found} of {len(names)} frames",
                      float(np.mean(fractions)))
