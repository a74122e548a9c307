"""ddsp_ref.training.decoders.RnnFcDecoder against the same nn layers composed by hand (fresh
layers given the decoder's parameters), the stateless mode (state in -> state out, a sequence
decoded in pieces equals the whole), and float64 gradient checks on parameters and inputs."""

from __future__ import annotations

import numpy as np
import pytest

from ddsp_ref.autodiff import check_grads, ops, tree_flatten, tree_map
from ddsp_ref.training import nn
from ddsp_ref.training.decoders import RnnFcDecoder

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 2e-5, np.float64: 1e-12}
KEYS = ("ld_scaled", "f0_scaled", "z")
SPLITS = (("amps", 1), ("harmonic_distribution", 5), ("noise_magnitudes", 3))


def _features(batch=2, n_frames=7, dtype=np.float64, seed=0, z_dims=4):
    rng = np.random.default_rng(seed)
    return {
        "ld_scaled": rng.uniform(0, 1, (batch, n_frames, 1)).astype(dtype),
        "f0_scaled": rng.uniform(0.2, 0.6, (batch, n_frames, 1)).astype(dtype),
        "z": rng.standard_normal((batch, n_frames, z_dims)).astype(dtype),
    }


def _randomize(params, seed=5, scale=0.5):
    """Every leaf replaced by noise (biases and norm gains exercised); small so the GRU
    gates stay out of saturation."""
    leaves, rebuild = tree_flatten(params)
    rng = np.random.default_rng(seed)
    return rebuild([np.asarray(scale * rng.standard_normal(p.shape), p.dtype) for p in leaves])


def _decoder(rnn_type="gru", stateless=False, layers=2, keys=KEYS, seed=0):
    return RnnFcDecoder(rnn_channels=6, rnn_type=rnn_type, ch=5, layers_per_stack=layers,
                        stateless=stateless, input_keys=keys, output_splits=SPLITS,
                        seed=seed)  # fmt: skip


def _by_hand(params, features, keys, rnn_type, layers, state=None):
    """The decoder's computation from separate nn layers given the decoder's parameters."""
    stacked = []
    for i, key in enumerate(keys):
        stack = nn.FcStack(5, layers, input_size=features[key].shape[-1])
        stacked.append(stack.apply(params[f"input_stack_{i}"], features[key]))
    x = np.concatenate(stacked, axis=-1)
    if state is None:
        r = nn.Rnn(6, rnn_type, input_size=x.shape[-1]).apply(params["rnn"], x)
    else:
        r, state = nn.StatelessRnn(6, rnn_type, input_size=x.shape[-1]).apply(
            params["rnn"], x, state
        )
    h = nn.FcStack(5, layers, input_size=5 * len(keys) + 6).apply(
        params["out_stack"], np.concatenate(stacked + [r], -1)
    )
    y = nn.Dense(9, input_size=5).apply(params["dense_out"], h)
    out = {"amps": y[..., :1], "harmonic_distribution": y[..., 1:6], "noise_magnitudes": y[..., 6:]}
    return out, state


def _build(layer, features):
    layer(features)
    return _randomize(layer.parameters())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
@pytest.mark.parametrize("layers", [1, 3])
def test_matches_the_layers_composed_by_hand(dtype, rnn_type, layers):
    dec = _decoder(rnn_type, layers=layers)
    features = _features(dtype=dtype)
    params = _build(dec, features)
    assert sorted(params) == sorted(
        ["input_stack_0", "input_stack_1", "input_stack_2", "rnn", "out_stack", "dense_out"]
    )
    out = dec.apply(params, features)
    expected, _ = _by_hand(params, features, KEYS, rnn_type, layers)
    assert list(out) == ["amps", "harmonic_distribution", "noise_magnitudes"]
    for key, value in expected.items():
        assert out[key].shape == value.shape and out[key].dtype == dtype
        np.testing.assert_allclose(out[key], value, rtol=TOL[dtype], atol=TOL[dtype])


def test_defaults_and_one_frame():
    dec = RnnFcDecoder(seed=1)
    assert (dec.rnn.dims, dec.rnn.rnn_type, len(dec.input_stacks)) == (512, "gru", 3)
    assert all(len(s.layers) == 3 and s.layers[0].dense.units == 512 for s in dec.input_stacks)
    assert dec.output_splits == (("amps", 1), ("harmonic_distribution", 40))
    out = dec(_features(batch=1, n_frames=1, dtype=np.float32, z_dims=16))
    assert out["amps"].shape == (1, 1, 1) and out["harmonic_distribution"].shape == (1, 1, 40)
    assert all(np.all(np.isfinite(v)) for v in out.values())
    # Linear outputs (no activation): they take both signs.
    assert np.min(out["harmonic_distribution"]) < 0 < np.max(out["harmonic_distribution"])


def test_seed_reproduces_and_extra_features_are_ignored():
    features = _features()
    a, b = _decoder(seed=3), _decoder(seed=3)
    out_a = a(features)
    out_b = b(dict(features, audio=np.zeros((2, 100)), f0_hz=np.ones((2, 7, 1))))
    for key in out_a:
        np.testing.assert_array_equal(out_a[key], out_b[key])
    assert not np.allclose(_decoder(seed=4)(features)["amps"], out_a["amps"])


def test_a_single_key_may_be_a_string():
    dec = RnnFcDecoder(4, ch=3, layers_per_stack=1, input_keys="z", seed=0)
    assert dec.input_keys == ["z"] and len(dec.input_stacks) == 1
    assert dec(_features())["harmonic_distribution"].shape == (2, 7, 40)


def test_missing_keys_are_named():
    dec = _decoder()
    features = _features()
    del features["z"], features["ld_scaled"]
    with pytest.raises(KeyError, match=r"\['ld_scaled', 'z'\]"):
        dec(features)
    with pytest.raises(KeyError, match="state"):
        _decoder(stateless=True)(_features())


@pytest.mark.parametrize("dtype", DTYPES)
def test_stateless_state_in_state_out_and_pieces(dtype):
    dec = _decoder(stateless=True)
    features = _features(n_frames=9, dtype=dtype)
    zero = np.zeros((2, 6), dtype)
    params = _build(dec, dict(features, state=zero))
    state = np.random.default_rng(1).uniform(-0.5, 0.5, (2, 6)).astype(dtype)
    out = dec.apply(params, dict(features, state=state))
    assert sorted(out) == ["amps", "harmonic_distribution", "noise_magnitudes", "state"]
    assert out["state"].shape == (2, 6) and out["state"].dtype == dtype
    assert not np.allclose(out["state"], state)
    expected, new_state = _by_hand(params, features, KEYS, "gru", 2, state=state)
    np.testing.assert_allclose(out["state"], new_state, rtol=TOL[dtype], atol=TOL[dtype])
    for key, value in expected.items():
        np.testing.assert_allclose(out[key], value, rtol=TOL[dtype], atol=TOL[dtype])
    # Pieces of 1, 3 and 5 frames, each fed the previous piece's state, give the whole.
    pieces, s = [], state
    for lo, hi in [(0, 1), (1, 4), (4, 9)]:
        part = {k: v[:, lo:hi] for k, v in features.items()}
        o = dec.apply(params, dict(part, state=s))
        pieces.append(o["harmonic_distribution"])
        s = o["state"]
    np.testing.assert_allclose(np.concatenate(pieces, 1), out["harmonic_distribution"],
                               rtol=10 * TOL[dtype], atol=10 * TOL[dtype])  # fmt: skip
    np.testing.assert_allclose(s, out["state"], rtol=10 * TOL[dtype], atol=10 * TOL[dtype])


def test_stateless_from_zero_state_equals_the_stateful_decoder():
    features = _features()
    stateful, stateless = _decoder(seed=2), _decoder(stateless=True, seed=2)
    params = _build(stateful, features)
    stateless(dict(features, state=np.zeros((2, 6))))  # build (keras-style lazy parameters)
    out = stateless.apply(params, dict(features, state=np.zeros((2, 6))))
    expected = stateful.apply(params, features)
    for key, value in expected.items():
        np.testing.assert_allclose(out[key], value, rtol=1e-12, atol=1e-12)


def _loss_view(out):
    """All outputs in one array, so every output reaches the checked projection."""
    return ops.concatenate([out["amps"], out["harmonic_distribution"], out["noise_magnitudes"]], -1)


@pytest.mark.parametrize("argnums", [(0,), (1,), (0, 1)])
@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
def test_gradients(rnn_type, argnums):
    dec = _decoder(rnn_type, keys=("ld_scaled", "z"))
    features = _features(n_frames=4)
    params = _build(dec, features)
    inputs = {k: features[k] for k in ("ld_scaled", "z")}
    check_grads(lambda p, f: _loss_view(dec.apply(p, f)), params, inputs, argnums=argnums)


@pytest.mark.parametrize("argnums", [(0,), (1,), (2,), (0, 1, 2)])
def test_stateless_gradients(argnums):
    dec = _decoder(stateless=True, keys=("f0_scaled", "z"))
    features = _features(n_frames=3)
    inputs = {k: features[k] for k in ("f0_scaled", "z")}
    state = np.random.default_rng(2).uniform(-0.5, 0.5, (2, 6))
    params = _build(dec, dict(inputs, state=state))

    def fun(p, f, s):
        out = dec.apply(p, dict(f, state=s))
        return _loss_view(out) + ops.sum(out["state"] * out["state"])  # both reach the loss

    check_grads(fun, params, inputs, state, argnums=argnums)


def test_float32_parameters_follow_float64_inputs():
    dec = _decoder()
    out32 = dec(_features(dtype=np.float32))
    out64 = dec(_features(dtype=np.float64))
    assert tree_map(lambda p: p.dtype, dec.parameters())["rnn"]["kernel"] == np.float32
    assert out64["amps"].dtype == np.float64
    np.testing.assert_allclose(out32["amps"], out64["amps"], rtol=1e-4, atol=1e-5)


def test_zero_layers_per_stack_is_ddsps_tiny_decoder():
    """tiny_instrument's ``layers_per_stack = 0``: the stacks are identities, so the decoder is
    concat(inputs) -> GRU -> concat(inputs, rnn) -> Dense."""
    keys = ("ld_scaled", "f0_scaled")
    dec = _decoder(layers=0, keys=keys)
    features = _features()
    params = _build(dec, features)
    out = dec.apply(params, features)
    x = np.concatenate([features[k] for k in keys], -1)
    r = nn.Rnn(6, "gru", input_size=2).apply(params["rnn"], x)
    y = nn.Dense(9, input_size=8).apply(params["dense_out"], np.concatenate([x, r], -1))
    np.testing.assert_allclose(out["amps"], y[..., :1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out["noise_magnitudes"], y[..., 6:], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layers, rnn, expected", [(0, 256, 280_314), (3, 512, 4_849_150)])
def test_parameter_counts_match_ddsps_models(layers, rnn, expected):
    """ddsp's tiny_instrument / solo_instrument models have 280,314 / 4,849,150 trainable
    parameters (TF's count, /work/shared/peers/README.md); the decoder plus the 48000-tap
    trainable reverb must add up to the same."""
    dec = RnnFcDecoder(rnn_channels=rnn, ch=512, layers_per_stack=layers,
                       input_keys=("ld_scaled", "f0_scaled"),
                       output_splits=(("amps", 1), ("harmonic_distribution", 60),
                                      ("noise_magnitudes", 65)))  # fmt: skip
    features = _features(batch=1, n_frames=2, dtype=np.float32)
    dec(features)
    n = sum(int(np.size(p)) for p in tree_flatten(dec.parameters())[0])
    assert n + 48000 == expected
