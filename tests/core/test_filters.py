"""ddsp_ref.core filters: golden cases, scipy / numpy references, ddsp's quirks, errors, grads."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fftpack
import scipy.signal
from hypothesis import assume, given
from hypothesis import strategies as st

import ddsp_ref
from ddsp_ref import core
from ddsp_ref.backend import to_numpy
from tests.golden_util import replay

RNG = np.random.default_rng(1234)

# -- independent float64 references ----------------------------------------------------------


def ref_block_convolve(audio, ir):
    """Exact block-wise time-varying convolution: [B, N] x [B|1, F, L] -> [B, F*fs + L - 1]."""
    batch, n = audio.shape
    n_frames, size = ir.shape[-2:]
    fs = -(-n // n_frames)
    padded = np.zeros((batch, n_frames * fs))
    padded[:, :n] = audio
    full = np.zeros((batch, n_frames * fs + size - 1))
    for b in range(batch):
        for f in range(n_frames):
            block = padded[b, f * fs : (f + 1) * fs]
            full[b, f * fs : f * fs + fs + size - 1] += np.convolve(block, ir[b % ir.shape[0], f])
    return full


def ref_crop(full, start, length):
    """full[:, start:start + length] with zeros past the end (the FFT padding is zeros)."""
    out = np.zeros((full.shape[0], length))
    piece = full[:, start : start + length]
    out[:, : piece.shape[1]] = piece
    return out


def tf_window(name, n):
    """TF's default 'periodic' window: periodic for even n, symmetric for odd n (via scipy)."""
    return scipy.signal.get_window(name, n, fftbins=n % 2 == 0)


def ref_windowed_ir(zero_phase, window_size):
    """apply_window_to_impulse_response by explicit index arithmetic on a zero-phase IR."""
    size = zero_phase.shape[-1]
    ws = size if window_size <= 0 or window_size > size else window_size
    w = tf_window("hann", ws)
    if ws == size:  # out[i] = z[i - size // 2] * w[i - 2 (size // 2)]: odd sizes shift w by 1
        return np.roll(zero_phase, size // 2, axis=-1) * np.roll(w, 2 * (size // 2))
    h = (ws + 1) // 2
    # Output taps cover times -(h - 2) .. h of the zero-phase IR (0 .. 1 when h == 1); the
    # window is w[h + time], zero past its end.
    times = range(-max(h - 2, 0), h + 1)
    out = np.zeros(zero_phase.shape[:-1] + (len(times),))
    for i, t in enumerate(times):
        if h + t < ws:
            out[..., i] = zero_phase[..., t % size] * w[h + t]
    return out


def ref_sinc_ir(cutoff, window_size):
    half = window_size // 2
    n = np.arange(-half, half + 1.0)
    ir = np.sinc(np.asarray(cutoff)[..., None] * n) * np.hamming(2 * half + 1)  # symmetric
    return ir / np.abs(ir.sum(-1, keepdims=True))


def response(taps, freqs):
    """Frequency response of FIR taps at frequencies normalised to Nyquist (1.0)."""
    return scipy.signal.freqz(taps, worN=np.pi * np.asarray(freqs))[1]


# -- golden cases recorded from ddsp 3.7.0 ---------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "fft_convolve_same",
        "frequency_filter",
        "frequency_impulse_response",
        "sinc_impulse_response",
    ],
)
def test_golden(name, xp):
    # Measured: at most 1.3e-7 forward and 2.0e-7 for the gradients (float32 rounding).
    replay(name, xp=xp, fwd_tol=3e-7, grad_tol=4e-7)


# -- get_fft_size ----------------------------------------------------------------------------


def test_get_fft_size():
    for frame_size, ir_size in [(1, 1), (64, 128), (1000, 10), (1000, 1025), (320, 128)]:
        n = frame_size + ir_size - 1
        expected = int(2 ** np.ceil(np.log2(n)))
        assert core.get_fft_size(frame_size, ir_size) == expected
    assert core.get_fft_size(64, 128) == 256  # FilteredNoise defaults (section 6)
    assert core.get_fft_size(320, 128) == 512  # VST
    for n in range(1, 3000, 7):
        assert core.get_fft_size(n, 1, power_of_2=False) == scipy.fftpack.next_fast_len(n)


# -- fft_convolve vs scipy and an explicit block convolution -----------------------------------


@pytest.mark.parametrize("n, size", [(1000, 10), (10, 100), (37, 5), (256, 33), (100, 1)])
def test_fft_convolve_valid_matches_scipy(n, size, xp):
    audio, ir = RNG.standard_normal((2, n)), RNG.standard_normal((2, size))
    out = core.fft_convolve(xp.asarray(audio), xp.asarray(ir), "valid", delay_compensation=0)
    expected = scipy.signal.fftconvolve(audio, ir, axes=-1)
    np.testing.assert_allclose(to_numpy(out), expected, rtol=1e-10, atol=1e-10)


def test_fft_convolve_ddsp_cases_float32():
    """ddsp's own check: ones(1000) * ones(10) and ones(10) * ones(100), float32."""
    for n, size in [(1000, 10), (10, 100)]:
        audio, ir = np.ones((1, n), np.float32), np.ones((1, size), np.float32)
        out = core.fft_convolve(audio, ir, "valid", delay_compensation=0)
        assert out.dtype == np.float32
        expected = scipy.signal.fftconvolve(audio, ir, axes=-1)
        assert np.mean(np.abs(out - expected)) < 1e-5


@pytest.mark.parametrize(
    "batch, ir_batch, n, n_frames, size",
    [(2, 2, 100, 4, 9), (3, 1, 61, 7, 16), (1, 1, 33, 33, 5), (2, 2, 50, 13, 3), (1, 1, 8, 1, 8)],
)
@pytest.mark.parametrize("padding, delay", [("valid", 0), ("same", -1), ("same", 4)])
def test_fft_convolve_time_varying_matches_block_convolution(
    batch, ir_batch, n, n_frames, size, padding, delay, xp
):
    audio = RNG.standard_normal((batch, n))
    ir = RNG.standard_normal((ir_batch, n_frames, size))
    out = to_numpy(core.fft_convolve(xp.asarray(audio), xp.asarray(ir), padding, delay))
    start = (size - 1) // 2 - 1 if delay < 0 else delay
    length = n + size - 1 if padding == "valid" else n
    expected = ref_crop(ref_block_convolve(audio, ir), start, length)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)


def test_fft_convolve_broadcasts_ir_batch_of_one():
    audio, ir = RNG.standard_normal((3, 40)), RNG.standard_normal((1, 4, 7))
    tiled = np.tile(ir, (3, 1, 1))
    np.testing.assert_allclose(core.fft_convolve(audio, ir), core.fft_convolve(audio, tiled))
    assert ddsp_ref.backend.to_numpy(core.fft_convolve(audio, ir[:, 0])).shape == (3, 40)


def test_fft_convolve_is_linear():
    x, y = RNG.standard_normal((2, 2, 48))
    h, g = RNG.standard_normal((2, 2, 6, 11))
    a, b = 0.7, -1.9
    f = core.fft_convolve
    np.testing.assert_allclose(f(a * x + b * y, h), a * f(x, h) + b * f(y, h), atol=1e-12)
    np.testing.assert_allclose(f(x, a * h + b * g), a * f(x, h) + b * f(x, g), atol=1e-12)


def test_fft_convolve_dtypes():
    audio, ir = RNG.standard_normal((1, 20)), RNG.standard_normal((1, 5))
    assert core.fft_convolve(audio, ir).dtype == np.float64
    assert core.fft_convolve(audio.astype(np.float32), ir.astype(np.float32)).dtype == np.float32
    assert core.fft_convolve(np.ones((1, 20), int), np.ones((1, 5), int)).dtype == np.float32


# -- ddsp's cropping quirks ------------------------------------------------------------------


def test_valid_padding_with_automatic_compensation_is_empty_when_padding_is_short():
    # 16 samples, 17 taps: fft 32 = 16 + 17 - 1 exactly, so there is nothing left to crop past
    # start = 7; ddsp's audio[:, 7:-(-7)] is empty.
    out = core.fft_convolve(np.ones((1, 16)), np.ones((1, 17)), "valid")
    assert out.shape == (1, 0)
    # With room to crop, it is the right length but shifted by the automatic start (3).
    audio, ir = RNG.standard_normal((1, 20)), RNG.standard_normal((1, 9))
    out = core.fft_convolve(audio, ir, "valid")
    expected = ref_crop(scipy.signal.fftconvolve(audio, ir, axes=-1), 3, 28)
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_end_zero_slice_quirk_returns_empty():
    # 8 samples, 1 tap: fft 8 = total = 'valid' length, so end == 0 and [0:-0] is empty.
    assert core.fft_convolve(np.ones((1, 8)), np.ones((1, 1)), "valid", 0).shape == (1, 0)
    # Automatic start for 1 or 2 taps is (L - 1) // 2 - 1 = -1: audio[:, -1:-end] is empty.
    assert core.fft_convolve(np.ones((1, 8)), np.ones((1, 2))).shape == (1, 0)


def test_crop_and_compensate_delay_slices_like_ddsp():
    audio = np.arange(40.0).reshape(2, 20)
    out = core.crop_and_compensate_delay(audio, 12, 5, "same", -1)  # start 1, end 7
    np.testing.assert_array_equal(out, audio[:, 1:13])
    out = core.crop_and_compensate_delay(audio, 12, 5, "valid", 3)  # 16 long, start 3, end 1
    np.testing.assert_array_equal(out, audio[:, 3:19])


# -- alignment: flat responses and the delays of unwindowed / sinc IRs -------------------------


@pytest.mark.parametrize("gain", [1.0, 0.1])
def test_flat_magnitude_response_reproduces_audio(gain, xp):
    audio = RNG.uniform(-1, 1, (1, 1000))
    magnitudes = gain * np.ones((1, 1025))
    out = to_numpy(core.frequency_filter(xp.asarray(audio), xp.asarray(magnitudes), 257))
    assert np.mean(np.abs(out - gain * audio)) < 1e-3  # ddsp's own check
    # Exact alignment: the impulse lands on output sample 0 with weight hann_257[129].
    weight = 0.5 - 0.5 * np.cos(2 * np.pi * 129 / 256)
    np.testing.assert_allclose(out, gain * weight * audio, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("window_size", [0, 300, 257])
def test_unwindowed_frequency_filter_is_two_samples_late(window_size):
    # 65 bins -> 128 taps; window 0, 300 or 257 (all >= 128) keep the full IR, centred at 64,
    # while the crop starts at 62.
    audio = RNG.standard_normal((2, 200))
    out = core.frequency_filter(audio, np.ones((2, 65)), window_size)
    np.testing.assert_allclose(out[:, 2:], audio[:, :-2], atol=1e-12)
    np.testing.assert_allclose(out[:, :2], 0.0, atol=1e-12)
    # Same for any response: the output is the centred convolution delayed by 2.
    ir = core.frequency_impulse_response(RNG.uniform(0, 1, (2, 65)), window_size)
    out = core.fft_convolve(audio, ir)
    centred = ref_crop(
        np.stack([np.convolve(a, h) for a, h in zip(audio, ir, strict=True)]), 64, 200
    )
    np.testing.assert_allclose(out[:, 2:], centred[:, :-2], atol=1e-12)


def test_sinc_filter_is_one_sample_late():
    audio = RNG.standard_normal((1, 300))
    # Cutoff at Nyquist: the sinc is an impulse at the centre (half = 32), crop start 31.
    out = core.sinc_filter(audio, np.ones((1, 1, 1)), window_size=64)
    np.testing.assert_allclose(out[:, 1:], audio[:, :-1], atol=1e-12)
    cutoff = np.array([[[0.3]]])
    ir = core.sinc_impulse_response(cutoff, window_size=64)
    out = core.sinc_filter(audio, cutoff, window_size=64)
    centred = ref_crop(np.convolve(audio[0], ir[0, 0])[None], 32, 300)
    np.testing.assert_allclose(out[:, 1:], centred[:, :-1], atol=1e-12)


# -- filter design ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n_bins, window_size, n_taps",
    [(1025, 0, 2048), (1025, 257, 257), (1025, 22, 21), (513, 2048, 1024), (65, 0, 128)],
)
def test_frequency_impulse_response_size(n_bins, window_size, n_taps):
    magnitudes = RNG.uniform(0, 1, (2, 3, n_bins))
    ir = core.frequency_impulse_response(magnitudes, window_size)
    assert ir.shape == (2, 3, n_taps)
    expected = ref_windowed_ir(np.fft.irfft(magnitudes, axis=-1), window_size)
    np.testing.assert_allclose(ir, expected, atol=1e-14)


@pytest.mark.parametrize(
    "size, window_size",
    [(16, 0), (16, 7), (16, 8), (15, 6), (15, 15), (15, 9), (9, 1), (9, 2), (9, 3)],
)
@pytest.mark.parametrize("causal", [False, True])
def test_apply_window_matches_index_formula(size, window_size, causal, xp):
    ir = RNG.standard_normal((2, size))
    out = to_numpy(core.apply_window_to_impulse_response(xp.asarray(ir), window_size, causal))
    zero_phase = np.fft.fftshift(ir, axes=-1) if causal else ir
    np.testing.assert_allclose(out, ref_windowed_ir(zero_phase, window_size), atol=1e-14)


def test_windowed_ir_zero_phase_sample_lands_on_crop_start():
    # 257 taps -> 127; 255 -> 126; 21 -> 9 (section 1.1.9), the automatic crop start.
    for window_size, index in [(257, 127), (255, 126), (21, 9)]:
        impulse = np.zeros((1, 2048))
        impulse[0, 0] = 1.0
        ir = core.apply_window_to_impulse_response(impulse, window_size)
        assert int(np.argmax(ir[0])) == index == (ir.shape[-1] - 1) // 2 - 1


def test_sinc_matches_numpy():
    x = np.linspace(-5, 5, 101)
    np.testing.assert_allclose(core.sinc(x), np.sinc(x), atol=1e-15)
    assert core.sinc(np.zeros(3, np.float32)).dtype == np.float32


@pytest.mark.parametrize("window_size", [64, 65, 128, 2])
def test_sinc_impulse_response_matches_formula_and_firwin(window_size, xp):
    cutoff = RNG.uniform(0.05, 0.95, (2, 3, 1))
    ir = to_numpy(core.sinc_impulse_response(xp.asarray(cutoff), window_size))
    n_taps = 2 * (window_size // 2) + 1
    assert ir.shape == (2, 3, n_taps)
    np.testing.assert_allclose(ir, ref_sinc_ir(cutoff[..., 0], window_size), atol=1e-14)
    # TF's "periodic" Hamming is symmetric at odd lengths, so the taps are firwin's.
    firwin = scipy.signal.firwin(n_taps, cutoff[0, 0, 0], window="hamming")
    np.testing.assert_allclose(ir[0, 0], firwin, atol=1e-14)


def test_sinc_impulse_response_frequency_response():
    cutoff = 0.25
    lp = core.sinc_impulse_response(np.full((1, 1, 1), cutoff), 128)[0, 0]
    hp = core.sinc_impulse_response(np.full((1, 1, 1), cutoff), 128, high_pass=True)[0, 0]
    impulse = np.zeros(129)
    impulse[64] = 1.0
    np.testing.assert_allclose(hp, impulse - lp, atol=1e-15)
    np.testing.assert_allclose(abs(response(lp, [0.0])), 1.0, atol=1e-12)
    np.testing.assert_allclose(abs(response(hp, [0.0])), 0.0, atol=1e-12)
    passband, stopband = np.linspace(0, 0.18, 20), np.linspace(0.32, 1.0, 40)
    assert np.all(np.abs(np.abs(response(lp, passband)) - 1) < 3e-3)
    assert np.all(np.abs(response(lp, stopband)) < 3e-3)
    assert np.all(np.abs(np.abs(response(hp, stopband)) - 1) < 3e-3)
    assert np.all(np.abs(response(hp, passband)) < 3e-3)
    # Against scipy's high-pass design (scaled to unit gain at Nyquist instead).
    scipy_hp = scipy.signal.firwin(129, cutoff, pass_zero=False)
    freqs = np.linspace(0, 1, 64)
    np.testing.assert_allclose(abs(response(hp, freqs)), abs(response(scipy_hp, freqs)), atol=4e-3)


def test_sinc_impulse_response_sample_rate_without_mutating_input():
    cutoff_hz = np.array([[[1000.0], [3000.0]]])
    before = cutoff_hz.copy()
    ir = core.sinc_impulse_response(cutoff_hz, 32, sample_rate=16000)
    np.testing.assert_array_equal(cutoff_hz, before)  # ddsp 3.7.0 changes it in place
    np.testing.assert_allclose(ir, ref_sinc_ir(cutoff_hz[..., 0] / 8000, 32), atol=1e-14)


@pytest.mark.parametrize(
    "n_bins, n_frames, window_size",
    [(1025, None, 0), (1025, None, 257), (513, 1, 257), (513, 13, 257), (513, 1000, 257)],
)
def test_frequency_filter_output_length(n_bins, n_frames, window_size):
    audio = RNG.standard_normal((2, 1000)).astype(np.float32)
    shape = (2, n_bins) if n_frames is None else (2, n_frames, n_bins)
    out = core.frequency_filter(audio, RNG.uniform(0, 1, shape), window_size)
    assert out.shape == (2, 1000)
    ir = core.frequency_impulse_response(RNG.uniform(0, 1, shape), window_size)
    start = (ir.shape[-1] - 1) // 2 - 1
    full = ref_block_convolve(audio, ir if ir.ndim == 3 else ir[:, None])
    out = core.fft_convolve(audio, ir)
    np.testing.assert_allclose(out, ref_crop(full, start, 1000), atol=1e-4)


@pytest.mark.parametrize("high_pass, window_size", [(True, 257), (False, 256)])
def test_sinc_filter_output(high_pass, window_size):
    audio = RNG.standard_normal((2, 1000))
    cutoff = RNG.uniform(0.1, 0.9, (2, 10, 1))
    out = core.sinc_filter(audio, cutoff, window_size, padding="same", high_pass=high_pass)
    assert out.shape == (2, 1000)
    ir = ref_sinc_ir(cutoff[..., 0], window_size)
    if high_pass:
        ir = -ir
        ir[..., window_size // 2] += 1.0
    expected = ref_crop(ref_block_convolve(audio, ir), window_size // 2 - 1, 1000)
    np.testing.assert_allclose(out, expected, atol=1e-10)


# -- errors (ddsp's FiniteImpulseResponseTest) -------------------------------------------------


def test_fft_convolve_errors():
    audio = RNG.standard_normal((2, 1000))
    with pytest.raises(ValueError, match=r"audio \(2\) and impulse response \(3\)"):
        core.fft_convolve(audio, RNG.standard_normal((3, 10)))
    for padding in ["same", "valid"]:
        core.fft_convolve(audio, np.ones((2, 10)), padding=padding)
    for padding in ["", "saaammmeee"]:
        with pytest.raises(ValueError, match="saaammmeee" if padding else "got ''"):
            core.fft_convolve(audio, np.ones((2, 10)), padding=padding)
    with pytest.raises(ValueError, match=r"\(1000\) and impulse response frames \(1010\)"):
        core.fft_convolve(audio, np.ones((2, 1010, 10)))
    with pytest.raises(ValueError, match=r"\(500\) and impulse response frames \(999\)"):
        core.fft_convolve(audio, np.ones((2, 999, 10)))
    with pytest.raises(ValueError, match=r"\[batch, n_samples\].*\(1000,\)"):
        core.fft_convolve(audio[0], np.ones((2, 10)))
    with pytest.raises(ValueError, match="padding"):
        core.crop_and_compensate_delay(audio, 1000, 10, "full", 0)
    with pytest.raises(ValueError, match="at least 2 frequency bins"):
        core.frequency_impulse_response(np.ones((2, 1)))


# -- gradients (float64, hypothesis) ---------------------------------------------------------


@st.composite
def convolution_case(draw):
    n_frames = draw(st.integers(1, 4))
    frame_size = draw(st.integers(1, 8))
    n = n_frames * frame_size - draw(st.integers(0, frame_size - 1))
    assume(-(-n // n_frames) == frame_size and -(-n // frame_size) == n_frames)
    batch = draw(st.integers(1, 2))
    ir_batch = draw(st.sampled_from([1, batch]))
    size = draw(st.integers(3, 9))
    ir_shape = (
        (ir_batch, size) if n_frames == 1 and draw(st.booleans()) else (ir_batch, n_frames, size)
    )
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, n)), rng.standard_normal(ir_shape)


@given(convolution_case(), st.sampled_from([("same", -1), ("same", 2), ("valid", 0), ("valid", 1)]))
def test_fft_convolve_grads(case, padding_delay):
    audio, ir = case
    padding, delay = padding_delay
    n, size = audio.shape[1], ir.shape[-1]
    n_frames = ir.shape[1] if ir.ndim == 3 else 1
    frame_size = -(-n // n_frames)
    total = (n_frames - 1) * frame_size + core.get_fft_size(frame_size, size)
    assume(padding == "same" or total - (n + size - 1) - delay > 0)  # not the empty quirk

    def f(a, h):
        return core.fft_convolve(a, h, padding, delay)

    ddsp_ref.check_grads(f, audio, ir, argnums=(0, 1))


@given(
    st.integers(2, 12),
    st.sampled_from(["zero", "less", "equal"]),
    st.booleans(),
    st.integers(0, 2**16),
)
def test_frequency_impulse_response_grads(n_bins, window, frames, seed):
    size = 2 * (n_bins - 1)
    window_size = {"zero": 0, "less": max(size - 3, 1), "equal": size}[window]
    shape = (2, 3, n_bins) if frames else (2, n_bins)
    magnitudes = np.random.default_rng(seed).uniform(0, 1, shape)
    ddsp_ref.check_grads(lambda m: core.frequency_impulse_response(m, window_size), magnitudes)


@given(st.integers(1, 12), st.integers(0, 14), st.booleans(), st.integers(0, 2**16))
def test_apply_window_grads(size, window_size, causal, seed):
    ir = np.random.default_rng(seed).standard_normal((2, size))
    ddsp_ref.check_grads(
        lambda x: core.apply_window_to_impulse_response(x, window_size, causal), ir
    )


@given(st.integers(0, 20), st.booleans(), st.booleans(), st.integers(0, 2**16))
def test_sinc_impulse_response_grads(window_size, high_pass, hz, seed):
    cutoff = np.random.default_rng(seed).uniform(0.05, 0.95, (2, 3, 1))
    sample_rate = 16000 if hz else None
    cutoff = cutoff * 8000 if hz else cutoff

    def f(c):
        return core.sinc_impulse_response(c, window_size, sample_rate, high_pass)

    ddsp_ref.check_grads(f, cutoff)


def test_sinc_grads():
    x = np.linspace(-3.3, 2.9, 17)
    ddsp_ref.check_grads(core.sinc, x)


@given(
    st.integers(3, 9), st.sampled_from([None, 1, 3]), st.sampled_from([0, 5]), st.integers(0, 2**16)
)
def test_frequency_filter_grads(n_bins, n_frames, window_size, seed):
    rng = np.random.default_rng(seed)
    audio = rng.standard_normal((2, 12))
    shape = (2, n_bins) if n_frames is None else (2, n_frames, n_bins)
    magnitudes = rng.uniform(0, 1, shape)
    ddsp_ref.check_grads(
        lambda a, m: core.frequency_filter(a, m, window_size), audio, magnitudes, argnums=(0, 1)
    )


@given(st.sampled_from([1, 2, 5]), st.integers(4, 12), st.booleans(), st.integers(0, 2**16))
def test_sinc_filter_grads(n_frames, window_size, high_pass, seed):
    rng = np.random.default_rng(seed)
    audio = rng.standard_normal((2, 20))
    cutoff = rng.uniform(0.05, 0.95, (2, n_frames, 1))

    def f(a, c):
        return core.sinc_filter(a, c, window_size, high_pass=high_pass)

    ddsp_ref.check_grads(f, audio, cutoff, argnums=(0, 1))
