"""Entry point of the standalone bundle: the ``nerfie`` command line; with no arguments, the app.

``nerfie-gui.exe`` (Windows) always opens the app, passing its argument (a video or project dropped
on it) along. Finder used to add a ``-psn_…`` argument when it launched an app: it is dropped.
"""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path

if __name__ == "__main__":
    multiprocessing.freeze_support()
    args = [a for a in sys.argv[1:] if not a.startswith("-psn_")]
    if not args or Path(sys.argv[0]).stem == "nerfie-gui":
        from nerfie.app.gui import main as gui_main

        raise SystemExit(gui_main(args))
    from nerfie.app.cli import main

    raise SystemExit(main(args))
