"""A trained scene stand-in whose renders are a synthetic capture's exact depth (a perfect model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nerfie.recon.dataset import load_dataset
from nerfie.recon.model.nerfie import NerfieModel
from nerfie.recon.project import Project
from nerfie.render.scene import TrainedScene, scene_from_model


def exact_scene(capture: Path, project_root: Path) -> TrainedScene:
    """The project's scene with ``render`` replaced: each input camera sees the capture's exact depth,
    full opacity and grey (what the fusion and extraction code reads of a render)."""
    proj = Project.load(project_root)
    ds = load_dataset(project_root)
    scene = scene_from_model(proj, ds, NerfieModel(proj.config.model, ds.num_codes), torch.device("cpu"), 0)
    depth = torch.from_numpy(np.load(capture / "depth.npy")).double() * ds.scale  # normalised-frame distances

    def render(cam, time, chunk=4096, samples=None):  # type: ignore[no-untyped-def]
        view = next(k for k, c in enumerate(scene.cameras) if np.allclose(c.position, cam.position))
        assert (cam.width, cam.height) == (scene.cameras[view].width, scene.cameras[view].height)
        return {"depth": depth[view], "surface": depth[view], "acc": torch.ones_like(depth[view]),
                "rgb": torch.full((*depth[view].shape, 3), 0.5)}

    scene.render = render  # type: ignore[method-assign]
    return scene
