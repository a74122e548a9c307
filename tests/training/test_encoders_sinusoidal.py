"""ddsp's ResnetSinusoidalEncoder and SinusoidalToHarmonicEncoder (DDSP-INV): float64 gradient
checks on every subset of inputs, an independent float64 formula for the harmonic encoder,
Nyquist filtering, one frame, silence, dtypes, gin names and bad input. Parity with ddsp is in
test_inverse_synthesis.py (the model's sinusoidal and harmonic outputs, and the harmonic
encoder alone)."""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest

from ddsp_ref import check_grads, core
from ddsp_ref.module import flatten_dict, unflatten_dict
from ddsp_ref.spectral_ops import compute_logmel
from ddsp_ref.training import nn
from ddsp_ref.training.encoders_sinusoidal import (
    ResnetSinusoidalEncoder,
    SinusoidalToHarmonicEncoder,
)

SR = 2000


def _f64(params):
    return unflatten_dict({k: np.asarray(v, np.float64) for k, v in flatten_dict(params).items()})


def _harm(n_harmonics=6, depth=4, sample_rate=SR, net=None):
    scale = functools.partial(core.frequencies_softmax, depth=depth, hz_min=20.0, hz_max=600.0)
    return SinusoidalToHarmonicEncoder(
        net=net or nn.Dense(5, activation="tanh", seed=3, name="net"), n_harmonics=n_harmonics,
        f0_depth=depth, freq_scale_fn=scale, sample_rate=sample_rate, seed=1,
    )  # fmt: skip


def _sinusoids(dtype, batch=2, n_frames=3, n_sin=3, seed=0):
    rng = np.random.default_rng(seed)
    freqs = rng.uniform(30.0, 990.0, (batch, n_frames, n_sin)).astype(dtype)
    amps = rng.uniform(0.0, 1.0, (batch, n_frames, n_sin)).astype(dtype)
    return freqs, amps


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_harmonic_encoder_against_a_float64_numpy_formula():
    h = _harm()
    freqs, amps = _sinusoids(np.float64)
    out = h(freqs, amps)
    p = _f64(h.parameters())

    def dense(x, name):
        return x @ p[name]["kernel"] + p[name]["bias"]

    def exp_sigmoid(x):  # ddsp's: 2 sigmoid(x) ** log(10) + 1e-7
        return 2.0 * _sigmoid(x) ** np.log(10.0) + 1e-7

    def midi(hz):  # hz_to_midi (0 Hz -> MIDI 0)
        return 12.0 * np.log2(hz / 440.0) + 69.0

    unit = midi(freqs) / midi(SR / 2)  # hz_to_unit(f, 0, Nyquist) goes through MIDI
    x = np.tanh(dense(np.concatenate([unit, amps], -1), "net"))
    amp = exp_sigmoid(dense(x, "amp_out"))
    logits = dense(x, "f0_out")
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    f0_unit = (probs @ np.linspace(0.0, 1.0, 4))[..., None]
    f0_midi = midi(20.0) + f0_unit * (midi(600.0) - midi(20.0))
    f0 = 440.0 * 2 ** ((f0_midi - 69) / 12)
    dist = exp_sigmoid(dense(x, "hd_out"))
    dist = np.where(f0 * np.arange(1, 7) >= SR / 2, 0.0, dist)
    dist = dist / dist.sum(-1, keepdims=True)
    np.testing.assert_allclose(out["harm_amp"], amp, rtol=1e-10)
    np.testing.assert_allclose(out["f0_hz"], f0, rtol=1e-10)
    np.testing.assert_allclose(out["harm_dist"], dist, rtol=1e-10, atol=1e-14)


def test_harmonic_distribution_drops_harmonics_above_nyquist():
    h = _harm(n_harmonics=40)
    freqs, amps = _sinusoids(np.float64)
    out = h(freqs, amps)
    harm_freqs = np.asarray(out["f0_hz"]) * np.arange(1, 41)
    dist = np.asarray(out["harm_dist"])
    assert (harm_freqs >= SR / 2).any()
    assert np.all(dist[harm_freqs >= SR / 2] == 0.0)
    np.testing.assert_allclose(dist.sum(-1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("subset", [s for n in (1, 2, 3) for s in
                                    itertools.combinations(range(3), n)])  # fmt: skip
def test_harmonic_encoder_float64_gradients_every_subset(subset):
    h = _harm()
    freqs, amps = _sinusoids(np.float64)
    h(freqs, amps)
    args = [_f64(h.parameters()), freqs, amps]

    def fun(*xs):
        full = list(args)
        for i, x in zip(subset, xs):
            full[i] = x
        o = h.apply(full[0], full[1], full[2])
        return [o["harm_amp"], o["harm_dist"], o["f0_hz"]]

    for k in range(3):
        check_grads(lambda *xs, k=k: fun(*xs)[k], *[args[i] for i in subset])


def _resnet_encoder(size="small", seed=0):
    spectral = functools.partial(compute_logmel, lo_hz=0.0, hi_hz=1000.0, bins=32, fft_size=128,
                                 overlap=0.5, sample_rate=SR)  # fmt: skip
    splits = (("frequencies", 8), ("amplitudes", 2), ("noise_magnitudes", 3))
    return ResnetSinusoidalEncoder(splits, spectral, size=size, seed=seed)


def test_resnet_sinusoidal_encoder_shapes_dtypes_and_keys():
    enc = _resnet_encoder()
    for dtype in (np.float32, np.float64):
        audio = np.random.default_rng(0).standard_normal((2, 256)).astype(dtype)
        out = enc({"audio": audio, "f0_hz": None})
        assert list(out) == ["frequencies", "amplitudes", "noise_magnitudes"]
        assert out["frequencies"].shape == (2, 4, 8) and out["noise_magnitudes"].shape == (2, 4, 3)
        assert out["amplitudes"].dtype == dtype
    flat = flatten_dict(enc.parameters())
    assert flat["dense_frequencies/kernel"].shape == (1024, 8)  # 32 bins / 32 * 1024 channels
    assert any(k.startswith("resnet/stack_1/") for k in flat)


def test_resnet_sinusoidal_encoder_one_frame_and_silence():
    enc = _resnet_encoder()
    out = enc(np.zeros((1, 64), np.float32))  # one frame of silence
    assert out["amplitudes"].shape == (1, 1, 2)
    assert all(np.isfinite(np.asarray(v)).all() for v in out.values())


def test_resnet_sinusoidal_encoder_float64_gradients():
    enc = _resnet_encoder()
    audio = np.random.default_rng(1).standard_normal((1, 128))
    enc(audio)
    params = _f64(enc.parameters())
    dense = {k: v for k, v in params.items() if k.startswith("dense_")}

    def fun(d, a):
        return [enc.apply({**params, **d}, a)[k] for k in ("frequencies", "noise_magnitudes")]

    for k in range(2):
        check_grads(lambda d, k=k: fun(d, audio)[k], dense)
        check_grads(lambda a, k=k: fun(dense, a)[k], audio)
        check_grads(lambda d, a, k=k: fun(d, a)[k], dense, audio)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="size"):
        ResnetSinusoidalEncoder()  # ddsp's default size 'tiny' is not a ResNet size either
    with pytest.raises(ValueError, match="size of 'amplitudes'"):
        ResnetSinusoidalEncoder((("amplitudes", 0),), size="small")
    enc = _resnet_encoder()
    with pytest.raises(ValueError, match="audio"):
        enc(np.zeros((2, 3, 64), np.float32))
    with pytest.raises(KeyError):
        enc({"f0_hz": np.zeros((1, 4))})
    h = _harm()
    freqs, amps = _sinusoids(np.float32)
    with pytest.raises(ValueError, match="same batch and frames"):
        h(freqs, amps[:, :2])
    with pytest.raises(ValueError, match="sin_freqs"):
        h(freqs[0], amps[0])
    with pytest.raises(ValueError, match="net"):
        SinusoidalToHarmonicEncoder(n_harmonics=4)(freqs, amps)
    with pytest.raises(ValueError, match="n_harmonics"):
        SinusoidalToHarmonicEncoder(n_harmonics=0)


def test_gin_names():
    gin = pytest.importorskip("gin")
    import ddsp_ref.training  # noqa: F401

    gin.clear_config()
    try:
        gin.parse_config(
            "import ddsp.training\n"
            "get_model.model = @models.InverseSynthesis()\n"
            "InverseSynthesis.sinusoidal_encoder = @encoders.ResnetSinusoidalEncoder()\n"
            "ResnetSinusoidalEncoder.size = 'small'\n"
            "InverseSynthesis.harmonic_encoder = @encoders.SinusoidalToHarmonicEncoder()\n"
            "SinusoidalToHarmonicEncoder.net = @nn.FcStack()\n"
            "InverseSynthesis.reverb = False\n"
        )
        from ddsp_ref.training.models import get_model

        m = get_model()
        assert isinstance(m.sinusoidal_encoder, ResnetSinusoidalEncoder)
        assert isinstance(m.harmonic_encoder.net, nn.FcStack)
    finally:
        gin.clear_config()
