"""training.heuristics: parity with ddsp 3.7.0 (recorded by record_midi_golden.py), hand-checked
cases, one frame, silence and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ddsp_ref.training import heuristics as h

from .test_midi_layers import GOLDEN


def _controls():
    f0, amps = GOLDEN["heur/f0_hz"], GOLDEN["heur/amplitudes"]
    return {"f0_hz": f0, "harmonic": {"controls": {"amplitudes": amps}}}


def _eq(got, key):
    np.testing.assert_array_equal(np.asarray(got), GOLDEN[key])


def test_binarizers_match_ddsp():
    c = _controls()
    _eq(h.amp_pooled_outliers(c), "heur/amp_outliers")
    _eq(h.amp_pooled_outliers(c, 7, 1.5, "front"), "heur/amp_outliers_w7")
    _eq(h.strided_freq_change(c), "heur/freq_change")
    _eq(h.strided_freq_change(c, (3, 5), "end"), "heur/freq_change_end")
    _eq(h.midi_heuristic(c), "heur/midi_heuristic")
    # The recorded case exercises every rule: silence, jumps, dips.
    assert 0 < GOLDEN["heur/midi_heuristic"].sum() < len(GOLDEN["heur/midi_heuristic"])
    assert not GOLDEN["heur/freq_change"][110:130].any()  # the silent stretch


def test_power_heuristics_match_ddsp():
    audio = GOLDEN["heur/audio"]
    _eq(h.power_pooled_outliers({"audio": audio}), "heur/power_outliers")
    c = {"audio": audio, "f0_hz": np.full((251, 1), 220.0, np.float32)}
    _eq(h.midi_heuristic_power(c), "heur/midi_heuristic_power")


@pytest.mark.parametrize("pick", ["mean_f0", "median_f0"])
def test_segment_notes_matches_ddsp(pick):
    seq = h.segment_notes(h.midi_heuristic, getattr(h, pick), h.median_amps, _controls(), 250)
    got = np.array([[n.pitch, n.start_time, n.end_time, n.velocity] for n in seq.notes])
    np.testing.assert_allclose(got, GOLDEN[f"heur/notes_{pick}"], rtol=0, atol=1e-12)
    assert seq.total_time == GOLDEN[f"heur/total_{pick}"] == 300 / 250


def test_helpers_match_ddsp():
    for glue in (False, True):
        vec = GOLDEN[f"heur/short_in_{glue}"].copy()
        _eq(h.remove_short(vec, 3, glue), f"heur/short_out_{glue}")
    for mode in ("front", "center", "end"):
        for w in (1, 4, 5):
            _eq(h.pad_for_frame(GOLDEN["heur/pad_in"], mode, w), f"heur/pad_{mode}_{w}")
    arr = GOLDEN["heur/window_in"]
    _eq(h.window_array(arr, 100, 0.08), "heur/window_0")
    _eq(h.window_array(arr.T.copy(), 50, 0.1, 0.5, ax=1), "heur/window_1")
    _eq(h.get_active_frame_indices(GOLDEN["heur/roll"]), "heur/active")


def test_hand_counted_cases():
    on = np.array([1, 1, 0, 1, 1, 1, 0, 1, 1], bool)
    # The run of 2 goes; the run of 3 stays; the final run of 2 stays (never followed by off).
    assert h.remove_short(on.copy(), 3).tolist() == [0, 0, 0, 1, 1, 1, 0, 1, 1]
    # glue_back switches on from the previous "off" frame to this one whenever the run before
    # is short, and an empty run (off after off) counts as short: ddsp fills the gaps.
    on = np.array([1, 1, 1, 0, 0, 1, 0, 0], bool)
    assert h.remove_short(on.copy(), 2, glue_back=True).tolist() == [1, 1, 1, 1, 1, 1, 1, 0]
    assert h.pad_for_frame(np.array([2.7, 5.0, 9.9]), "center", 4).tolist() == [
        2, 2, 2.7, 5.0, 9.9, 9]  # fmt: skip
    roll = np.array([[1, 0], [1, 1], [0, 1], [1, 1]])
    assert h.get_active_frame_indices(roll).tolist() == [[0, 0], [1, 1], [0, 2], [1, 3]]
    # Two notes of A4 then C5 at 100 frames/s; the pitch is rounded MIDI of the mean f0.
    f0 = np.array([440.0] * 3 + [0.0] * 2 + [523.25] * 4)[:, None]
    controls = {"f0_hz": f0, "harmonic": {"controls": {"amplitudes": np.ones((9, 1))}}}
    seq = h.segment_notes(lambda c: c["f0_hz"][:, 0] > 0, h.mean_f0, h.median_amps, controls,
                          frame_rate=100)  # fmt: skip
    assert [(n.pitch, n.start_time, n.end_time, n.velocity) for n in seq.notes] == [
        (69, 0.0, 0.03, 127), (72, 0.05, 0.09, 127)]  # fmt: skip
    assert seq.total_time == 0.09


def test_batch_one_frame_and_silence():
    rng = np.random.default_rng(0)
    f0 = np.stack([np.full((120, 1), 440.0), np.zeros((120, 1))])
    amps = np.stack([np.exp(rng.normal(-1, 0.1, (120, 1))), np.zeros((120, 1))])
    batch = {"f0_hz": f0, "harmonic": {"controls": {"amplitudes": amps}}, "skip": None}
    seqs = h.segment_notes_batch(h.midi_heuristic, h.mean_f0, h.median_amps, batch, 250)
    first = {"f0_hz": f0[0], "harmonic": {"controls": {"amplitudes": amps[0]}}}
    one = h.segment_notes(h.midi_heuristic, h.mean_f0, h.median_amps, first)
    assert seqs[0] == one and len(one.notes) > 0 and {n.pitch for n in one.notes} == {69}
    assert seqs[1].notes == [] and seqs[1].total_time == 120 / 250  # silence: no note, no error
    # One frame of 220 Hz (MIDI 57): no jump from the pad value int(57.0), so not a boundary;
    # its log amplitude -2.30 is below mean - 2 std of the window (79 pads of int(-2.30) = -2
    # and itself: -2.004 - 2 * 0.033), so not "on".
    frame = {"f0_hz": np.array([[220.0]]), "harmonic": {"controls": {"amplitudes": [[0.1]]}}}
    assert h.strided_freq_change(frame).tolist() == [True]
    assert h.amp_pooled_outliers(frame).tolist() == [False]
    assert h.midi_heuristic(frame).tolist() == [False]
    assert h.strided_freq_change({"f0_hz": np.zeros((5, 1))}).tolist() == [False] * 5


def test_bad_input_raises():
    with pytest.raises(ValueError, match="pad_for_frame: mode"):
        h.pad_for_frame(np.ones(3), "middle", 2)
    with pytest.raises(ValueError, match="strided_freq_change: f0_hz must be one example"):
        h.strided_freq_change({"f0_hz": np.ones((2, 5, 1))})
    with pytest.raises(ValueError, match="batch size mismatch"):
        h.segment_notes_batch(h.midi_heuristic, h.mean_f0, h.median_amps,
                              {"f0_hz": np.ones((2, 3, 1)), "a": np.ones((3, 3))})  # fmt: skip
    with pytest.raises(ValueError, match="window_array"):
        h.window_array(np.ones(5), 10, 0.05)


def test_gin_names():
    gin = pytest.importorskip("gin")
    try:
        gin.parse_config(
            "import ddsp_ref\n"
            "segment_notes_batch.binarize_f = @heuristics.midi_heuristic\n"
            "segment_notes_batch.pick_f0_f = @heuristics.mean_f0\n"
            "segment_notes_batch.pick_amps_f = @heuristics.median_amps\n"
        )
        controls = {"f0_hz": np.full((1, 90, 1), 440.0),
                    "harmonic": {"controls": {"amplitudes": np.exp(
                        np.random.default_rng(1).normal(-1, 0.1, (1, 90, 1)))}}}  # fmt: skip
        seqs = h.segment_notes_batch(controls_batch=controls)
    finally:
        gin.clear_config()
    amps = controls["harmonic"]["controls"]["amplitudes"][0]
    first = {"f0_hz": controls["f0_hz"][0], "harmonic": {"controls": {"amplitudes": amps}}}
    direct = h.segment_notes(h.midi_heuristic, h.mean_f0, h.median_amps, first)
    assert seqs == [direct] and len(direct.notes) > 0
