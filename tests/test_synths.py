"""ddsp_ref.synths: golden case, Harmonic against an independent float64 implementation,
seeded FilteredNoise, Wavetable / Sinusoidal against sums of sines, bad controls, gradients."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddsp_ref import check_grads, core, synths
from ddsp_ref.backend import to_numpy
from tests.golden_util import replay

TWO_PI = 2.0 * np.pi
SMALL = settings(max_examples=8, deadline=None)


# -- independent float64 references -------------------------------------------------------------


def ref_exp_sigmoid(x):
    return 2.0 * (1.0 / (1.0 + np.exp(-x))) ** np.log(10.0) + 1e-7


def ref_frame_positions(n_frames, n_samples):
    """Legacy TF resize positions (float32, like TF) and the neighbour frames / fractions."""
    pos = (np.arange(n_samples, dtype=np.float32) * np.float32(n_frames / n_samples)).astype(
        np.float64
    )
    lo = np.floor(pos).astype(int)
    return lo, np.minimum(lo + 1, n_frames - 1), pos - lo


def ref_linear(x, n_samples):
    lo, hi, w = ref_frame_positions(x.shape[1], n_samples)
    return x[:, lo] * (1.0 - w[None, :, None]) + x[:, hi] * w[None, :, None]


def ref_window(x, n_samples):
    """Raised-cosine crossfade between frame k (at sample k * hop) and k + 1, last frame held."""
    n_frames = x.shape[1]
    hop = n_samples // n_frames
    x = np.concatenate([x, x[:, -1:]], axis=1)
    k, j = np.divmod(np.arange(n_samples), hop)
    w = (0.5 - 0.5 * np.cos(np.pi * j / hop))[None, :, None]
    return x[:, k] * (1.0 - w) + x[:, k + 1] * w


def ref_harmonic(amps, dist, f0, n_samples, sample_rate, method="window", scale=True):
    """ddsp's Harmonic synth written out in float64 numpy."""
    amps, dist, f0 = (np.asarray(a, np.float64) for a in (amps, dist, f0))
    if scale:
        amps, dist = ref_exp_sigmoid(amps), ref_exp_sigmoid(dist)
    k = np.arange(1, dist.shape[-1] + 1)
    dist = np.where(f0 * k >= sample_rate / 2, 0.0, dist)
    dist = dist / dist.sum(-1, keepdims=True)
    f0_up = ref_linear(f0 * k, n_samples)
    amp_up = (ref_window if method == "window" else ref_linear)(amps * dist, n_samples)
    amp_up = np.where(f0_up >= sample_rate / 2, 0.0, amp_up)
    phase = np.cumsum(TWO_PI * f0_up / sample_rate, axis=1)  # inclusive: starts at omega[0]
    return np.sum(amp_up * np.sin(phase), axis=-1)


def random_controls(rng, batch=2, n_frames=8, n_harmonics=10, f0_range=(50.0, 1500.0)):
    return (
        rng.normal(size=(batch, n_frames, 1)),
        rng.normal(size=(batch, n_frames, n_harmonics)),
        rng.uniform(*f0_range, size=(batch, n_frames, 1)),
    )


# -- Harmonic -----------------------------------------------------------------------------------


def test_harmonic_golden(xp):
    # TF accumulates phase in float32: the recorded case is ~1e-4 away from the exact answer.
    # Measured: forward 8.0e-5, gradients 6.9e-5 and 1.1e-4 (TF's float32 phase drift).
    replay("harmonic_synth", xp=xp, fwd_tol=1.5e-4, grad_tol=2e-4)


@pytest.mark.parametrize("method", ["window", "linear"])
@pytest.mark.parametrize("seed", [0, 1])
def test_harmonic_matches_float64_reference(method, seed, xp):
    rng = np.random.default_rng(seed)
    # f0 up to 1500 Hz with 10 harmonics: some harmonics cross Nyquist (8 kHz) and are removed.
    amps, dist, f0 = random_controls(rng)
    synth = synths.Harmonic(n_samples=256, sample_rate=16000, amp_resample_method=method)
    out = synth(xp.asarray(amps), xp.asarray(dist), xp.asarray(f0))
    ref = ref_harmonic(amps, dist, f0, 256, 16000, method)
    assert out.shape == (2, 256) and out.dtype == np.float64
    np.testing.assert_allclose(to_numpy(out), ref, rtol=0, atol=1e-10)


def test_harmonic_float32_close_to_float64_reference():
    amps, dist, f0 = random_controls(np.random.default_rng(2), n_frames=20)
    out = synths.Harmonic(n_samples=1280)(*(a.astype(np.float32) for a in (amps, dist, f0)))
    assert out.dtype == np.float32
    ref = ref_harmonic(amps, dist, f0, 1280, 16000)
    np.testing.assert_allclose(out, ref, rtol=0, atol=2e-5 * np.abs(ref).max())


def test_harmonic_controls():
    amps, dist, f0 = random_controls(np.random.default_rng(3))
    controls = synths.Harmonic(n_samples=256).get_controls(amps, dist, f0)
    assert sorted(controls) == ["amplitudes", "f0_hz", "harmonic_distribution"]
    np.testing.assert_allclose(controls["amplitudes"], ref_exp_sigmoid(amps), rtol=1e-12)
    k = np.arange(1, 11)
    expected = np.where(f0 * k >= 8000, 0.0, ref_exp_sigmoid(dist))
    np.testing.assert_allclose(
        controls["harmonic_distribution"], expected / expected.sum(-1, keepdims=True), rtol=1e-12
    )
    np.testing.assert_array_equal(controls["f0_hz"], f0)


def test_harmonic_without_nyquist_normalisation_still_sums_to_one():
    dist = np.ones((1, 4, 10))
    f0 = np.full((1, 4, 1), 1000.0)  # harmonics 8, 9, 10 are at or above 8 kHz
    synth = synths.Harmonic(n_samples=64, scale_fn=None, normalize_below_nyquist=False)
    controls = synth.get_controls(np.ones((1, 4, 1)), dist, f0)
    np.testing.assert_allclose(controls["harmonic_distribution"], 0.1, rtol=1e-12)
    synth_nyq = synths.Harmonic(n_samples=64, scale_fn=None)
    controls = synth_nyq.get_controls(np.ones((1, 4, 1)), dist, f0)
    np.testing.assert_allclose(controls["harmonic_distribution"][..., :7], 1.0 / 7, rtol=1e-12)
    np.testing.assert_array_equal(controls["harmonic_distribution"][..., 7:], 0.0)


def test_harmonic_without_scale_fn_matches_the_float64_formula():
    amps, dist, f0 = random_controls(np.random.default_rng(4))
    amps, dist = np.abs(amps), np.abs(dist)
    out = synths.Harmonic(n_samples=256, scale_fn=None)(amps, dist, f0)
    expected = ref_harmonic(amps, dist, f0, 256, 16000, scale=False)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-9)


def test_harmonic_constant_controls_are_a_sum_of_sines():
    n, sr = 2000, 16000
    f0 = np.full((1, 5, 1), 440.0)
    dist = np.array([1.0, 0.5, 0.25, 0.0])[None, None, :].repeat(5, axis=1)
    out = synths.Harmonic(n_samples=n, sample_rate=sr, scale_fn=None)(
        np.full((1, 5, 1), 0.7), dist, f0
    )
    t = np.arange(1, n + 1) / sr  # the inclusive phase: sample 0 has phase omega
    expected = (
        0.7
        / 1.75
        * sum(a * np.sin(TWO_PI * 440.0 * k * t) for k, a in ((1, 1.0), (2, 0.5), (3, 0.25)))
    )
    np.testing.assert_allclose(out[0], expected, atol=1e-9)


def test_harmonic_silent_above_nyquist():
    f0 = np.full((1, 4, 1), 8000.0)
    out = synths.Harmonic(n_samples=64, scale_fn=None)(np.ones((1, 4, 1)), np.ones((1, 4, 3)), f0)
    np.testing.assert_array_equal(out, 0.0)


@SMALL
@given(
    st.integers(1, 2),
    st.integers(2, 6),
    st.integers(1, 6),
    st.integers(0, 2**16),
    st.sampled_from(["window", "linear"]),
)
def test_harmonic_gradients(batch, n_frames, n_harmonics, seed, method):
    rng = np.random.default_rng(seed)
    # f0 * n_harmonics < Nyquist everywhere: the Nyquist masks do not switch under perturbation.
    amps, dist, f0 = random_controls(rng, batch, n_frames, n_harmonics, (60.0, 1000.0))
    synth = synths.Harmonic(n_samples=16 * n_frames, amp_resample_method=method)
    check_grads(synth, amps, dist, f0)


def test_harmonic_bad_controls_raise():
    synth = synths.Harmonic(n_samples=64)
    good = np.zeros((1, 4, 1)), np.zeros((1, 4, 3)), np.full((1, 4, 1), 100.0)
    with pytest.raises(
        ValueError, match=r"amplitudes must have shape \[batch, n_frames, channels\].*\(1, 4\)"
    ):
        synth(np.zeros((1, 4)), good[1], good[2])
    with pytest.raises(ValueError, match=r"f0_hz must have shape \[batch, n_frames, channels\]"):
        synth(good[0], good[1], np.full((4,), 100.0))
    with pytest.raises(ValueError, match=r"n_frames >= 1.*'harmonic_distribution': 5"):
        synth(good[0], np.zeros((1, 5, 3)), good[2])


# -- FilteredNoise ------------------------------------------------------------------------------


def noise_calls(seed, n_calls=2, **kwargs):
    synth = synths.FilteredNoise(n_samples=256, seed=seed, **kwargs)
    mags = np.random.default_rng(0).normal(size=(2, 4, 17)).astype(np.float32)
    return [synth(mags) for _ in range(n_calls)]


def test_filtered_noise_is_reproducible_with_a_seed():
    first, second = noise_calls(seed=3), noise_calls(seed=3)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert first[0].shape == (2, 256) and first[0].dtype == np.float32


def test_filtered_noise_draws_fresh_noise_per_call_and_per_seed():
    a0, a1 = noise_calls(seed=3)
    b0, _ = noise_calls(seed=4)
    assert np.corrcoef(a0.ravel(), a1.ravel())[0, 1] < 0.3
    assert np.corrcoef(a0.ravel(), b0.ravel())[0, 1] < 0.3


def test_filtered_noise_flat_response_is_delayed_uniform_noise():
    """All-ones magnitudes with window_size 0 give a unit impulse centred at L/2; ddsp's delay
    compensation crops from L/2 - 2, so the output is the uniform noise delayed by 2 samples."""
    n = 4096
    synth = synths.FilteredNoise(n_samples=n, window_size=0, scale_fn=None, seed=11)
    out = synth(np.ones((2, 8, 33)))
    noise = synths.NoiseSource(11).uniform(np, (2, n), np.float64)
    np.testing.assert_allclose(out[:, 2:], noise[:, :-2], atol=1e-12)
    np.testing.assert_allclose(out[:, :2], 0.0, atol=1e-12)
    # Uniform(-1, 1): mean 0, variance 1/3, bounded by 1.
    assert abs(out.mean()) < 0.03
    assert abs(out.var() - 1.0 / 3.0) < 0.02
    assert np.abs(out).max() <= 1.0


def test_filtered_noise_is_linear_in_magnitudes():
    mags = np.random.default_rng(1).uniform(0.0, 1.0, size=(1, 4, 9))
    out = synths.FilteredNoise(n_samples=128, scale_fn=None, seed=2)(mags)
    out_half = synths.FilteredNoise(n_samples=128, scale_fn=None, seed=2)(0.5 * mags)
    np.testing.assert_allclose(out_half, 0.5 * out, atol=1e-14)


def test_filtered_noise_controls_scale_with_bias():
    mags = np.random.default_rng(1).normal(size=(1, 3, 5))
    controls = synths.FilteredNoise(n_samples=64).get_controls(mags)
    np.testing.assert_allclose(controls["magnitudes"], ref_exp_sigmoid(mags - 5.0), rtol=1e-12)
    controls = synths.FilteredNoise(n_samples=64, scale_fn=None).get_controls(mags)
    np.testing.assert_array_equal(controls["magnitudes"], mags)  # no bias without scale_fn


def test_filtered_noise_one_frame_per_sample():
    """ddsp's test case (as many frames as samples) against a direct time-domain sum: sample n
    of the noise is convolved with frame n's FIR, then the 'same' crop with ddsp's automatic
    delay compensation ``(taps - 1) // 2 - 1``."""
    n, n_bands = 64, 10
    mags = np.random.default_rng(2).uniform(0.0, 1.0, (2, n, n_bands))
    synth = synths.FilteredNoise(n_samples=n, window_size=7, scale_fn=None, seed=0)
    drawn = []
    draw = synth._noise.uniform
    synth._noise.uniform = lambda *a: drawn.append(draw(*a)) or drawn[-1]
    out = synth(mags)
    noise = np.asarray(drawn[0], np.float64)
    irs = np.asarray(core.frequency_impulse_response(mags, window_size=7))  # [2, n, taps]
    taps = irs.shape[-1]
    full = np.zeros((2, n + taps - 1))
    for t in range(n):
        full[:, t : t + taps] += noise[:, t : t + 1] * irs[:, t]
    start = (taps - 1) // 2 - 1
    np.testing.assert_allclose(out, full[:, start : start + n], rtol=0, atol=1e-12)


def test_filtered_noise_bad_rank_raises():
    with pytest.raises(
        ValueError, match=r"magnitudes must have shape \[batch, n_frames, channels\]"
    ):
        synths.FilteredNoise(n_samples=64)(np.zeros((4, 9)))


@pytest.mark.parametrize("window_size", [0, 7])
def test_filtered_noise_gradients(window_size):
    mags = np.random.default_rng(5).normal(size=(2, 4, 9))

    def fun(m):  # a fresh processor with the same seed draws the same noise every time
        return synths.FilteredNoise(n_samples=64, window_size=window_size, seed=9)(m)

    check_grads(fun, mags)


# -- Wavetable ----------------------------------------------------------------------------------


@pytest.mark.parametrize("f0", [220.0, 1000.0])
def test_wavetable_sine_table_gives_a_sine(f0, xp):
    n, sr, size = 1600, 16000, 2048
    table = np.sin(TWO_PI * np.arange(size) / size)[None, None, :]
    synth = synths.Wavetable(n_samples=n, sample_rate=sr, scale_fn=None)
    out = synth(
        xp.asarray(np.ones((1, 10, 1))), xp.asarray(table), xp.asarray(np.full((1, 10, 1), f0))
    )
    # Exclusive phase: sample 0 reads table index 0.
    expected = np.sin(TWO_PI * f0 * np.arange(n) / sr)
    np.testing.assert_allclose(to_numpy(out)[0], expected, atol=2e-6)


def test_wavetable_default_scale_fn_applies_to_tables():
    table = np.random.default_rng(0).normal(size=(1, 1, 64))
    amps, f0 = np.zeros((1, 4, 1)), np.full((1, 4, 1), 300.0)
    controls = synths.Wavetable(n_samples=64).get_controls(amps, table, f0)
    np.testing.assert_allclose(controls["wavetables"], ref_exp_sigmoid(table), rtol=1e-12)
    np.testing.assert_allclose(controls["amplitudes"], ref_exp_sigmoid(amps), rtol=1e-12)


def test_wavetable_time_varying_tables_match_the_float64_formula():
    """ddsp's test shape (3 x 10 frames, 64-point tables, 640 samples) with time-varying tables:
    tables resampled linearly (TF legacy positions), read at the exclusive running phase with
    linear interpolation and wrap-around, times the window-resampled amplitudes."""
    rng = np.random.default_rng(8)
    amps = rng.uniform(0.1, 1.0, (3, 10, 1))
    tables = rng.uniform(-1.0, 1.0, (3, 10, 64))
    f0 = rng.uniform(100.0, 900.0, (3, 10, 1))
    out = synths.Wavetable(n_samples=640, scale_fn=None)(amps, tables, f0)
    freq = ref_linear(f0, 640)[..., 0]
    phase = np.mod(np.cumsum(freq / 16000, axis=1) - freq / 16000, 1.0) * 64  # table index
    table_n = ref_linear(tables, 640)  # [3, 640, 64]
    lo = np.floor(phase).astype(int)
    frac = phase - lo
    rows = np.arange(3)[:, None], np.arange(640)[None, :]
    value = table_n[rows + (lo % 64,)] * (1 - frac) + table_n[rows + ((lo + 1) % 64,)] * frac
    expected = value * ref_window(amps, 640)[..., 0]
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-9)


def test_wavetable_gradients():
    rng = np.random.default_rng(6)
    amps, tables = rng.normal(size=(2, 4, 1)), rng.normal(size=(2, 3, 16))
    f0 = rng.uniform(100.0, 900.0, size=(2, 4, 1))
    check_grads(synths.Wavetable(n_samples=64), amps, tables, f0)


# -- Sinusoidal ---------------------------------------------------------------------------------


def test_sinusoidal_matches_sum_of_sines_and_silences_nyquist():
    n, sr = 512, 8000
    freqs = np.array([100.0, 1234.5, 3999.0, 4000.0, 6000.0])[None, None, :].repeat(4, axis=1)
    amps = np.linspace(0.2, 1.0, 5)[None, None, :].repeat(4, axis=1)
    synth = synths.Sinusoidal(n_samples=n, sample_rate=sr, amp_scale_fn=None, freq_scale_fn=None)
    out = synth(amps, freqs)
    t = np.arange(1, n + 1) / sr
    expected = sum(
        a * np.sin(TWO_PI * f * t) for a, f in zip(amps[0, 0, :3], freqs[0, 0, :3], strict=True)
    )
    np.testing.assert_allclose(out[0], expected, atol=1e-9)


def test_sinusoidal_matches_oscillator_bank():
    rng = np.random.default_rng(7)
    amps, freqs = rng.normal(size=(2, 8, 4)), rng.normal(size=(2, 8, 4))
    synth = synths.Sinusoidal(n_samples=128, sample_rate=8000)
    controls = synth.get_controls(amps, freqs)
    hz = core.frequencies_sigmoid(freqs)  # 0..8000 Hz: about half are above 4 kHz
    np.testing.assert_allclose(controls["frequencies"], hz, rtol=1e-12)
    expected_amps = np.where(hz >= 4000.0, 0.0, ref_exp_sigmoid(amps))
    assert np.any(expected_amps == 0.0) and np.any(expected_amps > 0.0)
    np.testing.assert_allclose(controls["amplitudes"], expected_amps, rtol=1e-12)
    out = synth(amps, freqs)
    expected = core.oscillator_bank(
        core.resample(hz, 128), core.resample(expected_amps, 128, method="window"), sample_rate=8000
    )
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_sinusoidal_mismatched_frames_raise():
    with pytest.raises(ValueError, match=r"n_frames"):
        synths.Sinusoidal(n_samples=64)(np.zeros((1, 4, 3)), np.zeros((1, 5, 3)))


def test_sinusoidal_gradients():
    rng = np.random.default_rng(8)
    amps, freqs = rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 4, 3))
    check_grads(synths.Sinusoidal(n_samples=64, sample_rate=16000), amps, freqs)


# -- TensorToAudio ------------------------------------------------------------------------------


def test_tensor_to_audio_squeezes(xp):
    x = np.random.default_rng(0).normal(size=(2, 50, 1))
    out = synths.TensorToAudio()(xp.asarray(x))
    np.testing.assert_array_equal(to_numpy(out), x[:, :, 0])


def test_tensor_to_audio_gradients():
    check_grads(synths.TensorToAudio(), np.random.default_rng(1).normal(size=(2, 7, 1)))


@pytest.mark.parametrize("cls", ["Harmonic", "Sinusoidal"])
def test_controls_scaled_frame_by_frame_equal_one_shot(monkeypatch, cls):
    """Plain-array controls are scaled a chunk of frames at a time (bounded memory for long
    signals): the same numbers as scaling them at once (a Tensor input takes that path)."""
    from ddsp_ref import synths as synths_module
    from ddsp_ref.autodiff.tensor import Tensor

    rng = np.random.default_rng(3)
    if cls == "Harmonic":
        synth = synths.Harmonic(n_samples=64 * 9)
        args = (
            rng.normal(size=(2, 9, 1)),
            rng.normal(size=(2, 9, 5)),
            rng.uniform(50, 3000, (2, 9, 1)),
        )
    else:
        synth = synths.Sinusoidal(n_samples=64 * 9)
        args = (rng.normal(size=(2, 9, 4)), rng.normal(size=(2, 9, 4)))
    one_shot = synth._scale(*args)
    monkeypatch.setattr(synths_module, "_FRAME_CHUNK_ELEMENTS", 20)  # 2 frames per chunk
    chunked = synth.get_controls(*args)
    for key, value in one_shot.items():
        np.testing.assert_array_equal(chunked[key], value)
    assert not isinstance(chunked[next(iter(chunked))], Tensor)
