"""The values stored in the ddsp TFRecord fixture, as closed-form float32 formulas.

Shared by the generator (run once with TensorFlow, ``make_tfrecord_fixture.py``) and the test that
reads the fixture without TensorFlow; nothing here uses ddsp_ref.
"""

import numpy as np

EXAMPLE_SECS = 0.5
SAMPLE_RATE = 16000
N_SAMPLES = 8000  # EXAMPLE_SECS * SAMPLE_RATE
N_FRAMES = 125  # EXAMPLE_SECS * 250 frames per second
FILES = ("train.tfrecord-00000-of-00002", "train.tfrecord-00001-of-00002")
EXAMPLES_PER_FILE = 2


def example_values(file_index: int, example_index: int) -> dict:
    """Features of one example: a sine with a known f0, its confidence and loudness ramps."""
    k = 2 * file_index + example_index
    f0 = 110.0 * (k + 1)
    t = np.arange(N_SAMPLES) / SAMPLE_RATE
    frames = np.arange(N_FRAMES)
    return {
        "audio": (0.5 * np.sin(2 * np.pi * f0 * t)).astype(np.float32),
        "audio_16k": (0.25 * np.cos(2 * np.pi * f0 * t)).astype(np.float32),
        "f0_hz": np.full(N_FRAMES, f0, np.float32) + frames.astype(np.float32) / 8,
        "f0_confidence": (frames / (N_FRAMES - 1)).astype(np.float32),
        "loudness_db": (-80.0 + 0.5 * frames).astype(np.float32),
    }
