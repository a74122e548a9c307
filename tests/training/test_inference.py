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


pytestmark = pytest.mark.usefixtures("clean_gin")  # tests/training/conftest.py


@pytest.fixture(scope="module")
def vst_dir(tmp_path_factory):
    """(folder with ckpt-5.npz + operative config, the trained-side Autoencoder)."""
    gin.clear_config()
    gin.parse_config_files_and_bindings([str(GIN_DIR / "models" / "vst" / "vst.gin")], VST_BINDINGS)
    model = models.get_model()
    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.1, (1, 3200)).astype(np.float32)
    frames = np.full((1, 11), 220.0, np.float32)
    model({"audio": audio, "f0_hz": frames, "f0_confidence": frames * 0 + 1}, training=False)
    # Move the weights off their initial values (biases start at zero).
    params = _tree_map(
        lambda x: x + rng.normal(0, 0.3, np.shape(x)).astype(x.dtype), model.parameters()
    )
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
        np.testing.assert_allclose(
            out["harmonic"]["controls"][key], ref["harmonic_controls/" + key], rtol=2e-5, atol=1e-7
        )
    harmonic = out["harmonic"]["signal"]
    assert harmonic.shape == (1, model.n_samples)
    scale = np.abs(ref["exact_harmonic"]).max()
    # float32 envelopes in both; their rounding moves the phase a little over 2 s
    np.testing.assert_allclose(harmonic, ref["exact_harmonic"], atol=1e-4 * scale)
    if "harmonic_signal" in ref:  # ddsp's float32 phase drifts: its first 512 samples
        np.testing.assert_allclose(
            harmonic[:, :512], ref["harmonic_signal"][:, :512], atol=1e-4 * scale
        )
    np.testing.assert_allclose(
        out["audio_synth"], harmonic + out["filtered_noise"]["signal"], rtol=1e-6, atol=1e-7
    )


def _violin_by_hand(n_frames):
    """The violin model assembled in Python (no gin), reverb left out, decoder weights read
    straight from the checkpoint file."""
    from ddsp_ref import processors, synths
    from ddsp_ref.training.decoders import RnnFcDecoder
    from ddsp_ref.training.preprocessing import F0LoudnessPreprocessor

    n_samples = n_frames * 64
    harmonic = synths.Harmonic(
        n_samples=n_samples,
        sample_rate=16000,
        amp_resample_method="window",
        normalize_below_nyquist=True,
    )
    noise = synths.FilteredNoise(n_samples=n_samples, window_size=0, initial_bias=-5.0)
    group = processors.ProcessorGroup(
        dag=[
            (harmonic, ["amps", "harmonic_distribution", "f0_hz"]),
            (noise, ["noise_magnitudes"]),
            (processors.Add(), ["filtered_noise/signal", "harmonic/signal"]),
        ]
    )
    decoder = RnnFcDecoder(
        rnn_channels=256,
        ch=512,
        layers_per_stack=0,
        input_keys=("ld_scaled", "f0_scaled"),
        output_splits=(("amps", 1), ("harmonic_distribution", 60), ("noise_magnitudes", 65)),
    )
    model = models.Autoencoder(
        preprocessor=F0LoudnessPreprocessor(time_steps=n_frames, compute_loudness=False),
        decoder=decoder,
        processor_group=group,
    )
    zeros = np.zeros((1, n_frames), np.float32)
    model({"f0_hz": zeros, "loudness_db": zeros}, training=False)
    _, params, _, _ = load_checkpoint(os.path.join(SHIPPED_MODEL_DIR, "ckpt-6000.npz"))
    decoder.set_parameters(params["decoder"])
    return model


@pytest.mark.parametrize("seconds", [0.004, 0.3337, 1.0, 12.0])
def test_autoencoder_inference_equals_hand_built_autoencoder(seconds):
    """Shipped violin model: one frame, a non-multiple of the hop, 1 s, 12 s (3000 frames)."""
    model = inference.AutoencoderInference(SHIPPED_MODEL_DIR, length_seconds=seconds, verbose=False)
    n_frames = int(seconds * 16000 / 64)
    assert (model.n_frames, model.n_samples, model.hop_size) == (n_frames, n_frames * 64, 64)
    rng = np.random.default_rng(1)
    t = np.arange(n_frames) / 250.0
    f0 = 440.0 * 2 ** (np.sin(2 * np.pi * 0.5 * t) / 6) + rng.normal(0, 1, n_frames)
    ld = -30.0 + 10.0 * np.sin(2 * np.pi * 0.3 * t)
    features = {"f0_hz": f0.astype(np.float32), "loudness_db": ld.astype(np.float32)}
    got = model(features)
    want = _violin_by_hand(n_frames)(features, training=False)
    assert got["audio_synth"].shape == (1, n_frames * 64)
    assert "reverb" not in got
    for key in ("amps", "harmonic_distribution", "noise_magnitudes"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-6, err_msg=key)
    np.testing.assert_allclose(
        got["harmonic"]["signal"], want["harmonic"]["signal"], rtol=1e-5, atol=1e-6
    )


def test_autoencoder_inference_keeps_reverb_when_asked(tmp_path):
    model = inference.AutoencoderInference(
        SHIPPED_MODEL_DIR, length_seconds=0.2, remove_reverb=False, verbose=False
    )
    _, params, _, _ = load_checkpoint(os.path.join(SHIPPED_MODEL_DIR, "ckpt-6000.npz"))
    np.testing.assert_array_equal(
        model.parameters()["processor_group"]["reverb"]["ir"],
        params["processor_group"]["reverb"]["ir"],
    )
    out = model(
        {"f0_hz": np.full(50, 300.0, np.float32), "loudness_db": np.full(50, -20.0, np.float32)}
    )
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


# -- VST modules ----------------------------------------------------------------------------
def _scaled_sequence(n, seed=0):
    rng = np.random.default_rng(seed)
    f0_scaled = (core.hz_to_midi(rng.uniform(100, 900, n)) / 127.0).astype(np.float32)
    pw_scaled = rng.uniform(0.2, 1.0, n).astype(np.float32)
    return f0_scaled, pw_scaled


def _sequence_controls(model, f0_scaled, pw_scaled):
    """The whole sequence through the trained model's (stateful) decoder and the synths'
    get_controls: amps [T, 1], hd [T, H], noise [T, N]."""
    named = dict(zip(model.processor_group.processor_names, model.processor_group.processors))
    f0s, pws = f0_scaled.reshape(1, -1, 1), pw_scaled.reshape(1, -1, 1)
    out = model.decoder({"f0_scaled": f0s, "pw_scaled": pws})
    f0_hz = core.midi_to_hz(f0s * 127.0)
    harm = named["harmonic"].get_controls(out["amps"], out["harmonic_distribution"], f0_hz)
    noise = named["filtered_noise"].get_controls(out["noise_magnitudes"])
    return harm["amplitudes"][0], harm["harmonic_distribution"][0], noise["magnitudes"][0]


def test_vst_stateless_predict_controls_step_by_step_equals_sequence(vst_dir):
    folder, trained = vst_dir
    module = inference.VSTStatelessPredictControls(folder)
    assert module.state_size == 8 and (module.n_harmonics, module.n_noise) == (6, 5)
    f0_scaled, pw_scaled = _scaled_sequence(40)
    amps, hd, noise = _sequence_controls(trained, f0_scaled, pw_scaled)
    state = np.zeros(8, np.float32)
    for t in range(40):
        a, h, n, state = module(f0_scaled[t : t + 1], pw_scaled[t : t + 1], state)
        assert a.shape == (1,) and h.shape == (6,) and n.shape == (5,) and state.shape == (8,)
        np.testing.assert_allclose(a, amps[t], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(h, hd[t], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(n, noise[t], rtol=1e-5, atol=1e-9)


def test_vst_predict_controls_decodes_each_frame_alone(vst_dir):
    folder, trained = vst_dir
    module = inference.VSTPredictControls(folder)
    f0_scaled, pw_scaled = _scaled_sequence(5, seed=1)
    for t in range(5):
        want = _sequence_controls(trained, f0_scaled[t : t + 1], pw_scaled[t : t + 1])
        got = module(f0_scaled[t : t + 1], pw_scaled[t : t + 1])
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w[0], rtol=1e-5, atol=1e-9)


def _numpy_blocks(amps, hd, f0, hop, sr=16000):
    """float64 reference of block-wise synthesis with one continuous phase: in block k (frames
    k-1 -> k) every control moves linearly from frame k-1 to frame k over the first half of
    the hop and holds (ddsp's resample of 2 frames to ``hop`` samples reads position
    ``n * (2 / hop)``, both computed in float32 as TF's resize does); harmonics at or above
    Nyquist (at frame rate) are dropped and the distribution renormalised; phase = inclusive
    cumulative sum of ``2 pi f0 / sr``."""
    amps, hd, f0 = (np.asarray(x, np.float64) for x in (amps, hd, f0))
    k = np.arange(1, hd.shape[1] + 1)
    dist = np.where(f0[:, None] * k < sr / 2, hd, 0.0)
    dist = dist / np.maximum(dist.sum(axis=1, keepdims=True), 1e-30)
    harm = amps.reshape(-1, 1) * dist
    f32 = np.float32
    pos = np.minimum(np.arange(hop).astype(f32) * (f32(2) / f32(hop)), 1.0)
    pos = pos.astype(np.float64)[:, None]
    freqs, harm_env = [], []
    for b in range(1, len(f0)):
        freqs.append(f0[b - 1] + (f0[b] - f0[b - 1]) * pos[:, 0])
        harm_env.append(harm[b - 1] + (harm[b] - harm[b - 1]) * pos)
    phase = np.cumsum(2 * np.pi * np.concatenate(freqs) / sr)
    audio = np.sum(np.concatenate(harm_env) * np.sin(phase[:, None] * k), axis=1)
    return audio, np.mod(phase[-1], 2 * np.pi)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("new_hop_size", [None, 97])
def test_vst_synthesize_harmonic_block_by_block_equals_one_phase(vst_dir, dtype, new_hop_size):
    module = inference.VSTSynthesizeHarmonic(vst_dir[0], new_hop_size=new_hop_size)
    hop = new_hop_size or HOP
    assert module.hop_size == hop
    rng = np.random.default_rng(2)
    n = 25
    f0 = rng.uniform(100, 1000, n).astype(dtype)
    f0[7] = 2000.0  # harmonics 4..6 at or above Nyquist in blocks 7 and 8
    amps = rng.uniform(0.0, 0.5, n).astype(dtype)
    hd = rng.uniform(0.0, 1.0, (n, 6)).astype(dtype)
    hd /= hd.sum(axis=1, keepdims=True)
    phase = np.zeros(1, dtype)
    blocks = []
    for b in range(1, n):
        audio, phase = module(
            amps[b : b + 1], amps[b - 1 : b], hd[b], hd[b - 1], f0[b : b + 1], f0[b - 1 : b], phase
        )
        assert audio.shape == (hop,) and audio.dtype == dtype and phase.shape == (1,)
        blocks.append(audio)
    want, final = _numpy_blocks(amps, hd, f0, hop)
    tol = 1e-9 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(np.concatenate(blocks), want, atol=tol * np.abs(want).max())
    np.testing.assert_allclose(np.mod(phase[0], 2 * np.pi), final, atol=1e-9 + 10 * tol)


class _KnownNoise:
    """Stands in for the noise source: hands out given uniform noise, block after block."""

    def __init__(self, noise):
        self.noise, self.used = noise, 0

    def uniform(self, xp, shape, dtype):
        out = self.noise[self.used : self.used + shape[1]].reshape(shape).astype(dtype)
        self.used += shape[1]
        return out


def test_vst_synthesize_is_harmonic_plus_filtered_noise(vst_dir):
    folder = vst_dir[0]
    full = inference.VSTSynthesize(folder)
    harmonic = inference.VSTSynthesizeHarmonic(folder)
    noise_only = inference.VSTSynthesizeNoise(folder)
    rng = np.random.default_rng(3)
    uniform = rng.uniform(-1, 1, 4 * HOP)
    full.filtered_noise._noise = _KnownNoise(uniform)
    noise_only.filtered_noise._noise = _KnownNoise(uniform)
    phase = np.zeros(1, np.float32)
    for b in range(4):
        amps, prev_amps = rng.uniform(0, 1, (2, 1)).astype(np.float32)
        hd, prev_hd = rng.uniform(0, 1, (2, 6)).astype(np.float32)
        f0, prev_f0 = rng.uniform(100, 500, (2, 1)).astype(np.float32)
        mags = rng.uniform(0, 1, 5).astype(np.float32)
        audio, new_phase = full(amps, prev_amps, hd, prev_hd, f0, prev_f0, mags, phase)
        h_audio, h_phase = harmonic(amps, prev_amps, hd, prev_hd, f0, prev_f0, phase)
        n_audio = noise_only(mags)
        # The noise: one hop of the uniform noise through the FIR of the (held) magnitudes.
        frames = np.stack([mags, mags])[None]
        want_noise = core.frequency_filter(
            uniform[b * HOP : (b + 1) * HOP][None].astype(np.float32), frames, window_size=0
        )[0]
        np.testing.assert_allclose(n_audio, want_noise, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(audio, h_audio + want_noise, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(new_phase, h_phase)
        phase = new_phase


def _tone(hz, n, amp=0.5, sr=16000):
    return (amp * np.sin(2 * np.pi * hz * np.arange(n) / sr)).astype(np.float32)


@pytest.mark.parametrize("hz", [110.0, 440.0, 1000.0])
def test_vst_extract_features_on_pure_tones(vst_dir, hz):
    module = inference.VSTExtractFeatures(vst_dir[0])
    assert module.frame_size == 1024
    f0_hz, f0_scaled, pw_db, pw_scaled = module(_tone(hz, 1024))
    for x in (f0_hz, f0_scaled, pw_db, pw_scaled):
        assert x.shape == (1,)
    assert abs(f0_hz[0] / hz - 1) < 0.01
    np.testing.assert_allclose(f0_scaled, (12 * np.log2(f0_hz / 440.0) + 69) / 127, rtol=1e-5)
    # rms of 1024 samples of a sine of amplitude 0.5 (not a whole number of periods)
    rms = np.sqrt(np.mean(np.float64(_tone(hz, 1024)) ** 2))
    np.testing.assert_allclose(pw_db, 20 * np.log10(rms), atol=1e-3)
    np.testing.assert_allclose(pw_scaled, pw_db / 80.0 + 1.0, rtol=1e-6)


def test_vst_extract_features_silence_and_bad_inputs(vst_dir):
    module = inference.VSTExtractFeatures(vst_dir[0], crepe_saved_model_path="ignored")
    f0_hz, _, pw_db, pw_scaled = module(np.zeros(1024, np.float32))
    assert pw_db[0] == -80.0 and pw_scaled[0] == 0.0 and np.isfinite(f0_hz[0])
    with pytest.raises(ValueError, match="audio must hold 1024"):
        module(np.zeros(1000, np.float32))
    controls = inference.VSTStatelessPredictControls(vst_dir[0])
    with pytest.raises(ValueError, match="state must hold 8"):
        controls(np.zeros(1), np.zeros(1), np.zeros(7))
    with pytest.raises(ValueError, match="f0_scaled must hold 1"):
        controls(np.zeros(2), np.zeros(1), np.zeros(8))
    synth = inference.VSTSynthesize(vst_dir[0])
    with pytest.raises(ValueError, match="prev_hd must hold 6"):
        synth(
            np.ones(1),
            np.ones(1),
            np.ones(6),
            np.ones(5),
            np.ones(1),
            np.ones(1),
            np.ones(5),
            np.zeros(1),
        )
    with pytest.raises(ValueError, match="new_hop_size"):
        inference.VSTSynthesize(vst_dir[0], new_hop_size=0)
    gin.clear_config()  # parse_operative_config adds to the config, as ddsp's
    with pytest.raises(ValueError, match="vst.gin"):
        inference.VSTPredictControls(SHIPPED_MODEL_DIR)


# -- save_model / load_model ----------------------------------------------------------------
def test_autoencoder_export_and_reload_give_identical_outputs(tmp_path):
    model = inference.AutoencoderInference(SHIPPED_MODEL_DIR, length_seconds=0.5, verbose=False)
    features = {
        "f0_hz": np.linspace(200, 500, 125).astype(np.float32),
        "loudness_db": np.linspace(-50, -10, 125).astype(np.float32),
    }
    before = model(features)
    folder = model.save_model(tmp_path / "export")
    assert sorted(os.listdir(folder)) == [
        "ckpt-6000.npz",
        "inference_model.json",
        "operative_config-6000.gin",
    ]
    gin.clear_config()
    again = inference.load_model(folder)
    assert type(again) is type(model) and (again.n_frames, again.n_samples) == (125, 8000)
    after = again(features)
    for key in ("amps", "harmonic_distribution", "noise_magnitudes"):
        np.testing.assert_array_equal(after[key], before[key])
    np.testing.assert_array_equal(after["harmonic"]["signal"], before["harmonic"]["signal"])
    # The folder is a plain model folder too: the Autoencoder its config describes.
    from ddsp_ref.training.model_dir import load_model as load_model_folder

    plain, _ = load_model_folder(str(folder))
    plain_out = plain(features, training=False)
    np.testing.assert_array_equal(plain_out["harmonic"]["signal"], before["harmonic"]["signal"])


def test_vst_export_and_reload(vst_dir, tmp_path):
    folder = vst_dir[0]
    controls = inference.VSTStatelessPredictControls(folder)
    synth = inference.VSTSynthesize(folder, new_hop_size=100)
    c_dir, s_dir = controls.save_model(tmp_path / "c"), synth.save_model(tmp_path / "s")
    assert not any(name.endswith(".npz") for name in os.listdir(s_dir))  # no parameters
    args = (np.full(1, 0.5), np.full(1, 0.6), np.linspace(-1, 1, 8))
    before = controls(*args)
    after = inference.load_model(c_dir)(*args)
    for b, a in zip(before, after):
        np.testing.assert_array_equal(a, b)
    synth_again = inference.load_model(s_dir)
    assert type(synth_again) is inference.VSTSynthesize and synth_again.hop_size == 100
    harmonic_args = (
        np.ones(1),
        np.ones(1),
        np.full(6, 1 / 6),
        np.full(6, 1 / 6),
        np.full(1, 220.0),
        np.full(1, 220.0),
    )
    h = inference.VSTSynthesizeHarmonic(folder, new_hop_size=100)
    np.testing.assert_array_equal(
        h(*harmonic_args, np.zeros(1))[0], synth_again._harmonic(*harmonic_args, np.zeros(1))[0]
    )


def test_load_model_refuses_other_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="inference_model.json"):
        inference.load_model(SHIPPED_MODEL_DIR)
    (tmp_path / "inference_model.json").write_text('{"format": "other", "version": 1}')
    with pytest.raises(ValueError, match="ddsp_ref.inference_model"):
        inference.load_model(tmp_path)
    (tmp_path / "inference_model.json").write_text(
        '{"format": "ddsp_ref.inference_model", "version": 1, "class": "Nope", "kwargs": {}}'
    )
    with pytest.raises(ValueError, match="unknown inference class 'Nope'"):
        inference.load_model(tmp_path)


# -- the VST modules against ddsp's, on a vst.gin model saved by ddsp (TF checkpoint) ---------
VST_TF = FIXTURES / "vst_ckpt"


def _vst_reference():
    with np.load(VST_TF / "reference.npz") as f:
        return {k: f[k] for k in f.files}


def test_vst_controls_match_ddsp_on_its_checkpoint():
    ref = _vst_reference()
    f0s, pws = ref["stateless/f0_scaled"], ref["stateless/pw_scaled"]
    module = inference.VSTStatelessPredictControls(VST_TF)
    state = np.zeros(module.state_size, np.float32)
    for t in range(len(f0s)):
        *controls, state = module(f0s[t : t + 1], pws[t : t + 1], state)
        for key, got in zip(("amps", "hd", "noise"), controls):
            np.testing.assert_allclose(got, ref[f"stateless/{key}"][t], rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(state, ref["stateless/state"][t], rtol=1e-4, atol=1e-6)
    gin.clear_config()
    module = inference.VSTPredictControls(VST_TF)
    for t in range(len(f0s)):
        for key, got in zip(("amps", "hd", "noise"), module(f0s[t : t + 1], pws[t : t + 1])):
            np.testing.assert_allclose(got, ref[f"predict/{key}"][t], rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("name, hop", [("harmonic", None), ("harmonic97", 97)])
def test_vst_synthesize_harmonic_matches_ddsp(name, hop):
    """Each block from ddsp's own carried phase: same audio up to ddsp's float32 phase error
    (its cumulative phase grows without wrapping, 88 rad after 29 blocks here, and is summed
    in float32: ~1e-3 of the block's peak; the float64 accuracy of ours is checked against
    numpy above). ddsp's returned phase is unwrapped; ours is wrapped: equal modulo 2 pi."""
    ref = _vst_reference()
    amps, hd, f0 = ref[f"{name}/amps"], ref[f"{name}/hd"], ref[f"{name}/f0"]
    synth = inference.VSTSynthesizeHarmonic(VST_TF, new_hop_size=hop)
    assert synth.hop_size == (hop or HOP)
    ddsp_phase = np.zeros(1, np.float32)
    for b in range(1, len(f0)):
        audio, phase = synth(amps[b], amps[b - 1], hd[b], hd[b - 1], f0[b], f0[b - 1], ddsp_phase)
        want = ref[f"{name}/audio"][b - 1]
        assert audio.shape == want.shape
        np.testing.assert_allclose(audio, want, atol=3e-3 * np.abs(want).max())
        ddsp_phase = ref[f"{name}/phase"][b - 1]
        assert 0 <= phase[0] <= 2 * np.pi
        wrapped = np.angle(np.exp(1j * (np.float64(phase) - ddsp_phase)))
        assert np.abs(wrapped).max() < 1e-3


def test_autoencoder_inference_with_the_power_preprocessor(tmp_path):
    """A model on F0PowerPreprocessor: built from {'power_db', 'f0_hz'}; the decoder sees the
    scaled inputs (hz_to_midi / 127, dB / 80 + 1) at the new frame count."""
    gin.add_config_file_search_path(str(GIN_DIR))  # solo_instrument.gin includes models/ae.gin
    gin.parse_config_files_and_bindings([str(GIN_DIR / "models" / "solo_instrument.gin")], [
        "Autoencoder.preprocessor = @preprocessing.F0PowerPreprocessor()",
        "F0PowerPreprocessor.time_steps = 50",
        "RnnFcDecoder.input_keys = ('pw_scaled', 'f0_scaled')",
        "RnnFcDecoder.rnn_channels = 8", "RnnFcDecoder.ch = 8", "RnnFcDecoder.seed = 1",
        "RnnFcDecoder.layers_per_stack = 1", "Reverb.reverb_length = 64",
        "Harmonic.n_samples = 3200", "FilteredNoise.n_samples = 3200",
    ])  # fmt: skip
    trained = models.get_model()
    zeros = np.zeros((1, 50), np.float32)
    trained({"f0_hz": zeros + 200, "power_db": zeros - 30}, training=False)
    save_checkpoint(tmp_path, 1, trained.parameters(), {}, gin_config=gin.operative_config_str())
    gin.clear_config()
    model = inference.AutoencoderInference(tmp_path, length_seconds=0.3, verbose=False)
    assert (model.preprocessor_type, model.n_frames, model.n_samples) == (
        "F0PowerPreprocessor",
        75,
        4800,
    )
    rng = np.random.default_rng(4)
    f0, pw = rng.uniform(100, 800, 75), rng.uniform(-70, -5, 75)
    out = model({"f0_hz": f0.astype(np.float32), "power_db": pw.astype(np.float32)})
    assert out["audio_synth"].shape == (1, 4800)
    midi = 12 * np.log2(f0 / 440.0) + 69
    want = trained.decoder(
        {
            "f0_scaled": (midi / 127).reshape(1, -1, 1).astype(np.float32),
            "pw_scaled": (pw / 80 + 1).reshape(1, -1, 1).astype(np.float32),
        }
    )
    for key in ("amps", "harmonic_distribution", "noise_magnitudes"):
        np.testing.assert_allclose(out[key], want[key], rtol=1e-5, atol=1e-6)
