"""Fused Triton kernels for the hash-grid encoding (CUDA; CPU through ``TRITON_INTERPRET=1`` in tests).

Schedule: level-major, one program per (block of points, level), as tiny-cuda-nn does, so only a
few levels' tables compete for cache at a time. Forward gathers 8 corners per point and level;
backward is fused: one atomic add per corner and feature into the fp32 table gradient and, when the
caller needs dL/dx (deformation field, elastic loss), the analytic position gradient in the same
pass. Index arithmetic is 32-bit unsigned and wraps exactly like tiny-cuda-nn's. The table may be
stored in fp16 (read path) while master weights, gradients and accumulation stay fp32. A level
whose mask weight is 0 is skipped (no loads), which makes coarse-to-fine annealing cheap.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from nerfie.recon.errors import NerfieError
from nerfie.recon.hashgrid.geometry import GridGeometry


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def triton_usable(device: torch.device) -> tuple[bool, str]:
    """Whether the Triton kernels can run on ``device``, and why not."""
    try:
        import triton  # noqa: F401
    except Exception as exc:
        return False, f"triton does not import ({exc}); install it with `pip install triton`"
    if device.type == "cuda" or (device.type == "cpu" and interpreting()):
        return True, ""
    return False, "the Triton kernels need a CUDA GPU (on CPU only under TRITON_INTERPRET=1, for tests)"


def _kernels() -> Any:
    from nerfie.recon.hashgrid import triton_kernels

    return triton_kernels


BLOCK = 128


def _level_args(lt: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    return [lt["scale"], lt["res"], lt["offset"], lt["size"], lt["dense"].to(torch.int8)]


class _TritonEncode(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, table: torch.Tensor, mask: torch.Tensor, geom: GridGeometry,
                lt: dict[str, torch.Tensor], half_table: bool) -> torch.Tensor:
        k = _kernels()
        n, L, F = x.shape[0], geom.levels, geom.features
        x = x.contiguous().float()
        read = table.detach().to(torch.float16 if half_table else torch.float32).contiguous()
        out = torch.empty((n, L * F), dtype=torch.float32, device=x.device)
        m = mask.to(torch.float32).contiguous()
        if n:
            grid = (k.triton.cdiv(n, BLOCK), L)
            k.fwd_kernel[grid](x, read, out, m, *_level_args(lt), n, L=L, F=F, BLOCK=BLOCK)
        ctx.save_for_backward(x, read, m)
        ctx.geom, ctx.lt, ctx.table_dtype = geom, lt, table.dtype
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        k = _kernels()
        x, read, m = ctx.saved_tensors
        geom, lt = ctx.geom, ctx.lt
        n, L, F = x.shape[0], geom.levels, geom.features
        need_x, need_table = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_table = torch.zeros(read.shape, dtype=torch.float32, device=x.device) if need_table else None
        grad_x = torch.zeros_like(x) if need_x else None
        if n and (need_x or need_table):
            dummy = torch.empty(1, dtype=torch.float32, device=x.device)
            grid = (k.triton.cdiv(n, BLOCK), L)
            k.bwd_kernel[grid](
                x, read, grad_out.contiguous().float(),
                grad_table if need_table else dummy, grad_x if need_x else dummy,
                m, *_level_args(lt), n, L=L, F=F, BLOCK=BLOCK, NEED_TABLE=need_table, NEED_X=need_x,
            )
        if grad_table is not None and ctx.table_dtype != torch.float32:
            grad_table = grad_table.to(ctx.table_dtype)
        return grad_x, grad_table, None, None, None, None


def triton_encode(x: torch.Tensor, table: torch.Tensor, geom: GridGeometry, mask: torch.Tensor,
                  lt: dict[str, torch.Tensor] | None = None, half_table: bool = False) -> torch.Tensor:
    """Encode points [N, 3] → [N, L·F] with the fused kernels (fp32 output)."""
    ok, why = triton_usable(x.device)
    if not ok:
        raise NerfieError(f"Triton hash-grid backend unavailable: {why}.", "Use backend='torch' or 'auto'.")
    if geom.features & (geom.features - 1):
        raise NerfieError(f"Triton kernels need a power-of-two feature count, got {geom.features}.")
    lt = lt if lt is not None else geom.level_tensors(x.device)
    return _TritonEncode.apply(x, table, mask, geom, lt, half_table)
