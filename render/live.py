"""Renderable snapshots of a model that is still training, and preview images for the viewer.

The engine's live view (``render.engine.LiveView``) renders between training steps on the training
thread; it takes a copy because the copy's untrained per-frame codes are filled in for rendering
(``fill_untrained_codes``) without touching the weights being optimised.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from nerfie.recon.camera import Camera
from nerfie.recon.train import Trainer
from nerfie.render.scene import TrainedScene, scene_from_model
from nerfie.render.viewer import MIN_SIDE, OrbitCamera, view_size


def snapshot_scene(trainer: Trainer) -> TrainedScene:
    """A frozen copy of ``trainer``'s current weights as a scene; call from the training thread between steps."""
    with torch.no_grad():
        model = copy.deepcopy(trainer.model).eval()
    model.fill_untrained_codes(trainer.trained_code_ids(), trainer.dataset.code_times)
    return scene_from_model(trainer.project, trainer.dataset, model, trainer.device, trainer.step)


def render_preview(scene: TrainedScene, view: OrbitCamera | Camera, time: float, long_side: int,
                   aspect: float = 1.0) -> np.ndarray:
    """An RGB uint8 image of ``scene`` from ``view`` at frame time ``time``, ``long_side`` pixels wide/high.

    ``view`` is the viewer's orbit camera, or an input camera exactly (snap to input view), resized.
    """
    if isinstance(view, Camera):
        cam = view.scaled(max(view.width, view.height) / max(long_side, MIN_SIDE))
    else:
        cam = view.camera(*view_size(aspect, long_side))
    rgb = scene.render(cam, time, samples=scene.reduced_samples())["rgb"]
    return np.ascontiguousarray((rgb.clamp(0, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8))
