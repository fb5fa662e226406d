"""Multiresolution hash-grid encoding behind one interface, with interchangeable backends:
``torch`` (reference, CPU and GPU), ``native`` (a compiled C kernel for the CPU), ``triton`` (fused CUDA
kernels) and ``tcnn`` (tiny-cuda-nn)."""

from nerfie.recon.hashgrid.encoding import BACKENDS, HashGridEncoding, choose_auto_backend, window_weights
from nerfie.recon.hashgrid.geometry import GridGeometry
from nerfie.recon.hashgrid.naive import naive_encode
from nerfie.recon.hashgrid.reference import reference_encode

__all__ = [
    "BACKENDS", "GridGeometry", "HashGridEncoding", "choose_auto_backend", "naive_encode", "reference_encode",
    "window_weights",
]
