"""An exponential moving average of a model's weights (Polyak averaging), for a run to end on.

Wraps ``torch.optim.swa_utils.AveragedModel`` with its EMA rule: the average starts at the weights of the
first step it sees and moves ``1 − decay`` of the way to each new step's weights. Buffers (not learnt)
stay the live model's. Why: a NeRF's hash tables are trained at a high learning rate whose steps scatter
the weights around where the data agrees; the average sits nearer that point than any one step.
"""

from __future__ import annotations

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


class WeightAverage:
    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), not {decay}")
        self.model = model
        self.averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=False)

    def update(self) -> None:
        """Fold the model's current weights into the average (after each optimiser step)."""
        self.averaged.update_parameters(self.model)

    @torch.no_grad()
    def copy_to_model(self) -> None:
        """Put the averaged weights into the live model (optimiser state is left as it is)."""
        for live, avg in zip(self.model.parameters(), self.averaged.module.parameters(), strict=True):
            live.copy_(avg)
