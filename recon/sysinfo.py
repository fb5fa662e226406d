"""What this installation can do: the facts ``nerfie info`` and the GUI's status bar show."""

from __future__ import annotations

import importlib
import platform

import torch

from nerfie.recon.device import available_cores, configure_threads, describe_device, pick_device
from nerfie.recon.version import __version__


def _module_version(name: str) -> str:
    try:
        mod = importlib.import_module(name)
    except Exception as exc:  # any import failure means "not usable here"
        return f"not available ({type(exc).__name__}: {str(exc).splitlines()[0][:80]})"
    return str(getattr(mod, "__version__", "installed"))


def hashgrid_backends(device: torch.device | None = None) -> dict[str, str]:
    """Which hash-grid encoding backends run here, and why not where not."""
    from nerfie.recon.hashgrid.encoding import choose_auto_backend
    from nerfie.recon.hashgrid.geometry import GridGeometry
    from nerfie.recon.hashgrid.native_backend import native_usable
    from nerfie.recon.hashgrid.tcnn_backend import tcnn_usable
    from nerfie.recon.hashgrid.triton_backend import triton_usable

    device = device or pick_device("auto")
    out = {"torch": f"yes (reference, torch {torch.__version__})"}
    ok, why = native_usable("cpu")
    out["native"] = f"yes ({why}, CPU)" if ok else f"no: {why}"
    ok, why = triton_usable(device)
    out["triton"] = f"yes (triton {_module_version('triton')})" if ok else f"no: {why}"
    ok, why = tcnn_usable(device)
    out["tinycudann"] = f"yes ({_module_version('tinycudann')})" if ok else f"no: {why}"
    if device.type != "cuda":  # on CUDA, "auto" is decided by timing on first use, not here
        out["auto"] = choose_auto_backend(GridGeometry(16, 2, 19, 16, 2048), device)[1]
    return out


def ffmpeg_version() -> str:
    try:
        import imageio_ffmpeg

        return f"{imageio_ffmpeg.get_ffmpeg_version()} ({imageio_ffmpeg.get_ffmpeg_exe()})"
    except Exception as exc:
        return f"not available ({exc})"


def mps_status() -> str:
    """Whether training can use an Apple-silicon GPU, and what happens to ops it lacks."""
    from nerfie.recon.device import mps_available
    from nerfie.recon.mps_fallback import mps_fallback_note

    if mps_available():
        return f"yes; {mps_fallback_note()}"
    backend = getattr(torch.backends, "mps", None)
    if backend is not None and backend.is_built():
        return "no (this torch has MPS, but no Apple-silicon GPU answers: macOS 12.3+ on an M-series Mac)"
    return "no (Apple-silicon Macs only)"


def collect_info() -> dict[str, str]:
    threads = configure_threads()
    device = pick_device("auto")
    info = {
        "nerfie": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "torch": torch.__version__,
        "device": describe_device(device),
        "cuda": torch.version.cuda or "no (CPU build of torch)",
        "mps": mps_status(),
        "torch threads": f"{threads} (of {available_cores()} available cores)",
        "pycolmap": _module_version("pycolmap"),
        "ffmpeg": ffmpeg_version(),
    }
    for name, status in hashgrid_backends(device).items():
        info[f"hashgrid/{name}"] = status
    return info
