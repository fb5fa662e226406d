"""The naive PyTorch formulation: vectorised over levels, advanced indexing, autograd backward.

Kept as the baseline the benchmark compares against and as an independent check of the reference
(it shares only :mod:`geometry`). It materialises [N, L, 8, 3] int64 corners and [N, L, 8, F]
features, and autograd's backward of the gather is a sort-based scatter: slow, memory-hungry.
"""

from __future__ import annotations

import torch

from nerfie.recon.hashgrid.geometry import GridGeometry, corner_index

_CORNERS = torch.tensor([[(i >> 0) & 1, (i >> 1) & 1, (i >> 2) & 1] for i in range(8)])


def naive_encode(x: torch.Tensor, table: torch.Tensor, geom: GridGeometry,
                 level_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Encode points [N, 3] → features [N, L·F] (level-major), differentiable by autograd."""
    lt = geom.level_tensors(x.device)
    pos = x[:, None, :] * lt["scale"].to(x.dtype)[None, :, None] + 0.5  # [N, L, 3]
    cell = torch.floor(pos)
    frac = pos - cell
    corners = _CORNERS.to(x.device)
    cells = cell.to(torch.int64)[:, :, None, :] + corners[None, None]  # [N, L, 8, 3]
    idx = corner_index(cells, lt["res"][None, :, None], lt["size"][None, :, None], lt["dense"][None, :, None])
    idx = idx + lt["offset"][None, :, None]
    w = torch.where(corners[None, None].bool(), frac[:, :, None, :], 1 - frac[:, :, None, :]).prod(-1)  # [N, L, 8]
    feats = table[idx]  # [N, L, 8, F]
    out = (feats * w[..., None].to(table.dtype)).sum(2)  # [N, L, F]
    if level_mask is not None:
        out = out * level_mask.to(out.dtype)[None, :, None]
    return out.reshape(x.shape[0], -1)
