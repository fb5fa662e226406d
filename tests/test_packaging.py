"""The package installs as one namespace and exposes the `nerfie` command."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path


def test_three_code_folders_import_under_the_nerfie_namespace() -> None:
    import nerfie.app
    import nerfie.recon
    import nerfie.render

    assert nerfie.recon.__version__
    assert Path(nerfie.app.__file__).parent.name == "app"
    assert Path(nerfie.render.__file__).parent.name == "render"


def test_nothing_generic_is_installed_at_the_top_of_site_packages(tmp_path: Path) -> None:
    site = Path(sysconfig.get_paths()["purelib"])
    for name in ("app", "recon", "render"):
        assert not (site / name).exists(), f"{name} installed at the top level of {site}"
    # In a fresh interpreter started outside the repository the bare names must not import.
    code = (
        "import importlib.util as u, sys; "
        "bad = [n for n in ('app', 'recon', 'render') if u.find_spec(n) is not None]; "
        "import nerfie.recon, nerfie.render, nerfie.app; "
        "sys.exit(1 if bad else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_imports_go_one_way_recon_never_imports_render_or_app() -> None:
    repo = Path(__file__).resolve().parents[1]
    for folder, forbidden in (("recon", ("nerfie.render", "nerfie.app")), ("render", ("nerfie.app",))):
        for py in (repo / folder).rglob("*.py"):
            text = py.read_text(encoding="utf-8")
            for name in forbidden:
                assert f"import {name}" not in text and f"from {name}" not in text, f"{py} imports {name}"


def test_console_script_reports_its_version() -> None:
    exe = shutil.which("nerfie", path=str(Path(sys.executable).parent))
    assert exe, "the `nerfie` console script is not installed next to this Python"
    res = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0
    import nerfie.recon

    assert res.stdout.strip() == f"nerfie {nerfie.recon.__version__}"


def test_no_module_of_recon_or_render_pulls_in_qt_and_imports_go_one_way() -> None:
    """Every module of the engine's two packages imports without Qt (the worker process and the CLI
    never load it), and recon never imports render or app (app → render → recon)."""
    code = (
        "import importlib, pkgutil, sys\n"
        "import nerfie.recon, nerfie.render\n"
        "names = [m.name for pkg in (nerfie.recon, nerfie.render)\n"
        "         for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.')]\n"
        "for n in names: importlib.import_module(n)\n"
        "bad = [m for m in sys.modules if m.startswith('PySide6') or m.startswith('nerfie.app')]\n"
        "print(len(names), bad)\n"
        "sys.exit(1 if bad or len(names) < 20 else 0)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    recon = Path(__file__).resolve().parents[1] / "recon"
    importing = re.compile(r"^\s*(from|import)\s+nerfie\.(render|app)\b", re.MULTILINE)
    upward = [str(p) for p in recon.rglob("*.py") if importing.search(p.read_text(encoding="utf-8"))]
    assert not upward, f"recon imports render/app: {upward}"
    assert importlib.util.find_spec("PySide6") is not None  # the GUI dependency is installed
