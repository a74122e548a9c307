"""ddsp's MIDI evaluators (``training.evaluators``): MidiAutoencoderEvaluator and
MidiHeuristicEvaluator, on :mod:`~ddsp_ref.training.metrics_midi` (no note_seq / mir_eval).

``evaluate`` accumulates onset / full-note / frame counts against the ground-truth piano roll
``note_active_velocities`` of the outputs; ``flush(step)`` returns (and logs to the writer)
``metrics/midi/<tag>/...`` scores and resets. ``sample`` writes the audio of each example
(``<save_dir>/samples/step<step>_ex<i>_<key>.wav`` and the writer's ``add_audio``); ddsp's
piano-roll, f0 and loudness plots are not drawn.
"""

from __future__ import annotations

from typing import Any

from ..backend import to_numpy
from ..gin_support import register
from . import heuristics
from .evaluators import BaseEvaluator, _batch_audio, write_wav
from .metrics_midi import MidiMetrics

__all__ = ["MidiAutoencoderEvaluator", "MidiHeuristicEvaluator"]

_AUDIO_KEYS = ("midi_audio", "synth_audio", "midi_audio2", "synth_audio2")


class _MidiEvaluator(BaseEvaluator):
    def flush(self, step: int) -> dict[str, float]:
        return self._scalars(self._midi_metrics.flush(step), step)

    def _write_audio(self, step: int, named: dict[str, Any]) -> None:
        """Each ``[batch, n_samples]`` array of ``named`` as WAVs / writer audio."""
        named = {k: _batch_audio(v) for k, v in named.items() if v is not None}
        if not named:
            return
        n = next(iter(named.values())).shape[0]
        first = self._first_index(step, n)
        sr = int(self._sample_rate)
        for i in range(n):
            stem = self._stem(step, first + i)
            for key, audio in named.items():
                if stem is not None:
                    write_wav(f"{stem}_{key}.wav", audio[i], sr)
                if self._summary_writer is not None:
                    self._summary_writer.add_audio(f"{key}/{first + i}", audio[i], step,
                                                   sample_rate=sr)  # fmt: skip


class MidiAutoencoderEvaluator(_MidiEvaluator):
    """ddsp's ``MidiAutoencoderEvaluator``: the model's ``pianoroll`` against the ground truth
    (tag ``learned``).

    Args:
        sample_rate, frame_rate: as every evaluator [Hz].
        db_key, f0_key: the features' loudness and f0 keys.
    """

    def __init__(self, sample_rate: int, frame_rate: int, db_key: str = "loudness_db",
                 f0_key: str = "f0_hz"):  # fmt: skip
        super().__init__(sample_rate, frame_rate)
        self._midi_metrics = MidiMetrics(frames_per_second=frame_rate, tag="learned")
        self._db_key, self._f0_key = db_key, f0_key

    def set_rates(self, sample_rate: int, frame_rate: int) -> None:
        super().set_rates(sample_rate, frame_rate)
        self._midi_metrics._frames_per_second = frame_rate

    def evaluate(self, batch: dict, outputs: dict, losses: dict) -> None:
        del batch, losses
        roll = to_numpy(outputs["pianoroll"])
        if roll.ndim == 2:  # the model squeezes a batch of one away (ddsp then fails)
            roll = roll[None]
        self._midi_metrics.update_state(outputs, roll)

    def sample(self, batch: dict, outputs: dict, step: int) -> None:
        named = {"audio_original": batch["audio"]}
        named.update({k: outputs.get(k) for k in _AUDIO_KEYS})
        self._write_audio(step, named)


class MidiHeuristicEvaluator(_MidiEvaluator):
    """ddsp's ``MidiHeuristicEvaluator``: notes from :func:`heuristics.midi_heuristic` (mean
    f0, median amplitude) against the ground truth (tag ``heuristic``)."""

    def __init__(self, sample_rate: int, frame_rate: int):
        super().__init__(sample_rate, frame_rate)
        self._midi_metrics = MidiMetrics(tag="heuristic", frames_per_second=frame_rate)

    def set_rates(self, sample_rate: int, frame_rate: int) -> None:
        super().set_rates(sample_rate, frame_rate)
        self._midi_metrics._frames_per_second = frame_rate

    def _compute_heuristic_notes(self, outputs: dict) -> list:
        return heuristics.segment_notes_batch(
            binarize_f=heuristics.midi_heuristic, pick_f0_f=heuristics.mean_f0,
            pick_amps_f=heuristics.median_amps, controls_batch=_numpy_controls(outputs),
        )  # fmt: skip

    def evaluate(self, batch: dict, outputs: dict, losses: dict) -> None:
        del batch, losses
        self._midi_metrics.update_state(outputs, self._compute_heuristic_notes(outputs))

    def sample(self, batch: dict, outputs: dict, step: int) -> None:
        outputs["heuristic_notes"] = self._compute_heuristic_notes(outputs)
        self._write_audio(step, {"audio_original": batch["audio"]})


def _numpy_controls(outputs: dict) -> dict:
    """The keys the heuristics read (``f0_hz``, ``harmonic/controls/amplitudes``) as NumPy."""
    amps = outputs["harmonic"]["controls"]["amplitudes"]
    return {"f0_hz": to_numpy(outputs["f0_hz"]),
            "harmonic": {"controls": {"amplitudes": to_numpy(amps)}}}  # fmt: skip


# ddsp's gin names: @evaluators.MidiAutoencoderEvaluator, @evaluators.MidiHeuristicEvaluator.
for _cls in (MidiAutoencoderEvaluator, MidiHeuristicEvaluator):
    register(_cls, module="ddsp_ref.training.evaluators")
del _cls
