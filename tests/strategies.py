"""Hypothesis strategies shared by the test suite (shapes, frequencies, amplitudes, audio)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

finite_floats = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False, width=64)
positive_floats = st.floats(0.1, 3.0, allow_nan=False, allow_infinity=False, width=64)


def shapes(min_dims: int = 1, max_dims: int = 3, min_side: int = 1, max_side: int = 5):
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def arrays(shape, elements=finite_floats):
    """float64 arrays of ``shape`` (a tuple or a strategy of tuples)."""
    return hnp.arrays(np.float64, shape, elements=elements)


def frequencies_hz(sample_rate: int = 16000, low: float = 20.0):
    """Frequencies strictly below Nyquist."""
    return st.floats(low, 0.49 * sample_rate, allow_nan=False, width=64)


amplitudes = st.floats(0.0, 1.0, allow_nan=False, width=64)


@st.composite
def batched_audio(draw, max_batch: int = 3, min_samples: int = 8, max_samples: int = 256):
    batch = draw(st.integers(1, max_batch))
    n = draw(st.integers(min_samples, max_samples))
    return draw(arrays((batch, n), st.floats(-1.0, 1.0, allow_nan=False, width=64)))


@st.composite
def framing(draw, max_len: int = 64):
    """(signal length, frame_size, hop_size, pad_end) for frame / overlap_add tests."""
    frame_size = draw(st.integers(1, 16))
    hop = draw(st.integers(1, 16))
    pad_end = draw(st.booleans())
    length = draw(st.integers(frame_size if not pad_end else 1, max_len))
    return length, frame_size, hop, pad_end
