"""The installer (packaging/install.py) picks the right torch on every platform and is idempotent.

The platform, the GPU and the commands are faked: what is checked is which commands the installer
would run on Linux, macOS and Windows, with and without an NVIDIA GPU, and with NERFIE_TORCH_SPEC.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("nerfie_install", REPO / "packaging" / "install.py")
assert _spec and _spec.loader
install = importlib.util.module_from_spec(_spec)
sys.modules["nerfie_install"] = install  # dataclasses look their module up by name
_spec.loader.exec_module(install)

V = install.TORCH_VERSION


@pytest.mark.parametrize(("system", "machine", "gpu", "expected"), [
    # Linux x86-64 without a GPU: only torch from PyTorch's CPU index, its dependencies from PyPI.
    ("Linux", "x86_64", False,
     (f"torch=={V}+cpu", "--no-deps", "--retries", "1", "--extra-index-url", install.CPU_INDEX)),
    ("Linux", "x86_64", True, (f"torch=={V}",)),  # PyPI's Linux wheel ships CUDA
    ("Linux", "aarch64", False, (f"torch=={V}",)),  # PyPI's ARM Linux wheel is the CPU build
    ("Darwin", "arm64", False, (f"torch=={V}",)),  # no "+cpu" build exists for macOS: the plain wheel, MPS inside
    ("Windows", "AMD64", False, (f"torch=={V}",)),  # PyPI's Windows wheel is the CPU build
    ("Windows", "AMD64", True, (f"torch=={V}", "--index-url", install.WINDOWS_CUDA_INDEX)),
])
def test_each_platform_gets_a_torch_build_that_exists_for_it(system: str, machine: str, gpu: bool,
                                                             expected: tuple[str, ...]) -> None:
    choice = install.choose_torch(system, machine, gpu)
    assert choice.pip_args == expected
    assert choice.reason


def test_no_platform_but_x86_linux_is_sent_to_the_cpu_index_for_a_plus_cpu_wheel() -> None:
    for system, machine in [("Darwin", "arm64"), ("Windows", "AMD64"), ("Linux", "aarch64")]:
        for gpu in (False, True):
            args = install.choose_torch(system, machine, gpu).pip_args
            assert not any("+cpu" in a for a in args), (system, machine, gpu, args)


def test_intel_macs_are_told_plainly_that_no_torch_build_exists() -> None:
    with pytest.raises(install.InstallError, match="Intel Macs"):
        install.choose_torch("Darwin", "x86_64", False)


@pytest.mark.parametrize("system", ["Linux", "Darwin", "Windows"])
def test_nerfie_torch_spec_overrides_the_choice_everywhere(system: str) -> None:
    spec = "torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
    for gpu in (False, True):
        choice = install.choose_torch(system, "x86_64", gpu, override=spec)
        assert choice.pip_args == ("torch==2.13.0", "--index-url", "https://download.pytorch.org/whl/cu128")
        assert "NERFIE_TORCH_SPEC" in choice.reason


class FakeMachine:
    """Records the commands an Installer runs; 'import torch' succeeds once torch was pip-installed."""

    def __init__(self, torch_present: bool = False) -> None:
        self.commands: list[list[str]] = []
        self.torch_present = torch_present
        self.system = "Linux"

    def run(self, cmd: Sequence[str]) -> int:
        self.commands.append(list(cmd))
        if cmd[1:4] == ["-m", "pip", "install"] and any(a.startswith("torch==") for a in cmd):
            self.torch_present = True
        return 0

    def succeeds(self, cmd: Sequence[str]) -> bool:
        return self.torch_present if cmd[-1] == "import torch" else True

    def make_venv(self, path: Path) -> None:
        self.commands.append(["venv", str(path)])
        python = install.venv_python(path, self.system)
        python.parent.mkdir(parents=True)
        python.write_text("")


def _installer(tmp_path: Path, system: str, machine: str, gpu: bool, fake: FakeMachine, dev: bool = False):
    if not (tmp_path / "pyproject.toml").exists():
        (tmp_path / "pyproject.toml").write_text("[project]\nname = 'nerfie'\n")
    fake.system = system
    return install.Installer(repo=tmp_path, dev=dev, system=system, machine=machine, nvidia_gpu=lambda: gpu,
                             run=fake.run, succeeds=fake.succeeds, make_venv=fake.make_venv, log=lambda _m: None)


def test_windows_install_uses_the_venvs_scripts_folder_and_the_cuda_index(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NERFIE_TORCH_SPEC", raising=False)
    fake = FakeMachine()
    _installer(tmp_path, "Windows", "AMD64", True, fake, dev=True).install()
    python = str(tmp_path / ".venv" / "Scripts" / "python.exe")
    assert fake.commands[0] == ["venv", str(tmp_path / ".venv")]
    assert fake.commands[1] == [python, "-m", "pip", "install", f"torch=={V}", "--index-url",
                                install.WINDOWS_CUDA_INDEX]
    assert fake.commands[2] == [python, "-m", "pip", "install", "-q", "-e", f"{tmp_path}[dev]"]
    assert fake.commands[3][:2] == [python, "-c"]  # the import check
    assert (tmp_path / ".venv" / ".nerfie-install-dev").exists()


def test_a_second_run_installs_nothing_and_a_changed_pyproject_reinstalls_only_nerfie(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NERFIE_TORCH_SPEC", raising=False)
    fake = FakeMachine()
    _installer(tmp_path, "Darwin", "arm64", False, fake).install()
    assert next(c for c in fake.commands if "pip" in c)[4:] == [f"torch=={V}"]

    fake.commands.clear()
    _installer(tmp_path, "Darwin", "arm64", False, fake).install()
    assert not [c for c in fake.commands if "pip" in c], fake.commands  # only the import check ran

    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'nerfie'\nversion = '2'\n")
    fake.commands.clear()
    _installer(tmp_path, "Darwin", "arm64", False, fake).install()
    pips = [c for c in fake.commands if "pip" in c]
    assert len(pips) == 1 and pips[0][-2:] == ["-e", str(tmp_path)]


def test_a_torch_already_in_the_venv_is_kept(tmp_path: Path) -> None:
    fake = FakeMachine(torch_present=True)
    _installer(tmp_path, "Linux", "x86_64", True, fake).install()
    assert not any(a.startswith("torch==") for c in fake.commands for a in c)


def test_a_failed_pip_install_is_one_actionable_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NERFIE_TORCH_SPEC", raising=False)
    fake = FakeMachine()
    inst = _installer(tmp_path, "Linux", "x86_64", False, fake)
    inst.run = lambda cmd: 1
    with pytest.raises(install.InstallError, match="run the same command again"):
        inst.install()


def test_show_prints_this_machines_choice_and_installs_nothing(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, str(REPO / "packaging" / "install.py"), "--show"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "pip install torch==" in res.stdout
