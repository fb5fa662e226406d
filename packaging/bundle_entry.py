"""Entry point of the standalone bundle: the ``nerfie`` command line; with no arguments, the app."""

from __future__ import annotations

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    if len(sys.argv) == 1:
        from nerfie.app.gui import main as gui_main

        raise SystemExit(gui_main([]))
    from nerfie.app.cli import main

    raise SystemExit(main())
