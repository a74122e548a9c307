"""Tests of ddsp_ref.pitch: pYIN compute_f0 in ddsp's frame layout, CREPE decoding helpers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddsp_ref import spectral_ops
from ddsp_ref.backend import to_numpy
from ddsp_ref.kernels import pitch_hmm
from ddsp_ref.spectral_ops import pitch

SR = 16000
LOWEST_BIN_HZ = 10.0 * 2.0 ** (1997.3794084376191 / 1200.0)  # CREPE bin 0, 31.70 Hz


def harmonic_tone(f0_hz, sample_rate=SR, n_harmonics=8, seed=0):
    """A harmonic tone with per-sample f0 (numpy phase accumulation, independent of ddsp_ref)."""
    phase = 2 * np.pi * np.cumsum(f0_hz) / sample_rate
    amps = np.random.default_rng(seed).uniform(0.3, 1.0, n_harmonics) / np.arange(
        1, n_harmonics + 1
    )
    audio = np.zeros_like(phase)
    for k, a in enumerate(amps, start=1):
        audio += np.where(k * np.max(f0_hz) < sample_rate / 2, a * np.sin(k * phase), 0.0)
    return audio


def cents(est, ref):
    return 1200.0 * np.log2(np.asarray(est) / np.asarray(ref))


def truth_at_frames(f0_per_sample, n_frames, hop):
    return f0_per_sample[np.minimum(np.arange(n_frames) * hop, len(f0_per_sample) - 1)]


# ------------------------------------------------------------------------------------------------
# accuracy of the pYIN estimator


@pytest.mark.parametrize("f0", [50.0, 82.0, 155.0, 311.0, 620.0, 1000.0])
def test_vibrato_tones_raw_pitch_accuracy(f0):
    t = np.arange(SR) / SR
    true_hz = f0 * 2 ** (50 * np.sin(2 * np.pi * 5.5 * t) / 1200)  # +-50 cents vibrato
    audio = harmonic_tone(true_hz).astype(np.float32)
    f0_hz, confidence = pitch.compute_f0(audio, 100, sample_rate=SR)
    err = cents(f0_hz, truth_at_frames(true_hz, len(f0_hz), SR // 100))
    assert np.mean(np.abs(err) < 50) > 0.95
    assert np.median(np.abs(err)) < 15  # the 64 ms frame averages the vibrato a little
    assert np.mean(confidence > 0.5) > 0.95


def test_steady_tone_is_sub_cent_accurate_without_viterbi():
    audio = harmonic_tone(np.full(SR // 2, 220.0))
    f0_hz, confidence = pitch.compute_f0(audio, 50, viterbi=False, sample_rate=SR)
    inner = slice(2, -2)  # frames that do not reach into the zero padding
    np.testing.assert_allclose(f0_hz[inner], 220.0, rtol=2 ** (1 / 1200) - 1)
    assert confidence[inner].min() > 0.9


def test_silence_has_zero_confidence_and_lowest_bin_f0():
    f0_hz, confidence = pitch.compute_f0(np.zeros(8000, np.float32), 250, sample_rate=SR)
    assert f0_hz.dtype == np.float32 and confidence.dtype == np.float32
    assert confidence.max() < 1e-6
    np.testing.assert_allclose(f0_hz, LOWEST_BIN_HZ, rtol=1e-6)


def test_white_noise_is_unvoiced():
    noise = np.random.default_rng(1).normal(size=SR).astype(np.float32)
    for viterbi in (True, False):
        _, confidence = pitch.compute_f0(noise, 100, viterbi=viterbi, sample_rate=SR)
        assert np.mean(confidence > 0.5) < 0.02
        assert np.isfinite(confidence).all()


def test_unvoiced_gap_keeps_the_neighbouring_pitch():
    tone = harmonic_tone(np.full(SR // 2, 300.0))
    audio = np.concatenate([tone, np.zeros(SR // 2), tone]).astype(np.float32)
    f0_hz, confidence = pitch.compute_f0(audio, 100, sample_rate=SR)
    gap = slice(60, 90)  # frames whose 64 ms span is silent
    assert confidence[gap].max() < 1e-3
    np.testing.assert_allclose(f0_hz[gap], 300.0, rtol=0.013)  # within the 20-cent grid


def test_octave_switches_are_tracked_within_a_few_frames():
    frame_rate, hop = 100, SR // 100
    true_hz = np.repeat([400.0, 200.0, 400.0], SR // 2)  # switches at 0.5 s and 1.0 s
    audio = harmonic_tone(true_hz).astype(np.float32)
    f0_hz, _ = pitch.compute_f0(audio, frame_rate, sample_rate=SR)
    wrong = np.abs(cents(f0_hz, truth_at_frames(true_hz, len(f0_hz), hop))) > 50
    switch_frames = np.array([50, 100])
    distance = np.min(np.abs(np.arange(len(f0_hz))[:, None] - switch_frames), axis=1)
    assert not wrong[distance > 3].any(), np.flatnonzero(wrong)
    assert np.mean(wrong) < 0.05


def test_other_sample_rates_scale_the_frame():
    for sample_rate in (22050, 44100):
        n = sample_rate // 2
        audio = harmonic_tone(np.full(n, 147.0), sample_rate).astype(np.float32)
        f0_hz, confidence = pitch.compute_f0(audio, 50, sample_rate=sample_rate)
        assert np.all(np.abs(cents(f0_hz[2:-2], 147.0)) < 10)
        assert confidence[2:-2].min() > 0.9


def test_batch_matches_single_examples_and_float64_input():
    a = harmonic_tone(np.full(4000, 180.0))
    b = harmonic_tone(np.full(4000, 450.0), seed=3)
    batch_f0, batch_conf = pitch.compute_f0(np.stack([a, b]), 250, sample_rate=SR)
    for row, audio in enumerate((a, b)):
        f0_hz, confidence = pitch.compute_f0(audio, 250, sample_rate=SR)  # float64 in, float32 out
        assert f0_hz.dtype == np.float32
        np.testing.assert_allclose(batch_f0[row], f0_hz, rtol=1e-5)
        np.testing.assert_allclose(batch_conf[row], confidence, atol=1e-5)


def test_backends(xp):
    audio = xp.asarray(harmonic_tone(np.full(4000, 250.0)).astype(np.float32))
    f0_hz, confidence = pitch.compute_f0(audio, 250, sample_rate=SR)
    assert type(f0_hz) is type(audio) and type(confidence) is type(audio)
    assert np.all(np.abs(cents(to_numpy(f0_hz)[8:-8], 250.0)) < 5)


# ------------------------------------------------------------------------------------------------
# frame layout and errors


def expected_frames(n_samples, frame_size, hop, padding):
    if padding == "valid":
        return (n_samples - frame_size) // hop + 1
    if padding == "center":
        return n_samples // hop + 1
    return -(-n_samples // hop)


@pytest.mark.parametrize("padding", ["same", "center", "valid"])
@pytest.mark.parametrize("seconds", [0.21, 0.4])
@pytest.mark.parametrize("frame_rate", [50, 250])
def test_frame_counts_like_ddsp(padding, seconds, frame_rate):
    n = int(seconds * SR)
    f0_hz, confidence = pitch.compute_f0(
        np.zeros(n, np.float32), frame_rate, padding=padding, sample_rate=SR
    )
    n_frames = expected_frames(n, 1024, SR // frame_rate, padding)
    assert f0_hz.shape == confidence.shape == (n_frames,)
    assert n_frames == spectral_ops.get_framed_lengths(n, 1024, SR // frame_rate, padding)[0]


@settings(max_examples=8, deadline=None)
@given(
    sample_rate=st.sampled_from([16000, 22050, 44100]),
    frame_rate=st.sampled_from([31.25, 50, 100, 250]),
    padding=st.sampled_from(["same", "center", "valid"]),
    split=st.floats(0.3, 0.6),
)
def test_frame_layout_follows_a_pitch_step(sample_rate, frame_rate, padding, split):
    """A tone jumping from 220 Hz to 330 Hz at a known sample: every frame that lies wholly
    before (after) the jump reads 220 (330) Hz, where the frame's samples are those ddsp's
    layout assigns it (start ``t * hop`` of the padded audio: ``t * hop - frame // 2`` of the
    audio for 'center', ``t * hop`` otherwise); the count is ddsp's get_framed_lengths."""
    n = int(0.5 * sample_rate)
    jump = int(split * n)
    audio = harmonic_tone(np.where(np.arange(n) < jump, 220.0, 330.0), sample_rate)
    f0_hz, _ = pitch.compute_f0(
        audio[None].astype(np.float32), frame_rate, False, padding, sample_rate=sample_rate
    )
    frame_size = 2 * round(512 * sample_rate / 16000)
    hop = int(sample_rate // frame_rate)
    n_frames = spectral_ops.get_framed_lengths(n, frame_size, hop, padding)[0]
    assert f0_hz.shape == (1, n_frames)
    start = np.arange(n_frames) * hop - (frame_size // 2 if padding == "center" else 0)
    stop = start + frame_size
    inside = (start >= 0) & (stop <= n)
    before, after = inside & (stop <= jump), inside & (start >= jump)
    assert before.any() and after.any()
    np.testing.assert_array_less(np.abs(cents(f0_hz[0, before], 220.0)), 10.0)
    np.testing.assert_array_less(np.abs(cents(f0_hz[0, after], 330.0)), 10.0)


def test_ddsp_argument_order_and_default_rate():
    """compute_f0(audio, frame_rate, viterbi, padding) as in ddsp (16 kHz by default); the old
    (audio, sample_rate, frame_rate) order is refused instead of silently misread."""
    audio = harmonic_tone(np.full(8000, 200.0)).astype(np.float32)
    positional = pitch.compute_f0(audio, 100, True, "same")
    keywords = pitch.compute_f0(audio, frame_rate=100, padding="same", sample_rate=16000)
    for a, b in zip(positional, keywords, strict=True):
        np.testing.assert_array_equal(a, b)
    assert positional[0].shape == (50,)
    with pytest.raises(TypeError, match="viterbi must be a bool"):
        pitch.compute_f0(audio, 16000, 100)
    import ddsp_ref.pitch

    assert ddsp_ref.pitch.compute_f0 is spectral_ops.compute_f0 is pitch.compute_f0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(audio=np.zeros(1000, np.float32), padding="valid"), "valid"),
        (dict(audio=np.array([0.0, np.nan] * 1000, np.float32)), "NaN"),
        (dict(audio=np.array([0.0, np.inf] * 1000)), "NaN or inf"),
        (dict(audio=np.zeros(2000, np.float32), padding="causal"), "padding"),
        (dict(audio=np.zeros((1, 1, 2000), np.float32)), "audio"),
        (dict(audio=np.zeros(0, np.float32)), "audio"),
        (dict(audio=np.zeros(2000, np.float32), frame_rate=20000), "frame_rate"),
        (dict(audio=np.zeros(2000, np.float32), frame_rate=10), "hop"),
        (dict(audio=np.zeros(2000, np.float32), sample_rate=-16000), "sample_rate"),
        (dict(audio=np.zeros(2000, np.float32), frame_rate=np.nan), "frame_rate"),
        (dict(audio=np.zeros(2000, np.float32), frame_rate="250"), "frame_rate"),
    ],
)
def test_bad_input_raises(kwargs, match):
    kwargs = {"sample_rate": SR, "frame_rate": 250, **kwargs}
    with pytest.raises(ValueError, match=match):
        pitch.compute_f0(**kwargs)


# ------------------------------------------------------------------------------------------------
# CREPE: activations -> f0, Viterbi, model hook

CENTS = np.linspace(0, 7180, 360) + 1997.3794084376191


def test_activations_to_f0_and_confidence_formula():
    rng = np.random.default_rng(0)
    acts = rng.random((4, 7, 360)).astype(np.float32)
    acts[0, 0, 2] = acts[0, 1, 358] = 5.0  # argmax at the edges: clamped, repeated indices
    centers = rng.integers(0, 360, (4, 7))
    for given_centers in (None, centers):
        f0_hz, confidence = pitch.activations_to_f0_and_confidence(acts, given_centers)
        for b in range(4):
            for t in range(7):
                a = acts[b, t].astype(np.float64)
                c = np.argmax(a) if given_centers is None else given_centers[b, t]
                idx = [min(max(i, 0), 359) for i in range(c - 4, c + 6)]
                expected = 10 * 2 ** (np.sum(a[idx] * CENTS[idx]) / np.sum(a[idx]) / 1200)
                assert f0_hz[b, t] == pytest.approx(expected, rel=1e-5)
                assert confidence[b, t] == a.max()


def test_all_zero_activations_give_the_centre_bin_not_nan():
    acts = np.zeros((3, 360), np.float32)
    acts[1, 100] = 0.5  # one ordinary frame among two silent ones
    centers = np.array([0, 100, 359])
    f0_hz, confidence = pitch.activations_to_f0_and_confidence(acts, centers)
    np.testing.assert_allclose(f0_hz, 10 * 2 ** (CENTS[centers] / 1200), rtol=1e-6)
    np.testing.assert_array_equal(confidence, [0.0, 0.5, 0.0])
    f0_hz, _ = pitch.activations_to_f0_and_confidence(np.zeros((2, 360)))  # argmax: bin 0
    np.testing.assert_allclose(f0_hz, LOWEST_BIN_HZ, rtol=1e-9)


def test_activations_bad_shapes():
    with pytest.raises(ValueError, match="360"):
        pitch.activations_to_f0_and_confidence(np.zeros((5, 100)))
    with pytest.raises(ValueError, match="centers"):
        pitch.activations_to_f0_and_confidence(np.zeros((5, 360)), np.zeros(4, int))
    with pytest.raises(ValueError, match="centers must be integer bins"):
        pitch.activations_to_f0_and_confidence(np.zeros((5, 360)), np.full(5, 360))
    with pytest.raises(ValueError, match="non-negative"):
        pitch.activations_to_f0_and_confidence(np.full((5, 360), np.nan))
    with pytest.raises(TypeError, match="acts must be real"):
        pitch.activations_to_f0_and_confidence(np.zeros((5, 360), complex))


def dense_crepe_viterbi(acts):
    """Textbook Viterbi with ddsp's CREPE HMM written out as dense matrices (float64)."""
    n = 360
    dist = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
    trans = np.maximum(12.0 - dist, 1e-5)
    trans /= trans.sum(axis=1, keepdims=True)
    log_e = acts.astype(np.float64) @ np.log(0.1 * np.eye(n) + 0.9 / n).T
    delta = np.log(1.0 / n) + log_e[0]
    back = []
    for t in range(1, len(acts)):
        scores = delta[:, None] + np.log(trans)
        back.append(np.argmax(scores, axis=0))
        delta = scores.max(axis=0) + log_e[t]
    path = [int(np.argmax(delta))]
    for ptr in reversed(back):
        path.append(int(ptr[path[-1]]))
    return np.array(path[::-1])


def test_crepe_viterbi_matches_dense_decoder_and_removes_outliers():
    rng = np.random.default_rng(2)
    n_frames = 60
    true_bin = np.round(180 + 40 * np.sin(np.arange(n_frames) / 9)).astype(int)
    bins = np.arange(360)
    acts = 0.9 * np.exp(-0.5 * ((bins - true_bin[:, None]) / 2.0) ** 2)
    acts += 0.05 * rng.random(acts.shape)
    acts[[10, 30, 31], :] *= 0.3  # weak frames with a strong spurious peak far away
    acts[10, 20] = acts[30, 330] = acts[31, 330] = 0.95
    acts = acts.astype(np.float32)
    path = pitch.crepe_viterbi_decode(acts)
    np.testing.assert_array_equal(path, dense_crepe_viterbi(acts))
    assert np.all(np.abs(path - true_bin) <= 2)
    assert np.argmax(acts[10]) == 20  # the argmax would have jumped
    batched = pitch.crepe_viterbi_decode(np.stack([acts, acts[::-1]]))
    np.testing.assert_array_equal(batched[1], dense_crepe_viterbi(acts[::-1]))


def test_normalize_frames():
    rng = np.random.default_rng(3)
    frames = np.concatenate([rng.normal(2.0, 3.0, (3, 1024)), np.full((2, 1024), [[0.5], [0.7]])])
    out = pitch.normalize_frames(frames)
    np.testing.assert_allclose(out[:3].mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(out[:3].std(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(out[3], 0.0)  # std exactly 0: divided by 1e-8 instead
    assert np.abs(out[4]).max() < 1e-6  # a rounding-level std (~1e-16) keeps the output tiny


def fake_crepe(frames):
    """Stand-in for a CREPE network: a Gaussian bump at the bin of the frame's spectral peak."""
    assert frames.shape[1] == 1024 and frames.dtype == np.float32
    np.testing.assert_allclose(frames.std(axis=1), 1.0, rtol=1e-3)
    spec = np.abs(np.fft.rfft(frames * np.hanning(1024), n=16384, axis=1))
    peak_hz = np.argmax(spec, axis=1) * 16000 / 16384
    bin_ = (1200 * np.log2(peak_hz / 10) - CENTS[0]) / 20
    bump = np.exp(-0.5 * ((np.arange(360) - bin_[:, None]) / 1.5) ** 2)
    return 0.8 * bump / bump.max(axis=1, keepdims=True)


@pytest.mark.parametrize("sample_rate", [16000, 44100])
@pytest.mark.parametrize("viterbi", [True, False])
def test_model_hook(sample_rate, viterbi):
    t = np.arange(sample_rate // 2) / sample_rate
    audio = np.sin(2 * np.pi * 440.0 * t).astype(np.float32)
    f0_hz, confidence = pitch.compute_f0(
        audio, 50, viterbi=viterbi, model=fake_crepe, sample_rate=sample_rate
    )
    assert f0_hz.shape == (26,)
    assert np.all(np.abs(cents(f0_hz[3:-3], 440.0)) < 5)
    np.testing.assert_allclose(confidence, 0.8, rtol=1e-6)


def test_model_with_wrong_output_shape():
    with pytest.raises(ValueError, match="activations"):
        pitch.compute_f0(
            np.ones(4000, np.float32), 250, model=lambda f: np.zeros((3, 360)), sample_rate=SR
        )


# ------------------------------------------------------------------------------------------------
# the HMM decoders against dense textbook versions


def dense_hmm(weights, voicing):
    dist = np.abs(np.arange(len(weights))[:, None] - np.arange(len(weights))[None, :])
    return np.kron(voicing, weights[dist])  # state index = voicing * n_bins + bin


@settings(max_examples=6)
@given(seed=st.integers(0, 2**16), hop_s=st.sampled_from([0.004, 0.01, 0.03]))
def test_pyin_viterbi_matches_dense(seed, hop_s):
    rng = np.random.default_rng(seed)
    em = rng.random((2, 12, 2, 360)) ** 30  # peaky, random emissions
    weights = pitch._pyin_transition(hop_s)
    voicing = np.array([[0.99, 0.01], [0.01, 0.99]])
    path_v, path_k = pitch_hmm.banded_viterbi(np.log(em), weights, np.zeros(360), np.log(voicing))
    log_a = np.log(dense_hmm(weights, voicing))
    for b in range(2):
        e = np.log(em[b].reshape(12, -1))
        delta, back = e[0], []
        for t in range(1, 12):
            scores = delta[:, None] + log_a
            back.append(np.argmax(scores, axis=0))
            delta = scores.max(axis=0) + e[t]
        states = [int(np.argmax(delta))]
        for ptr in reversed(back):
            states.append(int(ptr[states[-1]]))
        states = np.array(states[::-1])
        np.testing.assert_array_equal(path_v[b] * 360 + path_k[b], states)


def test_voicing_posterior_matches_dense_forward_backward():
    rng = np.random.default_rng(4)
    em = rng.random((2, 20, 2, 360)) ** 8
    weights = pitch._pyin_transition(0.004)
    voicing = np.array([[0.97, 0.03], [0.02, 0.98]])  # asymmetric: checks the transposes
    got = pitch_hmm.voicing_posterior(em, weights, voicing)
    a = dense_hmm(weights, voicing)
    for b in range(2):
        e = em[b].reshape(20, -1)
        alpha = [e[0] / e[0].sum()]
        for t in range(1, 20):
            nxt = (alpha[-1] @ a) * e[t]
            alpha.append(nxt / nxt.sum())
        beta = [np.ones(720)]
        for t in range(19, 0, -1):
            prev = a @ (e[t] * beta[0])
            beta.insert(0, prev / prev.sum())
        post = np.array(alpha) * np.array(beta)
        expected = post[:, 360:].sum(axis=1) / post.sum(axis=1)
        np.testing.assert_allclose(got[b], expected, rtol=1e-10, atol=1e-14)
