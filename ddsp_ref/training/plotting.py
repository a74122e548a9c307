"""Plots of a training run: the loss curves of ``metrics.jsonl`` (needs the ``plot`` extra)."""

from __future__ import annotations

import json
import math
import os

__all__ = ["read_metrics", "plot_loss_curves"]

_NOT_LOSSES = ("step", "steps_per_sec")


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """The records of a ``metrics.jsonl`` (or of ``<folder>/metrics.jsonl``), in file order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a line that is not a JSON object with a ``step``.
    """
    from .train_util import METRICS_FILE

    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, METRICS_FILE)
    records = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"read_metrics: {path} line {number}: {err}") from None
            if not isinstance(record, dict) or "step" not in record:
                raise ValueError(f"read_metrics: {path} line {number} has no 'step'")
            records.append(record)
    return records


def plot_loss_curves(metrics_path: str | os.PathLike, output_path: str | os.PathLike | None = None,
                     log_scale: bool = True) -> str:  # fmt: skip
    """Save a PNG of every loss of ``metrics.jsonl`` against the step.

    Args:
        metrics_path: the ``metrics.jsonl`` file, or the save_dir holding it.
        output_path: the PNG to write; default ``loss_curves.png`` beside the metrics file.
        log_scale: logarithmic loss axis (used only when every value is positive).

    Returns:
        the path of the PNG.

    Raises:
        ImportError: matplotlib is missing (the ``plot`` extra).
        ValueError: no record holds a loss.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(
            "plot_loss_curves needs matplotlib: pip install 'ddsp_ref[plot]'"
        ) from err
    records = read_metrics(metrics_path)
    names = sorted({k for r in records for k in r if k not in _NOT_LOSSES})
    if not names:
        raise ValueError(f"plot_loss_curves: no loss values in {metrics_path}")
    if output_path is None:
        folder = metrics_path if os.path.isdir(metrics_path) else os.path.dirname(metrics_path)
        output_path = os.path.join(os.fspath(folder), "loss_curves.png")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    positive = True
    for name in names:
        points = [(r["step"], r[name]) for r in records if isinstance(r.get(name), (int, float))]
        points = [(s, v) for s, v in points if math.isfinite(v)]
        positive &= all(v > 0 for _, v in points)
        ax.plot([s for s, _ in points], [v for _, v in points], marker=".", label=name)
    if log_scale and positive:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("mean loss per summary")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(output_path)), exist_ok=True)
    fig.savefig(output_path, dpi=100)
    plt.close(fig)
    return os.fspath(output_path)
