"""ddsp's MIDI metrics (``training.metrics``: EvalCounts, compute_note_metrics,
compute_frame_metrics, MidiMetrics) without note_seq or mir_eval.

The few pieces of those libraries ddsp uses are implemented here from their definitions:

- note matching as ``mir_eval.transcription.match_notes`` with its default tolerances: a
  reference note and an estimated note may pair when their onsets differ by at most 50 ms
  (the distance rounded to 4 decimals first), their pitches by at most 50 cents, and — for the
  "full note" counts — their offsets by at most ``max(0.2 * reference duration, 50 ms)``
  (rounded the same way). The true positives are the size of a maximum bipartite matching of
  those pairs (the size is unique, whichever maximum matching is found).
- piano roll <-> notes as note_seq's ``pianoroll_to_note_sequence`` (a note per run of
  non-zero frames of a key; key = MIDI pitch; velocity 70; ``total_time`` counts one extra
  silent frame) and ``sequence_to_pianoroll(...).active`` (rows ``int(total_time * fps) + 1``;
  a note covers frames ``int(start * fps)`` up to ``ceil(end * fps)``, exclusive).

ddsp's quirks kept: ``f1 = 2 P R / max(P + R, 1)`` (not the harmonic mean when P + R < 1);
the ground-truth notes are first aligned with the f0 track (``align_midi_with_f0``).
Deviation: ddsp's ``flush`` forgets to reset the full-note counts (it resets a misspelt
attribute), so they accumulate over every later flush; here all three counts are reset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import core
from ..backend import to_numpy
from .heuristics import Note, NoteSequence

__all__ = [
    "EvalCounts", "sequence2intervals", "match_notes", "compute_note_metrics",
    "compute_frame_metrics", "pianoroll_to_note_sequence", "sequence_to_pianoroll",
    "MidiMetrics",
]  # fmt: skip

ONSET_TOLERANCE = 0.05  # s
PITCH_TOLERANCE = 50.0  # cents
OFFSET_RATIO = 0.2
OFFSET_MIN_TOLERANCE = 0.05  # s
N_DECIMALS = 4  # mir_eval rounds time distances to this many decimals before comparing
N_KEYS = 128


@dataclass
class EvalCounts:
    """True positives, false positives and false negatives, with ddsp's scores."""

    tp: int
    fp: int
    fn: int

    def add(self, other: EvalCounts) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn

    @property
    def precision(self) -> float:
        return self.tp / max(self.tp + self.fp, 1)

    @property
    def recall(self) -> float:
        return self.tp / max(self.tp + self.fn, 1)

    @property
    def f1(self) -> float:
        """ddsp's formula: ``2 P R / max(P + R, 1)``."""
        p, r = self.precision, self.recall
        return 2 * p * r / max(p + r, 1)


def sequence2intervals(sequence: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(intervals [n, 2] in s, pitches [n] MIDI, velocities [n])`` of a note sequence."""
    notes = list(sequence.notes)
    intervals = np.array([[n.start_time, n.end_time] for n in notes], np.float64).reshape(-1, 2)
    pitches = np.array([n.pitch for n in notes], np.float64)
    velocities = np.array([n.velocity for n in notes], np.float64)
    return intervals, pitches, velocities


def _max_matching(admissible: np.ndarray) -> int:
    """Size of a maximum matching in the bipartite graph ``admissible [n_ref, n_est]``
    (augmenting paths, Kuhn's algorithm)."""
    n_ref, n_est = admissible.shape
    owner = [-1] * n_est  # the reference note matched to each estimated note

    def augment(i: int, seen: list) -> bool:
        for j in np.flatnonzero(admissible[i]):
            if seen[j]:
                continue
            seen[j] = True
            if owner[j] < 0 or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    return sum(augment(i, [False] * n_est) for i in range(n_ref))


def match_notes(ref_intervals: Any, ref_pitches: Any, est_intervals: Any, est_pitches: Any,
                with_offsets: bool = True) -> int:  # fmt: skip
    """Number of matched notes (mir_eval's ``match_notes`` with its defaults; see the module).

    Args:
        ref_intervals, est_intervals: ``[n, 2]`` onset and offset times [s].
        ref_pitches, est_pitches: ``[n]`` MIDI pitches (compared in cents: 100 per semitone).
        with_offsets: also require the offsets to match (mir_eval's ``offset_ratio=0.2``);
            False is ``offset_ratio=None``.
    """
    ref_iv, est_iv = np.asarray(ref_intervals, float), np.asarray(est_intervals, float)
    ref_iv, est_iv = ref_iv.reshape(-1, 2), est_iv.reshape(-1, 2)
    if len(ref_iv) == 0 or len(est_iv) == 0:
        return 0
    onset = np.around(np.abs(ref_iv[:, :1] - est_iv[None, :, 0]), N_DECIMALS)
    cents = 100.0 * np.abs(np.subtract.outer(np.asarray(ref_pitches, float),
                                             np.asarray(est_pitches, float)))  # fmt: skip
    ok = (onset <= ONSET_TOLERANCE) & (cents <= PITCH_TOLERANCE)
    if with_offsets:
        offset = np.around(np.abs(ref_iv[:, 1:] - est_iv[None, :, 1]), N_DECIMALS)
        tolerance = np.maximum(OFFSET_RATIO * (ref_iv[:, 1] - ref_iv[:, 0]), OFFSET_MIN_TOLERANCE)
        ok &= offset <= tolerance[:, None]
    return _max_matching(ok)


def compute_note_metrics(gt_sequence: Any, pred_sequence: Any) -> tuple[EvalCounts, EvalCounts]:
    """``(onset counts, full-note counts)`` of predicted notes against the ground truth."""
    gt_iv, gt_p, _ = sequence2intervals(gt_sequence)
    pred_iv, pred_p, _ = sequence2intervals(pred_sequence)
    counts = []
    for with_offsets in (False, True):
        tp = match_notes(gt_iv, gt_p, pred_iv, pred_p, with_offsets)
        counts.append(EvalCounts(tp, len(pred_p) - tp, len(gt_p) - tp))
    return counts[0], counts[1]


def compute_frame_metrics(gt_pianoroll: Any, pred_pianoroll: Any) -> EvalCounts:
    """Frame-wise counts of "some note sounds" (monophonic audio assumed):
    ``[n_frames, n_keys]`` rolls (size-1 axes squeezed, as ddsp)."""
    gt = np.squeeze(to_numpy(gt_pianoroll)).max(axis=1)
    pred = np.squeeze(to_numpy(pred_pianoroll)).max(axis=1)
    if gt.shape != pred.shape:
        raise ValueError(f"compute_frame_metrics: piano rolls of {gt.shape[0]} and "
                         f"{pred.shape[0]} frames")  # fmt: skip
    tp = int(np.sum((pred > 0) & (gt > 0)))
    fp = int(np.sum((pred > 0) & (gt == 0)))
    fn = int(np.sum((pred == 0) & (gt > 0)))
    return EvalCounts(tp, fp, fn)


def pianoroll_to_note_sequence(
    frames: Any, frames_per_second: float, min_duration_ms: float = 0, velocity: int = 70
) -> NoteSequence:
    """A note per run of non-zero frames of each key (key index = MIDI pitch), ordered by end
    frame then pitch; ``total_time = (n_frames + 1) / fps`` (note_seq's extra silent frame)."""
    roll = np.asarray(to_numpy(frames))
    if roll.ndim != 2:
        raise ValueError(f"pianoroll_to_note_sequence: frames must be [n_frames, n_keys], got "
                         f"shape {roll.shape}")  # fmt: skip
    active = np.concatenate([roll != 0, np.zeros((1, roll.shape[1]), bool)])
    seq, start = NoteSequence(), {}
    for i, frame in enumerate(active):
        for pitch, on in enumerate(frame):
            if on and pitch not in start:
                start[pitch] = i
            elif not on and pitch in start:
                t0, t1 = start.pop(pitch) / frames_per_second, i / frames_per_second
                if (t1 - t0) * 1000 >= min_duration_ms:
                    seq.notes.append(Note(pitch, t0, t1, velocity))
    seq.total_time = len(active) / frames_per_second
    return seq


def sequence_to_pianoroll(sequence: Any, frames_per_second: float, min_pitch: int = 0,
                          max_pitch: int = N_KEYS - 1) -> np.ndarray:  # fmt: skip
    """note_seq's ``sequence_to_pianoroll(...).active``: float32 ``[int(total_time * fps) + 1,
    max_pitch - min_pitch + 1]``; notes outside the pitch range are skipped."""
    n_rows = int(sequence.total_time * frames_per_second + 1)
    roll = np.zeros((n_rows, max_pitch - min_pitch + 1), np.float32)
    for note in sorted(sequence.notes, key=lambda n: n.start_time):
        if min_pitch <= note.pitch <= max_pitch:
            first = int(note.start_time * frames_per_second)
            last = int(math.ceil(note.end_time * frames_per_second))
            roll[first:last, note.pitch - min_pitch] = 1.0
    return roll


class MidiMetrics:
    """ddsp's ``MidiMetrics``: onset, full-note and frame counts over batches.

    Args:
        frames_per_second: frame rate of the piano rolls [Hz].
        tag: summary tags are ``metrics/midi/<tag>/{onset,full_note,frame}/{f1,precision,
            recall}``.
        align_midi_with_f0: move each ground-truth note's onset / offset to the first / last
            frame where the rounded MIDI of ``f0_hz`` equals its pitch (ddsp's search windows).
    """

    def __init__(self, frames_per_second: float, tag: str, align_midi_with_f0: bool = True):
        self.tag = tag
        self._frames_per_second = frames_per_second
        self._align_midi_with_f0 = bool(align_midi_with_f0)
        self._reset()

    def _reset(self) -> None:
        self.note_counts = EvalCounts(0, 0, 0)
        self.note_offset_counts = EvalCounts(0, 0, 0)
        self.frame_counts = EvalCounts(0, 0, 0)

    def _as_sequence(self, representation: Any) -> Any:
        if hasattr(representation, "notes"):
            return representation
        return pianoroll_to_note_sequence(representation, self._frames_per_second, 0)

    def _as_pianoroll(self, representation: Any) -> Any:
        if hasattr(representation, "notes"):
            return sequence_to_pianoroll(representation, self._frames_per_second)
        return to_numpy(representation)

    def align_midi_with_f0(self, gt_sequence: Any, f0: Any) -> Any:
        """Ground-truth notes moved onto the f0 track (in place; also returned)."""
        sr = self._frames_per_second
        f0 = np.asarray(to_numpy(f0), np.float32).reshape(-1)
        f0_midi = np.round(np.asarray(core.hz_to_midi(f0)))
        notes = gt_sequence.notes
        for i, note in enumerate(notes):
            low = int(notes[i - 1].end_time * sr) if i > 0 else 0
            for j in range(low, int(note.end_time * sr)):
                if int(f0_midi[j]) == note.pitch:
                    note.start_time = float(j) / sr
                    break
            low = int(note.start_time * sr)
            high = int(notes[i + 1].start_time * sr) if i < len(notes) - 1 else len(f0_midi) - 1
            for j in range(high, low, -1):
                if int(f0_midi[j]) == note.pitch:
                    note.end_time = float(j) / sr
                    break
        return gt_sequence

    def update_state(
        self,
        controls_batch: dict,
        pred_seq_batch: Any,
        gt_key: str = "note_active_velocities",
        ch: int | None = None,
    ) -> None:
        """Add the counts of each example: ``controls_batch[gt_key]`` ``[batch, n_frames,
        128]`` piano rolls (and ``f0_hz`` for the alignment) against ``pred_seq_batch`` (note
        sequences or piano rolls, one per example)."""
        gt_batch = controls_batch[gt_key]
        for i in range(len(pred_seq_batch)):
            pred = pred_seq_batch[i] if ch is None else pred_seq_batch[i, ..., ch]
            gt_roll = to_numpy(gt_batch[i] if ch is None else gt_batch[i, ..., ch])
            gt_seq = self._as_sequence(gt_roll)
            pred_seq = self._as_sequence(pred)
            if self._align_midi_with_f0:
                gt_seq = self.align_midi_with_f0(gt_seq, controls_batch["f0_hz"][i])
            onset, full = compute_note_metrics(gt_seq, pred_seq)
            self.note_counts.add(onset)
            self.note_offset_counts.add(full)
            pred_roll = self._as_pianoroll(pred_seq)[: gt_roll.shape[0], :]
            self.frame_counts.add(compute_frame_metrics(gt_roll, pred_roll))

    def flush(self, step: int) -> dict[str, float]:
        """The scores by summary tag; then every count is reset."""
        del step
        scalars = {}
        for counts, kind in ((self.note_counts, "onset"), (self.note_offset_counts, "full_note"),
                             (self.frame_counts, "frame")):  # fmt: skip
            prefix = f"metrics/midi/{self.tag}/{kind}"
            scalars.update({f"{prefix}/f1": counts.f1, f"{prefix}/precision": counts.precision,
                            f"{prefix}/recall": counts.recall})  # fmt: skip
        self._reset()
        return scalars
