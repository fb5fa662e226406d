"""The PyInstaller bundle builds and starts (slow: a build takes minutes and a few GB of disk)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "dist" / "nerfie" / "nerfie"


@pytest.mark.slow
def test_the_bundle_builds_and_reports_its_version_and_capabilities() -> None:
    subprocess.run([str(REPO / "packaging" / "build_bundle.sh")], check=True, timeout=3600)
    from nerfie.recon.version import __version__

    res = subprocess.run([str(BUNDLE), "--version"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and res.stdout.strip() == f"nerfie {__version__}"
    res = subprocess.run([str(BUNDLE), "info"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "pycolmap" in res.stdout and "ffmpeg" in res.stdout
