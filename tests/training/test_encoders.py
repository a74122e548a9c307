"""ZEncoder.expand_z and MfccTimeDistributedRnnEncoder against compute_mfcc + numpy layers,
the z_time_steps table, gradients, and a short Adam run of an Autoencoder with the encoder."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ddsp_ref.autodiff import check_grads, tree_map, value_and_grad
from ddsp_ref.spectral_ops import compute_mfcc
from ddsp_ref.training import nn
from ddsp_ref.training.encoders import MfccTimeDistributedRnnEncoder, ZEncoder
from ddsp_ref.training.optimizers import Adam
from tests.training.test_conv import check_golden, np_normalize
from tests.training.test_models import _total_loss, make_features, make_model
from tests.training.test_nn import np_gru

_rng = np.random.default_rng(5)


def np_legacy_linear_resize(z, n_out):
    """TF1 resize_bilinear (align_corners=False, no half-pixel centres) along axis 1; TF
    computes the scale, source positions and weights in float32."""
    n_in = z.shape[1]
    out = np.empty((z.shape[0], n_out, z.shape[2]))
    scale = np.float32(n_in) / np.float32(n_out)
    for i in range(n_out):
        pos = np.float32(i) * scale
        lo = int(math.floor(pos))
        hi = min(lo + 1, n_in - 1)
        w = float(pos - np.float32(lo))
        out[:, i] = z[:, lo] * (1 - w) + z[:, hi] * w
    return out


class MeanEncoder(ZEncoder):
    """z = time mean of the features (2-D), or the features themselves."""

    def __init__(self, keep_time=False):
        self.keep_time = keep_time
        super().__init__()

    def compute_z(self, ld_scaled):
        x = np.asarray(ld_scaled)
        return x if self.keep_time else x.mean(axis=1)


def test_zencoder_keys_and_2d_z_is_repeated():
    enc = MeanEncoder()
    assert enc.input_keys == ["ld_scaled", "f0_scaled"] and enc.output_keys == ["z"]
    ld = _rng.random((2, 9, 3))
    z = enc({"ld_scaled": ld, "f0_scaled": np.zeros((2, 17, 1))})["z"]
    assert z.shape == (2, 17, 3)
    np.testing.assert_allclose(z, np.repeat(ld.mean(axis=1)[:, None], 17, axis=1), rtol=1e-12)


@pytest.mark.parametrize("n_in,n_out", [(9, 17), (32, 250), (250, 250), (5, 3), (1, 4)])
def test_expand_z_is_the_legacy_bilinear_resize(n_in, n_out):
    enc = MeanEncoder(keep_time=True)
    ld = _rng.standard_normal((2, n_in, 3))
    z = enc({"ld_scaled": ld, "f0_scaled": np.zeros((2, n_out, 1))})["z"]
    np.testing.assert_allclose(z, np_legacy_linear_resize(ld, n_out), rtol=1e-12, atol=1e-12)


def test_z_time_steps_table_gives_that_many_frames_for_4_seconds():
    table = {63: (2048, 0.5), 125: (1024, 0.5), 250: (1024, 0.75), 500: (512, 0.75),
             1000: (256, 0.75)}  # fmt: skip
    audio = 0.1 * _rng.standard_normal((1, 64000)).astype(np.float32)
    for steps, (fft, overlap) in table.items():
        enc = MfccTimeDistributedRnnEncoder(rnn_channels=2, z_dims=2, z_time_steps=steps, seed=0)
        assert (enc.fft_size, enc.overlap) == (fft, overlap)
        assert enc.compute_z(audio).shape == (1, steps, 2)
    for bad in (100, 0, 64):
        with pytest.raises(ValueError, match="z_time_steps"):
            MfccTimeDistributedRnnEncoder(z_time_steps=bad)


def _np_encoder(params, audio, fft, overlap, n_frames):
    mfcc = np.asarray(compute_mfcc(audio, 20.0, 8000.0, fft, 128, 30, overlap, True), np.float64)
    assert mfcc.shape[-1] == 30
    x = np_normalize(mfcc, "instance") * params["z_norm"]["scale"] + params["z_norm"]["shift"]
    rnn = params["rnn"]
    h, _ = np_gru(x, rnn["kernel"], rnn["recurrent_kernel"], rnn["bias"],
                  np.zeros((x.shape[0], rnn["recurrent_kernel"].shape[0])))  # fmt: skip
    z = h @ params["dense_out"]["kernel"] + params["dense_out"]["bias"]
    return np_legacy_linear_resize(z, n_frames) if z.shape[1] != n_frames else z


@pytest.mark.parametrize("steps,n_frames", [(125, 40), (1000, 63)])
def test_mfcc_encoder_matches_compute_mfcc_and_numpy_layers(steps, n_frames):
    enc = MfccTimeDistributedRnnEncoder(rnn_channels=5, z_dims=3, z_time_steps=steps, seed=1)
    assert enc.input_keys == ["audio", "f0_scaled"]
    t = np.arange(4000) / 16000
    audio = (0.3 * np.sin(2 * np.pi * 330 * t) + 0.01 * _rng.standard_normal(4000))[None]
    feats = {"audio": audio, "f0_scaled": np.zeros((1, n_frames, 1))}
    enc(feats)
    params = tree_map(lambda a: np.asarray(a, np.float64), enc.parameters())
    params["z_norm"]["scale"] = _rng.uniform(0.5, 1.5, 30)
    params["z_norm"]["shift"] = _rng.standard_normal(30)
    z = enc.apply(params, feats)["z"]
    assert z.shape == (1, n_frames, 3) and z.dtype == np.float64
    expected = _np_encoder(params, audio, enc.fft_size, enc.overlap, n_frames)
    np.testing.assert_allclose(z, expected, rtol=1e-9, atol=1e-9)


def test_float32_audio_gives_float32_z():
    enc = MfccTimeDistributedRnnEncoder(rnn_channels=4, z_dims=2, z_time_steps=500, seed=2)
    audio = (0.1 * _rng.standard_normal((2, 2048))).astype(np.float32)
    z = enc({"audio": audio, "f0_scaled": np.zeros((2, 16, 1), np.float32)})["z"]
    assert z.dtype == np.float32 and z.shape == (2, 16, 2) and np.all(np.isfinite(z))
    silent = enc({"audio": np.zeros((1, 2048), np.float32), "f0_scaled": np.zeros((1, 16, 1))})
    assert np.all(np.isfinite(silent["z"]))  # silence: safe_log floor, normalised without NaN


def test_parameter_gradients_float64():
    enc = MfccTimeDistributedRnnEncoder(rnn_channels=3, z_dims=2, z_time_steps=1000, seed=3)
    audio = 0.2 * _rng.standard_normal((1, 1024))
    feats = {"audio": audio, "f0_scaled": np.zeros((1, 24, 1))}
    enc(feats)
    params = tree_map(lambda a: np.asarray(a, np.float64), enc.parameters())
    check_grads(lambda p: enc.apply(p, feats)["z"], params)


def test_adam_steps_lower_the_autoencoder_loss():
    # Autoencoder (F0LoudnessPreprocessor -> MFCC encoder -> RnnFcDecoder -> Harmonic + noise
    # + reverb) with a tiny encoder; the encoder's parameters get gradients and are trained.
    features = make_features()
    encoder = MfccTimeDistributedRnnEncoder(rnn_channels=8, z_dims=4, z_time_steps=125, seed=4)
    model = make_model(encoder=encoder)
    model(features)
    params = model.parameters()
    assert sorted(params["encoder"]) == ["dense_out", "rnn", "z_norm"]
    step = value_and_grad(_total_loss(model, features))
    adam = Adam(learning_rate=0.01)
    state = adam.init(params)
    history = []
    for _ in range(6):
        value, grads = step(params)
        history.append(float(value))
        assert np.max(np.abs(grads["encoder"]["rnn"]["kernel"])) > 0
        params, state = adam.update(params, grads, state)
    assert all(b < a for a, b in zip(history, history[1:])), history
    assert history[-1] < 0.8 * history[0], history
    assert isinstance(model.encoder, nn.DictLayer)


def test_gin_builds_the_encoder():
    gin = pytest.importorskip("gin")
    gin.clear_config()

    @gin.configurable("test_encoders_holder")
    def holder(encoder=None):
        return encoder

    try:
        gin.parse_config(
            "import ddsp_ref\n"
            "MfccTimeDistributedRnnEncoder.rnn_channels = 6\n"
            "MfccTimeDistributedRnnEncoder.z_time_steps = 125\n"
            "test_encoders_holder.encoder = @encoders.MfccTimeDistributedRnnEncoder()\n"
        )
        enc = holder()
    finally:
        gin.clear_config()
    assert isinstance(enc, MfccTimeDistributedRnnEncoder)
    assert enc.rnn.dims == 6 and enc.fft_size == 1024 and enc.overlap == 0.5


def test_matches_ddsp_golden():
    # MfccTimeDistributedRnnEncoder(rnn_channels=4, z_dims=3, z_time_steps=125) on 0.5 s of a
    # noisy sine (16 MFCC frames resampled to 125), recorded from ddsp 3.7.0: z and the
    # parameter gradients.
    def build(spec):
        return MfccTimeDistributedRnnEncoder(**spec, seed=0)

    def call(layer, params, features):
        return layer(features) if params is None else layer.apply(params, features)

    check_golden("encoder", build, call)
