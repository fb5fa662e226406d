"""Solid (3-D) procedural textures: hashed value noise and fractal sums of it.

A *solid* texture is evaluated at the 3-D point a ray hits, in the part's own canonical frame,
so the subject's appearance is the same from every view and at every time — exactly the
property a radiance field can learn and structure-from-motion can match.
"""

from __future__ import annotations

import torch

_MASK = (1 << 31) - 1


def _hash(ix: torch.Tensor, iy: torch.Tensor, iz: torch.Tensor, seed: int) -> torch.Tensor:
    """Integer lattice coordinates → uniform floats in [0, 1). Deterministic, platform independent."""
    h = (ix * 73856093) ^ (iy * 19349663) ^ (iz * 83492791) ^ (seed * 2654435761)
    h = h & _MASK
    h = ((h ^ (h >> 13)) * 1274126177) & _MASK
    h = (h ^ (h >> 16)) & _MASK
    return h.to(torch.float32) / float(_MASK)


def value_noise(p: torch.Tensor, seed: int) -> torch.Tensor:
    """Smooth value noise in [0, 1] at points [..., 3] (lattice spacing 1)."""
    f = torch.floor(p)
    i = f.to(torch.int64)
    t = p - f
    w = t * t * (3 - 2 * t)  # smoothstep
    out = torch.zeros(p.shape[:-1], dtype=torch.float32, device=p.device)
    for dx in (0, 1):
        wx = w[..., 0] if dx else 1 - w[..., 0]
        for dy in (0, 1):
            wy = w[..., 1] if dy else 1 - w[..., 1]
            for dz in (0, 1):
                wz = w[..., 2] if dz else 1 - w[..., 2]
                out += wx * wy * wz * _hash(i[..., 0] + dx, i[..., 1] + dy, i[..., 2] + dz, seed)
    return out


def fbm(p: torch.Tensor, seed: int, octaves: int = 3, lacunarity: float = 2.1, gain: float = 0.5) -> torch.Tensor:
    """Fractal sum of value noise, normalised to roughly [0, 1]."""
    total = torch.zeros(p.shape[:-1], dtype=torch.float32, device=p.device)
    amp, norm = 1.0, 0.0
    for o in range(octaves):
        total += amp * value_noise(p, seed + 1013 * o)
        norm += amp
        amp *= gain
        p = p * lacunarity
    return total / norm
