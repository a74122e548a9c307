"""Block-by-block rendering of the Harmonic and FilteredNoise synths and the Reverb effect.

``HarmonicStream`` feeds frame-wise controls to a :class:`~ddsp_ref.synths.Harmonic` block by
block. Frame ``k`` sits at sample ``k * hop_size`` and the samples between two frames depend on
those two frames only ('linear' or 'window' crossfade), so a block can render every sample up to
its own last frame; that frame and the oscillator phase are carried into the next block, and
``flush()`` holds the final frame for one more hop (what ddsp's ``add_endpoint=True`` does). The
concatenated blocks therefore equal one-shot ``Harmonic`` synthesis of all frames, for any block
sizes, with a latency of one frame.

``FilteredNoiseStream`` and ``ReverbStream`` do the same for the noise synth (per-frame FIR
overlap-add, its tail carried) and the convolution reverb (FFT overlap-add, the IR's tail
carried); ``ddsp_ref.realtime`` puts them together into a real-time timbre transfer.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from . import core
from .autodiff import ops
from .autodiff.fused.oscillators import Taps, harmonic_bank
from .backend import array_namespace, fft_module
from .core.convolution import get_fft_size
from .numerics import hann_window, next_power_of_2
from .synths import NoiseSource
from .validation import check_rank, positive_int

__all__ = ["HarmonicStream", "FilteredNoiseStream", "ReverbStream"]


class HarmonicStream:
    """Render a Harmonic synth incrementally with the phase carried between blocks.

    Args:
        synth: the Harmonic processor (its scale_fn, Nyquist handling, sample rate and
            amp_resample_method are used; its n_samples is not).
        hop_size: samples per frame.

    Example:
        >>> stream = HarmonicStream(synths.Harmonic(sample_rate=16000), hop_size=64)
        >>> pieces = [stream.process(a, d, f) for a, d, f in blocks] + [stream.flush()]
    """

    def __init__(self, synth: Any, hop_size: int):
        if synth.amp_resample_method not in ("linear", "window"):
            raise ValueError(
                "HarmonicStream supports amp_resample_method 'linear' or 'window' (two-frame "
                f"interpolation), got {synth.amp_resample_method!r}"
            )
        self.synth = synth
        self.hop_size = positive_int(hop_size, "hop_size", "HarmonicStream")
        self.reset()

    def reset(self) -> None:
        """Forget the carried frame and phase (start a new signal)."""
        self._last = None  # (harmonic amplitudes [B,1,H], f0 [B,1,1]) of the last frame
        self._phase = None  # float64 fundamental phase [B] after the last rendered sample

    def process(self, amplitudes: Any, harmonic_distribution: Any, f0_hz: Any) -> Any:
        """Render one block of frames (same controls as ``Harmonic.get_controls``).

        Args:
            amplitudes: ``[batch, n_frames, 1]``; harmonic_distribution:
                ``[batch, n_frames, n_harmonics]``; f0_hz: ``[batch, n_frames, 1]``.

        Returns:
            Audio ``[batch, n_frames * hop_size]`` (``(n_frames - 1) * hop_size`` for the first
            block, whose first frame has no predecessor).
        """
        controls = self.synth.get_controls(amplitudes, harmonic_distribution, f0_hz)
        harm_amps = controls["amplitudes"] * controls["harmonic_distribution"]
        f0 = core.to_float(controls["f0_hz"])
        if self._last is not None:
            harm_amps = ops.concatenate([self._last[0], harm_amps], axis=1)
            f0 = ops.concatenate([self._last[1], f0], axis=1)
        self._last = (harm_amps[:, -1:], f0[:, -1:])
        return self._render(harm_amps, f0)

    def flush(self) -> Any:
        """Hold the last frame for one hop: the final ``hop_size`` samples of the signal."""
        if self._last is None:
            raise ValueError("HarmonicStream.flush: no block has been processed")
        harm_amps = ops.concatenate([self._last[0], self._last[0]], axis=1)
        f0 = ops.concatenate([self._last[1], self._last[1]], axis=1)
        audio = self._render(harm_amps, f0)
        self.reset()
        return audio

    def _render(self, harm_amps: Any, f0: Any) -> Any:
        """Samples from frame 0 up to (not including) the last frame of the given frames: the
        fused harmonic op reads the frame-rate controls through crossfade taps (frame k at
        sample k * hop), silences harmonics at or above Nyquist per sample, and carries the
        float64 phase; no ``[batch, n_samples, n_harmonics]`` array is formed."""
        xp = array_namespace(harm_amps)
        batch, n_frames = harm_amps.shape[0], harm_amps.shape[1]
        dtype = core.to_float(harm_amps).dtype
        if n_frames < 2:
            return xp.zeros((batch, 0), dtype=dtype)
        taps_f = _crossfade_taps(n_frames, self.hop_size, "linear", np.dtype(dtype))
        taps_a = _crossfade_taps(
            n_frames, self.hop_size, self.synth.amp_resample_method, np.dtype(dtype)
        )
        phase = xp.zeros(batch) if self._phase is None else self._phase
        f0_2d = ops.reshape(f0, (batch, n_frames))
        audio, self._phase = harmonic_bank(
            f0_2d, harm_amps, taps_f, taps_a, phase, self.synth.sample_rate, nyquist=True
        )
        return audio


@functools.lru_cache(maxsize=32)
def _crossfade_taps(n_frames: int, hop: int, method: str, dtype: Any) -> Taps:
    """Frame k at sample k * hop, mixed linearly or by the rising half of the periodic Hann
    window (the one-shot 'window' crossfade), weights rounded to the working dtype."""
    if method == "window":
        weights = hann_window(np, 2 * hop, dtype)[:hop]
    else:
        weights = (np.arange(hop, dtype=np.float64) / hop).astype(dtype)
    return Taps.crossfade(n_frames, hop, weights)


class FilteredNoiseStream:
    """Render a FilteredNoise synth incrementally: same noise, same filters, tail carried.

    One-shot ``FilteredNoise`` with ``n_frames`` frames and ``n_samples = n_frames * hop``
    cuts uniform noise into blocks of ``hop`` samples, convolves block k with frame k's FIR
    (``frequency_impulse_response(magnitudes, window_size)``, ``ir_size`` taps), overlap-adds
    and drops the first ``start = (ir_size - 1) // 2 - 1`` samples (ddsp's automatic delay
    compensation). Here each block of frames is convolved the same way, the last ``ir_size -
    1`` overlap-add samples are carried to the next block, and ``flush()`` emits the final
    ``start`` samples, so the concatenated blocks equal the one-shot output.

    The noise: a fresh ``NoiseSource`` seeded with the synth's seed, so with batch 1 the
    stream draws exactly the sample sequence of the synth's first one-shot call (NumPy's
    generators give the same numbers drawn in pieces or at once, float32 and float64); with
    a ``None`` seed it is fresh noise, as one-shot. For batch > 1, pass ``noise`` explicitly
    (the one-shot draws row after row, which a stream cannot reproduce).

    Args:
        synth: the FilteredNoise processor (scale_fn, initial_bias, window_size, seed).
        hop_size: samples per frame.
    """

    def __init__(self, synth: Any, hop_size: int):
        self.synth = synth
        self.hop_size = positive_int(hop_size, "hop_size", "FilteredNoiseStream")
        self.reset()

    def reset(self) -> None:
        """Forget the carried tail and restart the noise sequence from the synth's seed."""
        self._noise = NoiseSource(self.synth.seed)
        self._tail = None  # overlap-add samples [B, ir_size - 1] after the last frame
        self._to_drop = None  # leading samples still to drop (the delay compensation)

    def process(self, magnitudes: Any, noise: Any = None) -> Any:
        """Render one block of frames.

        Args:
            magnitudes: network outputs ``[batch, n_frames, n_bands]`` (as
                ``FilteredNoise.get_controls`` takes them).
            noise: optional uniform noise ``[batch, n_frames * hop_size]``; drawn from the
                stream's source when None.

        Returns:
            Audio ``[batch, n_frames * hop_size - start]`` for the first block, then
            ``[batch, n_frames * hop_size]``.
        """
        mags = self.synth.get_controls(magnitudes)["magnitudes"]
        mags = core.to_float(mags)
        xp = array_namespace(mags)
        batch, n_frames = mags.shape[0], mags.shape[1]
        irs = core.frequency_impulse_response(mags, window_size=self.synth.window_size)
        ir_size = irs.shape[-1]
        start = (ir_size - 1) // 2 - 1
        if start < 0:
            raise ValueError(
                f"FilteredNoiseStream: needs at least 3 frequency bands (an IR of >= 4 taps), "
                f"got {mags.shape[-1]}"
            )
        n = n_frames * self.hop_size
        if noise is None:
            noise = self._noise.uniform(xp, (batch, n), mags.dtype)
        elif tuple(noise.shape) != (batch, n):
            raise ValueError(
                f"FilteredNoiseStream.process: noise must be [{batch}, {n}], got "
                f"{tuple(noise.shape)}"
            )
        out = _frame_convolve(xp.asarray(noise, dtype=mags.dtype), irs, self.hop_size)
        if self._tail is None:
            self._tail = xp.zeros((batch, ir_size - 1), dtype=out.dtype)
            self._to_drop = start
        out[:, : ir_size - 1] += self._tail
        self._tail = out[:, n:].copy()
        done, self._to_drop = out[:, self._to_drop : n], max(0, self._to_drop - n)
        return done

    def flush(self) -> Any:
        """The last ``start`` samples (the carried tail up to the one-shot length)."""
        if self._tail is None:
            raise ValueError("FilteredNoiseStream.flush: no block has been processed")
        start = self._tail.shape[-1] // 2 - 1  # (ir_size - 1) // 2 - 1
        # Positions start .. start + n_total of the overlap-add are the output; those below
        # n_total (or below start, if the signal was shorter) have been emitted.
        audio = self._tail[:, self._to_drop : start]
        self.reset()
        return audio


def _frame_convolve(noise: Any, irs: Any, hop: int) -> Any:
    """Block k (``hop`` samples of ``noise`` [B, F * hop]) convolved with ``irs[:, k]``
    [B, F, taps] and overlap-added: [B, F * hop + taps - 1] (one FFT size for all blocks, the
    power of 2 that fft_convolve uses)."""
    xp = array_namespace(noise)
    batch, n_frames, ir_size = irs.shape
    n_fft = get_fft_size(hop, ir_size, power_of_2=True)
    fft = fft_module(xp)
    frames = noise.reshape(batch, n_frames, hop)
    spectra = fft.rfft(frames, n_fft, axis=-1) * fft.rfft(irs, n_fft, axis=-1)
    pieces = fft.irfft(spectra, n_fft, axis=-1)[..., : hop + ir_size - 1]
    n_hops = -(-(hop + ir_size - 1) // hop)
    pieces = xp.concatenate(
        [pieces, xp.zeros((batch, n_frames, n_hops * hop - pieces.shape[-1]), pieces.dtype)], -1
    ).reshape(batch, n_frames, n_hops, hop)
    out = xp.zeros((batch, n_frames + n_hops - 1, hop), dtype=noise.dtype)
    for j in range(n_hops):  # piece j of every block lands j hops after the block's start
        out[:, j : j + n_frames] += pieces[:, :, j]
    return out.reshape(batch, -1)[:, : n_frames * hop + ir_size - 1]


class ReverbStream:
    """Causal FFT convolution with a long impulse response, block by block (overlap-add).

    Each block ``x`` [batch, n] is convolved in full with the IR (one FFT of the power of 2
    >= n + taps - 1, the IR's spectrum cached per size), the first ``taps - 1`` samples get the
    tail carried from earlier blocks, and the rest becomes the new tail. The concatenated
    blocks equal ``Reverb`` one-shot ('same' padding, no delay compensation, tap 0 masked,
    ``add_dry``) on the concatenated input: a causal filter has no latency.

    Args:
        reverb: a :class:`~ddsp_ref.effects.Reverb` (trainable: its ``ir`` parameter).
        ir: the impulse response ``[ir_size]`` for a non-trainable Reverb.
    """

    def __init__(self, reverb: Any, ir: Any = None):
        if reverb.trainable:
            ir = reverb.parameter("ir")
        elif ir is None:
            raise ValueError("ReverbStream: a non-trainable Reverb needs its `ir` [ir_size]")
        ir = core.to_float(ir, "ir", "ReverbStream")
        check_rank(ir, (1,), "ir", "ReverbStream", "[ir_size]")
        if ir.shape[0] < 2:
            raise ValueError(f"ReverbStream: the IR needs at least 2 taps, got {ir.shape[0]}")
        self.reverb = reverb
        self._ir = reverb._mask_dry_ir(ir)
        self._spectra: dict = {}
        self.reset()

    def reset(self) -> None:
        """Forget the carried tail (start a new signal)."""
        self._tail = None  # [B, ir_size - 1]

    def process(self, audio: Any) -> Any:
        """Reverberate one block ``[batch, n]`` -> ``[batch, n]`` (wet, plus dry if add_dry)."""
        audio = core.to_float(audio, "audio", "ReverbStream")
        check_rank(audio, (2,), "audio", "ReverbStream", "[batch, n_samples]")
        xp = array_namespace(audio)
        batch, n = audio.shape
        taps = self._ir.shape[0]
        if self._tail is None:
            self._tail = xp.zeros((batch, taps - 1), dtype=audio.dtype)
        n_fft = next_power_of_2(n + taps - 1)
        fft = fft_module(xp)
        spectrum = fft.rfft(audio, n_fft, axis=-1) * self._spectrum(xp, n_fft)
        wet = fft.irfft(spectrum, n_fft, axis=-1)[:, : n + taps - 1].astype(audio.dtype)
        wet[:, : taps - 1] += self._tail
        self._tail = wet[:, n:].copy()
        wet = wet[:, :n]
        return wet + audio if self.reverb.add_dry else wet

    def _spectrum(self, xp: Any, n_fft: int) -> Any:
        """The IR's spectrum in the IR's own precision (a float32 parameter stays float32
        with float64 audio), as the one-shot ``fft_convolve`` transforms it."""
        key = (xp.__name__, n_fft)
        if key not in self._spectra:
            self._spectra[key] = fft_module(xp).rfft(xp.asarray(self._ir), n_fft, axis=-1)
        return self._spectra[key]
