"""MidiEncoder, HarmonicToMidiEncoder, MidiDecoder and MidiToHarmonicDecoder: parity with ddsp
3.7.0 (values and gradients, recorded by record_midi_golden.py), float64 gradient checks on
every subset of inputs, one frame, silence, gin names and bad input."""

from __future__ import annotations

import itertools
import json
import os

import numpy as np
import pytest

from ddsp_ref import check_grads
from ddsp_ref.autodiff import ops, value_and_grad
from ddsp_ref.module import flatten_dict, unflatten_dict
from ddsp_ref.training import nn
from ddsp_ref.training.decoders_midi import MidiDecoder, MidiToHarmonicDecoder
from ddsp_ref.training.encoders_midi import HarmonicToMidiEncoder, MidiEncoder

GOLDEN = np.load(os.path.join(os.path.dirname(__file__), "golden_midi_3_7_0.npz"))
SPEC = json.loads(str(GOLDEN["spec"]))
STACK = dict(ch=4, layers_per_stack=1, stacks=1, norm_type="layer", conditional=True)


def case(name):
    prefix = name + "/"
    return {k[len(prefix) :]: GOLDEN[k] for k in GOLDEN.files if k.startswith(prefix)}


def _tree(c, prefix):
    return unflatten_dict({k[len(prefix) :]: v for k, v in c.items() if k.startswith(prefix)})


def close(a, b, rtol=1e-4, atol=1e-4):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def _layer(name):
    spec = dict(SPEC.get(name, {}))
    if name == "midi_encoder":
        return MidiEncoder(net=nn.FcStack(4, 1, seed=0), seed=1), ("f0_midi", "loudness")
    if name.startswith("harm_encoder"):
        enc = HarmonicToMidiEncoder(net=nn.FcStack(4, 1, seed=0), seed=1, **spec)
        return enc, ("f0_midi", "amps", "hd", "noise")
    if name.startswith("midi_decoder"):
        return MidiDecoder(net=nn.DilatedConvStack(**STACK, seed=0), seed=1, **spec), (
            "z_pitch", None, "z")  # fmt: skip
    spec["output_splits"] = [tuple(s) for s in spec["output_splits"]]
    return MidiToHarmonicDecoder(net=nn.FcStack(4, 1, seed=0), seed=1, **spec), ("z_pitch",)


NAMES = ["midi_encoder", "harm_encoder_res", "harm_encoder_nores", "midi_decoder",
         "midi_decoder_plain", "harm_decoder", "harm_decoder_plain"]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_midi_layers_match_ddsp(name):
    c = case(name)
    layer, keys = _layer(name)
    args = [None if k is None else c[k] for k in keys]
    layer(*args)  # build
    params = _tree(c, "params/")
    assert sorted(flatten_dict(layer.parameters())) == sorted(flatten_dict(params))
    out = layer.apply(params, *args)
    assert sorted(out) == sorted(k[4:] for k in c if k.startswith("out/"))
    for k, v in out.items():
        close(v, c[f"out/{k}"], rtol=1e-4, atol=1e-3 if k == "f0_hz" else 1e-4)
    live = [i for i, k in enumerate(keys) if k is not None]

    def fun(p, *xs):
        a = list(args)
        for i, x in zip(live, xs):
            a[i] = x
        o = layer.apply(p, *a)
        return sum(ops.sum(o[k] * c[f"cot/{k}"]) for k in o)

    grads = value_and_grad(fun, argnums=tuple(range(1 + len(live))))(
        params, *[args[i] for i in live])[1]  # fmt: skip
    want, got = flatten_dict(_tree(c, "grad/params/")), flatten_dict(grads[0])
    assert sorted(want) == sorted(got)
    for k in want:
        scale = np.abs(want[k]).max()
        close(got[k], want[k], rtol=2e-3, atol=2e-4 * max(scale, 1.0))
    for i, g in zip(live, grads[1:]):
        ref = c[f"grad/{keys[i]}"]
        close(g, ref, rtol=2e-3, atol=2e-4 * max(np.abs(ref).max(), 1.0))


def _float64_layers():
    enc = MidiEncoder(net=nn.FcStack(3, 1, seed=0), seed=1)
    harm = HarmonicToMidiEncoder(net=nn.FcStack(3, 1, seed=2), seed=3)
    dec = MidiDecoder(net=nn.DilatedConvStack(**dict(STACK, ch=3), seed=4), seed=5)
    hdec = MidiToHarmonicDecoder(net=nn.FcStack(3, 1, seed=6), seed=7,
                                 output_splits=(("f0_midi", 1), ("amplitudes", 1),
                                                ("magnitudes", 2)))  # fmt: skip
    return enc, harm, dec, hdec


@pytest.mark.parametrize("n_frames", [1, 5])
def test_float64_gradients_on_every_subset_of_inputs(n_frames):
    rng = np.random.default_rng(3)
    enc, harm, dec, hdec = _float64_layers()

    def x(c):
        return rng.uniform(-1, 1, (2, n_frames, c)) + 60.0 * (c == 1)

    cases = [
        (enc, [x(1), x(1)], lambda layer, p, a: layer.apply(p, *a)),
        (harm, [x(1), x(1), x(3), x(2)], lambda layer, p, a: layer.apply(p, *a)),
        (dec, [x(1), x(2)], lambda layer, p, a: layer.apply(p, a[0], None, a[1])),
        (hdec, [x(1)], lambda layer, p, a: layer.apply(p, *a)),
    ]
    for layer, inputs, call in cases:
        layer(*([inputs[0], None, inputs[1]] if layer is dec else inputs))  # build
        params = layer.parameters()
        n = len(inputs)
        for r in range(n + 1):
            for subset in itertools.combinations(range(n), r):

                def fun(p, *xs, subset=subset, layer=layer, inputs=inputs, call=call):
                    a = list(inputs)
                    for i, v in zip(subset, xs):
                        a[i] = v
                    o = call(layer, p, a)
                    return ops.concatenate([ops.reshape(o[k], (-1,)) for k in sorted(o)])

                check_grads(fun, params, *[inputs[i] for i in subset])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes_follow_the_input(dtype):
    rng = np.random.default_rng(0)
    enc, harm, dec, hdec = _float64_layers()
    f0 = rng.uniform(40, 80, (1, 4, 1)).astype(dtype)
    for out in (enc(f0, f0), harm(f0, f0, f0, f0), dec(f0, None, np.ones((1, 4, 2), dtype)),
                hdec(f0)):  # fmt: skip
        for v in out.values():
            assert v.dtype == dtype and v.shape[:2] == (1, 4)


def test_silence_decodes_to_zero_hz_and_residuals_hold():
    net = nn.FcStack(3, 1, seed=0)
    dec = MidiToHarmonicDecoder(net=net, seed=1, output_splits=(("f0_midi", 1), ("amplitudes", 1)))
    q = np.array([[[0.0], [0.0], [60.0]]])
    out = dec(q)
    f0_midi = np.asarray(out["f0_midi"])
    # f0_midi = Dense(...) + z_pitch; f0_hz is 0 only where f0_midi is exactly 0 (ddsp's rule).
    hz = 440.0 * 2.0 ** ((f0_midi - 69.0) / 12.0)
    close(out["f0_hz"], np.where(f0_midi == 0.0, 0.0, hz), rtol=1e-6, atol=0)
    p = dec.parameters()
    p["dense_out"]["kernel"] = np.zeros_like(p["dense_out"]["kernel"])
    out = dec.apply(p, q)
    np.testing.assert_array_equal(np.asarray(out["f0_midi"]), q)
    np.testing.assert_array_equal(np.asarray(out["f0_hz"])[0, :2, 0], [0.0, 0.0])
    close(out["f0_hz"][0, 2, 0], 261.6255653, rtol=1e-6, atol=0)
    mdec = MidiDecoder(net=nn.FcStack(3, 1, seed=0), seed=1)
    mdec(q)
    p = mdec.parameters()
    p["dense_out"]["kernel"] = np.zeros_like(p["dense_out"]["kernel"])
    p["dense_out"]["bias"] = np.array([0.5, 0.5], np.float32)
    out = mdec.apply(p, q)
    close(out["f0_midi"], q + 0.5, rtol=0, atol=1e-6)
    close(out["loudness"], np.full_like(q, 0.5 * 30.0 - 70.0), rtol=0, atol=1e-5)


def test_dict_calls_gin_names_and_bad_input():
    gin = pytest.importorskip("gin")
    rng = np.random.default_rng(0)
    enc = MidiEncoder(net=nn.FcStack(3, 1, seed=0), seed=1)
    f0, ld = rng.uniform(40, 80, (1, 3, 1)), rng.uniform(-60, 0, (1, 3, 1))
    by_dict = enc({"f0_midi": f0, "loudness": ld})
    by_args = enc(f0, ld)
    for k in ("z_pitch", "z_vel"):
        np.testing.assert_array_equal(by_dict[k], by_args[k])
    gin.clear_config()

    @gin.configurable("test_midi_layers_holder")
    def holder(**layers):
        return layers

    names = {"a": "encoders.MidiEncoder", "b": "encoders.HarmonicToMidiEncoder",
             "c": "decoders.MidiDecoder", "d": "decoders.MidiToHarmonicDecoder"}  # fmt: skip
    try:
        gin.parse_config(
            "import ddsp_ref\n"
            "MidiEncoder.net = @nn.FcStack()\n"
            "HarmonicToMidiEncoder.net = @nn.FcStack()\n"
            "MidiDecoder.net = @nn.FcStack()\n"
            "MidiToHarmonicDecoder.net = @nn.FcStack()\n"
            "MidiToHarmonicDecoder.midi_zero_silence = False\n"
            "FcStack.ch = 3\n"
            + "".join(f"test_midi_layers_holder.{k} = @{v}()\n" for k, v in names.items())
        )
        built = holder()
    finally:
        gin.clear_config()
    for key, name in names.items():
        assert type(built[key]).__name__ == name.split(".")[1]
    assert built["d"].midi_zero_silence is False and isinstance(built["a"].net, nn.FcStack)
    with pytest.raises(TypeError, match="MidiEncoder: net must be a layer"):
        MidiEncoder()
    with pytest.raises(TypeError, match="MidiToHarmonicDecoder: net must be a layer"):
        MidiToHarmonicDecoder()
    with pytest.raises(ValueError, match="output_splits must include 'f0_midi'"):
        MidiToHarmonicDecoder(net=nn.FcStack(3, 1), output_splits=(("amplitudes", 1),))
    with pytest.raises(ValueError, match=r"MidiEncoder: f0_midi must be \[batch, n_frames, 1\]"):
        enc(np.zeros((1, 3, 2)), ld)
    with pytest.raises(ValueError, match="MidiEncoder.*loudness"):
        enc(f0, np.zeros((1, 3)))
    with pytest.raises(TypeError, match="MidiDecoder.*z_pitch"):
        MidiDecoder(net=nn.FcStack(3, 1))(np.zeros((1, 3, 1), complex))
