"""Fused kernels (oscillator bank, overlap-add): pure-array references, numba CPU and CUDA.

Filled by the performance-core issue; nothing here is imported by ``import ddsp_ref``.
"""
