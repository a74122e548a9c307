"""Resampling of frame-rate controls: TF1 legacy image resize, windowed upsampling, centre crop.

Every method is a weighted gather along time whose weights depend on the output index only, so
any range of output steps can be computed alone (:func:`resample_range`): long signals are
rendered chunk by chunk without ever holding ``[batch, n_samples, n_channels]`` controls.
:func:`resample_taps` describes 'nearest', 'linear' and 'window' upsampling as the two-tap
tables the fused oscillator kernels read.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

import numpy as np

from ..autodiff import ops
from ..autodiff.fused.oscillators import Taps
from ..backend import array_namespace
from ..numerics import hann_window
from ..validation import check_rank, one_of, positive_int
from .utils import to_float

__all__ = ["resample", "upsample_with_windows", "center_crop"]

_METHODS = ("nearest", "linear", "cubic", "window")
# Keys cubic convolution parameter of TF's *legacy* bicubic resize (not the -0.5 of Keys 1981).
_CUBIC_A = -0.75
# TF tabulates the cubic kernel at fractions i / 1024, i = 0 .. 1024.
_CUBIC_TABLE_SIZE = 1024


def _legacy_positions(
    xp: ModuleType, n_in: int, n_out: int, align_corners: bool, span: tuple | None = None
) -> Any:
    """Source positions ``i * scale`` of TF1's legacy (no half-pixel) resize, in float32, for
    output steps ``i`` in ``span = (start, stop)`` (default: all ``n_out``).

    TF computes the scale and the positions in float32 whatever the image dtype; doing the same
    keeps every floor / round decision identical to ddsp.
    """
    f32 = xp.float32
    if align_corners and n_out > 1:
        scale = f32(n_in - 1) / f32(n_out - 1)
    else:
        scale = f32(n_in) / f32(n_out)
    start, stop = span or (0, n_out)
    return xp.arange(start, stop, dtype=xp.int64).astype(f32) * f32(scale)


def _weight_shape(ndim: int, n_out: int) -> tuple:
    """Shape that broadcasts a per-output-step weight along the time axis (axis 1, or 0 in 1-D)."""
    return (n_out,) if ndim == 1 else (1, n_out) + (1,) * (ndim - 2)


def _frames(x: Any, axis: int, frames: tuple | None) -> tuple[int, int]:
    """``(n_in, first)``: the signal's frame count and the index of ``x``'s first frame
    (``frames = (first, n_in)`` when ``x`` holds a slice of the frames, else all of them)."""
    return (x.shape[axis], 0) if frames is None else (frames[1], frames[0])


def _resize_nearest(x, n_out, align_corners, span=None, frames=None) -> Any:
    xp = array_namespace(x)
    axis = 0 if len(x.shape) == 1 else 1
    n_in, first = _frames(x, axis, frames)
    pos = _legacy_positions(xp, n_in, n_out, align_corners, span)
    floor = xp.floor(pos)
    if align_corners:  # roundf: halves go away from zero (not numpy's half-to-even)
        floor = floor + (pos - floor >= 0.5)
    index = xp.minimum(floor.astype(xp.int64), n_in - 1)
    return ops.take(x, index - first, axis=axis)


def linear_taps(
    xp: ModuleType, n_in: int, n_out: int, align_corners: bool, span: tuple | None = None
) -> tuple:
    """Neighbour indices ``lo``, ``hi`` and float32 fractions of TF1's legacy bilinear, for
    the output steps in ``span`` (default all ``n_out``).

    ``y[i] = x[lo[i]] + (x[hi[i]] - x[lo[i]]) * lerp[i]`` (also used by wavetable_synthesis to
    interpolate wavetables without materialising them at audio rate). ``lo`` is clamped to the
    last frame: beyond 2**24 output steps the float32 positions of the last steps can round up
    past it (TF reads out of bounds there); ``hi`` is the last frame too, so ``y`` holds it.
    """
    pos = _legacy_positions(xp, n_in, n_out, align_corners, span)
    floor = xp.floor(pos)
    lo = xp.clip(floor, 0, n_in - 1).astype(xp.int64)
    hi = xp.minimum(xp.ceil(pos), n_in - 1).astype(xp.int64)
    return lo, hi, pos - floor


def _resize_linear(x, n_out, align_corners, span=None, frames=None) -> Any:
    xp = array_namespace(x)
    ndim = len(x.shape)
    axis = 0 if ndim == 1 else 1
    n_in, first = _frames(x, axis, frames)
    lo, hi, lerp = linear_taps(xp, n_in, n_out, align_corners, span)
    lerp = lerp.astype(x.dtype).reshape(_weight_shape(ndim, lerp.shape[0]))
    x_lo = ops.take(x, lo - first, axis=axis)
    x_hi = ops.take(x, hi - first, axis=axis)
    # TF's order of operations: lo + (hi - lo) * lerp.
    return x_lo + (x_hi - x_lo) * lerp


def _cubic_table(xp: ModuleType) -> tuple[Any, Any]:
    """The two halves of TF's 1025-entry Keys kernel table (a = -0.75), float32.

    ``near[i]`` is the kernel at distance i/1024 (taps 1 and 2), ``far[i]`` at 1 + i/1024
    (taps 0 and 3). Evaluated in float64 and rounded once, as TF's table builder does.
    """
    a = _CUBIC_A
    t = xp.arange(_CUBIC_TABLE_SIZE + 1, dtype=xp.float64) / _CUBIC_TABLE_SIZE
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    s = t + 1.0
    far = ((a * s - 5 * a) * s + 8 * a) * s - 4 * a
    return near.astype(xp.float32), far.astype(xp.float32)


def _resize_cubic(x, n_out, align_corners, span=None, frames=None) -> Any:
    xp = array_namespace(x)
    ndim = len(x.shape)
    axis = 0 if ndim == 1 else 1
    n_in, first = _frames(x, axis, frames)
    pos = _legacy_positions(xp, n_in, n_out, align_corners, span)
    floor = xp.floor(pos)
    # The fraction is quantised to 1/1024 with round-half-to-even (C's lrintf).
    offset = xp.rint((pos - floor) * xp.float32(_CUBIC_TABLE_SIZE)).astype(xp.int64)
    near, far = _cubic_table(xp)
    weights = (far[offset], near[offset], near[_CUBIC_TABLE_SIZE - offset],
               far[_CUBIC_TABLE_SIZE - offset])  # fmt: skip
    base = floor.astype(xp.int64)
    out = 0.0
    for k, weight in enumerate(weights):
        # Edge replication: neighbours are clamped into the signal, weights not renormalised.
        index = xp.clip(base + (k - 1), 0, n_in - 1)
        weight = weight.astype(x.dtype).reshape(_weight_shape(ndim, pos.shape[0]))
        out = out + ops.take(x, index - first, axis=axis) * weight
    return out


def resample(
    inputs: Any, n_timesteps: int, method: str = "linear", add_endpoint: bool = True
) -> Any:
    """Interpolate signals along time (axis 1; axis 0 for 1-D inputs) to ``n_timesteps``.

    'nearest', 'linear' and 'cubic' reproduce ddsp's ``tf.compat.v1.image.resize`` call, i.e.
    TF1's *legacy* resize: ``align_corners = not add_endpoint``, no half-pixel centres, source
    positions ``i * scale`` computed in float32 with ``scale = n_in / n_out`` (or
    ``(n_in - 1) / (n_out - 1)`` with aligned corners). With the default ``add_endpoint=True``
    the last frame is therefore held for the final ``n_out / n_in`` steps, and step
    ``k * n_out / n_in`` equals frame k exactly. 'cubic' is TF's legacy bicubic: Keys kernel
    with a = -0.75 read from a 1025-entry table (fractions rounded to 1/1024), neighbour indices
    clamped to the signal. Downsampling is plain point interpolation (no anti-aliasing), as in
    ddsp. 'window' is :func:`upsample_with_windows` (3-D inputs only). Every method is a
    weighted gather along time, so it is differentiable and uses O(output) memory.

    Args:
        inputs: ``[n_frames]``, ``[batch, n_frames]``, ``[batch, n_frames, n_channels]`` or
            ``[batch, n_frames, n_freq, n_channels]``.
        n_timesteps: number of output time steps.
        method: 'nearest', 'linear', 'cubic' or 'window'.
        add_endpoint: hold the last frame for the last interval (True, ddsp's default) instead
            of stretching the frames so that the last output step lands on the last frame.

    Returns:
        The input resampled to ``n_timesteps`` on its time axis, same rank and dtype policy.

    Raises:
        ValueError: for an unknown method, a rank outside 1..4, a 4-D input with 'window',
            a non-positive ``n_timesteps``, or the cases listed in upsample_with_windows.
    """
    where = "resample"
    inputs = to_float(inputs, "inputs", where)
    check_rank(inputs, (1, 2, 3, 4), "inputs", where, "[n_frames] or [batch, n_frames, ...]")
    method = one_of(method, _METHODS, "method", where)
    n_timesteps = positive_int(n_timesteps, "n_timesteps", where)
    ndim = len(inputs.shape)
    if inputs.shape[0 if ndim == 1 else 1] < 1:
        raise ValueError(f"{where}: inputs have no frames (shape {tuple(inputs.shape)})")
    if method == "window":
        if ndim == 4:
            raise ValueError(
                f"resample: method 'window' supports only 1-D to 3-D inputs, got shape "
                f"{tuple(inputs.shape)}"
            )
        x = inputs if ndim == 3 else ops.reshape(inputs, (-1, inputs.shape[-1], 1))
        out = upsample_with_windows(x, n_timesteps, add_endpoint)
        return (
            out if ndim == 3 else ops.reshape(out, (n_timesteps,) if ndim == 1 else out.shape[:2])
        )
    return resample_range(inputs, n_timesteps, method, add_endpoint)


def resample_range(
    inputs: Any,
    n_timesteps: int,
    method: str,
    add_endpoint: bool = True,
    span: tuple | None = None,
    frames: tuple | None = None,
) -> Any:
    """Output steps ``span = (start, stop)`` of ``resample(inputs, n_timesteps, method)``.

    Internal (inputs trusted: a float array of rank 1-4, 3 for 'window', whose time axis the
    method accepts). The same numbers as slicing the full resample, in memory proportional to
    the span. ``frames = (first, n_frames)``: ``inputs`` hold only frames ``first ..`` of a
    signal of ``n_frames`` frames (at least those the span reads, see :func:`frames_read`).
    """
    align_corners = not add_endpoint
    if method == "window":
        return _resize_window(inputs, n_timesteps, add_endpoint, span, frames)
    resize = {"nearest": _resize_nearest, "linear": _resize_linear, "cubic": _resize_cubic}[method]
    return resize(inputs, n_timesteps, align_corners, span, frames)


def frames_read(n_frames: int, n_timesteps: int, span: tuple) -> tuple[int, int]:
    """A frame range ``[first, stop)`` that contains every frame the output steps ``span`` of
    any method (with ``add_endpoint``) read: positions ``n * n_frames / n_timesteps``, cubic's
    two neighbours on each side, and a frame of margin for TF's float32 rounding."""
    first = span[0] * n_frames // n_timesteps - 3
    stop = (span[1] - 1) * n_frames // n_timesteps + 4
    return max(first, 0), min(stop, n_frames)


def _window_hop(n_frames: int, n_timesteps: int, add_endpoint: bool, where: str) -> int:
    """``hop`` of windowed upsampling, or ddsp's errors."""
    if n_frames < 1:
        raise ValueError(f"{where}: inputs needs at least one frame, got 0")
    n_intervals = n_frames if add_endpoint else n_frames - 1
    if n_intervals + 1 >= n_timesteps:
        raise ValueError(
            f"{where} cannot be used for downsampling: more input frames "
            f"({n_intervals + 1}) than output timesteps ({n_timesteps})"
        )
    if n_intervals == 0 or n_timesteps % n_intervals != 0:
        minus_one = "" if add_endpoint else " - 1"
        raise ValueError(
            f"{where}: the number of timesteps must be divisible by the number of "
            f"input frames{minus_one} (timesteps: {n_timesteps}, frames: {n_intervals + 1}, "
            f"add_endpoint: {add_endpoint})"
        )
    return n_timesteps // n_intervals


def _resize_window(x, n_timesteps, add_endpoint, span, frames=None) -> Any:
    """Raised-cosine crossfade of ``[batch, n_frames, n_channels]`` frames as a two-tap
    gather: step ``n = f * hop + j`` is ``x[f] * w[hop + j] + x[f + 1] * w[j]``, ``w`` the
    periodic Hann window of ``2 * hop`` samples in the working dtype (the same two products
    the overlap-add of windowed frames sums, so the same numbers)."""
    xp = array_namespace(x)
    n_frames, first = _frames(x, 1, frames)
    hop = _window_hop(n_frames, n_timesteps, add_endpoint, "upsample_with_windows")
    window = hann_window(xp, 2 * hop, x.dtype)
    start, stop = span or (0, n_timesteps)
    n = xp.arange(start, stop, dtype=xp.int64)
    lo, j = n // hop, n % hop
    hi = xp.minimum(lo + 1, n_frames - 1)  # add_endpoint: the appended copy of the last frame
    w_lo, w_hi = window[hop + j][None, :, None], window[j][None, :, None]
    return ops.take(x, lo - first, axis=1) * w_lo + ops.take(x, hi - first, axis=1) * w_hi


@functools.lru_cache(maxsize=64)
def resample_taps(
    n_frames: int, n_samples: int, method: str, dtype: Any = np.float32
) -> Taps | None:
    """The two-tap :class:`Taps` of ``resample(x, n_samples, method)`` for the fused kernels.

    Args:
        n_frames: input frames.
        n_samples: output samples.
        method: 'nearest', 'linear' or 'window' (ddsp's ``add_endpoint=True``).
        dtype: working dtype of the resampled array ('window' weights are rounded to it, as
            ``upsample_with_windows`` builds its window in that dtype).

    Returns:
        The taps, or None where the fused kernels do not apply ('cubic' has four taps,
        downsampling skips frames, 'window' needs ``n_samples`` a multiple of ``n_frames``).
    """
    n_frames, n_samples = int(n_frames), int(n_samples)
    if n_frames < 1 or n_samples < n_frames:
        return None
    if method in ("linear", "nearest"):
        taps = Taps.linear(n_frames, n_samples)
        if 2 * n_frames > n_samples or n_frames >= 1 << 22:
            # Near 1:1, TF's float32 positions may skip a frame; the kernels need every frame.
            lo = taps.tables()[0]
            steps = np.diff(lo)
            if lo[-1] != n_frames - 1 or (steps.size and steps.max() > 1):
                return None
        return taps if method == "linear" else Taps.nearest(n_frames, n_samples)
    if method == "window":
        if n_samples % n_frames or n_frames + 1 >= n_samples:
            return None
        window = hann_window(np, 2 * (n_samples // n_frames), np.dtype(dtype))
        return Taps.windowed(n_frames, n_samples, window)
    return None


def upsample_with_windows(inputs: Any, n_timesteps: int, add_endpoint: bool = True) -> Any:
    """Upsample frames by overlap-adding Hann windows centred on them (raised-cosine crossfade).

    Each frame value multiplies a periodic Hann window of ``2 * hop`` samples; windows are
    overlap-added every ``hop`` samples (constant overlap-add, so the gains sum to 1) and
    ``hop`` samples are trimmed from both ends. Output step ``k * hop`` equals frame k exactly,
    and between frames the output is a raised-cosine crossfade. With ``add_endpoint`` the last
    frame is repeated first (so it is held for the last hop), mimicking ``resample``. Computed
    as a two-tap gather (each step reads two frames), in O(output) memory.

    Args:
        inputs: ``[batch, n_frames, n_channels]``.
        n_timesteps: number of output samples; ``hop = n_timesteps // n_intervals`` with
            ``n_intervals = n_frames`` (add_endpoint) or ``n_frames - 1``.
        add_endpoint: repeat the last frame before upsampling.

    Returns:
        ``[batch, n_timesteps, n_channels]``.

    Raises:
        ValueError: for non-3-D inputs, downsampling (no fewer frames than steps), when
            ``n_timesteps`` is not divisible by the number of intervals, or for a single frame
            without endpoint (no interval; ddsp divides by zero there).
    """
    where = "upsample_with_windows"
    inputs = to_float(inputs, "inputs", where)
    check_rank(inputs, 3, "inputs", where, "[batch, n_frames, n_channels]")
    n_timesteps = positive_int(n_timesteps, "n_timesteps", where)
    _window_hop(inputs.shape[1], n_timesteps, bool(add_endpoint), where)
    return _resize_window(inputs, n_timesteps, bool(add_endpoint), None)


def center_crop(audio: Any, frame_size: int) -> Any:
    """Drop ``frame_size // 2`` samples at both ends (undoes centred padding).

    As in ddsp the crop is ``audio[:, pad:-pad]``, so ``frame_size < 2`` (pad 0) returns an
    empty signal.

    Args:
        audio: ``[batch, n_samples]``.
        frame_size: the frame size the signal was centre-padded for (positive integer).

    Returns:
        ``[batch, n_samples - 2 * (frame_size // 2)]``.

    Raises:
        ValueError: for a non-positive ``frame_size``, a crop longer than the signal or audio
            without a time axis.
    """
    where = "center_crop"
    audio = to_float(audio, "audio", where)
    check_rank(audio, (2, 3), "audio", where, "[batch, n_samples(, ...)]")
    pad_amount = positive_int(frame_size, "frame_size", where) // 2
    if 2 * pad_amount > audio.shape[1]:
        raise ValueError(
            f"{where}: frame_size {frame_size} crops {2 * pad_amount} samples from audio of "
            f"{audio.shape[1]}"
        )
    return audio[:, pad_amount:-pad_amount]
