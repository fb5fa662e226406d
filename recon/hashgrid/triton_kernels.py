"""The Triton kernels themselves (imported only where triton is installed; see :mod:`triton_backend`)."""


import triton
import triton.language as tl


@triton.jit
def _corner(cx, cy, cz, res, size, dense, BX: tl.constexpr, BY: tl.constexpr, BZ: tl.constexpr):
    # integer corner → row within the level, in wrapping uint32 arithmetic (tiny-cuda-nn's)
    ux = (cx + BX).to(tl.uint32, bitcast=True)
    uy = (cy + BY).to(tl.uint32, bitcast=True)
    uz = (cz + BZ).to(tl.uint32, bitcast=True)
    dense_idx = ux + uy * res + uz * (res * res)
    hash_idx = ux ^ (uy * 2654435761) ^ (uz * 805459861)
    idx = tl.where(dense, dense_idx, hash_idx)
    return (idx % size).to(tl.int64)

@triton.jit
def _cell(x_ptr, offs, live, level, scale_ptr):
    """A block of points on one level: integer cell corner and fractional position per axis."""
    scale = tl.load(scale_ptr + level)
    px = tl.load(x_ptr + offs * 3 + 0, mask=live, other=0.0) * scale + 0.5
    py = tl.load(x_ptr + offs * 3 + 1, mask=live, other=0.0) * scale + 0.5
    pz = tl.load(x_ptr + offs * 3 + 2, mask=live, other=0.0) * scale + 0.5
    fx0 = tl.floor(px)
    fy0 = tl.floor(py)
    fz0 = tl.floor(pz)
    return fx0.to(tl.int32), fy0.to(tl.int32), fz0.to(tl.int32), px - fx0, py - fy0, pz - fz0, scale


@triton.jit
def fwd_kernel(x_ptr, table_ptr, out_ptr, mask_ptr, scale_ptr, res_ptr, offset_ptr, size_ptr, dense_ptr,
               N, L: tl.constexpr, F: tl.constexpr, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    level = tl.program_id(1)
    offs = (pid * BLOCK + tl.arange(0, BLOCK)).to(tl.int64)
    feat = tl.arange(0, F)
    valid = offs < N
    lw = tl.load(mask_ptr + level)
    live = tl.where(lw != 0.0, valid, tl.zeros_like(valid))
    res = tl.load(res_ptr + level).to(tl.uint32)
    size = tl.load(size_ptr + level).to(tl.uint32)
    dense = tl.load(dense_ptr + level) != 0
    base = tl.load(offset_ptr + level).to(tl.int64)
    cx, cy, cz, tx, ty, tz, _scale = _cell(x_ptr, offs, live, level, scale_ptr)
    acc = tl.zeros((BLOCK, F), dtype=tl.float32)
    for c in tl.static_range(8):
        BX: tl.constexpr = c & 1
        BY: tl.constexpr = (c >> 1) & 1
        BZ: tl.constexpr = (c >> 2) & 1
        wx = tx if BX else 1.0 - tx
        wy = ty if BY else 1.0 - ty
        wz = tz if BZ else 1.0 - tz
        row = base + _corner(cx, cy, cz, res, size, dense, BX, BY, BZ)
        vals = tl.load(table_ptr + row[:, None] * F + feat[None, :], mask=live[:, None], other=0.0)
        acc += (wx * wy * wz)[:, None] * vals.to(tl.float32)
    tl.store(out_ptr + offs[:, None] * (L * F) + level * F + feat[None, :], acc * lw, mask=valid[:, None])

@triton.jit
def bwd_kernel(x_ptr, table_ptr, grad_out_ptr, grad_table_ptr, grad_x_ptr, mask_ptr, scale_ptr, res_ptr,
               offset_ptr, size_ptr, dense_ptr, N, L: tl.constexpr, F: tl.constexpr, BLOCK: tl.constexpr,
               NEED_TABLE: tl.constexpr, NEED_X: tl.constexpr):
    pid = tl.program_id(0)
    level = tl.program_id(1)
    offs = (pid * BLOCK + tl.arange(0, BLOCK)).to(tl.int64)
    feat = tl.arange(0, F)
    valid = offs < N
    lw = tl.load(mask_ptr + level)
    live = tl.where(lw != 0.0, valid, tl.zeros_like(valid))
    res = tl.load(res_ptr + level).to(tl.uint32)
    size = tl.load(size_ptr + level).to(tl.uint32)
    dense = tl.load(dense_ptr + level) != 0
    base = tl.load(offset_ptr + level).to(tl.int64)
    cx, cy, cz, tx, ty, tz, scale = _cell(x_ptr, offs, live, level, scale_ptr)
    g = tl.load(grad_out_ptr + offs[:, None] * (L * F) + level * F + feat[None, :], mask=live[:, None], other=0.0)
    g = g.to(tl.float32) * lw
    gx = tl.zeros((BLOCK,), dtype=tl.float32)
    gy = tl.zeros((BLOCK,), dtype=tl.float32)
    gz = tl.zeros((BLOCK,), dtype=tl.float32)
    for c in tl.static_range(8):
        BX: tl.constexpr = c & 1
        BY: tl.constexpr = (c >> 1) & 1
        BZ: tl.constexpr = (c >> 2) & 1
        wx = tx if BX else 1.0 - tx
        wy = ty if BY else 1.0 - ty
        wz = tz if BZ else 1.0 - tz
        row = base + _corner(cx, cy, cz, res, size, dense, BX, BY, BZ)
        ptrs = row[:, None] * F + feat[None, :]
        if NEED_TABLE:
            tl.atomic_add(grad_table_ptr + ptrs, (wx * wy * wz)[:, None] * g, mask=live[:, None])
        if NEED_X:
            vals = tl.load(table_ptr + ptrs, mask=live[:, None], other=0.0).to(tl.float32)
            dot = tl.sum(vals * g, axis=1)
            sx = 1.0 if BX else -1.0
            sy = 1.0 if BY else -1.0
            sz = 1.0 if BZ else -1.0
            gx += dot * sx * wy * wz
            gy += dot * sy * wx * wz
            gz += dot * sz * wx * wy
    if NEED_X:
        tl.atomic_add(grad_x_ptr + offs * 3 + 0, gx * scale, mask=live)
        tl.atomic_add(grad_x_ptr + offs * 3 + 1, gy * scale, mask=live)
        tl.atomic_add(grad_x_ptr + offs * 3 + 2, gz * scale, mask=live)
