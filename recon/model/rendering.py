"""Ray sampling and volume rendering (nerfacto-style proposal sampling, Nerfies-style background).

Samples live in a normalised ray coordinate ``s ∈ [0, 1]`` mapped to distance by linear-in-
disparity spacing between near and far (dense near the camera, where the face is). A proposal
density gives weights on ``n_prop`` uniform bins; ``n_fine`` bins are drawn from them by inverse
transform sampling and shaded by the full model. The transmittance left after the last sample is
given to the last sample's colour (the "sample at infinity" of Nerfies), so the background is
opaque instead of black.
"""

from __future__ import annotations

import torch


def s_to_t(s: torch.Tensor, near: torch.Tensor, far: torch.Tensor) -> torch.Tensor:
    """Linear in disparity: s = 0 → near, s = 1 → far."""
    return 1.0 / (1.0 / near * (1 - s) + 1.0 / far * s)


def uniform_edges(n_rays: int, n: int, stratified: bool, device: torch.device,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """[R, n + 1] bin edges in s, jittered when ``stratified`` (training)."""
    edges = torch.linspace(0, 1, n + 1, device=device).expand(n_rays, n + 1)
    if stratified:
        width = 1.0 / n
        jitter = (torch.rand((n_rays, n + 1), device=device, generator=generator) - 0.5) * width
        jitter[:, 0] = 0
        jitter[:, -1] = 0
        edges = edges + jitter
    return edges.contiguous()


def weights_from_density(sigma: torch.Tensor, t_edges: torch.Tensor) -> torch.Tensor:
    """Volume-rendering weights [R, n] for densities [R, n] on distance edges [R, n + 1]."""
    delta = (t_edges[:, 1:] - t_edges[:, :-1]).clamp_min(0)
    alpha = 1 - torch.exp(-sigma * delta)
    trans = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :1]), 1 - alpha + 1e-10], -1), -1)[:, :-1]
    return alpha * trans


def sample_pdf(edges: torch.Tensor, weights: torch.Tensor, n: int, deterministic: bool,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw n + 1 sorted edges in s from the piecewise-constant pdf of ``weights`` on ``edges``."""
    w = weights + 1e-5
    pdf = w / w.sum(-1, keepdim=True)
    cdf = torch.cat([torch.zeros_like(pdf[:, :1]), torch.cumsum(pdf, -1)], -1).clamp(max=1.0)
    if deterministic:
        u = torch.linspace(0, 1, n + 1, device=edges.device).expand(edges.shape[0], n + 1).contiguous()
    else:
        u = (torch.arange(n + 1, device=edges.device) + torch.rand((edges.shape[0], n + 1), device=edges.device,
                                                                   generator=generator)) / (n + 1)
        u = u.clamp(0, 1)
    idx = torch.searchsorted(cdf, u, right=True).clamp(1, cdf.shape[-1] - 1)
    c0, c1 = cdf.gather(-1, idx - 1), cdf.gather(-1, idx)
    e0, e1 = edges.gather(-1, idx - 1), edges.gather(-1, idx)
    frac = ((u - c0) / (c1 - c0).clamp_min(1e-8)).clamp(0, 1)
    out = e0 + frac * (e1 - e0)
    return torch.sort(out, -1).values.detach()


def interlevel_loss(fine_edges: torch.Tensor, fine_w: torch.Tensor, prop_edges: torch.Tensor,
                    prop_w: torch.Tensor) -> torch.Tensor:
    """mip-NeRF 360 / nerfacto: the proposal's weight over each fine interval must bound the fine
    weight there. Fine weights are a target (no gradient)."""
    cw = torch.cat([torch.zeros_like(prop_w[:, :1]), torch.cumsum(prop_w, -1)], -1)
    lo = torch.searchsorted(prop_edges.contiguous(), fine_edges[:, :-1].contiguous(), right=True) - 1
    hi = torch.searchsorted(prop_edges.contiguous(), fine_edges[:, 1:].contiguous(), right=False)
    lo = lo.clamp(0, cw.shape[-1] - 1)
    hi = hi.clamp(0, cw.shape[-1] - 1)
    outer = cw.gather(-1, hi) - cw.gather(-1, lo)
    w = fine_w.detach()
    return ((w - outer).clamp_min(0) ** 2 / (w + 1e-7)).sum(-1).mean()


def composite(rgb: torch.Tensor, weights: torch.Tensor, t_mid: torch.Tensor,
              background: str = "learned") -> dict[str, torch.Tensor]:
    """RGB (remaining transmittance to the last sample's colour, or to a white / black backdrop),
    expected depth and opacity."""
    acc = weights.sum(-1)
    behind = rgb[:, -1] if background == "learned" else torch.full_like(rgb[:, -1], float(background == "white"))
    color = (weights[..., None] * rgb).sum(-2) + (1 - acc)[..., None] * behind
    depth = (weights * t_mid).sum(-1) + (1 - acc) * t_mid[:, -1]
    return {"rgb": color, "depth": depth, "acc": acc}


def surface_depth(weights: torch.Tensor, t_mid: torch.Tensor) -> torch.Tensor:
    """The median distance, where half the ray's light has been stopped (the far end if it never is).

    The expected depth (``composite``) is what a depth video shows: it blends, as the colour does. A
    point cloud needs a point on a surface, and the expected depth of a ray that grazes an edge or passes
    a faint floater lies in the air between the two (nerfstudio's point clouds use the median too).
    Computed for renders only, not in training steps.
    """
    half = torch.searchsorted(torch.cumsum(weights, -1).contiguous(), torch.full_like(weights[:, :1], 0.5))
    return t_mid.gather(-1, half.clamp(max=t_mid.shape[-1] - 1))[:, 0]
