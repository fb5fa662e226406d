#!/usr/bin/env python3
"""Build the standalone Nerfie bundle for this platform with PyInstaller, then check that it starts.

    python3 packaging/build_bundle.py        # Linux, macOS
    py packaging\\build_bundle.py             # Windows

What it makes (recipe: packaging/nerfie.spec), from the project's .venv (packaging/install.py first):

* Linux:   dist/nerfie/nerfie           — the command line; with no arguments, the app.
* Windows: dist/nerfie/nerfie.exe       — the same, plus nerfie-gui.exe (no console window).
* macOS:   dist/Nerfie.app              — double-click opens the app; Contents/MacOS/nerfie is the CLI.

Then it runs ``nerfie --version`` and ``nerfie info`` from the bundle and prints the bundle's size and
those start-up times. PyInstaller does not cross-compile: each platform's bundle is built on it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "packaging"))
from install import Installer  # noqa: E402  (the installer next to this file; standard library only)


def bundle_executable(system: str = sys.platform) -> Path:
    """The bundle's command-line program on ``system`` (a ``sys.platform`` value)."""
    if system == "win32":
        return REPO / "dist" / "nerfie" / "nerfie.exe"
    if system == "darwin":
        return REPO / "dist" / "Nerfie.app" / "Contents" / "MacOS" / "nerfie"
    return REPO / "dist" / "nerfie" / "nerfie"


def _size(path: Path) -> str:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
    return f"{total / 2**30:.2f} GB"


def _timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - start


def main() -> int:
    installer = Installer(repo=REPO)
    installer.install()
    python = str(installer.python)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "pyinstaller>=6.10"], check=True)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")  # PyInstaller imports Qt modules while analysing them
    for stale in (REPO / "build" / "bundle", REPO / "dist" / "nerfie", REPO / "dist" / "Nerfie.app"):
        shutil.rmtree(stale, ignore_errors=True)
    # The editable install maps app/ recon/ render/ onto nerfie.* with an import hook PyInstaller cannot
    # follow: give it a regular installed copy of the package to analyse instead.
    site = REPO / "build" / "bundle" / "site"
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(REPO)], check=True)
    env["NERFIE_BUNDLE_SITE"] = str(site)
    subprocess.run([python, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
                    "--workpath", str(REPO / "build" / "bundle"), "--distpath", str(REPO / "dist"),
                    str(REPO / "packaging" / "nerfie.spec")], check=True, env=env)
    exe = bundle_executable()
    folder = REPO / "dist" / ("Nerfie.app" if sys.platform == "darwin" else "nerfie")
    print(f"bundle: {folder} ({_size(folder)})")
    print(f"start-up (--version): {_timed([str(exe), '--version']):.2f} s")
    print(f"nerfie info: {_timed([str(exe), 'info']):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
