"""Matrix products whose shape the BLAS handles badly, computed the way it handles well.

The weight cotangent of a dense or recurrent layer, ``a.T @ g`` with ``a`` ``[rows, k]`` and
``g`` ``[rows, n]`` over many rows (``rows`` = batch * frames = 8000), runs 2-3x slower through
multi-threaded OpenBLAS than a forward product of the same size on 2 cores unless the output
has at least twice as many rows as columns. Measured (ms, 2 loaded cores): k = n = 512: 403 as
one call, 216 in column blocks of 256, forward product 172; k = 256, n = 768 (tiny GRU's dU):
349 as one call, 151 in blocks of 128, forward 102. Larger shapes lose nothing. Plain arrays
only (no autodiff).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["transposed_product"]

MIN_BLOCK = 64


def transposed_product(a: Any, g: Any) -> Any:
    """``a.T @ g`` for 2-D ``a`` ``[rows, k]`` and ``g`` ``[rows, n]``: ``[k, n]``.

    numpy arrays go through BLAS one block of at most ``max(k // 2, 64)`` output columns at a
    time (same values up to summation order; see the module docstring); other arrays (cupy)
    are one product.
    """
    n = g.shape[1]
    block = max(a.shape[1] // 2, MIN_BLOCK)
    if not isinstance(a, np.ndarray) or not isinstance(g, np.ndarray) or n <= block:
        return a.T @ g
    out = np.empty((a.shape[1], n), np.result_type(a, g))
    for j in range(0, n, block):
        np.matmul(a.T, g[:, j : j + block], out=out[:, j : j + block])
    return out
