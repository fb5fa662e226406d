#!/usr/bin/env python3
"""Install Nerfie into ./.venv, on Linux, macOS and Windows. Idempotent: a second run checks and returns.

    python3 packaging/install.py          # Linux, macOS: the app
    python3 packaging/install.py --dev    # plus the test tools (pytest, pytest-qt, ruff; triton on Linux)
    py packaging\\install.py               # Windows (PowerShell or cmd)
    python3 packaging/install.py --show   # say which torch this machine would get, install nothing

Standard library only: it runs with whichever Python ≥ 3.10 the system has, before any venv exists.

Which torch, when ``.venv`` has none yet (a torch already there is kept; ``rm -rf .venv`` to switch):

* ``NERFIE_TORCH_SPEC`` set: exactly those pip arguments (e.g. ``torch==2.13.0 --index-url …/cu128``).
* NVIDIA GPU (``nvidia-smi -L`` works): Linux gets PyPI's torch, which ships CUDA; Windows gets the CUDA
  build from PyTorch's own index (PyPI's Windows wheel is CPU-only).
* macOS on Apple silicon: PyPI's wheel, the only macOS build there is (it has Metal/MPS; there is no
  ``+cpu`` variant). Intel Macs: PyTorch stopped publishing them after 2.2, so we stop with that said.
* Otherwise (laptops, CI): the CPU build — PyPI's wheel on Windows and on ARM Linux (CPU-only there),
  ``+cpu`` from PyTorch's CPU index on x86-64 Linux (a few hundred MB instead of several GB of CUDA).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import sys
import venv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

TORCH_VERSION = "2.13.0"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
WINDOWS_CUDA_INDEX = "https://download.pytorch.org/whl/cu128"
MIN_PYTHON = (3, 10)


class InstallError(Exception):
    """A problem the user can act on: printed as one message, exit status 1, no traceback."""


@dataclass(frozen=True)
class TorchChoice:
    pip_args: tuple[str, ...]  # what follows ``python -m pip install``
    reason: str  # one line for the user: why this build


def choose_torch(system: str, machine: str, nvidia_gpu: bool, override: str | None = None,
                 version: str = TORCH_VERSION) -> TorchChoice:
    """The torch build for a machine (``platform.system()``, ``platform.machine()``, GPU present)."""
    if override and override.strip():
        return TorchChoice(tuple(shlex.split(override, posix=system != "Windows")),
                           "NERFIE_TORCH_SPEC is set: installing exactly what it says")
    arch = machine.lower()
    if system == "Darwin":
        if arch not in ("arm64", "aarch64"):
            raise InstallError(
                "PyTorch publishes no builds for Intel Macs after torch 2.2, and Nerfie needs torch 2.4 or newer.\n"
                "Run Nerfie on an Apple-silicon Mac, on Linux or on Windows; or set NERFIE_TORCH_SPEC to a torch "
                "build you have made for this Mac.")
        return TorchChoice((f"torch=={version}",), "macOS: PyPI's torch (uses the Apple GPU through MPS)")
    if nvidia_gpu:
        if system == "Windows":
            return TorchChoice((f"torch=={version}", "--index-url", WINDOWS_CUDA_INDEX),
                               "NVIDIA GPU found: the CUDA build of torch from PyTorch's index")
        return TorchChoice((f"torch=={version}",), "NVIDIA GPU found: PyPI's torch, which ships with CUDA")
    if system == "Windows" or arch in ("arm64", "aarch64"):
        return TorchChoice((f"torch=={version}",), "no NVIDIA GPU: PyPI's torch (a CPU build on this platform)")
    # --no-deps: only torch itself comes from PyTorch's index; its dependencies come from PyPI with
    # Nerfie's (and an unreachable extra index costs one quick retry, not minutes).
    return TorchChoice((f"torch=={version}+cpu", "--no-deps", "--retries", "1", "--extra-index-url", CPU_INDEX),
                       "no NVIDIA GPU: the CPU build of torch")


def has_nvidia_gpu() -> bool:
    """``nvidia-smi -L`` lists a GPU (the driver is installed and sees one)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return False
    try:
        return subprocess.run([exe, "-L"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def venv_python(venv_dir: Path, system: str) -> Path:
    """The venv's interpreter: ``Scripts\\python.exe`` on Windows, ``bin/python`` elsewhere."""
    return venv_dir / "Scripts" / "python.exe" if system == "Windows" else venv_dir / "bin" / "python"


def metadata_hash(repo: Path) -> str:
    """What decides whether Nerfie must be re-installed: its packaging metadata."""
    return hashlib.sha256((repo / "pyproject.toml").read_bytes()).hexdigest()


Runner = Callable[[Sequence[str]], int]


def _run(cmd: Sequence[str]) -> int:
    return subprocess.run(list(cmd)).returncode


def _quiet_ok(cmd: Sequence[str]) -> bool:
    try:
        return subprocess.run(list(cmd), capture_output=True, timeout=300).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@dataclass
class Installer:
    """The install steps, with the machine's facts and the command runner injectable (tests fake them)."""

    repo: Path
    dev: bool = False
    system: str = platform.system()
    machine: str = platform.machine()
    nvidia_gpu: Callable[[], bool] = has_nvidia_gpu
    run: Runner = _run
    succeeds: Callable[[Sequence[str]], bool] = _quiet_ok
    make_venv: Callable[[Path], None] = lambda path: venv.EnvBuilder(with_pip=True).create(path)
    log: Callable[[str], None] = lambda msg: print(f"nerfie install: {msg}", file=sys.stderr, flush=True)

    @property
    def venv_dir(self) -> Path:
        return self.repo / ".venv"

    @property
    def python(self) -> Path:
        return venv_python(self.venv_dir, self.system)

    def torch_choice(self) -> TorchChoice:
        return choose_torch(self.system, self.machine, self.nvidia_gpu(), os.environ.get("NERFIE_TORCH_SPEC"))

    def _pip(self, *args: str) -> None:
        cmd = [str(self.python), "-m", "pip", "install", *args]
        if self.run(cmd) != 0:
            raise InstallError(f"pip could not install {' '.join(args)} (its message is above).\n"
                               "Check the network connection (or a proxy's settings) and run the same command again.")

    def install(self) -> None:
        if not self.python.exists():
            self.log(f"creating .venv with Python {platform.python_version()}")
            try:
                self.make_venv(self.venv_dir)
            except (OSError, subprocess.CalledProcessError) as exc:
                raise InstallError(
                    f"Could not create {self.venv_dir} ({exc}).\n"
                    "On Debian/Ubuntu install Python's venv support first: sudo apt install python3-venv; "
                    "then delete the half-made .venv folder and run this installer again.") from exc
        if not self.succeeds([str(self.python), "-c", "import torch"]):
            choice = self.torch_choice()
            self.log(f"{choice.reason}: pip install {' '.join(choice.pip_args)}")
            self._pip(*choice.pip_args)
        stamp = self.venv_dir / (".nerfie-install-dev" if self.dev else ".nerfie-install")
        digest = metadata_hash(self.repo)
        if not stamp.exists() or stamp.read_text().strip() != digest:
            self._pip("-q", "-e", f"{self.repo}[dev]" if self.dev else str(self.repo))
            stamp.write_text(digest + "\n")
        check = "import nerfie.recon, sys; print('nerfie install: ok,', nerfie.recon.__version__, file=sys.stderr)"
        if self.run([str(self.python), "-c", check]) != 0:
            raise InstallError("Nerfie was installed but does not import (the error is above).\n"
                               "Delete the .venv folder and run this installer again.")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="install.py", description="Install Nerfie into ./.venv.")
    parser.add_argument("--dev", action="store_true", help="also the test tools (pytest, pytest-qt, ruff)")
    parser.add_argument("--show", action="store_true", help="print the torch build this machine gets; install nothing")
    args = parser.parse_args(argv)
    installer = Installer(repo=Path(__file__).resolve().parents[1], dev=args.dev)
    try:
        if sys.version_info < MIN_PYTHON:
            raise InstallError(f"Nerfie needs Python {'.'.join(map(str, MIN_PYTHON))} or newer; this is "
                               f"{platform.python_version()} ({sys.executable}). Run the installer with a newer one.")
        if args.show:
            choice = installer.torch_choice()
            print(f"{choice.reason}\npip install {' '.join(choice.pip_args)}")
            return 0
        installer.install()
    except InstallError as exc:
        print(f"nerfie install: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nerfie install: interrupted; run the same command again to finish.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
