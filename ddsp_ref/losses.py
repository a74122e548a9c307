"""Losses of ddsp.losses: base classes, mean_difference, spectral losses (and re-exports).

This module holds Loss, LossGroup, mean_difference, SpectralLoss, MelSpectralLoss and
ParamLoss, and re-exports the consistency losses (``losses_consistency.py``) and the losses
built on pretrained networks (``losses_pretrained.py``), so ``ddsp_ref.losses`` is the whole of
ddsp.losses. Every loss is a :class:`Loss` (a :class:`~ddsp_ref.module.Module`): calling it
returns a scalar, ``get_losses_dict`` returns ``{name: scalar}``, and :class:`LossGroup` runs a
DAG of losses over a model's outputs dict. All are differentiable with ``value_and_grad``.

:class:`SpectralLoss` computes its magnitude and log-magnitude terms with the fused kernels of
``ddsp_ref.kernels.spectral_loss`` (value and gradient in a few passes per FFT size, see
``_fused_spectral_terms``); its other terms, and every other loss, are composed of autodiff ops.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import core, spectral_ops
from .autodiff import ops, stop_gradient
from .autodiff.tape import Primitive
from .backend import array_namespace
from .core.utils import to_float
from .dags import DAGLayer
from .gin_support import register
from .kernels import spectral_loss as fused
from .module import Module

__all__ = [
    "LOSS_TYPES",
    "Loss",
    "LossGroup",
    "mean_difference",
    "SpectralLoss",
    "MelSpectralLoss",
    "ParamLoss",
]
# Defined in the submodules below and re-exported here (see the end of this file).
_SUBMODULE_NAMES = {
    "losses_consistency": (
        "amp_loss",
        "freq_loss",
        "FilteredNoiseConsistencyLoss",
        "HarmonicConsistencyLoss",
        "WassersteinConsistencyLoss",
        "wasserstein_distance",
        "KDEConsistencyLoss",
        "TWMLoss",
    ),
    "losses_pretrained": (
        "CREPE_EMBEDDING_SCALES",
        "EmbeddingLoss",
        "PretrainedCREPE",
        "PretrainedCREPEEmbeddingLoss",
        "HmmTranscriber",
    ),
}
__all__ += [name for names in _SUBMODULE_NAMES.values() for name in names]

LOSS_TYPES = ("L1", "L2", "COSINE")


def _check_loss_type(loss_type: Any) -> str:
    upper = loss_type.upper() if isinstance(loss_type, str) else None
    if upper not in LOSS_TYPES:
        raise ValueError(f'Loss type ({loss_type!r}), must be "L1", "L2", or "COSINE"')
    return upper


def _broadcast_shape(where: str, **arrays: Any) -> tuple:
    shapes = {k: tuple(v.shape) for k, v in arrays.items() if hasattr(v, "shape")}
    try:
        return tuple(np.broadcast_shapes(*shapes.values()))
    except ValueError:
        described = ", ".join(f"{k} {s}" for k, s in shapes.items())
        raise ValueError(f"{where}: shapes do not broadcast together: {described}") from None


# -- base classes ------------------------------------------------------------------------------
class Loss(Module):
    """Base class of the losses: ``loss(*args)`` returns a scalar (``call``).

    Duck typing: anything with ``get_losses_dict`` is a loss for :class:`LossGroup` and the
    DAG runner. Keras' ``training`` / ``mask`` keyword arguments are dropped unless ``call``
    takes them, as a keras layer would.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        accepted = inspect.signature(self.call).parameters
        for key in ("training", "mask"):
            if key in kwargs and key not in accepted:
                del kwargs[key]
        return self.call(*args, **kwargs)

    def call(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{type(self).__name__} must define call")

    def get_losses_dict(self, *args: Any, **kwargs: Any) -> dict:
        """``{self.name: self(*args, **kwargs)}``."""
        return {self.name: self(*args, **kwargs)}


class LossGroup(DAGLayer):
    """A DAG of losses run over a dict of model outputs; returns one flat dict of losses.

    Args:
        dag: nodes ``(loss, ['input/key', ...])``; a loss may be an instance or the name of a
            loss passed by keyword.
        name: name of the group.
        **kwarg_losses: losses referenced by name in the dag.
    """

    def __init__(self, dag: Sequence, name: str = "loss_group", **kwarg_losses: Any):
        super().__init__(dag, name=name, **kwarg_losses)

    @property
    def loss_names(self) -> list[str]:
        return self.module_names

    @property
    def losses(self) -> list[Any]:
        return self.modules

    def __call__(self, outputs: dict, **kwargs: Any) -> dict:
        """Run every loss on its inputs from ``outputs``: ``{loss_key: scalar}``."""
        dag_outputs = self.run_dag(outputs, **kwargs)
        losses: dict = {}
        for name in self.loss_names:
            losses.update(dag_outputs[name])
        return losses

    def get_losses_dict(self, outputs: dict, **kwargs: Any) -> dict:
        """Alias of calling the group."""
        return self(outputs, **kwargs)


# -- mean_difference ---------------------------------------------------------------------------
def mean_difference(target: Any, value: Any, loss_type: str = "L1", weights: Any = None) -> Any:
    """Mean of the (weighted) element-wise difference ``target - value``.

    Args:
        target: target array [any shape].
        value: compared array, broadcastable with ``target``.
        loss_type: 'L1' (``mean |(t - v) w|``), 'L2' (``mean (t - v)^2 w``) or 'COSINE' (TF1's
            ``cosine_distance(target, value, weights, axis=-1)``: ``1 - sum(t v)`` over the
            last axis, inputs assumed unit-normalised, averaged over the entries with non-zero
            weight). Case-insensitive.
        weights: optional weights broadcastable with the difference (for COSINE, with
            ``[..., 1]``).

    Returns:
        Scalar loss; means run over **all** elements of the broadcast shape.

    Raises:
        ValueError: unknown ``loss_type``; shapes that do not broadcast (COSINE: that differ).
    """
    loss_type = _check_loss_type(loss_type)
    target, value = to_float(target), to_float(value)
    if loss_type == "COSINE":
        return _cosine_distance(target, value, weights)
    arrays = {"target": target, "value": value}
    if weights is not None:
        weights = to_float(weights)
        arrays["weights"] = weights
    _broadcast_shape("mean_difference", **arrays)
    difference = target - value
    if loss_type == "L1":
        return ops.mean(ops.abs(difference if weights is None else difference * weights))
    squared = ops.square(difference)
    return ops.mean(squared if weights is None else squared * weights)


def _cosine_distance(target: Any, value: Any, weights: Any) -> Any:
    """tf.compat.v1.losses.cosine_distance(target, value, weights, axis=-1), SUM_BY_NONZERO."""
    if tuple(target.shape) != tuple(value.shape):
        raise ValueError(
            f"mean_difference (COSINE): target {tuple(target.shape)} and value "
            f"{tuple(value.shape)} must have the same shape"
        )
    losses = 1.0 - ops.sum(target * value, axis=-1, keepdims=True)
    if weights is None:
        return ops.mean(losses)
    weights = to_float(weights)
    shape = tuple(losses.shape)
    if _broadcast_shape("mean_difference (COSINE)", weights=weights, losses=losses) != shape:
        raise ValueError(
            f"mean_difference (COSINE): weights {tuple(weights.shape)} must broadcast to the "
            f"per-vector losses {shape} (the last axis is reduced)"
        )
    raw = stop_gradient(weights)
    xp = array_namespace(raw, stop_gradient(losses))
    present = int(xp.count_nonzero(xp.broadcast_to(xp.asarray(raw) != 0, shape)))
    total = ops.sum(losses * weights)
    return total / present if present else total * 0.0


# -- spectral losses ---------------------------------------------------------------------------
def _squeeze_audio(audio: Any, where: str, name: str) -> Any:
    """[batch, n_samples, 1] -> [batch, n_samples] (as tf.signal.stft in ddsp); float policy."""
    audio = to_float(audio)
    if len(audio.shape) == 3:
        if audio.shape[-1] != 1:
            raise ValueError(
                f"{where}: 3-D {name} must be [batch, n_samples, 1], got {tuple(audio.shape)}"
            )
        audio = ops.squeeze(audio, axis=-1)
    if len(audio.shape) not in (1, 2) or audio.shape[-1] < 1:
        raise ValueError(
            f"{where}: {name} must be [batch, n_samples] or [n_samples], got {tuple(audio.shape)}"
        )
    return audio


def _check_audio_pair(target: Any, audio: Any, where: str) -> tuple[Any, Any]:
    target = _squeeze_audio(target, where, "target_audio")
    audio = _squeeze_audio(audio, where, "audio")
    if tuple(target.shape) != tuple(audio.shape):
        raise ValueError(
            f"{where}: target_audio {tuple(target.shape)} and audio {tuple(audio.shape)} must "
            "have the same shape"
        )
    return target, audio


def _check_fft_sizes(fft_sizes: Any, where: str) -> tuple[int, ...]:
    sizes = tuple(fft_sizes)
    if not sizes or any(isinstance(s, bool) or int(s) != s or s < 4 for s in sizes):
        raise ValueError(
            f"{where}: fft_sizes must be integers >= 4 (the hop is size // 4), got {fft_sizes!r}"
        )
    return tuple(int(s) for s in sizes)


def _fused_spectral_forward(xp, target, audio, fft_sizes, w_mag, w_log, l2, needs=(False, False)):
    """Value of the fused magnitude / log-magnitude terms; their gradients only when traced."""
    rows, length = (1, audio.shape[0]) if audio.ndim == 1 else audio.shape
    t2, a2 = target.reshape(rows, length), audio.reshape(rows, length)
    if bool(xp.isnan(xp.sum(t2) + xp.sum(a2))):
        raise ValueError("SpectralLoss: target_audio or audio contains NaN (or +-inf) values")
    value = 0.0
    grads = [None, None]
    for size in fft_sizes:
        size_value, g_t, g_a = fused.spectral_terms(t2, a2, size, w_mag, w_log, l2, *needs)
        value += size_value
        for i, g in ((0, g_t), (1, g_a)):
            if g is not None:
                grads[i] = g if grads[i] is None else grads[i] + g
    saved = tuple(None if g is None else g.reshape(audio.shape) for g in grads)
    return xp.asarray(value, dtype=audio.dtype), saved


def _fused_spectral_vjp(xp, saved, g, fft_sizes, w_mag, w_log, l2):
    return tuple(None if grad is None else g * grad for grad in saved)


# One autodiff op for the fused kernels: sum over sizes of w_mag mean|dM| + w_log mean|d log M|
# (or squares). The gradients come from the same arithmetic as the taped ops would use (rfft
# adjoint, z/|z| with 0 at 0, safe_log's zero rule, sign 0 at ties), computed in the forward.
_fused_spectral_terms = Primitive(
    "fused_spectral_loss", _fused_spectral_forward, _fused_spectral_vjp
)


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
        self.fft_sizes = _check_fft_sizes(fft_sizes, "SpectralLoss")
        self.loss_type = loss_type
        _check_loss_type(loss_type)
        self.mag_weight = mag_weight
        self.delta_time_weight = delta_time_weight
        self.delta_freq_weight = delta_freq_weight
        self.cumsum_freq_weight = cumsum_freq_weight
        self.logmag_weight = logmag_weight
        self.loudness_weight = loudness_weight

    def _fusable(self, weights: Any) -> bool:
        return (
            weights is None
            and _check_loss_type(self.loss_type) in ("L1", "L2")
            and max(self.delta_time_weight, self.delta_freq_weight, self.cumsum_freq_weight) <= 0
        )

    def call(self, target_audio: Any, audio: Any, weights: Any = None) -> Any:
        target_audio, audio = _check_audio_pair(target_audio, audio, self.name)
        loss = 0.0
        w_mag, w_log = max(self.mag_weight, 0.0), max(self.logmag_weight, 0.0)
        if self._fusable(weights):
            if w_mag > 0 or w_log > 0:
                l2 = _check_loss_type(self.loss_type) == "L2"
                loss = _fused_spectral_terms(
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
        self.fft_sizes = _check_fft_sizes(fft_sizes, "MelSpectralLoss")
        if mel_bins is None:
            bins = [max(4, s // 16) for s in self.fft_sizes]
        elif isinstance(mel_bins, (int, np.integer)):
            bins = [int(mel_bins)] * len(self.fft_sizes)
        else:
            bins = [int(b) for b in mel_bins]
        if len(bins) != len(self.fft_sizes) or min(bins) < 1:
            raise ValueError(
                f"MelSpectralLoss: mel_bins must be a positive int or one per fft size "
                f"{self.fft_sizes}, got {mel_bins!r}"
            )
        self.mel_bins = tuple(bins)
        _check_loss_type(loss_type)
        self.loss_type = loss_type
        self.mag_weight = mag_weight
        self.logmag_weight = logmag_weight
        self.sample_rate = sample_rate
        self.lo_hz = lo_hz
        self.hi_hz = sample_rate / 2.0 if hi_hz is None else hi_hz

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


class ParamLoss(Loss):
    """``weight * mean_difference(pred, target, loss_type, weights)`` for any two arrays."""

    def __init__(self, weight: float = 1.0, loss_type: str = "L1", name: str | None = None):
        super().__init__(name=name)
        _check_loss_type(loss_type)
        self.weight = weight
        self.loss_type = loss_type

    def call(self, pred: Any, target: Any, weights: Any = None) -> Any:
        return self.weight * mean_difference(pred, target, self.loss_type, weights)


for _cls in (LossGroup, SpectralLoss, MelSpectralLoss, ParamLoss):
    register(_cls, module="ddsp_ref.losses")
del _cls

# The consistency and pretrained-model losses live in submodules that import the base classes
# above. Importing them here registers them with gin and re-exports their names; the module
# __getattr__ covers the import order in which a submodule was imported first (and is still
# incomplete at this point).
_SUBMODULES = {m: importlib.import_module(f".{m}", __package__) for m in _SUBMODULE_NAMES}
_OWNER = {name: m for m, names in _SUBMODULE_NAMES.items() for name in names}
globals().update(
    {k: getattr(_SUBMODULES[m], k) for k, m in _OWNER.items() if hasattr(_SUBMODULES[m], k)}
)


def __getattr__(name: str) -> Any:
    if name in _OWNER:
        return getattr(_SUBMODULES[_OWNER[name]], name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
