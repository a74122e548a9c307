"""ddsp's ``training.preprocessing``: scaling helpers and the f0 / loudness (power) preprocessors.

The preprocessors are :class:`~ddsp_ref.training.nn.DictLayer`s: called with a features dict
they return ``{'f0_hz', 'loudness_db' | 'pw_db', 'f0_scaled', 'ld_scaled' | 'pw_scaled'}``,
every output ``[batch, time_steps, 1]``.
"""

from __future__ import annotations

from typing import Any

from .. import core
from ..autodiff import ops
from ..gin_support import register
from ..spectral_ops import (
    CREPE_SAMPLE_RATE,
    compute_f0,
    compute_loudness,
    compute_power,
    get_framed_lengths,
)
from ..validation import one_of, positive_int
from .nn import DictLayer

__all__ = [
    "at_least_3d",
    "scale_db",
    "inv_scale_db",
    "scale_f0_hz",
    "inv_scale_f0_hz",
    "F0LoudnessPreprocessor",
    "F0PowerPreprocessor",
    "OnlineF0PowerPreprocessor",
]

_F0_RANGE = 127.0  # MIDI notes: f0_scaled = midi / 127
_DB_RANGE = 80.0  # dB: -80..0 dB -> 0..1


def at_least_3d(x: Any) -> Any:
    """ddsp's ``at_least_3d``, applied step by step: a scalar gets a leading axis, then 1-D
    ``[T]`` becomes ``[1, T]``, then 2-D ``[B, T]`` becomes ``[B, T, 1]`` (so a scalar ends
    ``[1, 1, 1]``); 3-D and higher are returned as they are."""
    x = core.to_float(x, "x", "at_least_3d")
    if x.ndim == 0:
        x = ops.reshape(x, (1,))
    if x.ndim == 1:
        x = ops.expand_dims(x, 0)
    if x.ndim == 2:
        x = ops.expand_dims(x, 2)
    return x


def scale_db(db: Any) -> Any:
    """Loudness [dB] to network scale: ``db / 80 + 1`` (-80..0 dB -> 0..1)."""
    return core.to_float(db, "db", "scale_db") / _DB_RANGE + 1.0


def inv_scale_db(db_scaled: Any) -> Any:
    """Inverse of :func:`scale_db`: ``(db_scaled - 1) * 80`` [dB]."""
    return (core.to_float(db_scaled, "db_scaled", "inv_scale_db") - 1.0) * _DB_RANGE


def scale_f0_hz(f0_hz: Any) -> Any:
    """Frequency [Hz] to network scale: ``hz_to_midi(f0_hz) / 127`` (0 Hz -> 0)."""
    return core.hz_to_midi(f0_hz) / _F0_RANGE


def inv_scale_f0_hz(f0_scaled: Any) -> Any:
    """Inverse of :func:`scale_f0_hz`: ``midi_to_hz(f0_scaled * 127)`` [Hz]."""
    return core.midi_to_hz(core.to_float(f0_scaled, "f0_scaled", "inv_scale_f0_hz") * _F0_RANGE)


class _ResamplingPreprocessor(DictLayer):
    """Shared settings: features are made 3-D and resampled (linear, ddsp's legacy resize)
    to ``time_steps`` frames."""

    def __init__(self, time_steps: int, frame_rate: int, sample_rate: int,
                 name: str | None):  # fmt: skip
        where = type(self).__name__
        self.time_steps = positive_int(time_steps, "time_steps", where)
        self.frame_rate = positive_int(frame_rate, "frame_rate", where)
        self.sample_rate = positive_int(sample_rate, "sample_rate", where)
        super().__init__(name=name)

    def resample(self, x: Any) -> Any:
        """``x`` made 3-D (:func:`at_least_3d`), resampled to ``[batch, time_steps, ch]``."""
        return core.resample(at_least_3d(x), self.time_steps)

    @staticmethod
    def invert_scaling(f0_scaled: Any, db_scaled: Any) -> tuple[Any, Any]:
        """``(f0_hz, level_db)`` from the scaled features (loudness or power, both dB)."""
        return inv_scale_f0_hz(f0_scaled), inv_scale_db(db_scaled)


class F0LoudnessPreprocessor(_ResamplingPreprocessor):
    """ddsp's ``F0LoudnessPreprocessor``: resample f0 and loudness, scale them to ~[0, 1].

    With ``compute_loudness=True`` (ddsp's default) the dataset's ``loudness_db`` is replaced
    by ``compute_loudness(audio, sample_rate, frame_rate)`` (n_fft 512, centre padding:
    ``1 + n_samples // hop`` frames, so 1001 for 4 s at 250 Hz) before resampling; the
    resample to ``time_steps`` (1000) then stretches it slightly, as in ddsp. ``loudness_db``
    must still be present in the features (ddsp requires the key).

    Call (features dict with ``loudness_db [batch, n_frames]``, ``f0_hz [batch, n_frames]``
    [Hz], ``audio [batch, n_samples]``) -> ``f0_hz`` [Hz], ``loudness_db`` [dB], ``f0_scaled``,
    ``ld_scaled``, each ``[batch, time_steps, 1]``.
    """

    def __init__(self, time_steps: int = 1000, frame_rate: int = 250, sample_rate: int = 16000,
                 compute_loudness: bool = True, name: str | None = None):  # fmt: skip
        self.compute_loudness = bool(compute_loudness)
        super().__init__(time_steps, frame_rate, sample_rate, name)

    def call(self, loudness_db: Any, f0_hz: Any, audio: Any = None,
             **unused_kwargs: Any) -> ["f0_hz", "loudness_db", "f0_scaled", "ld_scaled"]:  # noqa: F821, UP037  # fmt: skip
        if self.compute_loudness:
            if audio is None:
                raise ValueError(
                    "F0LoudnessPreprocessor: compute_loudness=True needs 'audio' in the "
                    "features (or construct it with compute_loudness=False)"
                )
            loudness_db = compute_loudness(audio, self.sample_rate, self.frame_rate)
        f0_hz = self.resample(f0_hz)
        loudness_db = self.resample(loudness_db)
        return f0_hz, loudness_db, scale_f0_hz(f0_hz), scale_db(loudness_db)


class F0PowerPreprocessor(_ResamplingPreprocessor):
    """ddsp's ``F0PowerPreprocessor``: like :class:`F0LoudnessPreprocessor` with frame power.

    Uses the dataset's ``power_db`` when present, else ``compute_power(audio, sample_rate,
    frame_rate, frame_size)`` (centre padding). Call -> ``f0_hz``, ``pw_db``, ``f0_scaled``,
    ``pw_scaled``, each ``[batch, time_steps, 1]``.

    Raises:
        ValueError: neither ``power_db`` nor ``audio`` is given.
    """

    def __init__(self, time_steps: int = 1000, frame_rate: int = 250, sample_rate: int = 16000,
                 frame_size: int = 64, name: str | None = None):  # fmt: skip
        self.frame_size = positive_int(frame_size, "frame_size", "F0PowerPreprocessor")
        super().__init__(time_steps, frame_rate, sample_rate, name)

    def call(self, f0_hz: Any, power_db: Any = None, audio: Any = None,
             **unused_kwargs: Any) -> ["f0_hz", "pw_db", "f0_scaled", "pw_scaled"]:  # noqa: F821, UP037  # fmt: skip
        if power_db is None:
            if audio is None:
                raise ValueError(
                    "F0PowerPreprocessor: the features need 'power_db' or 'audio' to compute it"
                )
            power_db = compute_power(
                audio, self.sample_rate, self.frame_rate, frame_size=self.frame_size
            )
        f0_hz = self.resample(f0_hz)
        pw_db = self.resample(power_db)
        return f0_hz, pw_db, scale_f0_hz(f0_hz), scale_db(pw_db)


class OnlineF0PowerPreprocessor(DictLayer):
    """ddsp's ``OnlineF0PowerPreprocessor``: frame power (and f0) computed from 16 kHz audio at
    ``frame_rate``, with no resampling.

    Features are computed at 16 kHz (``audio_16k`` is used instead of ``audio`` when present).
    ``compute_power``: ``pw_db = compute_power(audio, 16000, frame_rate, frame_size, padding=
    padding)``, else the dataset's ``pw_db``. ``compute_f0``: ``f0_hz, f0_confidence =
    spectral_ops.compute_f0(audio, frame_rate, viterbi, padding)`` (ddsp_ref's pYIN tracker on
    CREPE's 1024-sample frames; never differentiated), else the dataset's ``f0_hz`` and
    ``f0_confidence``. ``crepe_saved_model_path`` is accepted for ddsp's configs and ignored:
    ddsp_ref ships no CREPE network (ddsp's ``compute_f0=True`` runs CREPE there).

    Every output must have exactly ``get_framed_lengths(n_samples, frame_size, 16000 //
    frame_rate, padding)[0]`` frames, as ddsp checks (e.g. 'center': ``n_samples // hop + 1``).

    Call (features with ``audio [batch, n_samples]``, optional ``f0_hz``, ``f0_confidence``,
    ``audio_16k``, ``pw_db``) -> ``f0_hz`` [Hz], ``pw_db`` [dB], ``f0_scaled``, ``pw_scaled``,
    each ``[batch, n_frames, 1]``, and ``f0_confidence`` as computed / given (``[batch,
    n_frames]`` from the tracker).

    Raises:
        ValueError: an output without the expected number of frames; ``compute_f0=False``
            without both ``f0_hz`` and ``f0_confidence``; ``compute_power=False`` without
            ``pw_db``.
    """

    def __init__(self, frame_rate: int = 250, frame_size: int = 1024, padding: str = "center",
                 compute_power: bool = True, compute_f0: bool = True,
                 crepe_saved_model_path: str | None = "full", viterbi: bool = False,
                 name: str | None = None):  # fmt: skip
        where = "OnlineF0PowerPreprocessor"
        self.sample_rate = CREPE_SAMPLE_RATE  # CREPE's rate in ddsp; kept for its frame counts
        self.frame_rate = positive_int(frame_rate, "frame_rate", where)
        self.frame_size = positive_int(frame_size, "frame_size", where)
        self.hop_size = positive_int(self.sample_rate // self.frame_rate, "16000 // frame_rate",
                                     where)  # fmt: skip
        self.padding = one_of(padding, ("center", "same", "valid"), "padding", where)
        self.compute_power = bool(compute_power)
        self.compute_f0 = bool(compute_f0)
        self.crepe_saved_model_path = crepe_saved_model_path  # ignored (no CREPE network)
        self.viterbi = bool(viterbi)
        super().__init__(name=name)

    def call(self, audio: Any, f0_hz: Any = None, f0_confidence: Any = None,
             audio_16k: Any = None, pw_db: Any = None
             ) -> ["f0_hz", "pw_db", "f0_scaled", "pw_scaled", "f0_confidence"]:  # noqa: F821, UP037  # fmt: skip
        where = "OnlineF0PowerPreprocessor"
        audio = core.to_float(audio if audio_16k is None else audio_16k, "audio", where)
        if self.compute_power:
            pw_db = compute_power(audio, self.sample_rate, self.frame_rate, self.frame_size,
                                  padding=self.padding)  # fmt: skip
        elif pw_db is None:
            raise ValueError(f"{where}: compute_power=False needs 'pw_db' in the features")
        if self.compute_f0:
            f0_hz, f0_confidence = compute_f0(audio, self.frame_rate, self.viterbi, self.padding)
        elif f0_hz is None or f0_confidence is None:
            raise ValueError(
                f"{where}: compute_f0=False needs both 'f0_hz' and 'f0_confidence' in the features"
            )
        pw_db, f0_hz = at_least_3d(pw_db), at_least_3d(f0_hz)
        outputs = (f0_hz, pw_db, scale_f0_hz(f0_hz), scale_db(pw_db), f0_confidence)
        self._check_frames(int(audio.shape[-1]), outputs)
        return outputs

    def _check_frames(self, n_samples: int, outputs: tuple) -> None:
        """ddsp's sanity check: every output has the frames the padding gives (no resampling)."""
        n_frames, _ = get_framed_lengths(n_samples, self.frame_size, self.hop_size, self.padding)
        for key, value in zip(self.output_keys, outputs):
            if len(value.shape) < 2 or value.shape[1] != n_frames:
                raise ValueError(
                    f"OnlineF0PowerPreprocessor: output {key!r} does not have {n_frames} frames "
                    f"(shape {tuple(value.shape)}); inputs: {n_samples / self.sample_rate} s, "
                    f"frame_rate {self.frame_rate}, frame_size {self.frame_size}, padding "
                    f"{self.padding!r}"
                )


# ddsp's gin names (ddsp.training.preprocessing.<Class>), e.g. @preprocessing.<Class>().
for _cls in (F0LoudnessPreprocessor, F0PowerPreprocessor, OnlineF0PowerPreprocessor):
    register(_cls, module="ddsp_ref.training.preprocessing")
del _cls
