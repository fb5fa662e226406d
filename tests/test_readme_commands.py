"""The README's commands are the ones CI runs, and each platform gets exactly two of them."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.index("\n## ", start + 3)
    return README[start:end]


def _blocks(text: str, lang: str) -> list[str]:
    return [b.strip() for b in re.findall(rf"```{lang}\n(.*?)```", text, flags=re.DOTALL)]


def test_ci_runs_the_readmes_test_command_verbatim() -> None:
    bash = _blocks(_section("Two commands from a fresh clone"), "bash")
    test_command = next(b for b in bash if "pytest" in b)
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_linux_macos_and_windows_each_get_the_run_and_the_test_command() -> None:
    section = _section("Two commands from a fresh clone")
    bash, powershell = _blocks(section, "bash"), _blocks(section, "powershell")
    for commands, install, exe in ((bash, "python3 packaging/install.py", ".venv/bin/"),
                                   (powershell, "py packaging\\install.py", ".venv\\Scripts\\")):
        assert any(c.startswith(install) and f"{exe}nerfie run" in c for c in commands), commands
        assert any(c.startswith(f"{install} --dev") and f"{exe}pytest" in c for c in commands), commands
        assert all(c.count("\n") == 0 for c in commands if install in c)  # one line each


def test_the_installer_the_readme_names_exists() -> None:
    assert (REPO / "packaging" / "install.py").is_file()
