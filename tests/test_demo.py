"""`python -m ddsp_ref render`: writes a 4 s, 16 kHz WAV peaking at 0.9 whose first note is C4."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ddsp_ref import demo

soundfile = pytest.importorskip("soundfile")

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "ddsp_ref", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def fft_peak_hz(x, sample_rate, n_fft=1 << 18):
    """Frequency of the spectral peak (Hann window, zero padded for fine bins)."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=n_fft))
    return np.argmax(spectrum) * sample_rate / n_fft


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    output = folder / "out" / "x.wav"
    result = run_cli("render", "--output", str(output), cwd=folder)
    return result, output


def test_demo_prints_what_it_wrote(rendered):
    result, output = rendered
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith(f"wrote {output}: 4.00 s of audio at 16000 Hz, peak 0.90")
    assert "Harmonic + FilteredNoise + Add + Reverb" in line


def test_demo_wav(rendered):
    _, output = rendered
    audio, sample_rate = soundfile.read(output)
    assert sample_rate == 16000
    assert audio.ndim == 1 and len(audio) == 4 * 16000
    assert abs(np.max(np.abs(audio)) - 0.9) < 1e-3  # PCM_16 quantisation
    assert os.listdir(output.parent) == ["x.wav"]  # the temporary file was renamed


def test_demo_first_note_is_middle_c(rendered):
    _, output = rendered
    audio, sample_rate = soundfile.read(output)
    first_note = audio[: int(0.4 * sample_rate)]  # MIDI 60 for 0.4 s
    expected = 440.0 * 2 ** ((60 - 69) / 12)  # 261.63 Hz
    assert abs(fft_peak_hz(first_note, sample_rate) - expected) < 0.01 * expected
    # The third note is MIDI 67 (G4): the melody moves.
    third = audio[int(0.8 * sample_rate) : int(1.2 * sample_rate)]
    g4 = 440.0 * 2 ** ((67 - 69) / 12)
    assert abs(fft_peak_hz(third, sample_rate) - g4) < 0.01 * g4


def test_demo_rejects_a_sample_rate_off_the_frame_grid():
    with pytest.raises(ValueError, match="multiple of the frame rate"):
        demo.render(demo.DemoConfig(sample_rate=16001))


def test_demo_cli_requires_a_command(tmp_path):
    result = run_cli(cwd=tmp_path)
    assert result.returncode != 0
    assert "demo" in result.stderr


def test_demo_plot_writes_a_figure(tmp_path):
    pytest.importorskip("matplotlib")
    output, figure = tmp_path / "x.wav", tmp_path / "fig.png"
    result = run_cli("render", "--output", str(output), "--plot", str(figure), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"wrote {figure}" in result.stdout
    with open(figure, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"  # a complete PNG, renamed into place
    assert not list(tmp_path.glob("*.tmp*"))


def test_demo_plot_without_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    audio = np.zeros(1600, np.float32)
    with pytest.raises(ImportError, match=r"ddsp_ref\[plot\]"):
        demo.plot(audio, demo.DemoConfig(), "unused.png")
