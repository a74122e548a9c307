"""ddsp_ref.training.preprocessing: the scaling helpers against their formulas, and the
preprocessors' frame counts and resampling against a direct numpy linear interpolation
(TF1's legacy resize: source position ``i * n_in / n_out`` in float32, last frame held)."""

from __future__ import annotations

import numpy as np
import pytest

from ddsp_ref import spectral_ops
from ddsp_ref.training import preprocessing as pp

DTYPES = [np.float32, np.float64]


def np_resample_linear(x, n_out):
    """``[batch, n_in]`` -> ``[batch, n_out]`` by TF1's legacy (align_corners=False) linear
    resize, in float64 arithmetic on float32 source positions."""
    x = np.asarray(x, np.float64)
    n_in = x.shape[1]
    pos = np.arange(n_out, dtype=np.float32) * np.float32(n_in / n_out)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = (pos - lo).astype(np.float64)
    return x[:, lo] * (1 - frac) + x[:, hi] * frac


def np_hz_to_midi(f):
    f = np.asarray(f, np.float64)
    with np.errstate(divide="ignore"):
        midi = 12 * (np.log2(f) - np.log2(440.0)) + 69
    return np.where(f > 0, midi, 0.0)


def _audio(n, seed=0, dtype=np.float32, batch=2):
    t = np.arange(n) / 16000
    rng = np.random.default_rng(seed)
    tone = 0.5 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal((batch, n))
    return tone.astype(dtype)


# -- helpers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_scale_db_formulas_and_inverse(dtype):
    db = np.array([-120.0, -80.0, -40.0, -6.0, 0.0, 3.0], dtype)
    s = pp.scale_db(db)
    np.testing.assert_allclose(s, db.astype(np.float64) / 80 + 1, rtol=1e-6)
    assert s.dtype == dtype
    np.testing.assert_allclose(pp.scale_db(np.array([-80.0, 0.0], dtype)), [0.0, 1.0])
    np.testing.assert_allclose(pp.inv_scale_db(s), db, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(pp.inv_scale_db(db), (db.astype(np.float64) - 1) * 80, rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_scale_f0_hz_formulas_and_inverse(dtype):
    f0 = np.array([[0.0, 8.1758, 27.5, 440.0, 1000.0, 8000.0]], dtype)
    s = pp.scale_f0_hz(f0)
    assert s.dtype == dtype and s.shape == f0.shape
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(s, np_hz_to_midi(f0) / 127, rtol=tol, atol=tol)
    assert s[0, 0] == 0.0  # 0 Hz -> MIDI 0
    np.testing.assert_allclose(s[0, 3], 69 / 127, rtol=tol)
    back = pp.inv_scale_f0_hz(s)
    np.testing.assert_allclose(back[0, 1:], f0[0, 1:], rtol=10 * tol)
    np.testing.assert_allclose(back[0, 0], 440 * 2 ** (-69 / 12), rtol=tol)  # MIDI 0 -> 8.18 Hz
    np.testing.assert_allclose(
        pp.inv_scale_f0_hz(np.array([0.25, 0.5], dtype)),
        440 * 2 ** ((np.array([0.25, 0.5]) * 127 - 69) / 12),
        rtol=10 * tol,
    )


@pytest.mark.parametrize(
    "shape,expected",
    [((), (1, 1, 1)), ((5,), (1, 5, 1)), ((2, 5), (2, 5, 1)), ((2, 5, 3), (2, 5, 3))],
)
def test_at_least_3d(shape, expected):
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    y = pp.at_least_3d(x)
    assert y.shape == expected
    np.testing.assert_array_equal(np.ravel(y), np.ravel(x))


# -- F0LoudnessPreprocessor ------------------------------------------------------------------
def test_default_loudness_is_recomputed_with_1001_frames_and_stretched_to_1000():
    audio = _audio(64000, batch=1)  # 4 s at 16 kHz
    f0 = np.full((1, 1000), 440.0, np.float32)
    f0[0, 500:] = 220.0
    dataset_loudness = np.full((1, 1000), -20.0, np.float32)  # ignored by default
    pre = pp.F0LoudnessPreprocessor()
    assert (pre.time_steps, pre.frame_rate, pre.sample_rate) == (1000, 250, 16000)
    out = pre({"audio": audio, "f0_hz": f0, "loudness_db": dataset_loudness})
    assert sorted(out) == ["f0_hz", "f0_scaled", "ld_scaled", "loudness_db"]
    for v in out.values():
        assert v.shape == (1, 1000, 1)
    recomputed = spectral_ops.compute_loudness(audio, 16000, 250)
    assert recomputed.shape == (1, 1001)  # centre padding: 1 + 64000 // 64
    expected_ld = np_resample_linear(recomputed, 1000)
    np.testing.assert_allclose(out["loudness_db"][..., 0], expected_ld, rtol=1e-5, atol=1e-4)
    # The stretch is real: frame 1000 of the recomputed loudness is reached only at the end.
    assert not np.allclose(expected_ld, recomputed[:, :1000], atol=1e-3)
    np.testing.assert_allclose(out["f0_hz"][..., 0], f0)  # 1000 -> 1000 is the identity
    np.testing.assert_allclose(out["ld_scaled"], out["loudness_db"] / 80 + 1, rtol=1e-6)
    np.testing.assert_allclose(out["f0_scaled"][..., 0], np_hz_to_midi(f0) / 127, rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_frames,time_steps", [(250, 1000), (251, 250), (1, 4), (7, 3)])
def test_dataset_features_are_resampled_linearly(dtype, n_frames, time_steps):
    rng = np.random.default_rng(n_frames)
    f0 = rng.uniform(50, 1000, (2, n_frames)).astype(dtype)
    ld = rng.uniform(-90, 0, (2, n_frames)).astype(dtype)
    pre = pp.F0LoudnessPreprocessor(time_steps=time_steps, compute_loudness=False)
    out = pre({"f0_hz": f0, "loudness_db": ld})
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out["f0_hz"][..., 0], np_resample_linear(f0, time_steps), rtol=tol)
    np.testing.assert_allclose(
        out["loudness_db"][..., 0], np_resample_linear(ld, time_steps), rtol=tol, atol=tol
    )
    for v in out.values():
        assert v.shape == (2, time_steps, 1) and v.dtype == dtype


def test_one_second_at_250_frames_for_the_model_setup():
    audio = _audio(16000)
    f0 = np.full((2, 250), 330.0, np.float32)
    out = pp.F0LoudnessPreprocessor(time_steps=250)(
        {"audio": audio, "f0_hz": f0, "loudness_db": np.zeros((2, 250), np.float32)}
    )
    recomputed = spectral_ops.compute_loudness(audio, 16000, 250)
    assert recomputed.shape == (2, 251)
    np.testing.assert_allclose(
        out["loudness_db"][..., 0], np_resample_linear(recomputed, 250), rtol=1e-5, atol=1e-4
    )


def test_silence_gives_the_loudness_floor():
    audio = np.zeros((1, 16000), np.float32)
    out = pp.F0LoudnessPreprocessor(time_steps=250)(
        {"audio": audio, "f0_hz": np.zeros((1, 250), np.float32), "loudness_db": np.zeros((1, 250))}
    )
    np.testing.assert_allclose(out["loudness_db"], -80.0)
    np.testing.assert_allclose(out["ld_scaled"], 0.0, atol=1e-7)
    np.testing.assert_array_equal(out["f0_scaled"], 0.0)


def test_loudness_preprocessor_errors_and_inversion():
    pre = pp.F0LoudnessPreprocessor(time_steps=10)
    f0 = np.full((1, 10), 100.0, np.float32)
    with pytest.raises(ValueError, match="audio"):
        pre({"f0_hz": f0, "loudness_db": f0})
    with pytest.raises(KeyError, match="loudness_db"):
        pre({"f0_hz": f0, "audio": np.zeros((1, 640), np.float32)})
    with pytest.raises(ValueError, match="time_steps"):
        pp.F0LoudnessPreprocessor(time_steps=0)
    f0_hz, ld = pp.F0LoudnessPreprocessor.invert_scaling(pp.scale_f0_hz(f0), pp.scale_db(-f0 / 4))
    np.testing.assert_allclose(f0_hz, f0, rtol=1e-5)
    np.testing.assert_allclose(ld, -f0 / 4, rtol=1e-5)


# -- F0PowerPreprocessor ---------------------------------------------------------------------
def test_power_preprocessor_uses_dataset_power_else_computes_it():
    audio = _audio(16000)
    f0 = np.full((2, 250), 200.0, np.float32)
    pre = pp.F0PowerPreprocessor(time_steps=250)
    assert pre.frame_size == 64
    power = spectral_ops.compute_power(audio, 16000, 250, frame_size=64)
    assert power.shape == (2, 251)
    from_audio = pre({"audio": audio, "f0_hz": f0})
    assert sorted(from_audio) == ["f0_hz", "f0_scaled", "pw_db", "pw_scaled"]
    np.testing.assert_allclose(
        from_audio["pw_db"][..., 0], np_resample_linear(power, 250), rtol=1e-5, atol=1e-4
    )
    np.testing.assert_allclose(from_audio["pw_scaled"], from_audio["pw_db"] / 80 + 1, rtol=1e-6)
    given = np.linspace(-60, -10, 500, dtype=np.float32)[None].repeat(2, 0)
    both = pre({"audio": audio, "f0_hz": f0, "power_db": given})  # dataset power wins
    np.testing.assert_allclose(both["pw_db"][..., 0], np_resample_linear(given, 250), rtol=1e-5)
    with pytest.raises(ValueError, match="power_db"):
        pre({"f0_hz": f0})
