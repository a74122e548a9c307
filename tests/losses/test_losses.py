"""ddsp_ref.losses: golden case, mean_difference and every SpectralLoss term against numpy,
fused vs composed spectral paths, MelSpectralLoss, LossGroup, embedding losses, gradients and
bad input. (Consistency losses: tests/losses/test_consistency.py.)"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ddsp_ref
from ddsp_ref import check_grads, losses, spectral_ops
from ddsp_ref.backend import to_numpy
from tests.golden_util import replay

SMALL = settings(max_examples=6, deadline=None)


# -- independent float64 references -------------------------------------------------------------
def np_hann(size):
    """tf.signal.hann_window(periodic=True): denominator size (even) or size - 1 (odd)."""
    den = size if size % 2 == 0 else size - 1
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(size) / den)


def np_mag(x, size):
    """|tf.signal.stft(x, size, size // 4, fft_length=next pow2, pad_end=True)| in numpy."""
    x = np.atleast_2d(np.asarray(x, np.float64))
    hop = size // 4
    n_frames = -(-x.shape[-1] // hop)
    padded = np.pad(x, [(0, 0), (0, (n_frames - 1) * hop + size - x.shape[-1])])
    index = np.arange(n_frames)[:, None] * hop + np.arange(size)
    n_fft = 1 << (size - 1).bit_length()
    return np.abs(np.fft.rfft(padded[:, index] * np_hann(size), n=n_fft, axis=-1))


def np_safe_log(x):
    return np.log(np.where(x <= 0, 1e-5, x))


def np_terms(t, a, size):
    """Each SpectralLoss term of one size, L1."""
    mt, ma = np_mag(t, size), np_mag(a, size)
    return {
        "mag_weight": np.mean(np.abs(mt - ma)),
        "delta_time_weight": np.mean(np.abs(np.diff(mt, axis=1) - np.diff(ma, axis=1))),
        "delta_freq_weight": np.mean(np.abs(np.diff(mt, axis=2) - np.diff(ma, axis=2))),
        "cumsum_freq_weight": np.mean(np.abs(np.cumsum(mt, 2) - np.cumsum(ma, 2))),
        "logmag_weight": np.mean(np.abs(np_safe_log(mt) - np_safe_log(ma))),
    }


TERMS = [
    "mag_weight",
    "delta_time_weight",
    "delta_freq_weight",
    "cumsum_freq_weight",
    "logmag_weight",
]


def only(term, **kwargs):
    weights = {k: 0.0 for k in TERMS}
    weights[term] = 1.0
    return losses.SpectralLoss(**weights, **kwargs)


@pytest.fixture
def audio_pair():
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, (2, 300)), rng.uniform(-1, 1, (2, 300))


# -- golden ------------------------------------------------------------------------------------
def test_golden_spectral_loss_mag_logmag(xp):
    # Measured on numpy: value 6.6e-8, gradient 1.3e-5 relative error (the L1 sign flips where
    # float32 magnitudes of target and audio nearly tie); cupy (not measured here) keeps the
    # defaults.
    tol = dict(fwd_tol=3e-7, grad_tol=3e-5) if xp is np else {}
    replay("spectral_loss_mag_logmag", xp=xp, **tol)


def test_golden_through_the_composed_path():
    # weights=1.0 takes the op-composed path; same numbers as the fused one and as TF.
    from tests.golden_util import load_case, rel_err

    spec, arrays = load_case("spectral_loss_mag_logmag")
    loss = losses.SpectralLoss(**spec["init"])
    target, cot = arrays["arg0"], arrays["cot0"]
    value, grad = ddsp_ref.value_and_grad(lambda a: loss(target, a, 1.0) * cot)(arrays["arg1"])
    assert rel_err(value / cot, arrays["out0"]) < 1e-5
    assert rel_err(grad, arrays["grad1"]) < 1e-4


# -- mean_difference ---------------------------------------------------------------------------
def test_mean_difference_against_numpy():
    rng = np.random.default_rng(1)
    t, v = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 4, 5))
    w = rng.uniform(0, 2, (3, 4, 1))
    d = t - v
    np.testing.assert_allclose(losses.mean_difference(t, v), np.mean(np.abs(d)), rtol=1e-12)
    np.testing.assert_allclose(
        losses.mean_difference(t, v, "l1", w), np.mean(np.abs(d * w)), rtol=1e-12
    )
    np.testing.assert_allclose(losses.mean_difference(t, v, "L2"), np.mean(d**2), rtol=1e-12)
    np.testing.assert_allclose(losses.mean_difference(t, v, "l2", w), np.mean(d**2 * w), rtol=1e-12)


def test_mean_difference_cosine_is_tf1_cosine_distance():
    rng = np.random.default_rng(2)
    t, v = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 4, 5))
    per_vector = 1.0 - np.sum(t * v, axis=-1, keepdims=True)  # [3, 4, 1]
    np.testing.assert_allclose(
        losses.mean_difference(t, v, "cosine"), per_vector.mean(), rtol=1e-12
    )
    # Weighted: sum of weighted losses over the number of non-zero weights.
    w = np.array([[1.0], [0.0], [2.0], [0.5]])  # broadcasts to [3, 4, 1]
    expected = np.sum(per_vector * w) / np.count_nonzero(np.broadcast_to(w, per_vector.shape))
    np.testing.assert_allclose(losses.mean_difference(t, v, "COSINE", w), expected, rtol=1e-12)
    assert float(losses.mean_difference(t, v, "COSINE", np.zeros((4, 1)))) == 0.0


def test_mean_difference_float_policy():
    t = np.ones((2, 3), np.float32)
    assert losses.mean_difference(t, np.zeros((2, 3), np.float32)).dtype == np.float32
    assert (
        losses.mean_difference(t.astype(np.float64), 0.0 * t.astype(np.float64)).dtype == np.float64
    )


def test_mean_difference_bad_input():
    a = np.zeros((2, 3))
    with pytest.raises(ValueError, match="Loss type.*L3"):
        losses.mean_difference(a, a, "L3")
    with pytest.raises(ValueError, match=r"target \(2, 3\), value \(2, 4\)"):
        losses.mean_difference(a, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="weights"):
        losses.mean_difference(a, a, "L1", np.ones((5,)))
    with pytest.raises(ValueError, match="same shape"):
        losses.mean_difference(a, np.zeros((1, 3)), "COSINE")
    with pytest.raises(ValueError, match="broadcast to the per-vector"):
        losses.mean_difference(a, a, "COSINE", np.ones((2, 3)))


@SMALL
@given(st.sampled_from(["L1", "L2", "COSINE"]), st.integers(1, 3), st.integers(1, 4))
def test_mean_difference_gradients(loss_type, rows, cols):
    rng = np.random.default_rng(rows * 10 + cols)
    t, v = rng.standard_normal((rows, cols)), rng.standard_normal((rows, cols))
    w = rng.uniform(0.5, 2.0, (rows, 1))
    check_grads(lambda a, b: losses.mean_difference(a, b, loss_type, w), t, v)


# -- SpectralLoss: every term against numpy ----------------------------------------------------
@pytest.mark.parametrize("term", TERMS)
def test_each_spectral_term_against_numpy(term, audio_pair):
    t, a = audio_pair
    sizes = (64, 32, 12)  # 12: a non-power-of-2 frame, zero padded to a 16-point FFT
    expected = sum(np_terms(t, a, s)[term] for s in sizes)  # summed over sizes, not averaged
    got = only(term, fft_sizes=sizes)(t, a)
    np.testing.assert_allclose(float(got), expected, rtol=1e-10)
    assert float(only(term, fft_sizes=sizes)(t, t)) == 0.0


def test_spectral_l2_and_weights_against_numpy(audio_pair):
    t, a = audio_pair
    mt, ma = np_mag(t, 32), np_mag(a, 32)
    w = np.array([[[0.5]], [[2.0]]])
    loss = losses.SpectralLoss(fft_sizes=(32,), loss_type="L2", mag_weight=0.3, logmag_weight=2.0)
    expected = 0.3 * np.mean((mt - ma) ** 2) + 2.0 * np.mean(
        (np_safe_log(mt) - np_safe_log(ma)) ** 2
    )
    np.testing.assert_allclose(float(loss(t, a)), expected, rtol=1e-10)
    expected_w = 0.3 * np.mean((mt - ma) ** 2 * w) + 2.0 * np.mean(
        (np_safe_log(mt) - np_safe_log(ma)) ** 2 * w
    )
    np.testing.assert_allclose(float(loss(t, a, w)), expected_w, rtol=1e-10)


def test_loudness_term_compares_compute_loudness(audio_pair):
    t, a = audio_pair
    loss = losses.SpectralLoss(fft_sizes=(64,), mag_weight=0.0, loudness_weight=0.5)
    expected = 0.5 * np.mean(
        np.abs(
            to_numpy(spectral_ops.compute_loudness(t, n_fft=2048))
            - to_numpy(spectral_ops.compute_loudness(a, n_fft=2048))
        )
    )
    np.testing.assert_allclose(float(loss(t, a)), expected, rtol=1e-10)
    assert float(loss(t, t)) == 0.0


def test_spectral_loss_zero_on_identical_positive_otherwise(audio_pair):
    t, a = audio_pair
    everything = losses.SpectralLoss(
        fft_sizes=(64, 16),
        mag_weight=1,
        delta_time_weight=1,
        delta_freq_weight=1,
        cumsum_freq_weight=1,
        logmag_weight=1,
        loudness_weight=1,
    )
    assert float(everything(t, t)) == 0.0
    assert float(everything(t, a)) > 0.0
    assert np.isfinite(float(everything(np.ones((3, 8000)), np.ones((3, 8000)))))  # ddsp's test


# -- fused path == composed path, including the zero-magnitude rules ---------------------------
def _silent_pair():
    rng = np.random.default_rng(3)
    t = rng.uniform(-1, 1, (2, 200))
    t[0, :120] = 0.0  # exact zeros: |X| == 0 frames, safe_log reads log(1e-5)
    a = rng.uniform(-1, 1, (2, 200)) * 1e-7  # magnitudes below 1e-5: safe_log does not floor
    a[1, 50:] = 0.0
    return t, a


@pytest.mark.parametrize("loss_type", ["L1", "L2"])
@pytest.mark.parametrize("kernels", ["compiled", "compiled, small chunks", "reference"])
def test_fused_equals_composed(loss_type, kernels, monkeypatch):
    if kernels == "reference":
        monkeypatch.setenv("DDSP_REF_KERNELS", "reference")
    if kernels == "compiled, small chunks":  # many chunks on the thread pool, overlapping OLA
        from ddsp_ref.kernels import spectral_loss_cpu

        monkeypatch.setattr(spectral_loss_cpu, "CHUNK", 300)
    t, a = _silent_pair()
    loss = losses.SpectralLoss(
        fft_sizes=(32, 9, 8), loss_type=loss_type, mag_weight=0.7, logmag_weight=1.3
    )
    vg = ddsp_ref.value_and_grad(lambda x, y, w: loss(x, y, w), argnums=(0, 1))
    (v1, g1), (v2, g2) = vg(t, a, None), vg(t, a, 1.0)
    np.testing.assert_allclose(v1, v2, rtol=1e-12)
    for p, q in zip(g1, g2, strict=True):
        assert np.all(np.isfinite(p))
        np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12 * np.abs(q).max())


def test_spectral_loss_on_cupy_matches_numpy(xp, audio_pair):
    t, a = (x.astype(np.float32) for x in audio_pair)
    loss = losses.SpectralLoss(fft_sizes=(64, 16), logmag_weight=1.0)
    value, grad = ddsp_ref.value_and_grad(lambda y: loss(xp.asarray(t), y))(xp.asarray(a))
    ref_value, ref_grad = ddsp_ref.value_and_grad(lambda y: loss(t, y))(a)
    np.testing.assert_allclose(to_numpy(value), ref_value, rtol=1e-5)
    np.testing.assert_allclose(to_numpy(grad), ref_grad, rtol=1e-4, atol=1e-7)


def test_spectral_loss_shapes_and_dtype():
    t = np.random.default_rng(5).uniform(-1, 1, (2, 100)).astype(np.float32)
    loss = losses.SpectralLoss(fft_sizes=(16,), logmag_weight=1.0)
    assert loss(t, t[:, ::-1].copy()).dtype == np.float32
    # [batch, n, 1] is squeezed and [n] is one example, as tf.signal.stft in ddsp.
    np.testing.assert_allclose(loss(t[..., None], t[::-1, :, None]), loss(t, t[::-1]))
    np.testing.assert_allclose(
        loss(t[0], t[1]), losses.SpectralLoss((16,), logmag_weight=1.0)(t[:1], t[1:])
    )


# -- gradients ---------------------------------------------------------------------------------
@SMALL
@given(st.integers(1, 2), st.integers(20, 70), st.sampled_from(["L1", "L2"]))
def test_spectral_loss_fused_gradients(batch, n_samples, loss_type):
    rng = np.random.default_rng(batch * 100 + n_samples)
    t, a = rng.uniform(-1, 1, (batch, n_samples)), rng.uniform(-1, 1, (batch, n_samples))
    loss = losses.SpectralLoss(fft_sizes=(16, 8), loss_type=loss_type, logmag_weight=1.0)
    # log|X| curves sharply where the zero-padded last frames have tiny magnitudes: small step.
    check_grads(lambda x, y: loss(x, y), t, a, eps=1e-7)


@SMALL
@given(st.integers(30, 60), st.sampled_from(["L1", "L2", "COSINE"]))
def test_spectral_loss_composed_gradients(n_samples, loss_type):
    rng = np.random.default_rng(n_samples)
    t, a = rng.uniform(-1, 1, (2, n_samples)), rng.uniform(-1, 1, (2, n_samples))
    loss = losses.SpectralLoss(
        fft_sizes=(16,),
        loss_type=loss_type,
        delta_time_weight=1.0,
        delta_freq_weight=0.5,
        cumsum_freq_weight=0.1,
        logmag_weight=1.0,
    )
    check_grads(lambda x, y: loss(x, y), t, a, eps=1e-7)


def test_loudness_term_gradient(audio_pair):
    t, a = audio_pair
    loss = losses.SpectralLoss(fft_sizes=(16,), mag_weight=0.0, loudness_weight=1.0)
    check_grads(lambda y: loss(t[:, :100], y), a[:, :100])


# -- MelSpectralLoss ---------------------------------------------------------------------------
def test_mel_spectral_loss_against_numpy(audio_pair):
    t, a = audio_pair
    loss = losses.MelSpectralLoss(
        fft_sizes=(64, 32), mel_bins=(8, 4), mag_weight=1.0, logmag_weight=0.5
    )
    expected = 0.0
    for size, bins in ((64, 8), (32, 4)):
        matrix = spectral_ops.linear_to_mel_weight_matrix(
            bins, size // 2 + 1, 16000, 0.0, 8000.0, np.float64
        )
        mt, ma = np_mag(t, size) @ matrix, np_mag(a, size) @ matrix
        expected += np.mean(np.abs(mt - ma)) + 0.5 * np.mean(
            np.abs(np_safe_log(mt) - np_safe_log(ma))
        )
    np.testing.assert_allclose(float(loss(t, a)), expected, rtol=1e-10)
    assert float(loss(t, t)) == 0.0
    assert losses.MelSpectralLoss().mel_bins == (128, 64, 32, 16, 8, 4)


@SMALL
@given(st.integers(40, 80))
def test_mel_spectral_loss_gradients(n_samples):
    rng = np.random.default_rng(n_samples)
    t, a = rng.uniform(-1, 1, (1, n_samples)), rng.uniform(-1, 1, (1, n_samples))
    loss = losses.MelSpectralLoss(fft_sizes=(32, 16), mel_bins=4)
    check_grads(lambda y: loss(t, y), a)


# -- LossGroup ---------------------------------------------------------------------------------
def test_loss_group_runs_the_dag_and_merges_dicts(audio_pair):
    t, a = audio_pair
    spectral = losses.SpectralLoss(fft_sizes=(32,))
    param = losses.ParamLoss(weight=2.0)
    harmonic = losses.HarmonicConsistencyLoss()
    rng = np.random.default_rng(6)
    ctrl = {k: rng.uniform(0.1, 1, (1, 5, 1)) for k in ("amp", "amp_t", "f0", "f0_t")}
    ctrl["dist"], ctrl["dist_t"] = rng.uniform(0, 1, (2, 1, 5, 3))
    outputs = {
        "audio": t,
        "synth": {"signal": a},
        "params": {"pred": a[:, :7], "target": t[:, :7]},
        "ctrl": ctrl,
    }
    group = losses.LossGroup(
        dag=[
            ("spectral_loss", ["audio", "synth/signal"]),
            (param, ["params/pred", "params/target"]),
            (
                harmonic,
                ["ctrl/amp", "ctrl/amp_t", "ctrl/dist", "ctrl/dist_t", "ctrl/f0", "ctrl/f0_t"],
            ),
        ],
        spectral_loss=spectral,
    )
    result = group(outputs, training=True)  # keras' training flag is forwarded and dropped
    assert set(result) == {
        "spectral_loss",
        "param_loss",
        "harm_amp_loss",
        "harm_dist_loss",
        "f0_hz_loss",
    }
    np.testing.assert_allclose(result["spectral_loss"], spectral(t, a))
    np.testing.assert_allclose(result["param_loss"], 2.0 * np.mean(np.abs(a[:, :7] - t[:, :7])))
    np.testing.assert_allclose(
        result["harm_amp_loss"], np.mean(np.abs(ctrl["amp"] - ctrl["amp_t"]))
    )
    assert group.get_losses_dict(outputs).keys() == result.keys()
    assert group.loss_names == ["spectral_loss", "param_loss", "harmonic_consistency_loss"]
    assert group.losses[0] is spectral

    # Gradients flow from the summed dict to the audio.
    def total(signal):
        out = dict(outputs, synth={"signal": signal})
        return sum(group(out).values())

    check_grads(total, a)


@SMALL
@given(st.sampled_from(["L1", "L2", "COSINE"]), st.integers(1, 4))
def test_param_loss_against_numpy_and_gradients(loss_type, n):
    rng = np.random.default_rng(n)
    pred, target = rng.standard_normal((2, n)), rng.standard_normal((2, n))
    loss = losses.ParamLoss(weight=1.5, loss_type=loss_type)
    expected = {
        "L1": np.mean(np.abs(pred - target)),
        "L2": np.mean((pred - target) ** 2),
        "COSINE": np.mean(1 - np.sum(pred * target, -1)),
    }[loss_type]
    np.testing.assert_allclose(loss(pred, target), 1.5 * expected, rtol=1e-12)
    check_grads(lambda p, t: loss(p, t), pred, target)


def test_loss_get_losses_dict_uses_the_name():
    loss = losses.ParamLoss(name="my_loss")
    result = loss.get_losses_dict(np.ones(3), np.zeros(3))
    assert list(result) == ["my_loss"]
    np.testing.assert_allclose(result["my_loss"], 1.0)


# -- embedding losses --------------------------------------------------------------------------
def _toy_embedding(audio):
    """A differentiable 'model': frame energies through tanh."""
    from ddsp_ref.autodiff import ops

    return ops.tanh(ops.frame(audio, 8, 4) ** 2)


def test_embedding_loss_with_a_user_model(audio_pair):
    t, a = audio_pair
    loss = losses.EmbeddingLoss(weight=3.0, loss_type="L2", pretrained_model=_toy_embedding)
    et, ea = (
        np.tanh(np.stack([x[:, i : i + 8] for i in range(0, 293, 4)], 1) ** 2) for x in (t, a)
    )
    np.testing.assert_allclose(float(loss(t, a)), 3.0 * np.mean((et - ea) ** 2), rtol=1e-10)
    assert losses.EmbeddingLoss(weight=0.0)(t, a) == 0.0
    check_grads(lambda y: loss(t[:, :40], y), a[:, :40])
    with pytest.raises(ValueError, match="no pretrained_model"):
        losses.EmbeddingLoss()(t, a)


def test_pretrained_crepe_embedding_loss_scales_and_frames():
    rng = np.random.default_rng(7)
    t, a = rng.uniform(-1, 1, (2, 2048)), rng.uniform(-1, 1, (2, 2048))
    features = rng.standard_normal((1024, 3))
    loss = losses.PretrainedCREPEEmbeddingLoss(
        weight=0.5, activation_layer="conv6-BN", activation_model=lambda f: f @ features
    )
    assert loss.weight == 20.0 * 30.0 * 0.5

    def np_embed(x):
        x = np.pad(x, [(0, 0), (512, 512)])
        frames = np.stack([x[:, i : i + 1024] for i in range(0, x.shape[1] - 1023, 1024)], 1)
        frames = (frames - frames.mean(-1, keepdims=True)) / (frames.std(-1, keepdims=True) + 1e-5)
        return frames @ features

    expected = loss.weight * np.mean(np.abs(np_embed(t) - np_embed(a)))
    np.testing.assert_allclose(float(loss(t, a)), expected, rtol=1e-9)
    check_grads(lambda y: loss(t[:, :1024], y), a[:, :1024])
    with pytest.raises(ValueError, match="valid names"):
        losses.PretrainedCREPEEmbeddingLoss(activation_layer="conv7", activation_model=lambda f: f)
    with pytest.raises(ValueError, match="activation_model"):
        losses.PretrainedCREPEEmbeddingLoss()


# -- bad input ---------------------------------------------------------------------------------
def test_spectral_loss_bad_input():
    a = np.zeros((2, 100))
    with pytest.raises(ValueError, match="Loss type"):
        losses.SpectralLoss(loss_type="huber")
    with pytest.raises(ValueError, match="fft_sizes"):
        losses.SpectralLoss(fft_sizes=(64, 2))
    with pytest.raises(ValueError, match=r"target_audio \(2, 100\) and audio \(2, 90\)"):
        losses.SpectralLoss()(a, np.zeros((2, 90)))
    with pytest.raises(ValueError, match=r"\[batch, n_samples, 1\]"):
        losses.SpectralLoss()(np.zeros((2, 100, 2)), np.zeros((2, 100, 2)))
    bad = a.copy()
    bad[0, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        losses.SpectralLoss(fft_sizes=(16,))(a, bad)
    with pytest.raises(ValueError, match="mel_bins"):
        losses.MelSpectralLoss(fft_sizes=(64, 32), mel_bins=(8,))
