"""ddsp's ``training.train_util``: the training loop and checkpoint look-up.

``train(data_provider, trainer, ...)`` builds the trainer on a first batch, restores the latest
checkpoint of ``restore_dir`` (continuing its step count), then steps until the trainer's step
reaches ``num_steps`` (a total, as in ddsp: a resumed run finishes at the same step), with a
progress line, mean-loss summaries appended to ``<save_dir>/metrics.jsonl``, checkpoints, optional
early stopping, and a clean stop on Ctrl-C (a checkpoint is written, then it returns).

Step numbers are the trainer's count after the update (1 for the first update), so summaries
and checkpoints fall on multiples of ``steps_per_summary`` / ``steps_per_save`` (ddsp counts
before the update and so saves ckpt-1, ckpt-301, ...). A last checkpoint is written at the end.
TensorBoard summaries are replaced by the JSON-lines file; hypertune reporting is not provided.

Under MPI (``mpiexec -n N``; see ``docs/mpi.md``): :func:`get_strategy` gives the strategy to
pass to the Trainer, and ``train`` then takes ``batch_size`` as the global batch (each rank
reads its ``batch_size / N`` examples of it), writes checkpoints, metrics and the progress line
on rank 0 only, restores the checkpoint rank 0 finds, and stops all ranks at the same step.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from typing import Any

from ..gin_support import configurable
from ..progress import Progress, format_duration
from ..validation import nonnegative_int, positive_int
from .checkpoints import latest_checkpoint
from .distributed import StopRequest

__all__ = ["train", "get_latest_checkpoint", "get_strategy", "read_metrics", "METRICS_FILE"]

METRICS_FILE = "metrics.jsonl"
_DEFAULT_DIR = os.path.join(tempfile.gettempdir(), "ddsp")


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """The records of a ``metrics.jsonl`` (or of ``<folder>/metrics.jsonl``), in file order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a line that is not a JSON object with a ``step``.
    """
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


def get_strategy(tpu: str = "", cluster_config: str = "") -> Any:
    """ddsp's helper, for MPI: an ``MpiStrategy`` when started by ``mpiexec`` with more than
    one process (mpi4py installed), else None (one process). Pass it to ``Trainer(model,
    strategy=...)``.

    Args:
        tpu, cluster_config: ddsp's TPU address and MultiWorkerMirroredStrategy cluster JSON;
            not supported (must be empty): the processes come from the MPI launcher.
    """
    for name, value in (("tpu", tpu), ("cluster_config", cluster_config)):
        if value:
            raise ValueError(
                f"get_strategy: {name} is not supported (got {value!r}); launch the processes "
                "with mpiexec instead (see docs/mpi.md)"
            )
    from .distributed import get_strategy as mpi_strategy

    return mpi_strategy()


def get_latest_checkpoint(checkpoint_path: str | os.PathLike) -> str | None:
    """ddsp's helper: the checkpoint file itself, or the latest complete one of a folder (None
    if there is none)."""
    path = os.fspath(checkpoint_path)
    if os.path.isfile(path):
        return path
    return latest_checkpoint(path)


class _TrainProgress(Progress):
    """Progress line of the loop: step, loss, steps per second and ETA."""

    loss = float("nan")
    first = last = 0

    def line(self) -> str:
        elapsed = max(time.monotonic() - self._start, 1e-9)
        eta = self.eta_s()
        return (
            f"step {self.first + self.done}/{self.last} loss {self.loss:.4g}, "
            f"{self.done / elapsed:.2f} steps/s, "
            f"ETA {'?' if eta is None else format_duration(eta)}"
        )

    def eta_s(self) -> float | None:
        if self.done == 0:
            return None
        elapsed = time.monotonic() - self._start
        return elapsed * (self.total - self.done) / self.done


def _append_metrics(save_dir: str, record: dict) -> None:
    os.makedirs(save_dir, exist_ok=True)
    with open(os.path.join(save_dir, METRICS_FILE), "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


class _Summaries:
    """Loss sums since the last line of ``<save_dir>/metrics.jsonl`` (written only when
    ``save_dir`` is set and this process writes)."""

    def __init__(self, save_dir: str | None, writes: bool) -> None:
        from .summaries import make_summary_writer

        self.save_dir = save_dir if writes else None
        # TensorBoard scalars beside metrics.jsonl when tensorboardX is installed (else no-op).
        self.writer = make_summary_writer(self.save_dir)
        self.sums: dict[str, float] = {}
        self.count, self.since = 0, time.monotonic()

    def add(self, losses: dict[str, float]) -> None:
        for name, value in losses.items():
            self.sums[name] = self.sums.get(name, 0.0) + value
        self.count += 1

    def write(self, step: int) -> None:
        """Append ``{"step", each mean loss, "steps_per_sec"}`` and start over."""
        if not self.save_dir:
            return
        record: dict[str, Any] = {"step": step}
        record.update({name: total / self.count for name, total in self.sums.items()})
        record["steps_per_sec"] = self.count / max(time.monotonic() - self.since, 1e-9)
        _append_metrics(self.save_dir, record)
        for name, value in record.items():
            if name != "step":
                self.writer.add_scalar(f"losses/{name}" if name != "steps_per_sec" else name,
                                       value, step)  # fmt: skip
        self.writer.flush()
        self.sums, self.count, self.since = {}, 0, time.monotonic()

    def close(self) -> None:
        self.writer.close()


def train(data_provider: Any, trainer: Any, batch_size: int = 32, num_steps: int = 1000000,
          steps_per_summary: int = 300, steps_per_save: int = 300,
          save_dir: str = _DEFAULT_DIR, restore_dir: str = _DEFAULT_DIR,
          early_stop_loss_value: float | None = None,
          report_loss_to_hypertune: bool = False) -> None:  # fmt: skip
    """ddsp's training loop (see the module docstring).

    Args:
        data_provider: a DataProvider (``get_batch(batch_size, shuffle=True, repeats=-1)``).
        trainer: a :class:`~ddsp_ref.training.trainers.Trainer`.
        batch_size: examples per step; under a strategy the global batch over all ranks (a
            multiple of the number of ranks), each rank reading ``batch_size / N`` of them.
        num_steps: the step count to train up to (restored steps included).
        steps_per_summary: steps between lines of ``<save_dir>/metrics.jsonl``: ``{"step",
            each loss averaged over those steps, "steps_per_sec"}``.
        steps_per_save: steps between checkpoints (one is also written at the end).
        save_dir: where checkpoints and metrics go ('' or None: nothing is written); rank 0
            only under a strategy.
        restore_dir: folder whose latest checkpoint is restored first, if any.
        early_stop_loss_value: stop (after saving) once ``total_loss <= `` this value.
        report_loss_to_hypertune: must be False (not supported).
    """
    where = "train"
    batch_size = positive_int(batch_size, "batch_size", where)
    num_steps = nonnegative_int(num_steps, "num_steps", where)
    steps_per_summary = positive_int(steps_per_summary, "steps_per_summary", where)
    steps_per_save = positive_int(steps_per_save, "steps_per_save", where)
    if report_loss_to_hypertune:
        raise ValueError(f"{where}: report_loss_to_hypertune is not supported")
    strategy = getattr(trainer, "strategy", None)
    if strategy is not None:
        data_provider = strategy.shard(data_provider)  # this rank's part of each global batch
    batches = data_provider.get_batch(batch_size, shuffle=True, repeats=-1)
    try:
        first = next(batches)
        trainer.build(first)
        path = get_latest_checkpoint(restore_dir) if restore_dir else None
        if strategy is not None:  # every rank restores the file rank 0 found
            path = strategy.broadcast_object(path)
        if path is not None:
            trainer.restore(path)
        _loop(trainer, _chain(first, batches), num_steps, steps_per_summary, steps_per_save,
              save_dir, early_stop_loss_value)  # fmt: skip
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()  # stops the prefetch thread


def _chain(first: dict, rest: Any):
    yield first
    yield from rest


def _loop(trainer, batches, num_steps, steps_per_summary, steps_per_save, save_dir,
          early_stop_loss_value):  # fmt: skip
    """The steps of :func:`train`; saves on the way out (end, early stop or Ctrl-C).

    Under a strategy SIGINT only sets a flag, and the ranks agree once per step on whether any
    of them wants to stop (early stop or Ctrl-C), so all leave after the same step and none is
    left waiting in a collective."""
    strategy = getattr(trainer, "strategy", None)
    chief = strategy is None or strategy.is_chief
    stream = sys.stderr if chief else None
    progress = _TrainProgress(max(num_steps - trainer.step, 0), label="steps", stream=stream)
    progress.first, progress.last = trainer.step, num_steps
    summaries = _Summaries(save_dir, chief)
    saved_at = trainer.step
    try:
        with StopRequest() if strategy is not None else contextlib.nullcontext() as ctrl_c:
            while trainer.step < num_steps:
                losses = trainer.train_step(next(batches))
                step = trainer.step
                progress.loss = losses["total_loss"]
                progress.update(1)
                summaries.add(losses)
                if step % steps_per_summary == 0:
                    summaries.write(step)
                early, interrupted = _stop(strategy, ctrl_c, losses, early_stop_loss_value)
                if interrupted or early:
                    progress.write(
                        f"interrupted at step {step}: saving a checkpoint"
                        if interrupted
                        else f"total_loss reached the early-stop value {early_stop_loss_value}"
                    )
                    break
                if step % steps_per_save == 0 and save_dir:
                    trainer.save(save_dir)
                    saved_at = step
    except KeyboardInterrupt:
        if strategy is not None:
            raise  # not agreed by the ranks: the strategy's abort hook ends them all
        progress.write(f"interrupted at step {trainer.step}: saving a checkpoint")
    finally:
        if progress.done:  # a run with nothing left to do prints no line
            progress.close()
        summaries.close()
    if save_dir and trainer.step != saved_at:
        trainer.save(save_dir)


def _stop(strategy, ctrl_c, losses, early_stop_loss_value) -> tuple[bool, bool]:
    """``(early stop, interrupted)`` after a step; under a strategy, each is true on every rank
    when true on any (a collective, once per step)."""
    early = early_stop_loss_value is not None and losses["total_loss"] <= early_stop_loss_value
    if strategy is None:
        return early, False
    early, interrupted = strategy.any_each([early, ctrl_c.requested])
    return early, interrupted


train = configurable(train, module="ddsp_ref.training.train_util")
