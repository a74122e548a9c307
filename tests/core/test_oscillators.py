"""ddsp_ref.core oscillators: golden cases, exact float64 sums of sines, long-signal phase,
DSP properties (linearity, Nyquist, streaming), ddsp's conversion tests and gradient checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddsp_ref import check_grads, core
from ddsp_ref.autodiff import ops
from ddsp_ref.backend import to_numpy
from tests.golden_util import load_case, rel_err, replay

TWO_PI = 2.0 * np.pi
SMALL = settings(max_examples=10, deadline=None)
seeds = st.integers(0, 2**16)


# -- independent float64 references ----------------------------------------------------------


def ref_oscillator_bank(freqs, amps, sample_rate):
    """sum_k a_k sin(phi_k), phi[n] = 2 pi / sr * sum_{m <= n} f[m]; silent at f >= sr / 2."""
    freqs = np.asarray(freqs, np.float64)
    amps = np.asarray(amps, np.float64)
    phase = TWO_PI / sample_rate * np.cumsum(freqs, axis=1)
    return np.sum(np.where(freqs >= sample_rate / 2, 0.0, amps) * np.sin(phase), axis=-1)


def ref_constant_sines(freqs, amps, n_samples, sample_rate):
    """Closed form for constant frequencies [..., K]: phase = 2 pi frac(f (n + 1) / sr)."""
    n = np.arange(1, n_samples + 1, dtype=np.float64)[:, None]
    freqs = np.asarray(freqs, np.float64)
    cycles = np.mod(freqs[:, None, :] * n / sample_rate, 1.0)
    amps = np.where(freqs >= sample_rate / 2, 0.0, np.asarray(amps, np.float64))
    return np.sum(amps[:, None, :] * np.sin(TWO_PI * cycles), axis=-1)


def circular_diff(a, b):
    return np.abs(np.mod(np.asarray(a, np.float64) - b + np.pi, TWO_PI) - np.pi)


def rng_array(rng, shape, low, high):
    return rng.uniform(low, high, size=shape)


# -- golden cases recorded from ddsp 3.7.0 ---------------------------------------------------


GOLDEN_TOLERANCES = {  # (forward, gradients), a little above the measured errors below
    "oscillator_bank": (1.5e-4, 2e-4),
    "harmonic_synthesis": (4e-5, 4e-5),
    "harmonic_synthesis_dist": (2e-4, 2.5e-4),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_TOLERANCES))
def test_golden(name, xp):
    # TF integrates phase with a float32 cumsum; it is itself ~1e-4 away from the exact answer
    # on these cases (see test_golden_tf_error_is_phase_error), ours is float64-accurate.
    # Measured relative errors (forward; gradients): oscillator_bank 8.0e-5; 1.2e-4, 8.4e-5;
    # harmonic_synthesis 1.9e-5; 1.8e-5; harmonic_synthesis_dist 1.1e-4; 1.5e-4, 8.1e-5.
    fwd_tol, grad_tol = GOLDEN_TOLERANCES[name]
    replay(name, xp=xp, fwd_tol=fwd_tol, grad_tol=grad_tol)


def test_golden_tf_error_is_phase_error():
    """On the golden inputs we are ~1e-7 from the exact float64 sum, TF is ~1e-4 from it."""
    _, arrays = load_case("oscillator_bank")
    exact = ref_oscillator_bank(arrays["arg0"], arrays["arg1"], 16000)
    ours = core.oscillator_bank(arrays["arg0"], arrays["arg1"])
    assert rel_err(ours, exact) < 1e-6
    assert rel_err(arrays["out0"], exact) > 10 * rel_err(ours, exact)


# -- accuracy against exact sums of sines ----------------------------------------------------


@pytest.mark.parametrize(
    "batch, f0, n_harmonics, sample_rate, seconds",
    [(2, 62.4, 5, 16000, 2.0), (16, 100.0, 1, 8000, 0.5), (1, 2000.0, 2, 4000, 1.3)],
)
def test_oscillator_bank_constant_frequencies(xp, batch, f0, n_harmonics, sample_rate, seconds):
    """ddsp's test_oscillator_bank_is_accurate cases, compared on every sample."""
    n = int(sample_rate * seconds)
    ratios = np.arange(1, n_harmonics + 1, dtype=np.float32)
    freqs32 = np.broadcast_to(np.float32(f0) * ratios, (batch, n_harmonics))
    amps = np.broadcast_to(np.float32(1.0) / ratios, (batch, n_harmonics))
    f = np.broadcast_to(freqs32[:, None, :], (batch, n, n_harmonics))
    a = np.broadcast_to(amps[:, None, :], (batch, n, n_harmonics))
    out = core.oscillator_bank(xp.asarray(f), xp.asarray(a), sample_rate=sample_rate)
    assert out.dtype == np.float32 and out.shape == (batch, n)
    expected = ref_constant_sines(freqs32, amps, n, sample_rate)
    np.testing.assert_allclose(to_numpy(out), expected, atol=2e-6 * n_harmonics)


def test_oscillator_bank_time_varying_float64(xp):
    rng = np.random.default_rng(0)
    f = rng_array(rng, (3, 5000, 4), 0.0, 9000.0)  # some above the 8 kHz Nyquist
    a = rng_array(rng, (3, 5000, 4), -1.0, 1.0)
    out = core.oscillator_bank(xp.asarray(f), xp.asarray(a), sample_rate=16000)
    assert out.dtype == np.float64
    np.testing.assert_allclose(to_numpy(out), ref_oscillator_bank(f, a, 16000), atol=1e-10)
    each = core.oscillator_bank(xp.asarray(f), xp.asarray(a), sum_sinusoids=False)
    assert each.shape == (3, 5000, 4)
    np.testing.assert_allclose(to_numpy(each).sum(-1), to_numpy(out), atol=1e-12)


def test_oscillator_bank_float32_inputs_phase_is_exact():
    rng = np.random.default_rng(1)
    f = rng_array(rng, (2, 20000, 3), 20.0, 7000.0).astype(np.float32)
    a = rng_array(rng, (2, 20000, 3), 0.0, 1.0).astype(np.float32)
    for flag in (False, True):
        out = core.oscillator_bank(f, a, use_angular_cumsum=flag)
        np.testing.assert_allclose(out, ref_oscillator_bank(f, a, 16000), atol=3e-6)


@pytest.mark.parametrize("f0, n_frames", [(20.0, 1000), (2000.0, 1000)])
def test_harmonic_synthesis_single_frequency(xp, f0, n_frames):
    f = np.full((2, n_frames, 1), f0)
    a = np.full((2, n_frames, 1), 0.5)
    out = core.harmonic_synthesis(xp.asarray(f), xp.asarray(a), n_samples=16000)
    expected = ref_constant_sines(f[:, 0], a[:, 0], 16000, 16000)
    np.testing.assert_allclose(to_numpy(out), expected, atol=1e-9)


@pytest.mark.parametrize("n_harmonics", [1, 20, 40])
def test_harmonic_synthesis_multiple_harmonics(xp, n_harmonics):
    rng = np.random.default_rng(n_harmonics)
    batch, n_frames, n_samples, sr = 2, 100, 16000, 16000
    f0 = rng_array(rng, (batch, 1, 1), 100.0, 400.0)
    shifts = rng_array(rng, (batch, 1, n_harmonics), -0.05, 0.05)
    dist = rng_array(rng, (batch, 1, n_harmonics), 0.0, 1.0)
    tile = (1, n_frames, 1)
    args = [np.tile(x, tile) for x in (f0, np.full((batch, 1, 1), 0.3), shifts, dist)]
    out = core.harmonic_synthesis(*[xp.asarray(x) for x in args], n_samples=n_samples)
    freqs = f0[:, 0] * np.arange(1, n_harmonics + 1) * (1.0 + shifts[:, 0])
    expected = ref_constant_sines(freqs, 0.3 * dist[:, 0], n_samples, sr)
    np.testing.assert_allclose(to_numpy(out), expected, atol=1e-9)


def test_harmonic_synthesis_time_varying_matches_interpolated_reference():
    """Linear f0 / amplitude upsampling (held last frame, ddsp's add_endpoint) + exact sines."""
    rng = np.random.default_rng(3)
    n_frames, n_samples, sr = 10, 640, 16000  # 64 samples per frame: exact float32 positions
    f0 = rng_array(rng, (2, n_frames, 1), 100.0, 1500.0)
    amp = rng_array(rng, (2, n_frames, 1), 0.0, 1.0)
    dist = rng_array(rng, (2, n_frames, 6), 0.0, 1.0)
    out = core.harmonic_synthesis(
        f0, amp, harmonic_distribution=dist, n_samples=n_samples, amp_resample_method="linear"
    )
    pos = np.arange(n_samples) * n_frames / n_samples

    def interp(x):
        return np.stack(
            [np.stack([np.interp(pos, np.arange(n_frames), c) for c in b.T], -1) for b in x]
        )

    freqs = interp(f0) * np.arange(1, 7)
    expected = ref_oscillator_bank(freqs, interp(amp * dist), sr)
    np.testing.assert_allclose(out, expected, atol=1e-10)


def test_streaming_harmonic_synthesis_reference():
    """Frame-rate Nyquist removal + renormalisation, linear upsampling, coherent k * phase."""
    rng = np.random.default_rng(4)
    f0 = rng_array(rng, (2, 10, 1), 100.0, 3000.0)  # some harmonics cross Nyquist
    amp = rng_array(rng, (2, 10, 1), 0.0, 1.0)
    dist = rng_array(rng, (2, 10, 8), 0.0, 1.0)
    audio, final = core.streaming_harmonic_synthesis(f0, amp, dist, n_samples=640)
    norm = dist * (f0 * np.arange(1, 9) < 8000)
    norm = norm / norm.sum(-1, keepdims=True)
    pos = np.arange(640) / 64.0  # 64 samples per frame, last frame held

    def interp(x):
        return np.stack([np.stack([np.interp(pos, np.arange(10), c) for c in b.T], -1) for b in x])

    phase = TWO_PI / 16000 * np.cumsum(interp(f0), axis=1)
    expected = np.sum(interp(amp * norm) * np.sin(phase * np.arange(1, 9)), axis=-1)
    np.testing.assert_allclose(audio, expected, atol=1e-10)
    np.testing.assert_allclose(circular_diff(final[:, 0, 0], phase[:, -1, 0]), 0.0, atol=1e-10)


# -- phase accuracy on a 10-minute 48 kHz signal ---------------------------------------------


def exact_phase(numerator, denominator, n):
    """2 pi frac(numerator * n / denominator) from integer arithmetic (n: int64 sample counts)."""
    return TWO_PI * ((numerator * n) % denominator) / denominator


def test_long_signal_phase_oscillator_bank():
    sr, n = 48000, 48000 * 600
    # 440.125 Hz = 3521 / 8: phase after sample index i is 2 pi frac(3521 (i + 1) / 384000).
    f = np.full((1, n, 1), 440.125, np.float32)
    out = core.oscillator_bank(f, np.ones((1, n, 1), np.float32), sample_rate=sr)
    counts = np.arange(n - 5000, n, dtype=np.int64) + 1
    expected = np.sin(exact_phase(3521, 8 * sr, counts))
    # |sin(a) - sin(b)| <= |a - b|: a phase error of 1e-4 rad could not hide in 3e-6.
    np.testing.assert_allclose(out[0, -5000:], expected, atol=3e-6)


def test_long_signal_phase_harmonic_oscillator_bank():
    sr, n = 48000, 48000 * 600
    f = np.full((1, n, 1), 440.0, np.float32)
    audio, final = core.harmonic_oscillator_bank(f, np.ones((1, n, 1), np.float32), sample_rate=sr)
    # 440 Hz at 48 kHz: 11 / 1200 cycles per sample.
    assert circular_diff(final[0, 0, 0], exact_phase(11, 1200, np.int64(n))) < 1e-4
    counts = np.arange(n - 3000, n, dtype=np.int64) + 1
    np.testing.assert_allclose(audio[0, -3000:], np.sin(exact_phase(11, 1200, counts)), atol=3e-6)


def test_angular_cumsum_float32_phase_long():
    """A float32 input of 2e6 samples keeps the exact float64 phase (TF's cumsum drifts)."""
    rng = np.random.default_rng(5)
    w = rng_array(rng, (1, 2_000_000, 1), 0.0, np.pi).astype(np.float32)
    phase = core.angular_cumsum(w)
    exact = np.mod(np.cumsum(w.astype(np.float64), axis=1), TWO_PI)
    assert phase.dtype == np.float32
    assert circular_diff(phase, exact).max() < 1e-5


# -- angular_cumsum --------------------------------------------------------------------------


@pytest.mark.parametrize("shape, chunk", [((2, 2500, 3), 1000), ((1, 7, 2, 3), 3), ((3, 10), 5)])
def test_angular_cumsum_matches_wrapped_cumsum(xp, shape, chunk):
    w = np.random.default_rng(6).uniform(-4.0, 4.0, shape)
    phase = core.angular_cumsum(xp.asarray(w), chunk_size=chunk)
    out = to_numpy(phase)
    assert out.dtype == np.float64 and out.shape == shape
    assert np.all(out >= 0.0) and np.all(out < TWO_PI)
    np.testing.assert_allclose(circular_diff(out, np.cumsum(w, axis=1)), 0.0, atol=1e-12)


def test_angular_cumsum_float32_range_and_errors():
    w = np.full((1, 4000, 1), np.float32(TWO_PI / 1000))  # lands on multiples of 2 pi
    out = core.angular_cumsum(w)
    assert out.dtype == np.float32 and np.all(out >= 0) and np.all(out < np.float32(TWO_PI))
    with pytest.raises(ValueError, match="chunk_size"):
        core.angular_cumsum(w, chunk_size=0)
    with pytest.raises(ValueError, match="angular_frequency"):
        core.angular_cumsum(np.ones(5, np.float32))


# -- Nyquist, normalisation, conversions -----------------------------------------------------


def test_remove_above_nyquist_is_inclusive():
    f = np.array([[[7999.0, 8000.0, 8001.0, 100.0]]], np.float32)
    a = np.array([[[1.0, 2.0, 3.0, 4.0]]], np.float32)
    np.testing.assert_array_equal(core.remove_above_nyquist(f, a), [[[1.0, 0.0, 0.0, 4.0]]])


@pytest.mark.parametrize("sample_rate", [4000, 16000, 44100])
@pytest.mark.parametrize("factor", [1.0, 1.1, 1.5, 2.0])
def test_silent_above_nyquist(xp, sample_rate, factor):
    f = np.full((2, 500, 3), factor * sample_rate / 2, np.float32)
    out = core.oscillator_bank(xp.asarray(f), xp.ones((2, 500, 3)), sample_rate=sample_rate)
    np.testing.assert_array_equal(to_numpy(out), 0.0)
    f0 = np.full((2, 10, 1), factor * sample_rate / 2, np.float32)
    frames = core.harmonic_synthesis(
        xp.asarray(f0), xp.ones((2, 10, 1), dtype=xp.float32), n_samples=500,
        sample_rate=sample_rate, amp_resample_method="linear",
    )  # fmt: skip
    np.testing.assert_array_equal(to_numpy(frames), 0.0)


def test_normalize_harmonics_reference():
    rng = np.random.default_rng(7)
    dist = rng_array(rng, (2, 5, 6), 0.0, 1.0)
    f0 = rng_array(rng, (2, 5, 1), 500.0, 3000.0)
    kept = dist * (f0 * np.arange(1, 7) < 8000.0)
    np.testing.assert_allclose(core.normalize_harmonics(dist, f0, 16000),
                               kept / kept.sum(-1, keepdims=True), rtol=1e-14)  # fmt: skip
    np.testing.assert_allclose(core.normalize_harmonics(dist), dist / dist.sum(-1, keepdims=True))
    zeros = core.normalize_harmonics(np.zeros((1, 2, 3), np.float32))
    np.testing.assert_array_equal(zeros, 0.0)


def test_get_harmonic_frequencies():
    f0 = np.array([[[110.0], [220.5]]], np.float32)
    out = core.get_harmonic_frequencies(f0, 4)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, f0 * np.array([1.0, 2.0, 3.0, 4.0], np.float32))


def test_harmonic_to_sinusoidal_basic(xp):
    """ddsp UtilitiesTest: amps = harm_amp * dist, freqs = f0 * [1, 2, 3]."""
    harm_amp = np.full((1, 4, 1), 0.5, np.float32)
    dist = np.tile(np.array([0.2, 0.3, 0.5], np.float32), (1, 4, 1))
    f0 = np.full((1, 4, 1), 440.0, np.float32)
    amps, freqs = core.harmonic_to_sinusoidal(*[xp.asarray(x) for x in (harm_amp, dist, f0)])
    np.testing.assert_allclose(to_numpy(amps), 0.5 * dist, rtol=1e-6)
    np.testing.assert_allclose(to_numpy(freqs), np.tile([440.0, 880.0, 1320.0], (1, 4, 1)))


def test_harmonic_to_sinusoidal_removes_f0_above_nyquist():
    amps, _ = core.harmonic_to_sinusoidal(
        np.ones((1, 3, 1)), np.full((1, 3, 3), 1.0 / 3), np.full((1, 3, 1), 8001.0)
    )
    np.testing.assert_array_equal(amps, 0.0)


def test_harmonic_to_sinusoidal_removes_harmonics_above_nyquist(xp):
    f0 = np.array([50.0, 3001.0, 4001.0, 3001.0, 50.0])
    dist = np.full((1, 5, 3), 1.0 / 3)
    amps, _ = core.harmonic_to_sinusoidal(xp.ones((1, 5, 1)), xp.asarray(dist),
                                          xp.asarray(f0[None, :, None]))  # fmt: skip
    # Harmonic k survives where k * f0 < 8 kHz; survivors share the amplitude equally.
    survives = f0[:, None] * np.arange(1, 4) < 8000.0
    expected = survives / survives.sum(-1, keepdims=True)
    np.testing.assert_allclose(
        expected, [[1 / 3] * 3, [0.5, 0.5, 0], [1, 0, 0], [0.5, 0.5, 0], [1 / 3] * 3]
    )
    np.testing.assert_allclose(to_numpy(amps)[0], expected, rtol=1e-12)


def ref_sinusoidal_to_harmonic(amps, freqs, f0, width, n_harm, sr, normalize):
    harm = f0 * np.arange(1, n_harm + 1)  # [b, t, h]
    w = np.exp(-((np.abs(freqs[:, :, None, :] - harm[..., None]) / f0[..., None] / width) ** 2))
    if normalize:
        total = w.sum(-1, keepdims=True)
        w = np.where(total > 1.0, w / total, w)
    h_amps = np.where(harm >= sr / 2, 0.0, (w * amps[:, :, None, :]).sum(-1))
    total = h_amps.sum(-1, keepdims=True)
    return total, h_amps / total


@pytest.mark.parametrize("normalize", [False, True])
def test_sinusoidal_to_harmonic_reference(normalize):
    rng = np.random.default_rng(8)
    f0 = rng_array(rng, (2, 4, 1), 200.0, 1000.0)
    freqs = f0 * rng_array(rng, (2, 4, 12), 0.8, 12.0)
    amps = rng_array(rng, (2, 4, 12), 0.0, 1.0)
    out = core.sinusoidal_to_harmonic(amps, freqs, f0, 0.2, 10, 16000, normalize)
    ref = ref_sinusoidal_to_harmonic(amps, freqs, f0, 0.2, 10, 16000, normalize)
    for o, r in zip(out, ref, strict=True):
        np.testing.assert_allclose(o, r, rtol=1e-12)


def test_sinusoidal_to_harmonic_inverts_harmonic_to_sinusoidal():
    rng = np.random.default_rng(9)
    f0 = rng_array(rng, (2, 3, 1), 100.0, 500.0)
    dist = rng_array(rng, (2, 3, 8), 0.0, 1.0)
    dist /= dist.sum(-1, keepdims=True)
    amp = rng_array(rng, (2, 3, 1), 0.1, 1.0)
    amps, freqs = core.harmonic_to_sinusoidal(amp, dist, f0)
    harm_amp, harm_dist = core.sinusoidal_to_harmonic(amps, freqs, f0, n_harmonics=8)
    np.testing.assert_allclose(harm_amp, amp, rtol=1e-12)
    np.testing.assert_allclose(harm_dist, dist, rtol=1e-12, atol=1e-15)


# -- properties ------------------------------------------------------------------------------


@SMALL
@given(seed=seeds, alpha=st.floats(-2.0, 2.0), beta=st.floats(-2.0, 2.0))
def test_oscillator_bank_is_linear_in_amplitude(seed, alpha, beta):
    rng = np.random.default_rng(seed)
    f = rng_array(rng, (2, 300, 3), 0.0, 9000.0)
    a1, a2 = rng_array(rng, (2, 2, 300, 3), -1.0, 1.0)
    mixed = core.oscillator_bank(f, alpha * a1 + beta * a2)
    separate = alpha * core.oscillator_bank(f, a1) + beta * core.oscillator_bank(f, a2)
    np.testing.assert_allclose(mixed, separate, atol=1e-12)
    audio, _ = core.harmonic_oscillator_bank(f[..., :1], alpha * a1 + beta * a2)
    parts = [core.harmonic_oscillator_bank(f[..., :1], a)[0] for a in (a1, a2)]
    np.testing.assert_allclose(audio, alpha * parts[0] + beta * parts[1], atol=1e-12)


@SMALL
@given(seed=seeds, factor=st.floats(1.0, 4.0), sample_rate=st.sampled_from([4000, 16000, 44100]))
def test_oscillator_bank_silent_at_or_above_nyquist(seed, factor, sample_rate):
    rng = np.random.default_rng(seed)
    f = factor * sample_rate / 2 * rng_array(rng, (1, 200, 4), 1.0, 2.0)
    out = core.oscillator_bank(f, rng_array(rng, (1, 200, 4), -1, 1), sample_rate=sample_rate)
    np.testing.assert_array_equal(out, 0.0)


@SMALL
@given(seed=seeds, cuts=st.lists(st.integers(1, 2999), min_size=1, max_size=4))
def test_harmonic_oscillator_bank_streams(seed, cuts):
    rng = np.random.default_rng(seed)
    f = rng_array(rng, (2, 3000, 1), 20.0, 4000.0)
    a = rng_array(rng, (2, 3000, 5), 0.0, 1.0)
    init = rng_array(rng, (2, 1, 1), -10.0, 10.0)
    whole, final = core.harmonic_oscillator_bank(f, a, initial_phase=init)
    phase, blocks = init, []
    for lo, hi in zip([0] + sorted(set(cuts)), sorted(set(cuts)) + [3000], strict=True):
        audio, phase = core.harmonic_oscillator_bank(f[:, lo:hi], a[:, lo:hi], phase)
        blocks.append(audio)
    np.testing.assert_allclose(np.concatenate(blocks, axis=1), whole, atol=1e-10)
    assert np.all((phase >= 0) & (phase <= TWO_PI))
    exact = init[:, 0, 0] + TWO_PI / 16000 * f.sum(axis=(1, 2))
    np.testing.assert_allclose(circular_diff(final[:, 0, 0], exact), 0.0, atol=1e-10)
    np.testing.assert_allclose(circular_diff(phase, final), 0.0, atol=1e-10)


def test_harmonic_oscillator_bank_coherent_harmonics():
    rng = np.random.default_rng(10)
    f = rng_array(rng, (1, 400, 1), 50.0, 500.0)
    a = rng_array(rng, (1, 400, 4), 0.0, 1.0)
    audio, _ = core.harmonic_oscillator_bank(f, a, initial_phase=np.full((1, 1, 1), 0.3))
    phase = 0.3 + TWO_PI / 16000 * np.cumsum(f, axis=1)
    expected = np.sum(a * np.sin(phase * np.arange(1, 5)), axis=-1)
    np.testing.assert_allclose(audio, expected, atol=1e-10)


def test_input_validation():
    f = np.ones((1, 10, 2), np.float32)
    with pytest.raises(ValueError, match=r"frequency must be \[batch, n_samples, 1\]"):
        core.harmonic_oscillator_bank(f, f)
    with pytest.raises(ValueError, match="sample_rate"):
        core.oscillator_bank(f, f, sample_rate=0)
    with pytest.raises(ValueError, match="frequency_envelopes"):
        core.oscillator_bank(np.ones(10, np.float32), np.ones(10, np.float32))
    with pytest.raises(ValueError, match="broadcastable"):
        core.remove_above_nyquist(f, np.ones((1, 9, 2), np.float32))


# -- float64 gradient checks -----------------------------------------------------------------

small_shapes = st.tuples(st.integers(1, 2), st.integers(1, 12), st.integers(1, 3))


@SMALL
@given(seed=seeds, shape=small_shapes, chunk=st.integers(1, 5))
def test_grad_angular_cumsum(seed, shape, chunk):
    w = np.random.default_rng(seed).uniform(-3.0, 3.0, shape)
    # sin/cos are continuous across the 2 pi wrap that finite differences would trip on.
    check_grads(lambda x: ops.sin(core.angular_cumsum(x, chunk)), w)
    check_grads(lambda x: ops.cos(core.angular_cumsum(x, chunk)), w)


@SMALL
@given(seed=seeds, shape=small_shapes, sum_sinusoids=st.booleans())
def test_grad_oscillator_bank(seed, shape, sum_sinusoids):
    rng = np.random.default_rng(seed)
    f = rng_array(rng, shape, 1.0, 450.0)
    a = rng_array(rng, shape, -1.0, 1.0)
    check_grads(lambda f, a: core.oscillator_bank(f, a, 1000, sum_sinusoids), f, a)


@SMALL
@given(seed=seeds, shape=small_shapes)
def test_grad_harmonic_oscillator_bank(seed, shape):
    rng = np.random.default_rng(seed)
    f = rng_array(rng, shape[:2] + (1,), 1.0, 450.0)
    a = rng_array(rng, shape, -1.0, 1.0)
    init = rng_array(rng, (shape[0], 1, 1), -4.0, 4.0)

    def fun(f, a, init):
        audio, final = core.harmonic_oscillator_bank(f, a, init, sample_rate=1000)
        return ops.concatenate([audio, ops.sin(final[:, :, 0]), ops.cos(final[:, :, 0])], 1)

    check_grads(fun, f, a, init)


@SMALL
@given(seed=seeds, n_frames=st.integers(2, 5), n_harm=st.integers(1, 3),
       method=st.sampled_from(["linear", "window"]))  # fmt: skip
def test_grad_harmonic_synthesis(seed, n_frames, n_harm, method):
    rng = np.random.default_rng(seed)
    f0 = rng_array(rng, (2, n_frames, 1), 10.0, 100.0)
    amp = rng_array(rng, (2, n_frames, 1), 0.0, 1.0)
    shifts = rng_array(rng, (2, n_frames, n_harm), -0.1, 0.1)
    dist = rng_array(rng, (2, n_frames, n_harm), 0.0, 1.0)

    def fun(f0, amp, shifts, dist):
        return core.harmonic_synthesis(f0, amp, shifts, dist, n_samples=4 * n_frames,
                                       sample_rate=1000, amp_resample_method=method)  # fmt: skip

    check_grads(fun, f0, amp, shifts, dist)


@SMALL
@given(seed=seeds, n_frames=st.integers(1, 5), n_harm=st.integers(1, 4))
def test_grad_streaming_harmonic_synthesis(seed, n_frames, n_harm):
    rng = np.random.default_rng(seed)
    f0 = rng_array(rng, (2, n_frames, 1), 10.0, 190.0)  # harmonics cross Nyquist (500 Hz)
    amp = rng_array(rng, (2, n_frames, 1), 0.0, 1.0)
    dist = rng_array(rng, (2, n_frames, n_harm), 0.1, 1.0)
    init = rng_array(rng, (2, 1, 1), -1.0, 1.0)

    def fun(f0, amp, dist, init):
        audio, final = core.streaming_harmonic_synthesis(f0, amp, dist, init, n_samples=12,
                                                         sample_rate=1000)  # fmt: skip
        return ops.concatenate([audio, ops.sin(final[:, :, 0])], 1)

    check_grads(fun, f0, amp, dist, init)


@SMALL
@given(seed=seeds, normalize=st.booleans())
def test_grad_sinusoidal_to_harmonic(seed, normalize):
    rng = np.random.default_rng(seed)
    f0 = rng_array(rng, (2, 3, 1), 100.0, 300.0)
    freqs = f0 * rng_array(rng, (2, 3, 5), 0.8, 4.5)
    amps = rng_array(rng, (2, 3, 5), 0.1, 1.0)

    def fun(amps, freqs, f0):
        harm_amp, harm_dist = core.sinusoidal_to_harmonic(amps, freqs, f0, 0.5, 4, 16000,
                                                          normalize)  # fmt: skip
        return ops.concatenate([harm_amp, harm_dist], -1)

    check_grads(fun, amps, freqs, f0)


@SMALL
@given(seed=seeds, n_harm=st.integers(1, 5))
def test_grad_conversions(seed, n_harm):
    rng = np.random.default_rng(seed)
    # Hz kept small (sample rate 160) so finite differences of the output freqs stay accurate.
    f0 = rng_array(rng, (2, 3, 1), 5.0, 30.0)
    amp = rng_array(rng, (2, 3, 1), 0.1, 1.0)
    dist = rng_array(rng, (2, 3, n_harm), 0.1, 1.0)

    def h2s(amp, dist, f0):
        return ops.concatenate(core.harmonic_to_sinusoidal(amp, dist, f0, 160), -1)

    check_grads(h2s, amp, dist, f0)
    check_grads(lambda d, f: core.normalize_harmonics(d, f, 160), dist, f0)
    check_grads(lambda f: core.get_harmonic_frequencies(f, n_harm), f0)
    check_grads(lambda f, a: core.remove_above_nyquist(f, a, 80), f0 * 2, dist)
