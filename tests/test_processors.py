"""ddsp_ref.processors: the Processor contract, Add, Mix and Crop (ddsp's processors_test plus
independent float64 formulas and gradient checks)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddsp_ref import check_grads, processors
from ddsp_ref.backend import to_numpy

SMALL = settings(max_examples=10, deadline=None)


def ref_legacy_linear(x, n_out):
    """TF1 legacy bilinear resize along axis 1 (align_corners=False): pos = i * n_in / n_out,
    the last input frame held at the end. TF computes the positions in float32."""
    x = np.asarray(x, np.float64)
    n_in = x.shape[1]
    pos = (np.arange(n_out, dtype=np.float32) * np.float32(n_in / n_out)).astype(np.float64)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    w = (pos - lo)[None, :, None]
    return x[:, lo] * (1.0 - w) + x[:, hi] * w


def ref_mix(s1, s2, nn_out):
    m = ref_legacy_linear(1.0 / (1.0 + np.exp(-np.asarray(nn_out, np.float64))), s1.shape[1])
    return np.sqrt(np.abs(m)) * s1 + (1.0 - np.sqrt(np.abs(m - 1.0))) * s2


# -- the Processor contract ---------------------------------------------------------------------


class Scale(processors.Processor):
    """A minimal processor: controls double the input, the signal adds one."""

    def __init__(self):
        super().__init__(name="scale")

    def get_controls(self, x):
        return {"x": 2.0 * x}

    def get_signal(self, x):
        return x + 1.0


def test_processor_call_is_get_signal_of_get_controls():
    x = np.arange(6.0).reshape(2, 3)
    proc = Scale()
    np.testing.assert_array_equal(proc(x), 2.0 * x + 1.0)
    out = proc(x, return_outputs_dict=True)
    assert sorted(out) == ["controls", "signal"]
    np.testing.assert_array_equal(out["controls"]["x"], 2.0 * x)
    np.testing.assert_array_equal(out["signal"], 2.0 * x + 1.0)
    # Keras' training and mask keyword arguments are accepted and ignored.
    np.testing.assert_array_equal(proc(x, training=True, mask=None), 2.0 * x + 1.0)


def test_processor_group_get_signal_takes_the_outputs_dict_positionally():
    # ddsp: `group.get_signal(group.get_controls(inputs))`.
    group = processors.ProcessorGroup(dag=[(processors.Add(), ["a", "b"])])
    inputs = {"a": np.ones((1, 4)), "b": np.full((1, 4), 2.0)}
    outputs = group.get_controls(inputs)
    np.testing.assert_array_equal(group.get_signal(outputs), np.full((1, 4), 3.0))
    np.testing.assert_array_equal(group.get_signal(**outputs), np.full((1, 4), 3.0))
    with pytest.raises(TypeError, match="outputs must be the dict"):
        group.get_signal([1, 2])


def test_processor_without_methods_raises():
    with pytest.raises(TypeError, match="get_controls"):
        processors.Processor(name="bare")(np.zeros(3))


# -- Add -----------------------------------------------------------------------------------------


def test_add_one_plus_two_is_three(xp):
    # ddsp's test: ones + 2 * ones == 3 exactly.
    one = xp.ones((2, 100, 3), dtype=xp.float32)
    out = processors.Add()(one, 2.0 * one)
    assert to_numpy(out).dtype == np.float32
    np.testing.assert_array_equal(to_numpy(out), np.full((2, 100, 3), 3.0, np.float32))


def test_add_controls_and_name():
    add = processors.Add()
    assert add.name == "add"
    out = add(np.ones(4), np.zeros(4), return_outputs_dict=True)
    assert sorted(out["controls"]) == ["signal_one", "signal_two"]


@SMALL
@given(st.integers(1, 3), st.integers(1, 20), st.integers(0, 2**16))
def test_add_gradients(batch, n, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(batch, n)), rng.normal(size=(batch, n))
    check_grads(lambda x, y: processors.Add()(x, y), a, b)


# -- Mix -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_frames", [1, 7, 100])
def test_mix_matches_formula(n_frames, xp):
    rng = np.random.default_rng(n_frames)
    s1, s2 = rng.normal(size=(2, 100, 3)), rng.normal(size=(2, 100, 3))
    nn_out = rng.normal(scale=3.0, size=(2, n_frames, 3))
    out = processors.Mix()(xp.asarray(s1), xp.asarray(s2), xp.asarray(nn_out))
    assert out.shape == (2, 100, 3)  # ddsp's test
    np.testing.assert_allclose(to_numpy(out), ref_mix(s1, s2, nn_out), rtol=1e-12, atol=1e-12)


def test_mix_is_not_a_crossfade():
    # ddsp quirk kept for parity: m -> 0 silences both signals, m -> 1 sums them.
    s1, s2 = np.full((1, 4, 1), 2.0), np.full((1, 4, 1), 5.0)
    low = processors.Mix()(s1, s2, np.full((1, 2, 1), -60.0))
    high = processors.Mix()(s1, s2, np.full((1, 2, 1), 60.0))
    np.testing.assert_allclose(low, 0.0, atol=1e-12)
    np.testing.assert_allclose(high, 7.0, atol=1e-12)


def test_mix_float32_stays_float32():
    s = np.ones((1, 8, 1), np.float32)
    out = processors.Mix()(s, s, np.zeros((1, 2, 1), np.float32))
    assert out.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("level", [17.0, 40.0, -120.0, 0.0])
def test_mix_gradient_is_finite_where_the_mix_level_saturates(level, dtype):
    # sigmoid(17) == 1 and sigmoid(-120) == 0 in float32: sqrt(|m - 1|) and sqrt(|m|) sit at
    # their kink, where the naive VJP gives inf * 0 = NaN.
    import ddsp_ref
    from ddsp_ref.autodiff import ops

    rng = np.random.default_rng(0)
    s1, s2 = rng.normal(size=(2, 1, 8, 1)).astype(dtype)
    nn_out = np.full((1, 2, 1), level, dtype)
    value, grads = ddsp_ref.value_and_grad(
        lambda a, b, m: ops.sum(processors.Mix()(a, b, m) ** 2), argnums=(0, 1, 2)
    )(s1, s2, nn_out)
    assert np.isfinite(value)
    for g in grads:
        assert np.all(np.isfinite(g))
    with np.errstate(over="ignore"):  # exp(120) overflows float32: m is 0 there, as wanted
        m = np.float64(dtype(1) / (1 + np.exp(-dtype(level))))  # the level the dtype sees
    w1, w2 = np.sqrt(abs(m)), 1 - np.sqrt(abs(m - 1))
    np.testing.assert_allclose(grads[0], 2 * (w1 * s1 + w2 * s2) * w1, rtol=1e-5, atol=1e-6)


def test_mix_length_mismatch_raises():
    with pytest.raises(ValueError, match=r"Mix.*same length.*10.*12"):
        processors.Mix()(np.zeros((1, 10, 1)), np.zeros((1, 12, 1)), np.zeros((1, 2, 1)))


def test_mix_rank_mismatch_raises():
    # [1, 64, 1] signals with a [1, 4] mix level would broadcast to [1, 64, 64].
    with pytest.raises(ValueError, match=r"nn_out_mix_level.*\(1, 4\).*\(1, 64, 1\)"):
        processors.Mix()(np.zeros((1, 64, 1)), np.zeros((1, 64, 1)), np.zeros((1, 4)))


@SMALL
@given(st.integers(1, 2), st.integers(2, 12), st.integers(1, 5), st.integers(0, 2**16))
def test_mix_gradients(batch, n, n_frames, seed):
    rng = np.random.default_rng(seed)
    s1, s2 = rng.normal(size=(batch, n, 2)), rng.normal(size=(batch, n, 2))
    # Keep the mix level away from 0 and 1, where sqrt(|.|) has an infinite slope.
    nn_out = rng.uniform(-2.0, 2.0, size=(batch, n_frames, 2))
    check_grads(lambda a, b, m: processors.Mix()(a, b, m), s1, s2, nn_out)


# -- Crop ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "location, frame_size, expected",
    [
        ("back", 8, slice(0, 12)),
        ("front", 8, slice(8, 20)),
        ("center", 8, slice(4, 16)),
        ("back", 5, slice(0, 16)),  # frame_size // 2 = 2: 4 samples in all
        ("front", 5, slice(4, 20)),
        ("center", 5, slice(2, 18)),
    ],
)
def test_crop_matches_slicing(location, frame_size, expected, xp):
    x = np.arange(40.0).reshape(2, 20)
    out = processors.Crop(frame_size, crop_location=location)(xp.asarray(x))
    np.testing.assert_array_equal(to_numpy(out), x[:, expected])


def test_crop_keeps_channels():
    x = np.arange(60.0).reshape(2, 10, 3)
    np.testing.assert_array_equal(processors.Crop(4, "center")(x), x[:, 2:8])


def test_crop_default_is_back():
    crop = processors.Crop(4)
    assert crop.crop_location == "back"
    np.testing.assert_array_equal(crop(np.arange(10.0)[None]), np.arange(6.0)[None])


def test_crop_longer_than_the_signal_raises():
    with pytest.raises(ValueError, match="cannot remove 100 samples.*64 samples"):
        processors.Crop(100, "back")(np.zeros((1, 64)))


def test_crop_bad_location_raises():
    with pytest.raises(ValueError, match=r"crop_location.*'middle'"):
        processors.Crop(4, crop_location="middle")


@pytest.mark.parametrize("location", ["front", "center", "back"])
def test_crop_gradients(location):
    x = np.random.default_rng(0).normal(size=(2, 11))
    check_grads(lambda a: processors.Crop(4, location)(a), x)
