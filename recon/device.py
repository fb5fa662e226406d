"""Which compute device and how many threads Nerfie uses.

Oversubscribed intra-op threads make torch 5-25x slower on small machines (spin-waiting), so we
size the pool to the cores this process may really use, not to ``os.cpu_count()``.
"""

from __future__ import annotations

import importlib
import os
from typing import Literal

import torch

from nerfie.recon.errors import NerfieError

DeviceChoice = Literal["auto", "cuda", "mps", "cpu"]


def available_cores() -> int:
    """Cores this process may run on, overridable with ``NERFIE_THREADS``.

    Affinity-aware where the platform says (``os.process_cpu_count``, Python 3.13+, everywhere;
    ``os.sched_getaffinity`` on Linux), else every logical core (macOS, Windows before 3.13).
    """
    env = os.environ.get("NERFIE_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    process_cpu_count = getattr(os, "process_cpu_count", None)
    if process_cpu_count is not None:
        return max(1, process_cpu_count() or 1)
    sched_getaffinity = getattr(os, "sched_getaffinity", None)
    if sched_getaffinity is not None:
        return max(1, len(sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op pool to ``threads`` (default: the available cores); return it."""
    n = threads or available_cores()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def pick_device(choice: DeviceChoice | str = "auto") -> torch.device:
    """CUDA, then Apple MPS, then CPU; an explicit choice that is missing is an error."""
    choice = str(choice).lower()
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise NerfieError(
            "CUDA was requested but torch cannot see a CUDA GPU.",
            "Install a CUDA build of torch (see README, 'GPU install') or use --device cpu.",
        )
    if choice == "mps" and not mps_available():
        raise NerfieError("Apple MPS was requested but is not available.", "Use --device cpu.")
    if choice not in ("cuda", "mps", "cpu"):
        raise NerfieError(f"Unknown device {choice!r}.", "Use one of auto, cuda, mps, cpu.")
    return torch.device(choice)


def describe_device(device: torch.device) -> str:
    """A short human-readable name, e.g. 'CUDA: NVIDIA H100 80GB HBM3'."""
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        from nerfie.recon.mps_fallback import mps_fallback_note

        return f"Apple MPS ({mps_fallback_note()})"
    return f"CPU ({available_cores()} cores available)"


def preload_lazy_torch_modules() -> None:
    """Import what torch otherwise imports lazily on a training thread's first step, for GUIs.

    * ``torch._decomp.decompositions_for_jvp``: the elastic loss's first forward-mode derivative
      TorchScript-compiles these, holding the GIL for ~0.3 s: a frozen UI if it happens mid-run.
    * ``torch._dynamo`` (and Triton where installed): torch.optim imports it lazily. Triton bundles
      its own LLVM; loaded *after* Mesa's software OpenGL (llvmpipe, its own LLVM) the process
      segfaults (seen under Xvfb), loaded before, both work.
    """
    for name in ("torch._dynamo", "torch._decomp.decompositions_for_jvp"):
        try:
            importlib.import_module(name)
        except Exception:
            pass
