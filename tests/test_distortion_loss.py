"""mip-NeRF 360's distortion loss (``train.distortion_weight``): a ray's weight on one surface costs less
than the same weight spread over a surface and a floater in front of it."""

from __future__ import annotations

import torch

from nerfie.recon.model.rendering import distortion_loss


def _brute_force(edges: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The paper's definition, term by term: Σ_ij w_i w_j |m_i − m_j| + ⅓ Σ_i w_i² (s_{i+1} − s_i)."""
    mid = 0.5 * (edges[:, 1:] + edges[:, :-1])
    pair = (w[:, :, None] * w[:, None, :] * (mid[:, :, None] - mid[:, None, :]).abs()).sum((-1, -2))
    return pair + (w ** 2 * (edges[:, 1:] - edges[:, :-1])).sum(-1) / 3


def test_the_running_sum_form_is_the_papers_double_sum() -> None:
    g = torch.Generator().manual_seed(0)
    edges = torch.sort(torch.rand(5, 33, generator=g), -1).values
    w = torch.rand(5, 32, generator=g) / 16
    assert torch.allclose(distortion_loss(edges, w), _brute_force(edges, w), atol=1e-6)


def test_one_surface_costs_less_than_a_surface_and_a_floater() -> None:
    edges = torch.linspace(0.0, 1.0, 65)[None]
    surface = torch.zeros(1, 64)
    surface[0, 40] = 0.9
    split = torch.zeros(1, 64)
    split[0, 40], split[0, 10] = 0.6, 0.3  # the same opacity, a third of it in a haze nearer the camera
    assert float(distortion_loss(edges, surface)) < float(distortion_loss(edges, split)) / 5
    # and its gradient takes weight away from the floater
    split.requires_grad_(True)
    distortion_loss(edges, split).sum().backward()
    assert float(split.grad[0, 10]) > 0
