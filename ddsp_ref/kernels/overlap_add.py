"""Launcher of the overlap-add / framing kernels: validate, canonical layout, pick the kernel.

Selection, per call:

- ``DDSP_REF_KERNELS=reference`` in the environment: the pure-array reference, always.
- cupy arrays: the numba CUDA kernels (one thread per output sample).
- numpy float32 / float64 arrays from ``MIN_OVERLAP_ADD_SIZE`` input elements (overlap-add
  with overlapping frames) or ``MIN_FRAME_SIZE`` output elements (framing): the numba CPU
  kernels (parallel gathers). Measured on 2 cores (benchmarks/bench_filters.py): the
  overlap-add kernel is 2-6x faster than the reference from about 1e5 elements, but the
  reference is one plain copy when ``hop_size >= frame_size``; framing is a strided copy that
  numpy already does at memory speed, so the kernel only gains on very large arrays. Below the
  thresholds calls also never pay numba's import (~0.1 s) and thread wake-up (~50 us).
- anything else (other dtypes, numba missing): the reference.

numba is imported on the first call that needs a kernel, never by ``import ddsp_ref``.
"""

from __future__ import annotations

import math
from typing import Any

from ..backend import array_namespace
from .selection import select

__all__ = ["overlap_add", "frame", "n_frames_of", "MIN_OVERLAP_ADD_SIZE", "MIN_FRAME_SIZE"]

# Sizes from which the numba CPU kernels beat the numpy reference (see the module docstring).
MIN_OVERLAP_ADD_SIZE = 1 << 17
MIN_FRAME_SIZE = 1 << 24


def _check_positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def n_frames_of(length: int, frame_size: int, hop_size: int, pad_end: bool) -> int:
    """Frames that tf.signal.frame cuts from ``length`` samples (ceil(length / hop) if
    ``pad_end``, else the frames that fit entirely)."""
    if pad_end:
        return -(-length // hop_size)
    return 0 if length < frame_size else 1 + (length - frame_size) // hop_size


def overlap_add(frames: Any, hop_size: int) -> Any:
    """Sum of frames placed every ``hop_size`` samples (tf.signal.overlap_and_add).

    Args:
        frames: ``[..., n_frames, frame_size]`` numpy or cupy array.
        hop_size: samples between frame starts (may exceed ``frame_size``: gaps are zeros).

    Returns:
        ``[..., (n_frames - 1) * hop_size + frame_size]``, same dtype; with no frames,
        ``max(frame_size - hop_size, 0)`` zeros.

    Raises:
        ValueError: for fewer than 2 dimensions or a non-positive ``hop_size``.
    """
    xp = array_namespace(frames)
    frames = xp.asarray(frames)
    if frames.ndim < 2:
        raise ValueError(
            f"overlap_add: frames must be [..., n_frames, frame_size], got shape {frames.shape}"
        )
    hop_size = _check_positive("hop_size", hop_size)
    *lead, n_frames, frame_size = frames.shape
    if n_frames == 0:
        return xp.zeros(tuple(lead) + (max(frame_size - hop_size, 0),), dtype=frames.dtype)
    rows = math.prod(lead)
    canonical = xp.ascontiguousarray(frames.reshape(rows, n_frames, frame_size))
    pays = frames.size >= MIN_OVERLAP_ADD_SIZE and hop_size < frame_size
    out = select("overlap_add", xp, (frames.dtype,), cpu_pays=pays).overlap_add(canonical, hop_size)
    return out.reshape(tuple(lead) + (out.shape[-1],))


def frame(
    x: Any, frame_size: int, hop_size: int, pad_end: bool = False, pad_value: float = 0.0
) -> Any:
    """Overlapping frames of the last axis (tf.signal.frame), as a new array.

    Args:
        x: ``[..., n_samples]`` numpy or cupy array.
        frame_size: samples per frame.
        hop_size: samples between frame starts.
        pad_end: cut ``ceil(n_samples / hop_size)`` frames, reading ``pad_value`` past the end;
            otherwise only the frames that fit entirely.
        pad_value: value of the samples past the end.

    Returns:
        ``[..., n_frames, frame_size]`` with ``out[..., f, i] = x[..., f * hop_size + i]``.

    Raises:
        ValueError: for a 0-d input or non-positive sizes.
    """
    xp = array_namespace(x)
    x = xp.asarray(x)
    if x.ndim < 1:
        raise ValueError(f"frame: x must have at least one axis, got shape {x.shape}")
    frame_size = _check_positive("frame_size", frame_size)
    hop_size = _check_positive("hop_size", hop_size)
    *lead, length = x.shape
    n_frames = n_frames_of(length, frame_size, hop_size, pad_end)
    rows = math.prod(lead)
    canonical = xp.ascontiguousarray(x.reshape(rows, length))
    pays = rows * n_frames * frame_size >= MIN_FRAME_SIZE
    out = select("overlap_add", xp, (x.dtype,), cpu_pays=pays).frame(
        canonical, frame_size, hop_size, n_frames, pad_value
    )
    return out.reshape(tuple(lead) + (n_frames, frame_size))
