"""Kernel selection switches shared by every launcher, and the numba thread-pool policy."""

from __future__ import annotations

import os

__all__ = ["use_reference"]

# numba's default threading layer on Linux is OpenMP (libgomp), whose idle workers spin on
# the cores for a while after every parallel kernel. Between kernels this library runs
# multi-threaded scipy FFTs, which the spinning workers starve: FilteredNoise at batch 4 took
# 72 ms instead of 18 ms on 2 cores. Passive waiting (sleep when idle) removes that; it must be
# set before libgomp loads (numba's first parallel call), and a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def use_reference() -> bool:
    """True when ``DDSP_REF_KERNELS=reference``: every launcher runs its pure-array reference
    (for debugging and differential tests) instead of a compiled kernel."""
    return os.environ.get("DDSP_REF_KERNELS", "") == "reference"
