"""The gin configs shipped in ddsp_ref/training/gin: each parses strictly (every name it uses
exists), holds ddsp's values (DDSP_REFERENCE 4.6 and 4.13), and each model config builds a
model that runs and gives a finite loss (sizes shrunk through bindings); configs written the
way ddsp writes them (block syntax, ddsp's module paths) parse too."""

from __future__ import annotations

import os

import numpy as np
import pytest

from ddsp_ref import core, effects, processors, synths
from ddsp_ref.training import ddsp_run, models

gin = pytest.importorskip("gin")

SHIPPED = [
    "datasets/base.gin",
    "datasets/nsynth.gin",
    "datasets/prepared.gin",
    "datasets/tfrecord.gin",
    "eval/basic.gin",
    "eval/basic_f0_ld.gin",
    "eval/basic_f0_ld_twm.gin",
    "eval/heuristic.gin",
    "eval/heuristic_power.gin",
    "eval/midi_ae.gin",
    "models/ae.gin",
    "models/midiae/midiae.gin",
    "models/midiae/mixins/_.gin",
    "models/midiae/mixins/midi_encoder.gin",
    "models/midiae/mixins/recon_lossgroup.gin",
    "models/midiae/z_midiae.gin",
    "models/solo_instrument.gin",
    "models/vst/vst.gin",
    "optimization/base.gin",
    "papers/iclr2020/nsynth_ae.gin",
    "papers/iclr2020/solo_instrument.gin",
    "papers/iclr2020/tiny_instrument.gin",
    "papers/icml2020/finetune_dataset.gin",
    "papers/icml2020/finetune_model.gin",
    "papers/icml2020/pretrain_dataset.gin",
    "papers/icml2020/pretrain_model.gin",
]


pytestmark = pytest.mark.usefixtures("clean_gin")  # tests/training/conftest.py


def test_the_shipped_files():
    assert ddsp_run.shipped_configs() == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_parses_strictly(name):
    ddsp_run.parse_gin(None)  # registers the names; defaults parsed
    gin.clear_config()
    gin.parse_config_file(os.path.join(ddsp_run.GIN_PATH, name), skip_unknown=False)


def query(name):
    return gin.query_parameter(name)


def test_optimization_defaults():
    ddsp_run.parse_gin(None)
    assert query("%learning_rate") == 3e-4 and query("%batch_size") == 32
    assert query("train.num_steps") == 1000000
    assert query("train.steps_per_summary") == query("train.steps_per_save") == 300
    assert query("Trainer.lr_decay_steps") == 10000 and query("Trainer.lr_decay_rate") == 0.98
    assert query("Trainer.grad_clip_norm") == 3.0 and query("Trainer.checkpoints_to_keep") == 100


def test_autoencoder_values():
    ddsp_run.parse_gin(None, ["models/ae.gin"])
    assert query("F0LoudnessPreprocessor.time_steps") == 1000
    encoder = "MfccTimeDistributedRnnEncoder"
    assert [query(f"{encoder}.{k}") for k in ("rnn_channels", "rnn_type", "z_dims")] == [
        512, "gru", 16
    ]  # fmt: skip
    assert query(f"{encoder}.z_time_steps") == 125
    assert [query(f"RnnFcDecoder.{k}") for k in ("rnn_channels", "ch", "layers_per_stack")] == [
        512, 512, 3
    ]  # fmt: skip
    assert query("RnnFcDecoder.input_keys") == ("ld_scaled", "f0_scaled", "z")
    assert query("RnnFcDecoder.output_splits") == (
        ("amps", 1), ("harmonic_distribution", 100), ("noise_magnitudes", 65)
    )  # fmt: skip
    assert query("Harmonic.n_samples") == query("FilteredNoise.n_samples") == 64000
    assert query("FilteredNoise.window_size") == 0
    assert query("SpectralLoss.loss_type") == "L1"


def test_solo_and_tiny_instrument_values():
    ddsp_run.parse_gin(None, ["papers/iclr2020/tiny_instrument.gin"])
    assert query("Autoencoder.encoder") is None
    assert query("RnnFcDecoder.input_keys") == ("ld_scaled", "f0_scaled")
    assert dict(query("RnnFcDecoder.output_splits"))["harmonic_distribution"] == 60
    assert query("Reverb.reverb_length") == 48000 and query("Reverb.trainable") is True
    assert query("RnnFcDecoder.layers_per_stack") == 0 and query("RnnFcDecoder.rnn_channels") == 256


def features(n_samples=16000, n_frames=250, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / 16000
    audio = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(n_samples)
    return {
        "audio": audio[None].astype(np.float32),
        "f0_hz": np.full((1, n_frames), 220.0, np.float32),
        "loudness_db": np.full((1, n_frames), -30.0, np.float32),
    }


SMALL_DECODER = ["RnnFcDecoder.rnn_channels = 8", "RnnFcDecoder.ch = 8", "RnnFcDecoder.seed = 0"]
SMALL_SYNTHS = ["Harmonic.n_samples = 16000", "FilteredNoise.n_samples = 16000",
                "F0LoudnessPreprocessor.time_steps = 250"]  # fmt: skip


def build_and_run(files, params, batch):
    ddsp_run.parse_gin(None, files, params)
    model = models.get_model()
    outputs, losses = model(batch, training=True, return_losses=True)
    assert outputs["audio_synth"].shape == batch["audio"].shape
    assert np.isfinite(float(losses["total_loss"])) and float(losses["total_loss"]) > 0
    return model


def names(model):
    return [p.name for p in model.processor_group.processors]


def test_autoencoder_builds():
    small = SMALL_SYNTHS + SMALL_DECODER + [
        "MfccTimeDistributedRnnEncoder.rnn_channels = 8",
        "MfccTimeDistributedRnnEncoder.z_dims = 3",
        "RnnFcDecoder.layers_per_stack = 1",
    ]  # fmt: skip
    for files in (["models/ae.gin"], ["papers/iclr2020/nsynth_ae.gin"]):
        model = build_and_run(files, small, features())
        assert type(model.encoder).__name__ == "MfccTimeDistributedRnnEncoder"
        assert names(model) == ["harmonic", "filtered_noise", "add"]
        assert model.decoder.input_keys == ["ld_scaled", "f0_scaled", "z"]
        h = model.processor_group.processors[0]
        x = np.linspace(-5.0, 5.0, 11)
        np.testing.assert_array_equal(h.scale_fn(x), core.exp_sigmoid(x))
        assert h.normalize_below_nyquist
        assert model.parameters()["decoder"]["dense_out"]["kernel"].shape == (8, 1 + 100 + 65)


def test_solo_instrument_builds():
    small = SMALL_SYNTHS + SMALL_DECODER + ["Reverb.reverb_length = 500"]
    for files in (["models/solo_instrument.gin"], ["papers/iclr2020/solo_instrument.gin"]):
        model = build_and_run(files, small, features())
        assert model.encoder is None
        assert names(model) == ["harmonic", "filtered_noise", "add", "reverb"]
        reverb = model.processor_group.processors[-1]
        assert isinstance(reverb, effects.Reverb) and reverb.trainable
        assert model.parameters()["processor_group"]["reverb"]["ir"].shape == (500,)


def test_tiny_instrument_builds_with_one_layer_per_stack():
    small = SMALL_SYNTHS + ["Reverb.reverb_length = 500", "RnnFcDecoder.layers_per_stack = 1"]
    model = build_and_run(["papers/iclr2020/tiny_instrument.gin"], small, features())
    assert model.decoder.rnn.dims == 256


def test_tiny_instrument_as_shipped():
    small = SMALL_SYNTHS + ["Reverb.reverb_length = 500"]
    build_and_run(["papers/iclr2020/tiny_instrument.gin"], small, features())


def test_vst_builds():
    # 1 s at 50 frames/s with centred frames: 51 frames, 51 * 320 = 16320 samples synthesized,
    # cropped back to 16000.
    small = SMALL_DECODER + ["n_samples = 16320", "FilteredNoiseReverb.reverb_length = 800",
                             "FilteredNoiseReverb.n_frames = 20"]  # fmt: skip
    batch = features(n_frames=51)
    batch["f0_confidence"] = np.ones((1, 51), np.float32)
    del batch["loudness_db"]
    model = build_and_run(["models/vst/vst.gin"], small, batch)
    assert names(model) == ["harmonic", "filtered_noise", "add", "reverb", "crop"]
    crop = model.processor_group.processors[-1]
    assert isinstance(crop, processors.Crop) and (crop.frame_size, crop.crop_location) == (
        320, "back"
    )  # fmt: skip
    harmonic = model.processor_group.processors[0]
    assert isinstance(harmonic, synths.Harmonic) and harmonic.amp_resample_method == "linear"
    assert harmonic.n_samples == 16320


# A config written the way ddsp's configs are (block syntax, ddsp's module paths, fully
# qualified and partial selectors), for the model of models/solo_instrument.gin.
DDSP_STYLE = """
import ddsp
import ddsp.training

get_model.model = @models.Autoencoder()
Autoencoder.preprocessor = @preprocessing.F0LoudnessPreprocessor()
preprocessing.F0LoudnessPreprocessor.time_steps = 250
Autoencoder.encoder = None
Autoencoder.decoder = @decoders.RnnFcDecoder()
RnnFcDecoder:
    rnn_channels = 8
    rnn_type = 'gru'
    ch = 8
    layers_per_stack = 1
    input_keys = ('ld_scaled', 'f0_scaled')
    output_splits = (('amps', 1),
                     ('harmonic_distribution', 10),
                     ('noise_magnitudes', 5))
Autoencoder.losses = [@ddsp.losses.SpectralLoss()]
Autoencoder.processor_group = @processors.ProcessorGroup()
ProcessorGroup.dag = [
  (@ddsp.synths.Harmonic(), ['amps', 'harmonic_distribution', 'f0_hz']),
  (@synths.FilteredNoise(), ['noise_magnitudes']),
  (@processors.Add(), ['filtered_noise/signal', 'harmonic/signal']),
]
Harmonic:
    n_samples = 16000
    scale_fn = @ddsp.core.exp_sigmoid
FilteredNoise.n_samples = 16000
processors.Add.name = 'add'
train.data_provider = @data.TFRecordProvider()
get_trainer_class.trainer_class = @trainers.Trainer
"""


def test_a_config_in_ddsp_style(tmp_path):
    (tmp_path / "ddsp_style.gin").write_text(DDSP_STYLE)
    ddsp_run.parse_gin(None, [str(tmp_path / "ddsp_style.gin")])
    model = build_and_run([str(tmp_path / "ddsp_style.gin")], [], features())
    assert names(model) == ["harmonic", "filtered_noise", "add"]
    from ddsp_ref.training import trainers

    assert trainers.get_trainer_class() is trainers.Trainer
