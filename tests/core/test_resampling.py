"""Tests of ddsp_ref.core.resampling: golden cases, TF1 legacy resize formulas, ddsp's tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ddsp_ref
from ddsp_ref.backend import to_numpy
from ddsp_ref.core import center_crop, resample, upsample_with_windows
from tests.golden_util import replay

N_SMALLER, N_LARGER = 5, 16000


# -- golden cases recorded from ddsp 3.7.0 ---------------------------------------------------------
@pytest.mark.parametrize(
    "name", ["resample_linear", "resample_window", "upsample_with_windows_noendpoint"]
)
def test_golden(name, xp):
    replay(name, xp, fwd_tol=2e-7, grad_tol=3e-7)  # measured at most 9.5e-8; 1.6e-7


# -- TF1 legacy resize, written out independently (scalar loops, float64 interpolation) ------------
def _scale(n_in, n_out, align_corners):
    """TF's CalculateResizeScale, in float32 like the C++ kernel."""
    if align_corners and n_out > 1:
        return np.float32(n_in - 1) / np.float32(n_out - 1)
    return np.float32(n_in) / np.float32(n_out)


def _keys(d, a=-0.75):
    """Keys cubic convolution kernel at distance d >= 0."""
    if d <= 1:
        return ((a + 2) * d - (a + 3)) * d * d + 1
    if d < 2:
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return 0.0


def legacy_resize_1d(x, n_out, method, align_corners):
    """tf.compat.v1.image.resize along one axis (legacy coordinates), as a float64 reference."""
    n_in = len(x)
    scale = _scale(n_in, n_out, align_corners)
    y = np.zeros(n_out)
    for i in range(n_out):
        pos = np.float32(i) * scale  # float32, as in TF
        f = math.floor(pos)
        if method == "nearest":
            r = f + 1 if float(pos) - f >= 0.5 else f  # roundf (halves away from zero)
            y[i] = x[min(r if align_corners else f, n_in - 1)]
        elif method == "linear":
            w = float(pos - np.float32(f))
            y[i] = x[max(f, 0)] * (1 - w) + x[min(math.ceil(pos), n_in - 1)] * w
        else:  # cubic: fraction quantised to 1/1024 (round half to even), clamped taps
            frac = np.rint(float(pos - np.float32(f)) * 1024) / 1024
            for k in range(-1, 3):
                w = np.float32(_keys(abs(k - frac)))  # TF stores the table in float32
                y[i] += float(w) * x[min(max(f + k, 0), n_in - 1)]
    return y


@pytest.mark.parametrize("method", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("add_endpoint", [True, False])
@pytest.mark.parametrize("n_in,n_out", [(5, 16), (7, 7), (4, 33), (20, 640), (33, 8), (100, 3),
                                        (1, 6), (6, 1)])  # fmt: skip
def test_matches_legacy_resize(method, add_endpoint, n_in, n_out):
    x = np.random.default_rng(n_in * 100 + n_out).standard_normal(n_in)
    ours = resample(x, n_out, method=method, add_endpoint=add_endpoint)
    ref = legacy_resize_1d(x, n_out, method, align_corners=not add_endpoint)
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)


def test_nearest_rounds_half_away_from_zero():
    # align_corners: 3 -> 5 gives positions 0, 0.5, 1, 1.5, 2; roundf picks 1 and 2 at the halves.
    x = np.array([10.0, 20.0, 30.0])
    np.testing.assert_array_equal(
        resample(x, 5, "nearest", add_endpoint=False), [10, 20, 20, 30, 30]
    )
    # no align_corners: floor of i * 3/5 = 0, 0.6, 1.2, 1.8, 2.4.
    np.testing.assert_array_equal(resample(x, 5, "nearest"), [10, 10, 20, 20, 30])


def test_linear_holds_last_frame_with_endpoint():
    x = np.array([0.0, 1.0, 3.0])
    out = resample(x, 6)  # positions 0, .5, 1, 1.5, 2, 2.5 (the last clamped to frame 2)
    np.testing.assert_allclose(out, [0.0, 0.5, 1.0, 2.0, 3.0, 3.0])
    out = resample(x, 5, add_endpoint=False)  # positions 0, .5, 1, 1.5, 2
    np.testing.assert_allclose(out, [0.0, 0.5, 1.0, 2.0, 3.0])


@pytest.mark.parametrize("method", ["nearest", "linear", "cubic", "window"])
def test_ranks_resample_the_time_axis_only(method, xp):
    rng = np.random.default_rng(1)
    x3 = rng.standard_normal((2, 5, 3)).astype(np.float32)
    out3 = to_numpy(resample(xp.asarray(x3), 20, method))
    assert out3.shape == (2, 20, 3) and out3.dtype == np.float32
    # Every channel is resampled independently, like the 1-D signal alone.
    for b in range(2):
        for c in range(3):
            np.testing.assert_allclose(
                out3[b, :, c], to_numpy(resample(xp.asarray(x3[b, :, c]), 20, method)), atol=1e-6
            )
    np.testing.assert_allclose(to_numpy(resample(xp.asarray(x3[:, :, 0]), 20, method)),
                               out3[:, :, 0], atol=1e-6)  # fmt: skip
    if method == "window":
        with pytest.raises(ValueError, match="1-D to 3-D"):
            resample(xp.asarray(x3[:, :, None, :]), 20, method)
    else:  # 4-D [batch, time, freq, channels]: the frequency axis is left untouched
        x4 = np.stack([x3, 2 * x3], axis=2)
        out4 = to_numpy(resample(xp.asarray(x4), 20, method))
        np.testing.assert_allclose(out4, np.stack([out3, 2 * out3], axis=2), atol=1e-6)


def test_integer_and_list_inputs_become_float32():
    out = resample([[0, 2, 4]], 6)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0, 1, 2, 3, 4, 4]])


# -- ddsp's ResampleTest -----------------------------------------------------------------------
def _positions(add_endpoint):
    n_total = N_LARGER / N_SMALLER * (N_SMALLER - 1) if add_endpoint else N_LARGER - 1
    return np.linspace(0, n_total, N_SMALLER).astype(int)


@pytest.mark.parametrize("method", ["linear", "cubic", "window"])
@pytest.mark.parametrize("add_endpoint", [True, False])
def test_upsampling_is_accurate(method, add_endpoint):
    inputs = 1.0 - np.sin(np.linspace(0, np.pi, N_SMALLER))
    out = resample(inputs[None, :, None].astype(np.float32), N_LARGER, method, add_endpoint)
    np.testing.assert_allclose(out[0, _positions(add_endpoint), 0], inputs, atol=1e-3)


@pytest.mark.parametrize("method", ["linear", "cubic"])
@pytest.mark.parametrize("add_endpoint", [True, False])
def test_downsampling_is_accurate(method, add_endpoint):
    inputs = 1.0 - np.sin(np.linspace(0, np.pi, N_LARGER))
    out = resample(inputs[None, :, None].astype(np.float32), N_SMALLER, method, add_endpoint)
    np.testing.assert_allclose(out[0, :, 0], inputs[_positions(add_endpoint)], atol=1e-3)


def test_window_upsampling_rejects_non_3d():
    with pytest.raises(ValueError, match=r"inputs must have shape \[batch, n_frames, n_channels\]"):
        upsample_with_windows(np.zeros((2, 5)), 100)
    with pytest.raises(ValueError, match=r"inputs must have shape \[batch, n_frames, n_channels\]"):
        upsample_with_windows(np.zeros((2, 5, 1, 1)), 100)


def test_window_rejects_downsampling():
    with pytest.raises(ValueError, match="downsampling"):
        resample(np.zeros((1, N_LARGER, 1)), N_SMALLER, method="window")


@pytest.mark.parametrize("add_endpoint,n_frames,ok", [(True, 5, True), (False, 6, True),
                                                      (True, 6, False), (False, 7, False),
                                                      (False, 5, True)])  # fmt: skip
def test_window_needs_integer_ratio(add_endpoint, n_frames, ok):
    # 16000 = 5 * 3200 = 4 * 4000; 6 / 7 frames (5 / 6 intervals without endpoint) do not divide.
    x = np.ones((1, n_frames, 1))
    if ok:
        out = resample(x, N_LARGER, method="window", add_endpoint=add_endpoint)
        np.testing.assert_allclose(out, 1.0, atol=1e-12)  # constant-overlap-add
    else:
        with pytest.raises(ValueError, match="divisible"):
            resample(x, N_LARGER, method="window", add_endpoint=add_endpoint)


def test_window_single_frame_without_endpoint_raises():
    with pytest.raises(ValueError, match="divisible"):
        upsample_with_windows(np.ones((1, 1, 1)), 16, add_endpoint=False)


@pytest.mark.parametrize("method", ["", "wiiinnndooww", "bilinear"])
def test_invalid_method_raises(method):
    with pytest.raises(ValueError, match="method"):
        resample(np.zeros((1, 5, 1)), 16, method=method)


@pytest.mark.parametrize("shape", [(), (1, 2, 3, 4, 5)])
def test_invalid_rank_raises(shape):
    with pytest.raises(ValueError, match=r"resample: inputs must have shape \[n_frames\]"):
        resample(np.zeros(shape), 16)


def test_invalid_n_timesteps_raises():
    with pytest.raises(ValueError, match="n_timesteps"):
        resample(np.zeros((1, 5, 1)), 0)


# -- window upsampling: exact frames at k * hop, raised-cosine crossfade in between -------------
@pytest.mark.parametrize("add_endpoint", [True, False])
def test_window_is_raised_cosine_crossfade(add_endpoint, xp):
    rng = np.random.default_rng(3)
    frames = rng.standard_normal((2, 6, 3))
    hop = 8
    n_out = hop * (6 if add_endpoint else 5)
    out = to_numpy(upsample_with_windows(xp.asarray(frames), n_out, add_endpoint))
    ext = np.concatenate([frames, frames[:, -1:]], axis=1) if add_endpoint else frames
    s = np.arange(hop)
    fade_in = 0.5 - 0.5 * np.cos(np.pi * s / hop)
    for k in range(ext.shape[1] - 1):
        seg = out[:, k * hop : (k + 1) * hop]
        expected = ext[:, k, None] * (1 - fade_in)[:, None] + ext[:, k + 1, None] * fade_in[:, None]
        np.testing.assert_allclose(seg, expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(out[:, k * hop], ext[:, k])  # exactly frame k


def test_window_resample_of_1d_and_2d(xp):
    x = xp.asarray(np.array([1.0, 3.0, 2.0]))
    out1 = to_numpy(resample(x, 12, "window"))
    out3 = to_numpy(upsample_with_windows(x[None, :, None], 12))
    np.testing.assert_array_equal(out1, out3[0, :, 0])
    np.testing.assert_array_equal(to_numpy(resample(x[None], 12, "window")), out3[:, :, 0])


def test_center_crop():
    audio = np.arange(20.0).reshape(2, 10)
    np.testing.assert_array_equal(center_crop(audio, 4), audio[:, 2:8])
    np.testing.assert_array_equal(center_crop(audio, 5), audio[:, 2:8])
    assert center_crop(audio, 1).shape == (2, 0)  # ddsp's [pad:-pad] with pad 0


# -- float64 gradient checks -------------------------------------------------------------------
@given(
    method=st.sampled_from(["nearest", "linear", "cubic"]),
    add_endpoint=st.booleans(),
    n_in=st.integers(1, 9),
    n_out=st.integers(1, 24),
    rank=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_resample_gradients(method, add_endpoint, n_in, n_out, rank, seed):
    shape = {1: (n_in,), 2: (2, n_in), 3: (2, n_in, 2), 4: (1, n_in, 2, 2)}[rank]
    x = np.random.default_rng(seed).standard_normal(shape)
    ddsp_ref.check_grads(lambda a: resample(a, n_out, method, add_endpoint), x)


@given(
    add_endpoint=st.booleans(),
    n_frames=st.integers(2, 6),
    hop=st.integers(1, 6),
    channels=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_window_gradients(add_endpoint, n_frames, hop, channels, seed):
    x = np.random.default_rng(seed).standard_normal((2, n_frames, channels))
    n_out = hop * (n_frames if add_endpoint else n_frames - 1)
    if n_out <= n_frames:
        n_out *= n_frames + 1  # keep it an upsampling with an integer ratio
    ddsp_ref.check_grads(lambda a: upsample_with_windows(a, n_out, add_endpoint), x)
    ddsp_ref.check_grads(lambda a: resample(a[:, :, 0], n_out, "window", add_endpoint), x)


@pytest.mark.parametrize("method", ["nearest", "linear", "cubic", "window"])
@pytest.mark.parametrize("n_frames, n_out", [(7, 56), (5, 11), (300, 4800)])
def test_resample_range_of_a_frame_slice_equals_the_full_resample(method, n_frames, n_out):
    """Chunked rendering resamples a span of output steps from only the frames it reads
    (resampling.frames_read): the same numbers as slicing the full resample."""
    from ddsp_ref.core.resampling import frames_read, resample_range

    if method == "window" and n_out % n_frames:
        pytest.skip("'window' needs n_out divisible by n_frames")
    x = np.random.default_rng(n_out).standard_normal((2, n_frames, 3))
    full = resample(x, n_out, method=method)
    for span in [(0, 1), (0, n_out), (1, n_out // 3), (n_out // 2, n_out), (n_out - 1, n_out)]:
        first, stop = frames_read(n_frames, n_out, span)
        part = resample_range(x[:, first:stop], n_out, method, True, span, (first, n_frames))
        np.testing.assert_array_equal(part, full[:, span[0] : span[1]])
