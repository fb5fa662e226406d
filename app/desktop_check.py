"""Before the window opens: can Qt show one here? If not, say which system packages are missing.

pip brings Qt itself, but on Linux Qt's X11 platform plugin (``libqxcb.so``) needs X libraries that
only the system's package manager can install (a fresh desktop or WSL image often lacks
``libxcb-cursor0`` and friends). Without this check the user gets Qt's own "could not load the Qt
platform plugin" text and an abort; with it, the ``apt``/``dnf`` line to run. macOS and Windows wheels
carry everything their plugins need, so there is nothing to check there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

# shared library → (Debian/Ubuntu package, Fedora package)
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
}

# Qt platforms that draw nowhere or bring their own dependencies: nothing to check.
SELF_CONTAINED = ("offscreen", "minimal", "vnc", "linuxfb", "eglfs", "minimalegl", "vkkhrdisplay")

Ldd = Callable[[Path], str]


def _ldd(library: Path) -> str:
    exe = shutil.which("ldd")
    if not exe:
        return ""
    try:
        return subprocess.run([exe, str(library)], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def missing_libraries(ldd_output: str) -> list[str]:
    """The ``libX.so.N => not found`` names in ``ldd``'s output, in order, once each."""
    names = re.findall(r"^\s*(\S+)\s*=>\s*not found", ldd_output, flags=re.MULTILINE)
    return list(dict.fromkeys(names))


def install_advice(libraries: list[str]) -> str:
    """The apt and dnf lines that install ``libraries`` (unknown names are listed as they are)."""
    known = [PACKAGES[n] for n in libraries if n in PACKAGES]
    unknown = [n for n in libraries if n not in PACKAGES]
    lines = []
    if known:
        debian = " ".join(dict.fromkeys(d for d, _ in known))
        fedora = " ".join(dict.fromkeys(f for _, f in known))
        lines += [f"  Debian/Ubuntu:  sudo apt install {debian}", f"  Fedora:         sudo dnf install {fedora}"]
    if unknown:
        lines.append(f"  and the package that provides: {', '.join(unknown)}")
    return "\n".join(lines)


def xcb_plugin() -> Path | None:
    """PySide6's X11 platform plugin, where the wheel put it."""
    try:
        import PySide6
    except ImportError:
        return None
    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.exists() else None


def desktop_problem(env: Mapping[str, str] | None = None, platform: str | None = None,
                    plugin: Path | None = None, ldd: Ldd | None = None) -> str | None:
    """Why Qt cannot open a window here, with what to do; ``None`` when it can (or we cannot tell)."""
    env = os.environ if env is None else env
    platform = platform or sys.platform
    if not platform.startswith("linux"):
        return None
    requested = env.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0].strip()
    if requested in SELF_CONTAINED:
        return None
    if requested.startswith("wayland") or (not requested and env.get("WAYLAND_DISPLAY")):
        return None  # Qt uses its Wayland plugin (and falls back to X11 by itself)
    if not env.get("DISPLAY"):
        return ("There is no display to open the window on (DISPLAY is not set: a remote shell or a server?).\n"
                "Run `nerfie gui` on the desktop, use the headless commands (`nerfie run my_selfie.mp4`), "
                "or start a virtual display (xvfb-run nerfie gui).")
    plugin = plugin or xcb_plugin()
    if plugin is None:
        return None
    missing = missing_libraries((ldd or _ldd)(plugin))
    if not missing:
        return None
    return ("The window cannot open: Qt's X11 plugin needs system libraries this computer does not have:\n"
            f"  {', '.join(missing)}\nInstall them with your package manager, then run the same command again:\n"
            f"{install_advice(missing)}")
