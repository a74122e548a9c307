"""``ddsp_ref run`` (ddsp_run) end to end: train the tiny solo-instrument config on a dataset
prepared from 3 s of the bundled violin (loss decreases; metrics, checkpoints, operative config
and loss curves written), restart from the folder alone (resumes at the saved step), the parse
order, gin file look-up, and the errors of bad flags and missing configuration."""

from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
import pytest
import soundfile as sf

from ddsp_ref.__main__ import main as cli_main
from ddsp_ref.data import corpus_dir
from ddsp_ref.training import ddsp_run, models
from ddsp_ref.training.checkpoints import load_checkpoint
from ddsp_ref.training.data import DatasetProvider
from ddsp_ref.training.data_preparation.pipeline import prepare_dataset

gin = pytest.importorskip("gin")

# The tiny model shrunk to 1 s examples and a few channels, so a step takes milliseconds.
SMALL = [
    "Harmonic.n_samples = 16000",
    "FilteredNoise.n_samples = 16000",
    "F0LoudnessPreprocessor.time_steps = 250",
    "Reverb.reverb_length = 1000",
    "RnnFcDecoder.rnn_channels = 16",
    "RnnFcDecoder.ch = 16",
    "RnnFcDecoder.output_splits = (('amps', 1), ('harmonic_distribution', 20), "
    "('noise_magnitudes', 16))",
    # FcStack needs >= 1 layer; the shipped tiny config's 0 is tested in test_gin_configs.
    "RnnFcDecoder.layers_per_stack = 1",
    "RnnFcDecoder.seed = 0",
    "Reverb.seed = 1",
    "FilteredNoise.seed = 2",
]


pytestmark = pytest.mark.usefixtures("clean_gin")  # tests/training/conftest.py


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """3 s of the violin corpus prepared as 1 s examples every 0.5 s (5 examples)."""
    folder = tmp_path_factory.mktemp("violin")
    audio, rate = sf.read(os.path.join(corpus_dir(), "violin_twinkle.flac"))
    sf.write(folder / "violin3s.wav", audio[: 3 * rate], rate)
    out = str(folder / "dataset")
    prepare_dataset([str(folder / "violin3s.wav")], out, example_secs=1, hop_secs=0.5,
                    chunk_secs=0, num_workers=1, progress=None)  # fmt: skip
    assert DatasetProvider(out).n_examples == 5
    return out


def params_flags(params):
    return [arg for p in params for arg in ("--gin_param", p)]


def train_flags(dataset, save_dir, steps, extra=()):
    return [
        "run", "--mode", "train", "--save_dir", str(save_dir),
        "--gin_file", "papers/iclr2020/tiny_instrument.gin",
        "--gin_file", "datasets/prepared.gin",
        *params_flags([f"DatasetProvider.path = '{dataset}'", *SMALL, "batch_size = 2",
                       "learning_rate = 3e-3", f"train.num_steps = {steps}",
                       "train.steps_per_summary = 4", "train.steps_per_save = 8", *extra]),
    ]  # fmt: skip


def metrics(save_dir):
    with open(os.path.join(save_dir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    """16 steps of training, then a restart from the folder alone up to step 20."""
    save_dir = tmp_path_factory.mktemp("run")
    gin.clear_config()
    assert cli_main(train_flags(dataset, save_dir, 16)) == 0
    first = metrics(save_dir)
    files = sorted(os.listdir(save_dir))
    # No --gin_file: the model and the dataset come from the operative config of the folder.
    assert (
        cli_main(["run", "--save_dir", str(save_dir), "--gin_param", "train.num_steps = 20"]) == 0
    )
    gin.clear_config()
    return str(save_dir), first, files, metrics(save_dir)


def test_training_lowers_the_loss_and_writes_everything(trained):
    save_dir, first, files, _ = trained
    assert [r["step"] for r in first] == [4, 8, 12, 16]
    losses = [r["total_loss"] for r in first]
    assert all(np.isfinite(losses)) and losses[-1] < 0.9 * losses[0]
    assert {"ckpt-8.npz", "ckpt-16.npz", "operative_config-16.gin", "loss_curves.png"} <= set(files)
    with open(os.path.join(save_dir, "loss_curves.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(os.path.join(save_dir, "operative_config-16.gin")) as f:
        operative = f.read()
    assert "RnnFcDecoder.rnn_channels = 16" in operative
    assert "learning_rate = 0.003" in operative


def test_restart_resumes_at_the_saved_step(trained):
    save_dir, first, _, after = trained
    assert after[: len(first)] == first
    assert [r["step"] for r in after[len(first) :]] == [20]
    step, params, opt_state, _ = load_checkpoint(os.path.join(save_dir, "ckpt-20.npz"))
    assert step == 20 and opt_state["step"] == 20  # 4 more Adam steps, not 4 from scratch
    # Continued from ckpt-16's weights: the loss stays near where the first run ended, below
    # the loss of the first steps (a fresh model starts there again).
    assert after[-1]["total_loss"] < 0.95 * first[0]["total_loss"]


def test_operative_config_rebuilds_the_model_and_restore_loads_it(trained, dataset):
    save_dir, _, _, _ = trained
    assert ddsp_run.parse_gin(save_dir).endswith("operative_config-20.gin")
    model = models.get_model()
    batch = DatasetProvider(dataset).examples([0, 1])
    model(batch)
    model.restore(save_dir, verbose=False)
    _, params, _, _ = load_checkpoint(os.path.join(save_dir, "ckpt-20.npz"))
    np.testing.assert_array_equal(
        model.parameters()["decoder"]["dense_out"]["kernel"],
        params["decoder"]["dense_out"]["kernel"],
    )
    outputs, losses = model(batch, training=True, return_losses=True)
    assert outputs["audio_synth"].shape == (2, 16000)
    assert losses["total_loss"] < metrics(save_dir)[0]["total_loss"]


def test_early_stop(dataset, tmp_path):
    flags = train_flags(dataset, tmp_path, 50) + ["--early_stop_loss_value", "1e9"]
    assert cli_main(flags) == 0
    assert sorted(f for f in os.listdir(tmp_path) if f.startswith("ckpt")) == ["ckpt-1.npz"]


def test_parse_order(tmp_path):
    # optimization/base.gin < operative config of the restore folder < user files < user params
    (tmp_path / "operative_config-3.gin").write_text(
        "import ddsp.training\nlearning_rate = 0.5\ntrain.num_steps = 7\n"
        "Trainer.lr_decay_steps = 9\n"
    )
    (tmp_path / "operative_config-12.gin").write_text(
        "import ddsp.training\nlearning_rate = 0.25\ntrain.num_steps = 70\n"
        "Trainer.lr_decay_steps = 90\nunknown_function.x = 1\n"
    )
    (tmp_path / "mine.gin").write_text("train.num_steps = 5\n")
    used = ddsp_run.parse_gin(
        str(tmp_path), [str(tmp_path / "mine.gin")], ["learning_rate = 0.125"]
    )
    assert used.endswith("operative_config-12.gin")  # step 12 > 3, not 'operative_config-3'
    assert gin.query_parameter("%learning_rate") == 0.125  # user param
    assert gin.query_parameter("train.num_steps") == 5  # user file
    assert gin.query_parameter("Trainer.lr_decay_steps") == 90  # operative config
    assert gin.query_parameter("Trainer.grad_clip_norm") == 3.0  # base.gin
    assert gin.query_parameter("train.steps_per_save") == 300


def test_operative_config_that_does_not_parse(tmp_path):
    (tmp_path / "operative_config-5.gin").write_text("import ddsp\nHarmonic.no_such_arg = 1\n")
    with pytest.raises(ValueError, match="operative_config-5.gin of the restore folder.*no_such"):
        ddsp_run.parse_gin(str(tmp_path))


def test_gin_search_path(tmp_path):
    folder = tmp_path / "configs"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "mine.gin").write_text(
        "include 'models/solo_instrument.gin'\nRnnFcDecoder.rnn_channels = 7\n"
    )
    ddsp_run.parse_gin(None, ["sub/mine.gin"], [], [str(folder)])
    assert gin.query_parameter("RnnFcDecoder.rnn_channels") == 7
    assert gin.query_parameter("Reverb.reverb_length") == 48000  # from the shipped include
    assert ddsp_run.locate_gin_file("models/ae.gin") == os.path.join(
        ddsp_run.GIN_PATH, "models", "ae.gin"
    )


def run_cli(capsys, *flags):
    code = cli_main(["run", *flags])
    return code, capsys.readouterr().err


def test_errors(capsys, tmp_path, dataset):
    save = ["--save_dir", str(tmp_path / "out")]
    code, err = run_cli(capsys, *save, "--gin_file", "models/nope.gin")
    assert code == 2 and "'models/nope.gin' not found" in err and "models/ae.gin" in err
    code, err = run_cli(capsys, *save, "--gin_file", "models/solo_instrument.gin")
    assert code == 2 and "train.data_provider is not bound" in err and "prepared.gin" in err
    code, err = run_cli(capsys, *save, "--gin_file", "datasets/prepared.gin")
    assert code == 2 and "get_model: no model configured" in err
    code, err = run_cli(capsys, *save, "--gin_param", "no_such_macro_value = %nope")
    assert code == 2 and "No bindings specified for 'nope" in err
    if importlib.util.find_spec("cupy") is not None:
        code, err = run_cli(capsys, *save, "--mode", "eval", "--device", "gpu")
        assert code == 2 and "train mode only" in err
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["run", "--mode", "fit"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        cli_main(["run", "--early_stop_loss_value", "low"])
    assert not os.path.exists(tmp_path / "out" / "metrics.jsonl")


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="cupy is installed")
def test_gpu_without_cupy_names_the_extra(capsys, tmp_path):
    code, err = run_cli(capsys, "--save_dir", str(tmp_path), "--device", "gpu")
    assert code == 2 and "pip install 'ddsp_ref[gpu]'" in err


def test_console_script_entry_point(capsys):
    with pytest.raises(SystemExit) as exit_info:
        ddsp_run.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    flags = "mode save_dir restore_dir gin_file gin_param gin_search_path early_stop_loss_value"
    for flag in (flags + " run_once device").split():
        assert f"--{flag}" in out


def test_eval_and_sample_modes(trained, dataset, tmp_path):
    save_dir, _, _, _ = trained
    out = str(tmp_path / "eval")
    data = ["--gin_file", "datasets/prepared.gin", "--restore_dir", save_dir, "--save_dir", out]
    data += params_flags([f"DatasetProvider.path = '{dataset}'"])
    small = params_flags(["evaluate.batch_size = 2", "evaluate.num_batches = 2"])
    assert cli_main(["run", "--mode", "eval", "--run_once", *data, *small]) == 0
    with open(os.path.join(out, "eval_metrics.jsonl")) as f:
        records = [json.loads(line) for line in f]
    assert [r["step"] for r in records] == [20]
    assert records[0]["checkpoint"].endswith("ckpt-20.npz")
    small = params_flags(["sample.batch_size = 2", "sample.ckpt_delay_secs = 0"])
    assert cli_main(["run", "--mode", "sample", "--run_once", *data, *small]) == 0
    written = sorted(os.listdir(os.path.join(out, "samples")))
    assert "step20_ex0_generated.wav" in written and "step20_ex1_original.wav" in written
    generated, rate = sf.read(os.path.join(out, "samples", "step20_ex0_generated.wav"))
    assert rate == 16000 and generated.shape == (16000,) and np.abs(generated).max() > 1e-3
    if importlib.util.find_spec("tensorboardX") is not None:  # the optional writer
        from .test_summaries import read_events

        events = read_events(out)  # eval scalars, then the samples' audio and images (2 files)
        tags = {v.tag for _, v in events}
        assert any(t.startswith("losses/") or t.startswith("metrics/") for t in tags)
        assert any(v.HasField("audio") for _, v in events)
        assert any(v.HasField("image") for _, v in events)


def test_device_wrapper_moves_batches_and_forwards_the_trainer(dataset, tmp_path, monkeypatch):
    from ddsp_ref import backend
    from ddsp_ref.module import flatten_dict
    from ddsp_ref.training import train_util
    from ddsp_ref.training.trainers import Trainer

    moved = []

    def to_device(x, device):
        moved.append(device)
        return np.asarray(x)

    monkeypatch.setattr(backend, "to_device", to_device)
    ddsp_run.parse_gin(None, ["models/solo_instrument.gin"], SMALL)
    model = models.get_model()
    n_before = len(flatten_dict(model.parameters()))  # the reverb IR: the rest is lazy
    trainer = ddsp_run._DeviceTrainer(Trainer(model), "gpu")
    train_util.train(DatasetProvider(dataset), trainer, batch_size=2, num_steps=3,
                     steps_per_summary=1, save_dir=str(tmp_path), restore_dir="")  # fmt: skip
    assert trainer.step == 3 and set(moved) == {"gpu"}
    # the parameters made before any call, then every feature of the build batch and of the
    # 3 steps' batches
    n_features = len(DatasetProvider(dataset).keys)
    assert n_before == 1 and n_features == 5 and len(moved) == n_before + n_features * 4
    assert sorted(f for f in os.listdir(tmp_path) if f.startswith("ckpt")) == ["ckpt-3.npz"]


def test_loss_curves_and_bad_metrics(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib import image

    from ddsp_ref.plotting import plot_loss_curves
    from ddsp_ref.training.train_util import read_metrics

    lines = [{"step": 10 * i, "total_loss": 5.0 / i, "spectral_loss": 4.0 / i,
              "steps_per_sec": 3.0} for i in range(1, 6)]  # fmt: skip
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines) + "\n")
    assert read_metrics(tmp_path) == lines  # a folder or the file; blank lines skipped
    path = plot_loss_curves(str(tmp_path))
    assert path == str(tmp_path / "loss_curves.png")
    assert image.imread(path).shape == (450, 800, 4)
    other = plot_loss_curves(str(tmp_path / "metrics.jsonl"), str(tmp_path / "a" / "b.png"))
    assert os.path.getsize(other) > 1000
    (tmp_path / "bad.jsonl").write_text('{"step": 1, "total_loss": 2}\n{"step": 2, "tot\n')
    with pytest.raises(ValueError, match="bad.jsonl line 2"):
        read_metrics(tmp_path / "bad.jsonl")
    (tmp_path / "nostep.jsonl").write_text('{"total_loss": 2}\n')
    with pytest.raises(ValueError, match="line 1 has no 'step'"):
        read_metrics(tmp_path / "nostep.jsonl")
    (tmp_path / "noloss.jsonl").write_text('{"step": 1, "steps_per_sec": 2}\n')
    with pytest.raises(ValueError, match="no loss values"):
        plot_loss_curves(str(tmp_path / "noloss.jsonl"))
