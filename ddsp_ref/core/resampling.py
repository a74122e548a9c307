"""Resampling of frame-rate controls: TF1 legacy image resize, windowed upsampling, centre crop."""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

from ..autodiff import ops
from ..backend import array_namespace
from .utils import to_float

__all__ = ["resample", "upsample_with_windows", "center_crop"]

_METHODS = ("nearest", "linear", "cubic", "window")
# Keys cubic convolution parameter of TF's *legacy* bicubic resize (not the -0.5 of Keys 1981).
_CUBIC_A = -0.75
# TF tabulates the cubic kernel at fractions i / 1024, i = 0 .. 1024.
_CUBIC_TABLE_SIZE = 1024


def _check_n_timesteps(n_timesteps: Any, where: str) -> int:
    if int(n_timesteps) != n_timesteps or n_timesteps < 1:
        raise ValueError(f"{where}: n_timesteps must be a positive integer, got {n_timesteps!r}")
    return int(n_timesteps)


def _legacy_positions(xp: ModuleType, n_in: int, n_out: int, align_corners: bool) -> Any:
    """Source positions ``i * scale`` of TF1's legacy (no half-pixel) resize, in float32.

    TF computes the scale and the positions in float32 whatever the image dtype; doing the same
    keeps every floor / round decision identical to ddsp.
    """
    f32 = xp.float32
    if align_corners and n_out > 1:
        scale = f32(n_in - 1) / f32(n_out - 1)
    else:
        scale = f32(n_in) / f32(n_out)
    return xp.arange(n_out, dtype=f32) * f32(scale)


def _weight_shape(ndim: int, n_out: int) -> tuple:
    """Shape that broadcasts a per-output-step weight along the time axis (axis 1, or 0 in 1-D)."""
    return (n_out,) if ndim == 1 else (1, n_out) + (1,) * (ndim - 2)


def _resize_nearest(x: Any, n_out: int, align_corners: bool) -> Any:
    xp = array_namespace(x)
    axis = 0 if len(x.shape) == 1 else 1
    n_in = x.shape[axis]
    pos = _legacy_positions(xp, n_in, n_out, align_corners)
    floor = xp.floor(pos)
    if align_corners:  # roundf: halves go away from zero (not numpy's half-to-even)
        floor = floor + (pos - floor >= 0.5)
    index = xp.minimum(floor.astype(xp.int64), n_in - 1)
    return ops.take(x, index, axis=axis)


def linear_taps(xp: ModuleType, n_in: int, n_out: int, align_corners: bool) -> tuple:
    """Neighbour indices ``lo``, ``hi`` [n_out] and float32 fractions of TF1's legacy bilinear.

    ``y[i] = x[lo[i]] + (x[hi[i]] - x[lo[i]]) * lerp[i]`` (also used by wavetable_synthesis to
    interpolate wavetables without materialising them at audio rate).
    """
    pos = _legacy_positions(xp, n_in, n_out, align_corners)
    floor = xp.floor(pos)
    lo = xp.maximum(floor, 0).astype(xp.int64)
    hi = xp.minimum(xp.ceil(pos), n_in - 1).astype(xp.int64)
    return lo, hi, pos - floor


def _resize_linear(x: Any, n_out: int, align_corners: bool) -> Any:
    xp = array_namespace(x)
    ndim = len(x.shape)
    axis = 0 if ndim == 1 else 1
    lo, hi, lerp = linear_taps(xp, x.shape[axis], n_out, align_corners)
    lerp = lerp.astype(x.dtype).reshape(_weight_shape(ndim, n_out))
    x_lo = ops.take(x, lo, axis=axis)
    x_hi = ops.take(x, hi, axis=axis)
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


def _resize_cubic(x: Any, n_out: int, align_corners: bool) -> Any:
    xp = array_namespace(x)
    ndim = len(x.shape)
    axis = 0 if ndim == 1 else 1
    n_in = x.shape[axis]
    pos = _legacy_positions(xp, n_in, n_out, align_corners)
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
        weight = weight.astype(x.dtype).reshape(_weight_shape(ndim, n_out))
        out = out + ops.take(x, index, axis=axis) * weight
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
    inputs = to_float(inputs)
    ndim = len(inputs.shape)
    if ndim not in (1, 2, 3, 4):
        raise ValueError(
            f"resample: inputs must be 1-D to 4-D ([batch, n_frames, ...]), got shape "
            f"{tuple(inputs.shape)}"
        )
    if method not in _METHODS:
        raise ValueError(
            f"resample: method ({method!r}) is invalid. Must be one of {list(_METHODS)}."
        )
    n_timesteps = _check_n_timesteps(n_timesteps, "resample")
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
    resize = {"nearest": _resize_nearest, "linear": _resize_linear, "cubic": _resize_cubic}[method]
    return resize(inputs, n_timesteps, align_corners=not add_endpoint)


def _periodic_hann(xp: ModuleType, length: int, dtype: Any) -> Any:
    """``0.5 - 0.5 cos(2 pi n / length)`` (TF's hann_window, periodic=True)."""
    n = xp.arange(length, dtype=xp.float64)
    return (0.5 - 0.5 * xp.cos(2.0 * math.pi * n / length)).astype(dtype)


def upsample_with_windows(inputs: Any, n_timesteps: int, add_endpoint: bool = True) -> Any:
    """Upsample frames by overlap-adding Hann windows centred on them (raised-cosine crossfade).

    Each frame value multiplies a periodic Hann window of ``2 * hop`` samples; windows are
    overlap-added every ``hop`` samples (constant overlap-add, so the gains sum to 1) and
    ``hop`` samples are trimmed from both ends. Output step ``k * hop`` equals frame k exactly,
    and between frames the output is a raised-cosine crossfade. With ``add_endpoint`` the last
    frame is repeated first (so it is held for the last hop), mimicking ``resample``.

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
    inputs = to_float(inputs)
    if len(inputs.shape) != 3:
        raise ValueError(
            "upsample_with_windows: inputs must be 3-D [batch, n_frames, n_channels], got "
            f"shape {tuple(inputs.shape)}"
        )
    n_timesteps = _check_n_timesteps(n_timesteps, "upsample_with_windows")
    if add_endpoint:
        inputs = ops.concatenate([inputs, inputs[:, -1:, :]], axis=1)
    n_frames = inputs.shape[1]
    n_intervals = n_frames - 1
    if n_frames >= n_timesteps:
        raise ValueError(
            "upsample_with_windows cannot be used for downsampling: more input frames "
            f"({n_frames}) than output timesteps ({n_timesteps})"
        )
    if n_intervals == 0 or n_timesteps % n_intervals != 0:
        minus_one = "" if add_endpoint else " - 1"
        raise ValueError(
            "upsample_with_windows: the number of timesteps must be divisible by the number of "
            f"input frames{minus_one} (timesteps: {n_timesteps}, frames: {n_frames}, "
            f"add_endpoint: {add_endpoint})"
        )
    hop = n_timesteps // n_intervals
    xp = array_namespace(inputs)
    window = _periodic_hann(xp, 2 * hop, inputs.dtype)
    x = ops.transpose(inputs, (0, 2, 1))  # [batch, n_channels, n_frames]
    frames = ops.expand_dims(x, -1) * window  # [batch, n_channels, n_frames, 2 * hop]
    audio = ops.overlap_add(frames, hop)  # [batch, n_channels, (n_frames + 1) * hop]
    # Trim the rise of the first window and the fall of the last one.
    audio = audio[:, :, hop:-hop]
    return ops.transpose(audio, (0, 2, 1))


def center_crop(audio: Any, frame_size: int) -> Any:
    """Drop ``frame_size // 2`` samples at both ends (undoes centred padding).

    As in ddsp the crop is ``audio[:, pad:-pad]``, so ``frame_size < 2`` (pad 0) returns an
    empty signal.

    Args:
        audio: ``[batch, n_samples]``.
        frame_size: the frame size the signal was centre-padded for.

    Returns:
        ``[batch, n_samples - 2 * (frame_size // 2)]``.
    """
    pad_amount = int(frame_size // 2)
    return audio[:, pad_amount:-pad_amount]
