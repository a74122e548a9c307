"""ddsp_ref.effects: golden reverb, impulse responses as delays, the reverb family's trainable
parameters and controls (ddsp's effects_test), FIRFilter, ModDelay, bad controls, gradients."""

from __future__ import annotations

import numpy as np
import pytest

import ddsp_ref
from ddsp_ref import check_grads, core, effects, synths
from ddsp_ref.autodiff import ops
from ddsp_ref.backend import to_numpy
from tests.golden_util import replay

N_SAMPLES, REVERB_LENGTH = 400, 40


def ref_exp_sigmoid(x):
    return 2.0 * (1.0 / (1.0 + np.exp(-x))) ** np.log(10.0) + 1e-7


def audio(seed=0, batch=3, n=N_SAMPLES):
    return np.random.default_rng(seed).normal(size=(batch, n))


# -- Reverb -------------------------------------------------------------------------------------


def test_reverb_golden(xp):
    replay("reverb_given_ir", xp=xp)


@pytest.mark.parametrize("k", [1, 5, 39])
def test_reverb_unit_impulse_delays_by_k(k, xp):
    x = audio(1)
    ir = np.zeros((3, REVERB_LENGTH))
    ir[:, k] = 1.0
    ir[:, 0] = 5.0  # the dry tap is masked: ir[0] is ignored
    wet = effects.Reverb(add_dry=False)(xp.asarray(x), xp.asarray(ir))
    expected = np.concatenate([np.zeros((3, k)), x[:, :-k]], axis=1)
    np.testing.assert_allclose(to_numpy(wet), expected, atol=1e-12)
    both = effects.Reverb(add_dry=True)(xp.asarray(x), xp.asarray(ir))
    np.testing.assert_allclose(to_numpy(both), expected + x, atol=1e-12)


def test_reverb_is_causal_convolution_with_masked_first_tap():
    x, ir = audio(2), np.random.default_rng(3).normal(size=(3, REVERB_LENGTH))
    out = effects.Reverb(add_dry=True)(x, ir)
    masked = ir.copy()
    masked[:, 0] = 0.0
    expected = np.stack([np.convolve(a, h)[:N_SAMPLES] for a, h in zip(x, masked, strict=True)]) + x
    np.testing.assert_allclose(out, expected, atol=1e-10)


def test_reverb_ir_shapes():
    x, ir = audio(4), np.random.default_rng(5).normal(size=REVERB_LENGTH)
    reverb = effects.Reverb()
    expected = reverb(x, np.tile(ir, (3, 1)))
    np.testing.assert_allclose(reverb(x, ir), expected, atol=1e-12)  # 1-D: shared by the batch
    np.testing.assert_allclose(reverb(x, ir[None]), expected, atol=1e-12)  # batch 1
    np.testing.assert_allclose(reverb(x, np.tile(ir, (3, 1))[:, :, None]), expected, atol=1e-12)


def test_reverb_float32():
    x, ir = audio(6).astype(np.float32), np.random.default_rng(7).normal(size=(3, 40))
    out = effects.Reverb()(x, ir.astype(np.float32))
    assert out.dtype == np.float32


def test_trainable_reverb_parameter():
    reverb = effects.Reverb(trainable=True, reverb_length=20000)
    params = reverb.parameters()
    assert list(params) == ["ir"]
    assert params["ir"].shape == (20000,) and params["ir"].dtype == np.float32
    assert abs(params["ir"].std() - 1e-6) < 5e-8  # Normal(0, 1e-6), as ddsp
    assert abs(params["ir"].mean()) < 5e-8
    # Different seeds give different initialisations; the same seed the same one.
    np.testing.assert_array_equal(
        effects.Reverb(trainable=True, reverb_length=20000).parameters()["ir"], params["ir"]
    )
    assert not np.array_equal(
        effects.Reverb(trainable=True, reverb_length=20000, seed=1).parameters()["ir"], params["ir"]
    )


def test_trainable_reverb_uses_its_parameter():
    x = audio(8)
    reverb = effects.Reverb(trainable=True, reverb_length=REVERB_LENGTH)
    ir = np.random.default_rng(9).normal(size=REVERB_LENGTH)
    reverb.set_parameters({"ir": ir})
    np.testing.assert_allclose(reverb(x), effects.Reverb()(x, ir), atol=1e-12)
    controls = reverb.get_controls(x)
    assert controls["ir"].shape == (3, REVERB_LENGTH)  # tiled over the batch


# -- the reverb family (ddsp's effects_test) ----------------------------------------------------


REVERBS = {
    "reverb": (effects.Reverb, ["ir"], lambda rng: {"ir": rng.normal(size=(3, REVERB_LENGTH))}),
    "exp_decay": (
        effects.ExpDecayReverb,
        ["decay", "gain"],
        lambda rng: {"gain": rng.normal(size=(3, 1)), "decay": rng.normal(size=(3, 1))},
    ),
    "filtered_noise": (
        effects.FilteredNoiseReverb,
        ["magnitudes"],
        lambda rng: {"magnitudes": rng.normal(size=(3, 10, 16))},
    ),
}


def make_reverb(kind, trainable, **kwargs):
    cls = REVERBS[kind][0]
    extra = {"n_frames": 10, "seed": 0} if kind == "filtered_noise" else {}
    if kind == "exp_decay":
        extra["seed"] = 0
    return cls(trainable=trainable, reverb_length=REVERB_LENGTH, **extra, **kwargs)


@pytest.mark.parametrize("kind", sorted(REVERBS))
@pytest.mark.parametrize("trainable", [True, False])
def test_reverb_family_contract(kind, trainable):
    _, param_names, controls_fn = REVERBS[kind]
    reverb = make_reverb(kind, trainable)
    x = audio(10).astype(np.float32)
    controls = {} if trainable else controls_fn(np.random.default_rng(11))
    controls = {k: v.astype(np.float32) for k, v in controls.items()}
    out = reverb(x, **controls)
    assert out.shape == x.shape and out.dtype == np.float32
    assert reverb.trainable is trainable
    assert sorted(reverb.parameters()) == (param_names if trainable else [])
    assert list(reverb.get_controls(x, **controls)) == ["audio", "ir"]
    if not trainable:
        with pytest.raises(ValueError, match="trainable=False"):
            reverb(x)


def test_exp_decay_reverb_ir_formula():
    reverb = effects.ExpDecayReverb(reverb_length=REVERB_LENGTH, seed=4)
    gain, decay = np.array([[0.5], [-1.0]]), np.array([[1.0], [2.0]])
    ir = reverb.get_controls(audio(0, batch=2), gain, decay)["ir"]
    noise = synths.NoiseSource(4).uniform(np, (1, REVERB_LENGTH), np.float64)
    t = np.linspace(0.0, 1.0, REVERB_LENGTH)[None, :]
    expected = ref_exp_sigmoid(gain) * np.exp(-(2.0 + np.exp(decay)) * t) * noise
    np.testing.assert_allclose(ir, expected, rtol=1e-12)


def test_exp_decay_reverb_initial_parameters():
    params = effects.ExpDecayReverb(trainable=True, reverb_length=10).parameters()
    np.testing.assert_array_equal(params["gain"], [2.0])
    np.testing.assert_array_equal(params["decay"], [4.0])


def test_filtered_noise_reverb_ir_is_filtered_noise():
    mags = np.random.default_rng(12).normal(size=(1, 10, 16))
    reverb = effects.FilteredNoiseReverb(reverb_length=REVERB_LENGTH, n_frames=10, seed=3)
    ir = reverb.get_controls(audio(0, batch=1), mags)["ir"]
    expected = synths.FilteredNoise(n_samples=REVERB_LENGTH, initial_bias=-3.0, seed=3)(mags)
    np.testing.assert_array_equal(ir, expected)
    params = effects.FilteredNoiseReverb(
        trainable=True, reverb_length=REVERB_LENGTH, n_frames=200, n_filter_banks=16
    ).parameters()
    assert params["magnitudes"].shape == (200, 16)
    assert abs(params["magnitudes"].std() - 0.01) < 1e-3  # Normal(0, 0.01), as ddsp


def test_stochastic_reverbs_draw_fresh_noise_and_are_seeded():
    x = audio(13, batch=1)
    for kind in ("exp_decay", "filtered_noise"):
        first, second = make_reverb(kind, True), make_reverb(kind, True)
        a0, a1 = first(x), first(x)
        assert not np.allclose(a0, a1)
        np.testing.assert_array_equal(second(x), a0)


# -- FIRFilter ----------------------------------------------------------------------------------


@pytest.mark.parametrize("window_size", [257, 15])
def test_fir_filter_is_a_windowed_zero_phase_fir(window_size, xp):
    """Constant magnitudes over time: the output is x convolved (np.convolve) with the FIR
    designed independently from exp_sigmoid(M) (irfft as zero phase, Hann window by index
    arithmetic: tests/core/test_filters.ref_windowed_ir), cropped by ddsp's delay compensation
    ``(n_taps - 1) // 2 - 1``."""
    from tests.core.test_filters import ref_crop, ref_windowed_ir

    x = audio(14)
    mags = np.random.default_rng(15).normal(size=(3, 1, 30))
    out = effects.FIRFilter(window_size=window_size)(xp.asarray(x), xp.asarray(mags))
    ir = ref_windowed_ir(np.fft.irfft(ref_exp_sigmoid(mags[:, 0])), window_size)
    full = np.stack([np.convolve(a, h) for a, h in zip(x, ir, strict=True)])
    expected = ref_crop(full, (ir.shape[-1] - 1) // 2 - 1, N_SAMPLES)
    np.testing.assert_allclose(to_numpy(out), expected, atol=1e-10)


def test_fir_filter_flat_response_passes_audio():
    # 257 windowed taps from 1025 bins: exact delay compensation, so unit gain is identity.
    x = audio(16)
    out = effects.FIRFilter(scale_fn=None)(x, np.full((3, 1, 1025), 0.5))
    np.testing.assert_allclose(out, 0.5 * x, atol=1e-3)


# -- ModDelay -----------------------------------------------------------------------------------


def mod_delay(**kwargs):
    # center 1 ms, depth 1 ms at 16 kHz: max_length 32, delay in [16, 32] samples.
    return effects.ModDelay(
        center_ms=1.0,
        depth_ms=1.0,
        sample_rate=16000,
        gain_scale_fn=None,
        phase_scale_fn=None,
        **kwargs,
    )


@pytest.mark.parametrize("phase, delay", [(0.0, 16), (0.5, 24), (0.25, 20), (1.0, 0)])
def test_mod_delay_integer_delays(phase, delay):
    """Phase p gives a delay of center + p * depth; p = 1 wraps to zero delay (ddsp quirk)."""
    x = audio(17, batch=2, n=200)
    ones = np.ones((2, 200, 1))
    out = mod_delay(add_dry=False)(x, 0.5 * ones, phase * ones)
    expected = 0.5 * np.concatenate([np.zeros((2, delay)), x[:, : 200 - delay]], axis=1)
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_mod_delay_fractional_delays_interpolate_linearly(xp):
    """A time-varying delay d(n) = center + p(n) * depth = k + f samples reads
    (1 - f) x[n - k] + f x[n - k - 1] (linear interpolation between the two neighbours),
    scaled by the gain, plus the dry signal; written out per sample in numpy. ddsp's quirk:
    the table wraps, so between delays max_length - 1 and max_length the second neighbour is
    delay 0 (x[n]) instead of x[n - max_length]."""
    rng = np.random.default_rng(18)
    n = 200
    x, gain = rng.normal(size=(2, n)), rng.uniform(0.1, 1.0, size=(2, n, 1))
    phase = rng.uniform(0.0, 0.99, size=(2, n, 1))
    out = mod_delay(add_dry=True)(xp.asarray(x), xp.asarray(gain), xp.asarray(phase))
    delay = 16.0 + 16.0 * phase[:, :, 0]  # samples (center 1 ms, depth 1 ms at 16 kHz)
    whole = np.floor(delay).astype(int)
    frac = delay - whole
    padded = np.concatenate([np.zeros((2, 64)), x], axis=1)  # silence before the start
    rows, t = np.arange(2)[:, None], np.arange(n)[None, :] + 64
    second = np.where(whole + 1 >= 32, 0, whole + 1)  # max_length 32: the wrap-around
    wet = (1 - frac) * padded[rows, t - whole] + frac * padded[rows, t - second]
    assert (whole == 31).any()  # the wrapped interval is exercised
    np.testing.assert_allclose(to_numpy(out), wet * gain[:, :, 0] + x, atol=1e-12)


def test_mod_delay_default_controls():
    rng = np.random.default_rng(19)
    x, gain, phase = (
        rng.normal(size=(3, 300)),
        rng.normal(size=(3, 300, 1)),
        rng.normal(size=(3, 300, 1)),
    )
    delay = effects.ModDelay()
    controls = delay.get_controls(x, gain, phase)
    np.testing.assert_allclose(controls["gain"], ref_exp_sigmoid(gain), rtol=1e-12)
    np.testing.assert_allclose(controls["phase"], 1.0 / (1.0 + np.exp(-phase)), rtol=1e-12)
    out = delay(x, gain, phase)
    expected = (
        core.variable_length_delay(phase=controls["phase"] * 0.4 + 0.6, audio=x, max_length=400)
        * controls["gain"][:, :, 0]
        + x
    )
    np.testing.assert_allclose(out, expected, atol=1e-12)


# -- bad controls --------------------------------------------------------------------------------


def test_bad_reverb_controls_raise():
    with pytest.raises(ValueError, match=r"audio must be \[batch, n_samples\].*\(3, 400, 1\)"):
        effects.Reverb()(audio(0)[:, :, None], np.zeros((3, 10)))
    with pytest.raises(ValueError, match=r"batch sizes disagree \(audio 3, ir 2\)"):
        effects.Reverb()(audio(0), np.zeros((2, 10)))
    with pytest.raises(ValueError, match="impulse response"):
        effects.Reverb()(audio(0))
    with pytest.raises(ValueError, match="gain.*decay"):
        effects.ExpDecayReverb(reverb_length=10)(audio(0), gain=np.zeros((3, 1)))


def test_bad_mod_delay_controls_raise():
    x, ones = np.zeros((2, 64)), np.ones((2, 64, 1))
    with pytest.raises(ValueError, match=r"audio must be \[batch, n_samples\]"):
        effects.ModDelay()(x[:, :, None], ones, ones)
    with pytest.raises(ValueError, match=r"gain must be \[batch, n_samples, 1\].*\(2, 64\)"):
        effects.ModDelay()(x, ones[:, :, 0], ones)
    with pytest.raises(ValueError, match=r"phase must be.*\(2, 60, 1\)"):
        effects.ModDelay()(x, ones, ones[:, :60])


# -- gradients ----------------------------------------------------------------------------------


def test_reverb_gradients():
    rng = np.random.default_rng(20)
    check_grads(effects.Reverb(), rng.normal(size=(2, 50)), rng.normal(size=(2, 12)))
    check_grads(effects.Reverb(add_dry=False), rng.normal(size=(2, 50)), rng.normal(size=12))


@pytest.mark.parametrize("kind", sorted(REVERBS))
def test_reverb_family_gradients_through_parameters(kind):
    x = audio(21, batch=2, n=60)
    params = make_reverb(kind, True).parameters()
    rng = np.random.default_rng(22)
    params = {k: rng.normal(scale=0.5, size=v.shape) for k, v in params.items()}

    def fun(p, a):  # a fresh module with the same seed draws the same noise every time
        return make_reverb(kind, True).apply(p, a)

    check_grads(fun, params, x, argnums=(0, 1))


@pytest.mark.parametrize("kind", ["exp_decay", "filtered_noise"])
def test_reverb_family_gradients_through_controls(kind):
    x = audio(23, batch=3, n=60)
    controls = REVERBS[kind][2](np.random.default_rng(24))
    names = sorted(controls)

    def fun(a, *values):
        return make_reverb(kind, False)(a, **dict(zip(names, values, strict=True)))

    check_grads(fun, x, *[controls[k] for k in names])


def test_fir_filter_gradients():
    rng = np.random.default_rng(25)
    check_grads(
        effects.FIRFilter(window_size=9), rng.normal(size=(2, 48)), rng.normal(size=(2, 4, 7))
    )


def test_mod_delay_gradients():
    rng = np.random.default_rng(26)
    x, gain, phase = (
        rng.normal(size=(2, 80)),
        rng.normal(size=(2, 80, 1)),
        rng.normal(size=(2, 80, 1)),
    )
    check_grads(effects.ModDelay(center_ms=1.0, depth_ms=1.0), x, gain, phase)


def test_gradient_of_trainable_reverb_loss_matches_correlation():
    """d/d ir of sum(reverb(x) * cot) is the correlation of cot with x (tap 0 masked)."""
    x, cot = audio(27, batch=2, n=100), audio(28, batch=2, n=100)
    reverb = effects.Reverb(trainable=True, reverb_length=10)

    def loss(p):
        return ops.sum(reverb.apply(p, x) * cot)

    _, grads = ddsp_ref.value_and_grad(loss)({"ir": np.zeros(10)})
    expected = np.array([np.sum(cot[:, k:] * x[:, : 100 - k]) for k in range(10)])
    expected[0] = 0.0
    np.testing.assert_allclose(grads["ir"], expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda: effects.Reverb(trainable=True, reverb_length=1),
            "reverb_length must be at least 2",
        ),
        (lambda: effects.Reverb(trainable=True, reverb_length=-3), "reverb_length"),
        (lambda: effects.ExpDecayReverb(reverb_length=2.5), "reverb_length"),
        (lambda: effects.FilteredNoiseReverb(n_frames=0), "n_frames"),
        (lambda: effects.FilteredNoiseReverb(n_filter_banks="16"), "n_filter_banks"),
        (lambda: effects.FIRFilter(window_size=-1), "window_size"),
        (lambda: effects.ModDelay(center_ms=-1.0), "center_ms and depth_ms must be >= 0"),
        (lambda: effects.ModDelay(center_ms=0.0, depth_ms=0.01), "shorter than one sample"),
        (lambda: effects.ModDelay(sample_rate=0), "sample_rate"),
    ],
)
def test_bad_constructor_arguments_raise_naming_them(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_effects_take_python_lists_like_arrays():
    x = audio(0, batch=1)
    ir = np.linspace(1.0, 0.0, 8)[None]
    expected = effects.Reverb()(x.astype(np.float32), ir.astype(np.float32))
    np.testing.assert_allclose(effects.Reverb()(x.tolist(), ir.tolist()), expected)
    with pytest.raises(TypeError, match="Reverb: audio must be real"):
        effects.Reverb()(x + 1j, ir)
