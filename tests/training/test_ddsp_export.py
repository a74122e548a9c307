"""``ddsp_ref export`` / ``ddsp_export``: reverb IR, metadata.json and the model folder; what
needs TensorFlow is refused with a clear error."""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

gin = pytest.importorskip("gin")

import ddsp_ref  # noqa: E402
from ddsp_ref.__main__ import main as cli  # noqa: E402
from ddsp_ref.training import inference  # noqa: E402
from ddsp_ref.training.checkpoints import load_checkpoint  # noqa: E402
from ddsp_ref.training.data_preparation import prepare_dataset  # noqa: E402
from ddsp_ref.training.ddsp_export import main as ddsp_export  # noqa: E402
from ddsp_ref.training.model_dir import SHIPPED_MODEL_DIR  # noqa: E402

from .test_inference import vst_dir  # noqa: E402, F401  (fixture)

pytestmark = pytest.mark.usefixtures("clean_gin")  # tests/training/conftest.py

TONES = ((220.0, 0.3), (330.0, 0.2), (494.0, 0.1))  # Hz, amplitude: one 2 s file each


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A prepared dataset (50 frames per second, centred, as the VST models train on) of three
    steady tones: 1 s examples every 0.5 s."""
    root = tmp_path_factory.mktemp("tones")
    paths = []
    for hz, amp in TONES:
        t = np.arange(32000) / 16000.0
        path = str(root / f"tone_{int(hz)}.wav")
        sf.write(path, amp * np.sin(2 * np.pi * hz * t), 16000, subtype="FLOAT")
        paths.append(path)
    out = str(root / "prepared")
    prepare_dataset(
        paths,
        out,
        frame_rate=50,
        center=True,
        example_secs=1,
        hop_secs=0.5,
        chunk_secs=2,
        num_workers=1,
        progress=None,
    )
    return out


def test_vst_export_writes_ir_metadata_and_model(vst_dir, dataset, tmp_path):  # noqa: F811
    folder, trained = vst_dir
    out = tmp_path / "export"
    status = cli(
        [
            "export",
            f"--model_path={folder}",
            f"--save_dir={out}",
            "--inference_model=vst_stateless_predict_controls",
            f"--dataset_path={dataset}",
            "--tfjs=false",
            "--notflite",
        ]
    )
    assert status == 0
    # Reverb: the FilteredNoiseReverb's IR (640 samples), 16-bit, at 16 kHz and, as ddsp
    # writes it, the same samples labelled 44.1 kHz.
    ir, sr = sf.read(out / "reverb_ir_16000_hz.wav", dtype="int16")
    info = sf.info(out / "reverb_ir_16000_hz.wav")
    assert sr == 16000 and ir.shape == (640,) and info.subtype == "PCM_16"
    ir44, sr44 = sf.read(out / "reverb_ir_44100_hz.wav", dtype="int16")
    assert sr44 == 44100
    np.testing.assert_array_equal(ir44, ir)
    # Metadata: ddsp's fields, against what the tones are.
    meta = json.loads((out / "metadata.json").read_text())
    assert set(meta) == {
        "mean_min_pitch_note",
        "mean_max_pitch_note",
        "mean_min_pitch_note_hz",
        "mean_max_pitch_note_hz",
        "mean_min_power_note",
        "mean_max_power_note",
        "version",
        "ddsp_version",
        "export_time",
        "num_harmonics",
        "num_noise_amps",
        "frame_rate",
        "frame_size",
        "sample_rate",
    }
    midi = [12 * np.log2(hz / 440.0) + 69 for hz, _ in TONES]
    # Each example is one steady tone: its lowest and highest note pitch are the tone's.
    assert abs(meta["mean_min_pitch_note"] - np.mean(midi)) < 0.2
    assert abs(meta["mean_max_pitch_note"] - np.mean(midi)) < 0.2
    for key in ("min", "max"):
        m = meta[f"mean_{key}_pitch_note"]
        assert meta[f"mean_{key}_pitch_note_hz"] == pytest.approx(440 * 2 ** ((m - 69) / 12))
    # Power of a sine of amplitude A: 20 log10(A / sqrt(2)); the lowest note frame may be the
    # first one, half zero padding (-6 dB).
    power = np.mean([20 * np.log10(amp / np.sqrt(2)) for _, amp in TONES])
    assert abs(meta["mean_max_power_note"] - power) < 0.1
    assert power - 6.5 < meta["mean_min_power_note"] <= meta["mean_max_power_note"]
    assert (meta["num_harmonics"], meta["num_noise_amps"]) == (6, 5)
    assert (meta["frame_rate"], meta["frame_size"], meta["sample_rate"]) == (50, 1024, 16000)
    assert meta["version"] == ddsp_ref.__version__ and meta["ddsp_version"] == "3.7.0"
    datetime.datetime.fromisoformat(meta["export_time"])
    # The model folder: reloaded, it decodes as the trained decoder.
    gin.clear_config()
    module = inference.load_model(out)
    assert type(module) is inference.VSTStatelessPredictControls
    amps, hd, noise, state = module(np.full(1, 0.5), np.full(1, 0.7), np.zeros(8))
    named = dict(zip(trained.processor_group.processor_names, trained.processor_group.processors))
    dec = trained.decoder(
        {"f0_scaled": np.full((1, 1, 1), 0.5), "pw_scaled": np.full((1, 1, 1), 0.7)}
    )
    f0_hz = 440 * 2 ** ((0.5 * 127 - 69) / 12)
    want = named["harmonic"].get_controls(
        dec["amps"], dec["harmonic_distribution"], np.full((1, 1, 1), f0_hz)
    )
    np.testing.assert_allclose(amps, want["amplitudes"][0, 0], rtol=1e-5)
    np.testing.assert_allclose(hd, want["harmonic_distribution"][0, 0], rtol=1e-5, atol=1e-8)


def test_violin_export_reverb_ir_is_the_checkpoints(tmp_path):
    out = tmp_path / "violin"
    status = ddsp_export(
        [
            f"--model_path={SHIPPED_MODEL_DIR}",
            f"--save_dir={out}",
            "--inference_model=autoencoder",
            "--metadata=false",
            "--gin_param=AutoencoderInference.length_seconds = 0.5",
            "--resample_reverb",
        ]
    )
    assert status == 0
    _, params, _, _ = load_checkpoint(os.path.join(SHIPPED_MODEL_DIR, "ckpt-6000.npz"))
    ir = np.asarray(params["processor_group"]["reverb"]["ir"], np.float64)
    got, sr = sf.read(out / "reverb_ir_16000_hz.wav", dtype="int16")
    assert sr == 16000
    np.testing.assert_array_equal(got, np.trunc(np.clip(ir, -1, 1) * 32767).astype(np.int16))
    resampled, sr44 = sf.read(out / "reverb_ir_44100_hz.wav")
    assert sr44 == 44100 and resampled.shape == (int(np.ceil(48000 * 44100 / 16000)),)
    gin.clear_config()
    model = inference.load_model(out)
    assert type(model) is inference.AutoencoderInference and model.n_samples == 8000
    assert not (out / "metadata.json").exists()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--tfjs"], "need TensorFlow"),
        (["--tflite=true"], "need TensorFlow"),
        (["--metadata_file=meta.txt"], "need TensorFlow"),
        ([], "streaming_f0_pw"),  # ddsp's default inference_model names no class
    ],
)
def test_tensorflow_only_requests_are_refused_before_writing(flags, message, tmp_path, capsys):
    out = tmp_path / "never"
    args = [f"--model_path={SHIPPED_MODEL_DIR}", f"--save_dir={out}", *flags]
    if flags:
        args.append("--inference_model=autoencoder")
    assert ddsp_export(args) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_export_errors_name_the_fix(dataset, tmp_path, capsys):
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "saved_model.pb").write_bytes(b"")
    assert ddsp_export([f"--model_path={tmp_path / 'sm'}", "--inference_model=autoencoder"]) == 2
    assert "SavedModel" in capsys.readouterr().err
    assert ddsp_export(["--inference_model=autoencoder"]) == 2
    assert "--model_path is required" in capsys.readouterr().err
    # A solo_instrument model has no vst.gin macros: metadata cannot be computed.
    args = [
        f"--model_path={SHIPPED_MODEL_DIR}",
        f"--save_dir={tmp_path / 'v'}",
        "--inference_model=autoencoder",
        "--reverb=false",
    ]
    gin.clear_config()
    assert ddsp_export([*args, f"--dataset_path={dataset}"]) == 2
    assert "--metadata=false" in capsys.readouterr().err
    assert ddsp_export([*args, f"--dataset_path={tmp_path}"]) == 2
    assert "without manifest.json" in capsys.readouterr().err
    # A model without a reverb processor.
    gin.clear_config()
    exported = tmp_path / "dry"
    inference.AutoencoderInference(SHIPPED_MODEL_DIR, length_seconds=0.1, verbose=False).save_model(
        exported
    )
    gin.clear_config()
    assert (
        ddsp_export(
            [f"--model_path={exported}", "--inference_model=autoencoder", "--metadata=false"]
        )
        == 2
    )
    assert "--reverb=false" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        ddsp_export(["--inference_model=nope"])


def test_console_script_is_declared():
    import importlib

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    root = Path(__file__).parents[2]
    scripts = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, attr = scripts["ddsp_export"].partition(":")
    assert getattr(importlib.import_module(module), attr) is ddsp_export


def test_export_of_a_ddsp_tf_checkpoint_needs_only_numpy_afterwards(dataset, tmp_path):
    """ddsp's own vst.gin checkpoint (fixtures/vst_ckpt) exported, reloaded, and decoding as
    the module built on the TF checkpoint itself."""
    tf_dir = Path(__file__).parent / "fixtures" / "vst_ckpt"
    out = tmp_path / "from_tf"
    args = [f"--model_path={tf_dir}", f"--save_dir={out}", f"--dataset_path={dataset}",
            "--inference_model=vst_stateless_predict_controls"]  # fmt: skip
    assert ddsp_export(args) == 0
    assert sf.info(out / "reverb_ir_16000_hz.wav").frames == 640
    assert json.loads((out / "metadata.json").read_text())["num_harmonics"] == 6
    gin.clear_config()
    direct = inference.VSTStatelessPredictControls(tf_dir)
    gin.clear_config()
    again = inference.load_model(out)
    inputs = (np.full(1, 0.45, np.float32), np.full(1, 0.8, np.float32), np.ones(8, np.float32))
    for got, want in zip(again(*inputs), direct(*inputs)):
        np.testing.assert_array_equal(got, want)


def test_default_save_dir_follows_ddsp(tmp_path):
    """A checkpoint file: <its folder>/<name>; a folder: <folder>/export."""
    import shutil

    model = tmp_path / "violin"
    shutil.copytree(SHIPPED_MODEL_DIR, model)
    common = ["--inference_model=autoencoder", "--metadata=false", "--reverb=false",
              "--gin_param=AutoencoderInference.length_seconds = 0.1"]  # fmt: skip
    assert ddsp_export([f"--model_path={model / 'ckpt-6000.npz'}", "--name=mine", *common]) == 0
    assert (model / "mine" / "inference_model.json").is_file()
    gin.clear_config()
    assert ddsp_export([f"--model_path={model}", "--debug", *common]) == 0
    assert (model / "export").is_dir() and not os.listdir(model / "export")  # --debug
