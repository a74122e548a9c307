"""Note detection and dataset statistics for timbre transfer (ddsp's ``postprocessing``)."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from .quantile import QuantileTransformer

__all__ = [
    "QuantileTransformer",
    "smooth",
    "detect_notes",
    "fit_quantile_transform",
    "compute_dataset_statistics",
    "save_dataset_statistics",
    "load_dataset_statistics",
]

LD_RANGE = 80.0  # ddsp's spectral_ops.LD_RANGE [dB]


def smooth(x: Any, filter_size: int = 3) -> np.ndarray:
    """Box filter along time, zeros outside (TF ``conv1d`` 'SAME': edges are attenuated).

    Output ``t`` averages inputs ``t - (filter_size - 1) // 2 .. t + filter_size // 2``.

    Args:
        x: [n_frames] or [batch, n_frames].

    Returns:
        float32, the shape of ``x``.
    """
    x = np.asarray(x, np.float32)
    rows = x.reshape(-1, x.shape[-1]).astype(np.float64)
    left = (filter_size - 1) // 2
    padded = np.pad(rows, ((0, 0), (left + 1, filter_size - 1 - left)))
    sums = np.cumsum(padded, axis=-1)
    y = (sums[:, filter_size:] - sums[:, :-filter_size]) / filter_size
    return y.reshape(x.shape).astype(np.float32)


def detect_notes(
    loudness_db: Any,
    f0_confidence: Any,
    note_threshold: float = 1.0,
    exponent: float = 2.0,
    smoothing: int = 40,
    f0_confidence_threshold: float = 0.7,
    min_db: float = -LD_RANGE,
) -> tuple[np.ndarray, np.ndarray]:
    """Frames that belong to notes: loud enough and confidently pitched.

    ``score = smooth(conf^exponent, smoothing) * (loudness_db - min_db)``, ``threshold =
    (mean(loudness_db) - min_db) * f0_confidence_threshold^exponent`` (mean over every frame of
    the input); ``ratio = score / threshold``; ``mask_on = ratio >= note_threshold``.

    Args:
        loudness_db, f0_confidence: [n_frames] or [batch, n_frames].

    Returns:
        (mask_on bool, note_on_ratio float), each the input's shape; all False / 0 when the
        mean loudness is at ``min_db`` (silence), where ddsp's ratio is NaN.
    """
    loudness_db = np.asarray(loudness_db, np.float64)
    score = smooth(np.asarray(f0_confidence, np.float64) ** exponent, smoothing) * (
        loudness_db - min_db
    )
    threshold = (np.mean(loudness_db) - min_db) * f0_confidence_threshold**exponent
    if threshold <= 0:  # silence throughout (ddsp divides by zero): no notes
        ratio = np.zeros_like(score)
    else:
        ratio = score / threshold
    return ratio >= note_threshold, ratio


def fit_quantile_transform(
    loudness_db: Any, mask_on: Any, inv_quantile: QuantileTransformer | None = None
) -> Any:
    """Fit a QuantileTransformer on the loudness of note frames.

    Without ``inv_quantile``: the fitted transformer. With it (a dataset's transformer): the
    note frames' loudness mapped through the fitted transform and then ``inv_quantile``'s
    inverse, other frames unchanged, as a flat ``[n_frames_total, 1]`` array (ddsp's layout).
    """
    loudness_flat = np.ravel(np.asarray(loudness_db, np.float64))
    mask_flat = np.ravel(np.asarray(mask_on, bool))
    transform = QuantileTransformer().fit(loudness_flat[mask_flat][:, None])
    if inv_quantile is None:
        return transform
    out = loudness_flat.copy()[:, None]
    normalized = transform.transform(loudness_flat[mask_flat][:, None])
    out[mask_flat] = inv_quantile.inverse_transform(normalized)
    return out


def _stats(x: np.ndarray, prefix: str, mask: np.ndarray | None = None) -> dict[str, float]:
    """mean/max/min/std over frames (note frames with ``mask``) and the row-wise mean max/min.

    Rows without a note frame count with all their frames (ddsp 3.7.0's rule).
    """
    if mask is not None:
        mask = mask | ~mask.any(axis=-1, keepdims=True)
        rows_max = [row[m].max() for row, m in zip(x, mask)]
        rows_min = [row[m].min() for row, m in zip(x, mask)]
        values = x[mask]
    else:
        rows_max, rows_min, values = x.max(axis=-1), x.min(axis=-1), x
    return {
        f"mean_{prefix}": float(np.mean(values)),
        f"max_{prefix}": float(np.max(values)),
        f"min_{prefix}": float(np.min(values)),
        f"mean_max_{prefix}": float(np.mean(rows_max)),
        f"mean_min_{prefix}": float(np.mean(rows_min)),
        f"std_{prefix}": float(np.std(values)),
    }


def _frame_mask(mask: np.ndarray, n_frames: int) -> np.ndarray:
    """A note mask [batch, m] at another frame rate [batch, n_frames] (nearest earlier frame)."""
    index = np.minimum((np.arange(n_frames) * mask.shape[-1]) // n_frames, mask.shape[-1] - 1)
    return mask[:, index]


def compute_dataset_statistics(
    data_provider: Any,
    batch_size: int = 1,
    power_frame_size: int = 1024,
    power_frame_rate: int = 50,
) -> dict[str, Any]:
    """Pitch, power and loudness statistics of a dataset, overall and on note frames.

    As ddsp: one pass (``get_batch(batch_size, shuffle=False, repeats=1, drop_remainder=False)``),
    the last 20 frames of every example dropped (edge effects), notes from ``detect_notes`` on
    loudness and confidence, ``mean/max/min/mean_max/mean_min/std`` of ``pitch`` (MIDI),
    ``power`` (``compute_power`` dB at ``power_frame_rate``) and ``loudness`` (dB), their
    ``_note`` versions on note frames, and ``quantile_transform`` fitted on note loudness.
    Where ddsp indexes power (at 50 Hz) with the 250 Hz note mask and fails, the mask is
    taken at the power frames' times.
    """
    from ..core import hz_to_midi
    from ..spectral_ops import compute_power

    columns: dict[str, list] = {"loudness_db": [], "power": [], "f0_hz": [], "f0_confidence": []}
    for batch in data_provider.get_batch(
        batch_size, shuffle=False, repeats=1, drop_remainder=False
    ):
        for key in ("loudness_db", "f0_hz", "f0_confidence"):
            columns[key].append(np.asarray(batch[key], np.float64))
        power = compute_power(
            np.asarray(batch["audio"], np.float32),
            sample_rate=data_provider.sample_rate,
            frame_rate=power_frame_rate,
            frame_size=power_frame_size,
        )
        columns["power"].append(np.asarray(power, np.float64))
    trim = 20
    loudness, power, f0, confidence = (
        np.vstack(columns[k])[:, :-trim] for k in ("loudness_db", "power", "f0_hz", "f0_confidence")
    )
    pitch = np.asarray(hz_to_midi(f0), np.float64)
    mask_on, _ = detect_notes(loudness, confidence)
    stats: dict[str, Any] = {}
    stats.update(_stats(pitch, "pitch"))
    stats.update(_stats(power, "power"))
    stats.update(_stats(loudness, "loudness"))
    stats.update(_stats(pitch, "pitch_note", mask_on))
    stats.update(_stats(power, "power_note", _frame_mask(mask_on, power.shape[-1])))
    stats.update(_stats(loudness, "loudness_note", mask_on))
    stats["quantile_transform"] = fit_quantile_transform(loudness, mask_on)
    return stats


def save_dataset_statistics(
    data_provider: Any, file_path: str, batch_size: int = 1, power_frame_size: int = 1024
) -> dict[str, Any]:
    """Compute the statistics and write them as JSON (ddsp pickles them; JSON runs no code).

    ddsp's ``colab_utils`` version defaults to ``power_frame_size=256``, shorter than the 320
    samples between power frames at 50 Hz, which ``spectral_ops.pad`` rejects; 1024 here, the
    default of ``compute_dataset_statistics``.
    """
    stats = compute_dataset_statistics(data_provider, batch_size, power_frame_size)
    state = {k: v for k, v in stats.items() if k != "quantile_transform"}
    state["quantile_transform"] = stats["quantile_transform"].to_dict()
    state["format"] = "ddsp_ref.dataset_statistics/1"
    folder = os.path.dirname(os.path.abspath(file_path))
    os.makedirs(folder, exist_ok=True)
    from .data_preparation.storage import atomic_write_json

    atomic_write_json(file_path, state)
    return stats


def load_dataset_statistics(file_path: str) -> dict[str, Any]:
    """Statistics written by ``save_dataset_statistics`` (quantile transform restored)."""
    with open(file_path, encoding="utf-8") as f:
        state = json.load(f)
    if state.pop("format", None) != "ddsp_ref.dataset_statistics/1":
        raise ValueError(f"{file_path!r} is not a ddsp_ref dataset-statistics file")
    state["quantile_transform"] = QuantileTransformer.from_dict(state["quantile_transform"])
    return state
