"""tiny-cuda-nn adapter: used when ``import tinycudann`` works (it compiles against the user's CUDA).

Our table layout *is* tiny-cuda-nn's flat parameter vector (levels in order, entries entry-major,
features contiguous), so the adapter copies the table in and its gradient out unchanged, and a
checkpoint trained with tiny-cuda-nn loads into the PyTorch or Triton backends (and back).
"""

from __future__ import annotations

from typing import Any

import torch

from nerfie.recon.errors import NerfieError
from nerfie.recon.hashgrid.geometry import GridGeometry


def tcnn_usable(device: torch.device) -> tuple[bool, str]:
    try:
        import tinycudann  # noqa: F401
    except Exception as exc:
        return False, f"tinycudann does not import ({type(exc).__name__}: {exc})"
    if device.type != "cuda":
        return False, "tinycudann needs a CUDA GPU"
    return True, ""


def tcnn_config(geom: GridGeometry) -> dict[str, Any]:
    return {
        "otype": "HashGrid",
        "n_levels": geom.levels,
        "n_features_per_level": geom.features,
        "log2_hashmap_size": geom.log2_table,
        "base_resolution": geom.base_res,
        "per_level_scale": geom.per_level_scale,
        "interpolation": "Linear",
    }


class _TcnnEncode(torch.autograd.Function):
    """Runs tiny-cuda-nn's encoding with *our* table as its parameters."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, table: torch.Tensor, module: Any, features: int) -> torch.Tensor:
        with torch.enable_grad():
            xi = x.detach().requires_grad_(ctx.needs_input_grad[0])
            with torch.no_grad():
                module.params.copy_(table.detach().reshape(-1).to(module.params.dtype))
            out = module(xi)
        ctx.xi, ctx.out, ctx.module, ctx.features = xi, out, module, features
        return out.detach().float()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        inputs = [ctx.xi] if ctx.xi.requires_grad else []
        grads = torch.autograd.grad(ctx.out, [*inputs, ctx.module.params], grad_out.to(ctx.out.dtype),
                                    allow_unused=True)
        gx = grads[0] if inputs else None
        gt = grads[-1]
        gt = None if gt is None else gt.reshape(-1, ctx.features).float()
        return gx, gt, None, None


class TcnnEncoder:
    """Holds the tinycudann module for one geometry."""

    def __init__(self, geom: GridGeometry, device: torch.device) -> None:
        ok, why = tcnn_usable(device)
        if not ok:
            raise NerfieError(f"tiny-cuda-nn backend unavailable: {why}.", "Use backend='torch' or 'auto'.")
        import tinycudann as tcnn

        self.geom = geom
        self.module = tcnn.Encoding(3, tcnn_config(geom), dtype=torch.float32).to(device)
        if self.module.params.numel() != geom.total_entries * geom.features:
            raise NerfieError(
                f"tiny-cuda-nn lays out {self.module.params.numel()} parameters, Nerfie expects "
                f"{geom.total_entries * geom.features}; this tinycudann version is not supported."
            )

    def __call__(self, x: torch.Tensor, table: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out = _TcnnEncode.apply(x, table, self.module, self.geom.features)
        L, F = self.geom.levels, self.geom.features
        return (out.reshape(-1, L, F) * mask.to(out.dtype)[None, :, None]).reshape(-1, L * F)
