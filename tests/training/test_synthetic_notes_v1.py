"""ddsp's ``synthetic_data.generate_notes`` (v1, DDSP-INV's self-supervision data): ddsp's exact
notes for a seed (record_inv_golden.py), the controls' relations (independent float64
formulas), a numpy Generator, extremes and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ddsp_ref.training.data_preparation.synthetic_data import generate_notes

from .inv_setup import GOLDEN

KEYS = ("harm_amp", "harm_dist", "f0_hz", "sin_amps", "sin_freqs", "noise_magnitudes")


@pytest.mark.parametrize("seed", [0, 1, 7, 2026])
@pytest.mark.parametrize("get_controls", [True, False])
def test_matches_ddsp_for_a_seed(seed, get_controls):
    notes = generate_notes(2, 20, 8, 5, get_controls=get_controls, seed=seed)
    assert sorted(notes) == sorted(KEYS)
    for k in KEYS:
        want = GOLDEN[f"notes{seed}_{int(get_controls)}/{k}"]
        assert notes[k].shape == want.shape and notes[k].dtype == np.float32
        np.testing.assert_allclose(notes[k], want, rtol=2e-6, atol=1e-6 * np.abs(want).max())


def test_controls_relations_float64():
    n = generate_notes(3, 50, 12, 4, seed=np.random.default_rng(5))
    f0 = n["f0_hz"].astype(np.float64)
    midi = 12 * np.log2(f0 / 440.0) + 69
    assert midi.min() >= 24 - 1e-4 and midi.max() <= 84 + 1e-4
    np.testing.assert_allclose(n["harm_dist"].sum(-1), 1.0, rtol=1e-5)
    assert 0 < n["harm_amp"].min() and n["harm_amp"].max() < 2.0 + 1e-6
    # noise logits in [-6, 0) through exp_sigmoid: below exp_sigmoid(0) = 0.405
    assert 0 < n["noise_magnitudes"].min() and n["noise_magnitudes"].max() < 0.41
    # harmonic_to_sinusoidal: f0 * k, amplitude * distribution, zero at or above 8 kHz
    k = np.arange(1, 13)
    np.testing.assert_allclose(n["sin_freqs"], f0 * k, rtol=1e-6)
    want = np.where(f0 * k >= 8000.0, 0.0, n["harm_amp"] * n["harm_dist"])
    np.testing.assert_allclose(n["sin_amps"], want, rtol=1e-5, atol=1e-12)


def test_seeding():
    a = generate_notes(1, 30, seed=3)
    b = generate_notes(1, 30, seed=np.random.RandomState(3))
    c = generate_notes(1, 30, seed=4)
    for k in KEYS:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["f0_hz"], c["f0_hz"])
    g = np.random.default_rng(0)
    first, second = generate_notes(1, 30, seed=g), generate_notes(1, 30, seed=g)
    assert not np.array_equal(first["harm_amp"], second["harm_amp"])  # the state advances
    np.testing.assert_array_equal(
        generate_notes(1, 30, seed=np.random.default_rng(0))["harm_amp"], first["harm_amp"]
    )


def test_one_frame_and_defaults():
    n = generate_notes(1, 1, seed=0)
    assert n["harm_dist"].shape == (1, 1, 100) and n["noise_magnitudes"].shape == (1, 1, 65)
    assert all(np.isfinite(v).all() for v in n.values())


def test_bad_input():
    with pytest.raises(ValueError, match="n_timesteps"):
        generate_notes(1, 0)
    with pytest.raises(ValueError, match="n_harmonics"):
        generate_notes(1, 10, n_harmonics=0)
    with pytest.raises((TypeError, ValueError), match="n_batch"):
        generate_notes(1.5, 10)
