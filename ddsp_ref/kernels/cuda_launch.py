"""The one launch helper of the numba CUDA kernels: grid size, and cupy's current stream.

Imported by the ``*_cuda.py`` kernel modules (so it imports numba.cuda, on first kernel use
only). Under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) or with numpy arrays the
kernel runs on the default stream; with cupy arrays it queues behind the work cupy has already
put on its current stream, so no synchronisation is needed between cupy ops and our kernels.
"""

from __future__ import annotations

from typing import Any

import numba
from numba import cuda

__all__ = ["launch"]


def launch(kernel: Any, n_threads: int, xp: Any, *args: Any, threads: int = 128) -> None:
    """Run ``kernel[blocks, threads](*args)`` with enough blocks for ``n_threads`` threads
    (one thread per output element); nothing runs for ``n_threads == 0``."""
    if n_threads <= 0:
        return
    blocks = -(-int(n_threads) // threads)
    if numba.config.ENABLE_CUDASIM or xp.__name__ != "cupy":
        kernel[blocks, threads](*args)
        return
    stream = cuda.external_stream(xp.cuda.get_current_stream().ptr)
    kernel[blocks, threads, stream](*args)
