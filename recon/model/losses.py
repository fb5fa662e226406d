"""Regularisers of the deformation field (Nerfies §2.2–2.3), with the code's ``c·ρ`` scaling."""

from __future__ import annotations

import torch
import torch.autograd.forward_ad as fwAD

from nerfie.recon.model.fields import DeformationField


def geman_mcclure(sq: torch.Tensor, c: float) -> torch.Tensor:
    """``c · ρ_GM(x², c)`` with ``ρ_GM = 2(x²/c²)/(x²/c² + 4)`` — the Nerfies code's robust loss."""
    r = sq / (c * c)
    return c * 2 * r / (r + 4)


def warp_jacobian(warp: DeformationField, x: torch.Tensor, code: torch.Tensor, alpha: float) -> torch.Tensor:
    """∂T/∂x [K, 3, 3] at points [K, 3], exact: one forward-mode pass over the points stacked three
    times, block j carrying the tangent e_j (batched, so ~30 % cheaper than ``vmap(jacfwd)`` on CPU,
    and it works through the warp's data-dependent reach mask, which ``vmap`` cannot)."""
    k = x.shape[0]
    tangent = torch.eye(3, dtype=x.dtype, device=x.device).repeat_interleave(k, 0)
    with fwAD.dual_level():
        y = warp(fwAD.make_dual(x.repeat(3, 1), tangent), code.repeat(3, 1), alpha)
        cols = fwAD.unpack_dual(y).tangent  # [3K, 3]: block j = ∂T/∂x_j
    return cols.reshape(3, k, 3).permute(1, 2, 0)


def warp_jacobian_fd(warp: DeformationField, x: torch.Tensor, code: torch.Tensor, alpha: float,
                     step: float = 1e-3) -> torch.Tensor:
    """∂T/∂x by central differences, ``step`` in fine-ball radii, in one batched warp call: what the
    training loss uses (Neuralangelo-style numerical gradients) — a quarter of the exact pass's cost
    on CPU, and within ~1e-4 of it, far below the log-singular values the elastic loss penalises."""
    k = x.shape[0]
    h = step * float(warp.radius)
    offsets = torch.eye(3, dtype=x.dtype, device=x.device) * h
    pts = torch.cat([x[None] + offsets[:, None], x[None] - offsets[:, None]]).reshape(-1, 3)  # [6K, 3]
    y = warp(pts, code.repeat(6, 1), alpha).reshape(2, 3, k, 3)
    return ((y[0] - y[1]) / (2 * h)).permute(1, 2, 0)


def elastic_residual(jac: torch.Tensor) -> torch.Tensor:
    """Σ_k log(σ_k)² over the singular values of each Jacobian: 0 for any rigid motion."""
    sv = torch.linalg.svdvals(jac)
    return (torch.log(sv.clamp_min(1e-6)) ** 2).sum(-1)


def elastic_loss(warp: DeformationField, x: torch.Tensor, code: torch.Tensor, weight: torch.Tensor,
                 alpha: float, c: float = 0.03) -> torch.Tensor:
    """Rendering-weighted robust elastic penalty (weights are a stop-gradient), Jacobian by central
    differences (see :func:`warp_jacobian_fd`)."""
    res = elastic_residual(warp_jacobian_fd(warp, x, code, alpha))
    return (weight.detach() * geman_mcclure(res, c)).mean()


def background_loss(warp: DeformationField, points: torch.Tensor, codes: torch.Tensor, alpha: float,
                    c: float = 0.001, jitter: float = 0.001, generator: torch.Generator | None = None) -> torch.Tensor:
    """Static background points must not move: ``c·ρ_GM(‖T(x̃, ω) − x̃‖², c)`` with x̃ jittered."""
    noise = torch.randn(points.shape, device=points.device, generator=generator) * jitter
    x = points + noise
    moved = warp(x, codes, alpha)
    return geman_mcclure(((moved - x) ** 2).sum(-1), c).mean()
