"""The DDSP-INV configs (papers/icml2020/*.gin, eval/basic_f0_ld_twm.gin): ddsp's values, the
pretraining model built from them (sizes shrunk by bindings) trained one step on synthetic
notes from a generated TFRecord, and the fine-tuning providers."""

from __future__ import annotations

import numpy as np
import pytest

from ddsp_ref.training import ddsp_run, models

gin = pytest.importorskip("gin")


pytestmark = pytest.mark.usefixtures("clean_gin")  # tests/training/conftest.py


def q(name):
    return gin.query_parameter(name)


def test_pretrain_and_finetune_values():
    ddsp_run.parse_gin(None, ["papers/icml2020/pretrain_model.gin"])
    assert q("InverseSynthesis.reverb") is False
    assert q("ResnetSinusoidalEncoder.size") == "small"
    assert q("ResnetSinusoidalEncoder.output_splits") == (
        ("frequencies", 6400), ("amplitudes", 100), ("noise_magnitudes", 65))  # fmt: skip
    assert q("f0_spectral/compute_logmel.bins") == 229
    assert q("f0_spectral/compute_logmel.hi_hz") == 8000.0
    assert q("SpectralLoss.mag_weight") == 0.0 and q("SpectralLoss.logmag_weight") == 0.0
    assert q("FilteredNoiseConsistencyLoss.weight") == 1.0
    names = [c.selector for c in q("evaluate.evaluator_classes")]
    assert names[-1].endswith("TWMEvaluator")
    gin.clear_config()
    ddsp_run.parse_gin(None, ["papers/icml2020/finetune_model.gin"])
    assert q("SpectralLoss.mag_weight") == 1.0 and q("SpectralLoss.logmag_weight") == 1.0
    assert q("FilteredNoiseConsistencyLoss.weight") == 100.0
    assert q("HarmonicConsistencyLoss.dist_weight") == 100.0
    assert q("KDEConsistencyLoss.weight_mean_amp") == 0.1


SMALL = [
    "ResnetSinusoidalEncoder.output_splits = (('frequencies', 12), ('amplitudes', 3), "
    "('noise_magnitudes', 5))",
    "f0_spectral/compute_logmel.bins = 32",
    "f0_spectral/compute_logmel.fft_size = 256",
    "f0_spectral/compute_logmel.sample_rate = 2000",
    "f0_spectral/compute_logmel.hi_hz = 1000.0",
    "InverseSynthesis.freq_scale_fn = @sin_freqs/core.frequencies_softmax",
    "sin_freqs/frequencies_softmax.depth = 4",
    "sin_freqs/frequencies_softmax.hz_max = 900.0",
    "InverseSynthesis.n_samples = 512",
    "InverseSynthesis.sample_rate = 2000",
    "SinusoidalToHarmonicEncoder.n_harmonics = 4",
    "SinusoidalToHarmonicEncoder.sample_rate = 2000",
    "RnnSandwich.fc_stack_ch = 8",
    "RnnSandwich.fc_stack_layers = 1",
    "RnnSandwich.rnn_ch = 8",
    "SpectralLoss.fft_sizes = (64, 32)",
]


def test_pretraining_model_trains_on_generated_notes(tmp_path):
    from ddsp_ref.training.data import SyntheticNotes
    from ddsp_ref.training.data_preparation.synthetic_data import generate_notes
    from ddsp_ref.training.data_preparation.synthetic_dataset import generate_synthetic_dataset
    from ddsp_ref.training.trainers import Trainer

    prefix = str(tmp_path / "notes.tfrecord")
    generate_synthetic_dataset(prefix, 1, 2, 0, lambda n_batch, seed: generate_notes(
        n_batch, n_timesteps=8, n_harmonics=4, n_mags=5, seed=seed))  # fmt: skip
    files = ["papers/icml2020/pretrain_model.gin", "papers/icml2020/pretrain_dataset.gin"]
    params = SMALL + [f"data.SyntheticNotes.file_pattern = '{prefix}*'",
                      "data.SyntheticNotes.n_timesteps = 8", "data.SyntheticNotes.n_harmonics = 4",
                      "data.SyntheticNotes.n_mags = 5"]  # fmt: skip
    try:
        ddsp_run.parse_gin(None, files, params)
    except ValueError as e:  # pragma: no cover - the binding of a core function
        pytest.fail(f"config does not parse: {e}")
    model = models.get_model()
    provider = gin.get_configurable("data.SyntheticNotes")()  # as train.data_provider is
    assert isinstance(provider, SyntheticNotes)
    assert provider.n_examples == 2
    batch = next(provider.get_batch(batch_size=2, shuffle=False))
    trainer = Trainer(model)
    losses = trainer.train_step(batch)
    assert {
        "ss_kde_consistency_loss",  # ddsp's default name (keras' snake case)
        "ss_harm_amp_loss",
        "ss_filtered_noise_consistency_loss",
    } <= set(losses)
    assert np.isfinite(losses["total_loss"]) and losses["sin_spectral_loss"] == 0.0
