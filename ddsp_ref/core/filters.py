"""Convolution and FIR filter design of ddsp.core: fft_convolve, frequency / sinc filters."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autodiff import ops, stop_gradient
from ..backend import array_namespace
from ..numerics import hann_window, next_power_of_2
from ..validation import check_rank, nonnegative_int, one_of, positive_int, positive_number
from .utils import to_float

__all__ = [
    "get_fft_size",
    "crop_and_compensate_delay",
    "fft_convolve",
    "apply_window_to_impulse_response",
    "frequency_impulse_response",
    "sinc",
    "sinc_impulse_response",
    "frequency_filter",
    "sinc_filter",
]

# How a convolution output is cropped: 'same' keeps the audio length, 'valid' the full
# convolution (not the framing paddings of the spectral ops, which share the word).
_CONVOLUTION_CROPS = ("same", "valid")


# -- helpers --------------------------------------------------------------------------------------
def _next_5_smooth(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n (what scipy.fftpack.next_fast_len returns)."""
    best = next_power_of_2(n)
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            # Smallest power of two that lifts p35 to at least n.
            p2 = p35 << max(-(-n // p35) - 1, 0).bit_length()
            best = min(best, p2)
            p35 *= 3
        p5 *= 5
    return best


def _tf_hamming(xp: Any, length: int, dtype: Any) -> Any:
    """``tf.signal.hamming_window(length)``: ``0.54 - 0.46 cos(2 pi n / d)`` with TF's
    denominator convention (see ``numerics.hann_window``), written as ``0.08 + 0.92 hann``
    in float64, then cast. Length 1 gives ``[1.0]``."""
    if length == 1:
        return xp.ones(1, dtype=dtype)
    return (0.08 + 0.92 * hann_window(xp, length, xp.float64)).astype(dtype)


def _window_size(window_size: Any, where: str) -> int:
    """An integer window size (ddsp: ``<= 0`` means the whole IR); text, NaN and fractions
    raise."""
    number = isinstance(window_size, (int, float, np.integer, np.floating))
    if not number or isinstance(window_size, bool) or not float(window_size).is_integer():
        raise ValueError(f"{where}: window_size must be an integer, got {window_size!r}")
    return int(window_size)


def _fftshift_last(x: Any) -> Any:
    """np.fft.fftshift on the last axis (roll by n // 2), differentiable."""
    n = x.shape[-1]
    split = n - n // 2
    return ops.concatenate([x[..., split:], x[..., :split]], axis=-1)


def _check_padding(padding: Any, where: str = "fft_convolve") -> None:
    one_of(padding, _CONVOLUTION_CROPS, "padding", where)


# -- convolution ----------------------------------------------------------------------------------
def get_fft_size(frame_size: int, ir_size: int, power_of_2: bool = True) -> int:
    """FFT size for a linear convolution of a frame with an impulse response.

    Args:
        frame_size: samples per audio frame.
        ir_size: taps of the impulse response.
        power_of_2: round ``frame_size + ir_size - 1`` up to a power of 2; otherwise up to the
            next 5-smooth number (2^a 3^b 5^c, like ddsp's scipy ``next_fast_len``).

    Returns:
        The FFT size (int).
    """
    frame_size = positive_int(frame_size, "frame_size", "get_fft_size")
    ir_size = positive_int(ir_size, "ir_size", "get_fft_size")
    convolved_frame_size = ir_size + frame_size - 1
    if power_of_2:
        return next_power_of_2(convolved_frame_size)
    return _next_5_smooth(convolved_frame_size)


def crop_and_compensate_delay(
    audio: Any, audio_size: int, ir_size: int, padding: str, delay_compensation: int
) -> Any:
    """Crop a convolution output to the target length, trimming the filter's group delay.

    Quirks kept from ddsp 3.7.0 (gotchas 5 and 6 of DDSP_REFERENCE.md):

    - The automatic start, ``(ir_size - 1) // 2 - 1`` (``delay_compensation < 0``), is exact
      only for IRs from ``frequency_impulse_response`` with ``window_size`` smaller than the
      raw IR; unwindowed (``window_size`` 0) frequency IRs come out 2 samples late and sinc
      IRs 1 sample late.
    - The result is ``audio[:, start:-end]`` with ``end = total - target - start``, a Python
      slice: if ``end == 0`` (``[start:-0]``) or ``end < 0`` the result is EMPTY instead of
      ``target`` samples long. This happens with ``'valid'`` and automatic compensation
      whenever the FFT padding is shorter than ``start + 1``, and with ``'valid'`` and
      ``delay_compensation=0`` when ``total`` equals ``audio_size + ir_size - 1`` exactly.

    Args:
        audio: convolution output [batch, n_total].
        audio_size: samples of the audio before convolution.
        ir_size: taps of the impulse response.
        padding: 'same' (target ``audio_size``) or 'valid' (``audio_size + ir_size - 1``).
        delay_compensation: samples to drop at the start; < 0 for the automatic value above.

    Returns:
        Cropped audio [batch, n_target] (see the quirks for when it is shorter).

    Raises:
        ValueError: if ``padding`` is neither 'valid' nor 'same'.
    """
    _check_padding(padding)
    crop_size = audio_size + ir_size - 1 if padding == "valid" else audio_size
    total_size = int(audio.shape[-1])
    start = (ir_size - 1) // 2 - 1 if delay_compensation < 0 else int(delay_compensation)
    end = total_size - crop_size - start
    return ops.getitem(audio, (slice(None), slice(start, -end)))


def _fft_convolve_shapes(audio: Any, impulse_response: Any) -> tuple[int, int, int, int]:
    """Validate shapes; return (batch, audio_size, n_ir_frames, frame_size)."""
    if len(audio.shape) != 2:
        raise ValueError(f"audio must be [batch, n_samples], got shape {tuple(audio.shape)}")
    if len(impulse_response.shape) not in (2, 3):
        raise ValueError(
            "impulse_response must be [batch, ir_size] or [batch, n_frames, ir_size], got "
            f"shape {tuple(impulse_response.shape)}"
        )
    batch_size, audio_size = audio.shape
    batch_size_ir = impulse_response.shape[0]
    if batch_size_ir != batch_size and not (batch_size_ir == 1 and batch_size > 1):
        raise ValueError(
            f"Batch size of audio ({batch_size}) and impulse response ({batch_size_ir}) must "
            "be the same."
        )
    n_ir_frames = impulse_response.shape[1] if len(impulse_response.shape) == 3 else 1
    if n_ir_frames < 1 or audio_size < 1:
        raise ValueError(
            f"need at least one sample and one IR frame, got audio shape {tuple(audio.shape)} "
            f"and impulse_response shape {tuple(impulse_response.shape)}"
        )
    frame_size = -(-audio_size // n_ir_frames)
    n_audio_frames = -(-audio_size // frame_size)
    if n_audio_frames != n_ir_frames:
        raise ValueError(
            f"Number of audio frames ({n_audio_frames}) and impulse response frames "
            f"({n_ir_frames}) do not match: audio_size {audio_size} is cut into frames of "
            f"ceil({audio_size} / {n_ir_frames}) = {frame_size} samples. The number of impulse "
            "response frames must split the audio evenly."
        )
    return batch_size, audio_size, n_ir_frames, frame_size


def fft_convolve(
    audio: Any, impulse_response: Any, padding: str = "same", delay_compensation: int = -1
) -> Any:
    """Time-varying FIR filtering by block-wise FFT convolution (ddsp.core.fft_convolve).

    The audio is cut into ``n_frames`` non-overlapping blocks of ``ceil(n_samples /
    n_frames)`` samples (zero-padded at the end), each block is convolved exactly (FFT of
    the next power of 2 >= block + taps - 1) with its own IR, and the tails are
    overlap-added; no window, so the IR switches abruptly at block boundaries. The output
    is then cropped by :func:`crop_and_compensate_delay` (see its quirks: the automatic
    delay compensation is exact only for windowed frequency-sampling IRs, and ``'valid'``
    with it can return an empty array).

    Long audio (not in ddsp; same numbers up to float rounding): with a single IR of L taps,
    audio whose one FFT would exceed twice the block FFT ``B`` (the power of 2 >= 4 L, at
    least 2^16) is convolved by overlap-add over blocks of ``B - L + 1`` samples instead of
    one giant FFT (ddsp's 131072-point FFT for 4 s + a 3 s reverb is kept; blocks start at
    about 30 s of 16 kHz audio). On plain arrays (no gradient being recorded) the blocks are
    processed a few at a time, so the memory beyond input and output stays bounded; with
    gradients the whole signal is transformed at once (the tape keeps the spectra anyway).

    Args:
        audio: input audio [batch, n_samples].
        impulse_response: FIR taps [batch, ir_size] (one filter) or
            [batch, n_frames, ir_size] (time-varying). A batch of 1 is used for every
            audio example.
        padding: 'same' (output [batch, n_samples]) or 'valid'
            ([batch, n_samples + ir_size - 1]).
        delay_compensation: samples to drop at the start; < 0 for ``(ir_size - 1) // 2 - 1``.

    Returns:
        Filtered audio [batch, n_samples] ('same') or [batch, n_samples + ir_size - 1].

    Raises:
        ValueError: on a batch mismatch, an unknown ``padding``, or ``n_frames`` that does not
            split ``n_samples`` into ``n_frames`` equal blocks (e.g. more frames than samples).
    """
    audio = to_float(audio, "audio", "fft_convolve")
    impulse_response = to_float(impulse_response, "impulse_response", "fft_convolve")
    _check_padding(padding)
    _, _, n_frames, _ = _fft_convolve_shapes(audio, impulse_response)
    if len(impulse_response.shape) == 2:
        impulse_response = ops.expand_dims(impulse_response, 1)
    ir_size = impulse_response.shape[-1]

    def ir_of(lo: int, hi: int) -> Any:
        return impulse_response if n_frames == 1 else impulse_response[:, lo:hi]

    traced = _is_traced(audio, impulse_response)
    return _convolve_and_crop(audio, ir_of, n_frames, ir_size, padding, delay_compensation, traced)


# -- block convolution for long audio -------------------------------------------------------------
# Frames x FFT size x batch processed at once on plain arrays (4 M elements: 16 MB float32,
# 32 MB complex64 per intermediate): the bound on the working memory of long inputs.
_CHUNK_ELEMENTS = 1 << 22
# Smallest block FFT of the long single-IR path (shorter blocks waste time on the IR tail).
_MIN_LONG_BLOCK_FFT = 1 << 16


def _is_traced(*xs: Any) -> bool:
    """True if any input is an autodiff Tensor (a gradient is being recorded)."""
    return any(x is not stop_gradient(x) for x in xs)


def _long_block_fft(ir_size: int) -> int:
    """Block FFT size for one IR on long audio: a power of 2 >= 4 * ir_size (blocks carry
    3/4 new samples), at least 2^16."""
    return max(get_fft_size(3 * ir_size + 1, ir_size), _MIN_LONG_BLOCK_FFT)


def _convolve_and_crop(audio, ir_of, n_frames, ir_size, padding, delay_compensation, traced):
    """fft_convolve from a function ``ir_of(lo, hi)`` giving IR frames lo..hi-1 (all if one)."""
    audio_size = audio.shape[-1]
    frame_size = -(-audio_size // n_frames)
    fft_size = get_fft_size(frame_size, ir_size, power_of_2=True)
    crop_size = audio_size + ir_size - 1 if padding == "valid" else audio_size
    start = (ir_size - 1) // 2 - 1 if delay_compensation < 0 else int(delay_compensation)
    block_fft = _long_block_fft(ir_size)
    # ddsp's slice quirks (start < 0 or end <= 0) depend on its FFT size: keep its path there.
    end = fft_size - crop_size - start
    if n_frames == 1 and fft_size > 2 * block_fft and start >= 0 and end > 0:
        hop = block_fft - ir_size + 1
        n_blocks = -(-audio_size // hop)
        ir_fft = ops.rfft(ir_of(0, 1), n=block_fft, axis=-1)
        out = _overlap_add_convolve(audio, lambda lo, hi: ir_fft, n_blocks, hop, block_fft, traced)
        # The single FFT's output is the linear convolution followed by zeros.
        piece = out[:, start : start + crop_size]
        missing = crop_size - piece.shape[-1]
        return ops.pad(piece, [(0, 0), (0, missing)]) if missing > 0 else piece

    def ir_fft_of(lo: int, hi: int) -> Any:
        return ops.rfft(ir_of(lo, hi), n=fft_size, axis=-1)

    out = _overlap_add_convolve(audio, ir_fft_of, n_frames, frame_size, fft_size, traced)
    return crop_and_compensate_delay(out, audio_size, ir_size, padding, delay_compensation)


def _overlap_add_convolve(audio, ir_fft_of, n_frames, frame_size, fft_size, traced):
    """Blocks of ``frame_size`` samples times IR spectra ``ir_fft_of(lo, hi)`` [b, F|1, bins],
    overlap-added: [batch, (n_frames - 1) * frame_size + fft_size]."""

    def blocks(lo: int, hi: int, segment: Any) -> Any:
        frames = ops.frame(segment, frame_size, frame_size, pad_end=True)
        spectrum = ops.rfft(frames, n=fft_size, axis=-1) * ir_fft_of(lo, hi)
        return ops.overlap_add(ops.irfft(spectrum, n=fft_size, axis=-1), frame_size)

    batch = audio.shape[0]
    per_chunk = max(1, _CHUNK_ELEMENTS // (batch * fft_size))
    if traced or per_chunk >= n_frames:
        return blocks(0, n_frames, audio)
    # Plain arrays: a few blocks at a time, each tail added into the output in place.
    out = None
    for lo in range(0, n_frames, per_chunk):
        hi = min(lo + per_chunk, n_frames)
        piece = blocks(lo, hi, audio[:, lo * frame_size : hi * frame_size])
        if out is None:
            xp = array_namespace(piece)
            total = (n_frames - 1) * frame_size + fft_size
            out = xp.zeros((batch, total), dtype=piece.dtype)
        out[:, lo * frame_size : lo * frame_size + piece.shape[-1]] += piece
    return out


# -- filter design --------------------------------------------------------------------------------
def apply_window_to_impulse_response(
    impulse_response: Any, window_size: int = 0, causal: bool = False
) -> Any:
    """Window a zero-phase IR with a Hann window and put it in causal form.

    ``window_size <= 0`` or ``> ir_size`` means ``ir_size``. TensorFlow's "periodic" Hann
    window is symmetric for odd sizes (see ``_tf_raised_cosine``).

    - ``window_size == ir_size``: the window is fftshifted onto the zero-phase IR and the
      product fftshifted again: ``ir_size`` taps, zero-phase sample at index ``ir_size // 2``.
      For odd sizes the two fftshifts leave the window one sample off centre (output tap
      ``i`` is weighted by ``w[(i + 1) % ir_size]``), as in ddsp.
    - ``window_size < ir_size``: the IR is trimmed around sample 0 with ``h = (window_size +
      1) // 2``: ``window_size`` taps for odd sizes, ``window_size - 1`` for even sizes, the
      zero-phase sample at index ``h - 2`` and the last one or two taps always zero (ddsp's
      index arithmetic, kept for parity). The window is centred on ``w[h]``, one sample
      after the peak of an odd symmetric window. ``window_size`` 1 or 2 gives 2 taps.

    Args:
        impulse_response: IRs [..., ir_size], zero-phase form (sample 0 = time 0), or causal
            form (peak in the middle) if ``causal``. Real: ddsp silently keeps the real part of
            a complex IR; here that is a TypeError (take ``.real`` explicitly if you mean it).
        window_size: Hann window length in samples.
        causal: the input is in causal form (it is fftshifted to zero-phase first).

    Returns:
        Windowed causal IRs [..., n_taps] as described above.
    """
    where = "apply_window_to_impulse_response"
    impulse_response = to_float(impulse_response, "impulse_response", where)
    if len(impulse_response.shape) < 1 or impulse_response.shape[-1] < 1:
        raise ValueError(
            f"{where}: impulse_response must have shape [..., ir_size >= 1], got "
            f"{tuple(impulse_response.shape)}"
        )
    xp = array_namespace(impulse_response)
    if causal:
        impulse_response = _fftshift_last(impulse_response)

    ir_size = int(impulse_response.shape[-1])
    window_size = _window_size(window_size, "apply_window_to_impulse_response")
    if window_size <= 0 or window_size > ir_size:
        window_size = ir_size
    window = hann_window(xp, window_size, impulse_response.dtype)

    padding = ir_size - window_size
    if padding > 0:
        half_idx = (window_size + 1) // 2
        zeros = xp.zeros(padding, dtype=window.dtype)
        window = xp.concatenate([window[half_idx:], zeros, window[:half_idx]])
    else:
        window = xp.roll(window, window_size // 2)  # fftshift

    impulse_response = impulse_response * window
    if padding > 0:
        first_half_start = (ir_size - (half_idx - 1)) + 1
        second_half_end = half_idx + 1
        return ops.concatenate(
            [impulse_response[..., first_half_start:], impulse_response[..., :second_half_end]],
            axis=-1,
        )
    return _fftshift_last(impulse_response)


def frequency_impulse_response(magnitudes: Any, window_size: int = 0) -> Any:
    """Linear-phase FIR from a magnitude response by the frequency sampling method.

    The zero-phase IR is ``irfft(magnitudes)`` (``2 (n_frequencies - 1)`` taps), then
    :func:`apply_window_to_impulse_response` windows it and makes it causal. Examples:
    65 bins -> 128 taps; 1025 bins with ``window_size=257`` -> 257 taps; 22 -> 21 taps.

    Args:
        magnitudes: linear gains [batch, n_frames, n_frequencies] or [batch,
            n_frequencies], bins equally spaced from 0 Hz to Nyquist.
        window_size: Hann window length; <= 0 (or larger than the IR) for the full IR.

    Returns:
        Causal IRs [batch, n_frames, n_taps] or [batch, n_taps].

    Raises:
        ValueError: if there are fewer than 2 frequency bins.
    """
    where = "frequency_impulse_response"
    magnitudes = to_float(magnitudes, "magnitudes", where)
    check_rank(magnitudes, (2, 3), "magnitudes", where, "[batch(, n_frames), n_frequencies]")
    window_size = _window_size(window_size, where)
    n_frequencies = magnitudes.shape[-1]
    if n_frequencies < 2:
        raise ValueError(
            f"magnitudes needs at least 2 frequency bins, got shape {tuple(magnitudes.shape)}"
        )
    # Real spectrum = zero imaginary part: irfft treats real input that way.
    impulse_response = ops.irfft(magnitudes, n=2 * (n_frequencies - 1), axis=-1)
    return apply_window_to_impulse_response(impulse_response, window_size)


def sinc(x: Any, threshold: float = 1e-20) -> Any:
    """Normalised sinc ``sin(pi x) / (pi x)``; entries with ``|x| < threshold`` use
    ``threshold`` instead (so sinc(0) is 1 without a 0/0)."""
    x = to_float(x, "x", "sinc")
    threshold = positive_number(threshold, "threshold", "sinc")
    raw = stop_gradient(x)
    x = ops.where(abs(raw) < threshold, threshold, x)
    x = math.pi * x
    return ops.sin(x) / x


def sinc_impulse_response(
    cutoff_frequency: Any,
    window_size: int = 512,
    sample_rate: float | None = None,
    high_pass: bool = False,
) -> Any:
    """Windowed-sinc low-pass (or high-pass) FIRs, one per cutoff.

    ``n_taps = 2 (window_size // 2) + 1`` (always odd). The IR is ``sinc(cutoff * n)`` for
    ``n = -half .. half`` times TensorFlow's "periodic" Hamming window, which for this odd
    length is the symmetric window ``0.54 - 0.46 cos(2 pi k / (n_taps - 1))`` (same taps as
    ``scipy.signal.firwin(n_taps, cutoff)``), divided by ``|sum|`` for unit DC gain. The
    high-pass is a unit impulse at the centre minus the low-pass. Used through
    :func:`fft_convolve`, the output is 1 sample late (centre ``half``, crop ``half - 1``).

    Unlike ddsp 3.7.0, which multiplies a NumPy ``cutoff_frequency`` by ``2 / sample_rate``
    in place (ddsp bug 22), the input is never modified.

    Args:
        cutoff_frequency: cutoffs [batch, n_time, 1] in Hz if ``sample_rate`` is given, else
            normalised to Nyquist (0..1).
        window_size: Hamming window length in samples (rounded up to odd).
        sample_rate: sample rate in Hz, or None for normalised cutoffs.
        high_pass: return high-pass filters instead of low-pass.

    Returns:
        IRs [batch, n_time, n_taps].
    """
    where = "sinc_impulse_response"
    cutoff_frequency = to_float(cutoff_frequency, "cutoff_frequency", where)
    window_size = nonnegative_int(window_size, "window_size", where)
    if sample_rate is not None:
        sample_rate = positive_number(sample_rate, "sample_rate", where)
        cutoff_frequency = cutoff_frequency * (2.0 / sample_rate)
    xp = array_namespace(cutoff_frequency)
    dtype = stop_gradient(cutoff_frequency).dtype

    half_size = window_size // 2
    full_size = half_size * 2 + 1
    idx = xp.arange(-half_size, half_size + 1, dtype=dtype).reshape(1, 1, full_size)
    impulse_response = sinc(cutoff_frequency * idx)

    window = _tf_hamming(xp, full_size, dtype)
    impulse_response = impulse_response * window
    impulse_response = impulse_response / ops.abs(ops.sum(impulse_response, axis=-1, keepdims=True))
    if high_pass:
        pass_through = xp.zeros(full_size, dtype=dtype)
        pass_through[half_size] = 1.0
        impulse_response = pass_through - impulse_response
    return impulse_response


def frequency_filter(
    audio: Any, magnitudes: Any, window_size: int = 0, padding: str = "same"
) -> Any:
    """Filter audio with (time-varying) frequency-sampling FIRs.

    ``fft_convolve(audio, frequency_impulse_response(magnitudes, window_size), padding)``
    with automatic delay compensation: exact for ``0 < window_size < 2 (n_frequencies -
    1)``, 2 samples late for ``window_size`` 0 or >= the raw IR length (ddsp quirk). On plain
    arrays the FIRs are designed and applied a chunk of frames at a time, so long audio
    (e.g. 10 minutes at 48 kHz) filters in bounded memory.

    Args:
        audio: input audio [batch, n_samples].
        magnitudes: linear gains [batch, n_frames, n_frequencies] or [batch,
            n_frequencies], 0 Hz to Nyquist.
        window_size: Hann window length of the IR; <= 0 for the full IR.
        padding: 'same' or 'valid' (see :func:`fft_convolve`).

    Returns:
        Filtered audio [batch, n_samples] ('same') or [batch, n_samples + n_taps - 1].
    """
    audio = to_float(audio, "audio", "frequency_filter")
    magnitudes = to_float(magnitudes, "magnitudes", "frequency_filter")
    check_rank(magnitudes, (2, 3), "magnitudes", "frequency_filter", "[batch(, n_frames), n_freq]")
    _check_filter_batch(audio, magnitudes, "magnitudes", "frequency_filter")
    traced = _is_traced(audio, magnitudes)
    if traced or len(magnitudes.shape) != 3:
        impulse_response = frequency_impulse_response(magnitudes, window_size=window_size)
        return fft_convolve(audio, impulse_response, padding=padding)
    # Plain arrays: design the FIRs of a chunk of frames at a time (bounded memory).
    _check_padding(padding)
    _fft_convolve_shapes(audio, magnitudes)
    ir_size = frequency_impulse_response(magnitudes[:1, :1], window_size=window_size).shape[-1]

    def ir_of(lo: int, hi: int) -> Any:
        return frequency_impulse_response(magnitudes[:, lo:hi], window_size=window_size)

    return _convolve_and_crop(audio, ir_of, magnitudes.shape[1], ir_size, padding, -1, traced)


def sinc_filter(
    audio: Any,
    cutoff_frequency: Any,
    window_size: int = 512,
    sample_rate: float | None = None,
    padding: str = "same",
    high_pass: bool = False,
) -> Any:
    """Filter audio with (time-varying) windowed-sinc low- or high-pass FIRs.

    ``fft_convolve(audio, sinc_impulse_response(...), padding)`` with automatic delay
    compensation, which leaves the output 1 sample late (ddsp quirk).

    Args:
        audio: input audio [batch, n_samples].
        cutoff_frequency: cutoffs [batch, n_frames, 1], Hz if ``sample_rate`` is given else
            normalised to Nyquist (0..1).
        window_size: Hamming window length in samples (rounded up to odd).
        sample_rate: sample rate in Hz, or None.
        padding: 'same' or 'valid' (see :func:`fft_convolve`).
        high_pass: high-pass instead of low-pass.

    Returns:
        Filtered audio [batch, n_samples] ('same') or [batch, n_samples + n_taps - 1].
    """
    audio = to_float(audio, "audio", "sinc_filter")
    cutoff_frequency = to_float(cutoff_frequency, "cutoff_frequency", "sinc_filter")
    _check_filter_batch(audio, cutoff_frequency, "cutoff_frequency", "sinc_filter")
    impulse_response = sinc_impulse_response(
        cutoff_frequency, window_size=window_size, sample_rate=sample_rate, high_pass=high_pass
    )
    return fft_convolve(audio, impulse_response, padding=padding)


def _check_filter_batch(audio: Any, controls: Any, name: str, where: str) -> None:
    """The filter controls' batch is the audio's (or 1): checked before the FIRs are built,
    so the error names the argument the caller passed."""
    if len(audio.shape) and len(controls.shape) and controls.shape[0] not in (1, audio.shape[0]):
        raise ValueError(
            f"{where}: {name} has batch size {controls.shape[0]}, audio has {audio.shape[0]}"
        )
