"""Scaling functions of ddsp.core: exp_sigmoid and the network-output-to-frequency maps."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autodiff import ops
from ..backend import array_namespace
from ..validation import finite_number, positive_int, positive_number
from .math import soft_limit
from .units import bark_to_hz, hz_to_bark, hz_to_erb, hz_to_mel, mel_to_hz, unit_to_hz
from .utils import real_param, to_float

__all__ = [
    "exp_sigmoid",
    "sym_exp_sigmoid",
    "frequencies_softmax",
    "frequencies_sigmoid",
    "frequencies_critical_bands",
]


def exp_sigmoid(
    x: Any, exponent: float = 10.0, max_value: float = 2.0, threshold: float = 1e-7
) -> Any:
    """Exponentiated sigmoid, ddsp's positivity constraint for amplitudes.

    ``max_value * sigmoid(x) ** ln(exponent) + threshold``. Quirk kept from ddsp: the power is
    the *natural log* of ``exponent`` (ln 10 = 2.3026 by default), not ``exponent`` itself.
    exp_sigmoid(0) = 0.40539923, exp_sigmoid(-inf) = threshold, exp_sigmoid(+inf) =
    max_value + threshold.

    Args:
        x: network outputs [any shape].
        exponent: its natural log is the power of the sigmoid; must be positive.
        max_value: limit at +inf (before ``threshold``).
        threshold: floor added to the output.

    Returns:
        Positive values [same shape as ``x``].

    Raises:
        ValueError: if ``exponent <= 0`` (its logarithm is undefined).
    """
    exponent = positive_number(exponent, "exponent", "exp_sigmoid")
    max_value = real_param(max_value, "max_value", "exp_sigmoid")
    threshold = real_param(threshold, "threshold", "exp_sigmoid")
    x = to_float(x, "x", "exp_sigmoid")
    # sigmoid(x) ** p written as exp(-p * softplus(-x)): the same function, but accurate in
    # float32 for x << 0, where a rounded sigmoid near 0 raised to p loses relative precision.
    return max_value * ops.exp(-math.log(exponent) * ops.softplus(-x)) + threshold


def sym_exp_sigmoid(x: Any, width: float = 8.0) -> Any:
    """Symmetric exp_sigmoid, peaked at x = +-2: ``exp_sigmoid(width * (|x| / 2 - 1))``.

    Args:
        x: network outputs [any shape].
        width: sharpness of the transition.

    Returns:
        Positive values [same shape as ``x``].
    """
    x = to_float(x, "x", "sym_exp_sigmoid")
    width = finite_number(width, "width", "sym_exp_sigmoid")
    return exp_sigmoid(width * (ops.abs(x) / 2.0 - 1.0))


def _add_depth_axis(freqs: Any, depth: int = 1) -> Any:
    """Split the last axis into sinusoids and depth: ``[B, T, N * D] -> [B, T, N, D]``.

    Raises:
        ValueError: if ``freqs`` is not 3-D or its last axis is not a multiple of ``depth``.
    """
    shape = tuple(freqs.shape)
    depth = positive_int(depth, "depth", "frequencies")
    if len(shape) != 3:
        raise ValueError(f"freqs must be [batch, time, n_sinusoids * depth], got shape {shape}")
    if shape[-1] % depth:
        raise ValueError(
            f"the last axis of freqs ({shape[-1]}) must be a multiple of depth ({depth})"
        )
    return ops.reshape(freqs, shape[:2] + (shape[-1] // depth, depth))


def _with_depth(freqs: Any, depth: int, fname: str) -> tuple[Any, int]:
    """3-D input gets a depth axis; 4-D input already has one (its size overrides depth)."""
    ndim = len(freqs.shape)
    if ndim == 3:
        return _add_depth_axis(freqs, depth), depth
    if ndim == 4:
        return freqs, int(freqs.shape[-1])
    raise ValueError(
        f"{fname}: freqs must be [batch, time, n * depth] or [batch, time, n, depth], got "
        f"shape {tuple(freqs.shape)}"
    )


def frequencies_softmax(
    freqs: Any, depth: int = 1, hz_min: float = 20.0, hz_max: float = 8000.0
) -> Any:
    """Frequencies as the expected value of a softmax over ``depth`` log-spaced bins.

    The softmax over the depth axis weights ``linspace(0, 1, depth)``; the expected unit value
    goes through ``unit_to_hz(., hz_min, hz_max)``.

    Args:
        freqs: network outputs [batch, time, n_sinusoids * depth] or
            [batch, time, n_sinusoids, depth] (then depth is the last axis' size).
        depth: number of bins per sinusoid (for 3-D input).
        hz_min: frequency [Hz] of the lowest bin.
        hz_max: frequency [Hz] of the highest bin.

    Returns:
        Frequencies [Hz] [batch, time, n_sinusoids].

    Raises:
        ValueError: for another rank or a last axis not divisible by ``depth``.
    """
    freqs, depth = _with_depth(to_float(freqs, "freqs", "frequencies_softmax"), depth,
                               "frequencies_softmax")  # fmt: skip
    f_probs = ops.exp(freqs - ops.logsumexp(freqs, axis=-1, keepdims=True))
    xp = array_namespace(freqs)
    unit_bins = xp.linspace(0.0, 1.0, depth).astype(freqs.dtype)
    f_unit = ops.matmul(f_probs, unit_bins)  # expected unit value: sum over depth
    return unit_to_hz(f_unit, hz_min=hz_min, hz_max=hz_max)


def frequencies_sigmoid(
    freqs: Any, depth: int = 1, hz_min: float = 0.0, hz_max: float = 8000.0
) -> Any:
    """Frequencies as a sum of ``depth`` sigmoid components over geometrically split ranges.

    With ``scale = (hz_max - hz_min) ** (1 / depth)`` and ``remainder = hz_max - hz_min``,
    component i < depth - 1 spans [0, remainder (1 - 1 / scale)] (then remainder shrinks by
    that maximum) and the last spans [hz_min, remainder]; each maps its sigmoid through
    ``unit_to_hz`` and the components are summed. Quirk kept from ddsp: ``unit_to_hz`` treats
    0 Hz as MIDI 0, so every component has a floor of 8.1758 Hz (depth * 8.18 Hz in total).

    Args:
        freqs: network outputs [batch, time, n_sinusoids * depth] or
            [batch, time, n_sinusoids, depth].
        depth: number of components per sinusoid (for 3-D input).
        hz_min: lower frequency [Hz] of the last component.
        hz_max: upper frequency [Hz] of the whole range.

    Returns:
        Frequencies [Hz] [batch, time, n_sinusoids].

    Raises:
        ValueError: for another rank or a last axis not divisible by ``depth``.
    """
    freqs, depth = _with_depth(to_float(freqs, "freqs", "frequencies_sigmoid"), depth,
                               "frequencies_sigmoid")  # fmt: skip
    f_probs = ops.sigmoid(freqs)
    hz_range = hz_max - hz_min
    scale_factor = hz_range ** (1.0 / depth)
    remainder = hz_range
    total = 0.0
    for i in range(depth):
        component = f_probs[..., i]
        if i == depth - 1:
            total = total + unit_to_hz(component, hz_min=hz_min, hz_max=remainder)
        else:
            max_hz = remainder * (1.0 - 1.0 / scale_factor)
            total = total + unit_to_hz(component, hz_min=0.0, hz_max=max_hz)
            remainder -= max_hz
    return total


def _scale_bounds(hz_min: float, hz_max: float, scale: str) -> tuple[float, float]:
    """Bounds of the frequency range on the Bark or mel scale, in float64 on the host."""
    hz_to_x = hz_to_bark if scale == "bark" else hz_to_mel
    bounds = hz_to_x(np.asarray([hz_min, hz_max], dtype=np.float64))
    return float(bounds[0]), float(bounds[1])


def frequencies_critical_bands(
    freqs: Any,
    depth: int = 1,
    depth_scale: float = 10.0,
    bandwidth_scale: float = 1.0,
    hz_min: float = 20.0,
    hz_max: float = 8000.0,
    scale: str = "bark",
) -> Any:
    """Frequencies that move within one critical band around fixed centres.

    Centres are equally spaced on the Bark (or mel) scale between hz_min and hz_max, one per
    sinusoid; each moves by ``bandwidth_scale * ERB(centre) * sum_d tanh(x_d) depth_scale**-d``
    and the result is ``soft_limit(., hz_min, hz_max)`` (ddsp's soft_limit, offset by hz_min in
    its linear region).

    Args:
        freqs: network outputs [batch, time, n_sinusoids * depth].
        depth: number of tanh components per sinusoid.
        depth_scale: each further component is ``depth_scale`` times weaker.
        bandwidth_scale: multiplier of the ERB bandwidth.
        hz_min: lowest centre frequency [Hz] and lower soft limit.
        hz_max: highest centre frequency [Hz] and upper soft limit.
        scale: 'bark' or 'mel', the scale the centres are equally spaced on.

    Returns:
        Frequencies [Hz] [batch, time, n_sinusoids].

    Raises:
        ValueError: for input that is not 3-D, a last axis not divisible by ``depth``, or an
            unknown ``scale`` (ddsp silently uses mel for any name but 'bark').
    """
    if scale not in ("bark", "mel"):
        raise ValueError(
            f"frequencies_critical_bands: scale must be 'bark' or 'mel', got {scale!r}"
        )
    where = "frequencies_critical_bands"
    depth_scale = positive_number(depth_scale, "depth_scale", where)
    bandwidth_scale = finite_number(bandwidth_scale, "bandwidth_scale", where)
    hz_min = finite_number(hz_min, "hz_min", where)
    hz_max = finite_number(hz_max, "hz_max", where)
    freqs = _add_depth_axis(to_float(freqs, "freqs", where), depth)
    xp = array_namespace(freqs)
    dtype = freqs.dtype
    n_sinusoids = freqs.shape[-2]
    x_min, x_max = _scale_bounds(hz_min, hz_max, scale)
    x_to_hz = bark_to_hz if scale == "bark" else mel_to_hz
    centres = x_to_hz(xp.linspace(x_min, x_max, n_sinusoids, dtype=xp.float64))
    bandwidth = hz_to_erb(centres)
    depth_modifier = xp.power(depth_scale, -xp.arange(depth, dtype=xp.float64))
    modifier = ops.matmul(ops.tanh(freqs), depth_modifier.astype(dtype))  # sum over depth
    bw_modifier = (bandwidth_scale * bandwidth).astype(dtype)
    out = centres.astype(dtype) + modifier * bw_modifier
    return soft_limit(out, hz_min, hz_max)
