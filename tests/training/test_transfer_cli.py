"""Timbre transfer with the shipped model, from Python and the command line: lengths and rates
kept, the pitch contour followed after the octave shift, streaming equal to one-shot, the
model folder's errors, and the main job (``ddsp_ref demo``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gin")
soundfile = pytest.importorskip("soundfile")

from ddsp_ref.spectral_ops import compute_f0  # noqa: E402
from ddsp_ref.training.data_preparation.audio import resample  # noqa: E402
from ddsp_ref.training.model_dir import load_model  # noqa: E402
from ddsp_ref.training.transfer import (  # noqa: E402
    TransferSettings,
    model_features,
    timbre_transfer,
)

REPO = Path(__file__).resolve().parents[2]


def cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "ddsp_ref", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)  # fmt: skip


def glide(sample_rate, seconds, base_hz=140.0):
    """A bright tone gliding half an octave up and down (0.4 Hz), with a short fade-in."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = base_hz * 2 ** (0.5 * np.sin(2 * np.pi * 0.4 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    audio = sum(0.3 / k * np.sin(k * phase) for k in range(1, 6)) * np.clip(t / 0.05, 0, 1)
    return audio.astype(np.float32)


@pytest.fixture(scope="module")
def shipped():
    return load_model(seed=0)


def melody(sample_rate, midi=(48, 50, 52, 53, 55, 53, 52, 48), note_s=0.5):
    """Held notes (a bright tone, 5 harmonics), each ``note_s`` long, and the frames (250 per
    second) from 150 ms into each note to its end: where the pitch is steady."""
    from ddsp_ref.core import midi_to_hz

    n = int(note_s * sample_rate)
    f0 = np.repeat([float(midi_to_hz(m)) for m in midi], n)
    t = np.arange(f0.size) / sample_rate
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    audio = sum(0.3 / k * np.sin(k * phase) for k in range(1, 6)) * np.clip(t / 0.05, 0, 1)
    frames = np.arange(int(len(midi) * note_s * 250))
    steady = (frames / 250) % note_s >= 0.15
    return audio.astype(np.float32), steady


def test_cli_keeps_length_and_rate_and_follows_the_pitch(tmp_path):
    sr = 22050
    audio, steady = melody(sr)
    soundfile.write(tmp_path / "in.wav", audio, sr)
    result = cli("transfer", "in.wav", "-o", "out.wav", "--plot", "out.png", "--seed", "0",
                 cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    octaves = int(re.search(r"octave shift (-?\d+)", result.stdout).group(1))
    out, out_rate = soundfile.read(tmp_path / "out.wav")
    assert out_rate == 16000 and out.size == int(np.ceil(audio.size * 16000 / sr))
    assert np.sqrt(np.mean(out**2)) > 1e-3
    f0_in, confidence = compute_f0(resample(audio.astype(np.float64), sr, 16000), 250)
    f0_out, _ = compute_f0(out, 250)
    voiced = (confidence > 0.5)[: steady.size] & steady
    assert voiced.mean() > 0.6
    n = steady.size
    cents = 1200 * np.abs(np.log2(f0_out[:n][voiced] / (f0_in[:n][voiced] * 2.0**octaves)))
    # Every steady frame of every note, up and down the melody, after the reported shift.
    assert octaves != 0 and np.median(cents) < 20 and np.mean(cents < 50) > 0.9
    assert (tmp_path / "out.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("n, sr", [(1, 16000), (63, 16000), (64, 16000), (65, 16000),
                                   (16007, 16000), (4410, 44100), (3, 8000)])  # fmt: skip
def test_any_length_and_rate_gives_the_same_duration(shipped, n, sr):
    model, statistics = shipped
    audio = glide(sr, n / sr + 1e-9)[:n]
    out, info = timbre_transfer(audio, sr, model, statistics)
    assert out.shape == (int(np.ceil(n * 16000 / sr)),) and out.dtype == np.float32
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize("audio, rate", [(np.zeros((2, 100)), 16000), (np.zeros(0), 16000),
                                         (np.zeros(100), 0)])  # fmt: skip
def test_bad_audio_or_rate_is_refused(shipped, audio, rate):
    with pytest.raises(ValueError, match="timbre_transfer"):
        timbre_transfer(audio, rate, shipped[0])


def test_silence_is_not_adjusted_and_stays_finite(shipped):
    model, statistics = shipped
    out, info = timbre_transfer(np.zeros(8000), 16000, model, statistics)
    assert out.shape == (8000,) and np.all(np.isfinite(out))
    assert info["n_note_frames"] == 0 and not info["adjusted"] and info["octaves"] == 0


def test_cli_stream_equals_one_shot(tmp_path, shipped):
    """``--stream`` applies the per-frame settings only: it must equal one-shot without the
    whole-file adjustments, on frame-wise (non-Viterbi) f0, with the same noise seed."""
    audio = glide(16000, 1.2, base_hz=300.0)
    soundfile.write(tmp_path / "in.wav", audio, 16000, subtype="FLOAT")
    result = cli("transfer", "in.wav", "-o", "stream.wav", "--stream", "--block-ms", "32",
                 "--seed", "0", "--pitch-shift", "1", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    streamed, _ = soundfile.read(tmp_path / "stream.wav", dtype="float32")
    model, _ = load_model(seed=0)
    padded = np.pad(audio, (0, -audio.size % 64))
    features = model_features(padded, viterbi=False)
    one_shot, _ = timbre_transfer(audio, 16000, model, None,
                                  TransferSettings(adjust=False, pitch_shift=1.0),
                                  features=features)  # fmt: skip
    assert streamed.shape == one_shot.shape
    peak = np.max(np.abs(one_shot))
    assert peak > 0.01
    np.testing.assert_allclose(streamed, one_shot, rtol=0, atol=2e-4 * peak)


def test_model_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model folder"):
        load_model(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="operative_config"):
        load_model(str(tmp_path))


def test_cli_names_an_unreadable_input(tmp_path):
    (tmp_path / "bad.wav").write_bytes(b"not audio")
    result = cli("transfer", "bad.wav", "-o", "out.wav", cwd=tmp_path)
    assert result.returncode != 0 and "bad.wav" in result.stderr
    assert not (tmp_path / "out.wav").exists()


def test_main_job_writes_audio_a_figure_and_its_measurements(tmp_path):
    """``ddsp_ref demo``: the README's first command after set-up."""
    result = cli("demo", "--out-dir", "demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    speech, speech_rate = soundfile.read(REPO / "ddsp_ref/data/corpus/speech_en.flac")
    violin, violin_rate = soundfile.read(REPO / "ddsp_ref/data/corpus/violin_minuet_in_g.flac")
    assert violin_rate == 16000
    lengths = {"input_speech": int(np.ceil(speech.size * 16000 / speech_rate)),
               "transfer_speech_to_violin": int(np.ceil(speech.size * 16000 / speech_rate)),
               "held_out_violin": violin.size, "resynthesis_violin": violin.size}  # fmt: skip
    for name, n in lengths.items():
        audio, rate = soundfile.read(tmp_path / "demo" / f"{name}.wav")
        assert rate == 16000 and audio.shape == (n,), name
        assert np.all(np.isfinite(audio)) and np.sqrt(np.mean(audio**2)) > 1e-3, name
    assert (tmp_path / "demo" / "demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    match = re.search(r"raw pitch accuracy ([\d.]+) %, loudness L1 ([\d.]+) dB", result.stdout)
    rpa, l1 = float(match.group(1)), float(match.group(2))
    # The shipped model's measured quality on the held-out phrase (issue 12: >= 95 %, <= 3 dB;
    # measured 95.3 % and 1.66 dB, the noise draw moves them by ~0.1 %): a synthesis or
    # feature regression that breaks the model shows here.
    assert rpa >= 94.5 and l1 <= 2.5
    assert re.search(r"octave shift \+?-?\d+", result.stdout)
    assert "demo 5/5" in result.stderr  # the progress bar reached the end
