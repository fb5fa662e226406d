"""``HashGridEncoding``: one interface over the PyTorch, Triton and tiny-cuda-nn backends."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable

import torch
from torch import nn

from nerfie.recon.errors import NerfieError
from nerfie.recon.hashgrid.geometry import GridGeometry
from nerfie.recon.hashgrid.naive import naive_encode
from nerfie.recon.hashgrid.reference import reference_encode

BACKENDS = ("auto", "torch", "native", "triton", "tcnn")

# Decisions of backend="auto", per (device name, geometry): measured once per process.
_AUTO_CHOICE: dict[tuple[str, GridGeometry], tuple[str, str]] = {}


def window_weights(alpha: float, levels: int) -> torch.Tensor:
    """Nerfies' coarse-to-fine window ``w_j(α) = ½(1 − cos(π·clamp(α − j, 0, 1)))`` for j < levels."""
    j = torch.arange(levels, dtype=torch.float32)
    return 0.5 * (1 - torch.cos(math.pi * (alpha - j).clamp(0, 1)))


def _time_fwd_bwd(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x: torch.Tensor,
                  table: torch.Tensor, iters: int = 5) -> float:
    for _ in range(2):
        fn(x, table).sum().backward()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(iters):
        fn(x, table).sum().backward()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / iters


def choose_auto_backend(geom: GridGeometry, device: torch.device) -> tuple[str, str]:
    """Pick the backend for ``device``. CPU: the compiled C kernel where a C compiler builds it, else the
    PyTorch reference. CUDA: tiny-cuda-nn if installed, else Triton where it beats the ``torch.compile``d
    PyTorch formulation on this GPU (timed once), else the PyTorch reference."""
    from nerfie.recon.hashgrid.tcnn_backend import tcnn_usable
    from nerfie.recon.hashgrid.triton_backend import triton_encode, triton_usable

    if device.type == "cpu":
        from nerfie.recon.hashgrid.native_backend import native_usable

        ok, why = native_usable(device)
        return ("native", why) if ok else ("torch", f"PyTorch reference (no compiled kernel: {why})")
    if device.type != "cuda":
        return "torch", f"PyTorch reference ({device.type}: the fused kernels need CUDA)"
    key = (torch.cuda.get_device_name(device), geom)
    if key in _AUTO_CHOICE:
        return _AUTO_CHOICE[key]
    ok, _ = tcnn_usable(device)
    if ok:
        choice = ("tcnn", "tiny-cuda-nn is installed")
    else:
        ok, why = triton_usable(device)
        if not ok:
            choice = ("torch", f"PyTorch reference ({why})")
        else:
            n = 1 << 18
            x = torch.rand(n, 3, device=device)
            table = torch.zeros(geom.total_entries, geom.features, device=device, requires_grad=True)
            mask = torch.ones(geom.levels, device=device)
            t_triton = _time_fwd_bwd(lambda a, t: triton_encode(a, t, geom, mask, half_table=True), x, table)
            try:
                compiled = torch.compile(lambda a, t: naive_encode(a, t, geom, mask))
                t_ref = _time_fwd_bwd(compiled, x, table)
            except Exception:  # no compiler toolchain: compare with the eager reference
                t_ref = _time_fwd_bwd(lambda a, t: reference_encode(a, t, geom, mask), x, table)
            if t_triton < t_ref:
                choice = ("triton", f"Triton kernels, {t_ref / t_triton:.1f}x faster than torch.compile here")
            else:
                choice = ("torch", f"PyTorch reference: Triton was {t_triton / t_ref:.1f}x slower here")
    _AUTO_CHOICE[key] = choice
    return choice


class HashGridEncoding(nn.Module):
    """Multiresolution hash-grid encoding (Instant-NGP) of points in the unit cube [0, 1]^3.

    ``forward(x [..., 3]) → [..., levels·features]`` (level-major). Gradients flow to the table and
    to ``x`` (the deformation field and the elastic loss need dL/dx). ``level_mask`` (one weight per
    level, 1 = on) scales each level's output for coarse-to-fine annealing; see :meth:`anneal`.
    The parameter layout is the same for every backend (and tiny-cuda-nn's), so a checkpoint trained
    with one loads into another — GPU-trained, CPU-viewed.
    """

    def __init__(self, levels: int = 16, features: int = 2, log2_table: int = 19, base_res: int = 16,
                 max_res: int = 2048, backend: str = "auto", half_table: bool | None = None) -> None:
        super().__init__()
        if backend not in BACKENDS:
            raise NerfieError(f"Unknown hash-grid backend {backend!r}.", f"Use one of: {', '.join(BACKENDS)}.")
        if levels < 1 or features < 1 or not 4 <= log2_table <= 30 or base_res < 2 or max_res < base_res:
            raise NerfieError(
                f"Invalid hash grid: levels={levels}, features={features}, log2_table={log2_table}, "
                f"base_res={base_res}, max_res={max_res}.",
                "Use levels ≥ 1, features ≥ 1, 4 ≤ log2_table ≤ 30 and 2 ≤ base_res ≤ max_res.",
            )
        self.geometry = GridGeometry(levels, features, log2_table, base_res, max_res)
        self.backend = backend
        self.half_table = half_table
        self.table = nn.Parameter(torch.empty(self.geometry.total_entries, features).uniform_(-1e-4, 1e-4))
        self.register_buffer("level_mask", torch.ones(levels))
        self._level_tensors: dict[str, dict[str, torch.Tensor]] = {}
        self._tcnn: dict[str, object] = {}
        self.backend_reason = ""

    @property
    def output_dim(self) -> int:
        return self.geometry.output_dim

    def anneal(self, alpha: float) -> None:
        """Set the level mask to the coarse-to-fine window at ``alpha`` (levels < α are on)."""
        self.level_mask.copy_(window_weights(alpha, self.geometry.levels))

    def set_level_mask(self, weights: torch.Tensor | list[float]) -> None:
        w = torch.as_tensor(weights, dtype=torch.float32)
        if w.shape != (self.geometry.levels,):
            raise NerfieError(f"level mask must have {self.geometry.levels} weights, got {tuple(w.shape)}.")
        self.level_mask.copy_(w)

    def resolve_backend(self, device: torch.device) -> str:
        """The backend that runs on ``device`` (``auto`` resolved; ``NERFIE_HASHGRID_BACKEND`` overrides)."""
        name = os.environ.get("NERFIE_HASHGRID_BACKEND", self.backend)
        if name not in BACKENDS:
            raise NerfieError(f"NERFIE_HASHGRID_BACKEND={name!r} is not a backend.", f"Use one of: {BACKENDS}.")
        if name == "auto":
            name, self.backend_reason = choose_auto_backend(self.geometry, device)
        elif name == "native":
            from nerfie.recon.hashgrid.native_backend import native_usable

            ok, why = native_usable(device)
            if not ok:
                raise NerfieError(f"The compiled hash-grid kernel cannot run here: {why}.",
                                  "Use model.hash_backend=auto (it falls back to the PyTorch reference), "
                                  "or install a C compiler (gcc or clang).")
            self.backend_reason = "requested"
        else:
            self.backend_reason = "requested"
        return name

    def _lt(self, device: torch.device) -> dict[str, torch.Tensor]:
        key = str(device)
        if key not in self._level_tensors:
            self._level_tensors[key] = self.geometry.level_tensors(device)
        return self._level_tensors[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.shape[-1:] != (3,):
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise NerfieError(f"HashGridEncoding expects positions of shape [..., 3], got {shape}.")
        if not x.is_floating_point():
            raise NerfieError(f"HashGridEncoding expects floating-point positions, got {x.dtype}.",
                              "Convert with x.float().")
        if x.device != self.table.device:
            raise NerfieError(
                f"Positions are on {x.device} but the hash grid is on {self.table.device}.",
                f"Move one of them: x.to('{self.table.device}') or encoding.to('{x.device}').",
            )
        lead = x.shape[:-1]
        flat = x.reshape(-1, 3)
        device = flat.device
        backend = self.resolve_backend(device)
        mask = self.level_mask
        if backend == "native":
            from nerfie.recon.hashgrid.native_backend import native_encode, native_supports

            if not native_supports(self.table, self.geometry):
                backend = "torch"  # an fp16 table or more features than the kernel takes: the reference does it
        if backend == "native":
            out = native_encode(flat, self.table, self.geometry, mask)
        elif backend == "torch":
            out = reference_encode(flat, self.table, self.geometry, mask, self._lt(device))
        elif backend == "triton":
            from nerfie.recon.hashgrid.triton_backend import triton_encode

            half = self.half_table if self.half_table is not None else device.type == "cuda"
            out = triton_encode(flat, self.table, self.geometry, mask, self._lt(device), half_table=half)
        else:
            from nerfie.recon.hashgrid.tcnn_backend import TcnnEncoder

            enc = self._tcnn.get(str(device))
            if enc is None:
                enc = self._tcnn[str(device)] = TcnnEncoder(self.geometry, device)
            out = enc(flat, self.table, mask)  # type: ignore[operator]
        return out.reshape(*lead, self.output_dim)

    def extra_repr(self) -> str:
        g = self.geometry
        return (f"levels={g.levels}, features={g.features}, log2_table={g.log2_table}, base_res={g.base_res}, "
                f"max_res={g.max_res}, backend={self.backend!r}")
