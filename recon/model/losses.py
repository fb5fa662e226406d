"""Regularisers of the deformation field (Nerfies §2.2–2.3), with the code's ``c·ρ`` scaling."""

from __future__ import annotations

import torch

from nerfie.recon.model.fields import DeformationField


def geman_mcclure(sq: torch.Tensor, c: float) -> torch.Tensor:
    """``c · ρ_GM(x², c)`` with ``ρ_GM = 2(x²/c²)/(x²/c² + 4)`` — the Nerfies code's robust loss."""
    r = sq / (c * c)
    return c * 2 * r / (r + 4)


def warp_jacobian(warp: DeformationField, x: torch.Tensor, code: torch.Tensor, alpha: float) -> torch.Tensor:
    """∂T/∂x [K, 3, 3] at points [K, 3] (forward-mode, per point, through the whole warp)."""
    def single(p: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return warp(p[None], c[None], alpha)[0]

    return torch.func.vmap(torch.func.jacfwd(single, argnums=0))(x, code)


def elastic_residual(jac: torch.Tensor) -> torch.Tensor:
    """Σ_k log(σ_k)² over the singular values of each Jacobian: 0 for any rigid motion."""
    sv = torch.linalg.svdvals(jac)
    return (torch.log(sv.clamp_min(1e-6)) ** 2).sum(-1)


def elastic_loss(warp: DeformationField, x: torch.Tensor, code: torch.Tensor, weight: torch.Tensor,
                 alpha: float, c: float = 0.03) -> torch.Tensor:
    """Rendering-weighted robust elastic penalty (weights are a stop-gradient)."""
    res = elastic_residual(warp_jacobian(warp, x, code, alpha))
    return (weight.detach() * geman_mcclure(res, c)).mean()


def background_loss(warp: DeformationField, points: torch.Tensor, codes: torch.Tensor, alpha: float,
                    c: float = 0.001, jitter: float = 0.001, generator: torch.Generator | None = None) -> torch.Tensor:
    """Static background points must not move: ``c·ρ_GM(‖T(x̃, ω) − x̃‖², c)`` with x̃ jittered."""
    noise = torch.randn(points.shape, device=points.device, generator=generator) * jitter
    x = points + noise
    moved = warp(x, codes, alpha)
    return geman_mcclure(((moved - x) ** 2).sum(-1), c).mean()
