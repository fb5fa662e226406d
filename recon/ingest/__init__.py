"""Video or photos in → selected, upright, sharp frames (with a downscale pyramid) and subject masks."""
