"""Spectral-loss kernels: the reference stages against loop formulas, the numba CPU and CUDA
(simulator) stages and the whole launcher against the reference, chunk boundaries, selection,
and finite cotangents for tiny magnitudes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddsp_ref.kernels import spectral_loss as launcher
from ddsp_ref.kernels import spectral_loss_reference as reference
from ddsp_ref.kernels.selection import select
from ddsp_ref.numerics import hann_window

cpu = pytest.importorskip("ddsp_ref.kernels.spectral_loss_cpu")
cuda = pytest.importorskip("ddsp_ref.kernels.spectral_loss_cuda")

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}
COMPILED = {"cpu": cpu, "cuda": cuda}


# -- independent loop formulas (float64) ---------------------------------------------------------
def loop_windowed_frames(x, window, hop, n_frames, first_frame=0):
    rows, length = x.shape
    out = np.zeros((rows, n_frames, window.size))
    for f in range(n_frames):
        for i in range(window.size):
            t = (first_frame + f) * hop + i
            if t < length:
                out[:, f, i] = x[:, t] * window[i]
    return out


def loop_window_overlap_add(frames, window, hop, length):
    out = np.zeros((frames.shape[0], length))
    for f in range(frames.shape[1]):
        for i in range(window.size):
            if f * hop + i < length:
                out[:, f * hop + i] += frames[:, f, i] * window[i]
    return out


def direct_terms(xt, xa, w_mag, w_log, l2, eps, bin_scale):
    """Sums and cotangents of the magnitude terms from their definition, in float64."""
    xt, xa = xt.astype(np.complex128), xa.astype(np.complex128)
    mt, ma = np.abs(xt), np.abs(xa)
    lt, la = (np.log(np.where(m > 0, m, eps)) for m in (mt, ma))
    d, dl = mt - ma, lt - la
    if l2:
        sums, dm, dlog = (np.sum(d**2), np.sum(dl**2)), 2 * d, 2 * dl
    else:
        sums, dm, dlog = (np.sum(np.abs(d)), np.sum(np.abs(dl))), np.sign(d), np.sign(dl)
    grads = []
    for z, m, sign in ((xa, ma, -1.0), (xt, mt, 1.0)):
        dloss_dm = sign * (w_mag * dm + w_log * dlog / np.where(m > 0, m, 1.0))
        unit = np.where(m > 0, z / np.where(m > 0, m, 1.0), 0.0)
        grads.append(dloss_dm * unit * bin_scale)
    return sums, grads


def np_spectral_value(t, a, size, w_mag, w_log, l2, eps=1e-5):
    """Value of one FFT size: frames padded to ceil(n / hop), periodic Hann, rfft to pow2."""
    hop, n_fft = size // 4, 1 << (size - 1).bit_length()
    den = size if size % 2 == 0 else size - 1
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / den)
    n_frames = -(-t.shape[-1] // hop)
    mags = []
    for x in (t, a):
        x = np.pad(x.astype(np.float64), [(0, 0), (0, n_frames * hop + size)])
        frames = np.stack([x[:, f * hop : f * hop + size] for f in range(n_frames)], axis=1)
        mags.append(np.abs(np.fft.rfft(frames * window, n=n_fft)))
    d = mags[0] - mags[1]
    dl = np.log(np.where(mags[0] > 0, mags[0], eps)) - np.log(np.where(mags[1] > 0, mags[1], eps))
    f = np.square if l2 else np.abs
    return w_mag * np.mean(f(d)) + w_log * np.mean(f(dl))


def spectra(rng, rows, n_bins, dtype, scale=1.0):
    complex_dtype = np.complex64 if dtype == np.float32 else np.complex128
    z = rng.standard_normal((2, rows, n_bins)) + 1j * rng.standard_normal((2, rows, n_bins))
    z = (scale * z).astype(complex_dtype)
    z[0, 0, :3] = 0.0  # exact zeros: safe_log's eps, cotangent 0
    z[1, -1, -2:] = 0.0
    z[1, 0, 5] = z[0, 0, 5]  # a tie: sign 0
    return z[0], z[1]


# -- stages ------------------------------------------------------------------------------------
@pytest.mark.parametrize("impl", ["reference", "cpu", "cuda"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size, hop, first", [(16, 4, 0), (10, 2, 3), (7, 1, 0), (4, 6, 2)])
def test_framing_stages_match_loops(impl, dtype, size, hop, first):
    kernels = reference if impl == "reference" else COMPILED[impl]
    rng = np.random.default_rng(size * 10 + hop)
    x = rng.standard_normal((3, 41)).astype(dtype)
    window = hann_window(np, size, dtype)
    n_frames = -(-41 // hop) - first
    frames = kernels.windowed_frames(x, window, hop, n_frames, first)
    expected = loop_windowed_frames(x, window.astype(np.float64), hop, n_frames, first)
    np.testing.assert_allclose(frames, expected, **TOL[dtype])
    g = rng.standard_normal((3, n_frames, size + 3)).astype(dtype)  # extra FFT columns ignored
    out = kernels.window_overlap_add(g, window, hop, 41 - first * hop)
    expected = loop_window_overlap_add(
        g[..., :size], window.astype(np.float64), hop, 41 - first * hop
    )
    np.testing.assert_allclose(out, expected, **TOL[dtype])


@pytest.mark.parametrize("impl", ["reference", "cpu", "cuda"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("l2", [False, True])
@pytest.mark.parametrize("wants", [(True, True), (True, False), (False, True), (False, False)])
def test_magnitude_terms_match_definition(impl, dtype, l2, wants):
    kernels = reference if impl == "reference" else COMPILED[impl]
    xt, xa = spectra(np.random.default_rng(7), 3, 9, dtype)
    bin_scale = np.linspace(0.5, 2.0, 9) / 27
    log_eps = float(np.log(dtype(1e-5)))
    sum_mag, sum_log, g_a, g_t = kernels.magnitude_terms(
        xt, xa, 0.7, 1.3, l2, log_eps, bin_scale, *wants
    )
    (ref_mag, ref_log), (ref_a, ref_t) = direct_terms(xt, xa, 0.7, 1.3, l2, 1e-5, bin_scale)
    np.testing.assert_allclose([sum_mag, sum_log], [ref_mag, ref_log], rtol=TOL[dtype]["rtol"])
    for got, ref, want in ((g_a, ref_a, wants[0]), (g_t, ref_t, wants[1])):
        if not want:
            assert got is None
            continue
        assert got.dtype == xa.dtype
        np.testing.assert_allclose(got, ref, rtol=TOL[dtype]["rtol"], atol=1e-6 * np.abs(ref).max())


@pytest.mark.parametrize("impl", ["reference", "cpu", "cuda"])
@pytest.mark.parametrize("scale", [1e-25, 1e-30, 1e-36])
def test_tiny_magnitudes_give_finite_cotangents(impl, scale):
    """|z| ~ 1e-25 in float32: 1 / |z|^2 overflows, the cotangent (~ 1 / |z|) does not."""
    kernels = reference if impl == "reference" else COMPILED[impl]
    xt, xa = spectra(np.random.default_rng(8), 2, 9, np.float32, scale=scale)
    bin_scale = np.full(9, 1.0 / 18)
    _, _, g_a, g_t = kernels.magnitude_terms(
        xt, xa, 1.0, 1.0, False, float(np.log(np.float32(1e-5))), bin_scale, True, True
    )
    (_, _), (ref_a, ref_t) = direct_terms(xt, xa, 1.0, 1.0, False, 1e-5, bin_scale)
    for got, ref in ((g_a, ref_a), (g_t, ref_t)):
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6 * np.abs(ref).max())


# -- the launcher --------------------------------------------------------------------------------
@settings(max_examples=12, deadline=None)
@given(
    rows=st.integers(1, 3),
    size=st.sampled_from([4, 7, 8, 9, 16]),
    n_samples=st.integers(1, 70),
    l2=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_launcher_value_matches_numpy(rows, size, n_samples, l2, dtype):
    rng = np.random.default_rng(rows * 1000 + n_samples)
    t, a = (rng.uniform(-1, 1, (rows, n_samples)).astype(dtype) for _ in range(2))
    value, _, _ = launcher.spectral_terms(t, a, size, 0.7, 1.3, l2, False, False)
    expected = np_spectral_value(t, a, size, 0.7, 1.3, l2)
    np.testing.assert_allclose(value, expected, rtol=1e-4 if dtype == np.float32 else 1e-11)


def _all_implementations(t, a, size, l2):
    return {
        impl: launcher.spectral_terms(t, a, size, 0.7, 1.3, l2, True, True, implementation=impl)
        for impl in ("reference", "cpu", "cuda")
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("l2", [False, True])
# frames per chunk with CHUNK = 64 and size 8: 8 // rows; lengths below, at and across chunks
@pytest.mark.parametrize("rows, n_samples", [(1, 1), (1, 15), (1, 16), (1, 17), (2, 33), (3, 70)])
def test_implementations_agree_across_chunks(monkeypatch, dtype, l2, rows, n_samples):
    monkeypatch.setattr(cpu, "CHUNK", 64)
    rng = np.random.default_rng(rows + n_samples)
    t, a = (rng.uniform(-1, 1, (rows, n_samples)).astype(dtype) for _ in range(2))
    t[0, : n_samples // 2] = 0.0  # silent frames: exact-zero magnitudes
    results = _all_implementations(t, a, 8, l2)
    ref_value, ref_t, ref_a = results.pop("reference")
    for value, g_t, g_a in results.values():
        np.testing.assert_allclose(value, ref_value, rtol=TOL[dtype]["rtol"])
        for got, ref in ((g_t, ref_t), (g_a, ref_a)):
            assert got.dtype == dtype and got.shape == (rows, n_samples)
            np.testing.assert_allclose(got, ref, rtol=TOL[dtype]["rtol"],
                                       atol=TOL[dtype]["rtol"] * np.abs(ref).max())  # fmt: skip


def test_selection_and_errors(monkeypatch):
    assert select("spectral_loss", np, (np.float32,)) is cpu
    assert select("spectral_loss", np, (np.float16,)) is reference
    monkeypatch.setenv("DDSP_REF_KERNELS", "reference")
    assert select("spectral_loss", np, (np.float32,)) is reference
    x = np.zeros((2, 40), np.float32)
    with pytest.raises(ValueError, match="frame_size >= 4"):
        launcher.spectral_terms(x, x, 2, 1.0, 0.0, False, False, False)
    with pytest.raises(ValueError, match="one \\[rows, n_samples\\] shape"):
        launcher.spectral_terms(x, x[:1], 8, 1.0, 0.0, False, False, False)


def test_cpu_pool_runs_chunks_in_order(monkeypatch):
    """Many chunks on the pool give the same sums and gradients as one whole-array chunk."""
    rng = np.random.default_rng(11)
    t, a = (rng.uniform(-1, 1, (2, 3000)) for _ in range(2))
    whole = launcher.spectral_terms(t, a, 64, 1.0, 1.0, False, True, True)
    monkeypatch.setattr(cpu, "CHUNK", 200)
    chunked = launcher.spectral_terms(t, a, 64, 1.0, 1.0, False, True, True)
    np.testing.assert_allclose(chunked[0], whole[0], rtol=1e-13)
    for got, ref in zip(chunked[1:], whole[1:], strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-15)
