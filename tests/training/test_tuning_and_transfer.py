"""Timbre-transfer helpers: tuning (ddsp colab_utils' get_tuning_factor / auto_tune), the
octave rule and the feature adjustments, against constructed cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from ddsp_ref.core import hz_to_midi, midi_to_hz
from ddsp_ref.training.postprocessing import detect_notes
from ddsp_ref.training.quantile import QuantileTransformer
from ddsp_ref.training.transfer import TransferSettings, adjust_features, octave_shift
from ddsp_ref.training.tuning import auto_tune, get_tuning_factor


def _melody(offset, notes=(67, 69, 71, 72, 74, 76, 78, 79), frames=40, wobble=0.05, seed=0):
    rng = np.random.default_rng(seed)
    f0 = np.repeat(np.asarray(notes, float), frames) + offset
    return f0 + wobble * rng.standard_normal(f0.size)


@pytest.mark.parametrize("offset", [-0.3, 0.0, 0.2, 0.45])
def test_tuning_factor_finds_the_grid_offset(offset):
    f0 = _melody(offset)
    tuning = get_tuning_factor(f0, np.ones_like(f0), np.ones(f0.size, bool))
    wrapped = (tuning - offset + 0.5) % 1.0 - 0.5  # +0.5 and -0.5 are the same grid
    assert abs(wrapped) <= 0.03


def test_tuning_factor_ignores_frames_outside_notes_and_degenerate_input():
    f0 = _melody(0.2)
    mask = np.ones(f0.size, bool)
    f0_bad = f0.copy()
    f0_bad[:40] += 0.5  # a note played a quarter-tone off, masked out
    mask[:40] = False
    assert abs(get_tuning_factor(f0_bad, np.ones_like(f0), mask) - 0.2) <= 0.03
    assert get_tuning_factor(f0[:1], np.ones(1), np.ones(1, bool)) == 0.0


def test_chromatic_auto_tune_moves_the_given_fraction_towards_the_grid():
    f0 = np.array([60.1, 61.85, 64.3, 66.5])
    # A deviation of exactly +0.5 counts as above the lower note (ddsp: only > 0.5 wraps).
    np.testing.assert_allclose(auto_tune(f0, 0.0, np.ones(4, bool), 1.0, chromatic=True),
                               [60.0, 62.0, 64.0, 66.0])
    half = auto_tune(f0, 0.1, np.ones(4, bool), 0.5, chromatic=True)
    np.testing.assert_allclose(half, f0 - 0.5 * np.array([0.0, -0.25, 0.2, 0.4]), atol=1e-12)
    np.testing.assert_allclose(auto_tune(f0, 0.3, np.ones(4, bool), 0.0), f0)


def test_scale_auto_tune_snaps_to_the_best_fitting_major_scale():
    # A G major melody (F#, no F) slightly out of tune; the frame at 65.4 (between F and F#)
    # must go to F# (66), the G major note, not to F (65).
    f0 = _melody(0.0, wobble=0.1)
    probe = np.concatenate([f0, [65.4, 60.2]])
    mask = np.concatenate([np.ones(f0.size, bool), [False, False]])
    tuned = auto_tune(probe, 0.0, mask, amount=1.0)
    g_major = {(7 + s) % 12 for s in (0, 2, 4, 5, 7, 9, 11)}
    assert all(round(x) % 12 in g_major for x in tuned)
    np.testing.assert_allclose(tuned[-2:], [66.0, 60.0])
    np.testing.assert_allclose(tuned[:-2], np.repeat([67, 69, 71, 72, 74, 76, 78, 79], 40.0))


@pytest.mark.parametrize(
    "dataset, inputs, octaves",
    [(72, 48, 2), (72, 57.6, 2), (72, 84, -1), (72, 72, 0), (72, 68, 1), (72, 30, 3)],
)
def test_octave_rule_is_the_colabs(dataset, inputs, octaves):
    # d = 2 -> floor 2; 1.2 -> ceil 2; -1 -> -1; 0 -> 0; 0.33 -> ceil 1; 3.5 -> floor 3
    assert octave_shift(dataset, inputs) == octaves


def _features(n=500, seed=0):
    rng = np.random.default_rng(seed)
    on = (np.arange(n) // 50) % 2 == 0  # alternating 50-frame notes and rests
    loudness = np.where(on, -30 + 6 * rng.standard_normal(n), -75.0)
    confidence = np.where(on, 0.95, 0.05)
    f0 = np.where(on, midi_to_hz(55 + 0.0 * rng.standard_normal(n)), 0.0)
    return {"f0_hz": f0, "f0_confidence": confidence, "loudness_db": loudness}


def test_adjustments_shift_octaves_match_loudness_quantiles_and_quiet_rests():
    features = _features()
    target = np.random.default_rng(1).uniform(-40, -10, 5000)
    statistics = {"mean_pitch": 79.0,  # two octaves above the input's 55
                  "quantile_transform": QuantileTransformer().fit(target[:, None])}
    settings = TransferSettings(quiet=20.0)
    out, info = adjust_features(features, statistics, settings)
    mask, ratio = detect_notes(features["loudness_db"], features["f0_confidence"])
    assert info["adjusted"] and info["octaves"] == 2 and info["n_note_frames"] == mask.sum()
    np.testing.assert_allclose(hz_to_midi(out["f0_hz"][mask]), 79.0, atol=1e-3)
    # Note frames now follow the dataset's loudness distribution (uniform -40..-10 dB):
    on = out["loudness_db"][mask]
    assert abs(np.median(on) + 25.0) < 1.0 and on.min() >= -40.1 and on.max() <= -9.9
    # Their order is kept (a monotone map of the input's loudness).
    assert np.all(np.diff(on[np.argsort(features["loudness_db"][mask])]) >= -1e-4)
    rest = ~mask
    expected = features["loudness_db"][rest] - 20.0 * (1.0 - ratio[rest])
    np.testing.assert_allclose(out["loudness_db"][rest], expected, rtol=1e-5)


def test_manual_shifts_and_no_statistics():
    features = _features()
    out, info = adjust_features(features, None, TransferSettings(pitch_shift=-1, loudness_shift=6))
    assert not info["adjusted"] and info["octaves"] == 0
    np.testing.assert_allclose(out["f0_hz"], features["f0_hz"] / 2, rtol=1e-6)
    np.testing.assert_allclose(out["loudness_db"], features["loudness_db"] + 6, rtol=1e-6)


@pytest.mark.parametrize("bad", [{"autotune": 1.5}, {"quiet": float("nan")}])
def test_settings_are_validated(bad):
    with pytest.raises(ValueError):
        TransferSettings(**bad)
