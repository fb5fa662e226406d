"""Compiled CPU backend: the hash-grid encode as one C function, built on first use.

Why: on a CPU the reference backend's step is dominated by dispatching many small tensor ops per level,
not by arithmetic; fusing a point's corners on every level into one loop removes that. The C source
(``hashgrid_cpu.c``) needs no Python or torch headers, so any C compiler builds it in about a second; it
is loaded with :mod:`ctypes`, which releases the GIL while it runs (the GUI stays live). Where no compiler
is at hand (a Windows machine without one, say), ``usable`` says why and ``auto`` keeps the reference.

The shared library is cached per source, compiler and flags under the user's cache folder and written
atomically, so two processes building at once do not see a half-written file.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import torch

from nerfie.recon.hashgrid.geometry import GridGeometry

_SOURCE = Path(__file__).with_name("hashgrid_cpu.c")
_BUILD_TIMEOUT_S = 120
_FLAG_SETS = (
    # -ffp-contract=off: no fused multiply-add, so positions land in the same cells as in the reference.
    ["-O3", "-shared", "-fPIC", "-ffp-contract=off", "-fopenmp"],
    ["-O3", "-shared", "-fPIC", "-ffp-contract=off"],  # a compiler without OpenMP (Apple clang): one thread
)
_LOCK = threading.Lock()
_LIB: ctypes.CDLL | None = None
_WHY_NOT: str | None = None


def cache_dir() -> Path:
    """Where built kernels live: ``NERFIE_KERNEL_CACHE``, else the platform's user cache folder."""
    env = os.environ.get("NERFIE_KERNEL_CACHE")
    if env:
        return Path(env)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "nerfie" / "kernels"


def _compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return name
    return None


def _build() -> ctypes.CDLL:
    cc = _compiler()
    if cc is None:
        raise RuntimeError("no C compiler found (set CC, or install gcc or clang)")
    source = _SOURCE.read_bytes()
    errors = []
    for flags in _FLAG_SETS:
        key = hashlib.sha256(source + " ".join([cc, *flags, platform.machine()]).encode()).hexdigest()[:16]
        suffix = ".dll" if sys.platform == "win32" else ".so"
        target = cache_dir() / f"hashgrid_cpu_{key}{suffix}"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=suffix, dir=target.parent)
            os.close(fd)
            try:
                run = subprocess.run([cc, *flags, str(_SOURCE), "-o", tmp, "-lm"], capture_output=True, text=True,
                                     timeout=_BUILD_TIMEOUT_S)
                if run.returncode != 0:
                    errors.append((run.stderr or run.stdout).strip().splitlines()[-1:] or ["failed"])
                    continue
                os.replace(tmp, target)
            except (OSError, subprocess.TimeoutExpired) as exc:
                errors.append([str(exc)])
                continue
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        try:
            lib = ctypes.CDLL(str(target))
        except OSError as exc:
            errors.append([str(exc)])
            continue
        _declare(lib)
        return lib
    raise RuntimeError(f"{cc} could not build the kernel: " + "; ".join(e[0] for e in errors))


def _declare(lib: ctypes.CDLL) -> None:
    p, i64, i32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
    lib.hg_forward.argtypes = [p, i64, p, i32, i32, p, p, p, p, p, p, p, i32]
    lib.hg_forward.restype = None
    lib.hg_backward.argtypes = [p, i64, p, i32, i32, p, p, p, p, p, p, p, p, p, p, i32]
    lib.hg_backward.restype = None
    lib.hg_max_features.restype = i32
    lib.hg_has_openmp.restype = i32


def library() -> ctypes.CDLL:
    """The loaded kernel library, built on the first call; raises RuntimeError with the reason if it cannot be."""
    global _LIB, _WHY_NOT
    with _LOCK:
        if _LIB is None and _WHY_NOT is None:
            try:
                _LIB = _build()
            except RuntimeError as exc:
                _WHY_NOT = str(exc)
        if _LIB is None:
            raise RuntimeError(_WHY_NOT)
        return _LIB


def native_usable(device: torch.device | str = "cpu") -> tuple[bool, str]:
    """Whether the compiled kernel runs on ``device``, and why not."""
    if torch.device(device).type != "cpu":
        return False, "the compiled kernel is for the CPU"
    try:
        lib = library()
    except RuntimeError as exc:
        return False, str(exc)
    return True, "compiled C kernel" + ("" if lib.hg_has_openmp() else " (one thread: the compiler has no OpenMP)")


class _LevelArrays:
    """The geometry's per-level constants as C arrays, built once per geometry."""

    def __init__(self, geom: GridGeometry) -> None:
        L = geom.levels
        self.scales = torch.tensor([geom.level_scale(lv) for lv in range(L)], dtype=torch.float32)
        self.res = torch.tensor([geom.level_resolution(lv) for lv in range(L)], dtype=torch.int32)
        self.sizes = torch.tensor([geom.level_size(lv) for lv in range(L)], dtype=torch.int32)
        self.dense = torch.tensor([int(geom.level_is_dense(lv)) for lv in range(L)], dtype=torch.int32)
        self.offsets = torch.tensor(geom.offsets[:-1], dtype=torch.int64)


_ARRAYS: dict[GridGeometry, _LevelArrays] = {}


def _arrays(geom: GridGeometry) -> _LevelArrays:
    if geom not in _ARRAYS:
        _ARRAYS[geom] = _LevelArrays(geom)
    return _ARRAYS[geom]


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


class _NativeEncode(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, table: torch.Tensor, mask: torch.Tensor,
                geom: GridGeometry) -> torch.Tensor:
        lib = library()
        xc = x.detach().float().contiguous()
        tc = table.detach().contiguous()
        weights = mask.detach().to("cpu", torch.float32).contiguous()
        a = _arrays(geom)
        n, L, F = xc.shape[0], geom.levels, geom.features
        out = torch.empty((n, L * F), dtype=torch.float32)
        lib.hg_forward(_ptr(xc), n, _ptr(tc), F, L, _ptr(a.scales), _ptr(a.res), _ptr(a.sizes), _ptr(a.dense),
                       _ptr(a.offsets), _ptr(weights), _ptr(out), torch.get_num_threads())
        ctx.save_for_backward(xc, tc, weights)
        ctx.geom = geom
        ctx.x_dtype = x.dtype
        return out.to(x.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        lib = library()
        xc, tc, weights = ctx.saved_tensors
        geom = ctx.geom
        a = _arrays(geom)
        n, L, F = xc.shape[0], geom.levels, geom.features
        g = grad_out.detach().float().contiguous()
        need_x, need_table = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_table = torch.zeros_like(tc) if need_table else None
        grad_x = torch.empty((n, 3), dtype=torch.float32) if need_x else None
        scratch = torch.empty((L, n, 3), dtype=torch.float32) if need_x else None
        if need_x or need_table:
            lib.hg_backward(_ptr(xc), n, _ptr(tc), F, L, _ptr(a.scales), _ptr(a.res), _ptr(a.sizes),
                            _ptr(a.dense), _ptr(a.offsets), _ptr(weights), _ptr(g), _ptr(grad_table),
                            _ptr(grad_x), _ptr(scratch), torch.get_num_threads())
        return (grad_x.to(ctx.x_dtype) if grad_x is not None else None), grad_table, None, None


def native_encode(x: torch.Tensor, table: torch.Tensor, geom: GridGeometry, mask: torch.Tensor) -> torch.Tensor:
    """Encode points [N, 3] → [N, L·F] with the compiled kernel (CPU, float32 table, F ≤ 8)."""
    return _NativeEncode.apply(x, table, mask, geom)


def native_supports(table: torch.Tensor, geom: GridGeometry) -> bool:
    """Whether this table fits the kernel (float32 on the CPU, at most the kernel's features per level)."""
    return table.device.type == "cpu" and table.dtype == torch.float32 and geom.features <= 8
