"""Shared pytest fixtures: array backends (numpy always, cupy when it imports) and hypothesis."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _cupy_or_none():
    try:
        import cupy

        cupy.zeros(1)  # fails without a usable GPU
        return cupy
    except Exception:
        return None


BACKENDS = ["numpy", "cupy"]


@pytest.fixture(params=BACKENDS)
def xp(request):
    """The array module under test: numpy, or cupy (skipped where cupy or a GPU is missing)."""
    if request.param == "numpy":
        return np
    cupy = _cupy_or_none()
    if cupy is None:
        pytest.skip("cupy with a GPU is not available on this machine")
    return cupy
