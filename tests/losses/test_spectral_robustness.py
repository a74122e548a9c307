"""SpectralLoss on quiet audio (finite gradients, fused == composed), the ``composed`` kernel
switch, empty inputs, and bad arguments of every public loss entry point."""

from __future__ import annotations

import numpy as np
import pytest

import ddsp_ref
from ddsp_ref import losses
from ddsp_ref.kernels import spectral_loss as spectral_kernels

SR = 16000


def sine(amplitude, dtype, seconds=1.0):
    t = np.arange(int(SR * seconds)) / SR
    return (amplitude * np.sin(2 * np.pi * 440.0 * t)).astype(dtype)


def loss_and_grad(loss, target, audio, composed, monkeypatch):
    with monkeypatch.context() as m:
        if composed:
            m.setenv("DDSP_REF_KERNELS", "composed")
        return ddsp_ref.value_and_grad(lambda a: loss(target, a))(audio)


# -- C: finite wherever ddsp is --------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("amplitude", [0.0, 1e-8, 1e-6, 1.0])
@pytest.mark.parametrize("deltas", [False, True])
def test_quiet_audio_gives_finite_gradients_fused_and_composed(
    monkeypatch, dtype, amplitude, deltas
):
    """``SpectralLoss(logmag_weight=1)`` of a 440 Hz sine (1 s) against half of it: ddsp's
    ``safe_log`` keeps tiny magnitudes, so the gradient is huge (~1e19) but finite; every path
    and dtype must agree with the other path of the same dtype."""
    x = sine(amplitude, dtype)
    kwargs = dict(delta_time_weight=1.0, delta_freq_weight=1.0) if deltas else {}
    loss = losses.SpectralLoss(logmag_weight=1.0, **kwargs)
    # With delta terms SpectralLoss is composed either way; without, fused vs composed.
    v_f, g_f = loss_and_grad(loss, x, 0.5 * x, False, monkeypatch)
    v_c, g_c = loss_and_grad(loss, x, 0.5 * x, True, monkeypatch)
    for v, g in ((v_f, g_f), (v_c, g_c)):
        assert np.isfinite(v) and g.dtype == dtype
        assert np.all(np.isfinite(g)), f"{np.sum(~np.isfinite(g))} non-finite entries"
    rtol = 1e-4 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(v_f, v_c, rtol=rtol)
    scale = np.abs(g_c).max()
    tol = (1e-2, 1e-3) if dtype == np.float32 else (1e-7, 1e-9)
    np.testing.assert_allclose(g_f, g_c, rtol=tol[0], atol=tol[1] * scale)
    if amplitude == 0.0:
        assert float(v_f) == 0.0 and not np.any(g_f)  # |z| = 0 everywhere: gradient 0


def test_composed_switch_never_calls_the_fused_kernels(monkeypatch):
    rng = np.random.default_rng(0)
    t, a = rng.uniform(-1, 1, (2, 300)), rng.uniform(-1, 1, (2, 300))
    loss = losses.SpectralLoss(fft_sizes=(64, 16), logmag_weight=1.0)
    fused_value = float(loss(t, a))

    def forbidden(*args, **kwargs):
        raise AssertionError("a fused kernel ran under DDSP_REF_KERNELS=composed")

    monkeypatch.setenv("DDSP_REF_KERNELS", "composed")
    monkeypatch.setattr(spectral_kernels, "spectral_terms", forbidden)
    monkeypatch.setattr("ddsp_ref.kernels.overlap_add.frame", forbidden)
    monkeypatch.setattr("ddsp_ref.kernels.overlap_add.overlap_add", forbidden)
    value, grad = ddsp_ref.value_and_grad(lambda y: loss(t, y))(a)
    np.testing.assert_allclose(float(value), fused_value, rtol=1e-12)
    small = losses.SpectralLoss(fft_sizes=(16,), logmag_weight=1.0)
    ddsp_ref.check_grads(lambda y: small(t[:, :40], y), a[:, :40], eps=1e-7)


# -- empty inputs ------------------------------------------------------------------------------
def test_empty_inputs_raise_instead_of_nan():
    empty = np.zeros((1, 0, 1))
    dist = np.zeros((1, 0, 3))
    with pytest.raises(ValueError, match="harm_amp has no element"):
        losses.HarmonicConsistencyLoss()(empty, empty, dist, dist, empty, empty)
    with pytest.raises(ValueError, match="no element to average"):
        losses.mean_difference(np.zeros((2, 0)), np.zeros((2, 0)))
    with pytest.raises(ValueError, match="no element to average"):
        losses.ParamLoss()(np.zeros(0), np.zeros(0))


def test_harmonic_consistency_fully_masked_is_zero_not_nan():
    """Every target amplitude below the threshold: the masked terms are means of zeros."""
    rng = np.random.default_rng(1)
    amps, f0 = rng.uniform(0, 1, (2, 1, 4, 1)), rng.uniform(100, 200, (2, 1, 4, 1))
    dist = rng.uniform(0, 1, (2, 1, 4, 3))
    out = losses.HarmonicConsistencyLoss()(amps[0], amps[1] * 0, dist[0], dist[1], f0[0], f0[1])
    assert float(out["harm_dist_loss"]) == 0.0 and float(out["f0_hz_loss"]) == 0.0
    np.testing.assert_allclose(out["harm_amp_loss"], np.mean(np.abs(amps[0])), rtol=1e-12)


# -- E: bad arguments --------------------------------------------------------------------------
A = np.zeros((2, 100), np.float32)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: losses.SpectralLoss(fft_sizes=64), ValueError, "fft_sizes"),
        (lambda: losses.SpectralLoss(fft_sizes=()), ValueError, "fft_sizes"),
        (lambda: losses.SpectralLoss(fft_sizes=(64, 29.5)), ValueError, "fft_sizes"),
        (lambda: losses.SpectralLoss(fft_sizes=("64",)), ValueError, "fft_sizes"),
        (lambda: losses.SpectralLoss(mag_weight=np.nan), ValueError, "mag_weight"),
        (lambda: losses.SpectralLoss(logmag_weight="1"), ValueError, "logmag_weight"),
        (lambda: losses.SpectralLoss(loss_type=None), ValueError, "Loss type"),
        (lambda: losses.MelSpectralLoss(mel_bins=0), ValueError, "mel_bins"),
        (lambda: losses.MelSpectralLoss(sample_rate=0), ValueError, "sample_rate"),
        (lambda: losses.MelSpectralLoss(hi_hz=9000.0), ValueError, "hi_hz"),
        (lambda: losses.MelSpectralLoss(lo_hz=np.nan), ValueError, "lo_hz"),
    ],
)
def test_bad_constructor_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    "target, audio, error, match",
    [
        (A + 0j, A, TypeError, "target_audio must be real"),
        (A, np.array([["a"] * 100] * 2), TypeError, "audio"),
        (A, A[:, :0], ValueError, "audio"),
        (A[None], A[None], ValueError, r"\[batch, n_samples\]"),
        (np.float32(1.0), np.float32(1.0), ValueError, "target_audio must have shape"),
        (A, np.full((2, 100), np.nan, np.float32), ValueError, "NaN"),
    ],
)
@pytest.mark.parametrize("loss_class", [losses.SpectralLoss, losses.MelSpectralLoss])
def test_bad_audio_arguments(loss_class, target, audio, error, match):
    with pytest.raises(error, match=match):
        loss_class(fft_sizes=(64,))(target, audio)


def test_mean_difference_bad_arguments():
    with pytest.raises(TypeError, match="value must be real"):
        losses.mean_difference(np.zeros(3), np.zeros(3) + 1j)
    with pytest.raises(ValueError, match="do not broadcast"):
        losses.mean_difference(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="Loss type"):
        losses.mean_difference(np.zeros(3), np.zeros(3), loss_type="L3")


@pytest.mark.parametrize("argnums", [0, 1, (0, 1)])
@pytest.mark.parametrize("loss_type", ["L1", "L2"])
def test_fused_op_gradients_on_every_subset_of_inputs(monkeypatch, argnums, loss_type):
    """The fused op computes only the gradients of the traced inputs: each subset equals the
    composed path's and passes the float64 finite-difference check."""
    rng = np.random.default_rng(5)
    t, a = rng.uniform(-1, 1, (2, 45)), rng.uniform(-1, 1, (2, 45))
    loss = losses.SpectralLoss(fft_sizes=(16, 8), loss_type=loss_type, logmag_weight=0.5)
    fused = ddsp_ref.value_and_grad(lambda x, y: loss(x, y), argnums=argnums)(t, a)
    with monkeypatch.context() as m:
        m.setenv("DDSP_REF_KERNELS", "composed")
        composed = ddsp_ref.value_and_grad(lambda x, y: loss(x, y), argnums=argnums)(t, a)
    np.testing.assert_allclose(fused[0], composed[0], rtol=1e-12)
    grads_f = fused[1] if isinstance(argnums, tuple) else (fused[1],)
    grads_c = composed[1] if isinstance(argnums, tuple) else (composed[1],)
    for g_f, g_c in zip(grads_f, grads_c, strict=True):
        np.testing.assert_allclose(g_f, g_c, rtol=1e-9, atol=1e-12 * np.abs(g_c).max())
    if argnums == 0:
        ddsp_ref.check_grads(lambda x: loss(x, a), t, eps=1e-7)
    elif argnums == 1:
        ddsp_ref.check_grads(lambda y: loss(t, y), a, eps=1e-7)


def test_fused_op_asks_the_kernels_only_for_traced_gradients(monkeypatch):
    calls = []
    original = spectral_kernels.spectral_terms

    def recording(target, audio, frame_size, w_mag, w_log, l2, want_t, want_a, **kwargs):
        calls.append((want_t, want_a))
        return original(target, audio, frame_size, w_mag, w_log, l2, want_t, want_a, **kwargs)

    monkeypatch.setattr(spectral_kernels, "spectral_terms", recording)
    rng = np.random.default_rng(6)
    t, a = rng.uniform(-1, 1, (2, 45)), rng.uniform(-1, 1, (2, 45))
    loss = losses.SpectralLoss(fft_sizes=(16,), logmag_weight=1.0)
    loss(t, a)
    ddsp_ref.value_and_grad(lambda y: loss(t, y))(a)
    ddsp_ref.value_and_grad(lambda x: loss(x, a))(t)
    ddsp_ref.value_and_grad(lambda x, y: loss(x, y), argnums=(0, 1))(t, a)
    assert calls == [(False, False), (False, True), (True, False), (True, True)]
