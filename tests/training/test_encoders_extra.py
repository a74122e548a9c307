"""MfccRnnEncoder, AggregateFeaturesEncoder, OneHotEncoder and ExpressionEncoder: parity with
ddsp 3.7.0 (values and gradients, recorded by record_nn_extras_golden.py), float64 gradient
checks, gin names and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ddsp_ref import check_grads
from ddsp_ref.autodiff import value_and_grad
from ddsp_ref.module import flatten_dict
from ddsp_ref.training import encoders, nn

from .test_nn_extras import SPEC, case, close, grads_of, params_of, projected


def _check_case(name, enc, inputs_for_grad=()):
    """Outputs and the gradients of every recorded parameter (and inputs) against ddsp."""
    c = case(name)
    feats = {k: v for k, v in c.items() if "/" not in k}
    params = params_of(c)
    enc(feats)  # build
    assert sorted(flatten_dict(enc.parameters())) == sorted(flatten_dict(params))

    def fun(p, *xs):
        f = dict(feats, **dict(zip(inputs_for_grad, xs)))
        return projected(enc.apply(p, f), c)

    xs = [feats[k] for k in inputs_for_grad]
    grads = value_and_grad(fun, argnums=tuple(range(1 + len(xs))))(params, *xs)[1]
    out = enc.apply(params, feats)
    for k, v in out.items():
        close(v, c[f"out/{k}"], rtol=1e-3, atol=1e-4)
    want = flatten_dict(grads_of(c, "grad/params/"))
    got = flatten_dict(grads[0])
    assert sorted(want) == sorted(got)
    for k in want:
        close(got[k], want[k], rtol=2e-3, atol=2e-4)
    for k, g in zip(inputs_for_grad, grads[1:]):
        scale = np.abs(c[f"grad/{k}"]).max()
        close(g, c[f"grad/{k}"], rtol=2e-3, atol=2e-3 * scale)


@pytest.mark.parametrize("name", ["mfccrnn_mean", "mfccrnn_seq"])
def test_mfcc_rnn_encoder_matches_ddsp(name):
    enc = encoders.MfccRnnEncoder(**SPEC[name], seed=0)
    _check_case(name, enc, ("audio",))


def test_mfcc_rnn_encoder_shapes_follow_ddsp():
    audio = np.random.default_rng(0).standard_normal((2, 4096)).astype(np.float32)
    feats = {"audio": audio, "f0_scaled": np.zeros((2, 7, 1), np.float32)}
    z = encoders.MfccRnnEncoder(3, z_dims=2, mean_aggregate=True, seed=1)(feats)["z"]
    assert z.shape == (2, 7, 2)
    np.testing.assert_array_equal(z[:, 1:], np.broadcast_to(z[:, :1], (2, 6, 2)))
    z4 = encoders.MfccRnnEncoder(3, z_dims=2, seed=1)(feats)["z"]  # ddsp's 4-D quirk
    assert z4.shape == (2, 7, 16, 2)
    np.testing.assert_array_equal(z4[:, 3], z4[:, 0])


def test_aggregate_features_encoder_matches_ddsp():
    _check_case(
        "aggregate", encoders.AggregateFeaturesEncoder(3, seed=0), ("f0_scaled", "ld_scaled")
    )


@pytest.mark.parametrize("name", ["onehot_skip", "onehot_expand"])
def test_one_hot_encoder_matches_ddsp(name):
    _check_case(name, encoders.OneHotEncoder(**SPEC[name], seed=0))


@pytest.mark.parametrize("name", ["expression_pool", "expression_time"])
def test_expression_encoder_matches_ddsp(name):
    spec = dict(SPEC[name])
    net = nn.FcStack(spec.pop("net_ch"), spec.pop("net_layers"), seed=0, name="net")
    _check_case(
        name, encoders.ExpressionEncoder(net=net, **spec, seed=0), ("f0_scaled", "ld_scaled")
    )


def test_expression_encoder_with_audio_runs_and_differentiates():
    rng = np.random.default_rng(1)
    audio = rng.standard_normal((1, 2048))
    feats = {"audio": audio, "f0_scaled": rng.random((1, 5, 1)), "ld_scaled": rng.random((1, 5, 1))}
    net = nn.FcStack(3, 1, seed=2)
    enc = encoders.ExpressionEncoder(
        net=net, z_dims=2, input_keys=("audio", "f0_scaled", "ld_scaled"), mfcc_bins=8,
        mel_bins=16, fft_size=256, pool_time=False, seed=3,
    )  # fmt: skip
    z = enc(feats)["z"]
    assert z.shape == (1, 5, 2) and z.dtype == np.float64
    assert "norm_mfcc" in enc.parameters()
    # net input: f0, ld, then 8 MFCCs resampled to 5 frames.
    assert enc.parameters()["net"]["fc_0"]["dense"]["kernel"].shape == (10, 3)
    check_grads(lambda p: enc.apply(p, feats)["z"], enc.parameters())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_encoder_gradients_float64_and_dtypes(dtype):
    rng = np.random.default_rng(4)
    feats = {"f0_scaled": rng.random((2, 4, 1)).astype(dtype),
             "ld_scaled": rng.random((2, 4, 1)).astype(dtype)}  # fmt: skip
    agg = encoders.AggregateFeaturesEncoder(3, seed=1)
    expr = encoders.ExpressionEncoder(net=nn.FcStack(3, 1, seed=2), z_dims=2, seed=3)
    for enc in (agg, expr):
        z = enc(feats)["z"]
        assert z.dtype == dtype and z.shape[:2] == (2, 4)
        if dtype == np.float64:

            def fun(p, f0, ld, e=enc):
                return e.apply(p, {"f0_scaled": f0, "ld_scaled": ld})["z"]

            check_grads(fun, enc.parameters(), feats["f0_scaled"], feats["ld_scaled"])
    one = encoders.OneHotEncoder(vocab_size=4, n_dims=2, skip_expand=False, seed=0)
    f = {"instrument": np.array([[1], [1]]), "f0_scaled": feats["f0_scaled"]}
    z = one(f)["z"]
    assert z.shape == (2, 4, 2)
    np.testing.assert_array_equal(z[0], z[1])
    check_grads(lambda p: one.apply(p, f)["z"], one.parameters())


def test_one_frame_inputs():
    f = {"f0_scaled": np.full((1, 1, 1), 0.3), "ld_scaled": np.full((1, 1, 1), 0.6)}
    z = encoders.AggregateFeaturesEncoder(2, seed=0)(f)["z"]
    assert z.shape == (1, 1, 2)
    enc = encoders.ExpressionEncoder(net=nn.FcStack(3, 1, seed=0), z_dims=2, seed=0)
    assert enc(f)["z"].shape == (1, 1, 2)


def test_encoders_reject_bad_input_and_register_ddsp_gin_names():
    with pytest.raises(TypeError, match="ExpressionEncoder: net must be a layer"):
        encoders.ExpressionEncoder()
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 4\)"):
        encoders.OneHotEncoder(vocab_size=4, n_dims=2)(
            {"instrument": np.array([[4]]), "f0_scaled": np.zeros((1, 3, 1))}
        )
    with pytest.raises(KeyError):
        encoders.AggregateFeaturesEncoder(2)({"f0_scaled": np.zeros((1, 3, 1))})


def test_gin_builds_the_new_layers_under_ddsps_names():
    gin = pytest.importorskip("gin")
    gin.clear_config()

    @gin.configurable("test_nn_extras_holder")
    def holder(**layers):
        return layers

    names = {
        "a": "encoders.MfccRnnEncoder",
        "b": "encoders.AggregateFeaturesEncoder",
        "c": "encoders.OneHotEncoder",
        "d": "encoders.ExpressionEncoder",
        "e": "nn.PolyphaseResample",
        "f": "nn.RnnFc",
        "g": "nn.VectorQuantization",
        "h": "nn.ResNet",
        "i": "nn.Fc",
        "j": "nn.Rnn",
        "k": "nn.Identity",
        "m": "nn.SingleGru",
    }
    try:
        gin.parse_config(
            "import ddsp_ref\n"
            "MfccRnnEncoder.z_dims = 7\n"
            "AggregateFeaturesEncoder.ch = 6\n"
            "OneHotEncoder.vocab_size = 9\n"
            "ExpressionEncoder.net = @nn.FcStack()\n"
            "FcStack.ch = 3\n"
            "FcStack.layers = 1\n"
            "Fc.ch = 4\n"
            "Rnn.dims = 5\n"
            "Rnn.rnn_type = 'lstm'\n"
            "SingleGru.gru_dim = 6\n"
            "PolyphaseResample.stride = 3\n"
            "RnnFc.rnn_feat = 4\n"
            "RnnFc.out_feat = 5\n"
            "VectorQuantization.k = 8\n"
            "ResNet.size = 'small'\n"
            + "".join(f"test_nn_extras_holder.{k} = @{v}()\n" for k, v in names.items())
        )
        built = holder()
    finally:
        gin.clear_config()
    for key, name in names.items():
        assert type(built[key]).__name__ == name.split(".")[1]
    assert built["a"].dense_z.units == 7 and built["b"].fc.units == 6
    assert built["c"].embedding.input_dim == 9 and isinstance(built["d"].net, nn.FcStack)
    assert built["e"].stride == 3 and built["f"].fc.dense.units == 5 and built["g"].k == 8
    assert built["h"].stack_1.layers[0].conv_in.filters == 256  # 8 * 32 for 'small'
    assert built["d"].net.layers[0].dense.units == 3 and built["i"].dense.units == 4
    assert built["j"].dims == 5 and built["j"].rnn_type == "lstm" and built["m"].gru.dims == 6
    x = np.ones((1, 2, 3))
    assert built["k"](x) is x


@pytest.mark.parametrize("mean_aggregate", [True, False])
def test_mfcc_rnn_encoder_gradients_float64(mean_aggregate):
    rng = np.random.default_rng(8)
    feats = {"audio": 0.3 * rng.standard_normal((1, 1024)), "f0_scaled": rng.random((1, 3, 1))}
    enc = encoders.MfccRnnEncoder(2, z_dims=2, mean_aggregate=mean_aggregate, seed=0)
    z = enc(feats)["z"]
    assert z.dtype == np.float64
    check_grads(lambda p: enc.apply(p, feats)["z"], enc.parameters())
    check_grads(lambda a: enc({"audio": a, "f0_scaled": feats["f0_scaled"]})["z"], feats["audio"])
