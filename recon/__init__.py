"""Reconstruction engine: video → frames → poses → dataset → model → training.

The lowest layer of Nerfie. It imports nothing from ``nerfie.render`` or ``nerfie.app``
(imports go app → render → recon only), so it can run headless, in tests and in workers.
"""

from nerfie.recon.mps_fallback import enable_mps_fallback
from nerfie.recon.version import __version__

enable_mps_fallback()  # before anything imports torch: torch reads it at import

__all__ = ["__version__"]
