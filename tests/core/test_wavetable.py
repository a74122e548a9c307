"""Tests of ddsp_ref.core.wavetable: golden cases, ddsp's relu-kernel formulas, ddsp's tests."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ddsp_ref
from ddsp_ref.autodiff import ops
from ddsp_ref.backend import to_numpy
from ddsp_ref.core import (
    harmonic_distribution_to_wavetable,
    linear_lookup,
    resample,
    variable_length_delay,
    wavetable_synthesis,
)
from ddsp_ref.core import wavetable as wavetable_module
from tests.golden_util import replay


# -- golden cases recorded from ddsp 3.7.0 ---------------------------------------------------------
def test_golden_linear_lookup(xp):
    replay("linear_lookup", xp, fwd_tol=1e-7, grad_tol=2e-7)  # measured 0; 0, 7.8e-8


def test_golden_wavetable_synthesis(xp):
    # TF accumulates the phase in float32; ours is float64 (allowed up to ~1e-3, README).
    # Measured: forward 1.9e-4, gradients 3.4e-4 and 1.9e-4 (TF's float32 phase drift).
    replay("wavetable_synthesis", xp, fwd_tol=3e-4, grad_tol=5e-4)


def test_golden_wavetable_synthesis_with_float32_phase(monkeypatch):
    """With ddsp's float32 phase accumulation the golden case matches to float32 rounding."""

    def float32_phase(frequency_envelopes, sample_rate, phase0):
        velocity = frequency_envelopes / float(sample_rate)
        before = ops.cumsum(velocity, axis=1, exclusive=True) + phase0.astype(np.float32)
        return ops.mod(before, 1.0), ops.mod(before[:, -1:] + velocity[:, -1:], 1.0)

    monkeypatch.setattr(wavetable_module, "_phase", float32_phase)
    replay("wavetable_synthesis")


# -- ddsp's linear_lookup, written out with its [batch, n, W + 1] relu-kernel weights -----------
def relu_kernel_lookup(phase, tables):
    """Value, d/dphase (per unit cotangent) and the weights of ddsp's linear_lookup, float64."""
    tables = tables if tables.ndim == 3 else tables[:, None, :]
    tables = np.concatenate([tables, tables[..., :1]], axis=-1)
    width = tables.shape[-1] - 1
    grid = np.arange(width + 1) / width  # linspace(0, 1, W + 1) without its last-bit rounding
    diff = phase[..., None] - grid
    weights = np.maximum(1.0 - np.abs(diff) * width, 0.0)
    value = np.sum(weights * tables, axis=-1)
    # relu'(0) = 0 and sign(0) = 0, as in TensorFlow.
    d_weights = np.where(1.0 - np.abs(diff) * width > 0, -width * np.sign(diff), 0.0)
    return value, np.sum(d_weights * tables, axis=-1), weights


def _lookup_grads(phase, tables, cotangent):
    def loss(p, t):
        return ops.sum(linear_lookup(p, t) * cotangent)

    return ddsp_ref.value_and_grad(loss, argnums=(0, 1))(phase, tables)[1]


@pytest.mark.parametrize("tables_kind", ["2d", "one_frame", "per_sample"])
def test_linear_lookup_matches_relu_kernel(tables_kind):
    rng = np.random.default_rng(0)
    width = 16
    # Generic phases, exact grid points, the wrap point 1.0 and phases outside [0, 1].
    phase = np.concatenate([rng.uniform(0, 1, 40), np.arange(width + 1) / width,
                            [-0.3, -0.5 / width, -1e-9, 1 + 0.25 / width, 1.7]])  # fmt: skip
    phase = np.stack([phase, phase[::-1]])  # [2, n_samples]
    n = phase.shape[1]
    shape = {"2d": (2, width), "one_frame": (2, 1, width), "per_sample": (2, n, width)}
    tables = rng.standard_normal(shape[tables_kind])
    value, d_phase, weights = relu_kernel_lookup(phase, tables)
    np.testing.assert_allclose(linear_lookup(phase, tables), value, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(linear_lookup(phase[..., None], tables), value, atol=1e-12)

    cotangent = rng.standard_normal(phase.shape)
    g_phase, g_tables = _lookup_grads(phase, tables, cotangent)
    np.testing.assert_allclose(g_phase, cotangent * d_phase, rtol=1e-12, atol=1e-12)
    # d/dtable: the weights, with the appended copy folded back into sample 0.
    w = weights * cotangent[..., None]
    w = np.concatenate([w[..., :1] + w[..., -1:], w[..., 1:-1]], axis=-1)  # [2, n, width]
    if tables_kind != "per_sample":
        w = w.sum(axis=1, keepdims=tables_kind == "one_frame")
    np.testing.assert_allclose(g_tables, w, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_wavetable", [2048, 1024])
@pytest.mark.parametrize("table_frames", [0, 1, 1000])
def test_linear_lookup_of_sine_is_accurate(n_wavetable, table_frames, xp):
    n_samples = 1000
    table = np.sin(2 * np.pi * np.arange(n_wavetable) / n_wavetable).astype(np.float32)
    if table_frames == 0:
        tables = table[None]
    else:
        tables = np.broadcast_to(table, (1, table_frames, n_wavetable)).copy()
    phase = np.random.default_rng(1).uniform(0, 1, (1, n_samples, 1)).astype(np.float32)
    out = to_numpy(linear_lookup(xp.asarray(phase), xp.asarray(tables)))
    expected = np.sin(2 * np.pi * phase[..., 0].astype(np.float64))
    assert out.dtype == np.float32
    assert np.mean(np.abs(out - expected)) <= 2e-3  # ddsp's bound
    assert np.max(np.abs(out - expected)) <= 1e-5  # linear interpolation of a fine sine table


def test_linear_lookup_rejects_bad_ranks():
    with pytest.raises(ValueError, match="phase"):
        linear_lookup(np.zeros(4), np.zeros((1, 8)))
    with pytest.raises(ValueError, match="wavetables"):
        linear_lookup(np.zeros((1, 4, 1)), np.zeros(8))


# -- harmonic_distribution_to_wavetable --------------------------------------------------------
@pytest.mark.parametrize("n_harmonics,n_wavetable", [(1, 16), (5, 64), (8, 16), (3, 15)])
def test_harmonic_distribution_is_sum_of_cosines(n_harmonics, n_wavetable, xp):
    dist = np.random.default_rng(n_harmonics).uniform(0, 1, (2, 3, n_harmonics))
    out = to_numpy(harmonic_distribution_to_wavetable(xp.asarray(dist), n_wavetable))
    n_out = 2 * (n_wavetable // 2)  # ddsp: an odd size loses one sample
    t = np.arange(n_out)
    k = np.arange(1, n_harmonics + 1)
    amp = np.where(2 * k == n_out, 0.5, 1.0) * dist  # a Nyquist harmonic gets half amplitude
    expected = np.einsum("btk,kn->btn", amp, np.cos(2 * np.pi * np.outer(k, t) / n_out))
    expected *= n_wavetable / n_out  # ddsp scales by n_wavetable / 2, not by the FFT size / 2
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_harmonic_distribution_dtype_and_errors():
    out = harmonic_distribution_to_wavetable(np.ones((1, 1, 4), np.float32), 32)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0, 0], 4.0, rtol=1e-6)  # all cosines peak at t = 0
    with pytest.raises(ValueError, match="n_harmonics"):
        harmonic_distribution_to_wavetable(np.ones((1, 1, 9)), 16)


# -- wavetable_synthesis ------------------------------------------------------------------------
@pytest.mark.parametrize("frequency", [440.0, 1000.0])
@pytest.mark.parametrize("table_frames", [0, 1, 200])
def test_wavetable_synthesis_is_accurate(frequency, table_frames, xp):
    sample_rate, n_samples, n_frames, width = 16000, 1600, 100, 2048
    table = np.sin(2 * np.pi * np.arange(width) / width).astype(np.float32)
    if table_frames == 0:
        tables = table[None]
    else:
        tables = np.broadcast_to(table, (1, table_frames, width)).copy()
    f0 = np.full((1, n_frames, 1), frequency, np.float32)
    amps = np.ones((1, n_frames, 1), np.float32)
    out = to_numpy(
        wavetable_synthesis(
            xp.asarray(f0), xp.asarray(amps), xp.asarray(tables), n_samples, sample_rate
        )
    )
    # Exclusive phase: sample n has phase f * n / sr, so the first sample is sin(0).
    expected = np.sin(2 * np.pi * frequency * np.arange(n_samples) / sample_rate)
    hop = n_samples // n_frames
    assert out.shape == (1, n_samples) and out.dtype == np.float32
    assert np.mean(np.abs(out - expected)[:, hop:-hop]) <= 3e-2  # ddsp's bound
    np.testing.assert_allclose(out[0], expected, atol=1e-5)


def test_multi_frame_tables_equal_resample_then_lookup():
    """The table interpolation at two samples equals ddsp's resample-to-audio-rate + lookup."""
    rng = np.random.default_rng(5)
    n_samples, n_frames, sample_rate = 120, 6, 1000.0
    f0 = rng.uniform(20, 400, (2, n_frames, 1))
    amps = rng.uniform(0, 1, (2, n_frames, 1))
    tables = rng.standard_normal((2, 9, 32))
    ours = wavetable_synthesis(f0, amps, tables, n_samples, sample_rate)
    phase = np.cumsum(resample(f0, n_samples) / sample_rate, axis=1)
    phase = np.concatenate([np.zeros((2, 1, 1)), phase[:, :-1]], axis=1) % 1.0
    ddsp_way = linear_lookup(phase, resample(tables, n_samples))
    ddsp_way *= resample(amps, n_samples, "window")[:, :, 0]
    np.testing.assert_allclose(ours, ddsp_way, rtol=1e-12, atol=1e-12)


# -- variable_length_delay ----------------------------------------------------------------------
def delay_reference(phase, audio, max_length):
    """ddsp's construction: left-pad, frame with hop 1, reverse, relu-kernel lookup (float64)."""
    padded = np.pad(audio, [(0, 0), (max_length - 1, 0)])
    frames = np.lib.stride_tricks.sliding_window_view(padded, max_length, axis=1)
    return relu_kernel_lookup(phase, frames[..., ::-1])[0]


@pytest.mark.parametrize("delay_phase,sign", [(0.0, 1.0), (0.5, -1.0), (1.0, 1.0)])
def test_delay_of_periodic_sine(delay_phase, sign, xp):
    max_length, n_samples = 32, 256
    audio = np.sin(2 * np.pi * np.arange(n_samples) / max_length)[None].astype(np.float32)
    phase = np.full((1, n_samples, 1), delay_phase, np.float32)
    out = to_numpy(variable_length_delay(xp.asarray(phase), xp.asarray(audio), max_length))
    err = np.abs(out - sign * audio)[:, max_length:]
    assert np.mean(err) <= 1e-2
    np.testing.assert_allclose(out[:, max_length:], sign * audio[:, max_length:], atol=1e-5)


@pytest.mark.parametrize("phase_shape", [(2, 50, 1), (2, 50), (2, 1, 1), (1, 50, 1)])
def test_delay_matches_ddsp_construction(phase_shape):
    rng = np.random.default_rng(7)
    max_length = 8
    audio = rng.standard_normal((2, 50))
    phase = rng.uniform(0, 1, phase_shape)
    phase.flat[:3] = [1.0, 1 - 0.5 / max_length, 0.0]  # wrap-around and edges
    expected = delay_reference(np.broadcast_to(phase.reshape(phase_shape[:2]), (2, 50)),
                               audio, max_length)  # fmt: skip
    ours = variable_length_delay(phase, audio, max_length)
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)


def test_delay_integer_delays_shift_the_signal():
    audio = np.arange(1.0, 11.0)[None]
    for d in range(4):
        out = variable_length_delay(np.full((1, 10), d / 4), audio, max_length=4)
        np.testing.assert_allclose(out[0], np.concatenate([np.zeros(d), audio[0, : 10 - d]]))


def test_delay_rejects_bad_input():
    with pytest.raises(ValueError, match="max_length"):
        variable_length_delay(np.zeros((1, 4)), np.zeros((1, 4)), 0)
    with pytest.raises(ValueError, match="does not fit"):
        variable_length_delay(np.zeros((1, 3)), np.zeros((1, 4)), 2)
    with pytest.raises(ValueError, match="audio"):
        variable_length_delay(np.zeros((1, 4)), np.zeros(4), 2)


# -- float64 gradient checks -------------------------------------------------------------------
# Arrays come from a seeded generator (hypothesis draws seeds and sizes) so that phases are
# generic: finite differences are meaningless across the kernel's kinks at grid points.
@given(
    width=st.integers(1, 12),
    n=st.integers(1, 9),
    table_frames=st.sampled_from([0, 1, -1]),
    seed=st.integers(0, 2**16),
)
def test_linear_lookup_gradients(width, n, table_frames, seed):
    rng = np.random.default_rng(seed)
    phase = rng.uniform(-0.1, 1.1, (2, n, 1))
    shape = {0: (2, width), 1: (2, 1, width), -1: (2, n, width)}[table_frames]
    ddsp_ref.check_grads(linear_lookup, phase, rng.standard_normal(shape))


@given(n_harmonics=st.integers(1, 8), extra=st.integers(0, 9), seed=st.integers(0, 2**16))
def test_harmonic_distribution_gradients(n_harmonics, extra, seed):
    dist = np.random.default_rng(seed).uniform(0, 1, (2, 2, n_harmonics))
    ddsp_ref.check_grads(lambda d: harmonic_distribution_to_wavetable(d, 2 * n_harmonics + extra),
                         dist)  # fmt: skip


@given(
    n_frames=st.integers(1, 5),
    hop=st.integers(3, 8),  # window upsampling needs n_frames + 1 < n_samples
    table_frames=st.sampled_from([0, 1, 3]),
    seed=st.integers(0, 2**16),
)
def test_wavetable_synthesis_gradients(n_frames, hop, table_frames, seed):
    rng = np.random.default_rng(seed)
    f0 = rng.uniform(20, 450, (2, n_frames, 1))
    amps = rng.uniform(0, 1, (2, n_frames, 1))
    shape = (2, 8) if table_frames == 0 else (2, table_frames, 8)
    tables = rng.standard_normal(shape)

    def synth(f, a, t):
        return wavetable_synthesis(f, a, t, n_samples=n_frames * hop, sample_rate=1000)

    ddsp_ref.check_grads(synth, f0, amps, tables)


@given(n=st.integers(1, 30), max_length=st.integers(1, 10), seed=st.integers(0, 2**16))
def test_variable_length_delay_gradients(n, max_length, seed):
    rng = np.random.default_rng(seed)
    ddsp_ref.check_grads(
        lambda p, a: variable_length_delay(p, a, max_length),
        rng.uniform(0, 1, (2, n, 1)),
        rng.standard_normal((2, n)),
    )
