"""Rendering and export: trained scene → cameras, camera paths, images, video.

Depends on ``nerfie.recon`` only; never on ``nerfie.app``.
"""
