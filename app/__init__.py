"""Nerfie's front ends: the ``nerfie`` command line and the Qt desktop app.

No maths lives here: both front ends drive the same engine in ``nerfie.render`` and ``nerfie.recon``.
Qt is imported lazily so the CLI works on machines without a display.
"""
