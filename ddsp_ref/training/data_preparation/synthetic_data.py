"""Random note sequences as synthesizer controls (ddsp's ``synthetic_data.generate_notes`` and
``generate_notes_v2``)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["generate_notes", "generate_notes_v2"]


def _note_lengths(rng: np.random.Generator, n_timesteps: int, lo: int, hi: int) -> list[int]:
    lengths, total = [], 0
    while total < n_timesteps:
        lengths.append(int(rng.integers(lo, hi + 1)))
        total += lengths[-1]
    return lengths


def _harmonic_logits(rng: np.random.Generator, n_harmonics: int) -> np.ndarray:
    """A random spectrum: a blend of two random power-law roll-offs with random detail [dB-like]."""
    k = np.arange(1, n_harmonics + 1)
    slopes = rng.uniform(0.5, 3.0, size=2)
    a, b = (-s * np.log(k) + rng.normal(0.0, 1.0, n_harmonics) for s in slopes)
    mix = rng.uniform()
    return mix * a + (1.0 - mix) * b


def _one_sequence(rng, n_timesteps, n_harmonics, n_mags, lengths, p_silent, p_vibrato):
    pitch = np.zeros(n_timesteps)
    amp = np.zeros(n_timesteps)
    dist = np.zeros((n_timesteps, n_harmonics))
    noise = np.zeros((n_timesteps, n_mags))
    start = 0
    for length in _note_lengths(rng, n_timesteps, *lengths):
        span = slice(start, min(start + length, n_timesteps))
        t = np.arange(span.stop - span.start)
        midi = rng.uniform(24.0, 84.0)
        if rng.uniform() < p_vibrato:  # up to half a semitone, 2-6 cycles per note length
            midi = midi + rng.uniform(0.0, 0.5) * np.sin(2 * np.pi * rng.uniform(2, 6) * t / length)
        pitch[span] = midi
        silent = rng.uniform() < p_silent
        amp[span] = -10.0 if silent else rng.uniform(-4.0, 2.0)
        dist[span] = _harmonic_logits(rng, n_harmonics)
        noise[span] = rng.uniform(-10.0, -3.0) - np.linspace(0.0, rng.uniform(0, 5), n_mags)
        start = span.stop
    return pitch, amp, dist, noise


def generate_notes_v2(
    n_batch: int = 1,
    n_timesteps: int = 125,
    n_harmonics: int = 100,
    n_mags: int = 65,
    min_note_length: int = 5,
    max_note_length: int = 25,
    p_silent: float = 0.1,
    p_vibrato: float = 0.5,
    get_controls: bool = True,
    seed: Any = None,
) -> dict[str, np.ndarray]:
    """Random monophonic note sequences as Harmonic + FilteredNoise controls.

    Notes last ``min_note_length``..``max_note_length`` frames, with pitch uniform in MIDI 24-84,
    a vibrato (probability ``p_vibrato``), silence (probability ``p_silent``), and a harmonic
    spectrum blended from two random roll-offs; noise magnitudes fall with frequency. ddsp's
    distributions are the model; the random draws are not ddsp's (its RNG is TensorFlow's).

    Args:
        seed: anything ``numpy.random.default_rng`` takes, for reproducible notes.
        get_controls: True gives synthesizer controls (``harm_amp`` = exp_sigmoid(logit),
            ``harm_dist`` = softmax over harmonics, ``noise_magnitudes`` = exp_sigmoid(logit));
            False gives the logits.

    Returns:
        {'f0_hz': [n_batch, n_timesteps, 1], 'harm_amp': [n_batch, n_timesteps, 1],
        'harm_dist': [n_batch, n_timesteps, n_harmonics], 'noise_magnitudes':
        [n_batch, n_timesteps, n_mags]}, float32.
    """
    from ...core import exp_sigmoid, midi_to_hz

    rng = np.random.default_rng(seed)
    parts = [
        _one_sequence(
            rng,
            n_timesteps,
            n_harmonics,
            n_mags,
            (min_note_length, max_note_length),
            p_silent,
            p_vibrato,
        )
        for _ in range(n_batch)
    ]
    pitch, amp, dist, noise = (np.stack(p) for p in zip(*parts))
    f0_hz = np.asarray(midi_to_hz(pitch))[..., None]
    if not get_controls:
        out = {
            "f0_hz": f0_hz,
            "harm_amp": amp[..., None],
            "harm_dist": dist,
            "noise_magnitudes": noise,
        }
    else:
        dist = np.exp(dist - dist.max(axis=-1, keepdims=True))
        out = {
            "f0_hz": f0_hz,
            "harm_amp": np.asarray(exp_sigmoid(amp[..., None])),
            "harm_dist": dist / dist.sum(axis=-1, keepdims=True),
            "noise_magnitudes": np.asarray(exp_sigmoid(noise)),
        }
    return {k: v.astype(np.float32) for k, v in out.items()}


class _Draws:
    """ddsp's draw helpers (flip, uniform_int, uniform_float, uniform signals) on one numpy
    generator: a legacy ``RandomState`` gives ddsp's exact numbers, a ``Generator`` its own."""

    def __init__(self, seed: Any):
        if isinstance(seed, (np.random.RandomState, np.random.Generator)):
            self.rng = seed
        else:  # an int (or None): the sequence ddsp draws after np.random.seed(seed)
            self.rng = np.random.RandomState(seed)
        self.legacy = isinstance(self.rng, np.random.RandomState)

    def uniform(self, lo: float = 0.0, hi: float = 1.0, size: Any = None) -> Any:
        return self.rng.uniform(lo, hi, size)

    def flip(self, p: float = 0.5) -> bool:
        return bool(self.uniform() <= p)

    def uniform_int(self, lo: int, hi: int) -> int:
        """Inclusive of ``hi`` (numpy's deprecated ``random_integers``, as ddsp)."""
        if self.legacy:
            return int(self.rng.randint(lo, hi + 1))
        return int(self.rng.integers(lo, hi + 1))

    def signal(self, shape: list, n_timesteps: int, lo: float, hi: float, method: str) -> Any:
        """Uniform values at ``shape[1]`` points resampled to ``n_timesteps`` frames."""
        from ...core import resample

        return np.asarray(resample(self.uniform(lo, hi, shape), n_timesteps, method=method))


def generate_notes(
    n_batch: int,
    n_timesteps: int,
    n_harmonics: int = 100,
    n_mags: int = 65,
    get_controls: bool = True,
    seed: Any = None,
) -> dict[str, np.ndarray]:
    """ddsp's first synthetic-note generator (DDSP-INV's self-supervision data).

    1-20 notes (one count for the batch) spread evenly over ``n_timesteps`` frames: amplitude
    logits uniform in [-2, 2], pitch uniform in MIDI 24-84 (held, 'nearest'), a harmonic
    distribution mixing ten power-law lines ``-linspace(0, i, n_harmonics) ** e_i`` (``e_i``
    uniform in [1, 6]) by uniform weights, and noise-magnitude logits uniform between -6 and a
    maximum uniform in [-4, 0]. Amplitudes, lines and noise are resampled per note, 'nearest'
    or 'linear' by a fair coin each. With ``get_controls`` they become controls
    (``exp_sigmoid``; the distribution normalised to sum to one), and the sinusoidal controls
    ``sin_amps``, ``sin_freqs`` come from ``harmonic_to_sinusoidal`` (16 kHz).

    As in ddsp, the distribution's Nyquist filter compares f0 itself (not each harmonic) with
    8 kHz, so it never removes anything; ``harmonic_to_sinusoidal`` then zeroes the harmonics
    above Nyquist.

    Args:
        seed: ddsp draws from numpy's global RNG; here an int or None seeds a legacy
            ``np.random.RandomState`` (an int gives exactly ddsp's notes after
            ``np.random.seed(seed)``), or pass a ``RandomState`` / ``Generator`` (its state
            advances; a Generator draws other numbers from the same distributions).

    Returns:
        float32 ``{'harm_amp' [n_batch, n_timesteps, 1], 'harm_dist' [..., n_harmonics],
        'f0_hz' [..., 1], 'sin_amps', 'sin_freqs' [..., n_harmonics], 'noise_magnitudes'
        [..., n_mags]}``.
    """
    from ...core import exp_sigmoid, harmonic_to_sinusoidal, midi_to_hz, safe_divide
    from ...validation import positive_int

    where = "generate_notes"
    n_batch = positive_int(n_batch, "n_batch", where)
    n_timesteps = positive_int(n_timesteps, "n_timesteps", where)
    n_harmonics = positive_int(n_harmonics, "n_harmonics", where)
    n_mags = positive_int(n_mags, "n_mags", where)
    d = _Draws(seed)
    n_notes = d.uniform_int(1, 20)

    def method() -> str:
        return "nearest" if d.flip(0.5) else "linear"

    harm_amp = d.signal([n_batch, n_notes, 1], n_timesteps, -2.0, 2.0, method())
    note_midi = d.signal([n_batch, n_notes, 1], n_timesteps, 24.0, 84.0, "nearest")
    f0_hz = np.asarray(midi_to_hz(note_midi.astype(np.float32)))
    dist_method = method()
    exponents = [d.uniform(1.0, 6.0) for _ in range(10)]
    lines = np.stack([
        -(np.linspace(0.0, float(i), n_harmonics, dtype=np.float32) ** np.float32(e))
        for i, e in enumerate(exponents)
    ])  # fmt: skip
    weights = d.signal([n_batch, n_notes, 10], n_timesteps, 0.0, 1.0, dist_method)
    harm_dist = np.einsum("btl,lh->bth", weights, lines)
    mags_method = method()
    mags_max = d.uniform(-4.0, 0.0)
    mags = d.signal([n_batch, n_notes, n_mags], n_timesteps, -6.0, mags_max, mags_method)
    if get_controls:
        harm_amp = np.asarray(exp_sigmoid(harm_amp))
        harm_dist = np.asarray(exp_sigmoid(harm_dist))
        harm_dist = np.where(f0_hz >= 8000.0, 0.0, harm_dist)  # ddsp's f0-only filter
        harm_dist = np.asarray(safe_divide(harm_dist, harm_dist.sum(-1, keepdims=True)))
        mags = np.asarray(exp_sigmoid(mags))
    sin_amps, sin_freqs = harmonic_to_sinusoidal(harm_amp, harm_dist, f0_hz)
    out = {"harm_amp": harm_amp, "harm_dist": harm_dist, "f0_hz": f0_hz,
           "sin_amps": sin_amps, "sin_freqs": sin_freqs, "noise_magnitudes": mags}  # fmt: skip
    return {k: np.asarray(v, np.float32) for k, v in out.items()}
