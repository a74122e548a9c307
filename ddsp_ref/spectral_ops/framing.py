"""Framing and padding, the bottom of spectral_ops: padding modes, frame counts, audio checks.

Everything above (spectrograms, energy, pitch) frames audio through the helpers here, so the
padding-mode table, the frame-count arithmetic and the checks of audio arguments are written once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..autodiff import ops, stop_gradient
from ..backend import array_namespace
from ..core.utils import to_float
from ..kernels.selection import use_fused
from ..numerics import hann_window
from ..validation import check_rank, finite_number, one_of, positive_int, positive_number

__all__ = ["get_framed_lengths", "pad"]

# ddsp's padding modes: 'valid' (none), 'same' (end, to ceil(n / hop) frames), 'center' (both).
PADDINGS = ("valid", "same", "center")
_PAD_MODES = ("constant", "reflect", "symmetric")


# -- argument checks shared by every public function of spectral_ops ---------------------------
def check_padding(padding: Any, where: str) -> str:
    return one_of(padding, PADDINGS, "padding", where)


def hop_of(frame_size: int, overlap: Any, where: str) -> int:
    """ddsp's ``int(frame_size * (1 - overlap))`` (truncation), checked to be >= 1."""
    overlap = finite_number(overlap, "overlap", where)
    hop_size = int(frame_size * (1.0 - overlap))
    if overlap < 0 or hop_size < 1:
        raise ValueError(
            f"{where}: overlap must be in [0, 1) and leave a hop of at least one sample, got "
            f"overlap={overlap} with frame_size={frame_size} (hop_size={hop_size})"
        )
    return hop_size


def hop_from_rates(sample_rate: Any, frame_rate: Any, where: str) -> int:
    """ddsp's hop ``sample_rate // frame_rate``, checked to be >= 1."""
    sample_rate = positive_number(sample_rate, "sample_rate", where)
    frame_rate = positive_number(frame_rate, "frame_rate", where)
    hop_size = int(sample_rate // frame_rate)
    if hop_size < 1:
        raise ValueError(
            f"{where}: sample_rate // frame_rate must be at least 1, got sample_rate="
            f"{sample_rate}, frame_rate={frame_rate}"
        )
    return hop_size


def audio_input(audio: Any, where: str, name: str = "audio", squeeze: bool = True) -> Any:
    """``audio`` as a float array [batch, n_samples] or [n_samples] with no NaN.

    ``squeeze``: accept [batch, n_samples, 1] (ddsp squeezes it) and return [batch, n_samples].

    Raises:
        TypeError: complex, string or object input.
        ValueError: another rank, no samples, or NaN (or both +inf and -inf) values.
    """
    audio = to_float(audio, name, where)
    shape = tuple(audio.shape)
    if squeeze and len(shape) == 3 and shape[-1] == 1:
        audio = ops.squeeze(audio, axis=-1)
    layout = "[batch, n_samples], [n_samples]" + (" or [batch, n_samples, 1]" if squeeze else "")
    check_rank(audio, (1, 2), name, where, layout)
    if audio.shape[-1] < 1:
        raise ValueError(f"{where}: {name} has no samples (shape {shape})")
    raw = stop_gradient(audio)
    if bool(array_namespace(raw).isnan(raw.sum())):
        raise ValueError(f"{where}: {name} contains NaN (or both +inf and -inf) values")
    return audio


def check_frames_fit(n_samples: int, frame_size: int, pad_end: bool, where: str) -> None:
    """Reject audio that gives no frame (ddsp returns an empty spectrogram there)."""
    if not pad_end and n_samples < frame_size:
        raise ValueError(
            f"{where}: audio of {n_samples} samples is shorter than one frame of {frame_size} "
            "samples, so there is no frame to analyse"
        )


# -- framing -----------------------------------------------------------------------------------
def get_framed_lengths(
    input_length: int, frame_size: int, hop_size: int, padding: str = "center"
) -> tuple[int, int]:
    """Number of frames and padded length for framing ``input_length`` samples.

    'valid': no padding, ``(L - frame) // hop + 1`` frames. 'center': padded length
    ``L + frame_size``, ``L // hop + 1`` frames. 'same': ``ceil(L / hop)`` frames, padded length
    ``(frames - 1) * hop + frame_size``.

    As in ddsp, 'center' reports ``L + frame_size`` although :func:`pad` adds
    ``2 * (frame_size // 2)`` samples, i.e. one fewer for an odd ``frame_size``; the frame
    count then overstates the frames of the padded signal by one when ``hop`` divides ``L``.

    Returns:
        (n_frames, padded_length) as Python ints.

    Raises:
        ValueError: unknown padding, non-positive sizes, or no frame fits (ddsp returns zero or
            negative counts).
    """
    where = "get_framed_lengths"
    padding = check_padding(padding, where)
    input_length = positive_int(input_length, "input_length", where)
    frame_size = positive_int(frame_size, "frame_size", where)
    hop_size = positive_int(hop_size, "hop_size", where)
    if padding == "same":
        n_frames = -(-input_length // hop_size)
        return n_frames, (n_frames - 1) * hop_size + frame_size
    padded_length = input_length + (frame_size if padding == "center" else 0)
    n_frames = (padded_length - frame_size) // hop_size + 1
    if n_frames < 1:
        raise ValueError(
            f"{where}: input_length={input_length} gives no frame of frame_size={frame_size} "
            f"with hop_size={hop_size} and padding={padding!r}"
        )
    return n_frames, padded_length


def pad(
    x: Any,
    frame_size: int,
    hop_size: int,
    padding: str = "center",
    axis: int = 1,
    mode: str = "CONSTANT",
    constant_values: float = 0,
) -> Any:
    """Pad ``x`` along ``axis`` for framing ('valid': unchanged, 'same': end, 'center': both).

    Args:
        x: signal [batch, n_samples] (or [n_samples], then axis 0 is used), cast to float.
        frame_size: frame length [samples].
        hop_size: hop between frames [samples], at most ``frame_size`` (except for 'valid').
        padding: 'valid', 'same' (to the :func:`get_framed_lengths` padded length) or
            'center' (``frame_size // 2`` on both sides, like librosa).
        axis: time axis.
        mode: tf.pad's 'CONSTANT', 'REFLECT' or 'SYMMETRIC' (case-insensitive).
        constant_values: pad value for 'CONSTANT'.

    Returns:
        The padded signal, differentiable.

    Raises:
        ValueError: unknown padding or mode, non-positive sizes, ``hop_size > frame_size``, an
            axis out of range, or 'REFLECT' wider than the signal allows.
    """
    where = "pad"
    x = to_float(x, "x", where)
    padding = check_padding(padding, where)
    frame_size = positive_int(frame_size, "frame_size", where)
    hop_size = positive_int(hop_size, "hop_size", where)
    numpy_mode = mode.lower() if isinstance(mode, str) else mode
    one_of(numpy_mode, _PAD_MODES, "mode (case-insensitive)", where)
    constant_values = finite_number(constant_values, "constant_values", where)
    if padding == "valid":
        return x
    if hop_size > frame_size:
        raise ValueError(
            f"{where}: frame_size ({frame_size}) must be greater than hop_size ({hop_size})."
        )
    ndim = len(x.shape)
    if ndim == 0:
        raise ValueError(f"{where}: x must have a time axis, got a scalar")
    if ndim > 1 and not -ndim <= int(axis) < ndim:
        raise ValueError(f"{where}: axis {axis} is out of range for x of shape {tuple(x.shape)}")
    axis = 0 if ndim == 1 else int(axis) % ndim
    n_t = int(x.shape[axis])
    if n_t < 1:
        raise ValueError(f"{where}: x has no samples along axis {axis} (shape {tuple(x.shape)})")
    width = [(0, 0)] * ndim
    if padding == "same":
        width[axis] = (0, get_framed_lengths(n_t, frame_size, hop_size, "same")[1] - n_t)
    else:
        width[axis] = (frame_size // 2, frame_size // 2)
    if numpy_mode == "constant":
        return ops.pad(x, width, constant_values=constant_values)
    if numpy_mode == "reflect" and max(width[axis]) >= n_t:
        raise ValueError(
            f"{where}: mode 'REFLECT' pads at most n_samples - 1 = {n_t - 1} samples, "
            f"{max(width[axis])} needed"
        )
    return ops.pad(x, width, mode=numpy_mode)


def frame_signal(audio: Any, frame_size: int, hop_size: int, pad_end: bool) -> Any:
    """Frames ``[..., n_frames, frame_size]`` of ``audio`` ``[..., n_samples]`` (tf.signal.frame).

    The fused framing op by default; with ``DDSP_REF_KERNELS=composed`` a gather of composed
    autodiff ops (zero padding, then one integer-array index), for differential tests.
    """
    if use_fused():
        return ops.frame(audio, frame_size, hop_size, pad_end=pad_end)
    n_samples = int(audio.shape[-1])
    if pad_end:
        n_frames = -(-n_samples // hop_size)
        needed = (n_frames - 1) * hop_size + frame_size
        if needed > n_samples:
            width = [(0, 0)] * (len(audio.shape) - 1) + [(0, needed - n_samples)]
            audio = ops.pad(audio, width)
    else:
        n_frames = (n_samples - frame_size) // hop_size + 1
    return _gather_frames(audio, frame_size, hop_size, n_frames)


def _gather_frames(audio: Any, frame_size: int, hop_size: int, n_frames: int) -> Any:
    index = np.arange(n_frames)[:, None] * hop_size + np.arange(frame_size)[None, :]
    xp = array_namespace(stop_gradient(audio))
    return ops.getitem(audio, (Ellipsis, xp.asarray(index)))


def overlap_add_signal(frames: Any, hop_size: int) -> Any:
    """Overlap-add ``[..., n_frames, frame_size] -> [..., (n_frames - 1) * hop + frame_size]``.

    The fused op by default; with ``DDSP_REF_KERNELS=composed`` composed of slices, pads and
    sums: piece ``j`` (samples ``j*hop .. (j+1)*hop``) of every frame lands at ``j*hop`` plus
    the frame's start, so each sample sums its frames.
    """
    if use_fused():
        return ops.overlap_add(frames, hop_size)
    *lead, n_frames, frame_size = (int(n) for n in frames.shape)
    lead_width = [(0, 0)] * len(lead)
    n_pieces = -(-frame_size // hop_size)
    total = (n_frames + n_pieces - 1) * hop_size
    out = 0.0
    for j in range(n_pieces):
        piece = frames[..., j * hop_size : (j + 1) * hop_size]
        piece = ops.pad(piece, lead_width + [(0, 0), (0, hop_size - int(piece.shape[-1]))])
        flat = ops.reshape(piece, tuple(lead) + (n_frames * hop_size,))
        start = j * hop_size
        out = out + ops.pad(flat, lead_width + [(start, total - start - n_frames * hop_size)])
    return out[..., : (n_frames - 1) * hop_size + frame_size]


# -- constants built on the host, cached per arguments, dtype and device --------------------------
_CONSTANTS: dict = {}


def cached_constant(xp: Any, dtype: Any, builder: Callable, *args: Any) -> Any:
    """``builder(*args)`` (a float64 numpy array) as a read-only ``dtype`` array on ``xp``.

    Windows, mel matrices and weightings are rebuilt only when a setting changes.
    """
    device = None if xp is np else xp.cuda.Device().id
    key = (xp.__name__, device, np.dtype(dtype).str, builder.__qualname__, args)
    value = _CONSTANTS.get(key)
    if value is None:
        host = np.ascontiguousarray(builder(*args), dtype=dtype)
        host.flags.writeable = False
        value = host if xp is np else xp.asarray(host)
        if len(_CONSTANTS) > 512:  # many distinct settings: start over rather than grow forever
            _CONSTANTS.clear()
        _CONSTANTS[key] = value
    return value


def host_hann(length: int) -> np.ndarray:
    """TF's periodic Hann window in float64 on the host (see ``numerics.hann_window``)."""
    return hann_window(np, length, np.float64)
