"""Kernel selection switches shared by every launcher (read from the environment per call).

``DDSP_REF_KERNELS``:

- unset or empty: compiled kernels (numba CPU for numpy, numba CUDA for cupy);
- ``reference``: every launcher runs its pure-array reference instead (debugging, differential
  tests);
- ``composed``: the library does not call the fused kernels at all and computes with its
  composed autodiff ops, as before the kernels existed (benchmarks compare the two paths).
"""

from __future__ import annotations

import os

__all__ = ["use_reference", "use_fused"]


def use_reference() -> bool:
    """True when ``DDSP_REF_KERNELS=reference``: every launcher runs its pure-array reference
    (for debugging and differential tests) instead of a compiled kernel."""
    return os.environ.get("DDSP_REF_KERNELS", "") == "reference"


def use_fused() -> bool:
    """False when ``DDSP_REF_KERNELS=composed``: callers skip the fused kernels."""
    return os.environ.get("DDSP_REF_KERNELS", "") != "composed"
