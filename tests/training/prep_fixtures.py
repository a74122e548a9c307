"""Tiny audio folders for the data-preparation tests (short audio: the tests stay fast)."""

from __future__ import annotations

import os

import numpy as np
import soundfile as sf

# Small flags: 1 s examples every 0.5 s, 2 s chunks -> 3 examples per chunk.
FLAGS = dict(example_secs=1, hop_secs=0.5, chunk_secs=2)


def tone(sample_rate: int, seconds: float, hz: float, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return amp * np.sin(2 * np.pi * hz * t)


def make_folder(folder: str) -> dict:
    """Mixed rates, channels and encodings, plus every kind of bad input.

    Returns {name: description} of the good files (seconds, rate, tone).
    """
    os.makedirs(folder, exist_ok=True)
    x = tone(44100, 3.3, 220.0)
    stereo = np.stack([x, 0.5 * x], axis=1)
    sf.write(os.path.join(folder, "a_stereo_44k_int16.wav"), stereo, 44100, subtype="PCM_16")
    sf.write(os.path.join(folder, "b_22k.flac"), tone(22050, 2.0, 330.0), 22050)
    sf.write(
        os.path.join(folder, "c_16k_float.wav"), tone(16000, 1.5, 440.0), 16000, subtype="FLOAT"
    )
    sf.write(os.path.join(folder, "d_too_short.wav"), tone(16000, 0.5, 440.0), 16000)
    sf.write(os.path.join(folder, "e_empty.wav"), np.zeros(0), 16000)
    with open(os.path.join(folder, "f_corrupt.wav"), "wb") as f:
        f.write(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00garbage-garbage-garbage")
    with open(os.path.join(folder, "g_notes.txt"), "w") as f:
        f.write("not audio\n")
    open(os.path.join(folder, "h_zero_bytes.flac"), "wb").close()
    sf.write(
        os.path.join(folder, "i_48k.ogg"),
        tone(48000, 2.0, 494.0),
        48000,
        format="OGG",
        subtype="VORBIS",
    )
    y = tone(24000, 2.0, 262.0)
    sf.write(
        os.path.join(folder, "j_24k_stereo.mp3"),
        np.stack([y, y], axis=1),
        24000,
        format="MP3",
        subtype="MPEG_LAYER_III",
    )
    return {
        "a_stereo_44k_int16.wav": 3.3,
        "b_22k.flac": 2.0,
        "c_16k_float.wav": 1.5,
        "i_48k.ogg": 2.0,
        "j_24k_stereo.mp3": 2.0,
    }


def make_tones(folder: str, n_files: int, seconds: float = 2.0) -> list[str]:
    """``n_files`` distinct 16 kHz tones (distinct content, so distinct keys)."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(n_files):
        path = os.path.join(folder, f"tone{i:02d}.wav")
        sf.write(path, tone(16000, seconds, 150.0 + 37.0 * i), 16000)
        paths.append(path)
    return paths


def read_tree(folder: str) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes) except the progress-free manifest."""
    out = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, folder)] = f.read()
    return out
