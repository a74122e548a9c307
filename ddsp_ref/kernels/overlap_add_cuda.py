"""Overlap-add and framing as numba CUDA kernels, one thread per output sample.

Imported by the launcher on first use only (it imports numba.cuda). The kernels take cupy
arrays (or numpy arrays under numba's CUDA simulator, ``NUMBA_ENABLE_CUDASIM=1``). Both are
gathers, so no atomics: a thread sums the ``<= ceil(L / hop)`` frames that cover its sample.
"""

from __future__ import annotations

from typing import Any

from numba import cuda

from ..backend import array_namespace
from .cuda_launch import launch

__all__ = ["overlap_add", "frame"]

_THREADS = 256


@cuda.jit
def _overlap_add_kernel(frames, hop, out):  # pragma: no cover - compiled
    i = cuda.grid(1)
    rows, n_frames, frame_size = frames.shape
    length = out.shape[1]
    if i >= rows * length:
        return
    r = i // length
    t = i - r * length
    f_hi = min(t // hop, n_frames - 1)  # latest frame starting at or before t
    f_lo = 0 if t < frame_size else (t - frame_size) // hop + 1  # earliest still covering t
    if f_lo > f_hi:  # a gap between frames (hop > frame_size)
        out[r, t] = 0
        return
    # Latest frame first: the summation order of the reference and CPU kernels.
    acc = frames[r, f_hi, t - f_hi * hop]
    for f in range(f_hi - 1, f_lo - 1, -1):
        acc += frames[r, f, t - f * hop]
    out[r, t] = acc


@cuda.jit
def _frame_kernel(x, hop, pad_value, out):  # pragma: no cover - compiled
    i = cuda.grid(1)
    rows, n_frames, frame_size = out.shape
    if i >= rows * n_frames * frame_size:
        return
    per_row = n_frames * frame_size
    r = i // per_row
    rest = i - r * per_row
    f = rest // frame_size
    k = rest - f * frame_size
    t = f * hop + k
    if t < x.shape[1]:
        out[r, f, k] = x[r, t]
    else:
        out[r, f, k] = pad_value


def overlap_add(frames: Any, hop_size: int) -> Any:
    """``[rows, F, L]`` C-contiguous float array (F >= 1) -> ``[rows, (F-1)*hop + L]``."""
    xp = array_namespace(frames)
    rows, n_frames, frame_size = frames.shape
    out = xp.empty((rows, (n_frames - 1) * hop_size + frame_size), dtype=frames.dtype)
    if out.size:
        launch(_overlap_add_kernel, out.size, xp, frames, hop_size, out, threads=_THREADS)
    return out


def frame(x: Any, frame_size: int, hop_size: int, n_frames: int, pad_value: Any = 0.0) -> Any:
    """``[rows, T]`` C-contiguous float array -> ``[rows, n_frames, frame_size]``."""
    xp = array_namespace(x)
    out = xp.empty((x.shape[0], n_frames, frame_size), dtype=x.dtype)
    if out.size:
        launch(
            _frame_kernel, out.size, xp, x, hop_size, x.dtype.type(pad_value), out, threads=_THREADS
        )
    return out
