"""Shared fixtures. Tests run headless (Qt offscreen) with torch sized to the free cores."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The thread-budget registry of this test session alone (worker processes inherit it), so a Nerfie
# running elsewhere on the machine does not change the thread counts tests see.
if "NERFIE_RUNTIME_DIR" not in os.environ:
    import tempfile

    os.environ["NERFIE_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="nerfie-test-workers-")

from pathlib import Path

import pytest
import torch

# Without a CUDA GPU the Triton kernels run in Triton's CPU interpreter (set before triton imports).
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

from nerfie.recon.device import configure_threads

configure_threads()

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def small_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 24-frame 96x80 dynamic synthetic capture with 3 held-out views (about 2 s to make)."""
    from nerfie.recon.synth import SynthSpec, generate

    out = tmp_path_factory.mktemp("capture")
    generate(out, SynthSpec(frames=24, width=96, height=80, heldout=3, seed=3))
    return out


@pytest.fixture(scope="session")
def static_capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 12-frame 96x80 static synthetic capture (exact depth) and its imported project."""
    from nerfie.recon.config import preset
    from nerfie.recon.importers import import_transforms
    from nerfie.recon.synth import SynthSpec, generate

    root = tmp_path_factory.mktemp("static")
    generate(root / "cap", SynthSpec(frames=12, width=96, height=80, heldout=0, seed=4, variant="static"))
    proj = import_transforms(root / "cap" / "transforms.json", root / "proj", preset("cpu-preview"))
    return root / "cap", proj.root
