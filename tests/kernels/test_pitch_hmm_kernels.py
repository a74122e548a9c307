"""The pitch-HMM kernel family: numba CPU decoders against the array reference, and the
launcher's selection. Paths must be identical (same additions, same tie rule); posteriors equal
to float64 rounding."""

from __future__ import annotations

import numpy as np
import pytest

from ddsp_ref.kernels import pitch_hmm_cpu, pitch_hmm_reference
from ddsp_ref.kernels.selection import select
from ddsp_ref.spectral_ops import pitch

N_BINS = 360


def _emissions(rng, batch, n_frames, n_v, dtype):
    """Smooth random pitch tracks with noise: realistic paths, few exact ties."""
    centre = rng.uniform(60, 300, (batch, 1)) + np.cumsum(rng.normal(0, 2, (batch, n_frames)), 1)
    bins = np.arange(N_BINS)
    em = np.exp(-0.5 * ((bins - centre[..., None]) / 4.0) ** 2)[:, :, None, :]
    em = em * rng.uniform(0.5, 1.0, (batch, n_frames, n_v, N_BINS)) + 1e-6
    return em.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch, n_frames, n_v", [(1, 1, 2), (1, 2, 2), (3, 57, 2), (2, 40, 1)])
def test_viterbi_kernel_equals_reference(batch, n_frames, n_v, dtype):
    rng = np.random.default_rng(batch * 100 + n_frames)
    log_em = np.log(_emissions(rng, batch, n_frames, n_v, dtype))
    if n_v == 2:  # pYIN's table: no row normalisation, a voicing switch
        weights = pitch._pyin_transition(64 / 16000)
        log_z = np.zeros(N_BINS)
        log_voicing = np.log(np.array([[0.99, 0.01], [0.01, 0.99]]))
    else:  # CREPE's: normalised rows, one voicing state
        weights = pitch._crepe_transition()
        dist = np.abs(np.arange(N_BINS)[:, None] - np.arange(N_BINS)[None, :])
        log_z = np.log(np.sum(weights[dist], axis=1))
        log_voicing = np.zeros((1, 1))
    ref = pitch_hmm_reference.banded_viterbi(log_em, weights, log_z, log_voicing)
    got = pitch_hmm_cpu.banded_viterbi(log_em, weights, log_z, log_voicing)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])


def test_viterbi_ties_go_to_the_lowest_index():
    # Flat emissions: every path is equally likely; both decoders pick the lowest states.
    log_em = np.zeros((1, 5, 2, N_BINS))
    weights = np.ones(N_BINS)  # no band above the floor
    args = (weights, np.zeros(N_BINS), np.zeros((2, 2)))
    ref = pitch_hmm_reference.banded_viterbi(log_em, *args)
    got = pitch_hmm_cpu.banded_viterbi(log_em, *args)
    np.testing.assert_array_equal(got[1], ref[1])
    np.testing.assert_array_equal(got[0], ref[0])
    assert (got[1] == 0).all() and (got[0] == 0).all()


@pytest.mark.parametrize("batch, n_frames", [(1, 1), (1, 2), (3, 64)])
def test_voicing_posterior_kernel_equals_reference(batch, n_frames):
    rng = np.random.default_rng(n_frames)
    em = _emissions(rng, batch, n_frames, 2, np.float64)
    em[:, : n_frames // 2, 1] *= 1e-3  # an unvoiced first half
    weights = pitch._pyin_transition(64 / 16000)
    voicing = np.array([[0.99, 0.01], [0.01, 0.99]])
    ref = pitch_hmm_reference.voicing_posterior(em, weights, voicing)
    got = pitch_hmm_cpu.voicing_posterior(em, weights, voicing)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    assert got.dtype == np.float64 and ((got >= 0) & (got <= 1)).all()


def test_selection(monkeypatch):
    monkeypatch.delenv("DDSP_REF_KERNELS", raising=False)
    assert select("pitch_hmm", np, (np.float32,)) is pitch_hmm_cpu
    monkeypatch.setenv("DDSP_REF_KERNELS", "reference")
    assert select("pitch_hmm", np, (np.float32,)) is pitch_hmm_reference


def test_compute_f0_is_the_same_with_either_decoder(monkeypatch):
    sr = 16000
    t = np.arange(sr) / sr
    audio = (0.5 * np.sin(2 * np.pi * 220 * t * (1 + 0.02 * np.sin(2 * np.pi * 3 * t))))[None]
    audio[:, : sr // 4] = 0.0  # silence, then a vibrato tone
    monkeypatch.delenv("DDSP_REF_KERNELS", raising=False)
    f0, conf = pitch.compute_f0(audio.astype(np.float32), frame_rate=250, sample_rate=sr)
    monkeypatch.setenv("DDSP_REF_KERNELS", "reference")
    f0_ref, conf_ref = pitch.compute_f0(audio.astype(np.float32), frame_rate=250, sample_rate=sr)
    np.testing.assert_array_equal(f0, f0_ref)
    np.testing.assert_allclose(conf, conf_ref, rtol=1e-6, atol=1e-9)
