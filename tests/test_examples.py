"""examples/: every script runs in its --small mode and writes the files it promises.

All examples start at once (one subprocess each, sharing the cores) in a module fixture; each test
then reads one example's output folder and printed lines.
"""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile")
mpl_image = pytest.importorskip("matplotlib.image")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
SR = 16000

# Per example: {wav name: n_samples} and the PNGs it must write (small mode).
EXPECTED = {
    "0_processor": (
        {n: SR for n in ("harmonic", "vibrato", "glide", "shimmer", "odd_harmonics")},
        ["raw_controls", "exp_sigmoid", "scaled_controls", "harmonic_spec", "glide_spec"],
    ),
    "1_synths_and_effects": (
        {n: SR for n in ("harmonic", "filtered_noise", "wavetable", "violin_dry", "reverb",
                         "reverb_trainable_init", "exp_decay_reverb", "filtered_noise_reverb",
                         "fir_filter", "chorus", "flanger", "vibrato")},
        ["harmonic_spec", "filtered_noise_spec", "wavetable_spec", "reverb_ir",
         "filtered_noise_reverb_ir", "fir_filter_spec"],
    ),
    "2_processor_group": (
        {n: SR for n in ("chained_in_python", "processor_group", "before_reverb")},
        ["intermediate_controls", "dry_vs_reverb"],
    ),
    "3_training": (
        {"target": SR, "resynthesis": SR},
        ["target_spec", "resynthesis_spec", "controls", "losses"],
    ),
    "4_core_functions": (
        {n: SR for n in ("oscillator_bank", "wavetable_synthesis", "variable_length_delay",
                         "fft_convolve_sweep", "upsample_zero_stuffed", "upsample_sinc_filtered",
                         "frequency_filter")},
        ["oscillator_bank_spec", "fft_convolve_sweep_spec", "sinc_lowpass_window_129",
         "frequency_impulse_response_window_1024", "resample"],
    ),
    "pitch_detection": (
        {n: 4 * SR for n in ("original", "resynthesis_sinusoid", "resynthesis_harmonic")},
        ["f0", "original_spec", "resynthesis_harmonic_spec"],
    ),
    "timbre_transfer": (
        {n: 24000 for n in ("input", "transfer", "transfer_autotuned", "no_adjustment")},
        ["transfer"],
    ),
    "train_autoencoder": (
        {"source_excerpt": 3 * SR, "original": SR, "resynthesis": SR},
        ["original_vs_resynthesis", "controls"],
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{name: (returncode, stdout + stderr, out folder)}, all examples run concurrently."""
    base = tmp_path_factory.mktemp("examples")
    env = dict(os.environ, PYTHONPATH=ROOT, MPLBACKEND="Agg")
    procs = {}
    for name in EXPECTED:
        out = base / name
        cmd = [sys.executable, os.path.join(EXAMPLES, name + ".py"), "--small", "--out", str(out)]
        procs[name] = (
            subprocess.Popen(cmd, cwd=str(base), env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True),
            out,
        )  # fmt: skip
    results = {}
    for name, (proc, out) in procs.items():
        text, _ = proc.communicate(timeout=900)
        results[name] = (proc.returncode, text, out)
    return results


def test_every_example_is_tested():
    scripts = {f[:-3] for f in os.listdir(EXAMPLES) if f.endswith(".py") and not f.startswith("_")}
    assert scripts == set(EXPECTED)


def read_wav(path):
    audio, sr = soundfile.read(str(path), dtype="float64")
    assert sr == SR, path
    return audio


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_writes_its_files(runs, name):
    code, text, out = runs[name]
    assert code == 0, text
    wavs, pngs = EXPECTED[name]
    for wav, n_samples in wavs.items():
        audio = read_wav(out / f"{wav}.wav")
        assert audio.shape == (n_samples,), (wav, audio.shape)
        assert np.max(np.abs(audio)) > 1e-2, f"{wav}.wav is silent"
        assert np.all(np.abs(audio) <= 1.0)
        assert f"{out / wav}.wav" in text  # the example says what it wrote
    for png in pngs:
        image = mpl_image.imread(str(out / f"{png}.png"))
        assert image.ndim == 3 and min(image.shape[:2]) >= 100, png
        assert image[..., :3].std() > 0.01, f"{png}.png is blank"


def dominant_hz(audio):
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return np.fft.rfftfreq(len(audio), 1 / SR)[np.argmax(spectrum)]


def test_processor_example_renders_440_hz(runs):
    code, text, out = runs["0_processor"]
    assert code == 0, text
    assert dominant_hz(read_wav(out / "harmonic.wav")) == pytest.approx(440.0, abs=2.0)
    assert "|get_signal - __call__| max = 0.0e+00" in text
    assert re.search(r"harmonics above Nyquist .*max weight 0\.0 ", text)


def test_processor_group_example_gives_one_audio_three_ways(runs):
    code, text, out = runs["2_processor_group"]
    assert code == 0, text
    assert "|python - dag| max = 0.0e+00" in text
    python = read_wav(out / "chained_in_python.wav")
    np.testing.assert_array_equal(python, read_wav(out / "processor_group.wav"))
    if "gin is not installed" not in text:
        assert "|gin - dag| max = 0.0e+00" in text
        np.testing.assert_array_equal(python, read_wav(out / "processor_group_gin.wav"))


def test_training_example_reduces_the_loss(runs):
    code, text, out = runs["3_training"]
    assert code == 0, text
    match = re.search(r"^loss_start=([0-9.]+) loss_end=([0-9.]+)$", text, re.M)
    assert match, text
    start, end = float(match.group(1)), float(match.group(2))
    assert end < 0.9 * start, (start, end)
    if "gin is not installed" not in text:
        match = re.search(r"gin model's first loss ([0-9.]+) vs Python's ([0-9.]+)", text)
        assert match and match.group(1) == match.group(2), text  # the same model, same seeds


def test_core_functions_example_facts(runs):
    code, text, out = runs["4_core_functions"]
    assert code == 0, text
    assert "picks samples 0, 8, ..., 56 (no anti-aliasing filter): True" in text
    stuffed = read_wav(out / "upsample_zero_stuffed.wav")
    filtered = read_wav(out / "upsample_sinc_filtered.wav")
    f = np.fft.rfftfreq(len(stuffed), 1 / SR)

    def above(x):
        power = np.abs(np.fft.rfft(x)) ** 2
        return power[f > 2200].sum() / power.sum()

    assert above(stuffed) > 0.5 and above(filtered) < 1e-3


def test_pitch_detection_example_tracks_the_notes(runs):
    code, text, out = runs["pitch_detection"]
    assert code == 0, text
    accuracy = float(re.search(r"raw pitch accuracy .*: ([0-9.]+)", text).group(1))
    assert accuracy > 0.9, text
    # The sinusoid follows the flute: the first note (0.5 - 1.05 s) is F4 (MIDI 65, 349.2 Hz).
    sine = read_wav(out / "resynthesis_sinusoid.wav")
    assert dominant_hz(sine[int(0.6 * SR) : int(1.0 * SR)]) == pytest.approx(349.2, abs=6)


def test_train_autoencoder_example_packs_a_model(runs):
    import zipfile

    code, text, out = runs["train_autoencoder"]
    assert code == 0, text
    assert re.search(r"prepared 3 examples of 1 s", text), text
    assert "trained to step 4" in text
    names = set(zipfile.ZipFile(out / "model.zip").namelist())
    assert {"ckpt-4.npz", "dataset_statistics.json"} <= names
    with np.load(out / "train" / "ckpt-4.npz") as ckpt:
        assert len(ckpt.files) > 0
