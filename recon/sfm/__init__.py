"""Camera poses with COLMAP (pycolmap, in-process): motion pre-check, retry ladder, sanity checks,
scene normalisation."""
