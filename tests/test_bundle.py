"""The PyInstaller bundle builds and starts (slow: a build takes minutes and a few GB of disk)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_bundle_builds_and_reports_its_version_and_capabilities() -> None:
    subprocess.run([sys.executable, str(REPO / "packaging" / "build_bundle.py")], check=True, timeout=3600)
    sys.path.insert(0, str(REPO / "packaging"))
    from build_bundle import bundle_executable

    bundle = bundle_executable()
    from nerfie.recon.version import __version__

    res = subprocess.run([str(bundle), "--version"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and res.stdout.strip() == f"nerfie {__version__}"
    res = subprocess.run([str(bundle), "info"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "pycolmap" in res.stdout and "ffmpeg" in res.stdout
