"""ddsp_ref.training.metrics against hand-made cases: f0 tracks with known semitone / cent errors,
raw pitch and chroma accuracy counted by hand from mir_eval's definitions, confidence
thresholds, loudness offsets known in closed form (a gain of 2 is +20 log10(2) dB), the
keras-style accumulators, and the tracker-based metrics on sine tones."""

from __future__ import annotations

import numpy as np
import pytest

from ddsp_ref.spectral_ops import get_framed_lengths
from ddsp_ref.training import metrics

SR = 16000


def sine(freq_hz, n_samples, amp=0.3, sr=SR):
    return (amp * np.sin(2 * np.pi * freq_hz * np.arange(n_samples) / sr)).astype(np.float32)


class FakeWriter:
    def __init__(self):
        self.scalars = []

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, value, step))


def test_constants_are_ddsps():
    assert metrics.MIN_F0_CONFIDENCE == 0.85
    assert metrics.OUTLIER_MIDI_THRESH == 12


def test_hz2cents_is_1200_log2_over_10_hz_and_zero_for_zero():
    f = np.array([0.0, 10.0, 20.0, 440.0, -440.0])
    expected = [0.0, 0.0, 1200.0, 1200 * np.log2(44.0), 1200 * np.log2(44.0)]
    np.testing.assert_allclose(metrics.hz2cents(f), expected, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(metrics.hz2cents(np.array([880.0]), base_frequency=440.0), [1200])


def _cents_track(errors_cents, base_hz=200.0):
    return base_hz * 2.0 ** (np.asarray(errors_cents, float) / 1200.0)


def test_raw_pitch_and_chroma_accuracy_by_hand():
    # 10 reference frames: 8 voiced at 200 Hz, 2 unvoiced (0 Hz).
    ref_hz = np.array([200.0] * 8 + [0.0, 0.0])
    est_errors = [0, 10, 49.9, 50.0, -30, 1200, 2410, -1190]
    est_hz = np.concatenate([_cents_track(est_errors), [200.0, 200.0]])
    est_hz[7] = 0.0  # an estimate of 0 Hz never counts, whatever the error would be
    voicing = (ref_hz > 0).astype(float)
    ref_c, est_c = metrics.hz2cents(ref_hz), metrics.hz2cents(est_hz)
    # within 50 cents (strict): 0, 10, 49.9, -30 -> 4 of 8 voiced frames
    rpa = metrics.raw_pitch_accuracy(voicing, ref_c, voicing, est_c)
    assert rpa == pytest.approx(4 / 8, abs=1e-12)
    # chroma also forgives octaves: 1200 (0 off) counts, 2410 (10 off) counts -> 6 of 8
    rca = metrics.raw_chroma_accuracy(voicing, ref_c, voicing, est_c)
    assert rca == pytest.approx(6 / 8, abs=1e-12)
    # a wider tolerance takes the 50-cent frame too
    assert metrics.raw_pitch_accuracy(voicing, ref_c, voicing, est_c, 50.01) == pytest.approx(5 / 8)
    # no voiced reference frame: 0 by definition
    zero = np.zeros(10)
    assert metrics.raw_pitch_accuracy(zero, ref_c, zero, est_c) == 0.0
    with pytest.raises(ValueError, match="one length"):
        metrics.raw_pitch_accuracy(voicing, ref_c, voicing, est_c[:5])


def test_raw_pitch_accuracy_weights_by_continuous_voicing():
    ref_c = metrics.hz2cents(np.full(4, 300.0))
    est_c = metrics.hz2cents(_cents_track([0, 0, 100, 100], 300.0))
    voicing = np.array([1.0, 0.5, 0.25, 0.25])
    assert metrics.raw_pitch_accuracy(voicing, ref_c, voicing, est_c) == pytest.approx(1.5 / 2)


def test_f0_dist_conf_thresh_is_the_mean_semitone_error_on_confident_frames():
    semitones = np.array([0.0, 1.0, -2.0, 3.0, 12.0, -7.0])
    f0 = np.full(6, 220.0)
    f0_gen = 220.0 * 2.0 ** (semitones / 12.0)
    conf = np.array([0.9, 0.85, 0.2, 1.0, 0.84999, 0.86])
    kept = np.abs(semitones[[0, 1, 3, 5]])  # confidence >= 0.85, 0.85 itself included
    assert metrics.f0_dist_conf_thresh(f0, f0_gen, conf) == pytest.approx(kept.mean(), abs=1e-9)
    # another threshold, a trailing channel axis as ddsp's [batch, time, 1] features
    got = metrics.f0_dist_conf_thresh(f0[:, None], f0_gen[:, None], conf[:, None], 0.5)
    assert got == pytest.approx(np.abs(semitones[[0, 1, 3, 4, 5]]).mean(), abs=1e-9)
    # no frame confident enough: None
    assert metrics.f0_dist_conf_thresh(f0, f0_gen, np.full(6, 0.5)) is None
    # float32 features (as providers give them) agree to float32 precision
    got32 = metrics.f0_dist_conf_thresh(*(x.astype(np.float32) for x in (f0, f0_gen, conf)))
    assert got32 == pytest.approx(kept.mean(), abs=1e-4)
    # one frame
    assert metrics.f0_dist_conf_thresh(f0[:1], f0_gen[1:2], conf[:1]) == pytest.approx(1.0)
    # 0 Hz is MIDI 0 (ddsp's -inf fix-up): 0 Hz against 440 Hz (MIDI 69) is 69 semitones
    d = metrics.f0_dist_conf_thresh(np.array([440.0]), np.array([0.0]), np.array([1.0]))
    assert d == pytest.approx(69.0)


def test_f0_error_cents_on_known_offsets():
    cents = np.array([5.0, -20.0, 0.0, 100.0, 33.0])
    f0 = np.array([100.0, 200.0, 0.0, 400.0, 150.0])
    f0_gen = f0 * 2.0 ** (cents / 1200.0)
    # the 0 Hz frame is left out
    assert metrics.f0_error_cents(f0, f0_gen) == pytest.approx(np.mean([5, 20, 100, 33]))
    voicing = np.array([1, 1, 1, 0, 1])
    assert metrics.f0_error_cents(f0, f0_gen, voicing) == pytest.approx(np.mean([5, 20, 33]))
    assert metrics.f0_error_cents(np.zeros(3), np.ones(3)) is None


def test_mean_and_accuracy_follow_keras():
    mean = metrics.Mean("x")
    assert mean.result() == 0.0  # keras' divide_no_nan
    mean.update_state(2.0)
    mean.update_state(np.array([4.0, 6.0]))
    assert mean.result() == pytest.approx(4.0)
    mean.update_state(10.0, sample_weight=3.0)
    assert mean.result() == pytest.approx((2 + 4 + 6 + 30) / 6)
    mean.reset_states()
    assert mean.result() == 0.0 and mean.count == 0
    acc = metrics.Accuracy("outlier_ratio")
    for outlier in (True, False, False, True):
        acc.update_state(True, outlier)
    assert acc.result() == pytest.approx(0.5)


def test_loudness_metrics_known_offsets():
    audio = np.stack([sine(330, 8000), sine(500, 8000, amp=0.1)])
    lm = metrics.LoudnessMetrics(SR, 250)
    # a gain of 2 raises every frame above the floor by 20 log10(2) dB
    lm.update_state({"audio": audio}, 2 * audio)
    assert lm.result()["loudness_db"] == pytest.approx(20 * np.log10(2), abs=1e-3)
    lm.reset()
    # against given loudness_db with a known offset; the longer track is cut at the end
    from ddsp_ref.spectral_ops import compute_loudness

    ld = np.asarray(compute_loudness(audio, SR, 250))
    batch = {"loudness_db": np.concatenate([ld - 3.0, np.zeros((2, 5))], axis=1)[:, :-4]}
    lm.update_state(batch, audio)
    assert lm.result()["loudness_db"] == pytest.approx(3.0, abs=1e-4)
    writer = FakeWriter()
    scalars = lm.flush(7, writer)
    assert scalars == {"metrics/loudness/loudness_db": pytest.approx(3.0, abs=1e-4)}
    assert writer.scalars == [("metrics/loudness/loudness_db", scalars[next(iter(scalars))], 7)]
    assert lm.result()["loudness_db"] == 0.0  # flushed means reset


def _f0_batch(f0_rows, conf_rows):
    return {"f0_hz": np.array(f0_rows, float), "f0_confidence": np.array(conf_rows, float)}


def test_f0_metrics_skip_untrackable_examples_and_count_by_hand():
    n = 8
    f0 = np.full(n, 250.0)
    batch = _f0_batch([f0, f0], [np.full(n, 0.5), np.full(n, 0.95)])  # example 0 untrackable
    errors = np.array([0, 0, 0, 0, 120, 120, 1200, -25.0])  # cents
    predict = np.stack([f0 * 3.0, f0 * 2.0 ** (errors / 1200)])
    fm = metrics.F0Metrics(SR, 250)
    fm.update_state(batch, predict[..., None])  # ddsp's [batch, time, 1]
    result = fm.result()
    assert result["raw_pitch_accuracy"] == pytest.approx(5 / 8)
    assert result["raw_chroma_accuracy"] == pytest.approx(6 / 8)
    assert result["f0_dist"] == pytest.approx(np.abs(errors).mean() / 100)
    assert fm.metrics["f0_dist"].count == 1  # only the trackable example
    assert sorted(fm.flush(1)) == ["metrics/f0/f0_dist", "metrics/f0/raw_chroma_accuracy",
                                   "metrics/f0/raw_pitch_accuracy"]  # fmt: skip


def test_f0_metrics_voicing_confidence_option():
    f0 = np.full(4, 300.0)
    batch = _f0_batch([f0], [[1.0, 1.0, 0.1, 0.1]])
    predict = np.array([[300.0, 300.0, 600.0, 600.0]])
    ddsp_like = metrics.F0Metrics(SR, 250)
    ddsp_like.update_state(batch, predict)
    assert ddsp_like.result()["raw_pitch_accuracy"] == pytest.approx(0.5)
    by_conf = metrics.F0Metrics(SR, 250, voicing_confidence=0.85)
    by_conf.update_state(batch, predict)
    assert by_conf.result()["raw_pitch_accuracy"] == pytest.approx(1.0)


def test_f0_metrics_resample_the_ground_truth_to_the_prediction_length():
    f0 = np.full(10, 200.0)
    batch = _f0_batch([f0], [np.ones(10)])
    original = {k: v.copy() for k, v in batch.items()}
    fm = metrics.F0Metrics(SR, 250)
    fm.update_state(batch, np.full((1, 20), 200.0 * 2 ** (1 / 12)))
    assert fm.result()["f0_dist"] == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_array_equal(batch["f0_hz"], original["f0_hz"])  # not modified


def test_compute_audio_features_frames_and_pitch():
    n = 8000
    feats = metrics.compute_audio_features(sine(440, n)[None], 250)
    n_frames = 1 + n // 64
    assert feats["loudness_db"].shape == (n_frames,)  # [1, n] is squeezed, as ddsp
    assert feats["f0_hz"].shape == feats["f0_confidence"].shape == (n_frames,)
    interior = slice(10, -10)
    np.testing.assert_allclose(feats["f0_hz"][interior], 440.0, rtol=0.003)
    assert np.all(feats["f0_confidence"][interior] > 0.9)
    # another sample rate: frames follow sample_rate // frame_rate
    feats8k = metrics.compute_audio_features(sine(300, 4000, sr=8000), 100, sample_rate=8000)
    assert feats8k["f0_hz"].shape == (get_framed_lengths(4000, 512, 80, "center")[0],)
    np.testing.assert_allclose(np.median(feats8k["f0_hz"]), 300.0, rtol=0.003)


def test_f0_crepe_metrics_on_sines():
    n, rate = 8000, 250
    n_frames = 1 + n // (SR // rate)
    truth = _f0_batch([np.full(n_frames, 440.0)] * 4, [np.ones(n_frames)] * 4)
    generated = np.stack([
        sine(440, n),  # the same tone
        sine(440 * 2 ** (1 / 12), n),  # a semitone sharp
        np.zeros(n, np.float32),  # silence: tracked at the lowest bin, far off
        sine(440 / 4, n),  # two octaves low: 24 semitones, an outlier
    ])  # fmt: skip
    cm = metrics.F0CrepeMetrics(SR, rate)
    cm.update_state(truth, generated)
    result = cm.result()
    assert result["outlier_ratio"] == pytest.approx(2 / 4)
    # f0_dist averages the two non-outliers: ~0 and ~1 semitone
    assert result["f0_dist"] == pytest.approx(0.5, abs=0.02)
    # raw pitch accuracy over all four trackable examples: only the first is within 50 cents
    assert result["raw_pitch_accuracy"] == pytest.approx(1 / 4, abs=0.01)
    # chroma forgives the two octaves
    assert result["raw_chroma_accuracy"] == pytest.approx(2 / 4, abs=0.01)
    cm.reset()
    # untrackable ground truth: nothing counted at all
    cm.update_state(_f0_batch([np.full(n_frames, 440.0)], [np.zeros(n_frames)]), generated[:1])
    assert cm.metrics["outlier_ratio"].count == 0 and cm.metrics["f0_dist"].count == 0
    # no f0 in the batch: the ground truth is tracked from its audio
    cm.update_state({"audio": generated[:1]}, generated[:1])
    assert cm.result()["raw_pitch_accuracy"] > 0.97 and cm.result()["outlier_ratio"] == 0
