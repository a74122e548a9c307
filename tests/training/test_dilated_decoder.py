"""DilatedConvDecoder against its pieces composed in float64 numpy, key handling, gradients."""

from __future__ import annotations

import numpy as np
import pytest

from ddsp_ref.autodiff import check_grads, tree_map
from ddsp_ref.training import nn
from ddsp_ref.training.decoders import DilatedConvDecoder
from tests.training.test_conv import check_golden, np_stack

_rng = np.random.default_rng(77)


def _features(n_frames=20, batch=2, z_dims=3):
    return {
        "ld_scaled": _rng.random((batch, n_frames, 1)),
        "f0_scaled": _rng.random((batch, n_frames, 1)),
        "z": _rng.standard_normal((batch, n_frames, z_dims)),
    }


def _f64(tree):
    return tree_map(lambda a: np.asarray(a, np.float64), tree)


def _split(y, splits):
    out, start = {}, 0
    for key, size in splits:
        out[key] = y[..., start : start + size]
        start += size
    return out


def test_defaults_are_ddsps():
    dec = DilatedConvDecoder(seed=0)
    assert dec.input_keys == ["ld_scaled", "f0_scaled", "z"]
    assert dec.conditioning_keys == ["z"] and dec.conditional
    assert dec.output_keys == ["amps", "harmonic_distribution"] and dec.n_out == 61
    stack = dec.dilated_conv_stack
    assert stack.ch == 256 and stack.norm_type == "layer" and stack.conditional
    assert stack.dilations == [1, 2, 4, 8, 16] * 2


def test_conditional_outputs_match_hand_composition():
    splits = (("amps", 1), ("harmonic_distribution", 5), ("noise_magnitudes", 4))
    dec = DilatedConvDecoder(ch=6, layers_per_stack=3, stacks=1, output_splits=splits, seed=1)
    feats = _features()
    dec(feats)
    params = _f64(dec.parameters())
    for i in range(3):  # the stack's FiLM layers: make every parameter matter
        dense = params["dilated_conv_stack"][f"norm_{i}"]["conditional_scale_and_shift"]["dense"]
        dense["bias"] = _rng.standard_normal(dense["bias"].shape)
    out = dec.apply(params, feats)
    x = np.concatenate([feats["ld_scaled"], feats["f0_scaled"]], axis=-1)
    hidden = np_stack(params["dilated_conv_stack"], x, [1, 2, 4], "layer", feats["z"])
    y = hidden @ params["dense_out"]["kernel"] + params["dense_out"]["bias"]
    expected = _split(y, splits)
    assert list(out) == ["amps", "harmonic_distribution", "noise_magnitudes"]
    for key in expected:
        np.testing.assert_allclose(out[key], expected[key], rtol=1e-10, atol=1e-10)


def test_unconditioned_decoder_concatenates_every_input():
    dec = DilatedConvDecoder(ch=4, layers_per_stack=2, stacks=1, norm_type="instance",
                             input_keys=("f0_scaled", "z"), conditioning_keys=None,
                             output_splits=(("amps", 2),), seed=2)  # fmt: skip
    assert not dec.conditional and dec.input_keys == ["f0_scaled", "z"]
    feats = _features()
    dec(feats)
    params = _f64(dec.parameters())
    x = np.concatenate([feats["f0_scaled"], feats["z"]], axis=-1)
    hidden = np_stack(params["dilated_conv_stack"], x, [1, 2], "instance")
    expected = hidden @ params["dense_out"]["kernel"] + params["dense_out"]["bias"]
    np.testing.assert_allclose(dec.apply(params, feats)["amps"], expected, rtol=1e-10,
                               atol=1e-10)  # fmt: skip


def test_precondition_stack_runs_on_z():
    pre = nn.FcStackOut(ch=4, layers=1, n_out=2, seed=3)
    dec = DilatedConvDecoder(ch=4, layers_per_stack=1, stacks=1, precondition_stack=pre,
                             conditioning_keys=("z",), seed=3)  # fmt: skip
    feats = _features()
    dec(feats)
    params = _f64(dec.parameters())
    assert "precondition_stack" in params
    z = pre.apply(params["precondition_stack"], feats["z"])
    x = np.concatenate([feats["ld_scaled"], feats["f0_scaled"]], axis=-1)
    hidden = np_stack(params["dilated_conv_stack"], x, [1], "layer", np.asarray(z))
    expected = hidden @ params["dense_out"]["kernel"] + params["dense_out"]["bias"]
    np.testing.assert_allclose(dec.apply(params, feats)["amps"], expected[..., :1],
                               rtol=1e-10, atol=1e-10)  # fmt: skip
    with pytest.raises(ValueError, match="precondition_stack"):
        DilatedConvDecoder(conditioning_keys=None, precondition_stack=pre)


def test_float32_and_missing_key():
    dec = DilatedConvDecoder(ch=4, layers_per_stack=2, stacks=1, seed=4)
    feats = {k: v.astype(np.float32) for k, v in _features(n_frames=1).items()}  # one frame
    out = dec(feats)
    assert out["amps"].dtype == np.float32 and out["amps"].shape == (2, 1, 1)
    assert np.all(np.isfinite(out["harmonic_distribution"]))
    with pytest.raises(KeyError):
        dec({k: v for k, v in feats.items() if k != "z"})


def test_parameter_gradients_float64():
    dec = DilatedConvDecoder(ch=3, layers_per_stack=2, stacks=1,
                             output_splits=(("amps", 1), ("harmonic_distribution", 2)),
                             seed=5)  # fmt: skip
    feats = _features(n_frames=5, z_dims=2)
    dec(feats)
    params = _f64(dec.parameters())

    def fn(p):
        out = dec.apply(p, feats)
        return out["amps"] * 1.0 + out["harmonic_distribution"][..., :1] * 0.5

    check_grads(fn, params)


def test_resample_stride_upsamples_the_outputs():
    # ddsp: resample_stride > 1 makes an 'upsample' stack (transposed convolutions)
    dec = DilatedConvDecoder(ch=3, layers_per_stack=1, stacks=2, resample_stride=2,
                             conditioning_keys=None, seed=6)  # fmt: skip
    stack = dec.dilated_conv_stack
    assert stack.resample_type == "upsample" and len(stack.resamples) == 2
    feats = _features(n_frames=5)
    dec(feats)
    params = _f64(dec.parameters())
    x = np.concatenate([feats["ld_scaled"], feats["f0_scaled"]], axis=-1)
    where = {("after", 0): 0, ("after", 1): 1}
    hidden = np_stack(params["dilated_conv_stack"], x, [1, 1], "layer",
                      resample=("upsample", 2, where))  # fmt: skip
    expected = hidden @ params["dense_out"]["kernel"] + params["dense_out"]["bias"]
    out = dec.apply(params, feats)
    assert out["amps"].shape == (2, 20, 1)
    np.testing.assert_allclose(out["amps"], expected[..., :1], rtol=1e-10, atol=1e-10)


def test_gin_builds_the_decoder():
    gin = pytest.importorskip("gin")
    gin.clear_config()

    @gin.configurable("test_dilated_decoder_holder")
    def holder(decoder=None):
        return decoder

    try:
        gin.parse_config(
            "import ddsp_ref\n"
            "DilatedConvDecoder.ch = 7\n"
            "DilatedConvDecoder.output_splits = (('amps', 1), ('noise_magnitudes', 3))\n"
            "test_dilated_decoder_holder.decoder = @decoders.DilatedConvDecoder()\n"
        )
        dec = holder()
    finally:
        gin.clear_config()
    assert isinstance(dec, DilatedConvDecoder) and dec.dilated_conv_stack.ch == 7
    assert dec.output_keys == ["amps", "noise_magnitudes"]


def test_matches_ddsp_golden():
    # DilatedConvDecoder(ch=4, layers_per_stack=2, stacks=1) conditioned on z, recorded from
    # ddsp 3.7.0 with random variables: outputs and gradients (inputs and parameters).
    def build(spec):
        spec["output_splits"] = [tuple(s) for s in spec["output_splits"]]
        return DilatedConvDecoder(**spec, seed=0)

    def call(layer, params, features):
        return layer(features) if params is None else layer.apply(params, features)

    check_golden("decoder", build, call)
