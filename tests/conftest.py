"""Shared pytest fixtures: array backends (numpy always, cupy when it imports) and hypothesis."""

from __future__ import annotations

import os

# Without an NVIDIA GPU, numba's CUDA kernels run in numba's simulator (tiny sizes only). This
# must be decided before numba is first imported, hence here.
if not os.path.exists("/dev/nvidia0"):
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

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
