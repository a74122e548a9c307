"""The adjoint pair frame / overlap_add (tf.signal.frame and tf.signal.overlap_and_add)."""

from __future__ import annotations

from ...kernels import overlap_add as _kernels
from ...kernels.overlap_add import n_frames_of  # noqa: F401  (re-exported)
from ..shape_ops import moveaxis
from ..tape import Primitive


def frame_array(xp, x, frame_size: int, hop_size: int, pad_end: bool = False, pad_value=0.0):
    """Frames of the last axis: ``[..., T] -> [..., n_frames, frame_size]`` (a copy).

    Runs the framing kernel of ``ddsp_ref.kernels.overlap_add`` (numba on large numpy
    arrays, CUDA on cupy, the pure-array reference otherwise).
    """
    return _kernels.frame(xp.asarray(x), frame_size, hop_size, pad_end, pad_value)


def overlap_add_array(xp, frames, hop_size: int):
    """Sum of frames placed every ``hop_size`` samples: ``[..., F, L] -> [..., (F-1)*hop + L]``.

    Runs the overlap-add kernel of ``ddsp_ref.kernels.overlap_add`` (a gather: each output
    sample sums the frames covering it).
    """
    return _kernels.overlap_add(xp.asarray(frames), hop_size)


def _frame_fwd(xp, x, frame_size, hop_size, pad_end=False, pad_value=0.0):
    x = xp.asarray(x)
    return frame_array(xp, x, frame_size, hop_size, pad_end, pad_value), x.shape[-1]


def _frame_vjp(xp, length, g, frame_size, hop_size, pad_end=False, pad_value=0.0):
    full = overlap_add_array(xp, g, hop_size)
    if full.shape[-1] >= length:
        return (full[..., :length],)
    width = [(0, 0)] * (full.ndim - 1) + [(0, length - full.shape[-1])]
    return (xp.pad(full, width),)  # samples never covered by a frame get no gradient


_frame = Primitive("frame", _frame_fwd, _frame_vjp)


def _check_sizes(frame_size: int, hop_size: int) -> None:
    if int(frame_size) != frame_size or frame_size < 1:
        raise ValueError(f"frame_size must be a positive integer, got {frame_size}")
    if int(hop_size) != hop_size or hop_size < 1:
        raise ValueError(f"hop_size must be a positive integer, got {hop_size}")


def frame(
    x, frame_size: int, hop_size: int, pad_end: bool = False, pad_value: float = 0.0, axis: int = -1
):
    """Split ``axis`` into overlapping frames (tf.signal.frame).

    Args:
        x: signal ``[..., n_samples]`` (time on ``axis``).
        frame_size: samples per frame.
        hop_size: samples between frame starts.
        pad_end: pad the end with ``pad_value`` so that ceil(n_samples / hop_size) frames fit.

    Returns:
        ``[..., n_frames, frame_size]`` with the frame axes in place of ``axis``.
    """

    _check_sizes(frame_size, hop_size)
    last = axis in (-1, len(x.shape) - 1)
    y = x if last else moveaxis(x, axis, -1)
    out = _frame(
        y, frame_size=int(frame_size), hop_size=int(hop_size), pad_end=pad_end, pad_value=pad_value
    )
    if last:
        return out
    axis = axis % len(x.shape)
    return moveaxis(moveaxis(out, -2, axis), -1, axis + 1)


def _ola_fwd(xp, frames, hop_size):
    frames = xp.asarray(frames)
    return overlap_add_array(xp, frames, hop_size), frames.shape[-1]


def _ola_vjp(xp, frame_size, g, hop_size):
    return (frame_array(xp, g, frame_size, hop_size),)


_overlap_add = Primitive("overlap_add", _ola_fwd, _ola_vjp)


def overlap_add(frames, hop_size: int):
    """Overlap-add ``[..., n_frames, frame_size] -> [..., (n_frames - 1) * hop + frame_size]``."""
    _check_sizes(frames.shape[-1] or 1, hop_size)
    return _overlap_add(frames, hop_size=int(hop_size))


__all__ = ["frame", "overlap_add", "frame_array", "overlap_add_array", "n_frames_of"]
