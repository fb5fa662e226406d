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


def hashgrid_backends() -> dict[str, str]:
    """Which hash-grid encoding backends can be imported here, and why not where not."""
    out = {"torch": f"yes (reference, torch {torch.__version__})"}
    triton = _module_version("triton")
    if triton.startswith("not"):
        out["triton"] = triton
    elif not torch.cuda.is_available():
        out["triton"] = f"imports ({triton}); GPU kernels need CUDA, none here"
    else:
        out["triton"] = f"yes (triton {triton})"
    out["tinycudann"] = _module_version("tinycudann")
    return out


def ffmpeg_version() -> str:
    try:
        import imageio_ffmpeg

        return f"{imageio_ffmpeg.get_ffmpeg_version()} ({imageio_ffmpeg.get_ffmpeg_exe()})"
    except Exception as exc:
        return f"not available ({exc})"


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
        "torch threads": f"{threads} (of {available_cores()} available cores)",
        "pycolmap": _module_version("pycolmap"),
        "ffmpeg": ffmpeg_version(),
    }
    for name, status in hashgrid_backends().items():
        info[f"hashgrid/{name}"] = status
    return info
