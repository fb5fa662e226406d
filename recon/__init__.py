"""Reconstruction engine: video → frames → poses → dataset → model → training.

The lowest layer of Nerfie. It imports nothing from ``nerfie.render`` or ``nerfie.app``
(imports go app → render → recon only), so it can run headless, in tests and in workers.
"""

from nerfie.recon.version import __version__

__all__ = ["__version__"]
