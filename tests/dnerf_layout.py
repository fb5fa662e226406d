"""A small capture in the D-NeRF / Blender layout, made from the synthetic selfie scene.

The person is the object (RGBA: opaque where the capture's ground-truth mask says person, clear
elsewhere, so the room disappears as D-NeRF's empty background does), three splits with
interleaved times (the test times fall between training times, as in D-NeRF), ``file_path``
without ``.png``, ``camera_angle_x`` for the focal length.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np

from nerfie.recon.synth import SynthSpec, generate

SPLIT_OF = {3: "test", 8: "val", 11: "test", 14: "val", 17: "test"}  # the rest: train


def make_dnerf_capture(out: Path, size: int = 64, frames: int = 20, seed: int = 3) -> dict:
    """Write ``out/transforms_{train,val,test}.json`` and ``out/{split}/r_XXX.png``; returns facts."""
    cap = out.parent / f"{out.name}-source"
    generate(cap, SynthSpec(frames=frames, width=size, height=size, heldout=0, seed=seed))
    src = json.loads((cap / "transforms.json").read_text())
    angle = 2 * math.atan(size / (2 * float(src["fl_x"])))
    splits: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    for k, f in enumerate(src["frames"]):
        split = SPLIT_OF.get(k, "train")
        rgb = cv2.imread(str(cap / f["file_path"]), cv2.IMREAD_COLOR)
        person = cv2.imread(str(cap / f["mask_path"]), cv2.IMREAD_GRAYSCALE) < 128
        rgba = np.dstack([rgb, np.where(person, 255, 0).astype(np.uint8)])
        rel = f"./{split}/r_{len(splits[split]):03d}"
        (out / split).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out / (rel + ".png")), rgba)
        splits[split].append({"file_path": rel, "rotation": 0.0, "time": float(f["time"]),
                              "transform_matrix": f["transform_matrix"]})
    for split, entries in splits.items():
        (out / f"transforms_{split}.json").write_text(json.dumps({"camera_angle_x": angle, "frames": entries}))
    capture = json.loads((cap / "capture.json").read_text())
    return {"splits": {s: len(e) for s, e in splits.items()}, "subject_center": capture["subject_center"],
            "times": {s: [e["time"] for e in entries] for s, entries in splits.items()}, "source": cap}
