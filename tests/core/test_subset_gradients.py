"""Gradients on every subset of the inputs, across kernel pieces and composed-path chunks.

For every differentiable oscillator op, core function and synth with several float inputs,
each non-empty subset of the inputs must get the same gradient components as the all-inputs
gradient of a one-piece, one-chunk computation (the library defaults on these short signals),
on lengths below, at and across the piece boundary (one, two and three pieces, with pieces
that end on a frame boundary and pieces that split a frame), in float32 and float64; and every
subset passes ``check_grads`` (float64). The real 2**18-sample piece boundary is crossed once.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import ddsp_ref
from ddsp_ref import check_grads, core, synths
from ddsp_ref.autodiff import ops
from ddsp_ref.autodiff.fused import oscillators as fused
from ddsp_ref.core import synthesis, wavetable
from ddsp_ref.core.resampling import resample_taps
from ddsp_ref.kernels import oscillator_plan

HOP, N_HARM, SR = 6, 4, 16000
# n_samples -> pieces of 36 samples (frame-aligned) / 40 samples (a frame split): 1, 1, 2, 3.
LENGTHS = (30, 36, 42, 102)
PIECES = (36, 40)


def _with_final(audio_and_phase):
    audio, final = audio_and_phase
    return ops.concatenate([audio, ops.reshape(final, (audio.shape[0], 1))], axis=1)


def _cases(n: int):
    """name -> (function of the float inputs, inputs as float64 arrays)."""
    rng = np.random.default_rng(n)
    f = n // HOP

    def u(lo, hi, *shape):
        return rng.uniform(lo, hi, shape)

    f0, amps, dist = u(100, 900, 2, f, 1), u(0.1, 1, 2, f, 1), u(0, 1, 2, f, N_HARM)
    shifts, phase = u(-0.02, 0.02, 2, f, N_HARM), u(0, 6, 2, 1, 1)
    taps_f = resample_taps(f, n, "linear")
    taps_w = resample_taps(f, n, "window", np.float64)

    def harmonic_op(f0, a, p):
        return _with_final(fused.harmonic_bank(f0, a, taps_f, taps_w, p, SR))

    def harmonic_gain_op(f0, a, p, gain):
        return _with_final(fused.harmonic_bank(f0, a, taps_f, taps_w, p, SR, gain=gain))

    cases = {
        "fused_harmonic_bank": (harmonic_op, (f0[..., 0], dist, phase[:, 0, 0])),
        "fused_harmonic_bank[gain]": (harmonic_gain_op, (f0[..., 0], dist, phase[:, 0, 0], amps)),
        "fused_sinusoid_bank": (
            lambda f, a: fused.sinusoid_bank(f, a, taps_f, taps_w, SR),
            (u(100, 3000, 2, f, 3), u(0, 1, 2, f, 3)),
        ),
        "oscillator_bank": (core.oscillator_bank, (u(100, 3000, 2, n, 3), u(0, 1, 2, n, 3))),
        "harmonic_oscillator_bank": (
            lambda f, a, p: _with_final(core.harmonic_oscillator_bank(f, a, p)),
            (u(100, 900, 2, n, 1), u(0, 1, 2, n, N_HARM), phase),
        ),
        "harmonic_synthesis[shifts]": (
            lambda f, a, s, d: core.harmonic_synthesis(f, a, s, d, n_samples=n),
            (f0, amps, shifts, dist),
        ),
        "Harmonic": (
            synths.Harmonic(n_samples=n, sample_rate=SR),
            (u(-2, 2, 2, f, 1), u(-2, 2, 2, f, N_HARM), f0),
        ),
        "Sinusoidal": (
            synths.Sinusoidal(n_samples=n, sample_rate=SR),
            (u(-2, 2, 2, f, 3), u(-2, 0, 2, f, 3)),
        ),
        "Wavetable": (
            synths.Wavetable(n_samples=n, sample_rate=SR),
            (u(-2, 2, 2, f, 1), u(-2, 2, 2, f, 16), f0),
        ),
        "wavetable_synthesis": (
            lambda f, a, t: core.wavetable_synthesis(f, a, t, n_samples=n),
            (f0, amps, u(-1, 1, 2, f, 16)),
        ),
    }
    for method in ("window", "linear", "nearest", "cubic"):
        cases[f"harmonic_synthesis[{method}]"] = (
            lambda f, a, d, m=method: core.harmonic_synthesis(
                f, a, harmonic_distribution=d, n_samples=n, amp_resample_method=m
            ),
            (f0, amps, dist),
        )
    for method in ("linear", "window", "cubic"):
        cases[f"streaming_harmonic_synthesis[{method}]"] = (
            lambda f, a, d, p, m=method: _with_final(
                core.streaming_harmonic_synthesis(f, a, d, p, n, amp_resample_method=m)
            ),
            (f0, amps, dist, phase),
        )
    return cases


NAMES = sorted(_cases(30))


def _grads(fun, args, argnums, cotangent):
    def loss(*a):
        return ops.sum(fun(*a) * cotangent)

    return ddsp_ref.grad(loss, argnums=argnums)(*args)


def _small_pieces(monkeypatch, piece: int) -> None:
    monkeypatch.setattr(oscillator_plan, "PIECE", piece)
    for module in (synthesis, wavetable):  # composed paths: chunks of `piece` samples
        monkeypatch.setattr(module, "CHUNK_ELEMENTS", 1)
        monkeypatch.setattr(module, "MIN_CHUNK", piece)


def _subsets(n_args: int):
    for size in range(1, n_args + 1):
        yield from itertools.combinations(range(n_args), size)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", NAMES)
def test_every_subset_matches_the_one_piece_gradient(monkeypatch, name, dtype):
    tol = 1e-9 if dtype == np.float64 else 2e-4
    for n in LENGTHS:
        fun, args = _cases(n)[name]
        args = tuple(a.astype(dtype) for a in args)
        cotangent = np.random.default_rng(1).standard_normal(np.shape(fun(*args)))
        every = tuple(range(len(args)))
        with monkeypatch.context():
            reference = _grads(fun, args, every, cotangent)  # one piece, one chunk
        for piece in PIECES:
            with monkeypatch.context() as patch:
                _small_pieces(patch, piece)
                for subset in _subsets(len(args)):
                    grads = _grads(fun, args, subset, cotangent)
                    for i, g in zip(subset, grads):
                        ref = np.asarray(reference[i], np.float64)
                        err = np.max(np.abs(np.asarray(g, np.float64) - ref))
                        scale = max(np.max(np.abs(ref)), 1e-30)
                        assert g.dtype == dtype, (name, n, piece, subset, i)
                        assert err <= tol * scale, (name, n, piece, subset, i, err / scale)


@pytest.mark.parametrize("name", NAMES)
def test_every_subset_passes_check_grads_across_pieces(monkeypatch, name):
    _small_pieces(monkeypatch, 40)
    fun, args = _cases(102)[name]  # three pieces, two of them splitting a frame
    for subset in _subsets(len(args)):
        check_grads(fun, *args, argnums=subset)


def test_real_piece_boundary(monkeypatch):
    """Across the default 2**18-sample piece: f0 alone, amplitudes alone and the initial phase
    alone get the all-inputs components of a one-piece computation."""
    assert oscillator_plan.PIECE == 1 << 18
    n, hop = (1 << 18) + 4 * 64, 64
    rng = np.random.default_rng(3)
    f = n // hop
    args = (rng.uniform(100, 900, (1, f, 1)), rng.uniform(0.1, 1, (1, f, 1)),
            rng.uniform(0, 1, (1, f, 2)), rng.uniform(0, 6, (1, 1, 1)))  # fmt: skip

    def fun(f0, a, d, p):
        return _with_final(core.streaming_harmonic_synthesis(f0, a, d, p, n, 16000, "window"))

    cotangent = rng.standard_normal((1, n + 1))
    with monkeypatch.context() as patch:
        patch.setattr(oscillator_plan, "PIECE", 1 << 20)
        reference = _grads(fun, args, (0, 1, 2, 3), cotangent)
    for subset in [(0,), (1,), (2,), (3,), (0, 3)]:
        for i, g in zip(subset, _grads(fun, args, subset, cotangent)):
            np.testing.assert_allclose(
                g, reference[i], rtol=1e-9, atol=1e-9 * np.abs(reference[i]).max()
            )
