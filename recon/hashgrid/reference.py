"""PyTorch reference backend: chunked, memory-bounded, with a hand-written backward.

Why not plain autograd (see :mod:`naive`): autograd keeps the [N, L, 8] corner indices and
[N, L, 8, F] gathered features alive for the backward pass and scatters gradients with a sort-based
deterministic kernel. Here the forward keeps nothing but its inputs; the backward recomputes corner
indices chunk by chunk and accumulates the table gradient with one ``index_add_`` per chunk (one per
call for normal batch sizes), and computes dL/dx analytically from the trilinear weights.
Runs on CPU and GPU; it is also the ground truth the Triton kernels are tested against.
"""

from __future__ import annotations

from typing import Any

import torch
from nerfie.recon.hashgrid.geometry import GridGeometry, corner_index

_CORNERS = torch.tensor([[(i >> 0) & 1, (i >> 1) & 1, (i >> 2) & 1] for i in range(8)])
# Elements of [chunk, L, 8] per chunk: bounds transient memory whatever N is.
_CHUNK_ELEMS = 1 << 22


def _chunk_size(n: int, levels: int) -> int:
    return max(1, min(n, _CHUNK_ELEMS // (levels * 8)))


def _corners(x: torch.Tensor, lt: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Global table rows [c, L, 8], fractional positions [c, L, 3] and corner bits [8, 3]."""
    pos = x[:, None, :] * lt["scale"].to(x.dtype)[None, :, None] + 0.5
    cell = torch.floor(pos)
    frac = pos - cell
    bits = _CORNERS.to(x.device)
    cells = cell.to(torch.int64)[:, :, None, :] + bits[None, None]
    idx = corner_index(cells, lt["res"][None, :, None], lt["size"][None, :, None], lt["dense"][None, :, None])
    return idx + lt["offset"][None, :, None], frac, bits


def _weights(frac: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    """Trilinear weights [c, L, 8]."""
    f = frac[:, :, None, :]
    return torch.where(bits[None, None].bool(), f, 1 - f).prod(-1)


def _weight_grads(frac: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    """d(weight)/d(frac_d) [c, L, 8, 3]."""
    f = frac[:, :, None, :]
    b = bits[None, None].bool()
    factors = torch.where(b, f, 1 - f)  # [c, L, 8, 3]
    sign = torch.where(b, 1.0, -1.0).to(frac.dtype)
    out = []
    for d in range(3):
        others = [factors[..., e] for e in range(3) if e != d]
        out.append(sign[..., d] * others[0] * others[1])
    return torch.stack(out, dim=-1)


class _ReferenceEncode(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, table: torch.Tensor, mask: torch.Tensor,
                geom: GridGeometry, lt: dict[str, torch.Tensor]) -> torch.Tensor:
        n, L, F = x.shape[0], geom.levels, geom.features
        out = torch.empty((n, L, F), dtype=x.dtype, device=x.device)
        c = _chunk_size(n, L)
        m = mask.to(x.dtype)[None, :, None]
        for s in range(0, n, c):
            idx, frac, bits = _corners(x[s:s + c], lt)
            w = _weights(frac, bits)
            feats = table[idx].to(x.dtype)  # [c, L, 8, F]
            out[s:s + c] = torch.einsum("clk,clkf->clf", w, feats) * m
        ctx.save_for_backward(x, table, mask)
        ctx.geom, ctx.lt = geom, lt
        return out.reshape(n, L * F)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, table, mask = ctx.saved_tensors
        geom, lt = ctx.geom, ctx.lt
        n, L, F = x.shape[0], geom.levels, geom.features
        g = grad_out.reshape(n, L, F).to(x.dtype) * mask.to(x.dtype)[None, :, None]
        need_x, need_table = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_table = torch.zeros_like(table) if need_table else None
        grad_x = torch.empty_like(x) if need_x else None
        c = _chunk_size(n, L)
        scale = lt["scale"].to(x.dtype)[None, :, None]
        for s in range(0, n, c):
            idx, frac, bits = _corners(x[s:s + c], lt)
            gc = g[s:s + c]
            if need_table:
                w = _weights(frac, bits)
                vals = w[..., None] * gc[:, :, None, :]  # [c, L, 8, F]
                grad_table.index_add_(0, idx.reshape(-1), vals.reshape(-1, F).to(table.dtype))
            if need_x:
                dw = _weight_grads(frac, bits)  # [c, L, 8, 3]
                feats = table[idx].to(x.dtype)  # [c, L, 8, F]
                dot = torch.einsum("clkf,clf->clk", feats, gc)  # dL/dw
                grad_x[s:s + c] = (torch.einsum("clk,clkd->cld", dot, dw) * scale).sum(1)
        return grad_x, grad_table, None, None, None


def reference_encode(x: torch.Tensor, table: torch.Tensor, geom: GridGeometry, mask: torch.Tensor,
                     lt: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """Encode points [N, 3] → [N, L·F]; gradients flow to ``table`` and ``x``."""
    lt = lt if lt is not None else geom.level_tensors(x.device)
    return _ReferenceEncode.apply(x, table, mask, geom, lt)
