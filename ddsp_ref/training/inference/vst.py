"""ddsp's VST (real-time plugin) inference modules, for models trained with
``models/vst/vst.gin``: one frame per call, every state explicit.

Per hop of ``sample_rate // frame_rate`` samples a host runs: ``VSTExtractFeatures`` (the
last ``frame_size`` samples -> f0 and power), ``VSTStatelessPredictControls`` (-> synth
controls, GRU state in and out) and ``VSTSynthesize`` (previous and current controls ->
``hop`` samples, oscillator phase in and out). Every call takes and returns 1-D arrays, as
ddsp's exported signatures do.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ... import core
from ...backend import array_namespace
from ...gin_support import configurable, require_gin
from ...module import Module
from ...synths import FilteredNoise
from ...validation import positive_int
from ..models import Autoencoder
from ..preprocessing import inv_scale_f0_hz
from .base import (
    ExportMixin,
    checkpoint_step,
    parse_bindings,
    parse_operative_config,
    processor_by_name,
    query,
    restore_partial,
)

__all__ = [
    "VSTBaseModule",
    "VSTExtractFeatures",
    "VSTPredictControls",
    "VSTStatelessPredictControls",
    "VSTSynthesize",
    "VSTSynthesizeHarmonic",
    "VSTSynthesizeNoise",
]

_VST_HINT = " (the VST modules serve models trained with models/vst/vst.gin)"


def _frame_vector(x: Any, size: int, name: str, where: str) -> Any:
    """``x`` as a float array of exactly ``size`` values (1-D, as ddsp's signatures)."""
    x = core.to_float(x, name, where)
    if int(np.prod(x.shape)) != size:
        raise ValueError(f"{where}: {name} must hold {size} value(s), got shape {tuple(x.shape)}")
    return x.reshape(size)


def _streaming_config(module: Any, where: str) -> None:
    """The sizes every VST module reads from a vst.gin operative config."""
    module.frame_size = int(query("%frame_size", where, _VST_HINT))
    frame_rate = int(query("%frame_rate", where, _VST_HINT))
    module.sample_rate = int(query("%sample_rate", where, _VST_HINT))
    module.hop_size = module.sample_rate // frame_rate
    splits = dict(query("RnnFcDecoder.output_splits", where, _VST_HINT))
    module.n_harmonics = int(splits["harmonic_distribution"])
    module.n_noise = int(splits["noise_magnitudes"])
    module.resample_method = query("Harmonic.amp_resample_method", where, _VST_HINT)


class VSTBaseModule(ExportMixin, Autoencoder):
    """A vst.gin Autoencoder of which only the decoder is restored (the preprocessor may
    differ from training's). Subclasses bind their gin changes in :meth:`configure_gin` and
    define :meth:`call`.

    Raises:
        ValueError: a config without vst.gin's macros (``frame_size``, ``frame_rate``,
            ``sample_rate``) or decoder / synth bindings.
    """

    def __init__(self, ckpt: str | os.PathLike, verbose: bool = False, **kwargs: Any):
        self.parse_gin(ckpt)
        self.configure_gin()
        super().__init__(**kwargs)
        self._build_decoder()
        path = self.restore(ckpt, verbose=verbose)
        self._step = checkpoint_step(path)
        self._config_text = require_gin().config_str()
        self._export_kwargs = dict(self._kwargs_to_save(), verbose=bool(verbose))

    def parse_gin(self, ckpt: str | os.PathLike) -> None:
        """Parse the operative config; read the frame, hop and output sizes."""
        where = type(self).__name__
        parse_operative_config(ckpt)
        _streaming_config(self, where)
        self.state_size = int(query("RnnFcDecoder.rnn_channels", where, _VST_HINT))

    def configure_gin(self) -> None:  # each VST module binds its own sizes
        raise TypeError(f"{type(self).__name__} must define configure_gin()")

    def _kwargs_to_save(self) -> dict:
        return {}

    def _build_decoder(self) -> None:
        """One zero frame through the decoder creates its layers (ddsp builds them with a
        dummy call too; here also for VSTExtractFeatures, so the restore can check them)."""
        zeros = np.zeros((1, 1, 1), np.float32)
        features = {key: zeros for key in self.decoder.input_keys if key != "state"}
        if getattr(self.decoder, "stateless", False):
            features["state"] = np.zeros((1, self.state_size), np.float32)
        self.decoder(features)

    def restore(self, checkpoint_path: str | os.PathLike, verbose: bool = True) -> str:
        """Restore the decoder only (as ddsp: the preprocessor, e.g. another CREPE model, and
        the processors keep their own values); returns the checkpoint file read."""
        return restore_partial(self, checkpoint_path, verbose, restore_keys=["decoder"])

    def export_params(self) -> dict:
        return {"decoder": self.decoder.parameters()}

    def _processor(self, name: str) -> Any:
        return processor_by_name(self.processor_group, name, type(self).__name__)

    def _controls(self, outputs: dict, f0_scaled: Any) -> tuple[Any, Any, Any]:
        """Decoder outputs through the synths' nonlinearities: 1-D amps, hd, noise."""
        f0_hz = inv_scale_f0_hz(f0_scaled)
        harm = self._processor("harmonic").get_controls(
            outputs["amps"], outputs["harmonic_distribution"], f0_hz
        )
        noise = self._processor("filtered_noise").get_controls(outputs["noise_magnitudes"])
        return (
            harm["amplitudes"][0, 0],
            harm["harmonic_distribution"][0, 0],
            noise["magnitudes"][0, 0],
        )

    def call(self, *args: Any, **kwargs: Any) -> Any:  # each VST module has its own signature
        raise TypeError(f"{type(self).__name__} must define call()")


class VSTExtractFeatures(VSTBaseModule):
    """One frame of audio -> ``(f0_hz, f0_scaled, pw_db, pw_scaled)``, each ``[1]``.

    The model's ``OnlineF0PowerPreprocessor`` with 'valid' padding, ``compute_f0`` and
    ``compute_power`` on, ``viterbi`` off: the frame ``[frame_size]`` (16 kHz) gives one
    frame of power (``compute_power``, ``frame_size`` samples) and of f0.

    Difference from ddsp: ddsp runs CREPE (its saved model at ``crepe_saved_model_path``) on
    the frame; ddsp_ref has no CREPE network and runs its own pitch tracker
    (``spectral_ops.compute_f0``: probabilistic YIN, each frame decoded alone as with
    ``viterbi=False``). ``crepe_saved_model_path`` is accepted and ignored. pYIN's f0 on
    silence or noise is the lowest pitch bin (31.7 Hz), where CREPE's is arbitrary; the
    confidence is not returned (as in ddsp).

    Call: ``audio`` ``[frame_size]`` (float) -> four ``[1]`` arrays: f0 [Hz], f0 scaled
    (``hz_to_midi / 127``), power [dB], power scaled (``dB / 80 + 1``).
    """

    def __init__(
        self, ckpt: str | os.PathLike, crepe_saved_model_path: str | None = None, **kwargs: Any
    ):
        self.crepe_saved_model_path = crepe_saved_model_path
        super().__init__(ckpt, **kwargs)

    def configure_gin(self) -> None:
        config = [
            'OnlineF0PowerPreprocessor.padding = "valid"',
            "OnlineF0PowerPreprocessor.compute_f0 = True",
            "OnlineF0PowerPreprocessor.compute_power = True",
            "OnlineF0PowerPreprocessor.viterbi = False",
        ]
        if self.crepe_saved_model_path is not None:
            config.append(
                f"OnlineF0PowerPreprocessor.crepe_saved_model_path = "
                f"{str(self.crepe_saved_model_path)!r}"
            )
        parse_bindings(config)

    def _kwargs_to_save(self) -> dict:
        return {"crepe_saved_model_path": self.crepe_saved_model_path}

    def call(self, audio: Any) -> tuple[Any, Any, Any, Any]:
        where = "VSTExtractFeatures"
        audio = _frame_vector(audio, self.frame_size, "audio", where).reshape(1, self.frame_size)
        zeros = np.zeros((1, 1), np.float32)
        outputs = self.preprocessor({"audio": audio, "f0_hz": zeros, "f0_confidence": zeros})
        return tuple(outputs[k][0, 0] for k in ("f0_hz", "f0_scaled", "pw_db", "pw_scaled"))


class VSTPredictControls(VSTBaseModule):
    """One frame of scaled f0 and power -> synth controls ``(amps [1], harmonic_distribution
    [n_harmonics], noise_magnitudes [n_noise])``, after the synths' nonlinearities.

    The decoder's GRU starts from zeros on every call (as ddsp's exported model: no state is
    kept), so each frame is decoded alone; :class:`VSTStatelessPredictControls` carries it.
    """

    def configure_gin(self) -> None:
        pass

    def call(self, f0_scaled: Any, pw_scaled: Any) -> tuple[Any, Any, Any]:
        where = "VSTPredictControls"
        f0_scaled = _frame_vector(f0_scaled, 1, "f0_scaled", where).reshape(1, 1, 1)
        pw_scaled = _frame_vector(pw_scaled, 1, "pw_scaled", where).reshape(1, 1, 1)
        outputs = self.decoder({"f0_scaled": f0_scaled, "pw_scaled": pw_scaled})
        return self._controls(outputs, f0_scaled)


class VSTStatelessPredictControls(VSTBaseModule):
    """:class:`VSTPredictControls` with the GRU state explicit: ``(f0_scaled [1], pw_scaled
    [1], state [rnn_channels])`` -> ``(amps [1], harmonic_distribution [n_harmonics],
    noise_magnitudes [n_noise], state [rnn_channels])``. Feeding each call the state the
    previous one returned decodes a sequence frame by frame exactly as the whole-sequence
    decoder does (start from zeros)."""

    def configure_gin(self) -> None:
        parse_bindings(["RnnFcDecoder.stateless = True"])

    def call(self, f0_scaled: Any, pw_scaled: Any, state: Any) -> tuple[Any, Any, Any, Any]:
        where = "VSTStatelessPredictControls"
        f0_scaled = _frame_vector(f0_scaled, 1, "f0_scaled", where).reshape(1, 1, 1)
        pw_scaled = _frame_vector(pw_scaled, 1, "pw_scaled", where).reshape(1, 1, 1)
        state = _frame_vector(state, self.state_size, "state", where)
        outputs = self.decoder(
            {
                "f0_scaled": f0_scaled,
                "pw_scaled": pw_scaled,
                "state": state.reshape(1, self.state_size),
            }
        )
        return (*self._controls(outputs, f0_scaled), outputs["state"][0])


@configurable(module="ddsp_ref.training.inference")
class VSTSynthesize(ExportMixin, Module):
    """One hop of audio from the previous and current frame's controls (no parameters).

    ``call(amps, prev_amps, hd, prev_hd, f0, prev_f0, noise, prev_phase)`` (``[1]``,
    ``[1]``, ``[n_harmonics]`` x 2, ``[1]`` x 2 [Hz], ``[n_noise]``, ``[1]`` [rad]) ->
    ``(audio [hop_size], final_phase [1])``: ``core.streaming_harmonic_synthesis`` of the
    two frames ``[prev, current]`` over ``hop_size`` samples from ``prev_phase``, plus the
    filtered noise of the current magnitudes (``FilteredNoise(n_samples=hop_size,
    window_size=<config>).get_signal``: fresh uniform noise per call).

    Difference from ddsp: ``final_phase`` is wrapped to [0, 2 pi] and accumulated in float64
    within the call; ddsp returns the unwrapped float32 phase, which grows without bound, so
    its rounding error grows with the time played (~1e-3 of the amplitude after 30 hops).
    Fed back either way, the same audio results up to that error.

    Args:
        ckpt: the model folder (only its operative config is read).
        new_hop_size: samples per call instead of ``sample_rate // frame_rate``.
    """

    def __init__(
        self, ckpt: str | os.PathLike, new_hop_size: int | None = None, name: str | None = None
    ):
        super().__init__(name=name)
        if new_hop_size is not None:
            new_hop_size = positive_int(new_hop_size, "new_hop_size", type(self).__name__)
        self.new_hop_size = new_hop_size
        self.parse_gin(ckpt)
        self._step = 0
        self._config_text = require_gin().config_str()
        self._export_kwargs = {"new_hop_size": new_hop_size}

    def parse_gin(self, ckpt: str | os.PathLike) -> None:
        where = type(self).__name__
        parse_operative_config(ckpt)
        _streaming_config(self, where)
        parse_bindings(["harmonic_oscillator_bank.use_angular_cumsum = True"])
        self.hop_size = self.new_hop_size if self.new_hop_size else self.hop_size
        window_size = query("FilteredNoise.window_size", where, _VST_HINT)
        self.filtered_noise = FilteredNoise(n_samples=self.hop_size, window_size=window_size)

    def children(self) -> dict[str, Module]:
        return {"filtered_noise": self.filtered_noise}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.call(*args, **kwargs)

    def _harmonic(self, amps, prev_amps, hd, prev_hd, f0, prev_f0, prev_phase) -> tuple:
        where = type(self).__name__
        h = self.n_harmonics

        def two_frames(prev: Any, cur: Any, size: int, name: str) -> Any:
            prev = _frame_vector(prev, size, "prev_" + name, where)
            cur = _frame_vector(cur, size, name, where)
            xp = array_namespace(prev)
            return xp.stack([prev, xp.asarray(cur, dtype=prev.dtype)])[None]

        audio, final_phase = core.streaming_harmonic_synthesis(
            frequencies=two_frames(prev_f0, f0, 1, "f0"),
            amplitudes=two_frames(prev_amps, amps, 1, "amps"),
            harmonic_distribution=two_frames(prev_hd, hd, h, "hd"),
            initial_phase=_frame_vector(prev_phase, 1, "prev_phase", where).reshape(1, 1, 1),
            n_samples=self.hop_size,
            sample_rate=self.sample_rate,
            amp_resample_method=self.resample_method,
        )
        return audio[0], final_phase[0, 0]

    def _noise(self, noise: Any) -> Any:
        noise = _frame_vector(noise, self.n_noise, "noise", type(self).__name__)
        mags = array_namespace(noise).stack([noise, noise])[None]  # two equal frames, as ddsp
        return self.filtered_noise.get_signal(mags)[0]

    def call(self, amps, prev_amps, hd, prev_hd, f0, prev_f0, noise, prev_phase) -> tuple:
        audio, final_phase = self._harmonic(amps, prev_amps, hd, prev_hd, f0, prev_f0, prev_phase)
        noise_audio = self._noise(noise)
        return audio + noise_audio.astype(audio.dtype), final_phase


@configurable(module="ddsp_ref.training.inference")
class VSTSynthesizeHarmonic(VSTSynthesize):
    """:class:`VSTSynthesize` without the noise: ``call(amps, prev_amps, hd, prev_hd, f0,
    prev_f0, prev_phase)`` -> ``(audio [hop_size], final_phase [1])``."""

    def call(self, amps, prev_amps, hd, prev_hd, f0, prev_f0, prev_phase) -> tuple:
        return self._harmonic(amps, prev_amps, hd, prev_hd, f0, prev_f0, prev_phase)


@configurable(module="ddsp_ref.training.inference")
class VSTSynthesizeNoise(VSTSynthesize):
    """The noise of :class:`VSTSynthesize` alone: ``call(noise [n_noise])`` -> audio
    ``[hop_size]``."""

    def call(self, noise: Any) -> Any:
        return self._noise(noise)
