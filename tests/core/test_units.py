"""ddsp_ref.core units: golden cases, librosa-equivalent float64 formulas, round trips, grads."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ddsp_ref
from ddsp_ref import core
from ddsp_ref.backend import to_numpy
from tests.golden_util import replay
from tests.strategies import arrays, shapes

# -- independent float64 references (the formulas librosa uses) ------------------------------


def ref_midi_to_hz(m):
    return 440.0 * 2.0 ** ((np.asarray(m, np.float64) - 69.0) / 12.0)


def ref_hz_to_midi(f):
    f = np.asarray(f, np.float64)
    with np.errstate(divide="ignore"):
        return np.where(f <= 0, 0.0, 12.0 * (np.log2(f) - np.log2(440.0)) + 69.0)


def ref_power_to_db(s, amin=1e-10, top_db=80.0):
    # librosa.power_to_db(S, ref=1.0, amin, top_db)
    log_spec = 10.0 * np.log10(np.maximum(amin, s))
    return np.maximum(log_spec, log_spec.max() - top_db)


def ref_amplitude_to_db(s, amin=1e-5, top_db=80.0):
    # librosa.amplitude_to_db: power_to_db(|S|**2, amin=amin**2)
    return ref_power_to_db(np.abs(s) ** 2, amin=amin**2, top_db=top_db)


# -- golden cases recorded from ddsp 3.7.0 ---------------------------------------------------


@pytest.mark.parametrize("name", ["amplitude_to_db", "hz_to_midi", "midi_to_hz", "unit_to_hz"])
def test_golden(name, xp):
    replay(name, xp=xp, fwd_tol=2e-7, grad_tol=2e-7)  # measured at most 7.4e-8; 9.1e-8


# -- MIDI <-> Hz -----------------------------------------------------------------------------


def test_midi_to_hz_matches_librosa_formula(xp):
    midi = np.arange(128, dtype=np.float64)
    out = core.midi_to_hz(xp.asarray(midi))
    np.testing.assert_allclose(to_numpy(out), ref_midi_to_hz(midi), rtol=1e-12)
    out32 = core.midi_to_hz(xp.asarray(midi, dtype=xp.float32))
    assert out32.dtype == np.float32
    np.testing.assert_allclose(to_numpy(out32), ref_midi_to_hz(midi), rtol=1e-6)


def test_midi_to_hz_reference_numbers():
    np.testing.assert_allclose(core.midi_to_hz(np.float64(0.0)), 8.1757989156, rtol=1e-10)
    np.testing.assert_allclose(core.midi_to_hz(np.float64(69.0)), 440.0, rtol=1e-15)


def test_midi_zero_silence():
    midi = np.array([0.0, 0.5, 69.0])
    out = core.midi_to_hz(midi, midi_zero_silence=True)
    np.testing.assert_allclose(out, [0.0, ref_midi_to_hz(0.5), 440.0], rtol=1e-12)
    assert core.midi_to_hz(midi)[0] > 8.0


def test_hz_to_midi_matches_librosa_formula_including_zero(xp):
    hz = np.linspace(0.0, 20000.0, 128)
    out = to_numpy(core.hz_to_midi(xp.asarray(hz)))
    np.testing.assert_allclose(out, ref_hz_to_midi(hz), rtol=1e-12)
    assert out[0] == 0.0
    np.testing.assert_allclose(core.hz_to_midi(np.float64(440.0)), 69.0, atol=1e-12)


def test_hz_to_midi_negative_frequencies_map_to_zero_with_zero_gradient():
    hz = np.array([-5.0, 0.0, 100.0])
    np.testing.assert_array_equal(core.hz_to_midi(hz)[:2], [0.0, 0.0])
    g = ddsp_ref.grad(lambda f: core.hz_to_midi(f).sum())(hz)
    np.testing.assert_allclose(g, [0.0, 0.0, 12.0 / (100.0 * np.log(2.0))], rtol=1e-12)


@given(arrays(shapes(), st.floats(1.0, 20000.0)))
def test_midi_hz_round_trip(hz):
    np.testing.assert_allclose(core.midi_to_hz(core.hz_to_midi(hz)), hz, rtol=1e-12)


def test_dtype_policy():
    assert core.hz_to_midi(np.array([440], dtype=np.int32)).dtype == np.float32
    assert core.midi_to_hz(np.array([60.0], dtype=np.float32)).dtype == np.float32
    assert core.midi_to_hz(np.array([60.0])).dtype == np.float64
    assert core.hz_to_mel(np.array([60.0], dtype=np.float32)).dtype == np.float32


# -- unit interval ---------------------------------------------------------------------------


def test_unit_to_midi_and_back_are_affine():
    unit = np.linspace(-0.5, 1.5, 21)
    midi = 20.0 + 70.0 * unit
    np.testing.assert_allclose(core.unit_to_midi(unit), midi, rtol=1e-12)
    np.testing.assert_allclose(
        core.unit_to_midi(unit, clip=True), 20.0 + 70.0 * np.clip(unit, 0, 1), rtol=1e-12
    )
    np.testing.assert_allclose(core.midi_to_unit(midi), unit, atol=1e-12)
    np.testing.assert_allclose(core.midi_to_unit(midi, clip=True), np.clip(unit, 0, 1), atol=1e-12)
    np.testing.assert_allclose(
        core.midi_to_unit(np.array([30.0]), midi_min=10.0, midi_max=50.0), [0.5], rtol=1e-12
    )


def test_unit_to_hz_is_logspace(xp):
    unit = xp.asarray(np.linspace(0.0, 1.0, 128))
    expected = np.logspace(np.log10(20.0), np.log10(1000.0), 128)
    hz = core.unit_to_hz(unit, hz_min=20.0, hz_max=1000.0)
    np.testing.assert_allclose(to_numpy(hz), expected, rtol=1e-12)
    back = core.hz_to_unit(xp.asarray(expected), hz_min=20.0, hz_max=1000.0)
    np.testing.assert_allclose(to_numpy(back), np.linspace(0.0, 1.0, 128), atol=1e-12)


def test_unit_to_hz_clip_and_zero_hz_min_quirk():
    hz = core.unit_to_hz(np.array([-1.0, 0.0, 2.0]), hz_min=0.0, hz_max=8000.0, clip=True)
    np.testing.assert_allclose(hz, [8.1757989156, 8.1757989156, 8000.0], rtol=1e-10)
    unit = core.hz_to_unit(np.array([1.0, 20000.0]), hz_min=20.0, hz_max=8000.0, clip=True)
    np.testing.assert_array_equal(unit, [0.0, 1.0])


def test_unit_to_hz_accepts_array_bounds():
    hz = core.unit_to_hz(np.array([0.5]), hz_min=np.array(20.0), hz_max=np.array(2000.0))
    np.testing.assert_allclose(hz, [200.0], rtol=1e-6)  # array bounds go through float32


# -- decibels --------------------------------------------------------------------------------


@pytest.mark.parametrize("range_db", [100.0, 1.0, 80.0])
def test_db_conversions_match_librosa(range_db, xp):
    # ddsp's DecibelsConversionTest on sin^2; with a maximum of exactly 1 librosa's top_db
    # (relative to the maximum) equals ddsp's fixed floor.
    x = np.append(np.sin(np.linspace(0.0, 10.0, 1000)) ** 2, 1.0)
    amp_db = core.amplitude_to_db(xp.asarray(x), range_db=range_db)
    np.testing.assert_allclose(
        to_numpy(amp_db), ref_amplitude_to_db(x, top_db=range_db), rtol=1e-6, atol=1e-6
    )
    pow_db = core.power_to_db(xp.asarray(x), range_db=range_db, use_tf=False)
    np.testing.assert_allclose(
        to_numpy(pow_db), ref_power_to_db(x, top_db=range_db), rtol=1e-6, atol=1e-6
    )
    db = np.linspace(-range_db, 0.0, 50)
    np.testing.assert_allclose(
        to_numpy(core.db_to_power(xp.asarray(db))), 10.0 ** (db / 10.0), rtol=1e-12
    )
    np.testing.assert_allclose(
        to_numpy(core.db_to_amplitude(xp.asarray(db))), 10.0 ** (db / 20.0), rtol=1e-12
    )


def test_power_to_db_ref_and_floor():
    power = np.array([0.0, 1e-12, 1.0, 100.0])
    np.testing.assert_allclose(core.power_to_db(power), [-80.0, -80.0, 0.0, 20.0], atol=1e-12)
    np.testing.assert_allclose(
        core.power_to_db(power, ref_db=10.0), [-80.0, -80.0, -10.0, 10.0], atol=1e-12
    )
    np.testing.assert_allclose(
        core.power_to_db(power, use_tf=False), core.power_to_db(power, use_tf=True)
    )
    assert core.DB_RANGE == 80.0


def test_db_gradient_is_zero_on_the_floor():
    amp = np.array([1e-6, 0.5, 2.0])
    g = ddsp_ref.grad(lambda a: core.amplitude_to_db(a).sum())(amp)
    np.testing.assert_allclose(g, [0.0, 20.0 / (0.5 * np.log(10)), 20.0 / (2.0 * np.log(10))])


@given(arrays(shapes(), st.floats(-60.0, 20.0)))
def test_db_round_trips(db):
    np.testing.assert_allclose(core.amplitude_to_db(core.db_to_amplitude(db)), db, atol=1e-9)
    np.testing.assert_allclose(core.power_to_db(core.db_to_power(db)), db, atol=1e-9)


# -- psychoacoustic scales -------------------------------------------------------------------


def test_bark_mel_erb_formulas(xp):
    f = np.array([20.0, 100.0, 1000.0, 4000.0, 8000.0])
    fx = xp.asarray(f)
    np.testing.assert_allclose(
        to_numpy(core.hz_to_bark(fx)), 26.81 * f / (1960.0 + f) - 0.53, rtol=1e-12
    )
    np.testing.assert_allclose(
        to_numpy(core.hz_to_mel(fx)), 2595.0 * np.log10(1.0 + f / 700.0), rtol=1e-12
    )
    np.testing.assert_allclose(
        to_numpy(core.hz_to_erb(fx)), 24.7 * (4.37e-3 * f + 1.0), rtol=1e-3
    )  # Glasberg & Moore ERB, to 3 digits
    np.testing.assert_allclose(to_numpy(core.hz_to_erb(fx)), 0.108 * f + 24.7, rtol=1e-12)
    np.testing.assert_allclose(float(core.hz_to_mel(np.float64(1000.0))), 1000.0, rtol=1e-4)


@given(arrays(shapes(), st.floats(1.0, 20000.0)))
def test_bark_and_mel_round_trips(hz):
    np.testing.assert_allclose(core.bark_to_hz(core.hz_to_bark(hz)), hz, rtol=1e-10)
    np.testing.assert_allclose(core.mel_to_hz(core.hz_to_mel(hz)), hz, rtol=1e-10)


# -- gradients (float64 central differences) -------------------------------------------------

_POSITIVE_HZ = st.floats(5.0, 10000.0)
_GRAD_CASES = {
    "amplitude_to_db": (core.amplitude_to_db, st.floats(0.01, 10.0)),
    "power_to_db": (core.power_to_db, st.floats(0.01, 10.0)),
    "db_to_amplitude": (core.db_to_amplitude, st.floats(-80.0, 20.0)),
    "db_to_power": (core.db_to_power, st.floats(-80.0, 20.0)),
    "midi_to_hz": (core.midi_to_hz, st.floats(0.0, 127.0)),
    "hz_to_midi": (core.hz_to_midi, _POSITIVE_HZ),
    "unit_to_midi": (lambda u: core.unit_to_midi(u, 10.0, 100.0), st.floats(-1.0, 2.0)),
    "midi_to_unit": (lambda m: core.midi_to_unit(m, 10.0, 100.0), st.floats(0.0, 127.0)),
    "unit_to_hz": (lambda u: core.unit_to_hz(u, 20.0, 8000.0), st.floats(-0.5, 1.5)),
    "hz_to_unit": (lambda f: core.hz_to_unit(f, 20.0, 8000.0), _POSITIVE_HZ),
    "hz_to_bark": (core.hz_to_bark, _POSITIVE_HZ),
    "bark_to_hz": (core.bark_to_hz, st.floats(0.0, 20.0)),
    "hz_to_mel": (core.hz_to_mel, _POSITIVE_HZ),
    "mel_to_hz": (core.mel_to_hz, st.floats(0.0, 3000.0)),
    "hz_to_erb": (core.hz_to_erb, _POSITIVE_HZ),
}


@pytest.mark.parametrize("name", sorted(_GRAD_CASES))
@given(data=st.data())
def test_gradients(name, data):
    fun, elements = _GRAD_CASES[name]
    x = data.draw(arrays(shapes(max_dims=2, max_side=4), elements))
    ddsp_ref.check_grads(fun, x)


@pytest.mark.parametrize("clip", [False, True])
def test_clipped_gradients(clip):
    # Inside (0, 1) and away from the clip points the clip does not change the gradient.
    u = np.array([0.1, 0.5, 0.9])
    ddsp_ref.check_grads(lambda v: core.unit_to_hz(v, 20.0, 8000.0, clip=clip), u)
    ddsp_ref.check_grads(lambda f: core.hz_to_unit(f, 20.0, 8000.0, clip=clip), u * 1000)
    g = ddsp_ref.grad(lambda v: core.unit_to_midi(v, clip=True).sum())(np.array([-0.5, 1.5]))
    np.testing.assert_array_equal(g, [0.0, 0.0])


def test_gradients_on_cupy_match_numpy(xp):
    x = np.array([[100.0, 440.0, 3000.0]])
    g_np = ddsp_ref.grad(lambda f: core.hz_to_unit(f, 20.0, 8000.0).sum())(x)
    g_xp = ddsp_ref.grad(lambda f: core.hz_to_unit(f, 20.0, 8000.0).sum())(xp.asarray(x))
    assert ddsp_ref.backend.array_namespace(g_xp) is xp
    np.testing.assert_allclose(to_numpy(g_xp), g_np, rtol=1e-12)
    # d unit / d f = 1 / (f ln 2 log2(8000 / 20)): an independent closed form.
    np.testing.assert_allclose(g_np, 1.0 / (x * np.log(2.0) * np.log2(400.0)), rtol=1e-12)
