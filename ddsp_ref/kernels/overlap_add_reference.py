"""Overlap-add and framing in pure array code (numpy or cupy): the executable spec and fallback.

Both functions work on the canonical layouts of the launcher (``overlap_add.py``): frames
``[rows, n_frames, frame_size]`` and signals ``[rows, n_samples]``.
"""

from __future__ import annotations

from typing import Any

from ..backend import array_namespace, as_strided

__all__ = ["overlap_add", "frame"]


def overlap_add(frames: Any, hop_size: int) -> Any:
    """Sum of frames placed every ``hop_size`` samples: ``[rows, F, L] -> [rows, (F-1)*hop + L]``.

    Loops over the ``ceil(L / hop)`` hop-sized pieces of a frame (not over frames); each step
    adds piece ``j`` of every frame at once. Output sample ``t`` therefore sums its frames in
    the order piece 0, 1, ... (latest frame first), the order the compiled kernels follow.
    Needs ``F >= 1``.
    """
    xp = array_namespace(frames)
    rows, n_frames, frame_size = frames.shape
    length = (n_frames - 1) * hop_size + frame_size
    n_pieces = -(-frame_size // hop_size)
    out = xp.zeros((rows, (n_frames + n_pieces - 1) * hop_size), dtype=frames.dtype)
    for j in range(n_pieces):
        piece = frames[:, :, j * hop_size : (j + 1) * hop_size]
        width = piece.shape[-1]
        if width < hop_size:  # the last, partial piece of each frame
            piece = xp.pad(piece, [(0, 0), (0, 0), (0, hop_size - width)])
        start = j * hop_size
        out[:, start : start + n_frames * hop_size] += piece.reshape(rows, n_frames * hop_size)
    return out[:, :length]


def frame(x: Any, frame_size: int, hop_size: int, n_frames: int, pad_value: Any = 0.0) -> Any:
    """Frames ``out[r, f, i] = x[r, f * hop + i]``: ``[rows, T] -> [rows, n_frames, frame_size]``.

    Samples past the end of ``x`` read as ``pad_value``. Returns a new contiguous array.
    """
    xp = array_namespace(x)
    rows, length = x.shape
    needed = (n_frames - 1) * hop_size + frame_size if n_frames else 0
    if needed > length:
        x = xp.pad(x, [(0, 0), (0, needed - length)], constant_values=pad_value)
    x = xp.ascontiguousarray(x)
    step = x.strides[-1]
    view = as_strided(xp, x, (rows, n_frames, frame_size), (x.strides[0], hop_size * step, step))
    return xp.array(view, copy=True)
