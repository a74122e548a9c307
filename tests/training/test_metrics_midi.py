"""MIDI metrics and evaluators against hand-counted cases (mir_eval's matching rules and
note_seq's conversions, from their definitions), ddsp's f1 formula, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ddsp_ref.training.evaluators_midi import MidiAutoencoderEvaluator, MidiHeuristicEvaluator
from ddsp_ref.training.heuristics import Note, NoteSequence
from ddsp_ref.training.metrics_midi import (
    EvalCounts,
    MidiMetrics,
    compute_frame_metrics,
    compute_note_metrics,
    match_notes,
    pianoroll_to_note_sequence,
    sequence_to_pianoroll,
)


def seq(*notes, total=2.0):
    return NoteSequence([Note(p, s, e) for p, s, e in notes], total)


def test_eval_counts_use_ddsps_f1():
    c = EvalCounts(2, 3, 3)  # P = R = 0.4: the harmonic mean is 0.4, ddsp's formula 0.32
    assert (c.precision, c.recall) == (0.4, 0.4) and c.f1 == pytest.approx(0.32)
    c = EvalCounts(3, 1, 0)  # P + R >= 1: the usual F1, 2 * 0.75 / 1.75
    assert c.f1 == pytest.approx(6 / 7)
    assert EvalCounts(0, 0, 0).f1 == 0.0
    c.add(EvalCounts(1, 2, 3))
    assert (c.tp, c.fp, c.fn) == (4, 3, 3)


def test_onset_and_offset_tolerances_hand_counted():
    ref = seq((60, 0.0, 1.0), (62, 1.0, 1.2), (64, 2.0, 2.1))
    est = seq(
        (60, 0.05, 1.25),  # onset 50 ms off (inclusive): a match; offset 0.25 > 0.2 * 1 s
        (62, 0.96, 1.24),  # onset 40 ms, offset 40 ms <= max(0.2 * 0.2, 0.05) = 50 ms
        (65, 2.0, 2.1),  # a semitone off (100 cents > 50): no match
    )
    onset, full = compute_note_metrics(ref, est)
    assert (onset.tp, onset.fp, onset.fn) == (2, 1, 1)
    assert (full.tp, full.fp, full.fn) == (1, 2, 2)
    # 51 ms is out; 50.00004 ms rounds to 50 ms (4 decimals) and is in.
    one = np.array([[0.0, 1.0]])
    assert match_notes(one, [60], one + [[0.051, 0]], [60], False) == 0
    assert match_notes(one, [60], one + [[0.0500004, 0]], [60], False) == 1
    # 49 cents is within the pitch tolerance.
    assert match_notes(one, [60], one, [60.49], False) == 1


def test_matching_is_maximum_not_greedy():
    # est 0 could take ref 0 or ref 1; est 1 only ref 0: a greedy pass in order can find 1 pair,
    # the maximum matching has 2.
    ref = np.array([[0.00, 1.0], [0.04, 1.0]])
    est = np.array([[0.02, 1.0], [-0.03, 1.0]])
    assert match_notes(ref, [60, 60], est, [60, 60], False) == 2
    assert match_notes(ref, [60, 60], np.zeros((0, 2)), [], False) == 0


def test_pianoroll_note_conversions_hand_counted():
    roll = np.zeros((6, 128), np.float32)
    roll[0:2, 60] = 1
    roll[3:6, 64] = 0.5
    roll[1:3, 67] = 1
    s = pianoroll_to_note_sequence(roll, frames_per_second=10)
    # Ordered by end frame then pitch; the note still on at the end closes at frame 6.
    assert [(n.pitch, n.start_time, n.end_time, n.velocity) for n in s.notes] == [
        (60, 0.0, 0.2, 70), (67, 0.1, 0.3, 70), (64, 0.3, 0.6, 70)]  # fmt: skip
    assert s.total_time == pytest.approx(0.7)
    back = sequence_to_pianoroll(s, 10)
    assert back.shape == (8, 128)  # int(0.7 * 10 + 1) rows
    np.testing.assert_array_equal(back[:6] > 0, roll > 0)
    assert not back[6:].any()


def test_frame_metrics_hand_counted():
    gt = np.zeros((5, 128))
    pred = np.zeros((5, 128))
    gt[[0, 1, 2], 60] = 1
    pred[[1, 2, 3], 72] = 1  # another pitch still counts: frame-wise activity only
    c = compute_frame_metrics(gt[None], pred)
    assert (c.tp, c.fp, c.fn) == (2, 1, 1)
    with pytest.raises(ValueError, match="piano rolls of 5 and 4 frames"):
        compute_frame_metrics(gt, pred[:4])


def test_midi_metrics_align_update_and_flush():
    fps = 10
    gt = np.zeros((1, 10, 128), np.float32)
    gt[0, 0:5, 60] = 1
    gt[0, 5:10, 62] = 1
    # The f0 track reaches MIDI 60 one frame late: the first note's onset moves to 0.1 s.
    f0_midi = np.array([0, 60, 60, 60, 60, 62, 62, 62, 62, 62], float)
    f0 = np.where(f0_midi > 0, 440 * 2 ** ((f0_midi - 69) / 12), 0.0)[None, :, None]
    pred = [seq((60, 0.1, 0.5), (62, 0.5, 1.0), total=1.0)]
    m = MidiMetrics(frames_per_second=fps, tag="t")
    m.update_state({"note_active_velocities": gt, "f0_hz": f0}, pred)
    assert (m.note_counts.tp, m.note_counts.fp, m.note_counts.fn) == (2, 0, 0)
    assert m.frame_counts.fp == 0 and m.frame_counts.fn == 1  # frame 0: gt on, pred off
    scores = m.flush(0)
    assert scores["metrics/midi/t/onset/f1"] == 1.0
    assert scores["metrics/midi/t/frame/recall"] == pytest.approx(9 / 10)
    assert m.note_offset_counts.tp == 0  # reset (ddsp forgets this one)
    m2 = MidiMetrics(frames_per_second=fps, tag="t", align_midi_with_f0=False)
    m2.update_state({"note_active_velocities": gt, "f0_hz": f0}, pred)
    assert m2.note_counts.tp == 1  # 0.1 s onset difference > 50 ms without the alignment


def test_evaluators_count_and_write(tmp_path):
    fps, n = 250, 100
    roll = np.zeros((2, n, 128), np.float32)
    roll[:, :, 69] = 1
    f0 = np.full((2, n, 1), 440.0, np.float32)
    amps = np.exp(np.random.default_rng(0).normal(-1, 0.1, (2, n, 1))).astype(np.float32)
    outputs = {"note_active_velocities": roll, "f0_hz": f0, "pianoroll": roll[0],
               "harmonic": {"controls": {"amplitudes": amps}},
               "midi_audio": np.zeros((2, 64)), "synth_audio": np.zeros((2, 64))}  # fmt: skip
    ev = MidiAutoencoderEvaluator(16000, fps)
    ev.evaluate({}, dict(outputs, pianoroll=roll), {})
    assert ev.flush(0)["metrics/midi/learned/onset/precision"] == 1.0
    heur = MidiHeuristicEvaluator(16000, fps)
    heur.evaluate({}, outputs, {})
    scores = heur.flush(0)
    assert set(scores) == {f"metrics/midi/heuristic/{k}/{s}" for k in ("onset", "full_note",
                           "frame") for s in ("f1", "precision", "recall")}  # fmt: skip
    assert 0.0 < scores["metrics/midi/heuristic/frame/precision"] <= 1.0
    ev.set_output(tmp_path)
    ev.sample({"audio": np.zeros((2, 64))}, outputs, step=3)
    names = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert "step3_ex1_midi_audio.wav" in names and "step3_ex0_audio_original.wav" in names


def test_bad_input():
    with pytest.raises(ValueError, match="frames must be"):
        pianoroll_to_note_sequence(np.zeros(5), 10)
