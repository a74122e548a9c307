"""Spectral normalisation of layer kernels, as ddsp's ``nn.SpectralNormalization`` wrapper.

ddsp 3.7.0 (a copy of TF-Addons' wrapper) keeps a non-trainable vector ``sn_u [1, n]`` (``n``
the kernel's last axis; TruncatedNormal(0.02) at build) and, at the start of every training
call only, runs ``power_iterations`` steps of ``v = l2n(u W^T); u = l2n(v W)`` on the kernel
reshaped to ``W [-1, n]``, takes ``sigma = v W u^T`` and *assigns* ``kernel := kernel / sigma``,
``sn_u := u``. The layer then runs with the assigned kernel; no gradient flows through sigma and
the optimiser updates the normalised kernel. Inference calls change nothing.

Here that is :meth:`SpectralNorm.before_training_forward` (functional: the Trainer applies it to
its parameters before each step) and, for a direct call in the training phase, the same update
of the stored parameters in place.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...backend import array_namespace
from ...module import in_apply, in_training_phase

__all__ = ["spectral_normalize", "sn_u_initializer", "SpectralNorm"]

# tf.math.l2_normalize: x / sqrt(max(sum(x ** 2), epsilon)) over all entries.
L2_EPSILON = 1e-12
SN_U_STDDEV = 0.02  # ddsp's TruncatedNormal(stddev=0.02)


def _l2_normalize(xp: Any, x: Any) -> Any:
    return x / xp.sqrt(xp.maximum(xp.sum(x * x), x.dtype.type(L2_EPSILON)))


def spectral_normalize(kernel: Any, u: Any, power_iterations: int = 1) -> tuple[Any, Any]:
    """One spectral normalisation of ``kernel`` (plain numpy / cupy arrays, no tape).

    Args:
        kernel: any shape ``[..., n]``; its rows ``kernel.reshape(-1, n)`` are keras' ``W``
            (keras' ``(k, 1, a, b)`` conv kernels without the width axis reshape alike).
        u: ``[1, n]``, the power-iteration state.
        power_iterations: steps of the power iteration.

    Returns:
        ``(kernel / sigma, u_next)``, in the dtypes of the inputs; ``sigma = v W u_next^T``
        estimates the largest singular value of ``W``. A zero kernel gives NaN, as in ddsp.
    """
    xp = array_namespace(kernel, u)
    w = kernel.reshape(-1, kernel.shape[-1])
    v = None
    for _ in range(power_iterations):
        v = _l2_normalize(xp, u @ w.T)  # [1, rows]
        u = _l2_normalize(xp, v @ w)  # [1, n]
    sigma = (v @ w) @ u.T  # [1, 1]
    return kernel / sigma.reshape(()), u


def sn_u_initializer(rng: np.random.Generator, n: int) -> np.ndarray:
    """keras' ``TruncatedNormal(stddev=0.02)`` of shape ``[1, n]`` (float32): normal draws
    beyond two standard deviations are drawn again."""
    out = rng.normal(0.0, SN_U_STDDEV, size=(1, n))
    outside = np.abs(out) > 2 * SN_U_STDDEV
    while outside.any():
        out[outside] = rng.normal(0.0, SN_U_STDDEV, size=int(outside.sum()))
        outside = np.abs(out) > 2 * SN_U_STDDEV
    return out.astype(np.float32)


class SpectralNorm:
    """Mixin of the conv layers for ``spectral_norm=True`` (ddsp wraps them in
    ``SpectralNormalization``): the non-trainable parameter ``sn_u [1, n]``, the training-call
    update and its in-place form for direct calls. The layer sets ``spectral_norm`` and
    ``power_iterations`` and calls :meth:`_create_sn_u` from its ``_create``."""

    spectral_norm: bool = False
    power_iterations: int = 1

    def _create_sn_u(self, n: int, xp: Any) -> None:
        if self.spectral_norm:
            u = sn_u_initializer(self._rng, n)
            self.add_parameter("sn_u", u if xp is None else xp.asarray(u), trainable=False)

    def before_training_forward(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` with ``kernel / sigma`` and the next ``sn_u`` (see
        :func:`spectral_normalize`); unchanged without spectral normalisation."""
        if not self.spectral_norm or "kernel" not in params:
            return dict(params)
        u = params.get("sn_u", self._params["sn_u"])
        kernel, u = spectral_normalize(params["kernel"], u, self.power_iterations)
        return {**params, "kernel": kernel, "sn_u": u}

    def _normalize_if_training(self) -> None:
        """A direct call in the training phase assigns the normalised kernel and ``sn_u`` to
        the stored parameters before running, as keras' wrapper does; under ``apply`` nothing
        is modified and the parameters are used as given (the Trainer normalised them)."""
        if self.spectral_norm and in_training_phase() and not in_apply():
            self._params.update(self.before_training_forward(self._params))
