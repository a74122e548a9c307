"""ddsp's ``training.eval_util``: evaluate or sample a model at each checkpoint of a training run.

``evaluate`` / ``sample`` restore the latest ``ckpt-<step>.npz`` of ``restore_dir``, run the
model on ``num_batches`` batches of the data (``shuffle=False``, the same batches for every
checkpoint) with ``training=False, return_losses=True`` as ddsp, and hand each batch to the
evaluators (``evaluate`` and/or ``sample``). After each checkpoint in eval mode the evaluators
are flushed and their scalars appended as one JSON line ``{"step", "checkpoint", tag: value}``
to ``<save_dir>/eval_metrics.jsonl``. With ``run_once`` only the latest checkpoint is used;
otherwise the loop waits for newer ones (polling each second) until one reaches
``run_until_step`` (> 0), or ``timeout_secs`` pass without a new one.

Differences from ddsp: the functions return the last checkpoint's scalars (ddsp returns None);
summaries go to an optional tensorboardX-style ``summary_writer`` (ddsp: TF event files under
``save_dir/summaries/eval``); a folder without checkpoints raises FileNotFoundError (ddsp waits
forever) unless waiting is asked for; ``num_batches < 1`` needs a finite ``repeats``.
SyntheticNotes batches need no special case: our provider renders their audio already.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from typing import Any

from ..gin_support import configurable
from ..progress import Progress, format_duration
from ..validation import nonnegative_int, positive_int
from .checkpoints import latest_checkpoint

__all__ = ["evaluate", "sample", "evaluate_or_sample", "checkpoints_iterator", "restore_model",
           "EVAL_METRICS_FILE"]  # fmt: skip

EVAL_METRICS_FILE = "eval_metrics.jsonl"
_DEFAULT_DIR = os.path.join(tempfile.gettempdir(), "ddsp", "training")
_STEP = re.compile(r"ckpt-(\d+)\.npz$")
_POLL_SECS = 1.0


def restore_model(model: Any, checkpoint_path: str) -> None:
    """Load a checkpoint's parameters into a built model (keeping its dtypes and device):
    ``model.restore``."""
    model.restore(checkpoint_path, verbose=False)


def checkpoints_iterator(restore_dir: str | os.PathLike, min_interval_secs: float = 0,
                         timeout: float | None = None) -> Iterator[str]:  # fmt: skip
    """TF's ``checkpoints_iterator``: yield the latest checkpoint of ``restore_dir`` each time
    it changes (intermediate ones are skipped), at most once per ``min_interval_secs``; stop
    after ``timeout`` seconds without a new one (None: wait forever)."""
    previous = None
    while True:
        deadline = None if timeout is None else time.monotonic() + timeout
        path = latest_checkpoint(restore_dir)
        while path is None or path == previous:
            if deadline is not None and time.monotonic() >= deadline:
                return
            time.sleep(_POLL_SECS if deadline is None else
                       max(0.0, min(_POLL_SECS, deadline - time.monotonic())))  # fmt: skip
            path = latest_checkpoint(restore_dir)
        start = time.monotonic()
        previous = path
        yield path
        time.sleep(max(0.0, start + min_interval_secs - time.monotonic()))


def _step_of(path: str) -> int:
    match = _STEP.search(os.path.basename(path))
    return int(match.group(1)) if match else 0


class _EvalProgress(Progress):
    """Progress line of one checkpoint: ``ckpt 300: batches 3/50, ETA 0:12``."""

    step = 0

    def line(self) -> str:
        eta = self.eta_s()
        if self.total <= 0:  # the whole data: length unknown
            return f"ckpt {self.step}: batches {self.done}"
        eta_text = "?" if eta is None else format_duration(eta)
        return f"ckpt {self.step}: batches {self.done}/{self.total}, ETA {eta_text}"


def _check_args(mode, batch_size, num_batches, repeats, ckpt_delay_secs, run_until_step):
    where = "evaluate_or_sample"
    if mode not in ("eval", "sample"):
        raise ValueError(f"{where}: mode must be 'eval' or 'sample', got {mode!r}")
    positive_int(batch_size, "batch_size", where)
    if num_batches < 1 and repeats == -1:
        raise ValueError(f"{where}: num_batches={num_batches} (all batches) needs a finite "
                         "repeats; with repeats=-1 the data never ends")  # fmt: skip
    if float(ckpt_delay_secs) < 0:
        raise ValueError(f"{where}: ckpt_delay_secs must be >= 0, got {ckpt_delay_secs}")
    nonnegative_int(max(run_until_step, 0), "run_until_step", where)


def evaluate_or_sample(data_provider: Any, model: Any, evaluator_classes: list,
                       mode: str = "eval", save_dir: str = _DEFAULT_DIR, restore_dir: str = "",
                       batch_size: int = 32, num_batches: int = 50, repeats: int = -1,
                       ckpt_delay_secs: float = 0, run_once: bool = False,
                       run_until_step: int = 0, evaluate_and_sample: bool = False, *,
                       summary_writer: Any = None, timeout_secs: float | None = None,
                       training: bool = False) -> dict | None:  # fmt: skip
    """ddsp's evaluation loop (see the module docstring).

    Args:
        data_provider: a DataProvider (``get_batch``, ``sample_rate``, ``frame_rate``).
        model: a built-on-demand Model (e.g. Autoencoder); called as ``model(batch,
            return_losses=True, training=training)``.
        evaluator_classes: evaluator classes (not instances), built as ``cls(sample_rate,
            frame_rate)``.
        mode: 'eval' (``evaluate`` + ``flush``) or 'sample' (``sample``).
        save_dir: where ``eval_metrics.jsonl`` and ``samples/`` go.
        restore_dir: folder of the checkpoints (default: ``save_dir``).
        batch_size: examples per batch.
        num_batches: batches per checkpoint; < 1: the whole data (needs ``repeats`` >= 1).
        repeats: passes over the data (-1: endless).
        ckpt_delay_secs: least time between two checkpoints evaluated [s].
        run_once: evaluate only the latest checkpoint.
        run_until_step: stop after a checkpoint with at least this step (ignored if <= 0).
        evaluate_and_sample: call both ``evaluate`` and ``sample`` on every batch.
        summary_writer: tensorboardX-style writer (``add_scalar``, ``add_audio``,
            ``add_image``, optionally ``flush``) or None.
        timeout_secs: without ``run_once``, stop after this long without a new checkpoint
            (None: wait forever, as ddsp).
        training: the model's ``training`` flag (ddsp: False, so an Autoencoder computes no
            losses in eval; True adds them).

    Returns:
        the scalars of the last checkpoint evaluated (``{"step", "checkpoint", tag: value}``),
        or None in sample mode without ``evaluate_and_sample``.

    Raises:
        FileNotFoundError: no checkpoint in ``restore_dir`` (with ``run_once``, or none came
            before ``timeout_secs``).
    """
    _check_args(mode, batch_size, num_batches, repeats, ckpt_delay_secs, run_until_step)
    restore_dir = restore_dir or save_dir
    do_eval, do_sample = (
        mode == "eval" or evaluate_and_sample,
        mode == "sample" or evaluate_and_sample,
    )
    evaluators = [cls(data_provider.sample_rate, data_provider.frame_rate)
                  for cls in evaluator_classes]  # fmt: skip
    for evaluator in evaluators:
        if hasattr(evaluator, "set_output"):
            evaluator.set_output(save_dir, summary_writer)
    if run_once:
        latest = latest_checkpoint(restore_dir)
        paths: Any = [] if latest is None else [latest]
    else:
        paths = checkpoints_iterator(restore_dir, ckpt_delay_secs, timeout_secs)
        if latest_checkpoint(restore_dir) is None:
            print(f"waiting for a checkpoint in {restore_dir}", file=sys.stderr)
    run = _Run(data_provider, model, evaluators, batch_size, num_batches, repeats, training)
    last = None
    for path in paths:
        step = _step_of(path)
        if not run.checkpoint(path, step, do_eval, do_sample):
            continue
        if do_eval:
            last = {"step": step, "checkpoint": path}
            for evaluator in evaluators:
                last.update(evaluator.flush(step) or {})
            _append_jsonl(save_dir, last)
        if summary_writer is not None and hasattr(summary_writer, "flush"):
            summary_writer.flush()
        if 0 < run_until_step <= step:
            break
    if run.count == 0:
        raise FileNotFoundError(
            f"evaluate_or_sample: no checkpoint ckpt-<step>.npz in {restore_dir!r}"
            + ("" if run_once else f" within {timeout_secs} s")
            + "; train first (save_dir of train) or pass restore_dir="
        )
    return last


class _Run:
    """The per-checkpoint work: restore, then the batches through the model and evaluators."""

    def __init__(self, data_provider, model, evaluators, batch_size, num_batches, repeats,
                 training):  # fmt: skip
        self.data_provider, self.model, self.evaluators = data_provider, model, evaluators
        self.batch_size, self.repeats, self.training = batch_size, repeats, training
        self.num_batches = num_batches if num_batches >= 1 else None
        self.built, self.count = False, 0

    def checkpoint(self, path: str, step: int, do_eval: bool, do_sample: bool) -> bool:
        """Restore ``path`` and run the batches; False (with a warning) when the checkpoint
        vanished before it could be read (pruned by a training run's checkpoints_to_keep)."""
        batches = self.data_provider.get_batch(self.batch_size, shuffle=False,
                                               repeats=self.repeats)  # fmt: skip
        progress = _EvalProgress(self.num_batches or 0, label="batches", stream=sys.stderr)
        progress.step = step
        try:
            for index, batch in enumerate(batches):
                if self.num_batches is not None and index >= self.num_batches:
                    break
                if index == 0 and not self._restore(path, batch):
                    return False
                self._batch(batch, step, do_eval, do_sample)
                progress.update(1)
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()  # stops the prefetch thread
            if progress.done:
                progress.close()
        self.count += 1
        return True

    def _restore(self, path: str, batch: dict) -> bool:
        if not self.built:  # the lazily sized layers need one call before restoring
            self.model(batch, training=False)
            self.built = True
        try:
            restore_model(self.model, path)
        except FileNotFoundError:
            warnings.warn(f"evaluate_or_sample: {path} disappeared before it was read; "
                          "skipping it", stacklevel=3)  # fmt: skip
            return False
        return True

    def _batch(self, batch: dict, step: int, do_eval: bool, do_sample: bool) -> None:
        outputs, losses = self.model(batch, return_losses=True, training=self.training)
        outputs = dict(outputs)
        outputs["audio_gen"] = self.model.get_audio_from_outputs(outputs)
        for evaluator in self.evaluators:
            if do_eval:
                evaluator.evaluate(batch, outputs, losses)
            if do_sample:
                evaluator.sample(batch, outputs, step)


def _append_jsonl(save_dir: str, record: dict) -> None:
    os.makedirs(save_dir, exist_ok=True)
    with open(os.path.join(save_dir, EVAL_METRICS_FILE), "a", encoding="utf-8") as f:
        f.write(json.dumps({k: _plain(v) for k, v in record.items()}) + "\n")


def _plain(value: Any) -> Any:
    """JSON-ready scalar (numpy and 0-d arrays to Python floats)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return float(value)


def evaluate(data_provider: Any, model: Any, evaluator_classes: list,
             save_dir: str = _DEFAULT_DIR, restore_dir: str = "", batch_size: int = 32,
             num_batches: int = 50, repeats: int = -1, ckpt_delay_secs: float = 0,
             run_once: bool = False, run_until_step: int = 0,
             evaluate_and_sample: bool = False, **kwargs: Any) -> dict | None:  # fmt: skip
    """ddsp's ``evaluate``: :func:`evaluate_or_sample` in 'eval' mode (keyword extras:
    ``summary_writer``, ``timeout_secs``, ``training``)."""
    return evaluate_or_sample(
        data_provider, model, evaluator_classes, "eval", save_dir, restore_dir, batch_size,
        num_batches, repeats, ckpt_delay_secs, run_once, run_until_step, evaluate_and_sample,
        **kwargs,
    )  # fmt: skip


def sample(data_provider: Any, model: Any, evaluator_classes: list,
           save_dir: str = _DEFAULT_DIR, restore_dir: str = "", batch_size: int = 16,
           num_batches: int = 1, ckpt_delay_secs: float = 0, run_once: bool = False,
           run_until_step: int = 0, evaluate_and_sample: bool = False,
           **kwargs: Any) -> dict | None:  # fmt: skip
    """ddsp's ``sample``: :func:`evaluate_or_sample` in 'sample' mode, endless data (keyword
    extras as :func:`evaluate`)."""
    return evaluate_or_sample(
        data_provider, model, evaluator_classes, "sample", save_dir, restore_dir, batch_size,
        num_batches, -1, ckpt_delay_secs, run_once, run_until_step, evaluate_and_sample,
        **kwargs,
    )  # fmt: skip


evaluate = configurable(evaluate, module="ddsp_ref.training.eval_util")
sample = configurable(sample, module="ddsp_ref.training.eval_util")
