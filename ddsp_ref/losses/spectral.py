"""Spectral losses of ddsp.losses: SpectralLoss (multi-scale spectrograms) and MelSpectralLoss.

:class:`SpectralLoss` computes its magnitude and log-magnitude terms with one fused op
(``autodiff.fused.spectral_loss``: value and gradient in a few passes per FFT size); its other
terms, :class:`MelSpectralLoss`, and the whole loss under ``DDSP_REF_KERNELS=composed``, are
composed of autodiff ops.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import core, spectral_ops
from ..autodiff import ops
from ..autodiff.fused.spectral_loss import spectral_terms
from ..gin_support import register
from ..kernels.selection import use_fused
from ..validation import finite_number, positive_int, positive_number
from .base import Loss, check_loss_type, loss_weight, mean_difference

__all__ = ["SpectralLoss", "MelSpectralLoss"]


# -- spectral losses ---------------------------------------------------------------------------
def _check_audio_pair(target: Any, audio: Any, where: str) -> tuple[Any, Any]:
    """Both audio arguments as float [batch, n_samples] of one shape, no NaN ([n_samples] is
    one example: the time-difference and frequency axes stay at 1 and 2)."""
    target = spectral_ops.framing.audio_input(target, where, "target_audio")
    audio = spectral_ops.framing.audio_input(audio, where, "audio")
    if tuple(target.shape) != tuple(audio.shape):
        raise ValueError(
            f"{where}: target_audio {tuple(target.shape)} and audio {tuple(audio.shape)} must "
            "have the same shape"
        )
    if len(audio.shape) == 1:
        target, audio = target[None, :], audio[None, :]
    return target, audio


def _check_fft_sizes(fft_sizes: Any, where: str) -> tuple[int, ...]:
    message = f"{where}: fft_sizes must be a sequence of integers >= 4 (the hop is size // 4)"
    if isinstance(fft_sizes, (str, bytes)) or not hasattr(fft_sizes, "__iter__"):
        raise ValueError(f"{message}, got {fft_sizes!r}")
    sizes = tuple(fft_sizes)
    if not sizes:
        raise ValueError(f"{message}, got {fft_sizes!r}")
    checked = tuple(positive_int(s, "fft_sizes", where) for s in sizes)
    if min(checked) < 4:
        raise ValueError(f"{message}, got {fft_sizes!r}")
    return checked


class SpectralLoss(Loss):
    """Multi-scale spectrogram loss (ddsp.losses.SpectralLoss).

    For each FFT size, magnitude spectrograms ``|stft|`` (periodic Hann window, hop size // 4,
    zero ``pad_end``) of the target and the audio are compared; every term with a weight > 0
    adds ``weight * mean_difference(target_term, audio_term, loss_type, weights)``. Terms are
    **summed** over the sizes (not averaged), as in ddsp.

    Args:
        fft_sizes: FFT (= frame) sizes [samples], each >= 4.
        loss_type: 'L1', 'L2' or 'COSINE'.
        mag_weight: linear magnitudes.
        delta_time_weight: first difference of the magnitudes along time.
        delta_freq_weight: first difference along frequency.
        cumsum_freq_weight: cumulative sum along frequency (un-normalised, as in ddsp).
        logmag_weight: ``safe_log`` magnitudes (exact zeros read as 1e-5, tiny positive values
            are not floored).
        loudness_weight: A-weighted loudness (``compute_loudness(n_fft=2048)``, 16 kHz, 250 Hz),
            compared once, not per size.
        name: name of the loss.

    Call arguments: ``(target_audio, audio, weights=None)`` with audio ``[batch, n_samples]``
    (or ``[n_samples]``, or ``[batch, n_samples, 1]``); note the order: target first. Returns
    a scalar. With L1 or L2, no ``weights`` and no delta / cumsum terms, the magnitude and
    log-magnitude terms run through fused kernels (same numbers, much less time).

    Raises:
        ValueError: unknown loss type or bad fft sizes (at construction), audio shapes that
            differ or are not [batch, n_samples], NaN audio.
    """

    def __init__(
        self,
        fft_sizes: Sequence[int] = (2048, 1024, 512, 256, 128, 64),
        loss_type: str = "L1",
        mag_weight: float = 1.0,
        delta_time_weight: float = 0.0,
        delta_freq_weight: float = 0.0,
        cumsum_freq_weight: float = 0.0,
        logmag_weight: float = 0.0,
        loudness_weight: float = 0.0,
        name: str = "spectral_loss",
    ):
        super().__init__(name=name)
        where = "SpectralLoss"
        self.fft_sizes = _check_fft_sizes(fft_sizes, where)
        self.loss_type = loss_type
        check_loss_type(loss_type)
        self.mag_weight = loss_weight(mag_weight, "mag_weight", where)
        self.delta_time_weight = loss_weight(delta_time_weight, "delta_time_weight", where)
        self.delta_freq_weight = loss_weight(delta_freq_weight, "delta_freq_weight", where)
        self.cumsum_freq_weight = loss_weight(cumsum_freq_weight, "cumsum_freq_weight", where)
        self.logmag_weight = loss_weight(logmag_weight, "logmag_weight", where)
        self.loudness_weight = loss_weight(loudness_weight, "loudness_weight", where)

    def _fusable(self, weights: Any) -> bool:
        """The fused op covers L1 / L2 magnitude and log-magnitude terms without weights
        (and is skipped altogether under ``DDSP_REF_KERNELS=composed``)."""
        return (
            weights is None
            and use_fused()
            and check_loss_type(self.loss_type) in ("L1", "L2")
            and max(self.delta_time_weight, self.delta_freq_weight, self.cumsum_freq_weight) <= 0
        )

    def call(self, target_audio: Any, audio: Any, weights: Any = None) -> Any:
        target_audio, audio = _check_audio_pair(target_audio, audio, self.name)
        loss = 0.0
        w_mag, w_log = max(self.mag_weight, 0.0), max(self.logmag_weight, 0.0)
        if self._fusable(weights):
            if w_mag > 0 or w_log > 0:
                l2 = check_loss_type(self.loss_type) == "L2"
                loss = spectral_terms(
                    target_audio, audio, fft_sizes=self.fft_sizes, w_mag=w_mag, w_log=w_log, l2=l2
                )
        else:
            for size in self.fft_sizes:
                target_mag = spectral_ops.compute_mag(target_audio, size)
                value_mag = spectral_ops.compute_mag(audio, size)
                loss = loss + self._size_terms(target_mag, value_mag, weights)
        if self.loudness_weight > 0:
            target = spectral_ops.compute_loudness(target_audio, n_fft=2048, use_tf=True)
            value = spectral_ops.compute_loudness(audio, n_fft=2048, use_tf=True)
            loss = loss + self.loudness_weight * mean_difference(
                target, value, self.loss_type, weights
            )
        return loss

    def _size_terms(self, target_mag: Any, value_mag: Any, weights: Any) -> Any:
        """Every weighted term of one FFT size, composed of autodiff ops."""
        terms = [
            (self.mag_weight, lambda m: m),
            (self.delta_time_weight, lambda m: core.diff(m, axis=1)),
            (self.delta_freq_weight, lambda m: core.diff(m, axis=2)),
            (self.cumsum_freq_weight, lambda m: ops.cumsum(m, axis=2)),
            (self.logmag_weight, core.safe_log),
        ]
        loss = 0.0
        for weight, transform in terms:
            if weight > 0:
                loss = loss + weight * mean_difference(
                    transform(target_mag), transform(value_mag), self.loss_type, weights
                )
        return loss


class MelSpectralLoss(Loss):
    """Multi-resolution mel-spectrogram loss (an addition of ddsp_ref; not in ddsp 3.7.0).

    For each FFT size, ``spectral_ops.compute_mel`` (magnitudes through HTK mel triangles, as
    ddsp) of the target and the audio are compared with ``mean_difference``: a linear term and
    a ``safe_log`` term, summed over sizes like :class:`SpectralLoss`.

    Args:
        fft_sizes: FFT (= frame) sizes [samples]; hop = size // 4.
        mel_bins: mel bands per size: an int for all sizes, a sequence (one per size), or None
            for ``max(4, size // 16)`` (128 bands at 2048 down to 4 at 64), so that the coarse
            sizes do not get empty bands.
        loss_type: 'L1', 'L2' or 'COSINE'.
        mag_weight: weight of the linear mel term.
        logmag_weight: weight of the log mel term.
        lo_hz: lowest mel edge [Hz].
        hi_hz: highest mel edge [Hz]; None for Nyquist.
        sample_rate: audio sample rate [Hz].
        name: name of the loss.

    Call arguments: ``(target_audio, audio, weights=None)``, like :class:`SpectralLoss`.
    """

    def __init__(
        self,
        fft_sizes: Sequence[int] = (2048, 1024, 512, 256, 128, 64),
        mel_bins: int | Sequence[int] | None = None,
        loss_type: str = "L1",
        mag_weight: float = 1.0,
        logmag_weight: float = 1.0,
        lo_hz: float = 0.0,
        hi_hz: float | None = None,
        sample_rate: int = 16000,
        name: str = "mel_spectral_loss",
    ):
        super().__init__(name=name)
        where = "MelSpectralLoss"
        self.fft_sizes = _check_fft_sizes(fft_sizes, where)
        if mel_bins is None:
            bins = [max(4, s // 16) for s in self.fft_sizes]
        elif isinstance(mel_bins, (str, bytes)) or not hasattr(mel_bins, "__iter__"):
            bins = [positive_int(mel_bins, "mel_bins", where)] * len(self.fft_sizes)
        else:
            bins = [positive_int(b, "mel_bins", where) for b in mel_bins]
        if len(bins) != len(self.fft_sizes):
            raise ValueError(
                f"{where}: mel_bins must be a positive int or one per fft size "
                f"{self.fft_sizes}, got {mel_bins!r}"
            )
        self.mel_bins = tuple(bins)
        check_loss_type(loss_type)
        self.loss_type = loss_type
        self.mag_weight = loss_weight(mag_weight, "mag_weight", where)
        self.logmag_weight = loss_weight(logmag_weight, "logmag_weight", where)
        self.sample_rate = positive_number(sample_rate, "sample_rate", where)
        self.lo_hz = finite_number(lo_hz, "lo_hz", where)
        self.hi_hz = (
            self.sample_rate / 2.0 if hi_hz is None else finite_number(hi_hz, "hi_hz", where)
        )
        if not 0.0 <= self.lo_hz < self.hi_hz <= self.sample_rate / 2.0:
            raise ValueError(
                f"{where}: need 0 <= lo_hz < hi_hz <= sample_rate / 2, got lo_hz={self.lo_hz}, "
                f"hi_hz={self.hi_hz}, sample_rate={self.sample_rate}"
            )

    def call(self, target_audio: Any, audio: Any, weights: Any = None) -> Any:
        target_audio, audio = _check_audio_pair(target_audio, audio, self.name)
        loss = 0.0
        for size, bins in zip(self.fft_sizes, self.mel_bins, strict=True):
            kwargs = dict(
                lo_hz=self.lo_hz,
                hi_hz=self.hi_hz,
                bins=bins,
                fft_size=size,
                sample_rate=self.sample_rate,
            )
            target_mel = spectral_ops.compute_mel(target_audio, **kwargs)
            value_mel = spectral_ops.compute_mel(audio, **kwargs)
            if self.mag_weight > 0:
                loss = loss + self.mag_weight * mean_difference(
                    target_mel, value_mel, self.loss_type, weights
                )
            if self.logmag_weight > 0:
                loss = loss + self.logmag_weight * mean_difference(
                    core.safe_log(target_mel), core.safe_log(value_mel), self.loss_type, weights
                )
        return loss


for _cls in (SpectralLoss, MelSpectralLoss):
    register(_cls, module="ddsp_ref.losses")
del _cls
