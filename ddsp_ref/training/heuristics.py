"""ddsp's ``training.heuristics``: MIDI notes from synthesizer controls, without a network.

A binarizer marks the frames where a note sounds (:func:`midi_heuristic`: no pitch jump of
more than 0.75 semitone across several strides, amplitude not an outlier below its
neighbourhood, runs shorter than 10 frames dropped); :func:`segment_notes` turns each run of
"on" frames into a note whose pitch is picked from the f0 of its frames.

Everything works on one example (``controls`` with ``f0_hz [n_frames, 1]``, ``harmonic ->
controls -> amplitudes [n_frames, 1]``, ``audio [n_samples]``) in NumPy; the batch versions
split a batch dict first. note_seq is not needed: notes come back as :class:`NoteSequence`
with note_seq's field names (``notes[i].pitch / start_time / end_time / velocity``,
``total_time``).

Deviation: ddsp's :func:`power_pooled_outliers` reads ``spectral_ops.LD_RANGE``, which ddsp
3.7.0 no longer defines (an AttributeError); here it is ddsp's dB range, 80 dB. And a silent
first or last frame (amplitude 0, log -inf) makes ddsp's :func:`pad_for_frame` raise
(``int(-inf)``); here it pads with -inf, and those frames are off.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import core
from ..gin_support import configurable, register
from ..spectral_ops import compute_power
from ..validation import one_of, positive_int

__all__ = [
    "DDSP_DEFAULT_FRAME_RATE", "Note", "NoteSequence", "get_active_frame_indices",
    "segment_notes_batch", "segment_notes", "window_array", "mean_f0", "median_f0",
    "median_amps", "remove_short", "pad_for_frame", "amp_pooled_outliers",
    "strided_freq_change", "power_pooled_outliers", "midi_heuristic", "midi_heuristic_power",
]  # fmt: skip

DDSP_DEFAULT_FRAME_RATE = 250
POWER_SHIFT_DB = core.DB_RANGE  # what ddsp's missing spectral_ops.LD_RANGE stood for


@dataclass
class Note:
    """One note, with note_seq's field names: MIDI ``pitch``, times in seconds."""

    pitch: int
    start_time: float
    end_time: float
    velocity: int = 127


@dataclass
class NoteSequence:
    """A list of :class:`Note` and the duration ``total_time`` [s] (note_seq's names)."""

    notes: list = field(default_factory=list)
    total_time: float = 0.0


def _vector(x: Any, name: str, where: str) -> np.ndarray:
    """``[n]`` or ``[n, 1]`` (ddsp squeezes) -> a 1-D NumPy array; one frame stays 1-D."""
    x = np.asarray(x)
    if x.ndim == 0 or (x.ndim > 1 and int(np.prod(x.shape[1:])) != 1):
        raise ValueError(f"{where}: {name} must be one example, [n_frames] or [n_frames, 1], "
                         f"got shape {x.shape}")  # fmt: skip
    return x.reshape(-1)


def _sliding(x: np.ndarray, width: int) -> np.ndarray:
    """``tf.signal.frame(x, width, 1)``: every window of ``width`` consecutive values."""
    if len(x) < width:
        return np.zeros((0, width), x.dtype)
    return np.ascontiguousarray(np.lib.stride_tricks.sliding_window_view(x, width))


def get_active_frame_indices(piano_roll: Any) -> np.ndarray:
    """``[n_frames, n_pitches]`` 0/1 roll -> frames since each active note's onset (0 at the
    onset, 0 where inactive), same shape and dtype."""
    roll = np.asarray(piano_roll)
    out = np.zeros_like(roll)
    for i in range(1, roll.shape[0]):
        out[i] = (out[i - 1] + 1) * roll[i]
    return out


def _unbatch(batch: dict) -> list[dict]:
    """A dict of batched arrays (nested dicts too, None skipped) -> one dict per example."""
    examples: list[dict] = []
    for key, val in batch.items():
        if val is None:
            continue
        if isinstance(val, dict):
            items = _unbatch(val)
        elif hasattr(val, "shape") and len(val.shape) > 0:
            items = [val[i] for i in range(val.shape[0])]
        else:
            raise TypeError(f"segment_notes_batch: unsupported value at {key!r}: {type(val)}")
        if not examples:
            examples = [{} for _ in items]
        if len(items) != len(examples):
            raise ValueError(f"segment_notes_batch: batch size mismatch at {key!r}: "
                             f"{len(items)} vs {len(examples)}")  # fmt: skip
        for ex, item in zip(examples, items):
            ex[key] = item
    return examples


def segment_notes_batch(
    binarize_f: Callable,
    pick_f0_f: Callable,
    pick_amps_f: Callable,
    controls_batch: dict,
    frame_rate: float = DDSP_DEFAULT_FRAME_RATE,
) -> list[NoteSequence]:
    """:func:`segment_notes` on each example of a batch of controls: one NoteSequence each."""
    return [segment_notes(binarize_f, pick_f0_f, pick_amps_f, c, frame_rate)
            for c in _unbatch(controls_batch)]  # fmt: skip


def window_array(array: Any, sr: float, win_len: float, frame_step_ratio: float = 0.75,
                 ax: int = 0) -> np.ndarray:  # fmt: skip
    """Overlapping windows of ``int(sr * win_len)`` values along axis ``ax``, hop
    ``int(sr * win_len * ratio)``, zero-padded at the end so every value is in a window
    (``tf.signal.frame(pad_end=True)``): windows on axis ``ax``, their values on ``ax + 1``.

    Before framing, ddsp prepends ``int(sr * win_len * (1 - ratio))`` zeros taken from the
    first axis (``zeros_like(array)[:pad_front]``) along ``ax``; for ``ax != 0`` that is as
    many zero slices as the first axis allows (ddsp's quirk, kept).
    """
    array = np.asarray(array)
    length = positive_int(int(sr * win_len), "int(sr * win_len)", "window_array")
    step = positive_int(int(sr * win_len * frame_step_ratio), "the hop", "window_array")
    pad_front = int(sr * win_len * (1 - frame_step_ratio))
    a = np.concatenate([np.zeros_like(array)[:pad_front], array], axis=ax)
    a = np.moveaxis(a, ax, 0)
    n_frames = -(-a.shape[0] // step)
    pad_end = (n_frames - 1) * step + length - a.shape[0]
    a = np.concatenate([a, np.zeros((max(pad_end, 0),) + a.shape[1:], a.dtype)], axis=0)
    out = np.stack([a[i * step : i * step + length] for i in range(n_frames)])
    return np.moveaxis(out, (0, 1), (ax, ax + 1))


def segment_notes(
    binarize_f: Callable,
    pick_f0_f: Callable,
    pick_amps_f: Callable,
    controls: dict,
    frame_rate: float = DDSP_DEFAULT_FRAME_RATE,
) -> NoteSequence:
    """One note per run of "on" frames of ``binarize_f(controls)``.

    Pitch ``round(hz_to_midi(pick_f0_f(controls, start, stop)))``, start/end ``frame /
    frame_rate`` [s], velocity 127 (ddsp picks an amplitude but does not use it yet);
    ``total_time = n_frames / frame_rate``.
    """
    sequence = NoteSequence()
    on = np.asarray(binarize_f(controls)).reshape(-1)
    starts, stops = _runs(on)
    for start, stop in zip(starts, stops):
        f0 = pick_f0_f(controls, start=start, stop=stop)
        pick_amps_f(controls, start=start, stop=stop)  # as ddsp: picked, unused
        pitch = int(np.round(np.asarray(core.hz_to_midi(np.float32(f0)))))
        sequence.notes.append(Note(pitch, start / frame_rate, stop / frame_rate, 127))
    sequence.total_time = len(on) / frame_rate
    return sequence


def _runs(on: np.ndarray) -> tuple[list[int], list[int]]:
    """Starts and (exclusive) stops of the runs of true values."""
    edges = np.diff(np.concatenate([[0], on.astype(np.int8), [0]]))
    return list(np.flatnonzero(edges == 1)), list(np.flatnonzero(edges == -1))


@register(module="ddsp_ref.training.heuristics")
def mean_f0(controls: dict, start: int, stop: int) -> Any:
    """Mean of ``f0_hz`` over frames ``[start, stop)`` [Hz]."""
    return np.mean(np.asarray(controls["f0_hz"])[start:stop])


@register(module="ddsp_ref.training.heuristics")
def median_f0(controls: dict, start: int, stop: int) -> Any:
    """Median of ``f0_hz`` over frames ``[start, stop)`` [Hz]."""
    return np.median(np.asarray(controls["f0_hz"])[start:stop])


@register(module="ddsp_ref.training.heuristics")
def median_amps(controls: dict, start: int, stop: int) -> Any:
    """Median harmonic amplitude over frames ``[start, stop)``."""
    amps = _vector(controls["harmonic"]["controls"]["amplitudes"], "amplitudes", "median_amps")
    return np.median(amps[start:stop])


def remove_short(is_on_vec: Any, min_samples: int = 20, glue_back: bool = False) -> Any:
    """Switch off runs of "on" shorter than ``min_samples`` (or, with ``glue_back``, switch on
    the frames since the previous run's end), **in place**, and return the vector.

    ddsp's rule, kept: a run is judged when an "off" frame follows it, so a run still on at
    the last frame is never removed.
    """
    has_been_on, prev_note_end = 0, 0
    for i in range(len(is_on_vec)):
        if is_on_vec[i]:
            has_been_on += 1
            continue
        if has_been_on < min_samples:
            if glue_back:
                is_on_vec[prev_note_end:i] = True
            else:
                is_on_vec[i - has_been_on : i] = False
        has_been_on, prev_note_end = 0, i
    return is_on_vec


def pad_for_frame(vec: Any, mode: str, frame_width: int, axis: int = 0) -> np.ndarray:
    """Pad ``vec`` so ``frame(..., frame_width, 1)`` gives one window per value.

    ``'front'``: ``frame_width - 1`` values before (window ``i`` ends at value ``i``);
    ``'center'``: ``frame_width // 2`` before and the rest after; ``'end'``: all after. The
    pad values are ``int(first value)`` before and ``int(last value)`` after (ddsp's
    truncation to integers, kept; an infinite value, where ddsp raises, is kept as it is).
    """
    mode = one_of(mode, ("front", "center", "end"), "mode", "pad_for_frame")
    frame_width = positive_int(frame_width, "frame_width", "pad_for_frame")
    vec = np.asarray(vec)
    if mode == "front":
        widths = (frame_width - 1, 0)
    elif mode == "center":
        widths = (frame_width // 2, frame_width - frame_width // 2 - 1)
    else:
        widths = (0, frame_width - 1)
    first, last = (_int_or_inf(np.take(vec, i, axis)) for i in (0, -1))
    return np.pad(vec, widths, mode="constant", constant_values=(first, last))


def _int_or_inf(value: Any) -> Any:
    """``int(value)``, but +-inf (the log of a silent amplitude) stays inf: ddsp raises an
    OverflowError there."""
    return value if np.isinf(value) else int(value)


def _low_outliers(x: np.ndarray, frame_width: int, num_devs: float, pad_mode: str) -> Any:
    """``x`` above (mean - num_devs * std) of its ``frame_width`` neighbourhood."""
    windows = _sliding(pad_for_frame(x, pad_mode, frame_width), frame_width)
    with np.errstate(invalid="ignore"):  # silent frames (log 0 = -inf): a NaN bound, not "on"
        low_pooled = np.mean(windows, axis=-1) - num_devs * np.std(windows, axis=-1)
    return low_pooled < x


@register(module="ddsp_ref.training.heuristics")
def amp_pooled_outliers(controls: dict, frame_width: int = 80, num_devs: float = 2,
                        pad_mode: str = "center") -> np.ndarray:  # fmt: skip
    """Frames whose log amplitude is above ``mean - num_devs * std`` of the log amplitudes
    around it (a window of ``frame_width`` frames): bool ``[n_frames]``."""
    amps = _vector(controls["harmonic"]["controls"]["amplitudes"], "amplitudes",
                   "amp_pooled_outliers")  # fmt: skip
    with np.errstate(divide="ignore"):
        log_amps = np.log(amps)
    return _low_outliers(log_amps, frame_width, num_devs, pad_mode)


@register(module="ddsp_ref.training.heuristics")
def strided_freq_change(controls: dict, frame_widths: Sequence[int] = (2, 4, 8, 16, 32),
                        pad_mode: str = "front") -> np.ndarray:  # fmt: skip
    """Frames that are not note boundaries and have ``f0 > 0``: bool ``[n_frames]``.

    For each stride ``w`` a frame is a boundary when its MIDI pitch differs by more than 0.75
    semitone from the pitch ``w - 1`` frames earlier, unless a shorter stride already marked
    a boundary among those ``w`` frames.
    """
    f0 = _vector(controls["f0_hz"], "f0_hz", "strided_freq_change")
    f0_midi = np.asarray(core.hz_to_midi(f0.astype(np.float32)))
    transitions = np.ones(len(f0), dtype=bool)
    for width in frame_widths:
        windows = _sliding(pad_for_frame(f0_midi, pad_mode, width), width)
        jumps = np.abs(windows[:, 0] - windows[:, -1]) > 0.75
        prev = _sliding(pad_for_frame(transitions, pad_mode, width), width)
        transitions[np.all(prev, axis=-1) & jumps] = False
    return transitions & (f0 > 0)


@register(module="ddsp_ref.training.heuristics")
def power_pooled_outliers(controls: dict, frame_width: int = 80, num_devs: float = 2.5,
                          pad_mode: str = "center") -> np.ndarray:  # fmt: skip
    """Frames whose power (``compute_power(audio, frame_size=256)`` + 80 dB) is above ``mean -
    num_devs * std`` of its ``frame_width`` neighbourhood and above 0: bool ``[n_frames]``."""
    audio = np.asarray(controls["audio"], np.float32)
    power = np.asarray(compute_power(audio, frame_size=256)) + POWER_SHIFT_DB
    return np.asarray(_low_outliers(power, frame_width, num_devs, pad_mode) & (power > 0))


@register(module="ddsp_ref.training.heuristics")
def midi_heuristic(controls: dict) -> np.ndarray:
    """:func:`strided_freq_change` and :func:`amp_pooled_outliers`, runs < 10 frames removed."""
    return remove_short(strided_freq_change(controls) & amp_pooled_outliers(controls),
                        min_samples=10)  # fmt: skip


@register(module="ddsp_ref.training.heuristics")
def midi_heuristic_power(controls: dict) -> np.ndarray:
    """As :func:`midi_heuristic` with :func:`power_pooled_outliers` for the amplitudes."""
    return remove_short(strided_freq_change(controls) & power_pooled_outliers(controls),
                        min_samples=10)  # fmt: skip


segment_notes_batch = configurable(segment_notes_batch, module="ddsp_ref.training.heuristics")
