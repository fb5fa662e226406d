"""Apple-silicon GPUs (MPS): ops torch has no MPS kernel for run on the CPU instead of stopping training.

torch reads ``PYTORCH_ENABLE_MPS_FALLBACK`` once, when it is imported, so this module imports
nothing heavy and ``nerfie.recon`` applies it before anything imports torch. A value the user set
is kept (``0`` makes a missing kernel an error, which is how one finds them). torch itself warns once
per op that falls back, naming it: that warning is the logged reason.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

MPS_FALLBACK_ENV = "PYTORCH_ENABLE_MPS_FALLBACK"


def enable_mps_fallback(environ: MutableMapping[str, str] | None = None, platform: str | None = None) -> None:
    """On macOS, default ``PYTORCH_ENABLE_MPS_FALLBACK`` to 1 (before torch is imported)."""
    environ = os.environ if environ is None else environ
    if (platform or sys.platform) == "darwin":
        environ.setdefault(MPS_FALLBACK_ENV, "1")


def mps_fallback_note(environ: MutableMapping[str, str] | None = None) -> str:
    """For ``nerfie info``: what happens to an op MPS lacks."""
    environ = os.environ if environ is None else environ
    if environ.get(MPS_FALLBACK_ENV, "0") == "1":
        return f"ops without an MPS kernel run on the CPU ({MPS_FALLBACK_ENV}=1; torch warns once per op)"
    return f"an op without an MPS kernel stops with an error ({MPS_FALLBACK_ENV} is not 1)"
