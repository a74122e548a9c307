"""detect_notes, smooth, QuantileTransformer (against scikit-learn's numbers) and statistics."""

from __future__ import annotations

import numpy as np
import pytest

from ddsp_ref.spectral_ops import compute_power
from ddsp_ref.training.data import InMemoryProvider
from ddsp_ref.training.postprocessing import (
    QuantileTransformer,
    compute_dataset_statistics,
    detect_notes,
    fit_quantile_transform,
    load_dataset_statistics,
    save_dataset_statistics,
    smooth,
)


def box_same(x: np.ndarray, size: int) -> np.ndarray:
    """TF conv1d 'SAME' with a box filter, by a direct loop: pad (size-1)//2 left, rest right."""
    left = (size - 1) // 2
    out = np.zeros(x.shape)
    for t in range(x.shape[-1]):
        for k in range(size):
            i = t - left + k
            if 0 <= i < x.shape[-1]:
                out[..., t] += x[..., i] / size
    return out


@pytest.mark.parametrize("size", [1, 3, 4, 40])
def test_smooth_is_tf_same_box_filter(size):
    x = np.random.default_rng(size).normal(size=(2, 57))
    np.testing.assert_allclose(smooth(x, size), box_same(x, size), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(smooth(x[0], size), box_same(x[0], size), rtol=1e-5, atol=1e-6)


def test_detect_notes_hand_values():
    loudness = np.array([-80.0, -20.0, -20.0, -80.0])
    confidence = np.array([0.0, 1.0, 1.0, 0.5])
    mask, ratio = detect_notes(loudness, confidence, smoothing=1)
    # mean(ld) = -50: threshold (-50 + 80) * 0.7^2 = 14.7; score conf^2 * (ld + 80).
    np.testing.assert_allclose(ratio, [0.0, 60 / 14.7, 60 / 14.7, 0.0])
    np.testing.assert_array_equal(mask, [False, True, True, False])


# scikit-learn 1.9.1, QuantileTransformer(n_quantiles=6) fitted on X_FIT (peer environment).
X_FIT = np.array([3.0, -1.0, 2.0, 2.0, 2.0, 7.0, 0.5, 10.0, -4.0, 2.0])[:, None]
X_IN = np.array([-5.0, -4.0, -1.0, 0.0, 2.0, 2.5, 6.0, 10.0, 11.0, np.nan])[:, None]
U_IN = np.array([0.0, 0.1, 0.35, 0.5, 0.9, 1.0])[:, None]
N_IN = np.array([-6.0, -1.0, 0.0, 0.3, 1.0, 6.0])[:, None]
SK_QUANTILES = [-4.0, 0.2, 2.0, 2.0, 3.8, 10.0]
SK_UNIFORM = [0.0, 0.0, 0.14285714, 0.19047619, 0.5, 0.65555556, 0.87096774, 1.0, 1.0, np.nan]
SK_UNIFORM_INV = [-4.0, -1.9, 1.55, 2.0, 6.9, 10.0]
SK_NORMAL = [
    -5.19933758,
    -5.19933758,
    -1.06757052,
    -0.87614285,
    0.0,
    0.40036338,
    1.13097761,
    5.19933758,
    5.19933758,
    np.nan,
]
SK_NORMAL_INV = [-4.0, -0.66823967, 2.0, 2.1612028, 5.08168713, 10.0]


def test_quantile_transformer_matches_scikit_learn():
    q = QuantileTransformer(n_quantiles=6).fit(X_FIT)
    np.testing.assert_allclose(q.quantiles_[:, 0], SK_QUANTILES)
    np.testing.assert_allclose(q.transform(X_IN)[:, 0], SK_UNIFORM, rtol=1e-7)
    np.testing.assert_allclose(q.inverse_transform(U_IN)[:, 0], SK_UNIFORM_INV, rtol=1e-7)
    n = QuantileTransformer(n_quantiles=6, output_distribution="normal").fit(X_FIT)
    np.testing.assert_allclose(n.transform(X_IN)[:, 0], SK_NORMAL, rtol=1e-7)
    np.testing.assert_allclose(n.inverse_transform(N_IN)[:, 0], SK_NORMAL_INV, rtol=1e-7)
    restored = QuantileTransformer.from_dict(q.to_dict())
    np.testing.assert_array_equal(restored.transform(X_IN), q.transform(X_IN))


def test_quantile_transformer_errors():
    with pytest.raises(ValueError, match="call fit first"):
        QuantileTransformer().transform(X_FIT)
    with pytest.raises(ValueError, match="n_samples, n_features"):
        QuantileTransformer().fit(np.zeros(3))
    with pytest.raises(ValueError, match="output_distribution"):
        QuantileTransformer(output_distribution="beta")


def test_fit_quantile_transform_maps_note_frames_between_datasets():
    rng = np.random.default_rng(0)
    source = rng.uniform(-60, -20, size=(2, 50))
    target_q = fit_quantile_transform(rng.uniform(-40, 0, size=400), np.ones(400, bool))
    mask = np.zeros((2, 50), bool)
    mask[:, 10:40] = True
    mapped = fit_quantile_transform(source, mask, inv_quantile=target_q)
    assert mapped.shape == (100, 1)
    np.testing.assert_array_equal(mapped[~mask.ravel(), 0], source.ravel()[~mask.ravel()])
    # Ranks are kept and values land in the target's range.
    inside = mapped[mask.ravel(), 0]
    assert np.all(np.argsort(inside) == np.argsort(source.ravel()[mask.ravel()]))
    assert inside.min() >= -40 - 1e-9 and inside.max() <= 0 + 1e-9


def _note_examples(n_frames=120, hop=64):
    """Two examples: a note on frames 20-79 (f0 440 / 220 Hz, -20 dB), quiet elsewhere."""
    t = np.arange(n_frames * hop) / 16000
    examples = []
    for hz in (440.0, 220.0):
        on = np.zeros(n_frames, bool)
        on[20:80] = True
        audio = np.where(np.repeat(on, hop), 0.1 * np.sin(2 * np.pi * hz * t), 0.0)
        examples.append(
            {
                "audio": audio.astype(np.float32),
                "f0_hz": np.full(n_frames, hz, np.float32),
                "f0_confidence": on.astype(np.float32),
                "loudness_db": np.where(on, -20.0, -70.0).astype(np.float32),
            }
        )
    return examples


def test_dataset_statistics_against_hand_values(tmp_path):
    examples = _note_examples()
    provider = InMemoryProvider(examples)
    stats = compute_dataset_statistics(provider, batch_size=1)
    # Pitch: MIDI 69 and 57 on every frame; loudness -20 on 60 note frames, -70 on 40 others
    # (20 trimmed of 120).
    assert stats["mean_pitch"] == pytest.approx(63.0, abs=1e-4)
    assert stats["max_pitch"] == pytest.approx(69.0, abs=1e-4)
    assert stats["mean_max_pitch"] == pytest.approx(63.0, abs=1e-4)
    assert stats["std_pitch"] == pytest.approx(6.0, abs=1e-4)
    assert stats["mean_loudness"] == pytest.approx((60 * -20 + 40 * -70) / 100)
    assert stats["min_loudness"] == -70 and stats["max_loudness"] == -20
    # Note frames, from the definition: smooth(conf^2, 40) (ld + 80) / ((mean ld + 80) 0.49).
    loud = np.stack([e["loudness_db"][:-20] for e in examples]).astype(np.float64)
    conf = np.stack([e["f0_confidence"][:-20] for e in examples]).astype(np.float64)
    mask = box_same(conf**2, 40) * (loud + 80) / ((loud.mean() + 80) * 0.49) >= 1.0
    assert 0 < mask.sum() < mask.size
    assert stats["mean_loudness_note"] == pytest.approx(loud[mask].mean())
    assert stats["std_pitch_note"] == pytest.approx(
        np.std(np.where(mask, [[69.0], [57.0]], np.nan)[mask]), abs=1e-4
    )
    power = np.asarray(
        compute_power(np.stack([e["audio"] for e in examples]), frame_rate=50, frame_size=1024)
    )[:, :-20]
    assert stats["max_power"] == pytest.approx(power.max())
    assert stats["mean_power"] == pytest.approx(power.mean(), rel=1e-6)
    qt = stats["quantile_transform"]
    np.testing.assert_allclose(qt.quantiles_[[0, -1], 0], [loud[mask].min(), loud[mask].max()])
    saved = save_dataset_statistics(provider, str(tmp_path / "stats.json"))
    loaded = load_dataset_statistics(str(tmp_path / "stats.json"))
    assert set(loaded) == set(saved)
    np.testing.assert_array_equal(
        loaded["quantile_transform"].quantiles_, saved["quantile_transform"].quantiles_
    )
    assert loaded["mean_pitch_note"] == saved["mean_pitch_note"]


def test_detect_notes_on_silence_finds_none_without_nan():
    import warnings

    from ddsp_ref.training.postprocessing import detect_notes

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mask, ratio = detect_notes(np.full(300, -80.0), np.ones(300))
    assert not mask.any() and np.all(ratio == 0)
