"""Consistency losses (ddsp_ref.losses_consistency, re-exported by ddsp_ref.losses) against
numpy / scipy formulas written here, HMM against brute-force enumeration, gradients, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

import ddsp_ref
from ddsp_ref import check_grads, losses

SMALL = settings(max_examples=6, deadline=None)


def np_midi(f_hz):
    f_hz = np.asarray(f_hz, np.float64)
    return np.where(f_hz > 0, 12.0 * np.log2(np.where(f_hz > 0, f_hz, 1.0) / 440.0) + 69.0, 0.0)


def np_mixture_logpdf(x, loc, weights, scale):
    """log sum_k w_k N(x; loc_k, scale) for x [..., m], loc / weights [..., k] -> [..., m]."""
    comp = scipy.stats.norm.logpdf(x[..., :, None], loc[..., None, :], scale)
    return logsumexp(comp + np.log(weights)[..., None, :], axis=-1)


def np_kde_weights(amps):
    amps = np.where(amps == 0, 1e-7, amps)
    return amps / amps.sum(-1, keepdims=True)


def sinusoids(seed, shape=(2, 3, 4)):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.1, 1.0, shape), rng.uniform(100.0, 2000.0, shape)


# -- control consistency -----------------------------------------------------------------------
def test_amp_and_freq_loss_against_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 1, (2, 5, 3)), rng.uniform(0, 1, (2, 5, 3))
    a[0, 0, 0] = 0.0  # below amin: clamped
    w = rng.uniform(0, 1, (2, 5, 1))
    np.testing.assert_allclose(losses.amp_loss(a, b), np.mean(np.abs(a - b)), rtol=1e-12)
    log_a, log_b = np.log10(np.maximum(1e-5, a)), np.log10(np.maximum(1e-5, b))
    np.testing.assert_allclose(
        losses.amp_loss(a, b, "L2", w, log=True), np.mean((log_a - log_b) ** 2 * w), rtol=1e-10
    )
    f, g = rng.uniform(50, 1000, (2, 5, 1)), rng.uniform(50, 1000, (2, 5, 1))
    np.testing.assert_allclose(
        losses.freq_loss(f, g, weights=w),
        np.mean(np.abs((np_midi(f) - np_midi(g)) * w)),
        rtol=1e-10,
    )


def test_filtered_noise_and_harmonic_consistency():
    rng = np.random.default_rng(1)
    m, mt = rng.uniform(0, 1, (2, 4, 6)), rng.uniform(0, 1, (2, 4, 6))
    np.testing.assert_allclose(
        losses.FilteredNoiseConsistencyLoss(2.0)(m, mt), 2.0 * np.mean(np.abs(m - mt)), rtol=1e-12
    )
    amp, amp_t = rng.uniform(0, 1, (2, 4, 1)), rng.uniform(0, 1, (2, 4, 1))
    amp_t[0, :2] = 1e-5  # below the threshold: masked
    dist, dist_t = rng.uniform(0, 1, (2, 2, 4, 3))
    f0, f0_t = rng.uniform(100, 500, (2, 2, 4, 1))
    loss = losses.HarmonicConsistencyLoss(amp_weight=1.0, dist_weight=2.0, f0_weight=3.0)
    result = loss(amp, amp_t, dist, dist_t, f0, f0_t)
    mask = (amp_t >= 1e-4).astype(float)
    np.testing.assert_allclose(result["harm_amp_loss"], np.mean(np.abs(amp - amp_t)))
    np.testing.assert_allclose(
        result["harm_dist_loss"], 2.0 * np.mean(np.abs((dist - dist_t) * mask))
    )
    np.testing.assert_allclose(
        result["f0_hz_loss"], 3.0 * np.mean(np.abs((np_midi(f0) - np_midi(f0_t)) * mask))
    )
    assert loss.get_losses_dict(amp, amp_t, dist, dist_t, f0, f0_t).keys() == result.keys()


def test_control_losses_gradients():
    rng = np.random.default_rng(2)
    a, b = rng.uniform(0.1, 1, (2, 3, 4)), rng.uniform(0.1, 1, (2, 3, 4))
    check_grads(lambda x, y: losses.amp_loss(x, y, "L2", log=True), a, b)
    check_grads(lambda x, y: losses.freq_loss(100 * x, 100 * y, "L1"), a, b)
    f0, f0_t = rng.uniform(100, 500, (2, 2, 3, 1))
    harmonic = losses.HarmonicConsistencyLoss()
    check_grads(
        lambda x, d, f: sum(harmonic(x, b[..., :1], d, b, f, f0_t).values()), a[..., :1], a, f0
    )


# -- Wasserstein -------------------------------------------------------------------------------
def _scipy_rows(fun, *arrays):
    flat = [x.reshape(-1, x.shape[-1]) for x in arrays]
    out = [fun(*row) for row in zip(*flat, strict=True)]
    return np.array(out).reshape(arrays[0].shape[:-1])


def test_wasserstein_matches_scipy():
    rng = np.random.default_rng(3)
    u, v = rng.uniform(0, 10, (2, 3, 5)), rng.uniform(0, 10, (2, 3, 4))
    uw, vw = rng.uniform(0.1, 1, (2, 3, 5)), rng.uniform(0.1, 1, (2, 3, 4))
    np.testing.assert_allclose(
        losses.wasserstein_distance(u, v),
        _scipy_rows(scipy.stats.wasserstein_distance, u, v),
        rtol=1e-10,
    )
    np.testing.assert_allclose(
        losses.wasserstein_distance(u, v, uw, vw, normalize=True),
        _scipy_rows(scipy.stats.wasserstein_distance, u, v, uw, vw),
        rtol=1e-10,
    )
    # Weights that already sum to 1: ddsp's unnormalised CDFs are the true ones.
    un, vn = uw / uw.sum(-1, keepdims=True), vw / vw.sum(-1, keepdims=True)
    np.testing.assert_allclose(
        losses.wasserstein_distance(u, v, un, vn),
        _scipy_rows(scipy.stats.wasserstein_distance, u, v, un, vn),
        rtol=1e-10,
    )
    # p = 2 against the integral written out on a grid-free formula: sorted union, CDF gaps.
    x = np.sort(np.concatenate([u, v], -1), -1)
    cu = (u[..., None, :] <= x[..., :-1, None]).mean(-1)
    cv = (v[..., None, :] <= x[..., :-1, None]).mean(-1)
    expected = np.sqrt(np.sum(np.diff(x, axis=-1) * (cu - cv) ** 2, -1))
    np.testing.assert_allclose(losses.wasserstein_distance(u, v, p=2.0), expected, rtol=1e-10)


def test_wasserstein_keeps_ddsps_unnormalised_cdf_quirk():
    rng = np.random.default_rng(4)
    u, v = rng.uniform(0, 10, (3, 5)), rng.uniform(0, 10, (3, 5))
    uw, vw = rng.uniform(0.1, 1, (3, 5)), rng.uniform(0.1, 1, (3, 5))
    base = losses.wasserstein_distance(u, v, uw, vw)
    np.testing.assert_allclose(
        losses.wasserstein_distance(u, v, 3 * uw, 3 * vw), 3 * base, rtol=1e-12
    )
    normalized = losses.wasserstein_distance(u, v, 3 * uw, 3 * vw, normalize=True)
    np.testing.assert_allclose(
        normalized, losses.wasserstein_distance(u, v, uw, vw, normalize=True)
    )


def test_wasserstein_consistency_loss():
    amps_a, freqs_a = sinusoids(5)
    amps_b, freqs_b = sinusoids(6)
    expected = 2.0 * np.mean(
        _scipy_rows(
            lambda *r: _unnormalised_w1(*r), np_midi(freqs_a), np_midi(freqs_b), amps_a, amps_b
        )
    )
    loss = losses.WassersteinConsistencyLoss(weight=2.0)
    np.testing.assert_allclose(loss(amps_a, freqs_a, amps_b, freqs_b), expected, rtol=1e-10)
    assert losses.WassersteinConsistencyLoss(midi=False)(amps_a, freqs_a, amps_b, freqs_b) == 0.0


def _unnormalised_w1(u, v, uw, vw):
    x = np.sort(np.concatenate([u, v]))
    cu = np.array([uw[u <= q].sum() for q in x[:-1]])
    cv = np.array([vw[v <= q].sum() for q in x[:-1]])
    return np.sum(np.diff(x) * np.abs(cu - cv))


@SMALL
@given(st.integers(2, 5), st.integers(2, 5), st.sampled_from([1.0, 2.0]))
def test_wasserstein_gradients(n_u, n_v, p):
    rng = np.random.default_rng(n_u * 10 + n_v)
    u, v = rng.uniform(0, 10, (2, n_u)), rng.uniform(0, 10, (2, n_v))
    uw, vw = rng.uniform(0.1, 1, (2, n_u)), rng.uniform(0.1, 1, (2, n_v))
    check_grads(lambda a, b, c, d: losses.wasserstein_distance(a, b, c, d, p=p), u, v, uw, vw)


# -- KDE ---------------------------------------------------------------------------------------
def np_kde_nll(amps, freqs, amps_t, freqs_t, scale):
    nll = -np_mixture_logpdf(np_midi(freqs), np_midi(freqs_t), np_kde_weights(amps_t), scale)
    return np.mean(nll * amps / amps.sum(-1, keepdims=True), -1)


def test_kde_consistency_against_numpy():
    amps_a, freqs_a = sinusoids(7)
    amps_b, freqs_b = sinusoids(8)
    amps_b[0, 0, 1] = 0.0  # zero amplitude: weight 1e-7 in the KDE
    loss = losses.KDEConsistencyLoss(
        weight_a=1.0, weight_b=0.5, weight_mean_amp=2.0, scale_a=3.0, scale_b=5.0
    )
    expected = (
        np.mean(np_kde_nll(amps_a, freqs_a, amps_b, freqs_b, 5.0))
        + 0.5 * np.mean(np_kde_nll(amps_b, freqs_b, amps_a, freqs_a, 3.0))
        + 2.0 * np.mean(np.abs(amps_a.mean(-1) - amps_b.mean(-1)))
    )
    np.testing.assert_allclose(loss(amps_a, freqs_a, amps_b, freqs_b), expected, rtol=1e-10)


def test_kde_consistency_gradients():
    amps_a, freqs_a = sinusoids(9, (1, 2, 3))
    amps_b, freqs_b = sinusoids(10, (1, 2, 3))
    loss = losses.KDEConsistencyLoss(scale_a=4.0, scale_b=4.0)
    check_grads(lambda a, f, b, g: loss(a, f, b, g), amps_a, freqs_a, amps_b, freqs_b)


# -- TWM ---------------------------------------------------------------------------------------
def np_twm_terms(
    f0, freqs, amps, sin_scale=0.5, harm_scale=0.2, n_points=10, n_gauss=30, sample_rate=16000
):
    ratios = freqs[:, :, None, :] / f0[:, :, :, None]
    centres = np.arange(1, n_gauss + 1.0)
    logp = logsumexp(scipy.stats.norm.logpdf(ratios[..., None], centres, harm_scale), -1)
    nll_sin = -(logp - np.log(n_gauss))
    a = amps[:, :, None, :]
    sin_loss = np.sum(nll_sin * a, -1) / np.sum(a, -1)
    harmonics = np_midi(f0[..., None] * np.arange(1, n_points + 1))  # [b, t, c, h]
    loc, w = np_midi(freqs), np_kde_weights(amps)
    comp = scipy.stats.norm.logpdf(harmonics[..., None], loc[:, :, None, None, :], sin_scale)
    nll_harm = -logsumexp(comp + np.log(w)[:, :, None, None, :], -1)
    prior = np.linspace(1.0, 1.0 / n_points, n_points)
    mask = (harmonics < np_midi(sample_rate / 2)).astype(float)
    mask = mask / mask.mean(-1, keepdims=True)
    return sin_loss, np.mean(nll_harm * prior * mask, -1)


def test_twm_against_numpy():
    rng = np.random.default_rng(11)
    f0 = rng.uniform(80, 1000, (2, 3, 4))
    f0[0, 0, 0] = 3000.0  # some harmonics above Nyquist: masked and re-weighted
    amps, freqs = sinusoids(12, (2, 3, 5))
    loss = losses.TWMLoss(sinusoids_weight=0.7, harmonics_weight=1.3, softmin_temperature=2.0)
    s, h = np_twm_terms(f0, freqs, amps)
    got_s, got_h = loss.get_loss_tensors(f0, freqs, amps)
    np.testing.assert_allclose(got_s, s, rtol=1e-10)
    np.testing.assert_allclose(got_h, h, rtol=1e-10)
    combined = 0.7 * s + 1.3 * h
    softmin = np.exp(-combined / 2.0 - logsumexp(-combined / 2.0, -1, keepdims=True))
    np.testing.assert_allclose(loss(f0, freqs, amps), np.mean(combined * softmin), rtol=1e-10)
    np.testing.assert_array_equal(
        loss.predict_f0(f0, freqs, amps),
        np.take_along_axis(f0, combined.argmin(-1)[..., None], axis=-1),
    )


def test_twm_picks_the_fundamental_of_a_full_harmonic_series():
    f0 = np.array([[[100.0, 150.0, 200.0, 300.0, 400.0]]])
    freqs = 200.0 * np.arange(1, 11)[None, None, :]
    amps = np.ones_like(freqs)
    np.testing.assert_array_equal(losses.TWMLoss().predict_f0(f0, freqs, amps), [[[200.0]]])


def test_twm_gradients():
    amps, freqs = sinusoids(13, (1, 2, 3))
    f0 = np.random.default_rng(14).uniform(100, 400, (1, 2, 2))
    loss = losses.TWMLoss(sinusoids_scale=2.0, harmonics_scale=0.5)
    check_grads(lambda c, f, a: loss(c, f, a), f0, freqs, amps)


# -- HMM transcriber ---------------------------------------------------------------------------
def _brute_force_hmm(hmm, pitch, amps):
    """log p(observations) and the best path by enumerating every state sequence."""
    obs = np.stack([pitch[0, :, 0], amps[0, :, 0]], -1)
    emission = scipy.stats.norm.logpdf(obs[:, None, :], hmm.loc, hmm.scale).sum(-1)  # [T, S]
    n_states, n_steps = hmm.n_pitches, hmm.n_timesteps
    scores = {}
    for path in itertools.product(range(n_states), repeat=n_steps):
        score = -np.log(n_states) + emission[0, path[0]]
        for t in range(1, n_steps):
            score += hmm.log_transitions[path[t - 1], path[t]] + emission[t, path[t]]
        scores[path] = score
    return logsumexp(list(scores.values())), max(scores, key=scores.get)


def test_hmm_transcriber_against_brute_force():
    hmm = losses.HmmTranscriber(avg_length=3, midi_std=0.7, n_timesteps=4, n_pitches=4, weight=2.0)
    pitch = np.array([[[1.2], [0.8], [3.1], [2.0]]])
    amps = np.array([[[1.4], [0.05], [1.7], [1.2]]])
    log_p, best = _brute_force_hmm(hmm, pitch, amps)
    np.testing.assert_allclose(hmm(pitch, amps), 2.0 * -log_p / 4, rtol=1e-10)
    np.testing.assert_array_equal(hmm.predict_midi(pitch, amps)[0, :, 0], best)
    assert hmm.predict_midi(pitch, amps, channel_dim=False).shape == (1, 4)
    check_grads(lambda p, a: hmm.nll(p, a), pitch, amps)


def test_hmm_transition_matrix_and_straight_through():
    hmm = losses.HmmTranscriber(avg_length=200, n_pitches=128, n_timesteps=2)
    transitions = np.exp(hmm.log_transitions)
    np.testing.assert_allclose(transitions.sum(1), 1.0)
    np.testing.assert_allclose(np.diag(transitions), 1 - 1 / 200)
    x = np.array([0.3, 1.7])
    value, grad = ddsp_ref.value_and_grad(
        lambda v: (losses.HmmTranscriber.straight_through(v, np.round(x)) * 3.0).sum()
    )(x)
    np.testing.assert_allclose(value, 3.0 * np.round(x).sum())
    np.testing.assert_allclose(grad, [3.0, 3.0])


# -- bad input ---------------------------------------------------------------------------------
def test_consistency_losses_bad_input():
    amps, freqs = sinusoids(15)
    with pytest.raises(ValueError, match="same batch and frames"):
        losses.KDEConsistencyLoss()(amps, freqs, amps[:1], freqs[:1])
    with pytest.raises(ValueError, match="same batch and frames"):
        losses.TWMLoss()(freqs[..., :1], freqs, amps[:, :2])
    with pytest.raises(ValueError, match="softmin_temperature"):
        losses.TWMLoss(softmin_temperature=0.0)
    with pytest.raises(ValueError, match="scale_a must be a positive"):
        losses.KDEConsistencyLoss(scale_a=0.0)
    with pytest.raises(ValueError, match="p must be a positive"):
        losses.wasserstein_distance(freqs, freqs, p=0)
    with pytest.raises(ValueError, match="at least one sample"):
        losses.wasserstein_distance(freqs[..., :0], freqs)
    empty = amps[:, :0]
    for loss in (losses.KDEConsistencyLoss(), losses.WassersteinConsistencyLoss()):
        with pytest.raises(ValueError, match="non-empty"):
            loss(empty, empty, empty, empty)
    with pytest.raises(ValueError, match="non-empty"):
        losses.TWMLoss()(empty[..., :1], empty, empty)
    bad_weights = [
        (losses.FilteredNoiseConsistencyLoss, "weight", "x"),
        (losses.HarmonicConsistencyLoss, "amp_threshold", np.nan),
        (losses.WassersteinConsistencyLoss, "weight", None),
        (losses.KDEConsistencyLoss, "weight_b", np.inf),
        (losses.TWMLoss, "sample_rate", 0),
        (losses.TWMLoss, "n_harmonic_points", 2.5),
        (losses.EmbeddingLoss, "weight", "1"),
        (losses.HmmTranscriber, "n_pitches", 0),
        (losses.ParamLoss, "weight", np.nan),
    ]
    for cls, key, value in bad_weights:
        with pytest.raises(ValueError, match=f"{cls.__name__}: {key} must be"):
            cls(**{key: value})
    with pytest.raises(TypeError, match="amp must be real"):
        losses.amp_loss(amps + 1j, amps)
    with pytest.raises(ValueError, match="u_weights"):
        losses.wasserstein_distance(freqs, freqs, amps[..., :2], amps)
    with pytest.raises(ValueError, match="batch shapes differ"):
        losses.wasserstein_distance(freqs, freqs[:1])
    with pytest.raises(ValueError, match=r"\[batch, 5, 1\]"):
        losses.HmmTranscriber(n_timesteps=5)(np.zeros((1, 4, 1)), np.zeros((1, 4, 1)))


@SMALL
@given(st.integers(1, 3), st.integers(2, 4))
def test_simple_consistency_losses_gradients(frames, n):
    amps_a, freqs_a = sinusoids(frames * 10 + n, (1, frames, n))
    amps_b, freqs_b = sinusoids(frames * 10 + n + 1, (1, frames, n))
    noise = losses.FilteredNoiseConsistencyLoss(weight=0.5)
    check_grads(lambda a, b: noise(a, b), amps_a, amps_b)
    wasserstein = losses.WassersteinConsistencyLoss(weight=2.0)
    check_grads(lambda a, f, b, g: wasserstein(a, f, b, g), amps_a, freqs_a, amps_b, freqs_b)
