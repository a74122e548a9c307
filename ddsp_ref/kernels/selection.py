"""Kernel selection shared by every launcher: the ``DDSP_REF_KERNELS`` switch and one rule.

``DDSP_REF_KERNELS`` (read from the environment on every call):

- unset or empty: compiled kernels (numba CPU for numpy, numba CUDA for cupy);
- ``reference``: every launcher runs its pure-array reference instead (debugging, differential
  tests);
- ``composed``: the library does not call the fused kernels at all and computes with its
  composed autodiff ops, as before the kernels existed (benchmarks compare the two paths).

Any other value is an error: a typo must not silently select the default.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Iterable
from types import ModuleType
from typing import Any

import numpy as np

__all__ = [
    "KERNEL_DTYPES",
    "KERNEL_MODES",
    "kernel_mode",
    "use_reference",
    "use_fused",
    "compiled_module",
    "select",
]

# The dtypes the compiled kernels take; other dtypes run the reference.
KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
KERNEL_MODES = ("", "reference", "composed")


def kernel_mode() -> str:
    """The value of ``DDSP_REF_KERNELS`` ('' when unset), checked against :data:`KERNEL_MODES`."""
    mode = os.environ.get("DDSP_REF_KERNELS", "")
    if mode not in KERNEL_MODES:
        raise ValueError(
            f"DDSP_REF_KERNELS={mode!r} is not understood: leave it unset (compiled kernels) or "
            "set it to 'reference' or 'composed'"
        )
    return mode


def use_reference() -> bool:
    """True when ``DDSP_REF_KERNELS=reference``: launchers run their pure-array references."""
    return kernel_mode() == "reference"


def use_fused() -> bool:
    """False when ``DDSP_REF_KERNELS=composed``: callers skip the fused ops altogether."""
    return kernel_mode() != "composed"


@functools.cache
def compiled_module(family: str, device: str) -> ModuleType | None:
    """``ddsp_ref.kernels.<family>_cpu`` (device 'cpu') or ``<family>_cuda``, imported on first
    use (this is where numba loads), or None where numba or its CUDA part is missing."""
    suffix = "cpu" if device == "cpu" else "cuda"
    try:
        return importlib.import_module(f"ddsp_ref.kernels.{family}_{suffix}")
    except ImportError:
        return None


def _reference_module(family: str) -> ModuleType:
    return importlib.import_module(f"ddsp_ref.kernels.{family}_reference")


def select(
    family: str,
    xp: ModuleType,
    dtypes: Iterable[Any],
    *,
    cpu_pays: bool = True,
    implementation: str | None = None,
) -> ModuleType:
    """The module that runs a kernel family for arrays of namespace ``xp`` and ``dtypes``.

    The rule, the same for every family: an explicit ``implementation`` ('reference', 'cpu' or
    'cuda'; tests and benchmarks) wins; otherwise ``DDSP_REF_KERNELS=reference`` or a dtype
    outside :data:`KERNEL_DTYPES` gives the reference; cupy arrays get the CUDA kernels; numpy
    arrays the numba CPU kernels where ``cpu_pays`` (the launcher's measured size threshold);
    the reference wherever numba (or its CUDA part) is missing.

    Raises:
        ValueError: for an unknown ``implementation`` or ``DDSP_REF_KERNELS`` value.
        ImportError: when an explicitly requested compiled implementation cannot load.
    """
    if implementation is not None:
        if implementation not in ("reference", "cpu", "cuda"):
            raise ValueError(
                f"implementation must be None, 'reference', 'cpu' or 'cuda', got {implementation!r}"
            )
        if implementation == "reference":
            return _reference_module(family)
        module = compiled_module(family, implementation)
        if module is None:
            raise ImportError(f"the {implementation} {family} kernels need numba")
        return module
    if use_reference() or any(np.dtype(d) not in KERNEL_DTYPES for d in dtypes):
        return _reference_module(family)
    if xp is np:
        module = compiled_module(family, "cpu") if cpu_pays else None
    else:
        module = compiled_module(family, "cuda")
    return _reference_module(family) if module is None else module
