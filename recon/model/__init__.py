"""The Nerfie: hash-grid template radiance field, SE(3) deformation field, latent codes, sampling."""
