"""Random-access microbenchmarks that bound what a hash-grid kernel can reach on this GPU.

Each point does LEVELS x 8 random 2-feature accesses into a table of the encoding's size with the
index computed in registers, like the real kernels but with no interpolation arithmetic.
"""

import triton
import triton.language as tl


@triton.jit
def gather_kernel(table_ptr, out_ptr, N, SIZE, LEVELS: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    valid = offs < N
    feat = tl.arange(0, 2)
    size = SIZE.to(tl.uint32)
    acc = tl.zeros((BLOCK, 2), dtype=tl.float32)
    for level in range(LEVELS):
        for c in tl.static_range(8):
            key = offs.to(tl.uint32) * 2654435761 + (level * 8 + c)
            row = ((key * 805459861) % size).to(tl.int64)
            vals = tl.load(table_ptr + row[:, None] * 2 + feat[None, :], mask=valid[:, None], other=0.0)
            acc += vals.to(tl.float32)
    tl.store(out_ptr + offs[:, None] * 2 + feat[None, :], acc, mask=valid[:, None])


@triton.jit
def atomic_kernel(table_ptr, N, SIZE, LEVELS: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    valid = offs < N
    feat = tl.arange(0, 2)
    size = SIZE.to(tl.uint32)
    val = tl.full((BLOCK, 2), 1.0, tl.float32)
    for level in range(LEVELS):
        for c in tl.static_range(8):
            key = offs.to(tl.uint32) * 2654435761 + (level * 8 + c)
            row = ((key * 805459861) % size).to(tl.int64)
            tl.atomic_add(table_ptr + row[:, None] * 2 + feat[None, :], val, mask=valid[:, None])
