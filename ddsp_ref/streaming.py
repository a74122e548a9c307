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

from typing import Any

from . import core
from .autodiff import ops
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
        self._phase = None  # fundamental phase [B,1,1] after the last rendered sample

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
        """Samples from frame 0 up to (not including) the last frame of the given frames."""
        n_frames = harm_amps.shape[1]
        if n_frames < 2:
            xp = array_namespace(harm_amps)
            return xp.zeros((harm_amps.shape[0], 0), dtype=core.to_float(harm_amps).dtype)
        f0_samples = self._interpolate(f0, "linear")
        amp_samples = self._interpolate(harm_amps, self.synth.amp_resample_method)
        harmonic_freqs = core.get_harmonic_frequencies(f0_samples, harm_amps.shape[-1])
        # Per-sample Nyquist mask, as oscillator_bank applies in one-shot synthesis.
        amp_samples = core.remove_above_nyquist(harmonic_freqs, amp_samples, self.synth.sample_rate)
        audio, self._phase = core.harmonic_oscillator_bank(
            f0_samples, amp_samples, initial_phase=self._phase, sample_rate=self.synth.sample_rate
        )
        return audio

    def _interpolate(self, frames: Any, method: str) -> Any:
        """``[B, F, C]`` -> ``[B, (F - 1) * hop, C]``: frame k at sample k * hop, two-frame mix."""
        xp = array_namespace(frames)
        dtype = core.to_float(frames).dtype
        hop = self.hop_size
        if method == "window":  # the rising half of the periodic Hann window, as one-shot
            position = hann_window(xp, 2 * hop, dtype)[:hop]
        else:
            position = (xp.arange(hop, dtype=xp.float64) / hop).astype(dtype)
        weight = position[None, None, :, None]  # [1, 1, hop, 1]
        left = ops.expand_dims(frames[:, :-1], 2)  # [B, F-1, 1, C]
        right = ops.expand_dims(frames[:, 1:], 2)
        mixed = left * (1.0 - weight) + right * weight  # [B, F-1, hop, C]
        batch, n_pairs = frames.shape[0], frames.shape[1] - 1
        return ops.reshape(mixed, (batch, n_pairs * hop, frames.shape[2]))
