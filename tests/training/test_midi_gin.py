"""The MIDI autoencoders' gin configs (models/midiae/*.gin, eval/midi_ae.gin, heuristic*.gin)
under ddsp's relative names: they build and run a (shrunk) model through ``ddsp_ref run``'s
gin parsing."""

from __future__ import annotations

import numpy as np
import pytest

from ddsp_ref.training import ddsp_run, eval_util, models
from ddsp_ref.training.evaluators_midi import MidiAutoencoderEvaluator

gin = pytest.importorskip("gin")

N_T, N_S = 250, 64000  # the model's synthesizer always renders 4 s at 16 kHz (as ddsp)
SMALL = [
    f"F0LoudnessPreprocessor.time_steps = {N_T}",
    "DilatedConvDecoder.ch = 8",
    "DilatedConvDecoder.layers_per_stack = 2",
    "dec/DilatedConvStack.ch = 8",
    "dec/DilatedConvStack.stacks = 1",
    "SpectralLoss.fft_sizes = (512, 128)",
]


pytestmark = pytest.mark.usefixtures("clean_gin")  # tests/training/conftest.py


def features():
    rng = np.random.default_rng(0)
    t = np.arange(N_S) / 16000
    keys = np.array([60] * 125 + [64] * 125)
    roll = np.zeros((1, N_T, 128), np.float32)
    roll[0, np.arange(N_T), keys] = 1.0
    f0 = 440.0 * 2 ** ((keys - 69) / 12)
    audio = 0.3 * np.sin(2 * np.pi * np.repeat(f0, 256) * t) + 0.01 * rng.standard_normal(N_S)
    return {"audio": audio[None].astype(np.float32),
            "f0_hz": f0[None, :, None].astype(np.float32),
            "loudness_db": np.full((1, N_T, 1), -30.0, np.float32),
            "note_active_velocities": roll, "instrument_id": np.array([[3]])}  # fmt: skip


def _run(files, params):
    ddsp_run.parse_gin(None, files, params)
    model = models.get_model()
    outputs, losses = model(features(), training=True, return_losses=True)
    assert outputs["midi_audio"].shape == (1, N_S)
    assert np.isfinite(float(losses["total_loss"]))
    return model, outputs, losses


def test_midiae_gin_builds_with_ground_truth_midi():
    model, outputs, losses = _run(["models/midiae/midiae.gin"], SMALL)
    assert type(model).__name__ == "MidiAutoencoder" and model.midi_encoder is None
    recon = {"spectral_loss_synth", "f0_reconstruction", "amplitude_reconstruction",
             "harmonic_distribution_reconstruction", "noise_reconstruction"}  # fmt: skip
    assert recon <= set(losses)
    np.testing.assert_array_equal(outputs["q_pitch"][0, :, 0], [60] * 125 + [64] * 125)
    assert model.midi_decoder.output_splits[2] == ("harmonic_distribution", 60)
    evaluators = gin.query_parameter("%evaluators")
    assert [e.selector for e in evaluators] == ["BasicEvaluator", "MidiAutoencoderEvaluator"]


def test_midiae_with_the_midi_encoder_mixin():
    params = SMALL + ["enc/DilatedConvStack.ch = 8", "enc/DilatedConvStack.stacks = 1"]
    model, outputs, losses = _run(
        ["models/midiae/midiae.gin", "models/midiae/mixins/midi_encoder.gin"], params
    )
    assert type(model.midi_encoder).__name__ == "HarmonicToMidiEncoder"
    assert "z_pitch" in outputs


def test_z_midiae_gin_builds():
    params = SMALL + [
        "MfccTimeDistributedRnnEncoder.rnn_channels = 4",
        "MfccTimeDistributedRnnEncoder.z_dims = 4",
        "MfccTimeDistributedRnnEncoder.z_time_steps = 125",
        "OneHotEncoder.n_dims = 4",
        "ee/ExpressionEncoder.z_dims = 4",
        "zn/ExpressionEncoder.z_dims = 4",
        "z/DilatedConvStack.ch = 8",
        "z/DilatedConvStack.stacks = 1",
        "nn.FcStackOut.ch = 8",
        "nn.FcStackOut.n_out = 6",
        "nn.FcStackOut.layers = 1",
    ]
    model, outputs, _ = _run(["models/midiae/z_midiae.gin"], params)
    assert type(model).__name__ == "ZMidiAutoencoder"
    assert outputs["z_global"].shape == (1, N_T, 8) and outputs["z_notes"].shape == (1, N_T, 8)


def test_midi_evaluator_on_model_outputs():
    model, outputs, _ = _run(["models/midiae/midiae.gin"], SMALL)
    ev = MidiAutoencoderEvaluator(16000, 250)
    ev.evaluate(features(), outputs, {})
    scores = ev.flush(0)
    # The ground-truth MIDI path: the learned piano roll is the ground truth, so every score
    # is 1 (the notes align with the f0 track exactly).
    assert scores["metrics/midi/learned/onset/f1"] == 1.0
    assert scores["metrics/midi/learned/frame/recall"] == 1.0
    assert eval_util is not None


def test_ddsp_ref_run_trains_midiae_from_the_cli(tmp_path):
    import json
    import os

    import soundfile as sf

    from ddsp_ref.__main__ import main as cli_main
    from ddsp_ref.data import corpus_dir
    from ddsp_ref.training.data_preparation import prepare_dataset

    audio, rate = sf.read(os.path.join(corpus_dir(), "violin_greensleeves.flac"))
    sf.write(tmp_path / "v.wav", audio[: 5 * rate], rate)
    prepare_dataset([str(tmp_path / "v.wav")], str(tmp_path / "ds"), example_secs=4,
                    hop_secs=1, chunk_secs=0, num_workers=1, progress=None)  # fmt: skip
    params = ["DatasetProvider.path = '%s'" % (tmp_path / "ds"), "batch_size = 1",
              "train.num_steps = 2", "train.steps_per_summary = 1", "train.steps_per_save = 2",
              "DilatedConvDecoder.ch = 8", "dec/DilatedConvStack.ch = 8",
              "enc/DilatedConvStack.ch = 8"]  # fmt: skip
    args = ["run", "--mode", "train", "--save_dir", str(tmp_path / "run"),
            "--gin_file", "models/midiae/midiae.gin",
            "--gin_file", "models/midiae/mixins/midi_encoder.gin",
            "--gin_file", "datasets/prepared.gin"]  # fmt: skip
    assert cli_main(args + [a for p in params for a in ("--gin_param", p)]) == 0
    with open(tmp_path / "run" / "metrics.jsonl") as f:
        rows = [json.loads(line) for line in f]
    assert [r["step"] for r in rows] == [1, 2]
    assert {"spectral_loss_synth", "f0_reconstruction", "total_loss"} <= set(rows[0])
    assert (tmp_path / "run" / "ckpt-2.npz").exists()
