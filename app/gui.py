"""``nerfie gui [VIDEO|PROJECT]`` and the ``nerfie-gui`` launcher: start the desktop app."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path


def run_gui(path: str | None = None, overrides: dict[str, object] | None = None) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from nerfie.app.desktop_check import desktop_problem

    if QApplication.instance() is None:
        problem = desktop_problem()
        if problem:  # Qt's own message here is an abort with "could not load the Qt platform plugin"
            print(f"nerfie gui: {problem}", file=sys.stderr)
            return 1

    from nerfie.app.main_window import MainWindow
    from nerfie.recon.device import configure_threads

    configure_threads()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Nerfie")
    app.setOrganizationName("Nerfie")
    app.setStyle("Fusion")
    from PySide6.QtGui import QIcon

    import nerfie.assets

    app.setWindowIcon(QIcon(str(Path(nerfie.assets.__file__).with_name("nerfie.svg"))))
    window = MainWindow(overrides=overrides)
    window.show()
    if path:
        QTimer.singleShot(0, lambda: window.open_path(Path(path).expanduser()))
    return app.exec()


def main(argv: Sequence[str] | None = None) -> int:
    """The ``nerfie-gui`` entry point (a gui_script: no console window on Windows)."""
    args = list(sys.argv[1:] if argv is None else argv)
    return run_gui(args[0] if args else None)


if __name__ == "__main__":
    raise SystemExit(main())
