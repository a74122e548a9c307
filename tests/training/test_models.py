"""ddsp_ref.training.models.Autoencoder on a small solo_instrument-like set-up (1 s at 16 kHz,
250 frames): ddsp's outputs dict, the wiring against the pieces run by hand, the losses dict,
gradients through the whole model (float64 check on a noise-free variant), and SGD lowering the
loss."""

from __future__ import annotations

import numpy as np
import pytest

from ddsp_ref import effects, processors, synths
from ddsp_ref.autodiff import check_grads, tree_flatten, tree_map, value_and_grad
from ddsp_ref.losses import Loss, SpectralLoss, mean_difference
from ddsp_ref.training import nn
from ddsp_ref.training.decoders import RnnFcDecoder
from ddsp_ref.training.models import Autoencoder
from ddsp_ref.training.preprocessing import F0LoudnessPreprocessor

SR, FRAMES = 16000, 250
SPLITS = (("amps", 1), ("harmonic_distribution", 12), ("noise_magnitudes", 8))


class ToyZEncoder(nn.DictLayer):
    """A parameter-free encoder (z = [f0_scaled, ld_scaled]) to exercise the encoder slot."""

    def call(self, f0_scaled, ld_scaled) -> ["z"]:  # noqa: F821, UP037
        return np.concatenate([np.asarray(f0_scaled), np.asarray(ld_scaled)], axis=-1)


def make_model(n_samples=SR, frames=FRAMES, noise=True, encoder=None, losses="spectral"):
    """Preprocessor -> RnnFcDecoder (small) -> Harmonic (+ FilteredNoise + Add) -> Reverb."""
    keys = ("ld_scaled", "f0_scaled") + (("z",) if encoder is not None else ())
    decoder = RnnFcDecoder(rnn_channels=16, ch=16, layers_per_stack=1, input_keys=keys,
                           output_splits=SPLITS, seed=0)  # fmt: skip
    harmonic = synths.Harmonic(n_samples=n_samples, sample_rate=SR, name="harmonic")
    reverb = effects.Reverb(trainable=True, reverb_length=2000, name="reverb", seed=1)
    dag = [(harmonic, ["amps", "harmonic_distribution", "f0_hz"])]
    if noise:
        fn = synths.FilteredNoise(n_samples=n_samples, window_size=0, name="filtered_noise", seed=0)
        add = processors.Add(name="add")
        dag += [(fn, ["noise_magnitudes"]), (add, ["filtered_noise/signal", "harmonic/signal"])]
        dag += [(reverb, ["add/signal"])]
    else:
        dag += [(reverb, ["harmonic/signal"])]
    if losses == "spectral":
        losses = SpectralLoss(loss_type="L1", mag_weight=1.0, logmag_weight=1.0)
    return Autoencoder(preprocessor=F0LoudnessPreprocessor(time_steps=frames), encoder=encoder,
                       decoder=decoder, processor_group=processors.ProcessorGroup(dag),
                       losses=losses)  # fmt: skip


def make_features(n_samples=SR, frames=FRAMES, dtype=np.float32):
    t = np.arange(n_samples) / SR
    f0 = 220.0 * (1 + 0.02 * np.sin(2 * np.pi * 3 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    audio = 0.3 * np.sin(phase) + 0.1 * np.sin(2 * phase) + 0.05 * np.sin(3 * phase)
    audio *= np.minimum(1.0, 8 * t)  # fade in
    f0_frames = np.interp(np.arange(frames) * n_samples / frames, np.arange(n_samples), f0)
    return {
        "audio": audio[None].astype(dtype),
        "f0_hz": f0_frames[None].astype(dtype),
        "loudness_db": np.zeros((1, frames), dtype),
    }


@pytest.fixture(scope="module")
def features():
    return make_features()


PROCESSORS = ["harmonic", "filtered_noise", "add", "reverb"]


def test_outputs_dict_as_ddsp(features):
    model = make_model()
    original = dict(features)
    out = model(features, training=False)
    feature_keys = ["audio", "f0_hz", "loudness_db", "f0_scaled", "ld_scaled"]
    expected = feature_keys + [k for k, _ in SPLITS] + PROCESSORS + ["inputs", "out", "audio_synth"]
    assert sorted(out) == sorted(expected)
    assert features == original  # the caller's dict is not modified
    assert out["audio_synth"].shape == (1, SR) and out["audio_synth"].dtype == np.float32
    assert out["audio_synth"] is out["reverb"]["signal"] is out["out"]["signal"]
    assert model.get_audio_from_outputs(out) is out["audio_synth"]
    for name in PROCESSORS:
        assert sorted(out[name]) == ["controls", "signal"]
    assert out["f0_scaled"].shape == out["amps"].shape[:2] + (1,) == (1, FRAMES, 1)
    assert out["harmonic_distribution"].shape == (1, FRAMES, 12)
    assert model.losses_dict == {}  # training=False: no losses
    assert np.all(np.isfinite(out["audio_synth"])) and np.std(out["audio_synth"]) > 0


def test_training_defaults_to_true_as_in_ddsp(features):
    """ddsp's Autoencoder.call(features, training=True): keras resolves an omitted training to
    the enclosing call's phase, else to that default."""
    from ddsp_ref.module import training_phase

    model = make_model()
    _, losses = model(features, return_losses=True)
    assert sorted(losses) == ["spectral_loss", "total_loss"] and losses["total_loss"] > 0
    with training_phase(False):  # an enclosing inference call wins over the default
        _, losses = model(features, return_losses=True)
    assert losses == {"total_loss": 0.0}
    with training_phase(False):  # an explicit value wins over both
        _, losses = model(features, training=True, return_losses=True)
    assert losses["total_loss"] > 0


def test_wiring_matches_the_pieces_run_by_hand(features):
    model, twin = make_model(), make_model()  # same seeds: same parameters and noise
    out = model(features)
    feats = dict(features)
    feats.update(twin.preprocessor(feats))
    feats.update(twin.decoder(feats))
    group = twin.processor_group(feats, return_outputs_dict=True)
    np.testing.assert_array_equal(out["audio_synth"], group["signal"])
    np.testing.assert_array_equal(out["ld_scaled"], feats["ld_scaled"])
    amplitudes = group["controls"]["harmonic"]["controls"]["amplitudes"]
    np.testing.assert_array_equal(out["harmonic"]["controls"]["amplitudes"], amplitudes)


def test_encoder_outputs_reach_the_decoder(features):
    model = make_model(encoder=ToyZEncoder())
    encoded = model.encode(features)
    np.testing.assert_array_equal(
        encoded["z"], np.concatenate([encoded["f0_scaled"], encoded["ld_scaled"]], -1)
    )
    assert "z" not in features
    out = model(features)
    np.testing.assert_array_equal(out["z"], encoded["z"])
    assert "encoder" not in model.parameters()  # parameter-free modules are left out
    assert sorted(model.decoder.parameters()) == [
        "dense_out", "input_stack_0", "input_stack_1", "input_stack_2", "out_stack", "rnn",
    ]  # fmt: skip


class ToyDecoder(nn.DictLayer):
    """A decoder whose call takes no ``training`` flag (keras drops it for such layers)."""

    def call(self, f0_scaled) -> ["amps", "harmonic_distribution"]:  # noqa: F821, UP037
        return np.asarray(f0_scaled), np.concatenate([np.asarray(f0_scaled)] * 3, axis=-1)


def test_layers_without_a_training_flag():
    feats = make_features(1600, 25)
    harmonic = synths.Harmonic(n_samples=1600, sample_rate=SR, name="harmonic")
    group = processors.ProcessorGroup([(harmonic, ["amps", "harmonic_distribution", "f0_hz"])])
    model = Autoencoder(F0LoudnessPreprocessor(25), ToyZEncoder(), ToyDecoder(), group)
    out = model(feats, training=True)  # no losses: nothing is added
    assert model.losses_dict == {} and out["audio_synth"].shape == (1, 1600)
    np.testing.assert_array_equal(out["harmonic"]["signal"], out["audio_synth"])
    assert model.parameters() == {}


def test_encode_then_decode_is_the_call():
    feats = make_features()
    model, twin = make_model(noise=False), make_model(noise=False)
    audio = twin.decode(twin.encode(feats))
    np.testing.assert_allclose(model(feats)["audio_synth"], audio, rtol=1e-6, atol=1e-7)


def test_losses_dict_and_total_loss(features):
    second = SpectralLoss(fft_sizes=(256, 64), loss_type="L2", name="small_ffts")
    model = make_model(losses=[SpectralLoss(loss_type="L1", logmag_weight=1.0), second])
    out, losses = model(features, training=True, return_losses=True)
    assert sorted(losses) == ["small_ffts", "spectral_loss", "total_loss"]
    assert losses is model.losses_dict
    first = SpectralLoss(loss_type="L1", logmag_weight=1.0)(features["audio"], out["audio_synth"])
    np.testing.assert_allclose(losses["spectral_loss"], first, rtol=1e-6)
    np.testing.assert_allclose(
        losses["small_ffts"], second(features["audio"], out["audio_synth"]), rtol=1e-6
    )
    np.testing.assert_allclose(
        losses["total_loss"], losses["spectral_loss"] + losses["small_ffts"], rtol=1e-6
    )
    np.testing.assert_allclose(model.total_loss, losses["total_loss"], rtol=1e-6)
    model(features, training=False)
    assert model.losses_dict == {}  # reset on every call
    model = make_model(noise=False)
    model.preprocessor = F0LoudnessPreprocessor(time_steps=FRAMES, compute_loudness=False)
    no_audio = {k: v for k, v in features.items() if k != "audio"}
    assert "audio_synth" in model(no_audio, training=False)  # inference needs no target
    with pytest.raises(KeyError, match="audio"):
        model(no_audio, training=True)
    with pytest.raises(KeyError, match="audio"):
        model(no_audio)  # a training call by default, as in ddsp


def _total_loss(model, features):
    return lambda p: model.apply(p, features)[1]["total_loss"]


def test_value_and_grad_reaches_the_decoder_and_the_reverb(features):
    model = make_model()
    # Every decoder layer is sized by the first call, as in keras (on the input's device);
    # only the reverb's IR exists before.
    assert sorted(model.parameters()) == ["processor_group"]
    model(features)
    params = model.parameters()
    assert sorted(params) == ["decoder", "processor_group"]
    assert len(params["decoder"]) == 5
    assert sorted(params["processor_group"]) == ["reverb"]
    value, grads = value_and_grad(_total_loss(model, features))(params)
    assert np.isfinite(value) and value > 0
    leaves, _ = tree_flatten(grads)
    assert all(np.all(np.isfinite(g)) for g in leaves)
    assert np.max(np.abs(grads["processor_group"]["reverb"]["ir"])) > 0
    for name, sub in grads["decoder"].items():  # every decoder block gets a gradient
        assert max(np.max(np.abs(g)) for g in tree_flatten(sub)[0]) > 0, name
    assert tree_map(lambda g: g.shape, grads) == tree_map(lambda p: p.shape, params)


class WaveformL2(Loss):
    """Mean squared waveform difference: smooth, unlike spectral magnitudes near zero."""

    def call(self, target, audio):
        return mean_difference(target, audio, "L2")


def test_model_gradient_float64_check():
    # Noise-free (FilteredNoise draws fresh noise per call), short, float64, with a smooth
    # loss: a synthetic spectrum has bins near |S| = 0 where finite differences of spectral
    # magnitudes cannot resolve the derivative (SpectralLoss' own gradient is checked in
    # tests/losses).
    n, frames = 2000, 25
    model = make_model(n_samples=n, frames=frames, noise=False, losses=WaveformL2())
    feats = make_features(n, frames, dtype=np.float64)
    model(feats)
    params = tree_map(lambda p: np.asarray(p, np.float64), model.parameters())
    check_grads(_total_loss(model, feats), params)


def _sgd(model, features, lr, n_steps):
    model(features)  # build the lazily sized layers (keras-style) before taking parameters
    params = model.parameters()
    step = value_and_grad(_total_loss(model, features))
    history = []
    for _ in range(n_steps):
        value, grads = step(params)
        history.append(float(value))
        params = tree_map(lambda p, g: p - lr * g, params, grads)
    return params, history


def test_sgd_steps_lower_the_loss(features):
    # ddsp's default SpectralLoss (magnitudes only): every step lowers the loss.
    model = make_model(losses=SpectralLoss())
    params, history = _sgd(model, features, lr=0.03, n_steps=6)
    assert all(b < a for a, b in zip(history, history[1:])), history
    assert history[-1] < 0.85 * history[0], history
    before = model.parameters()
    model.set_parameters(params)
    stored = model.parameters()
    stored_leaves, new_leaves = tree_flatten(stored)[0], tree_flatten(params)[0]
    assert len(stored_leaves) == len(new_leaves) == len(tree_flatten(before)[0])
    assert all(np.array_equal(a, b) for a, b in zip(stored_leaves, new_leaves))
    assert not np.array_equal(
        stored["decoder"]["rnn"]["kernel"], before["decoder"]["rnn"]["kernel"]
    )
    assert not np.array_equal(stored["processor_group"]["reverb"]["ir"],
                              before["processor_group"]["reverb"]["ir"])  # fmt: skip


def test_sgd_with_the_solo_instrument_loss(features):
    # solo_instrument.gin's loss (magnitudes and log magnitudes).
    _, history = _sgd(make_model(), features, lr=0.01, n_steps=8)
    assert all(b < a for a, b in zip(history, history[1:])), history
    assert history[-1] < 0.8 * history[0], history


# A solo_instrument.gin-like config (small sizes) for ddsp's gin names.
GIN_CONFIG = """
import ddsp_ref

F0LoudnessPreprocessor.time_steps = 250
RnnFcDecoder.rnn_channels = 8
RnnFcDecoder.ch = 8
RnnFcDecoder.layers_per_stack = 1
RnnFcDecoder.input_keys = ('ld_scaled', 'f0_scaled')
RnnFcDecoder.output_splits = (('amps', 1), ('harmonic_distribution', 6), ('noise_magnitudes', 5))
Harmonic.n_samples = 16000
FilteredNoise.n_samples = 16000
Reverb.trainable = True
Reverb.reverb_length = 1000
processors.ProcessorGroup.dag = [
  (@synths.Harmonic(), ['amps', 'harmonic_distribution', 'f0_hz']),
  (@synths.FilteredNoise(), ['noise_magnitudes']),
  (@processors.Add(), ['filtered_noise/signal', 'harmonic/signal']),
  (@effects.Reverb(), ['add/signal']),
]
SpectralLoss.logmag_weight = 1.0
Autoencoder.preprocessor = @preprocessing.F0LoudnessPreprocessor()
Autoencoder.decoder = @decoders.RnnFcDecoder()
Autoencoder.processor_group = @processors.ProcessorGroup()
Autoencoder.losses = [@losses.SpectralLoss()]
test_models_holder.model = @models.Autoencoder()
"""


def test_gin_config_builds_the_autoencoder(features):
    gin = pytest.importorskip("gin")
    gin.clear_config()

    @gin.configurable("test_models_holder")
    def holder(model=None):
        return model

    try:
        gin.parse_config(GIN_CONFIG)
        model = holder()
    finally:
        gin.clear_config()
    assert isinstance(model, Autoencoder) and isinstance(model.decoder, RnnFcDecoder)
    assert model.preprocessor.time_steps == 250 and model.decoder.rnn.dims == 8
    assert model.processor_group.processor_names == ["harmonic", "filtered_noise", "add", "reverb"]
    out, losses = model(features, training=True, return_losses=True)
    assert out["audio_synth"].shape == (1, SR) and out["harmonic_distribution"].shape[-1] == 6
    assert sorted(losses) == ["spectral_loss", "total_loss"]
