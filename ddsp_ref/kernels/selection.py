"""Kernel selection switches shared by every launcher (read from the environment per call)."""

from __future__ import annotations

import os

__all__ = ["use_reference"]


def use_reference() -> bool:
    """True when ``DDSP_REF_KERNELS=reference``: every launcher runs its pure-array reference
    (for debugging and differential tests) instead of a compiled kernel."""
    return os.environ.get("DDSP_REF_KERNELS", "") == "reference"
