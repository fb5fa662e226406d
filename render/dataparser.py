"""nerfstudio's training frame: the ``dataparser_transforms.json`` every ``ns-train`` run writes.

Before training, nerfstudio re-orients, centres and scales the cameras of a ``transforms.json``
(``poses = transform @ poses``, then ``poses[:, :3, 3] *= scale``), and everything after that —
its viewer, the camera paths the viewer saves, ``ns-render camera-path`` — works in that frame. A path
drawn in nerfstudio's viewer therefore lands somewhere else in the data's own coordinates unless the
transform is undone (nerfstudio #1101, #2174, #3280). This module maps cameras between the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nerfie.recon.errors import NerfieError
from nerfie.recon.fileio import read_json


@dataclass(frozen=True)
class DataparserTransform:
    """``transform`` (3×4, row-major) and ``scale`` of one nerfstudio training run."""

    transform: tuple[tuple[float, ...], ...] = ((1.0, 0.0, 0.0, 0.0), (0.0, 1.0, 0.0, 0.0), (0.0, 0.0, 1.0, 0.0))
    scale: float = 1.0

    @classmethod
    def from_json(cls, data: object, where: str = "the dataparser transform") -> DataparserTransform:
        try:
            m = np.asarray(data["transform"], dtype=np.float64)  # type: ignore[index]
            scale = float(data["scale"])  # type: ignore[index]
        except (KeyError, TypeError, ValueError) as exc:
            raise NerfieError(f"{where} has no 3×4 \"transform\" and \"scale\".",
                              "Use the dataparser_transforms.json of the nerfstudio run (outputs/…/).") from exc
        if m.shape == (4, 4):
            m = m[:3]
        rotation_ok = m.shape == (3, 4) and np.allclose(m[:, :3] @ m[:, :3].T, np.eye(3), atol=1e-4)
        if not rotation_ok or not np.isfinite(m).all() or not (np.isfinite(scale) and scale > 0):
            raise NerfieError(f"{where} is not a rotation, a translation and a positive scale.",
                              "Use the dataparser_transforms.json of the nerfstudio run (outputs/…/).")
        return cls(tuple(tuple(float(v) for v in row) for row in m), scale)

    @classmethod
    def read(cls, path: Path) -> DataparserTransform:
        return cls.from_json(read_json(path), str(path))

    def to_json(self) -> dict:
        return {"transform": [list(row) for row in self.transform], "scale": self.scale}

    def _matrix(self) -> np.ndarray:
        return np.vstack([np.asarray(self.transform), [0.0, 0.0, 0.0, 1.0]])

    def to_nerfstudio(self, c2w: np.ndarray) -> np.ndarray:
        """A camera-to-world 4×4 of the data's coordinates in nerfstudio's training frame."""
        out = self._matrix() @ np.asarray(c2w, dtype=np.float64)
        out[:3, 3] *= self.scale
        return out

    def from_nerfstudio(self, c2w: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`to_nerfstudio`."""
        m = np.array(c2w, dtype=np.float64).reshape(4, 4)
        m[:3, 3] /= self.scale
        return np.linalg.inv(self._matrix()) @ m

    @property
    def is_identity(self) -> bool:
        return self == DataparserTransform()
