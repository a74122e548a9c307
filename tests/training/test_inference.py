"""training.inference (ddsp's inference.py) against ddsp 3.7.0 and independent computations.

- ``fixtures/inference/autoencoder_<case>.npz``: ddsp's own ``AutoencoderInference`` on the TF
  checkpoints of ``fixtures/tf_ckpt`` (``scripts/make_inference_fixture.py``).
- The shipped violin model: ``AutoencoderInference`` equals an ``Autoencoder`` assembled by hand
  (no reverb) with the checkpoint's decoder weights.
- A small vst.gin model (random weights, seeded) for the VST modules: frame-by-frame decoding
  against the whole-sequence decoder, block-by-block synthesis against a float64 numpy
  synthesis with one continuous phase, feature extraction on pure tones.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

gin = pytest.importorskip("gin")

from ddsp_ref import core  # noqa: E402
from ddsp_ref.training import inference, models  # noqa: E402
from ddsp_ref.training.checkpoints import load_checkpoint, save_checkpoint  # noqa: E402
from ddsp_ref.training.model_dir import SHIPPED_MODEL_DIR  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
GIN_DIR = Path(models.__file__).parent / "gin"

# A vst.gin model shrunk for tests: GRU 8, 6 harmonics, 5 noise bands, a short noise reverb.
VST_BINDINGS = [
    "RnnFcDecoder.rnn_channels = 8",
    "RnnFcDecoder.ch = 8",
    "RnnFcDecoder.seed = 3",
    "RnnFcDecoder.output_splits = "
    "(('amps', 1), ('harmonic_distribution', 6), ('noise_magnitudes', 5))",
    "FilteredNoiseReverb.reverb_length = 640",
    "FilteredNoiseReverb.n_frames = 10",
    "FilteredNoiseReverb.n_filter_banks = 4",
    "n_samples = 3520",
]
HOP = 320  # 16000 / 50


@pytest.fixture(autouse=True)
def clean_gin():
    gin.clear_config()
    yield
    gin.clear_config()


@pytest.fixture(scope="module")
def vst_dir(tmp_path_factory):
    """(folder with ckpt-5.npz + operative config, the trained-side Autoencoder)."""
    gin.clear_config()
    gin.parse_config_files_and_bindings([str(GIN_DIR / "models" / "vst" / "vst.gin")],
                                        VST_BINDINGS)  # fmt: skip
    model = models.get_model()
    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.1, (1, 3200)).astype(np.float32)
    frames = np.full((1, 11), 220.0, np.float32)
    model({"audio": audio, "f0_hz": frames, "f0_confidence": frames * 0 + 1}, training=False)
    # Move the weights off their initial values (biases start at zero).
    params = _tree_map(lambda x: x + rng.normal(0, 0.3, np.shape(x)).astype(x.dtype),
                       model.parameters())  # fmt: skip
    model.set_parameters(params)
    folder = tmp_path_factory.mktemp("vst")
    save_checkpoint(folder, 5, model.parameters(), {}, gin_config=gin.operative_config_str())
    gin.clear_config()
    return str(folder), model


def _tree_map(fun, tree):
    return {k: _tree_map(fun, v) for k, v in tree.items()} if isinstance(tree, dict) else fun(tree)


def _fixture(case):
    with np.load(FIXTURES / "inference" / f"autoencoder_{case}.npz") as f:
        return {k: f[k] for k in f.files}


# -- AutoencoderInference -------------------------------------------------------------------
@pytest.mark.parametrize("case", ["solo", "no_reverb"])
@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_autoencoder_inference_matches_ddsp(case, index, capsys):
    """ddsp's AutoencoderInference on its own TF checkpoint: lengths (one frame, a length
    that is not a whole number of hops, 0.5 s, 2 s), decoder outputs, controls, audio."""
    ref = {k[3:]: v for k, v in _fixture(case).items() if k.startswith(f"L{index}/")}
    model = inference.AutoencoderInference(
        FIXTURES / "tf_ckpt" / case, length_seconds=float(ref["length_seconds"]), verbose=False
    )
    assert (model.n_frames, model.n_samples) == (int(ref["n_frames"]), int(ref["n_samples"]))
    out = model({"f0_hz": ref["f0_hz"], "loudness_db": ref["loudness_db"]})
    assert "reverb" not in out and not bool(ref["has_reverb"])
    for key in ("amps", "harmonic_distribution", "noise_magnitudes"):
        np.testing.assert_allclose(out[key], ref[key], rtol=2e-5, atol=2e-6, err_msg=key)
    for key in ("amplitudes", "harmonic_distribution", "f0_hz"):
        np.testing.assert_allclose(out["harmonic"]["controls"][key],
                                   ref["harmonic_controls/" + key], rtol=2e-5, atol=1e-7)  # fmt: skip
    harmonic = out["harmonic"]["signal"]
    assert harmonic.shape == (1, model.n_samples)
    scale = np.abs(ref["exact_harmonic"]).max()
    # float32 envelopes in both; their rounding moves the phase a little over 2 s
    np.testing.assert_allclose(harmonic, ref["exact_harmonic"], atol=1e-4 * scale)
    if "harmonic_signal" in ref:  # ddsp's float32 phase drifts: its first 512 samples
        np.testing.assert_allclose(harmonic[:, :512], ref["harmonic_signal"][:, :512],
                                   atol=1e-4 * scale)  # fmt: skip
    np.testing.assert_allclose(out["audio_synth"],
                               harmonic + out["filtered_noise"]["signal"], rtol=1e-6, atol=1e-7)  # fmt: skip


def _violin_by_hand(n_frames):
    """The violin model assembled in Python (no gin), reverb left out, decoder weights read
    straight from the checkpoint file."""
    from ddsp_ref import processors, synths
    from ddsp_ref.training.decoders import RnnFcDecoder
    from ddsp_ref.training.preprocessing import F0LoudnessPreprocessor

    n_samples = n_frames * 64
    harmonic = synths.Harmonic(n_samples=n_samples, sample_rate=16000,
                               amp_resample_method="window", normalize_below_nyquist=True)  # fmt: skip
    noise = synths.FilteredNoise(n_samples=n_samples, window_size=0, initial_bias=-5.0)
    group = processors.ProcessorGroup(dag=[
        (harmonic, ["amps", "harmonic_distribution", "f0_hz"]),
        (noise, ["noise_magnitudes"]),
        (processors.Add(), ["filtered_noise/signal", "harmonic/signal"]),
    ])  # fmt: skip
    decoder = RnnFcDecoder(rnn_channels=256, ch=512, layers_per_stack=0,
                           input_keys=("ld_scaled", "f0_scaled"),
                           output_splits=(("amps", 1), ("harmonic_distribution", 60),
                                          ("noise_magnitudes", 65)))  # fmt: skip
    model = models.Autoencoder(
        preprocessor=F0LoudnessPreprocessor(time_steps=n_frames, compute_loudness=False),
        decoder=decoder, processor_group=group,
    )  # fmt: skip
    zeros = np.zeros((1, n_frames), np.float32)
    model({"f0_hz": zeros, "loudness_db": zeros})
    _, params, _, _ = load_checkpoint(os.path.join(SHIPPED_MODEL_DIR, "ckpt-6000.npz"))
    decoder.set_parameters(params["decoder"])
    return model


@pytest.mark.parametrize("seconds", [0.004, 0.3337, 1.0, 12.0])
def test_autoencoder_inference_equals_hand_built_autoencoder(seconds):
    """Shipped violin model: one frame, a non-multiple of the hop, 1 s, 12 s (3000 frames)."""
    model = inference.AutoencoderInference(SHIPPED_MODEL_DIR, length_seconds=seconds,
                                           verbose=False)  # fmt: skip
    n_frames = int(seconds * 16000 / 64)
    assert (model.n_frames, model.n_samples, model.hop_size) == (n_frames, n_frames * 64, 64)
    rng = np.random.default_rng(1)
    t = np.arange(n_frames) / 250.0
    f0 = (440.0 * 2 ** (np.sin(2 * np.pi * 0.5 * t) / 6) + rng.normal(0, 1, n_frames))
    ld = -30.0 + 10.0 * np.sin(2 * np.pi * 0.3 * t)
    features = {"f0_hz": f0.astype(np.float32), "loudness_db": ld.astype(np.float32)}
    got = model(features)
    want = _violin_by_hand(n_frames)(features, training=False)
    assert got["audio_synth"].shape == (1, n_frames * 64)
    assert "reverb" not in got
    for key in ("amps", "harmonic_distribution", "noise_magnitudes"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-6, err_msg=key)
    np.testing.assert_allclose(got["harmonic"]["signal"], want["harmonic"]["signal"],
                               rtol=1e-5, atol=1e-6)  # fmt: skip


def test_autoencoder_inference_keeps_reverb_when_asked(tmp_path):
    model = inference.AutoencoderInference(SHIPPED_MODEL_DIR, length_seconds=0.2,
                                           remove_reverb=False, verbose=False)  # fmt: skip
    _, params, _, _ = load_checkpoint(os.path.join(SHIPPED_MODEL_DIR, "ckpt-6000.npz"))
    np.testing.assert_array_equal(model.parameters()["processor_group"]["reverb"]["ir"],
                                  params["processor_group"]["reverb"]["ir"])  # fmt: skip
    out = model({"f0_hz": np.full(50, 300.0, np.float32),
                 "loudness_db": np.full(50, -20.0, np.float32)})  # fmt: skip
    assert out["audio_synth"].shape == (1, 3200) and "reverb" in out


def test_autoencoder_inference_bad_inputs(vst_dir):
    with pytest.raises(ValueError, match="length_seconds"):
        inference.AutoencoderInference(SHIPPED_MODEL_DIR, length_seconds=0, verbose=False)
    with pytest.raises(ValueError, match="shorter than one hop"):
        inference.AutoencoderInference(SHIPPED_MODEL_DIR, length_seconds=0.003, verbose=False)
    with pytest.raises(ValueError, match="VST modules"):
        inference.AutoencoderInference(vst_dir[0], verbose=False)
    with pytest.raises(FileNotFoundError, match="operative_config"):
        inference.AutoencoderInference(FIXTURES, verbose=False)
    model = inference.AutoencoderInference(SHIPPED_MODEL_DIR, length_seconds=0.1, verbose=False)
    with pytest.raises(TypeError, match="dict"):
        model(np.zeros(25))
