"""ddsp's ResNet pieces (Conv2D, MaxPool (1, 3), NormReluConv, ResidualLayer, ResidualStack,
ResNet): parity with ddsp 3.7.0 (record_nn_extras_golden.py), float64 gradient checks, shapes
at odd frequency counts, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ddsp_ref import check_grads
from ddsp_ref.autodiff import value_and_grad
from ddsp_ref.module import flatten_dict, unflatten_dict
from ddsp_ref.training.nn.resnet import (
    Conv2D,
    NormReluConv,
    ResidualLayer,
    ResidualStack,
    ResNet,
    max_pool_freq,
)

from .formula_weights import formula_weights
from .test_nn_extras import GOLDEN, SPEC, case, close, grads_of, params_of, projected


def _compare(name, layer, conditional=False):
    c = case(name)

    def call(p, t):
        return {"y": layer.apply(p, (t["x"], t["z"]) if conditional else t["x"])}

    inputs = {k: v for k, v in c.items() if "/" not in k}
    params = params_of(c)
    layer((inputs["x"], inputs["z"]) if conditional else inputs["x"])  # build
    assert sorted(flatten_dict(layer.parameters())) == sorted(flatten_dict(params))
    names = sorted(inputs)

    def fun(p, *xs):
        return projected(call(p, dict(zip(names, xs))), c)

    grads = value_and_grad(fun, argnums=tuple(range(1 + len(names))))(
        params, *[inputs[k] for k in names]
    )[1]
    for k, v in call(params, inputs).items():
        close(v, c[f"out/{k}"], rtol=1e-3, atol=1e-4)
    want, got = flatten_dict(grads_of(c, "grad/params/")), flatten_dict(grads[0])
    assert sorted(want) == sorted(got)
    for k in want:
        close(got[k], want[k], rtol=2e-3, atol=2e-4)
    for k, g in zip(names, grads[1:]):
        close(g, c[f"grad/{k}"], rtol=2e-3, atol=2e-4)


def test_conv2d_and_max_pool_match_ddsp():
    _compare("conv2d", Conv2D(4, 3, 2, seed=0))
    c = case("maxpool")
    y, g = value_and_grad(lambda x: projected({"y": max_pool_freq(x)}, c))(c["x"])
    np.testing.assert_array_equal(max_pool_freq(c["x"]), c["out/y"])
    np.testing.assert_array_equal(g, c["grad/x"])


def test_norm_relu_conv_matches_ddsp():
    _compare("nrc", NormReluConv(3, 3, 2, "layer", seed=0))


@pytest.mark.parametrize("i", range(4))
def test_residual_layer_matches_ddsp(i):
    spec = SPEC[f"residual{i}"]
    _compare(f"residual{i}", ResidualLayer(**spec, seed=0), spec["conditional"])


def test_residual_stack_matches_ddsp():
    _compare("stack", ResidualStack([2, 3], [2, 1], [1, 2], "layer", seed=0))


def test_resnet_small_matches_ddsp():
    c = case("resnet")
    net = ResNet("small", "layer", seed=0)
    net(c["x"])
    names = json.loads(str(GOLDEN["resnet/names"]))
    ours = flatten_dict(net.parameters())
    assert sorted(ours) == sorted(names)  # every ddsp variable, under our names
    flat = {}
    for name in names:
        shape = ours[name].shape
        keras_shape = (1, 1, 1) + shape if name.endswith(("scale", "shift")) else shape
        flat[name] = formula_weights(name, keras_shape).reshape(shape)
    params = unflatten_dict(flat)

    def fun(p, x):
        return projected({"y": net.apply(p, x)}, c)

    gp, gx = value_and_grad(fun, argnums=(0, 1))(params, c["x"])[1]
    close(net.apply(params, c["x"]), c["out/y"], rtol=2e-3, atol=2e-4)
    close(gx, c["grad/x"], rtol=5e-3, atol=5e-3 * np.abs(c["grad/x"]).max())
    close(gp["conv_in"]["kernel"], c["grad/conv_in/kernel"], rtol=5e-3, atol=1e-3)
    sums = [float(np.sum(flatten_dict(gp)[n] ** 2)) for n in names]
    close(sums, c["grad_sums"], rtol=1e-2, atol=1e-6)
    assert net(c["x"]).shape == (1, 2, 1, 1024)


@pytest.mark.parametrize("n_freq", [1, 2, 5, 8, 9])
def test_conv2d_and_pool_shapes_and_gradients_float64(n_freq):
    rng = np.random.default_rng(n_freq)
    x = rng.standard_normal((1, 3, n_freq, 2))
    for k, s in ((3, 2), (1, 1), (7, 2), (2, 3)):
        conv = Conv2D(3, k, s, seed=1)
        y = conv(x)
        assert y.shape == (1, 3, -(-n_freq // s), 3) and y.dtype == np.float64
        check_grads(lambda p, x, f=conv: f.apply(p, x), conv.parameters(), x)
    assert max_pool_freq(x).shape == (1, 3, -(-n_freq // 2), 2)
    check_grads(max_pool_freq, x + np.arange(n_freq)[:, None] * 0.1)  # no ties


def test_conv2d_against_a_direct_cross_correlation():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 4, 7, 3))
    conv = Conv2D(2, 3, 2, seed=2)
    y = conv(x)
    w, b = conv.parameters()["kernel"].astype(np.float64), conv.parameters()["bias"]
    # TF 'same': time pad (1, 1); frequency: 4 outputs, total pad (4 - 1) * 2 + 3 - 7 = 2.
    xp = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)])
    want = np.zeros((2, 4, 4, 2))
    for t in range(4):
        for f in range(4):
            patch = xp[:, t : t + 3, 2 * f : 2 * f + 3, :]
            want[:, t, f] = np.einsum("bijc,ijco->bo", patch, w) + b
    close(y, want, rtol=1e-6, atol=1e-6)


def test_resnet_pieces_gradients_float64_and_conditioning():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 4, 3))
    z = rng.standard_normal((1, 2))
    layer = ResidualLayer(2, 2, True, "layer", True, False, seed=4)
    assert layer((x, z)).shape == (1, 2, 2, 8)
    check_grads(lambda p, x, z: layer.apply(p, (x, z)), layer.parameters(), x, z)
    stack = ResidualStack([1], [2], [2], "instance", seed=5)
    assert stack(x).shape == (1, 2, 2, 4)
    check_grads(lambda p, x: stack.apply(p, x), stack.parameters(), x)
    net = ResNet("small", conditional=True, seed=6)
    y32 = net((x[..., :1].astype(np.float32), z.astype(np.float32)))
    assert y32.shape == (1, 2, 1, 1024) and y32.dtype == np.float32


def test_resnet_rejects_bad_input():
    with pytest.raises(ValueError, match="size must be one of"):
        ResNet("tiny")
    with pytest.raises(ValueError, match="Conv2D: inputs must have shape"):
        Conv2D(2, 3)(np.zeros((1, 4, 3)))
    with pytest.raises(ValueError, match="pair"):
        ResidualLayer(2, 1, True, "layer", True, False)(np.zeros((1, 2, 4, 3)))
    with pytest.raises(ValueError, match="norm_type"):
        NormReluConv(2, 3, 1, "batch")
