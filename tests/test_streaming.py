"""ddsp_ref.streaming.HarmonicStream: blocks of any size, concatenated and flushed, equal the
one-shot Harmonic synth; errors for unsupported settings."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddsp_ref import check_grads, synths
from ddsp_ref.autodiff import ops
from ddsp_ref.backend import to_numpy
from ddsp_ref.streaming import HarmonicStream

HOP = 16


def controls(seed, n_frames, batch=2, n_harmonics=12, dtype=np.float64):
    rng = np.random.default_rng(seed)
    amps = rng.normal(size=(batch, n_frames, 1))
    dist = rng.normal(size=(batch, n_frames, n_harmonics))
    # Up to 1500 Hz with 12 harmonics: harmonics cross Nyquist, within and between frames.
    f0 = rng.uniform(50.0, 1500.0, size=(batch, n_frames, 1))
    return tuple(a.astype(dtype) for a in (amps, dist, f0))


def split_points(draw_sizes, n_frames):
    """Block boundaries from a list of block sizes (the last block takes the rest)."""
    bounds, start = [0], 0
    for size in draw_sizes:
        start += size
        if start >= n_frames:
            break
        bounds.append(start)
    return bounds + [n_frames]


def stream_render(stream, amps, dist, f0, bounds):
    pieces = [
        stream.process(amps[:, a:b], dist[:, a:b], f0[:, a:b])
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    return np.concatenate([to_numpy(p) for p in pieces + [stream.flush()]], axis=1)


@settings(max_examples=15, deadline=None)
@given(
    st.lists(st.integers(1, 6), min_size=1, max_size=8),
    st.integers(2, 16),
    st.sampled_from(["linear", "window"]),
    st.integers(0, 2**16),
)
def test_blocks_equal_one_shot_float64(sizes, n_frames, method, seed):
    amps, dist, f0 = controls(seed, n_frames)
    synth = synths.Harmonic(n_samples=n_frames * HOP, amp_resample_method=method)
    one_shot = synth(amps, dist, f0)
    streamed = stream_render(
        HarmonicStream(synth, HOP), amps, dist, f0, split_points(sizes, n_frames)
    )
    assert streamed.shape == one_shot.shape
    np.testing.assert_allclose(streamed, one_shot, rtol=0, atol=1e-10)


@pytest.mark.parametrize("method", ["linear", "window"])
def test_blocks_equal_one_shot_float32(method, xp):
    c32 = controls(1, 40, dtype=np.float32)
    synth = synths.Harmonic(n_samples=40 * 64, amp_resample_method=method)
    exact = synth(*(a.astype(np.float64) for a in c32))  # the same controls, float64 all along
    one_shot = to_numpy(synth(*(xp.asarray(a) for a in c32)))
    stream = HarmonicStream(synth, 64)
    streamed = stream_render(stream, *(xp.asarray(a) for a in c32), [0, 1, 8, 9, 23, 40])
    assert streamed.dtype == np.float32
    np.testing.assert_allclose(streamed, exact, rtol=0, atol=1e-5)
    # One-shot float32 synthesis rounds each harmonic frequency f0 * k to float32 at frame rate
    # (the stream integrates f0 and multiplies phases by k), so it drifts a little further.
    np.testing.assert_allclose(one_shot, exact, rtol=0, atol=5e-5)
    np.testing.assert_allclose(streamed, one_shot, rtol=0, atol=5e-5)


def test_first_block_latency_and_contents():
    """The first frame renders nothing (one frame of latency); every later block renders the
    samples up to its last frame, which are exactly the one-shot signal's next samples."""
    amps, dist, f0 = controls(2, 6)
    synth = synths.Harmonic(n_samples=6 * HOP, amp_resample_method="linear")
    one_shot = to_numpy(synth(amps, dist, f0))
    stream = HarmonicStream(synth, HOP)
    assert stream.process(amps[:, :1], dist[:, :1], f0[:, :1]).shape == (2, 0)
    block = to_numpy(stream.process(amps[:, 1:4], dist[:, 1:4], f0[:, 1:4]))
    np.testing.assert_allclose(block, one_shot[:, : 3 * HOP], rtol=0, atol=1e-10)
    block = to_numpy(stream.process(amps[:, 4:], dist[:, 4:], f0[:, 4:]))
    np.testing.assert_allclose(block, one_shot[:, 3 * HOP : 5 * HOP], rtol=0, atol=1e-10)
    np.testing.assert_allclose(to_numpy(stream.flush()), one_shot[:, 5 * HOP :], atol=1e-10)


def test_flush_resets_the_stream():
    amps, dist, f0 = controls(3, 5)
    synth = synths.Harmonic(n_samples=5 * HOP, amp_resample_method="window")
    stream = HarmonicStream(synth, HOP)
    first = stream_render(stream, amps, dist, f0, [0, 2, 5])
    second = stream_render(stream, amps, dist, f0, [0, 3, 5])  # starts again from phase 0
    np.testing.assert_allclose(second, first, atol=1e-12)
    with pytest.raises(ValueError, match="no block"):
        stream.flush()


def test_stream_is_differentiable():
    amps, dist, f0 = controls(4, 4, batch=1, n_harmonics=3)
    f0 = f0 / 4.0  # keep every harmonic below Nyquist

    def fun(a, d, f):
        stream = HarmonicStream(synths.Harmonic(amp_resample_method="window"), 8)
        first = stream.process(a[:, :2], d[:, :2], f[:, :2])
        rest = stream.process(a[:, 2:], d[:, 2:], f[:, 2:])
        return ops.concatenate([first, rest, stream.flush()], axis=1)

    check_grads(fun, amps, dist, f0)


@pytest.mark.parametrize("method", ["cubic", "nearest"])
def test_unsupported_method_raises(method):
    with pytest.raises(ValueError, match=f"'linear' or 'window'.*'{method}'"):
        HarmonicStream(synths.Harmonic(amp_resample_method=method), HOP)


@pytest.mark.parametrize("hop", [0, -4, 2.5])
def test_bad_hop_size_raises(hop):
    with pytest.raises(ValueError, match="hop_size"):
        HarmonicStream(synths.Harmonic(), hop)
