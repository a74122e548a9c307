"""ddsp_ref.spectral_ops: golden cases, scipy / float64 NumPy references, frame counts, grads."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
import scipy.signal
from hypothesis import given
from hypothesis import strategies as st

import ddsp_ref
from ddsp_ref import pitch, spectral_ops
from ddsp_ref.autodiff import ops
from ddsp_ref.backend import to_numpy
from tests.golden_util import replay

RNG = np.random.default_rng(1234)


def noise(shape, dtype=np.float32, scale=0.5):
    return (scale * RNG.standard_normal(shape)).astype(dtype)


# -- independent float64 references -----------------------------------------------------------


def ref_a_weighting_db(f_hz):
    """IEC 61672 A-weighting: 20 log10(R_A(f)) + 2.0 dB."""
    f = np.asarray(f_hz, np.float64)
    f1, f2, f3, f4 = 20.598997, 107.65265, 737.86223, 12194.217
    with np.errstate(divide="ignore"):
        r_a = (
            f4**2
            * f**4
            / ((f**2 + f1**2) * np.sqrt((f**2 + f2**2) * (f**2 + f3**2)) * (f**2 + f4**2))
        )
        return 20.0 * np.log10(r_a) + 2.0


def ref_mel_matrix(n_mels, n_bins, sample_rate, lo_hz, hi_hz):
    """HTK triangles, written bin by bin: peak 1 at each centre, 0 at the neighbouring edges."""

    def mel(f):
        return 1127.0 * np.log(1.0 + f / 700.0)

    edges = np.linspace(mel(lo_hz), mel(hi_hz), n_mels + 2)
    out = np.zeros((n_bins, n_mels))
    for k in range(1, n_bins):  # row 0 (DC) stays zero
        m = mel(k * (sample_rate / 2.0) / (n_bins - 1))
        for j in range(n_mels):
            left, centre, right = edges[j], edges[j + 1], edges[j + 2]
            if left < m <= centre:
                out[k, j] = (m - left) / (centre - left)
            elif centre < m < right:
                out[k, j] = (right - m) / (right - centre)
    return out


def ref_stft(x, frame_size, hop, fft_size, pad_end):
    """scipy.signal.stft (periodic Hann, no boundary), unscaled like TF, [..., frames, bins]."""
    x = np.asarray(x, np.float64)
    if pad_end:  # TF: zero pad until ceil(n / hop) frames fit
        n_frames = -(-x.shape[-1] // hop)
        needed = (n_frames - 1) * hop + frame_size
        x = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, max(needed - x.shape[-1], 0))])
    window = scipy.signal.get_window("hann", frame_size)  # periodic
    _, _, z = scipy.signal.stft(
        x,
        window=window,
        nperseg=frame_size,
        noverlap=frame_size - hop,
        nfft=fft_size,
        detrend=False,
        boundary=None,
        padded=False,
        axis=-1,
    )
    return np.swapaxes(z, -1, -2) * window.sum()  # undo scipy's 1 / sum(window)


def ref_loudness(audio, sample_rate, hop, n_fft, padding, range_db=80.0):
    audio = np.asarray(audio, np.float64)
    if padding == "center":
        audio = np.pad(audio, [(0, 0), (n_fft // 2, n_fft // 2)])
    spectrum = ref_stft(audio, n_fft, hop, n_fft, pad_end=False)
    weights = 10.0 ** (
        np.maximum(ref_a_weighting_db(np.fft.rfftfreq(n_fft, 1 / sample_rate)), -80.0) / 10.0
    )
    power = np.mean(np.abs(spectrum) ** 2 * weights, axis=-1)
    return np.maximum(10.0 * np.log10(np.maximum(power, 10 ** (-range_db / 10))), -range_db)


# -- golden cases recorded from ddsp 3.7.0 ----------------------------------------------------


# Relative errors measured on numpy (forward, gradient): mag 1.2e-7, 3.6e-7; mel 6.0e-7, 1.7e-6;
# loudness 4.2e-8 (no gradient recorded). Tolerances a little above; cupy's FFTs were not measured
# here (no GPU), so cupy keeps replay's defaults (1e-5, 1e-4).
GOLDEN_TOL = {
    "compute_mag": dict(fwd_tol=3e-7, grad_tol=1e-6),
    "compute_mel": dict(fwd_tol=2e-6, grad_tol=5e-6),
    "compute_loudness": dict(fwd_tol=2e-7),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_TOL))
def test_golden(name, xp):
    replay(name, xp=xp, **(GOLDEN_TOL[name] if xp is np else {}))


# -- STFT ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame_size, overlap, pad_end",
    [(512, 0.75, False), (512, 0.75, True), (200, 0.1, True), (200, 0.5, False), (64, 0.0, True)],
)
def test_stft_matches_scipy(xp, frame_size, overlap, pad_end):
    x = noise((2, 3001))
    hop = int(frame_size * (1 - overlap))
    fft_size = 1 << (frame_size - 1).bit_length()
    s = spectral_ops.stft(xp.asarray(x), frame_size, overlap, pad_end)
    assert s.dtype == np.complex64
    expected = ref_stft(x, frame_size, hop, fft_size, pad_end)
    np.testing.assert_allclose(to_numpy(s), expected, atol=2e-4 * np.abs(expected).max())
    if pad_end:
        assert s.shape[1] == -(-3001 // hop)
    s64 = spectral_ops.stft(x.astype(np.float64), frame_size, overlap, pad_end)
    assert s64.dtype == np.complex128
    np.testing.assert_allclose(s64, expected, rtol=1e-10, atol=1e-10)


def test_stft_odd_frame_uses_tf_symmetric_window():
    # tf.signal.hann_window(periodic=True) is symmetric for odd lengths.
    x = noise((1, 400), np.float64)
    s = spectral_ops.stft(x, frame_size=101, overlap=0.5, pad_end=False)
    window = scipy.signal.windows.hann(101, sym=True)
    frame = x[0, 50:151] * window  # second frame, hop int(101 * 0.5) = 50
    np.testing.assert_allclose(s[0, 1], np.fft.rfft(frame, n=128), rtol=1e-10, atol=1e-10)


def test_stft_shapes_1d_and_3d_match_2d():
    x = noise((2, 1000))
    s2 = spectral_ops.stft(x, 256)
    np.testing.assert_array_equal(spectral_ops.stft(x[0], 256), s2[0])
    np.testing.assert_array_equal(spectral_ops.stft(x[..., None], 256), s2)


def test_pad_same_then_stft_equals_stft_pad_end():
    # ddsp's PadTest: frame 200, hop 180.
    x = noise((2, 1000))
    padded = spectral_ops.pad(x, 200, 180, padding="same")
    a = spectral_ops.stft(padded, 200, overlap=0.1, pad_end=False)
    b = spectral_ops.stft(x, 200, overlap=0.1, pad_end=True)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-5)


def test_stft_np_matches_stft():
    x = noise((2, 4000))
    a = spectral_ops.stft_np(x, 512, 0.75)
    b = spectral_ops.stft(x, 512, 0.75)
    assert a.shape == b.shape and a.dtype == np.complex64
    np.testing.assert_allclose(np.abs(a), np.abs(b), atol=1e-3)
    with pytest.raises(ValueError, match="even"):
        spectral_ops.stft_np(x, 513, 0.75)


@pytest.mark.parametrize("overlap", [0.75, 0.5, 0.6])
def test_istft_round_trip(xp, overlap):
    frame_size, n = 256, 3000
    hop = int(frame_size * (1 - overlap))
    x = noise((2, n), np.float64)
    y = spectral_ops.istft(
        spectral_ops.stft(xp.asarray(x), frame_size, overlap), frame_size, overlap, n_samples=n
    )
    assert y.shape == x.shape
    edge = frame_size - hop
    np.testing.assert_allclose(to_numpy(y)[:, edge:-edge], x[:, edge:-edge], atol=1e-10)
    np.testing.assert_allclose(to_numpy(y)[:, 1:], x[:, 1:], atol=1e-5)  # edges: conditioning
    x32 = x.astype(np.float32)
    y32 = spectral_ops.istft(
        spectral_ops.stft(x32, frame_size, overlap), frame_size, overlap, n_samples=n
    )
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32[:, edge:-edge], x32[:, edge:-edge], atol=1e-5)


# -- magnitudes, mel, MFCC ----------------------------------------------------------------------


def test_mag_and_logmag():
    x = noise((2, 2000), np.float64)
    mag = spectral_ops.compute_mag(x, 256)
    np.testing.assert_allclose(mag, np.abs(ref_stft(x, 256, 64, 256, True)), atol=1e-10)
    z = np.zeros((1, 512))
    np.testing.assert_allclose(spectral_ops.compute_logmag(z, 128), np.log(1e-5))


@pytest.mark.parametrize(
    "args",
    [
        (64, 1025, 16000, 0.0, 8000.0),
        (13, 257, 22050, 80.0, 7600.0),
        (40, 129, 8000, 125.0, 3800.0),
    ],
)
def test_mel_matrix_matches_htk_construction(args):
    ours = spectral_ops.linear_to_mel_weight_matrix(*args, dtype=np.float64)
    np.testing.assert_allclose(ours, ref_mel_matrix(*args), atol=1e-12)


def test_compute_mel_is_mag_times_mel_matrix(xp):
    x = noise((2, 3000), np.float64)
    mel = spectral_ops.compute_mel(xp.asarray(x), lo_hz=50.0, hi_hz=7000.0, bins=24, fft_size=512)
    expected = np.abs(ref_stft(x, 512, 128, 512, True)) @ ref_mel_matrix(24, 257, 16000, 50, 7000)
    np.testing.assert_allclose(to_numpy(mel), expected, rtol=1e-10, atol=1e-10)
    logmel = spectral_ops.compute_logmel(x, bins=24, fft_size=512)
    ref = np.abs(ref_stft(x, 512, 128, 512, True)) @ ref_mel_matrix(24, 257, 16000, 80, 7600)
    np.testing.assert_allclose(logmel, np.log(np.where(ref <= 0, 1e-5, ref)), rtol=1e-9)


def test_mfcc_is_scaled_dct_ii_of_logmel(xp):
    x = noise((2, 3000), np.float64)
    kwargs = dict(lo_hz=20.0, hi_hz=8000.0, fft_size=512, overlap=0.75, pad_end=True)
    mfcc = spectral_ops.compute_mfcc(xp.asarray(x), mel_bins=32, mfcc_bins=13, **kwargs)
    logmel = spectral_ops.compute_logmel(x, bins=32, **kwargs)
    expected = scipy.fft.dct(logmel, type=2, axis=-1) / np.sqrt(2 * 32)
    np.testing.assert_allclose(to_numpy(mfcc), expected[..., :13], rtol=1e-9, atol=1e-9)
    assert spectral_ops.compute_mfcc(x, mel_bins=8, mfcc_bins=13, **kwargs).shape[-1] == 8


# -- loudness, A-weighting, RMS, power ----------------------------------------------------------


def test_a_weighting_reference_values():
    freqs = np.array([0.0, 100.0, 1000.0, 4000.0, 8000.0])
    ours = spectral_ops.a_weighting(freqs)
    np.testing.assert_allclose(ours, [-80.0, -19.142, 0.0003, 0.964, -1.147], atol=1e-3)
    np.testing.assert_allclose(ours[1:], ref_a_weighting_db(freqs[1:]), atol=1e-10)


def test_loudness_of_full_scale_bin_centred_sine():
    # Periodic Hann on a sine at bin k0: |X[k0]| = N / 4, |X[k0 +- 1]| = N / 8, 0 elsewhere.
    sr, n_fft, f0 = 16000, 512, 1000.0
    t = np.arange(16000) / sr
    audio = np.sin(2 * np.pi * f0 * t + 0.3).astype(np.float64)
    bin_hz = sr / n_fft
    w = 10 ** (ref_a_weighting_db([f0 - bin_hz, f0, f0 + bin_hz]) / 10)
    power = ((n_fft / 4) ** 2 * w[1] + (n_fft / 8) ** 2 * (w[0] + w[2])) / (n_fft // 2 + 1)
    loud = spectral_ops.compute_loudness(audio, sr, 250, n_fft, padding="valid")
    assert loud.ndim == 1 and loud.shape[0] == (16000 - 512) // 64 + 1
    np.testing.assert_allclose(loud, 10 * np.log10(power), atol=1e-9)


@pytest.mark.parametrize("padding", ["center", "same", "valid"])
def test_loudness_matches_numpy_reference(xp, padding):
    x = noise((2, 3000), np.float64)
    ours = spectral_ops.compute_loudness(xp.asarray(x), 16000, 250, 512, padding=padding)
    if padding == "same":  # ddsp pads the end to the 'same' length, then frames without padding
        x = np.pad(x, [(0, 0), (0, (-(-3000 // 64) - 1) * 64 + 512 - 3000)])
        padding = "valid"
    np.testing.assert_allclose(to_numpy(ours), ref_loudness(x, 16000, 64, 512, padding), atol=1e-9)
    x32 = x.astype(np.float32)
    assert spectral_ops.compute_loudness(x32[:, :3000]).dtype == np.float32


def test_loudness_of_silence_is_floor():
    out = spectral_ops.compute_loudness(np.zeros((2, 4000), np.float32), n_fft=2048)
    np.testing.assert_array_equal(out, np.full((2, 63), -80.0, np.float32))
    out = spectral_ops.compute_loudness(np.zeros(4000), range_db=60.0)
    np.testing.assert_allclose(out, np.full(63, -60.0), atol=1e-12)


def test_rms_and_power_match_numpy(xp):
    x = noise((2, 3000), np.float64)
    rms = spectral_ops.compute_rms_energy(xp.asarray(x), 16000, 250, 512)
    padded = np.pad(x, [(0, 0), (256, 256)])
    frames = np.lib.stride_tricks.sliding_window_view(padded, 512, axis=-1)[:, ::64]
    expected = np.sqrt(np.mean(frames**2, axis=-1))
    np.testing.assert_allclose(to_numpy(rms), expected, rtol=1e-12)
    power = spectral_ops.compute_power(xp.asarray(x), 16000, 250, 512, ref_db=3.0)
    np.testing.assert_allclose(
        to_numpy(power), np.maximum(20 * np.log10(expected) - 3.0, -80), rtol=1e-12
    )
    silent = spectral_ops.compute_power(np.zeros(2000, np.float32))
    np.testing.assert_array_equal(silent, np.full(32, -80.0, np.float32))


# -- frame counts and padding -------------------------------------------------------------------


@pytest.mark.parametrize("padding, n_frames", [("center", 1001), ("same", 1000), ("valid", 993)])
def test_frame_counts_4s_at_250hz(padding, n_frames):
    x = np.zeros((1, 64000), np.float32)
    assert spectral_ops.get_framed_lengths(64000, 512, 64, padding)[0] == n_frames
    assert spectral_ops.compute_loudness(x, padding=padding).shape == (1, n_frames)
    assert spectral_ops.compute_power(x, padding=padding).shape == (1, n_frames)


@pytest.mark.parametrize("sample_rate", [16000, 24000, 44100])
@pytest.mark.parametrize("seconds", [0.21, 0.4])
def test_center_padding_at_sample_rates_matches_numpy(sample_rate, seconds):
    """ddsp's 1-D 'center' layout at other rates: hop sample_rate // 250, n // hop + 1 frames,
    values from the float64 numpy references (loudness: scipy STFT; rms: explicit frames)."""
    n = int(sample_rate * seconds)
    hop = sample_rate // 250
    x = noise((n,), np.float64)
    loudness = spectral_ops.compute_loudness(x, sample_rate)
    expected = ref_loudness(x[None], sample_rate, hop, 512, "center")[0]
    assert expected.shape == (n // hop + 1,)
    np.testing.assert_allclose(loudness, expected, atol=1e-9)
    rms = spectral_ops.compute_rms_energy(x, sample_rate)
    padded = np.pad(x, 256)
    frames = np.stack([padded[i : i + 512] for i in range(0, len(padded) - 511, hop)])
    np.testing.assert_allclose(rms, np.sqrt(np.mean(frames**2, axis=-1)), rtol=1e-12)


@pytest.mark.parametrize("hop", [180, 200])
@pytest.mark.parametrize("padding", ["center", "same", "valid"])
@pytest.mark.parametrize("length", [1000, 1800, 2017])
def test_pad_and_framed_lengths_agree_with_framing(hop, padding, length):
    x = noise((2, length))
    padded = spectral_ops.pad(x, 200, hop, padding=padding)
    n_frames, padded_length = spectral_ops.get_framed_lengths(length, 200, hop, padding)
    assert padded.shape == (2, padded_length)
    frames = ops.frame(padded, 200, hop)
    assert frames.shape[1] == n_frames
    start = 100 if padding == "center" else 0
    np.testing.assert_array_equal(padded[:, start : start + length], x)
    assert not padded[:, :start].any() and not padded[:, start + length :].any()


def test_pad_modes_and_1d():
    x = np.arange(1, 11, dtype=np.float32)
    np.testing.assert_array_equal(spectral_ops.pad(x, 4, 2), np.pad(x, 2))
    np.testing.assert_array_equal(
        spectral_ops.pad(x, 4, 2, mode="REFLECT"), np.pad(x, 2, mode="reflect")
    )
    np.testing.assert_array_equal(
        spectral_ops.pad(x[None], 4, 2, mode="symmetric"),
        np.pad(x[None], [(0, 0), (2, 2)], mode="symmetric"),
    )
    np.testing.assert_array_equal(spectral_ops.pad(x, 4, 2, constant_values=7.0)[:2], [7, 7])
    np.testing.assert_array_equal(spectral_ops.pad(x, 4, 2, "valid"), x)


@pytest.mark.parametrize("use_tf", [False, True])
def test_pad_or_trim(use_tf):
    v = np.arange(10, dtype=np.float32)
    f = spectral_ops.pad_or_trim_to_expected_length
    np.testing.assert_array_equal(f(v, 15, use_tf=use_tf), np.r_[v, np.zeros(5)])
    np.testing.assert_array_equal(f(v, 4, use_tf=use_tf), v[:4])
    np.testing.assert_array_equal(
        f(v[None], 13, pad_value=-1, use_tf=use_tf), [np.r_[v, -np.ones(3)]]
    )
    np.testing.assert_array_equal(f(np.stack([v, v]), 4), np.stack([v[:4], v[:4]]))
    with pytest.raises(ValueError, match="tolerance"):
        f(v, 40)


def test_pitch_names_are_reexported():
    assert spectral_ops.F0_RANGE == 127.0 and spectral_ops.DB_RANGE == 80.0
    for name in pitch.__all__:
        assert getattr(spectral_ops, name) is getattr(pitch, name)


# -- errors -------------------------------------------------------------------------------------


def test_bad_inputs():
    x = noise((2, 1000))
    with pytest.raises(ValueError, match="NaN"):
        spectral_ops.compute_mag(np.where(np.arange(1000) == 7, np.nan, x), 256)
    with pytest.raises(ValueError, match="shorter than one frame"):
        spectral_ops.stft(x[:, :100], 256, pad_end=False)
    with pytest.raises(ValueError, match="no samples"):
        spectral_ops.stft(x[:, :0], 256)
    with pytest.raises(ValueError, match="overlap"):
        spectral_ops.stft(x, 256, overlap=1.0)
    with pytest.raises(ValueError, match="batch, n_samples, 1"):
        spectral_ops.stft(np.zeros((2, 1000, 2)), 256)
    for fn in (
        spectral_ops.compute_loudness,
        spectral_ops.compute_rms_energy,
        spectral_ops.compute_power,
    ):
        with pytest.raises(ValueError, match="padding"):
            fn(x, padding="full")
    with pytest.raises(ValueError, match="padding"):
        spectral_ops.get_framed_lengths(1000, 200, 100, "causal")
    with pytest.raises(ValueError, match="no frame"):
        spectral_ops.get_framed_lengths(100, 200, 100, "valid")
    with pytest.raises(ValueError, match="greater than hop_size"):
        spectral_ops.pad(x, 100, 200, "same")
    with pytest.raises(ValueError, match="mode"):
        spectral_ops.pad(x, 200, 100, mode="EDGY")
    with pytest.raises(ValueError, match="upper"):
        spectral_ops.compute_mel(x, hi_hz=9000.0, fft_size=256)
    with pytest.raises(ValueError, match="power of two"):
        spectral_ops.compute_loudness(x, n_fft=500)
    with pytest.raises(ValueError, match="frame_rate"):
        spectral_ops.compute_loudness(x, sample_rate=100, frame_rate=250)
    with pytest.raises(ValueError, match="frequency bins"):
        spectral_ops.istft(spectral_ops.stft(x, 256), 512)


# -- float64 gradient checks --------------------------------------------------------------------

small_audio = st.tuples(st.integers(1, 2), st.integers(40, 120)).flatmap(
    lambda s: st.builds(
        lambda seed: np.random.default_rng(seed).standard_normal(s) * 0.5, st.integers(0, 2**31)
    )
)


@given(small_audio, st.sampled_from([16, 24, 32]), st.sampled_from([0.75, 0.5, 0.2]), st.booleans())
def test_grad_stft_and_mags(x, frame_size, overlap, pad_end):
    ddsp_ref.check_grads(lambda a: spectral_ops.stft(a, frame_size, overlap, pad_end), x)
    ddsp_ref.check_grads(lambda a: spectral_ops.compute_mag(a, frame_size, overlap, pad_end), x)
    # log|X| is sharply curved where a bin is nearly 0: a smaller step and a looser tolerance.
    ddsp_ref.check_grads(
        lambda a: spectral_ops.compute_logmag(a, frame_size, overlap), x, eps=1e-7, rtol=1e-4
    )


@given(small_audio, st.integers(2, 6), st.sampled_from([16, 32]))
def test_grad_mel_logmel_mfcc(x, bins, fft_size):
    kwargs = dict(bins=bins, fft_size=fft_size, sample_rate=8000)
    ddsp_ref.check_grads(lambda a: spectral_ops.compute_mel(a, 0.0, 4000.0, **kwargs), x)
    ddsp_ref.check_grads(lambda a: spectral_ops.compute_logmel(a, 100.0, 3900.0, **kwargs), x)
    ddsp_ref.check_grads(
        lambda a: spectral_ops.compute_mfcc(
            a, 100.0, 4000.0, fft_size, bins + 2, 3, sample_rate=8000
        ),
        x,
    )


@given(small_audio, st.sampled_from(["center", "same", "valid"]))
def test_grad_rms_power_loudness(x, padding):
    kwargs = dict(sample_rate=8000, frame_rate=1000, padding=padding)
    ddsp_ref.check_grads(lambda a: spectral_ops.compute_rms_energy(a, frame_size=16, **kwargs), x)
    ddsp_ref.check_grads(lambda a: spectral_ops.compute_power(a, frame_size=16, **kwargs), x)
    ddsp_ref.check_grads(lambda a: spectral_ops.compute_loudness(a, n_fft=16, **kwargs), x)


def test_grad_istft_pad_and_silent_rms():
    x = noise((2, 200), np.float64)
    ddsp_ref.check_grads(lambda a: spectral_ops.istft(spectral_ops.stft(a, 32), 32), x)
    ddsp_ref.check_grads(lambda a: spectral_ops.pad(a, 16, 8, mode="REFLECT"), x)
    ddsp_ref.check_grads(lambda a: spectral_ops.pad_or_trim_to_expected_length(a, 190), x)
    x[:, :100] = 0.0  # all-zero frames: gradient 0, not NaN (ddsp's x ** 0.5 gives NaN)
    _, g = ddsp_ref.value_and_grad(
        lambda a: ops.sum(spectral_ops.compute_rms_energy(a, 8000, 1000, 16))
    )(x)
    assert np.isfinite(g).all()
    np.testing.assert_array_equal(g[:, :80], 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.float64])
def test_dtype_policy(dtype):
    x = (noise((1, 1000), np.float64) * 100).astype(dtype)
    want = np.float64 if dtype == np.float64 else np.float32
    fns = [
        lambda a: spectral_ops.compute_mag(a, 256),
        lambda a: spectral_ops.compute_mel(a, fft_size=256, bins=8),
        lambda a: spectral_ops.compute_mfcc(a, fft_size=256, mel_bins=16),
        lambda a: spectral_ops.compute_rms_energy(a),
        lambda a: spectral_ops.compute_power(a),
        lambda a: spectral_ops.compute_loudness(a),
    ]
    for fn in fns:
        out = fn(x)
        assert out.dtype == want
        np.testing.assert_allclose(out, fn(x.astype(np.float64)), rtol=1e-4, atol=1e-3)
