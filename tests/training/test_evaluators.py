"""ddsp_ref.training.evaluators: BasicEvaluator's mean losses and sample files (WAVs read back,
PNGs, a tensorboardX-like writer), the missing-matplotlib path, and F0LdEvaluator's loudness
and f0 metrics on sine tones whose errors are known."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import soundfile

from ddsp_ref.spectral_ops import compute_loudness
from ddsp_ref.training import evaluators

SR, RATE = 16000, 250


def sine(freq_hz, n_samples, amp=0.3):
    return (amp * np.sin(2 * np.pi * freq_hz * np.arange(n_samples) / SR)).astype(np.float32)


class FakeWriter:
    """Records the tensorboardX SummaryWriter calls the evaluators make."""

    def __init__(self):
        self.calls = []

    def add_scalar(self, tag, value, step):
        self.calls.append(("scalar", tag, value, step))

    def add_audio(self, tag, samples, step, sample_rate=44100):
        self.calls.append(("audio", tag, np.asarray(samples), step, sample_rate))

    def add_image(self, tag, img, step, dataformats="CHW"):
        self.calls.append(("image", tag, np.asarray(img), step, dataformats))


def test_basic_evaluator_mean_losses_flush_and_reset():
    ev = evaluators.BasicEvaluator(SR, RATE)
    writer = FakeWriter()
    ev.set_output(None, writer)
    ev.evaluate({}, {}, {"spectral_loss": np.float32(1.0), "total_loss": 3.0})
    ev.evaluate({}, {}, {"spectral_loss": 2.0, "total_loss": np.array(5.0)})
    scalars = ev.flush(12)
    assert scalars == {"losses/spectral_loss": pytest.approx(1.5), "losses/total_loss": 4.0}
    assert ("scalar", "losses/total_loss", 4.0, 12) in writer.calls
    ev.evaluate({}, {}, {"spectral_loss": 10.0, "total_loss": 10.0})
    assert ev.flush(13)["losses/spectral_loss"] == 10.0  # the earlier batches were reset


def _sample_batch(n=3000):
    audio = np.stack([sine(220, n), sine(330, n)])
    return {"audio": audio}, {"audio_gen": 0.5 * audio[..., None]}  # [batch, n, 1] accepted


def test_basic_evaluator_sample_writes_wavs_pngs_and_summaries(tmp_path):
    ev = evaluators.BasicEvaluator(SR, RATE)
    writer = FakeWriter()
    ev.set_output(tmp_path, writer)
    batch, outputs = _sample_batch()
    ev.sample(batch, outputs, 40)
    ev.sample(batch, outputs, 40)  # the second batch of the same step continues the indices
    ev.sample(batch, outputs, 41)
    folder = tmp_path / evaluators.SAMPLES_DIR
    names = sorted(p.name for p in folder.iterdir())
    expected = [f"step{s}_ex{i}_{kind}" for s, n in ((40, 4), (41, 2)) for i in range(n)
                for kind in ("generated.wav", "original.wav", "spectrogram.png")]  # fmt: skip
    assert names == sorted(expected)
    for index in range(4):
        original, sr = soundfile.read(folder / f"step40_ex{index}_original.wav", dtype="float32")
        generated, _ = soundfile.read(folder / f"step40_ex{index}_generated.wav", dtype="float32")
        assert sr == SR and original.shape == (3000,)
        np.testing.assert_array_equal(original, batch["audio"][index % 2])
        np.testing.assert_array_equal(generated, 0.5 * batch["audio"][index % 2])
        png = (folder / f"step40_ex{index}_spectrogram.png").read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
    audio_calls = [c for c in writer.calls if c[0] == "audio"]
    image_calls = [c for c in writer.calls if c[0] == "image"]
    assert len(audio_calls) == 2 * 6 and len(image_calls) == 6
    _, tag, samples, step, sr = audio_calls[1]
    assert tag == "audio_generated/0" and step == 40 and sr == SR
    np.testing.assert_array_equal(samples, 0.5 * batch["audio"][0])
    _, tag, img, step, fmt = image_calls[0]
    assert tag == "spectrogram/0" and fmt == "HWC" and img.dtype == np.uint8
    assert img.ndim == 3 and img.shape[2] == 3 and img.std() > 10  # a drawn picture, not blank


def test_spectrogram_image_shows_the_sound():
    # (noise, silence) against (silence, silence): only the top panel's pixels differ
    silence = np.zeros(8000, np.float32)
    noise = 0.1 * np.random.default_rng(0).standard_normal(8000).astype(np.float32)
    tone = evaluators.spectrogram_image(noise, silence, SR)
    quiet = evaluators.spectrogram_image(silence, silence, SR)
    assert tone.png.startswith(b"\x89PNG") and tone.rgb.shape == quiet.rgb.shape
    changed = np.abs(tone.rgb.astype(int) - quiet.rgb.astype(int)).sum(axis=(1, 2))
    rows = np.flatnonzero(changed)
    height = tone.rgb.shape[0]
    assert rows.size > 10 and rows.max() < height // 2
    # audio shorter than one STFT frame still gives a picture
    short = evaluators.spectrogram_image(sine(1000, 500), sine(1000, 500), SR)
    assert short.png.startswith(b"\x89PNG") and short.rgb.shape == tone.rgb.shape


def test_sample_without_matplotlib_warns_and_writes_wavs_only(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    ev = evaluators.BasicEvaluator(SR, RATE)
    ev.set_output(tmp_path)
    batch, outputs = _sample_batch()
    with pytest.warns(UserWarning, match=r"ddsp_ref\[plot\]"):
        ev.sample(batch, outputs, 1)
    names = sorted(p.name for p in (tmp_path / evaluators.SAMPLES_DIR).iterdir())
    assert names == ["step1_ex0_generated.wav", "step1_ex0_original.wav",
                     "step1_ex1_generated.wav", "step1_ex1_original.wav"]  # fmt: skip


def _tone_batch(freqs, n=8000):
    audio = np.stack([sine(f, n) for f in freqs])
    n_frames = 1 + n // (SR // RATE)
    return {
        "audio": audio,
        "f0_hz": np.stack([np.full(n_frames, float(f)) for f in freqs]),
        "f0_confidence": np.ones((len(freqs), n_frames)),
        "loudness_db": np.asarray(compute_loudness(audio, SR, RATE)),
    }


def test_f0_ld_evaluator_on_the_input_audio_is_perfect():
    batch = _tone_batch([220.0, 440.0])
    outputs = {"audio_gen": batch["audio"], "f0_hz": batch["f0_hz"][..., None]}
    ev = evaluators.F0LdEvaluator(SR, RATE)
    writer = FakeWriter()
    ev.set_output(None, writer)
    ev.evaluate(batch, outputs, {})
    scalars = ev.flush(5)
    assert scalars["metrics/loudness/loudness_db"] == pytest.approx(0.0, abs=1e-5)
    assert scalars["metrics/f0/f0_dist"] == pytest.approx(0.0, abs=1e-6)
    assert scalars["metrics/f0/raw_pitch_accuracy"] == 1.0
    assert scalars["metrics/f0_crepe/raw_pitch_accuracy"] > 0.97
    assert scalars["metrics/f0_crepe/outlier_ratio"] == 0.0
    assert scalars["metrics/f0_crepe/f0_dist"] < 0.05
    assert {c[1] for c in writer.calls if c[0] == "scalar"} == set(scalars)


def test_f0_ld_evaluator_known_errors_and_no_tracker():
    batch = _tone_batch([300.0])
    sharp = 300.0 * 2 ** (2 / 12)  # two semitones sharp, at 2x the amplitude (+6.02 dB)
    outputs = {"audio_gen": 2 * sine(sharp, 8000)[None], "f0_hz": np.full_like(batch["f0_hz"],
                                                                               sharp)}  # fmt: skip
    ev = evaluators.F0LdEvaluator(SR, RATE, run_f0_crepe=False)
    ev.evaluate(batch, outputs, {})
    scalars = ev.flush(1)
    assert not any(k.startswith("metrics/f0_crepe/") for k in scalars)
    assert scalars["metrics/f0/f0_dist"] == pytest.approx(2.0, abs=1e-5)
    assert scalars["metrics/f0/raw_pitch_accuracy"] == 0.0
    # loudness: +6.02 dB from the gain; the slightly higher tone changes the A-weighting by
    # a small, known-sign amount (A-weighting rises between 300 and 337 Hz)
    ld = scalars["metrics/loudness/loudness_db"]
    assert 20 * np.log10(2) < ld < 20 * np.log10(2) + 1.0
    # outputs without f0_hz: only loudness is measured
    ev.evaluate(batch, {"audio_gen": batch["audio"]}, {})
    assert ev.flush(2)["metrics/f0/f0_dist"] == 0.0  # nothing accumulated (keras' 0)


def test_f0_ld_evaluator_sample_plots_f0(tmp_path):
    batch = _tone_batch([220.0, 330.0], n=4000)
    writer = FakeWriter()
    ev = evaluators.F0LdEvaluator(SR, RATE)
    ev.set_output(tmp_path, writer)
    ev.sample(batch, {"audio_gen": batch["audio"]}, 3)  # no model f0: nothing to plot
    assert not (tmp_path / evaluators.SAMPLES_DIR).exists() and writer.calls == []
    ev.sample(batch, {"audio_gen": batch["audio"], "f0_hz": 1.1 * batch["f0_hz"]}, 3)
    names = sorted(p.name for p in (tmp_path / evaluators.SAMPLES_DIR).iterdir())
    assert names == ["step3_ex0_f0.png", "step3_ex1_f0.png"]
    assert [c[1] for c in writer.calls] == ["f0_harmonic/0", "f0_harmonic/1"]
    # the picture shows the model's line: another model f0 gives other pixels
    same = evaluators.f0_image(batch["f0_hz"][0], batch["f0_hz"][0], RATE)
    other = evaluators.f0_image(batch["f0_hz"][0], 1.5 * batch["f0_hz"][0], RATE)
    assert same.rgb.shape == other.rgb.shape and np.any(same.rgb != other.rgb)


def test_f0_metrics_need_the_confidence():
    ev = evaluators.F0LdEvaluator(SR, RATE, run_f0_crepe=False)
    batch = _tone_batch([220.0], n=4000)
    del batch["f0_confidence"]
    with pytest.raises(KeyError, match="f0_confidence"):
        ev.evaluate(batch, {"audio_gen": batch["audio"], "f0_hz": batch["f0_hz"]}, {})


def test_base_evaluator_methods_must_be_defined():
    ev = evaluators.BaseEvaluator(SR, RATE)
    with pytest.raises(TypeError, match="must define evaluate"):
        ev.evaluate({}, {}, {})
    with pytest.raises(TypeError, match="must define flush"):
        ev.flush(0)


def test_gin_names_are_ddsps():
    gin = pytest.importorskip("gin")
    import ddsp_ref.training  # noqa: F401  (registers)

    @gin.configurable(module="test_evaluators_gin")
    def take(classes=None):
        return classes

    gin.clear_config()
    try:
        gin.parse_config("import ddsp.training\n"
                         "take.classes = [@evaluators.BasicEvaluator, @ddsp.training.evaluators."
                         "F0LdEvaluator]")  # fmt: skip
        basic, f0_ld = take()  # gin hands out its registered (sub)classes
        assert issubclass(basic, evaluators.BasicEvaluator)
        assert issubclass(f0_ld, evaluators.F0LdEvaluator)
        assert isinstance(basic(SR, RATE), evaluators.BasicEvaluator)
    finally:
        gin.clear_config()
