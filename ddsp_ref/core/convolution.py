"""Convolution of ddsp.core: fft_convolve (frame-wise time-varying FIRs), its FFT size and crop.

Long single-IR convolutions run in fixed-size blocks (bounded memory); plain arrays convolve a
chunk of frames at a time. The FIR design that feeds it lives in ``filters.py``.
"""

from __future__ import annotations

from typing import Any

from ..autodiff import ops, stop_gradient
from ..backend import array_namespace
from ..numerics import next_power_of_2
from ..validation import one_of, positive_int
from .utils import to_float

__all__ = ["get_fft_size", "crop_and_compensate_delay", "fft_convolve"]

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


def check_crop_mode(padding: Any, where: str = "fft_convolve") -> None:
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
    check_crop_mode(padding)
    crop_size = audio_size + ir_size - 1 if padding == "valid" else audio_size
    total_size = int(audio.shape[-1])
    start = (ir_size - 1) // 2 - 1 if delay_compensation < 0 else int(delay_compensation)
    end = total_size - crop_size - start
    return ops.getitem(audio, (slice(None), slice(start, -end)))


def convolution_shapes(audio: Any, impulse_response: Any) -> tuple[int, int, int, int]:
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
    check_crop_mode(padding)
    _, _, n_frames, _ = convolution_shapes(audio, impulse_response)
    if len(impulse_response.shape) == 2:
        impulse_response = ops.expand_dims(impulse_response, 1)
    ir_size = impulse_response.shape[-1]

    def ir_of(lo: int, hi: int) -> Any:
        return impulse_response if n_frames == 1 else impulse_response[:, lo:hi]

    traced = is_traced(audio, impulse_response)
    return convolve_and_crop(audio, ir_of, n_frames, ir_size, padding, delay_compensation, traced)


# -- block convolution for long audio -------------------------------------------------------------
# Frames x FFT size x batch processed at once on plain arrays (4 M elements: 16 MB float32,
# 32 MB complex64 per intermediate): the bound on the working memory of long inputs.
_CHUNK_ELEMENTS = 1 << 22
# Smallest block FFT of the long single-IR path (shorter blocks waste time on the IR tail).
_MIN_LONG_BLOCK_FFT = 1 << 16


def is_traced(*xs: Any) -> bool:
    """True if any input is an autodiff Tensor (a gradient is being recorded)."""
    return any(x is not stop_gradient(x) for x in xs)


def _long_block_fft(ir_size: int) -> int:
    """Block FFT size for one IR on long audio: a power of 2 >= 4 * ir_size (blocks carry
    3/4 new samples), at least 2^16."""
    return max(get_fft_size(3 * ir_size + 1, ir_size), _MIN_LONG_BLOCK_FFT)


def convolve_and_crop(audio, ir_of, n_frames, ir_size, padding, delay_compensation, traced):
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
