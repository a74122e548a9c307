"""Fused oscillator ops (autodiff/fused/oscillators.py) and their use in core: float64 gradient
checks, fused vs composed values and gradients, streaming, accuracy, fallbacks."""

from __future__ import annotations

import contextlib
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ddsp_ref
from ddsp_ref import check_grads, core
from ddsp_ref.autodiff import ops
from ddsp_ref.autodiff.fused import oscillators as fused
from ddsp_ref.core.resampling import resample_taps
from ddsp_ref.kernels.oscillator import Taps

TWO_PI = 2.0 * np.pi
SMALL = settings(max_examples=10, deadline=None)
seeds = st.integers(0, 2**16)


@contextlib.contextmanager
def kernels_off():
    """The fused kernels switched off (DDSP_REF_KERNELS=composed): the composed ops."""
    old = os.environ.get("DDSP_REF_KERNELS")
    os.environ["DDSP_REF_KERNELS"] = "composed"
    try:
        yield
    finally:
        os.environ.pop("DDSP_REF_KERNELS")
        if old is not None:
            os.environ["DDSP_REF_KERNELS"] = old


def composed(fun, *args, **kwargs):
    with kernels_off():
        return fun(*args, **kwargs)


def value_and_grads(fun, args, argnums, seed=0):
    """Value and gradients of <fun(*args), random cotangent> (fun returns one array)."""
    out = np.asarray(ddsp_ref.backend.to_numpy(fun(*args)))
    cot = np.random.default_rng(seed).standard_normal(out.shape)
    _, grads = ddsp_ref.value_and_grad(lambda *a: ops.sum(fun(*a) * cot), argnums=argnums)(*args)
    return out, grads


def assert_same(a, b, tol):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape
    err = np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30)
    assert err < tol, f"relative error {err:.3g}"


# -- gradient checks of the fused ops --------------------------------------------------------------
@given(seeds, st.integers(1, 5), st.integers(1, 6), st.sampled_from(["linear", "window"]))
@SMALL
def test_grad_fused_harmonic_bank(seed, n_frames, n_harm, method):
    rng = np.random.default_rng(seed)
    n_samples = n_frames * 6
    taps_f = resample_taps(n_frames, n_samples, "linear")
    taps_a = resample_taps(n_frames, n_samples, method, np.float64)
    f0 = rng.uniform(100.0, 1500.0, (2, n_frames))
    amps = rng.uniform(0.0, 1.0, (2, n_frames, n_harm))
    phase0 = rng.uniform(0.0, 6.0, 2)

    def fun(f, a, p):
        audio, final = fused.harmonic_bank(f, a, taps_f, taps_a, p, 16000, nyquist=False)
        return ops.concatenate([audio, ops.reshape(final, (2, 1))], axis=1)

    check_grads(fun, f0, amps, phase0)
    zero = np.zeros(2)
    check_grads(lambda f, a: fused.harmonic_bank(f, a, taps_f, taps_a, zero, 16000)[0], f0, amps)


@given(seeds, st.integers(1, 12), st.integers(1, 4))
@SMALL
def test_grad_fused_sinusoid_bank(seed, n_samples, n_osc):
    rng = np.random.default_rng(seed)
    taps = Taps.identity(n_samples)
    freqs = rng.uniform(100.0, 7000.0, (2, n_samples, n_osc))
    amps = rng.uniform(0.0, 1.0, (2, n_samples, n_osc))
    check_grads(lambda f, a: fused.sinusoid_bank(f, a, taps, taps, 16000), freqs, amps)
    frame_taps = (
        resample_taps(3, 12, "window", np.float64),
        resample_taps(3, 12, "linear"),
    )
    f3, a3 = rng.uniform(100.0, 7000.0, (1, 3, n_osc)), rng.uniform(0.0, 1.0, (1, 3, n_osc))
    check_grads(lambda f, a: fused.sinusoid_bank(f, a, frame_taps[1], frame_taps[0], 16000), f3, a3)


# -- fused vs composed: the same function ----------------------------------------------------------
@given(
    seeds,
    st.integers(1, 6),
    st.integers(1, 8),
    st.sampled_from(["linear", "window"]),
    st.booleans(),
)
@SMALL
def test_harmonic_synthesis_fused_equals_composed(seed, n_frames, n_harm, method, with_dist):
    rng = np.random.default_rng(seed)
    n_samples = n_frames * 8
    f0 = rng.uniform(30.0, 3000.0, (2, n_frames, 1))  # upper harmonics cross Nyquist
    amp = rng.uniform(0.0, 1.0, (2, n_frames, 1))
    dist = rng.uniform(0.0, 1.0, (2, n_frames, n_harm)) if with_dist else None

    def synth(f, a, d=None):
        return core.harmonic_synthesis(
            f, a, harmonic_distribution=d, n_samples=n_samples, amp_resample_method=method
        )

    args = (f0, amp, dist) if with_dist else (f0, amp)
    argnums = tuple(range(len(args)))
    out, grads = value_and_grads(synth, args, argnums)
    ref_out, ref_grads = composed_vg(synth, args, argnums)
    assert_same(out, ref_out, 1e-9)
    for g, r in zip(grads, ref_grads):
        assert_same(g, r, 1e-7)


def composed_vg(fun, args, argnums):
    with kernels_off():
        return value_and_grads(fun, args, argnums)


def test_oscillator_bank_fused_equals_composed():
    rng = np.random.default_rng(8)
    freqs = rng.uniform(-200.0, 9000.0, (2, 50, 4))
    freqs[0, 10:20, 1] = 8000.0  # exactly Nyquist: silent
    amps = rng.uniform(0.0, 1.0, (2, 50, 4))
    fun = core.oscillator_bank
    out, grads = value_and_grads(fun, (freqs, amps), (0, 1))
    ref_out, ref_grads = composed_vg(fun, (freqs, amps), (0, 1))
    assert_same(out, ref_out, 1e-10)
    for g, r in zip(grads, ref_grads):
        assert_same(g, r, 1e-9)


@pytest.mark.parametrize("with_phase", [False, True])
def test_harmonic_oscillator_bank_fused_equals_composed(with_phase):
    rng = np.random.default_rng(9)
    freq = rng.uniform(50.0, 900.0, (2, 40, 1))
    amps = rng.uniform(0.0, 1.0, (2, 40, 6))
    phase = rng.uniform(0.0, 6.0, (2, 1, 1))

    def fun(f, a, p):
        audio, final = core.harmonic_oscillator_bank(f, a, p if with_phase else None)
        assert final.shape == (2, 1, 1)
        return ops.concatenate([audio, ops.reshape(final, (2, 1))], axis=1)

    out, grads = value_and_grads(fun, (freq, amps, phase), (0, 1, 2))
    ref_out, ref_grads = composed_vg(fun, (freq, amps, phase), (0, 1, 2))
    assert_same(out, ref_out, 1e-10)
    for g, r in zip(grads[: 3 if with_phase else 2], ref_grads):
        assert_same(g, r, 1e-9)


@pytest.mark.parametrize("method", ["linear", "window"])
def test_streaming_synthesis_fused_equals_composed(method):
    rng = np.random.default_rng(10)
    f0 = rng.uniform(50.0, 3000.0, (2, 5, 1))
    amp = rng.uniform(0.0, 1.0, (2, 5, 1))
    dist = rng.uniform(0.0, 1.0, (2, 5, 7))
    phase = rng.uniform(0.0, 6.0, (2, 1, 1))

    def fun(f, a, d, p):
        audio, final = core.streaming_harmonic_synthesis(
            f, a, d, p, n_samples=40, amp_resample_method=method
        )
        return ops.concatenate([audio, ops.reshape(final, (2, 1))], axis=1)

    out, grads = value_and_grads(fun, (f0, amp, dist, phase), (0, 1, 2, 3))
    ref_out, ref_grads = composed_vg(fun, (f0, amp, dist, phase), (0, 1, 2, 3))
    assert_same(out, ref_out, 1e-10)
    for g, r in zip(grads, ref_grads):
        assert_same(g, r, 1e-8)


def test_harmonic_synth_gradients_fused_equal_composed():
    """Through Harmonic.get_controls / get_signal, as training uses it (float64)."""
    rng = np.random.default_rng(11)
    synth = ddsp_ref.synths.Harmonic(n_samples=640, sample_rate=16000)
    amps = rng.normal(-1.0, 1.0, (2, 10, 1))
    dist = rng.normal(0.0, 2.0, (2, 10, 20))
    f0 = rng.uniform(100.0, 900.0, (2, 10, 1))

    def fun(a, d):
        return synth(a, d, f0)

    out, grads = value_and_grads(fun, (amps, dist), (0, 1))
    ref_out, ref_grads = composed_vg(fun, (amps, dist), (0, 1))
    assert_same(out, ref_out, 1e-9)
    for g, r in zip(grads, ref_grads):
        assert_same(g, r, 1e-7)


def test_sinusoidal_synthesis_equals_resample_then_bank():
    rng = np.random.default_rng(12)
    freqs = rng.uniform(100.0, 8500.0, (2, 6, 3))
    amps = rng.uniform(0.0, 1.0, (2, 6, 3))

    def fun(f, a):
        return core.sinusoidal_synthesis(f, a, n_samples=48)

    def direct(f, a):
        a = core.resample(a, 48, method="window")
        return core.oscillator_bank(core.resample(f, 48), a)

    out, grads = value_and_grads(fun, (freqs, amps), (0, 1))
    ref_out, ref_grads = composed_vg(direct, (freqs, amps), (0, 1))
    assert_same(out, ref_out, 1e-10)
    for g, r in zip(grads, ref_grads):
        assert_same(g, r, 1e-9)


# -- streaming, accuracy, Nyquist, fallbacks -------------------------------------------------------
def test_streaming_blocks_equal_one_shot():
    """Blocks of frames with the carried final phase render the one-shot signal."""
    rng = np.random.default_rng(13)
    n_frames, hop = 30, 32
    f0 = rng.uniform(80.0, 1000.0, (2, n_frames))
    amps = rng.uniform(0.0, 1.0, (2, n_frames, 12))
    # Sample-rate controls so blocks cut anywhere; 'identity' taps per block.
    f0_up = np.repeat(f0, hop, axis=1)[..., None]
    amps_up = np.repeat(amps, hop, axis=1)
    one_shot, final = core.harmonic_oscillator_bank(f0_up, amps_up)
    phase, blocks = None, []
    for start, stop in [(0, 1), (1, 300), (300, 301), (301, n_frames * hop)]:
        audio, phase = core.harmonic_oscillator_bank(
            f0_up[:, start:stop], amps_up[:, start:stop], phase
        )
        blocks.append(audio)
    np.testing.assert_allclose(np.concatenate(blocks, axis=1), one_shot, atol=1e-10)
    np.testing.assert_allclose(phase, final, atol=1e-10)


def test_streaming_harmonic_synthesis_blocks_equal_one_shot():
    """Frame blocks at the frame rate (linear f0, linear amplitudes hold the last frame, so
    blocks only match where each block's last frame equals the next block's first: constant
    controls)."""
    f0 = np.full((1, 12, 1), 441.3)
    amp = np.full((1, 12, 1), 0.5)
    dist = np.tile(np.linspace(1.0, 0.1, 9), (1, 12, 1))
    one_shot, final = core.streaming_harmonic_synthesis(f0, amp, dist, n_samples=12 * 64)
    phase, blocks = None, []
    for start, stop in [(0, 5), (5, 6), (6, 12)]:
        audio, phase = core.streaming_harmonic_synthesis(
            f0[:, start:stop],
            amp[:, start:stop],
            dist[:, start:stop],
            phase,
            n_samples=(stop - start) * 64,
        )
        blocks.append(audio)
    np.testing.assert_allclose(np.concatenate(blocks, axis=1), one_shot, atol=1e-10)
    np.testing.assert_allclose(phase, final, atol=1e-10)


def test_float32_fused_is_closer_to_exact_than_composed():
    """The fused float32 path accumulates k * f0 phases in float64; the composed path rounds
    every k * f0 to float32 before integrating it."""
    rng = np.random.default_rng(14)
    f0 = np.linspace(200.0, 330.0, 250)[None, :, None] + rng.uniform(0, 5, (1, 250, 1))
    amp = np.full((1, 250, 1), 0.5)
    dist = rng.uniform(0.0, 1.0, (1, 250, 60))

    def synth(*a):
        return core.harmonic_synthesis(*a[:2], harmonic_distribution=a[2], n_samples=16000)

    f32 = [x.astype(np.float32) for x in (f0, amp, dist)]
    exact = composed(synth, *[x.astype(np.float64) for x in f32])  # same inputs, float64
    ours = synth(*f32)
    theirs = composed(synth, *f32)
    assert ours.dtype == np.float32
    err_ours = np.linalg.norm(ours - exact) / np.linalg.norm(exact)
    err_theirs = np.linalg.norm(theirs - exact) / np.linalg.norm(exact)
    assert err_ours < 1e-6 and err_ours < 0.1 * err_theirs


def test_per_sample_nyquist_mask():
    """A glide makes harmonic 3 cross Nyquist inside a frame: it sounds only while
    3 * f0(n) < sr / 2 (ddsp's >=), sample by sample."""
    sr, n = 8000, 400
    f0 = np.array([[[1000.0], [1600.0]]])  # harmonic 3: 3000 -> 4800 Hz; Nyquist 4000 Hz
    dist = np.array([[[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]])
    amp = np.ones((1, 2, 1))
    audio = core.harmonic_synthesis(
        f0,
        amp,
        harmonic_distribution=dist,
        n_samples=n,
        sample_rate=sr,
        amp_resample_method="linear",
    )
    lo, w_lo, w_hi = Taps.linear(2, n).tables()
    freq = w_lo * f0[0, lo, 0] + w_hi * f0[0, np.minimum(lo + 1, 1), 0]
    phase = 2 * np.pi * np.cumsum(3 * freq) / sr
    expected = np.where(3 * freq >= sr / 2, 0.0, np.sin(phase))
    np.testing.assert_allclose(audio[0], expected, atol=1e-9)
    assert np.all(audio[0, 3 * freq >= sr / 2] == 0.0)


def test_fallbacks_compute_the_same_function():
    rng = np.random.default_rng(15)
    f0 = rng.uniform(100.0, 900.0, (1, 4, 1))
    amp = rng.uniform(0.0, 1.0, (1, 4, 1))
    shifts = rng.uniform(-0.01, 0.01, (1, 4, 3))
    dist = rng.uniform(0.0, 1.0, (1, 4, 3))
    for kwargs in (
        dict(harmonic_shifts=shifts, harmonic_distribution=dist),
        dict(harmonic_distribution=dist, amp_resample_method="cubic"),
        dict(harmonic_distribution=dist, n_samples=30),
    ):  # 'window' needs N % F == 0
        kwargs.setdefault("n_samples", 32)
        if kwargs["n_samples"] == 30:
            with pytest.raises(ValueError, match="divisible"):
                core.harmonic_synthesis(f0, amp, **kwargs)
            continue
        np.testing.assert_allclose(
            core.harmonic_synthesis(f0, amp, **kwargs),
            composed(core.harmonic_synthesis, f0, amp, **kwargs),
            rtol=0,
            atol=1e-12,
        )


def test_taps_cache_and_applicability():
    assert resample_taps(10, 640, "linear") is resample_taps(10, 640, "linear")
    assert resample_taps(10, 5, "linear") is None  # downsampling
    assert resample_taps(10, 645, "window") is None
    assert resample_taps(10, 640, "cubic") is None
    assert resample_taps(10, 640, "nearest").kind == "nearest"
    assert resample_taps(3, 4, "linear") is not None
    window32 = resample_taps(4, 32, "window", np.float32).window
    window64 = resample_taps(4, 32, "window", np.float64).window
    assert window32.dtype == np.float64 and np.any(window32 != window64)  # float32-rounded
