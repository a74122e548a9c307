"""Consistency losses of ddsp.losses: synthesizer controls and sets of sinusoids.

Control losses (``amp_loss``, ``freq_loss``, filtered-noise and harmonic consistency), losses
between two sets of sinusoids (Wasserstein, kernel density), the differentiable two-way
mismatch f0 loss. All are re-exported by ``ddsp_ref.losses``.
The mixture densities that ddsp builds with tensorflow_probability are written out here:
a Gaussian mixture's log density is ``logsumexp_k(log_softmax(log p_k) + log N(x; mu_k, s))``.
"""

from __future__ import annotations

import math
from typing import Any

from .. import core
from ..autodiff import ops, stop_gradient
from ..backend import array_namespace
from ..core.utils import to_float
from ..gin_support import register
from ..validation import check_rank, positive_number
from .base import Loss, loss_weight, mean_difference, set_checked

__all__ = [
    "amp_loss",
    "freq_loss",
    "FilteredNoiseConsistencyLoss",
    "HarmonicConsistencyLoss",
    "WassersteinConsistencyLoss",
    "wasserstein_distance",
    "KDEConsistencyLoss",
    "TWMLoss",
]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


# -- control consistency ------------------------------------------------------------------------
def amp_loss(
    amp: Any,
    amp_target: Any,
    loss_type: str = "L1",
    weights: Any = None,
    log: bool = False,
    amin: float = 1e-5,
) -> Any:
    """``mean_difference(amp, amp_target)``, optionally of ``log10(max(amin, .))``.

    Note the argument order passed on (amp first), as in ddsp. At ``amp == amin`` the gradient
    goes to the constant, like tf.maximum's.
    """
    amp, amp_target = (
        to_float(amp, "amp", "amp_loss"),
        to_float(amp_target, "amp_target", "amp_loss"),
    )
    if log:
        amp, amp_target = (
            core.log10(ops.where(stop_gradient(x) > amin, x, amin)) for x in (amp, amp_target)
        )
    return mean_difference(amp, amp_target, loss_type, weights)


def freq_loss(f_hz: Any, f_hz_target: Any, loss_type: str = "L1", weights: Any = None) -> Any:
    """``mean_difference`` of the frequencies in MIDI (``hz_to_midi``)."""
    return mean_difference(core.hz_to_midi(f_hz), core.hz_to_midi(f_hz_target), loss_type, weights)


class FilteredNoiseConsistencyLoss(Loss):
    """``weight * amp_loss(noise_magnitudes, noise_magnitudes_target)`` (linear L1)."""

    def __init__(self, weight: float = 1.0, name: str | None = None):
        super().__init__(name=name)
        self.weight = loss_weight(weight, "weight", "FilteredNoiseConsistencyLoss")

    def call(self, noise_magnitudes: Any, noise_magnitudes_target: Any) -> Any:
        return self.weight * amp_loss(noise_magnitudes, noise_magnitudes_target)


class HarmonicConsistencyLoss(Loss):
    """Consistency of harmonic synth controls with target controls (experimental in ddsp).

    Returns ``{'harm_amp_loss', 'harm_dist_loss', 'f0_hz_loss'}``: L1 of the amplitudes
    (unmasked), of the harmonic distributions and of f0 in MIDI, the last two masked where
    ``harm_amp_target < amp_threshold``.

    Deviation: ``get_losses_dict`` returns that flat dict; ddsp nests it under the layer name,
    which its own loss summation cannot add up.
    """

    def __init__(
        self,
        amp_weight: float = 1.0,
        dist_weight: float = 1.0,
        f0_weight: float = 1.0,
        amp_threshold: float = 1e-4,
        name: str | None = None,
    ):
        super().__init__(name=name)
        where = "HarmonicConsistencyLoss"
        self.amp_weight = loss_weight(amp_weight, "amp_weight", where)
        self.dist_weight = loss_weight(dist_weight, "dist_weight", where)
        self.f0_weight = loss_weight(f0_weight, "f0_weight", where)
        self.amp_threshold = loss_weight(amp_threshold, "amp_threshold", where)

    def call(
        self,
        harm_amp: Any,
        harm_amp_target: Any,
        harm_dist: Any,
        harm_dist_target: Any,
        f0_hz: Any,
        f0_hz_target: Any,
    ) -> dict:
        """Controls ``[batch, n_frames, 1]`` (amps, f0) and ``[batch, n_frames, n_harmonics]``.

        Raises:
            ValueError: a control that is not 3-D or has no element (ddsp returns NaN losses).
        """
        controls = {
            "harm_amp": harm_amp,
            "harm_amp_target": harm_amp_target,
            "harm_dist": harm_dist,
            "harm_dist_target": harm_dist_target,
            "f0_hz": f0_hz,
            "f0_hz_target": f0_hz_target,
        }
        for key, x in controls.items():
            x = to_float(x, key, "HarmonicConsistencyLoss")
            layout = "[batch, n_frames, n_harmonics]" if "dist" in key else "[batch, n_frames, 1]"
            check_rank(x, 3, key, "HarmonicConsistencyLoss", layout)
            if not all(x.shape):
                raise ValueError(
                    f"HarmonicConsistencyLoss: {key} has no element (shape {tuple(x.shape)})"
                )
        target_raw = stop_gradient(to_float(harm_amp_target))
        weights = (target_raw >= self.amp_threshold).astype(target_raw.dtype)
        return {
            "harm_amp_loss": self.amp_weight * amp_loss(harm_amp, harm_amp_target),
            "harm_dist_loss": self.dist_weight
            * amp_loss(harm_dist, harm_dist_target, weights=weights),
            "f0_hz_loss": self.f0_weight * freq_loss(f0_hz, f0_hz_target, weights=weights),
        }

    def get_losses_dict(self, *args: Any, **kwargs: Any) -> dict:
        return self(*args, **kwargs)


# -- helpers: Gaussian mixtures (tfd.MixtureSameFamily of tfd.Normal) --------------------------
def _check_sinusoids(where: str, **arrays: Any) -> None:
    shapes = {k: tuple(v.shape) for k, v in arrays.items()}
    lead = {s[:2] for s in shapes.values()}
    if any(len(s) != 3 or 0 in s for s in shapes.values()) or len(lead) != 1:
        described = ", ".join(f"{k} {s}" for k, s in shapes.items())
        raise ValueError(
            f"{where}: inputs must be non-empty [batch, n_frames, n] with the same batch and "
            f"frames, got {described}"
        )


def _normal_log_prob(x: Any, loc: Any, scale: float) -> Any:
    """log N(x; loc, scale) (tfd.Normal.log_prob)."""
    z = (x - loc) / scale
    return -0.5 * ops.square(z) - (_HALF_LOG_2PI + math.log(scale))


def _mixture_log_weights(amps: Any) -> Any:
    """log_softmax(log p) of the mixture weights ``p = amps / sum(amps)``, zeros -> 1e-7.

    As ddsp's ``Categorical(probs=amps_norm)`` inside ``MixtureSameFamily``.
    """
    amps = ops.where(stop_gradient(amps) == 0.0, 1e-7, amps)
    probs = core.safe_divide(amps, ops.sum(amps, axis=-1, keepdims=True))
    log_probs = ops.log(probs)
    return log_probs - ops.logsumexp(log_probs, axis=-1, keepdims=True)


def _mixture_log_prob(x: Any, loc: Any, log_weights: Any, scale: float) -> Any:
    """Log density at ``x [..., m]`` of the mixture with components ``loc [..., k]``: [..., m]."""
    components = _normal_log_prob(ops.expand_dims(x, -1), ops.expand_dims(loc, -2), scale)
    return ops.logsumexp(components + ops.expand_dims(log_weights, -2), axis=-1)


# -- Wasserstein -------------------------------------------------------------------------------
class WassersteinConsistencyLoss(Loss):
    """1-D Wasserstein distance between two sets of sinusoids, frequencies in MIDI.

    Args:
        weight: loss weight.
        midi: compare frequencies in MIDI. As in ddsp, ``midi=False`` returns 0 (the Hz branch
            was never written).
        name: name of the loss.

    Call arguments: ``(amps_a, freqs_a, amps_b, freqs_b)``, each ``[batch, n_frames, n]``
    (amplitudes > 0 act as the weights, frequencies in Hz); returns
    ``mean(weight * wasserstein_distance(...))`` over batch and frames.
    """

    def __init__(self, weight: float = 1.0, midi: bool = True, name: str | None = None):
        super().__init__(name=name)
        self.weight = loss_weight(weight, "weight", "WassersteinConsistencyLoss")
        self.midi = midi

    def call(self, amps_a: Any, freqs_a: Any, amps_b: Any, freqs_b: Any) -> Any:
        arrays = dict(amps_a=amps_a, freqs_a=freqs_a, amps_b=amps_b, freqs_b=freqs_b)
        arrays = {k: to_float(v, k, self.name) for k, v in arrays.items()}
        _check_sinusoids(self.name, **arrays)
        amps_a, freqs_a, amps_b, freqs_b = arrays.values()
        if self.weight <= 0.0 or not self.midi:
            return 0.0
        freqs_a, freqs_b = core.hz_to_midi(freqs_a), core.hz_to_midi(freqs_b)
        loss = wasserstein_distance(freqs_a, freqs_b, amps_a, amps_b, p=1.0)
        return ops.mean(self.weight * loss)


def _count_at_most(sorted_values: Any, queries: Any) -> Any:
    """Batched ``searchsorted(sorted_values, queries, side='right')`` for sorted ``queries``.

    A stable sort of ``[sorted_values, queries]`` puts every value before an equal query, so
    query j lands at position ``j + #{values <= q_j}``.
    """
    xp = array_namespace(sorted_values, queries)
    n_queries = queries.shape[-1]
    merged = xp.concatenate([sorted_values, queries], axis=-1)
    order = xp.argsort(merged, axis=-1, kind="stable")
    position = xp.argsort(order, axis=-1, kind="stable")  # inverse permutation
    return position[..., sorted_values.shape[-1] :] - xp.arange(n_queries)


def _cdf(values: Any, weights: Any, counts: Any, normalize: bool) -> Any:
    if weights is None:
        return (counts / float(values.shape[-1])).astype(values.dtype)
    raw = stop_gradient(values)
    xp = array_namespace(raw)
    sorted_weights = ops.take_along_axis(to_float(weights), xp.argsort(raw, axis=-1), axis=-1)
    zero = xp.zeros(tuple(raw.shape[:-1]) + (1,), dtype=sorted_weights.dtype)
    cumulative = ops.concatenate([zero, ops.cumsum(sorted_weights, axis=-1)], axis=-1)
    cdf = ops.take_along_axis(cumulative, counts, axis=-1)
    return core.safe_divide(cdf, cumulative[..., -1:]) if normalize else cdf


def wasserstein_distance(
    u_values: Any,
    v_values: Any,
    u_weights: Any = None,
    v_weights: Any = None,
    p: float = 1.0,
    normalize: bool = False,
) -> Any:
    """Differentiable 1-D p-Wasserstein distance between weighted samples (scipy's integral).

    ``(sum_i delta_i |U(x_i) - V(x_i)|^p)^(1/p)`` over the sorted union ``x`` of both sample
    sets, ``delta`` its gaps and ``U``, ``V`` the cumulative weights at ``x_i``.

    Quirk kept from ddsp: with weights, the cumulative weights are **not normalised** (ddsp
    computes the normalisation and discards it), so the result scales with the weights; pass
    ``normalize=True`` for the true distance between distributions (as scipy). Without weights
    the CDFs are counts / n either way.

    Args:
        u_values, v_values: samples ``[..., n_u]`` and ``[..., n_v]`` (same batch shape).
        u_weights, v_weights: optional non-negative weights with the shapes of the values.
        p: order (1: Wasserstein / earth mover, 2: energy-like).
        normalize: divide the cumulative weights by their totals (deviates from ddsp).

    Returns:
        Distances ``[...]``.

    Raises:
        ValueError: batch shapes that differ, or weights shaped unlike their values.
    """
    where = "wasserstein_distance"
    u_values, v_values = (
        to_float(u_values, "u_values", where),
        to_float(v_values, "v_values", where),
    )
    p = positive_number(p, "p", where)
    if not (u_values.shape[-1] if len(u_values.shape) else 0) or not (
        v_values.shape[-1] if len(v_values.shape) else 0
    ):
        raise ValueError(
            f"{where}: u_values {tuple(u_values.shape)} and v_values {tuple(v_values.shape)} "
            "need at least one sample each on the last axis"
        )
    for name, w, v in (("u_weights", u_weights, u_values), ("v_weights", v_weights, v_values)):
        if w is not None and tuple(w.shape) != tuple(v.shape):
            raise ValueError(
                f"wasserstein_distance: {name} {tuple(w.shape)} must have the "
                f"shape of its values {tuple(v.shape)}"
            )
    if tuple(u_values.shape[:-1]) != tuple(v_values.shape[:-1]):
        raise ValueError(
            f"wasserstein_distance: batch shapes differ: u {tuple(u_values.shape)}, "
            f"v {tuple(v_values.shape)}"
        )
    u_raw, v_raw = stop_gradient(u_values), stop_gradient(v_values)
    xp = array_namespace(u_raw, v_raw)
    all_values = ops.concatenate([u_values, v_values], axis=-1)
    all_sorted = ops.take_along_axis(
        all_values, xp.argsort(stop_gradient(all_values), axis=-1), axis=-1
    )
    deltas = core.diff(all_sorted, axis=-1)
    queries = stop_gradient(all_sorted)[..., :-1]
    u_cdf = _cdf(u_values, u_weights, _count_at_most(xp.sort(u_raw, axis=-1), queries), normalize)
    v_cdf = _cdf(v_values, v_weights, _count_at_most(xp.sort(v_raw, axis=-1), queries), normalize)
    integrand = deltas * ops.power(ops.abs(u_cdf - v_cdf), p)
    return ops.power(ops.sum(integrand, axis=-1), 1.0 / p)


# -- kernel density ----------------------------------------------------------------------------
class KDEConsistencyLoss(Loss):
    """Symmetric kernel-density likelihood between two sets of sinusoids (in MIDI).

    ``weight_a * mean(-log p(a|b)) + weight_b * mean(-log p(b|a)) + weight_mean_amp *
    mean|mean(amps_a) - mean(amps_b)|``, where ``p(.|b)`` is a Gaussian mixture around b's
    frequencies (in MIDI, width ``scale_b``) weighted by b's normalised amplitudes, and the
    per-frame nll is ``mean_j(nll_j * amps_j / sum(amps))`` (a mean after normalising, as ddsp).

    Call arguments: ``(amps_a, freqs_a, amps_b, freqs_b)``, each ``[batch, n_frames, n]``.
    """

    def __init__(
        self,
        weight_a: float = 1.0,
        weight_b: float = 1.0,
        weight_mean_amp: float = 1.0,
        scale_a: float = 0.1,
        scale_b: float = 0.1,
        name: str | None = None,
    ):
        super().__init__(name=name)
        weights = {"weight_a": weight_a, "weight_b": weight_b, "weight_mean_amp": weight_mean_amp}
        scales = {"scale_a": scale_a, "scale_b": scale_b}
        set_checked(self, "KDEConsistencyLoss", weights=weights, positives=scales)

    def call(self, amps_a: Any, freqs_a: Any, amps_b: Any, freqs_b: Any) -> Any:
        amps_a, freqs_a, amps_b, freqs_b = map(to_float, (amps_a, freqs_a, amps_b, freqs_b))
        _check_sinusoids(self.name, amps_a=amps_a, freqs_a=freqs_a, amps_b=amps_b, freqs_b=freqs_b)
        loss = 0.0
        if self.weight_a > 0.0:
            loss_a = self.nll(amps_a, freqs_a, amps_b, freqs_b, self.scale_b)
            loss = loss + ops.mean(self.weight_a * loss_a)
        if self.weight_b > 0.0:
            loss_b = self.nll(amps_b, freqs_b, amps_a, freqs_a, self.scale_a)
            loss = loss + ops.mean(self.weight_b * loss_b)
        if self.weight_mean_amp > 0.0:
            mean_a, mean_b = ops.mean(amps_a, axis=-1), ops.mean(amps_b, axis=-1)
            loss = loss + self.weight_mean_amp * ops.mean(ops.abs(mean_a - mean_b))
        return loss

    def nll(
        self, amps: Any, freqs: Any, amps_target: Any, freqs_target: Any, scale_target: float
    ) -> Any:
        """``-log p(source | target)`` per frame ``[batch, n_frames]``."""
        loc, log_weights = self.kernel_density_estimate(amps_target, freqs_target)
        nll = -_mixture_log_prob(core.hz_to_midi(freqs), loc, log_weights, scale_target)
        amps_norm = core.safe_divide(amps, ops.sum(amps, axis=-1, keepdims=True))
        return ops.mean(nll * amps_norm, axis=-1)

    @staticmethod
    def kernel_density_estimate(amps: Any, freqs: Any) -> tuple[Any, Any]:
        """Mixture centres (MIDI) and log weights of the KDE around each sinusoid."""
        return core.hz_to_midi(freqs), _mixture_log_weights(to_float(amps))


# -- two-way mismatch --------------------------------------------------------------------------
class TWMLoss(Loss):
    """Differentiable two-way mismatch: do the sinusoids form a harmonic series of an f0?

    For every f0 candidate: ``-log p(sinusoids | harmonics)`` (a mixture of
    ``n_harmonic_gaussians`` unit-spaced Gaussians of width ``harmonics_scale`` on the ratio
    freq / f0, averaged over sinusoids weighted by amplitude) plus ``-log p(harmonics |
    sinusoids)`` (a KDE in MIDI of width ``sinusoids_scale`` around the sinusoids, evaluated at
    the candidate's first ``n_harmonic_points`` harmonics with prior weights linspace(1, 1/n, n),
    harmonics at or above Nyquist masked out and the rest re-weighted). The loss is
    ``mean(c * softmax(-c / softmin_temperature))`` over candidates of the combined cost c.

    Maher and Beauchamp (1994), "Fundamental frequency estimation of musical signals using a
    two-way mismatch procedure". The scale names follow ddsp (each names the Gaussians placed
    around the other set).

    Call arguments: ``(f0_candidates, freqs, amps)``: candidates [Hz] ``[batch, n_frames,
    n_candidates]``, sinusoid frequencies [Hz] and amplitudes (> 0) ``[batch, n_frames, n]``.
    """

    def __init__(
        self,
        sinusoids_weight: float = 1.0,
        harmonics_weight: float = 1.0,
        sinusoids_scale: float = 0.5,
        harmonics_scale: float = 0.2,
        n_harmonic_points: int = 10,
        n_harmonic_gaussians: int = 30,
        softmin_temperature: float = 1.0,
        sample_rate: int = 16000,
        name: str | None = None,
    ):
        super().__init__(name=name)
        weights = {"sinusoids_weight": sinusoids_weight, "harmonics_weight": harmonics_weight}
        positives = {
            "sinusoids_scale": sinusoids_scale,
            "harmonics_scale": harmonics_scale,
            "softmin_temperature": softmin_temperature,
            "sample_rate": sample_rate,
        }
        counts = {
            "n_harmonic_points": n_harmonic_points,
            "n_harmonic_gaussians": n_harmonic_gaussians,
        }
        set_checked(self, "TWMLoss", weights=weights, positives=positives, counts=counts)

    def call(self, f0_candidates: Any, freqs: Any, amps: Any) -> Any:
        combined = self._combined_loss(f0_candidates, freqs, amps)
        softmin = ops.exp(
            -combined / self.softmin_temperature
            - ops.logsumexp(-combined / self.softmin_temperature, axis=-1, keepdims=True)
        )
        return ops.mean(combined * softmin)

    def predict_f0(self, f0_candidates: Any, freqs: Any, amps: Any) -> Any:
        """The candidate of lowest cost per frame (NaN costs ignored): ``[batch, n_frames, 1]``."""
        loss = stop_gradient(self._combined_loss(f0_candidates, freqs, amps))
        xp = array_namespace(loss)
        index = xp.nanargmin(loss, axis=-1)[..., None]
        return xp.take_along_axis(stop_gradient(to_float(f0_candidates)), index, axis=-1)

    def _combined_loss(self, f0_candidates: Any, freqs: Any, amps: Any) -> Any:
        sinusoids_loss, harmonics_loss = self.get_loss_tensors(f0_candidates, freqs, amps)
        return self.sinusoids_weight * sinusoids_loss + self.harmonics_weight * harmonics_loss

    def get_loss_tensors(self, f0_candidates: Any, freqs: Any, amps: Any) -> tuple[Any, Any]:
        """``(-log p(sinusoids|harmonics), -log p(harmonics|sinusoids))``, each [b, t, cand]."""
        f0_candidates, freqs, amps = map(to_float, (f0_candidates, freqs, amps))
        _check_sinusoids(self.name, f0_candidates=f0_candidates, freqs=freqs, amps=amps)
        xp = array_namespace(f0_candidates, freqs, amps)
        # p(sinusoids | harmonics): ratios [b, t, cand, sinusoid] against Gaussians at 1..G.
        ratios = core.safe_divide(ops.expand_dims(freqs, 2), ops.expand_dims(f0_candidates, 3))
        n_gauss = self.n_harmonic_gaussians
        centres = xp.arange(1, n_gauss + 1, dtype=ratios.dtype)
        log_weights = xp.full(n_gauss, -math.log(n_gauss), dtype=ratios.dtype)
        nll_sinusoids = -_mixture_log_prob(ratios, centres, log_weights, self.harmonics_scale)
        a = ops.expand_dims(amps, 2)
        sinusoids_loss = core.safe_divide(ops.sum(nll_sinusoids * a, axis=-1), ops.sum(a, axis=-1))
        # p(harmonics | sinusoids): KDE around the sinusoids, at each candidate's harmonics.
        harmonics = self.get_candidate_harmonics(f0_candidates, as_midi=True)  # [b, t, c, h]
        loc = ops.expand_dims(core.hz_to_midi(freqs), 2)
        kde_weights = ops.expand_dims(_mixture_log_weights(amps), 2)
        nll_harmonics = -_mixture_log_prob(harmonics, loc, kde_weights, self.sinusoids_scale)
        n_points = self.n_harmonic_points
        prior = xp.linspace(1.0, 1.0 / n_points, n_points).astype(ratios.dtype)
        nyquist_midi = core.hz_to_midi(xp.asarray(self.sample_rate / 2.0, dtype=ratios.dtype))
        mask = (stop_gradient(harmonics) < nyquist_midi).astype(ratios.dtype)
        mask = core.safe_divide(mask, xp.mean(mask, axis=-1, keepdims=True))
        harmonics_loss = ops.mean(nll_harmonics * prior * mask, axis=-1)
        return sinusoids_loss, harmonics_loss

    def get_candidate_harmonics(self, f0_candidates: Any, as_midi: bool = True) -> Any:
        """Harmonic series ``f0 * [1..n_harmonic_points]`` ``[b, t, cand, n]`` (Hz or MIDI)."""
        f0_candidates = to_float(f0_candidates)
        xp = array_namespace(f0_candidates)
        n = xp.arange(1, self.n_harmonic_points + 1, dtype=f0_candidates.dtype)
        harmonics = ops.expand_dims(f0_candidates, -1) * n
        return core.hz_to_midi(harmonics) if as_midi else harmonics


for _cls in (
    FilteredNoiseConsistencyLoss,
    HarmonicConsistencyLoss,
    WassersteinConsistencyLoss,
    KDEConsistencyLoss,
    TWMLoss,
):
    register(_cls, module="ddsp_ref.losses")
del _cls
