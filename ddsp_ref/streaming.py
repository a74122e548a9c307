"""Block-by-block rendering of the Harmonic synth for long or live signals.

``HarmonicStream`` feeds frame-wise controls to a :class:`~ddsp_ref.synths.Harmonic` block by
block. Frame ``k`` sits at sample ``k * hop_size`` and the samples between two frames depend on
those two frames only ('linear' or 'window' crossfade), so a block can render every sample up to
its own last frame; that frame and the oscillator phase are carried into the next block, and
``flush()`` holds the final frame for one more hop (what ddsp's ``add_endpoint=True`` does). The
concatenated blocks therefore equal one-shot ``Harmonic`` synthesis of all frames, for any block
sizes, with a latency of one frame.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from . import core
from .autodiff import ops
from .autodiff.fused.oscillators import Taps, harmonic_bank
from .backend import array_namespace
from .numerics import hann_window
from .validation import positive_int

__all__ = ["HarmonicStream"]


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
