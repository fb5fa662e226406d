"""tiny-cuda-nn's multiresolution hash-grid geometry, shared by every backend.

Level ``l`` has ``scale_l = N_min·b^l − 1`` and ``res_l = ceil(scale_l) + 1`` with
``b = exp((ln N_max − ln N_min)/(L − 1))``. A point ``x`` (the grid's unit cube is [0, 1]^3) sits at
``x·scale_l + 0.5`` on level ``l``. Levels whose ``res^3`` fits the table are indexed densely
(``x + y·res + z·res²``), the others by the spatial hash ``x·1 ⊕ y·2654435761 ⊕ z·805459861``; both
in wrapping uint32 arithmetic and taken modulo the level's size (rounded up to 8), exactly as
tiny-cuda-nn does — which also defines what happens to points outside the unit cube.

All levels live in one table of shape [total_entries, F] (entry-major, features contiguous): the
layout tiny-cuda-nn's flat parameter vector has, so checkpoints move between backends unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

PRIMES = (1, 2654435761, 805459861)
U32 = 0xFFFFFFFF


@dataclass(frozen=True)
class GridGeometry:
    levels: int
    features: int
    log2_table: int
    base_res: int
    max_res: int

    @property
    def per_level_scale(self) -> float:
        if self.levels == 1:
            return 1.0
        return math.exp((math.log(self.max_res) - math.log(self.base_res)) / (self.levels - 1))

    def level_scale(self, level: int) -> float:
        # computed in float32 like tiny-cuda-nn (exp2(level·log2(b))·N_min − 1)
        b = self.per_level_scale
        return float(torch.tensor(2.0 ** (level * math.log2(b)) * self.base_res - 1.0, dtype=torch.float32))

    def level_resolution(self, level: int) -> int:
        return math.ceil(self.level_scale(level)) + 1

    def level_size(self, level: int) -> int:
        """Entries in level ``level``: ``min(res^3, T)`` rounded up to a multiple of 8."""
        res = self.level_resolution(level)
        size = min(res**3, 1 << self.log2_table)
        return (size + 7) // 8 * 8

    def level_is_dense(self, level: int) -> bool:
        return self.level_resolution(level) ** 3 <= (1 << self.log2_table)

    @property
    def offsets(self) -> list[int]:
        out = [0]
        for level in range(self.levels):
            out.append(out[-1] + self.level_size(level))
        return out

    @property
    def total_entries(self) -> int:
        return self.offsets[-1]

    @property
    def output_dim(self) -> int:
        return self.levels * self.features

    def level_tensors(self, device: torch.device | str | None = None) -> dict[str, torch.Tensor]:
        """Per-level constants as tensors (kernels and the reference read the same values)."""
        L = self.levels
        return {
            "scale": torch.tensor([self.level_scale(level) for level in range(L)], dtype=torch.float32, device=device),
            "res": torch.tensor([self.level_resolution(level) for level in range(L)], dtype=torch.int64, device=device),
            "offset": torch.tensor(self.offsets[:-1], dtype=torch.int64, device=device),
            "size": torch.tensor([self.level_size(level) for level in range(L)], dtype=torch.int64, device=device),
            "dense": torch.tensor([self.level_is_dense(level) for level in range(L)], dtype=torch.bool, device=device),
        }


def corner_index(
    cell: torch.Tensor, res: torch.Tensor, size: torch.Tensor, dense: torch.Tensor
) -> torch.Tensor:
    """Table row (within the level) of integer grid corners ``cell`` [..., 3] (int64, may be negative).

    ``res``, ``size``, ``dense`` broadcast against ``cell[..., 0]``.
    """
    c = cell & U32  # uint32 wrap, as tiny-cuda-nn's unsigned arithmetic
    x, y, z = c[..., 0], c[..., 1], c[..., 2]
    dense_idx = (x + ((y * res) & U32) + ((z * ((res * res) & U32)) & U32)) & U32
    hash_idx = (x * PRIMES[0]) ^ ((y * PRIMES[1]) & U32) ^ ((z * PRIMES[2]) & U32)
    return torch.where(dense, dense_idx, hash_idx) % size
