"""The fused magnitude / log-magnitude terms of the multi-scale spectral loss as one autodiff op.

``spectral_terms(target, audio, fft_sizes=..., w_mag=..., w_log=..., l2=...)`` is, summed over the
FFT sizes, ``w_mag mean|M_t - M_a| + w_log mean|safe_log M_t - safe_log M_a|`` (or squares), M the
``|stft|`` of ``ddsp_ref.spectral_ops`` (hop size // 4, zero ``pad_end``). The kernels of
``ddsp_ref.kernels.spectral_loss`` compute the value and, for the inputs being traced, the
gradients in the forward; the VJP only scales them by the incoming cotangent.
"""

from __future__ import annotations

from ...kernels import spectral_loss as _kernels
from ..tape import Primitive


def _forward(xp, target, audio, fft_sizes, w_mag, w_log, l2, needs=(False, False)):
    """Value of the terms; the gradients (saved for the VJP) only for the traced inputs."""
    rows, length = (1, audio.shape[0]) if audio.ndim == 1 else audio.shape
    t2, a2 = target.reshape(rows, length), audio.reshape(rows, length)
    value = 0.0
    grads = [None, None]
    for size in fft_sizes:
        size_value, g_t, g_a = _kernels.spectral_terms(t2, a2, size, w_mag, w_log, l2, *needs)
        value += size_value
        for i, g in ((0, g_t), (1, g_a)):
            if g is not None:
                grads[i] = g if grads[i] is None else grads[i] + g
    saved = tuple(None if g is None else g.reshape(audio.shape) for g in grads)
    return xp.asarray(value, dtype=audio.dtype), saved


def _vjp(xp, saved, g, fft_sizes, w_mag, w_log, l2):
    return tuple(None if grad is None else g * grad for grad in saved)


# The gradients come from the arithmetic the taped ops use (rfft adjoint, z/|z| with 0 at 0,
# safe_log's zero rule, sign 0 at ties), so the fused and composed losses agree to rounding.
_spectral_terms = Primitive("fused_spectral_loss", _forward, _vjp)


def spectral_terms(target, audio, *, fft_sizes, w_mag: float, w_log: float, l2: bool):
    """Scalar sum over ``fft_sizes`` of the weighted magnitude and log-magnitude terms.

    Args:
        target, audio: [batch, n_samples] or [n_samples], one float dtype, no NaN (the caller,
            ``losses.SpectralLoss``, validates).
        fft_sizes: frame (= window) sizes [samples], each >= 4.
        w_mag, w_log: non-negative weights of the two terms.
        l2: squared differences instead of absolute ones.
    """
    return _spectral_terms(target, audio, fft_sizes=tuple(fft_sizes), w_mag=float(w_mag),
                           w_log=float(w_log), l2=bool(l2))  # fmt: skip


__all__ = ["spectral_terms"]
