"""Kernel selection switches shared by every launcher (read from the environment per call).

``DDSP_REF_KERNELS``:

- unset or empty: compiled kernels (numba CPU for numpy, numba CUDA for cupy);
- ``reference``: every launcher runs its pure-array reference instead (debugging, differential
  tests);
- ``composed``: the library does not call the fused kernels at all and computes with its
  composed autodiff ops, as before the kernels existed (benchmarks compare the two paths).
"""

from __future__ import annotations

import functools
import importlib
import os
from types import ModuleType

import numpy as np

__all__ = ["use_reference", "use_fused", "compiled_module", "KERNEL_DTYPES"]

# The dtypes the compiled kernels take; other dtypes run the reference.
KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def use_reference() -> bool:
    """True when ``DDSP_REF_KERNELS=reference``: every launcher runs its pure-array reference
    (for debugging and differential tests) instead of a compiled kernel."""
    return os.environ.get("DDSP_REF_KERNELS", "") == "reference"


def use_fused() -> bool:
    """False when ``DDSP_REF_KERNELS=composed``: callers skip the fused kernels."""
    return os.environ.get("DDSP_REF_KERNELS", "") != "composed"


@functools.cache
def compiled_module(family: str, device: str) -> ModuleType | None:
    """``ddsp_ref.kernels.<family>_cpu`` (device 'cpu') or ``<family>_cuda``, imported on first
    use (this is where numba loads), or None where numba or its CUDA part is missing."""
    suffix = "cpu" if device == "cpu" else "cuda"
    try:
        return importlib.import_module(f"ddsp_ref.kernels.{family}_{suffix}")
    except ImportError:
        return None
