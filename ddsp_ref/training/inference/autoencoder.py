"""ddsp's ``AutoencoderInference``: a trained Autoencoder re-configured for a new length."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ...gin_support import configurable, require_gin
from ...validation import positive_number
from ..models import Autoencoder
from .base import ExportMixin, checkpoint_step, parse_bindings, parse_operative_config, query

__all__ = ["AutoencoderInference"]

# ddsp's replacement dag when the reverb is removed (the solo_instrument group without it).
_DRY_DAG = """ProcessorGroup.dag = [
    (@synths.Harmonic(), ['amps', 'harmonic_distribution', 'f0_hz']),
    (@synths.FilteredNoise(), ['noise_magnitudes']),
    (@processors.Add(), ['filtered_noise/signal', 'harmonic/signal']),
]"""


class AutoencoderInference(ExportMixin, Autoencoder):
    """An inference-only Autoencoder of ``length_seconds``, from a checkpoint folder.

    As ddsp: the folder's operative config is parsed (:func:`parse_operative_config`); the
    hop is ``Harmonic.n_samples // <preprocessor>.time_steps`` of training; ``n_frames =
    int(length_seconds * sample_rate / hop)`` and ``n_samples = n_frames * hop`` are bound to
    ``Harmonic.n_samples``, ``FilteredNoise.n_samples`` and the preprocessor's ``time_steps``
    (so a length that is not a whole number of hops is rounded down);
    ``oscillator_bank.use_angular_cumsum = True`` is bound (ddsp_ref's phase is exact
    either way); with ``remove_reverb`` the processor group becomes Harmonic + FilteredNoise
    + Add. The model is built on silent frames, its parameters restored from ddsp_ref's
    ``ckpt-<step>.npz`` or ddsp's TF checkpoint (parameters the model no longer has, the
    reverb's, are ignored: TF's ``expect_partial``), and :meth:`call` runs with
    ``training=False``.

    One difference from ddsp 3.7.0: ``F0LoudnessPreprocessor.compute_loudness = False`` is
    bound, so the given ``loudness_db`` is used. An inference call has no audio, and ddsp's
    own build (``{loudness_db, f0_hz}`` only) fails on configs with ``compute_loudness =
    True``, the default.

    Call: ``model({'f0_hz': [n_frames], 'loudness_db': [n_frames]})`` (``power_db`` for the
    power preprocessors; ``[batch, n_frames]`` also works; other frame counts are resampled
    to ``n_frames`` by the preprocessor, as in ddsp) -> the Autoencoder's outputs dict, with
    ``audio_synth`` ``[batch, n_samples]``.

    Args:
        ckpt: checkpoint folder (or checkpoint file) with its ``operative_config-*.gin``.
        length_seconds: length of the audio to synthesize [s].
        remove_reverb: drop the reverb from the processor group.
        verbose: print the lengths, and what was restored (to stderr).

    Attributes:
        sample_rate, hop_size, n_frames, n_samples, preprocessor_type (the class name).

    Raises:
        FileNotFoundError: no config / checkpoint.
        ValueError: a config whose preprocessor has no ``time_steps`` (the VST models: use
            the VST modules), or a length shorter than one hop.
    """

    def __init__(
        self,
        ckpt: str | os.PathLike,
        length_seconds: float = 4,
        remove_reverb: bool = True,
        verbose: bool = True,
        **kwargs: Any,
    ):
        where = "AutoencoderInference"
        self.length_seconds = positive_number(length_seconds, "length_seconds", where)
        self.remove_reverb = bool(remove_reverb)
        self.verbose = bool(verbose)
        self.configure_gin(ckpt)
        super().__init__(**kwargs)
        self.build_network()
        path = self._restore(ckpt)
        self._step = checkpoint_step(path)
        self._config_text = require_gin().config_str()
        self._export_kwargs = {
            "length_seconds": self.length_seconds,
            "remove_reverb": self.remove_reverb,
            "verbose": self.verbose,
        }

    def configure_gin(self, ckpt: str | os.PathLike) -> None:
        """Parse the operative config and bind the inference lengths (see the class)."""
        where = "AutoencoderInference"
        parse_operative_config(ckpt)
        ref = query("Autoencoder.preprocessor", where)
        self.preprocessor_type = ref.config_key[-1].split(".")[-1]
        self.sample_rate = int(query("Harmonic.sample_rate", where))
        n_samples_train = int(query("Harmonic.n_samples", where))
        time_steps_train = int(
            query(
                f"{self.preprocessor_type}.time_steps",
                where,
                f" ({self.preprocessor_type} has no time_steps; a models/vst/vst.gin model is "
                "served by the VST modules, e.g. VSTPredictControls)",
            )
        )
        self.hop_size = n_samples_train // time_steps_train
        self.n_frames = int(self.length_seconds * self.sample_rate / self.hop_size)
        if self.n_frames < 1:
            raise ValueError(
                f"{where}: length_seconds={self.length_seconds} is shorter than one hop "
                f"({self.hop_size} samples at {self.sample_rate} Hz)"
            )
        self.n_samples = self.n_frames * self.hop_size
        if self.verbose:
            print("N_Samples:", self.n_samples)
            print("Hop Size:", self.hop_size)
            print("N_Frames:", self.n_frames)
        config = [
            f"Harmonic.n_samples = {self.n_samples}",
            f"FilteredNoise.n_samples = {self.n_samples}",
            f"{self.preprocessor_type}.time_steps = {self.n_frames}",
            "oscillator_bank.use_angular_cumsum = True",
        ]
        if self.preprocessor_type == "F0LoudnessPreprocessor":
            config.append("F0LoudnessPreprocessor.compute_loudness = False")
        if self.remove_reverb:
            config.append(_DRY_DAG)
        parse_bindings(config)

    def build_network(self) -> None:
        """Run silent frames through the model (creates the layers sized by their input);
        the noise synths then restart their sequence, so a seeded model renders as if never
        called."""
        db_key = "power_db" if "Power" in self.preprocessor_type else "loudness_db"
        zeros = np.zeros(self.n_frames, np.float32)
        self({db_key: zeros, "f0_hz": zeros})
        for processor in self.processor_group.processors:
            if hasattr(processor, "reset_noise"):
                processor.reset_noise()

    def _restore(self, ckpt: str | os.PathLike) -> str:
        from .base import restore_partial

        return restore_partial(self, ckpt, self.verbose)

    def export_params(self) -> dict:
        return self.parameters()

    def call(self, inputs: dict, **unused_kwargs: Any) -> dict:
        """The outputs dict of ``Autoencoder.call(inputs, training=False)``."""
        return super().call(inputs, training=False)


AutoencoderInference = configurable(AutoencoderInference, module="ddsp_ref.training.inference")
