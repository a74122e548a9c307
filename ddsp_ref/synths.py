"""Synthesizers (ddsp.synths): Harmonic, FilteredNoise, Wavetable, Sinusoidal, TensorToAudio."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import core
from .autodiff import ops
from .autodiff.tensor import Tensor
from .backend import array_namespace, default_rng
from .gin_support import register
from .processors import Processor
from .validation import (
    check_rank,
    check_same_batch,
    nonnegative_int,
    one_of,
    positive_int,
    positive_number,
)

__all__ = ["TensorToAudio", "Harmonic", "FilteredNoise", "Wavetable", "Sinusoidal"]


def _frame_controls(cls: str, **controls: Any) -> dict:
    """Frame-wise controls as float arrays (lists and scalars accepted), each
    ``[batch, n_frames, channels]`` with one batch size (or 1) and one frame count (>= 1)."""
    out = {}
    for name, x in controls.items():
        x = core.to_float(x, name, cls)
        check_rank(x, 3, name, cls, "[batch, n_frames, channels]")
        out[name] = x
    check_same_batch(cls, **out)
    frames = {k: int(v.shape[1]) for k, v in out.items()}
    if len(set(frames.values())) > 1 or min(frames.values()) < 1:
        raise ValueError(f"{cls}: controls must share n_frames >= 1, got {frames}")
    return out


def _check_single_channel(cls: str, **controls: Any) -> None:
    for key, value in controls.items():
        if value.shape[-1] != 1:
            raise ValueError(
                f"{cls}: {key} must have one channel ([batch, n_frames, 1]), got "
                f"shape {tuple(value.shape)}"
            )


# Frame-rate elements scaled per chunk by _by_frames (~4 MB per float32 temporary).
_FRAME_CHUNK_ELEMENTS = 1 << 20


def _by_frames(scale: Callable, *controls: Any) -> dict:
    """``scale(*controls)`` (a dict of ``[batch, n_frames, ...]`` arrays) computed a chunk of
    frames at a time into preallocated outputs, for frame-wise scalings of plain arrays: the
    temporaries of the scaling stay chunk-sized however long the controls are."""
    per_frame = sum(int(np.prod(x.shape)) // max(x.shape[1], 1) for x in controls)
    n_frames = controls[0].shape[1]
    size = max(1, _FRAME_CHUNK_ELEMENTS // max(per_frame, 1))
    if size >= n_frames:
        return scale(*controls)
    out = None
    for start in range(0, n_frames, size):
        part = scale(*(x[:, start : start + size] for x in controls))
        if out is None:
            xp = array_namespace(*part.values())
            out = {k: xp.empty(v.shape[:1] + (n_frames,) + v.shape[2:], v.dtype)
                   for k, v in part.items()}  # fmt: skip
        for key, value in part.items():
            out[key][:, start : start + size] = value
    return out


def _sizes(cls: str, n_samples: Any, sample_rate: Any) -> tuple[int, float]:
    return (
        positive_int(n_samples, "n_samples", cls),
        positive_number(sample_rate, "sample_rate", cls),
    )


class TensorToAudio(Processor):
    """Pass samples ``[batch, n_samples, 1]`` through as audio ``[batch, n_samples]``."""

    def __init__(self, name: str = "tensor_to_audio"):
        super().__init__(name=name)

    def get_controls(self, samples: Any) -> dict:
        samples = core.to_float(samples, "samples", "TensorToAudio")
        if len(samples.shape) != 3 or samples.shape[2] != 1:
            raise ValueError(
                "TensorToAudio: samples must have shape [batch, n_samples, 1], got "
                f"{tuple(samples.shape)}"
            )
        return {"samples": samples}

    def get_signal(self, samples: Any) -> Any:
        return ops.squeeze(samples, axis=2)


class Harmonic(Processor):
    """Harmonic synthesizer: a fundamental ``f0_hz`` and a distribution over its harmonics.

    Args:
        n_samples: output length in samples.
        sample_rate: samples per second.
        scale_fn: applied to amplitudes and to the harmonic distribution in get_controls
            (default ``core.exp_sigmoid``; None to pass controls through).
        normalize_below_nyquist: zero harmonics at or above Nyquist before normalising.
        amp_resample_method: 'window' (default), 'linear', 'cubic' or 'nearest'.
        use_angular_cumsum: accepted for parity; phase is float64-exact either way.
    """

    def __init__(
        self,
        n_samples: int = 64000,
        sample_rate: int = 16000,
        scale_fn: Callable | None = core.exp_sigmoid,
        normalize_below_nyquist: bool = True,
        amp_resample_method: str = "window",
        use_angular_cumsum: bool = False,
        name: str = "harmonic",
    ):
        super().__init__(name=name)
        self.n_samples, self.sample_rate = _sizes("Harmonic", n_samples, sample_rate)
        self.scale_fn = scale_fn
        self.normalize_below_nyquist = normalize_below_nyquist
        self.amp_resample_method = one_of(
            amp_resample_method, ("nearest", "linear", "cubic", "window"),
            "amp_resample_method", "Harmonic",
        )  # fmt: skip
        self.use_angular_cumsum = use_angular_cumsum

    def get_controls(self, amplitudes: Any, harmonic_distribution: Any, f0_hz: Any) -> dict:
        """Scale the network outputs.

        Args:
            amplitudes: ``[batch, n_frames, 1]`` overall amplitude (before scale_fn).
            harmonic_distribution: ``[batch, n_frames, n_harmonics]`` (before scale_fn).
            f0_hz: ``[batch, n_frames, 1]`` fundamental frequency in Hz.
        """
        c = _frame_controls(
            "Harmonic",
            amplitudes=amplitudes,
            harmonic_distribution=harmonic_distribution,
            f0_hz=f0_hz,
        )
        amplitudes, harmonic_distribution, f0_hz = c.values()
        _check_single_channel("Harmonic", amplitudes=amplitudes, f0_hz=f0_hz)
        frame_wise = self.scale_fn is None or self.scale_fn is core.exp_sigmoid
        if frame_wise and not any(isinstance(x, Tensor) for x in c.values()):
            return _by_frames(self._scale, amplitudes, harmonic_distribution, f0_hz)
        return self._scale(amplitudes, harmonic_distribution, f0_hz)

    def _scale(self, amplitudes: Any, harmonic_distribution: Any, f0_hz: Any) -> dict:
        if self.scale_fn is not None:
            amplitudes = self.scale_fn(amplitudes)
            harmonic_distribution = self.scale_fn(harmonic_distribution)
        sample_rate = self.sample_rate if self.normalize_below_nyquist else None
        harmonic_distribution = core.normalize_harmonics(harmonic_distribution, f0_hz, sample_rate)
        return {
            "amplitudes": amplitudes,
            "harmonic_distribution": harmonic_distribution,
            "f0_hz": f0_hz,
        }

    def get_signal(self, amplitudes: Any, harmonic_distribution: Any, f0_hz: Any) -> Any:
        """Audio ``[batch, n_samples]`` from scaled controls."""
        return core.harmonic_synthesis(
            frequencies=f0_hz,
            amplitudes=amplitudes,
            harmonic_distribution=harmonic_distribution,
            n_samples=self.n_samples,
            sample_rate=self.sample_rate,
            amp_resample_method=self.amp_resample_method,
            use_angular_cumsum=self.use_angular_cumsum,
        )


class FilteredNoise(Processor):
    """Uniform noise filtered by a time-varying FIR filter, one filter per frame.

    Args:
        n_samples: output length in samples.
        window_size: FIR window (0 keeps the full ``2 * (n_bands - 1)`` taps).
        scale_fn: applied to ``magnitudes + initial_bias`` (None: magnitudes pass through).
        initial_bias: shifts the network output down so the noise starts quiet.
        seed: int or generator for the noise. Every call draws fresh noise like ddsp; the same
            seed gives the same sequence of calls.
    """

    def __init__(
        self,
        n_samples: int = 64000,
        window_size: int = 257,
        scale_fn: Callable | None = core.exp_sigmoid,
        initial_bias: float = -5.0,
        seed: Any = None,
        name: str = "filtered_noise",
    ):
        super().__init__(name=name)
        self.n_samples = positive_int(n_samples, "n_samples", "FilteredNoise")
        self.window_size = nonnegative_int(window_size, "window_size", "FilteredNoise")
        self.scale_fn = scale_fn
        self.initial_bias = initial_bias
        self._noise = NoiseSource(seed)

    @property
    def seed(self) -> Any:
        """The noise seed given at construction."""
        return self._noise.seed

    def reset_noise(self) -> None:
        """Restart the noise sequence from the seed (the next call draws what the first did)."""
        self._noise = NoiseSource(self._noise.seed)

    def get_controls(self, magnitudes: Any) -> dict:
        """Args: magnitudes ``[batch, n_frames, n_bands]``, bands linear from 0 to Nyquist."""
        magnitudes = _frame_controls("FilteredNoise", magnitudes=magnitudes)["magnitudes"]
        if magnitudes.shape[-1] < 2:
            raise ValueError(
                "FilteredNoise: magnitudes need at least 2 frequency bands, got shape "
                f"{tuple(magnitudes.shape)}"
            )
        if self.scale_fn is not None:
            magnitudes = self.scale_fn(magnitudes + self.initial_bias)
        return {"magnitudes": magnitudes}

    def get_signal(self, magnitudes: Any) -> Any:
        """Audio ``[batch, n_samples]``: fresh uniform(-1, 1) noise through the filters."""
        batch = magnitudes.shape[0]
        noise = self._noise.uniform(
            array_namespace(magnitudes), (batch, self.n_samples), magnitudes.dtype
        )
        return core.frequency_filter(noise, magnitudes, window_size=self.window_size)


class NoiseSource:
    """Seedable uniform noise on numpy or cupy; one generator per array module."""

    def __init__(self, seed: Any = None):
        self.seed = seed
        self._generators: dict[str, Any] = {}

    def uniform(self, xp: Any, shape: tuple, dtype: Any) -> Any:
        key = xp.__name__
        if key not in self._generators:
            self._generators[key] = default_rng(self.seed, xp)
        rng = self._generators[key]
        # Draw in the target dtype and map [0, 1) -> [-1, 1) in place: no float64 temporaries,
        # which matters for minutes of audio.
        dtype = xp.dtype(dtype)
        if hasattr(rng, "random"):
            sample = rng.random(shape, dtype=dtype)
        else:  # pragma: no cover - legacy cupy RandomState
            sample = rng.random_sample(shape).astype(dtype)
        sample *= 2
        sample -= 1
        return sample


class Wavetable(Processor):
    """Wavetable synthesizer with (possibly time-varying) learnable tables.

    Args:
        n_samples, sample_rate: output length and rate.
        scale_fn: applied to amplitudes and to the wavetables (default exp_sigmoid).
    """

    def __init__(
        self,
        n_samples: int = 64000,
        sample_rate: int = 16000,
        scale_fn: Callable | None = core.exp_sigmoid,
        name: str = "wavetable",
    ):
        super().__init__(name=name)
        self.n_samples, self.sample_rate = _sizes("Wavetable", n_samples, sample_rate)
        self.scale_fn = scale_fn

    def get_controls(self, amplitudes: Any, wavetables: Any, f0_hz: Any) -> dict:
        """Args: amplitudes ``[B, F, 1]``, wavetables ``[B, F, W]`` or ``[B, W]``, f0_hz
        ``[B, F, 1]``."""
        c = _frame_controls("Wavetable", amplitudes=amplitudes, f0_hz=f0_hz)
        amplitudes, f0_hz = c["amplitudes"], c["f0_hz"]
        wavetables = core.to_float(wavetables, "wavetables", "Wavetable")
        check_rank(
            wavetables, (2, 3), "wavetables", "Wavetable", "[batch(, n_frames), n_wavetable]"
        )
        check_same_batch("Wavetable", amplitudes=amplitudes, wavetables=wavetables)
        if wavetables.shape[-1] < 1 or (len(wavetables.shape) == 3 and wavetables.shape[1] < 1):
            raise ValueError(f"Wavetable: wavetables are empty (shape {tuple(wavetables.shape)})")
        _check_single_channel("Wavetable", amplitudes=amplitudes, f0_hz=f0_hz)
        if self.scale_fn is not None:
            wavetables = self.scale_fn(wavetables)
            amplitudes = self.scale_fn(amplitudes)
        return {"amplitudes": amplitudes, "wavetables": wavetables, "f0_hz": f0_hz}

    def get_signal(self, amplitudes: Any, wavetables: Any, f0_hz: Any) -> Any:
        # ddsp resamples the tables to [batch, n_samples, n_wavetable] here and
        # wavetable_synthesis resamples them again (the identity); passing the frame-rate
        # tables computes the same lookup without the audio-rate tables.
        return core.wavetable_synthesis(
            amplitudes=amplitudes,
            wavetables=wavetables,
            frequencies=f0_hz,
            n_samples=self.n_samples,
            sample_rate=self.sample_rate,
        )


class Sinusoidal(Processor):
    """Bank of freely moving sinusoids.

    Args:
        n_samples, sample_rate: output length and rate.
        amp_scale_fn: applied to amplitudes (default exp_sigmoid).
        amp_resample_method: how amplitudes are upsampled (default 'window').
        freq_scale_fn: maps network outputs to Hz (default frequencies_sigmoid); when set,
            amplitudes of sinusoids at or above Nyquist are zeroed.
    """

    def __init__(
        self,
        n_samples: int = 64000,
        sample_rate: int = 16000,
        amp_scale_fn: Callable | None = core.exp_sigmoid,
        amp_resample_method: str = "window",
        freq_scale_fn: Callable | None = core.frequencies_sigmoid,
        name: str = "sinusoidal",
    ):
        super().__init__(name=name)
        self.n_samples, self.sample_rate = _sizes("Sinusoidal", n_samples, sample_rate)
        self.amp_scale_fn = amp_scale_fn
        self.amp_resample_method = one_of(
            amp_resample_method, ("nearest", "linear", "cubic", "window"),
            "amp_resample_method", "Sinusoidal",
        )  # fmt: skip
        self.freq_scale_fn = freq_scale_fn

    def get_controls(self, amplitudes: Any, frequencies: Any) -> dict:
        """Args: amplitudes and frequencies ``[batch, n_frames, n_sinusoids]``."""
        c = _frame_controls("Sinusoidal", amplitudes=amplitudes, frequencies=frequencies)
        frame_wise = self.amp_scale_fn in (None, core.exp_sigmoid) and self.freq_scale_fn in (
            None,
            core.frequencies_sigmoid,
        )
        if frame_wise and not any(isinstance(x, Tensor) for x in c.values()):
            out = _by_frames(self._scale, c["amplitudes"], c["frequencies"])
        else:
            out = self._scale(c["amplitudes"], c["frequencies"])
        if out["amplitudes"].shape[-1] != out["frequencies"].shape[-1]:
            raise ValueError(
                "Sinusoidal: amplitudes and frequencies must give the same n_sinusoids, got "
                f"{tuple(out['amplitudes'].shape)} and {tuple(out['frequencies'].shape)}"
            )
        return out

    def _scale(self, amplitudes: Any, frequencies: Any) -> dict:
        if self.amp_scale_fn is not None:
            amplitudes = self.amp_scale_fn(amplitudes)
        if self.freq_scale_fn is not None:
            frequencies = self.freq_scale_fn(frequencies)
            amplitudes = core.remove_above_nyquist(frequencies, amplitudes, self.sample_rate)
        return {"amplitudes": amplitudes, "frequencies": frequencies}

    def get_signal(self, amplitudes: Any, frequencies: Any) -> Any:
        """Audio ``[batch, n_samples]``: ddsp's resample + oscillator_bank, with the upsampling
        fused into the oscillator kernel (no ``[batch, n_samples, n_sinusoids]`` controls)."""
        return core.sinusoidal_synthesis(
            frequencies,
            amplitudes,
            n_samples=self.n_samples,
            sample_rate=self.sample_rate,
            amp_resample_method=self.amp_resample_method,
        )


for _cls in (TensorToAudio, Harmonic, FilteredNoise, Wavetable, Sinusoidal):
    register(_cls, module="ddsp_ref.synths")
del _cls
