"""Effects (ddsp.effects): Reverb, ExpDecayReverb, FilteredNoiseReverb, FIRFilter, ModDelay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import core
from .autodiff import ops
from .backend import array_namespace
from .gin_support import register
from .processors import Processor
from .synths import FilteredNoise, NoiseSource
from .validation import check_rank, finite_number, nonnegative_int, positive_int, positive_number

__all__ = ["Reverb", "ExpDecayReverb", "FilteredNoiseReverb", "FIRFilter", "ModDelay"]


def _normal(seed: Any, shape: tuple, stddev: float) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * stddev).astype(np.float32)


def _reverb_length(value: Any, where: str) -> int:
    """At least 2 taps: tap 0 is the dry path (masked), so a 1-tap IR holds no reverb."""
    length = positive_int(value, "reverb_length", where)
    if length < 2:
        raise ValueError(f"{where}: reverb_length must be at least 2 (tap 0 is the dry path)")
    return length


def _tile_to_batch(x: Any, batch: int) -> Any:
    """``[...]`` parameter -> ``[batch, ...]`` (shared across the batch)."""
    x = ops.expand_dims(x, 0)
    return ops.tile(x, (batch,) + (1,) * (len(x.shape) - 1))


class Reverb(Processor):
    """Convolutional reverb with a given or a learned impulse response.

    Args:
        trainable: learn an IR parameter ``ir`` of shape ``[reverb_length]``, initialised from
            Normal(0, 1e-6) (as ddsp); otherwise the IR is a control input.
        reverb_length: IR length in samples (trainable case).
        add_dry: add the input to the reverberated signal.
        seed: seed of the parameter initialisation.
    """

    def __init__(
        self,
        trainable: bool = False,
        reverb_length: int = 48000,
        add_dry: bool = True,
        name: str = "reverb",
        seed: Any = 0,
    ):
        super().__init__(name=name, trainable=trainable)
        self.reverb_length = _reverb_length(reverb_length, "Reverb")
        self.add_dry = add_dry
        if trainable:
            self.add_parameter("ir", _normal(seed, (self.reverb_length,), 1e-6))

    def _mask_dry_ir(self, ir: Any) -> Any:
        """Zero the first tap: the dry path is added explicitly (ddsp's _mask_dry_ir)."""
        xp = array_namespace(ir)
        mask = xp.ones(ir.shape[-1], dtype=ir.dtype)
        mask[0] = 0
        return ir * mask

    def _match_dimensions(self, audio: Any, ir: Any) -> Any:
        where = type(self).__name__
        check_rank(ir, (1, 2, 3), "ir", where, "[ir_size], [batch, ir_size] or [batch, ir_size, 1]")
        if len(ir.shape) == 1:
            ir = ops.expand_dims(ir, 0)
        elif len(ir.shape) == 3:
            if ir.shape[2] != 1:
                raise ValueError(
                    f"{where}: a 3-D ir must be [batch, ir_size, 1], got shape {tuple(ir.shape)}"
                )
            ir = ir[:, :, 0]
        batch_ir, batch = ir.shape[0], audio.shape[0]
        if batch_ir not in (1, batch):
            raise ValueError(
                f"{type(self).__name__}: ir batch {batch_ir} does not match audio batch {batch}"
            )
        return ir

    def get_controls(self, audio: Any, ir: Any = None) -> dict:
        """Args: audio ``[batch, n_samples]``; ir ``[batch, ir_size]`` (non-trainable only)."""
        if len(audio.shape) != 2:
            raise ValueError(
                f"{type(self).__name__}: audio must be [batch, n_samples], got "
                f"shape {tuple(audio.shape)}"
            )
        if self.trainable:
            ir = _tile_to_batch(self.parameter("ir"), audio.shape[0])
        elif ir is None:
            raise ValueError(
                f"{type(self).__name__}: an impulse response `ir` must be given "
                "when trainable=False"
            )
        return {"audio": audio, "ir": ir}

    def get_signal(self, audio: Any, ir: Any) -> Any:
        """Reverberated audio ``[batch, n_samples]``: causal convolution (+ dry)."""
        audio, ir = core.to_float(audio), core.to_float(ir)
        ir = self._match_dimensions(audio, ir)
        if ir.shape[-1] < 2:
            # Tap 0 is the dry path and is masked, so a 1-tap IR has no reverb at all (and
            # ddsp's crop returns an empty signal for it on power-of-two lengths).
            raise ValueError(
                f"{type(self).__name__}: the impulse response needs at least 2 "
                f"taps (tap 0 is the dry path), got {ir.shape[-1]}"
            )
        ir = self._mask_dry_ir(ir)
        wet = core.fft_convolve(audio, ir, padding="same", delay_compensation=0)
        return wet + audio if self.add_dry else wet


class ExpDecayReverb(Reverb):
    """Reverb whose IR is noise under an exponential decay, ``gain * exp(-(2 + e^decay) t)``.

    Trainable parameters ``gain`` (init 2.0) and ``decay`` (init 4.0), each of shape [1].
    Fresh noise (shared across the batch) is drawn on every call; ``seed`` makes it repeatable.
    """

    def __init__(
        self,
        trainable: bool = False,
        reverb_length: int = 48000,
        scale_fn: Callable | None = core.exp_sigmoid,
        add_dry: bool = True,
        name: str = "exp_decay_reverb",
        seed: Any = None,
    ):
        Processor.__init__(self, name=name, trainable=trainable)
        self.reverb_length = _reverb_length(reverb_length, "ExpDecayReverb")
        self.add_dry = add_dry
        self.scale_fn = scale_fn
        self._noise = NoiseSource(seed)
        if trainable:
            self.add_parameter("gain", np.array([2.0], np.float32))
            self.add_parameter("decay", np.array([4.0], np.float32))

    def _get_ir(self, gain: Any, decay: Any) -> Any:
        """IR ``[batch, reverb_length]`` from gain and decay ``[batch, 1]``."""
        xp = array_namespace(gain)
        dtype = core.to_float(gain).dtype
        t = xp.linspace(0.0, 1.0, self.reverb_length, dtype=dtype)[None, :]
        if self.scale_fn is not None:
            gain = self.scale_fn(gain)
        decay_exponent = 2.0 + ops.exp(decay)
        noise = self._noise.uniform(xp, (1, self.reverb_length), dtype)
        return gain * ops.exp(-decay_exponent * t) * noise

    def get_controls(self, audio: Any, gain: Any = None, decay: Any = None) -> dict:
        for key, value in (("gain", gain), ("decay", decay)):
            if value is not None and (len(value.shape) != 2 or value.shape[1] != 1):
                raise ValueError(
                    f"ExpDecayReverb: {key} must be [batch, 1], got shape {tuple(value.shape)}"
                )
        if self.trainable:
            batch = audio.shape[0]
            gain = _tile_to_batch(self.parameter("gain"), batch)
            decay = _tile_to_batch(self.parameter("decay"), batch)
        elif gain is None or decay is None:
            raise ValueError(
                "ExpDecayReverb: `gain` and `decay` ([batch, 1]) must be given when trainable=False"
            )
        return {"audio": audio, "ir": self._get_ir(core.to_float(gain), core.to_float(decay))}


class FilteredNoiseReverb(Reverb):
    """Reverb whose IR is filtered noise with learned time-varying magnitudes.

    Trainable parameter ``magnitudes`` ``[n_frames, n_filter_banks]`` init Normal(0, 0.01).
    """

    def __init__(
        self,
        trainable: bool = False,
        reverb_length: int = 48000,
        window_size: int = 257,
        n_frames: int = 1000,
        n_filter_banks: int = 16,
        scale_fn: Callable | None = core.exp_sigmoid,
        initial_bias: float = -3.0,
        add_dry: bool = True,
        name: str = "filtered_noise_reverb",
        seed: Any = None,
    ):
        Processor.__init__(self, name=name, trainable=trainable)
        where = "FilteredNoiseReverb"
        self.reverb_length = _reverb_length(reverb_length, where)
        n_frames = positive_int(n_frames, "n_frames", where)
        n_filter_banks = positive_int(n_filter_banks, "n_filter_banks", where)
        window_size = nonnegative_int(window_size, "window_size", where)
        self.add_dry = add_dry
        self._synth = FilteredNoise(
            n_samples=self.reverb_length,
            window_size=window_size,
            scale_fn=scale_fn,
            initial_bias=initial_bias,
            seed=seed,
        )
        if trainable:
            init_seed = 0 if seed is None or not isinstance(seed, int) else seed
            self.add_parameter("magnitudes", _normal(init_seed, (n_frames, n_filter_banks), 0.01))

    def get_controls(self, audio: Any, magnitudes: Any = None) -> dict:
        if magnitudes is not None:
            check_rank(magnitudes, 3, "magnitudes", "FilteredNoiseReverb",
                       "[batch, n_frames, n_filter_banks]")  # fmt: skip
        if self.trainable:
            magnitudes = ops.expand_dims(self.parameter("magnitudes"), 0)
        elif magnitudes is None:
            raise ValueError(
                "FilteredNoiseReverb: `magnitudes` ([batch, n_frames, n_bands]) "
                "must be given when trainable=False"
            )
        ir = self._synth(magnitudes)
        if self.trainable:
            ir = ops.tile(ir, (audio.shape[0], 1))
        return {"audio": audio, "ir": ir}


class FIRFilter(Processor):
    """Time-varying linear-phase FIR filter from frame-wise magnitude responses."""

    def __init__(
        self,
        window_size: int = 257,
        scale_fn: Callable | None = core.exp_sigmoid,
        name: str = "fir_filter",
    ):
        super().__init__(name=name)
        self.window_size = nonnegative_int(window_size, "window_size", "FIRFilter")
        self.scale_fn = scale_fn

    def get_controls(self, audio: Any, magnitudes: Any) -> dict:
        """Args: audio ``[batch, n_samples]``, magnitudes ``[batch, n_frames, n_bands]``."""
        check_rank(audio, 2, "audio", "FIRFilter", "[batch, n_samples]")
        check_rank(magnitudes, 3, "magnitudes", "FIRFilter", "[batch, n_frames, n_bands]")
        if self.scale_fn is not None:
            magnitudes = self.scale_fn(magnitudes)
        return {"audio": audio, "magnitudes": magnitudes}

    def get_signal(self, audio: Any, magnitudes: Any) -> Any:
        return core.frequency_filter(audio, magnitudes, window_size=self.window_size)


class ModDelay(Processor):
    """Modulated delay (chorus, flanger, vibrato).

    The delay spans [center_ms, center_ms + depth_ms] (ddsp's code; its docstring says
    center +- depth). Not gin-registered in ddsp; registered here for convenience.
    """

    def __init__(
        self,
        center_ms: float = 15.0,
        depth_ms: float = 10.0,
        sample_rate: int = 16000,
        gain_scale_fn: Callable | None = core.exp_sigmoid,
        phase_scale_fn: Callable | None = ops.sigmoid,
        add_dry: bool = True,
        name: str = "mod_delay",
    ):
        super().__init__(name=name)
        self.center_ms = finite_number(center_ms, "center_ms", "ModDelay")
        self.depth_ms = finite_number(depth_ms, "depth_ms", "ModDelay")
        self.sample_rate = positive_number(sample_rate, "sample_rate", "ModDelay")
        if self.center_ms < 0 or self.depth_ms < 0:
            raise ValueError(
                f"ModDelay: center_ms and depth_ms must be >= 0, got {center_ms} and {depth_ms}"
            )
        max_length = int(self.sample_rate / 1000.0 * (self.center_ms + self.depth_ms))
        if max_length < 1:
            raise ValueError(
                f"ModDelay: center_ms + depth_ms ({self.center_ms + self.depth_ms} ms) at "
                f"sample_rate {self.sample_rate} is shorter than one sample"
            )
        self.gain_scale_fn = gain_scale_fn
        self.phase_scale_fn = phase_scale_fn
        self.add_dry = add_dry

    def get_controls(self, audio: Any, gain: Any, phase: Any) -> dict:
        """Args: audio ``[B, N]``, gain and phase ``[B, N, 1]`` (sample rate)."""
        if len(audio.shape) != 2:
            raise ValueError(
                f"ModDelay: audio must be [batch, n_samples], got shape {tuple(audio.shape)}"
            )
        for key, value in (("gain", gain), ("phase", phase)):
            if len(value.shape) != 3 or tuple(value.shape[:2]) != tuple(audio.shape):
                raise ValueError(
                    f"ModDelay: {key} must be [batch, n_samples, 1] matching audio "
                    f"{tuple(audio.shape)}, got shape {tuple(value.shape)}"
                )
        if self.gain_scale_fn is not None:
            gain = self.gain_scale_fn(gain)
        if self.phase_scale_fn is not None:
            phase = self.phase_scale_fn(phase)
        return {"audio": audio, "gain": gain, "phase": phase}

    def get_signal(self, audio: Any, gain: Any, phase: Any) -> Any:
        max_delay_ms = self.center_ms + self.depth_ms
        max_length_samples = int(self.sample_rate / 1000.0 * max_delay_ms)
        depth_phase = self.depth_ms / max_delay_ms
        center_phase = self.center_ms / max_delay_ms
        phase = phase * depth_phase + center_phase
        wet = core.variable_length_delay(audio=audio, phase=phase, max_length=max_length_samples)
        wet = wet * gain[:, :, 0]
        return wet + audio if self.add_dry else wet


for _cls in (Reverb, ExpDecayReverb, FilteredNoiseReverb, FIRFilter, ModDelay):
    register(_cls, module="ddsp_ref.effects")
del _cls
