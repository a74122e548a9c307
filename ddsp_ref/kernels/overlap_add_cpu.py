"""Overlap-add and framing as numba CPU kernels (parallel over rows and blocks of time).

Imported by the launcher on first use only (it imports numba). Both kernels are gathers: every
output sample is written by exactly one loop iteration, so the parallel loops are race-free.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

__all__ = ["overlap_add", "frame"]

# Output samples per parallel task: large enough to amortise scheduling, small enough that a
# single long row still splits over the cores.
_BLOCK = 16384


@numba.njit(parallel=True, cache=True, nogil=True)
def _overlap_add_kernel(frames, hop, out):  # pragma: no cover - compiled
    rows, n_frames, frame_size = frames.shape
    length = out.shape[1]
    n_segments = (length + hop - 1) // hop  # hop-sized output segments
    n_pieces = (frame_size + hop - 1) // hop  # hop-sized pieces of a frame
    per_task = max(1, _BLOCK // hop)
    n_tasks = (n_segments + per_task - 1) // per_task
    for task in numba.prange(rows * n_tasks):
        r = task // n_tasks
        first = (task % n_tasks) * per_task
        for k in range(first, min(n_segments, first + per_task)):
            base = k * hop
            width = min(hop, length - base)
            seg = out[r, base : base + width]
            seg[:] = 0
            # Segment k holds piece j of frame k - j, for every j with a valid frame index.
            for j in range(max(0, k - n_frames + 1), min(n_pieces - 1, k) + 1):
                offset = j * hop
                w = min(width, frame_size - offset)
                src = frames[r, k - j, offset : offset + w]
                for s in range(w):
                    seg[s] += src[s]


@numba.njit(parallel=True, cache=True, nogil=True)
def _frame_kernel(x, hop, pad_value, out):  # pragma: no cover - compiled
    rows, length = x.shape
    _, n_frames, frame_size = out.shape
    for task in numba.prange(rows * n_frames):
        r = task // n_frames
        f = task % n_frames
        start = f * hop
        w = max(0, min(frame_size, length - start))
        for i in range(w):
            out[r, f, i] = x[r, start + i]
        for i in range(w, frame_size):
            out[r, f, i] = pad_value


def overlap_add(frames: np.ndarray, hop_size: int) -> np.ndarray:
    """``[rows, F, L]`` C-contiguous float array (F >= 1) -> ``[rows, (F-1)*hop + L]``."""
    rows, n_frames, frame_size = frames.shape
    out = np.empty((rows, (n_frames - 1) * hop_size + frame_size), dtype=frames.dtype)
    _overlap_add_kernel(frames, hop_size, out)
    return out


def frame(
    x: np.ndarray, frame_size: int, hop_size: int, n_frames: int, pad_value: Any = 0.0
) -> np.ndarray:
    """``[rows, T]`` C-contiguous float array -> ``[rows, n_frames, frame_size]``."""
    out = np.empty((x.shape[0], n_frames, frame_size), dtype=x.dtype)
    _frame_kernel(x, hop_size, x.dtype.type(pad_value), out)
    return out
