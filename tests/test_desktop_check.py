"""`nerfie gui` on a desktop that lacks Qt's X11 libraries names the packages to install, and exits non-zero.

The missing library is faked (a recorded ``ldd`` answer); the last test runs the real ``ldd`` on the
real plugin of this machine's PySide6.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nerfie.app import desktop_check
from nerfie.app.desktop_check import desktop_problem, missing_libraries

LDD_MISSING_CURSOR = """\
\tlinux-vdso.so.1 (0x00007ffd6b5f2000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f0d1c000000)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f0d1bf00000)
\tlibxcb-cursor.so.0 => not found
"""

X11 = {"DISPLAY": ":0"}
PLUGIN = Path("/venv/PySide6/Qt/plugins/platforms/libqxcb.so")


def test_missing_libraries_are_read_from_ldd_once_each_in_order() -> None:
    assert missing_libraries(LDD_MISSING_CURSOR) == ["libxcb-cursor.so.0", "libxcb-icccm.so.4"]
    assert missing_libraries("\tlibxcb.so.1 => /lib/libxcb.so.1 (0x1)\n") == []


def test_a_missing_xcb_library_is_reported_with_debian_and_fedora_packages() -> None:
    problem = desktop_problem(X11, "linux", PLUGIN, ldd=lambda _p: LDD_MISSING_CURSOR)
    assert problem is not None
    assert "libxcb-cursor.so.0" in problem
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4" in problem
    assert "sudo dnf install xcb-util-cursor xcb-util-wm" in problem


def test_an_unknown_missing_library_is_still_named() -> None:
    problem = desktop_problem(X11, "linux", PLUGIN, ldd=lambda _p: "\tlibfoo.so.9 => not found\n")
    assert problem is not None and "libfoo.so.9" in problem


@pytest.mark.parametrize(("env", "platform"), [
    (X11, "darwin"),  # the macOS and Windows wheels carry what their plugins need
    (X11, "win32"),
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux"),  # draws nowhere: needs no X libraries
    ({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "linux"),  # Qt's Wayland plugin is used
])
def test_platforms_that_need_no_x11_libraries_are_not_checked(env: dict[str, str], platform: str) -> None:
    assert desktop_problem(env, platform, PLUGIN, ldd=lambda _p: LDD_MISSING_CURSOR) is None


def test_no_display_on_linux_says_so_and_points_to_the_headless_commands() -> None:
    problem = desktop_problem({}, "linux", PLUGIN, ldd=lambda _p: "")
    assert problem is not None and "DISPLAY" in problem and "nerfie run" in problem


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the X11 check runs on Linux only")
def test_nerfie_gui_exits_non_zero_with_the_apt_line_before_any_window() -> None:
    """Run in a fresh interpreter, as a user would: no QApplication exists yet there."""
    script = (
        "import sys\n"
        "from nerfie.app import desktop_check\n"
        f"desktop_check._ldd = lambda _p: {LDD_MISSING_CURSOR!r}\n"
        "from nerfie.app.cli import main\n"
        "sys.exit(main(['gui']))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env["DISPLAY"] = ":99"
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 1, res.stderr
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt's X11 plugin exists on Linux only")
def test_the_real_plugin_is_found_and_ldd_runs_on_it() -> None:
    plugin = desktop_check.xcb_plugin()
    assert plugin is not None and plugin.name == "libqxcb.so"
    out = desktop_check._ldd(plugin)
    assert "libQt6XcbQpa" in out  # ldd read the plugin's dependencies (missing ones would be listed too)
