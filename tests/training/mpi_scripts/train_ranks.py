"""Run by tests/training/test_mpi.py as ``mpiexec -n 2 python -m
tests.training.mpi_scripts.train_ranks OUTDIR SCENARIO...``: runs the tiny float64 model of
``setup`` with the MPI strategy and writes what each rank saw to OUTDIR for the test to compare.
``train:N`` also runs on more ranks (global batch 4: up to 4).

Scenarios (in the order given, in the same processes):
    collectives: ``allreduce_mean`` / ``broadcast`` / ``any`` of rank-dependent trees, written
        to ``OUTDIR/collectives-rank<r>.npz`` with the number of ``Allreduce`` calls of the
        mean and of two steps of ``train``; a broadcast of mismatched trees must raise.
    train:N: ``train_util.train`` up to step N (restoring ``OUTDIR/run``), global batch 4;
        rank 0 saves to ``OUTDIR/run``, rank r > 0 is given ``OUTDIR/rank<r>`` (must stay
        empty) and starts from perturbed parameters (the broadcast at build must replace them);
        each rank records its parameters and losses after every step in
        ``OUTDIR/train<N>-rank<r>.npz``.
    interrupt: rank 1 gets SIGINT during step 2 of a 50-step run; each rank writes its final
        step to ``OUTDIR/interrupt-rank<r>.json``; rank 0 saves to ``OUTDIR/interrupt``.
    crash: as interrupt, but rank 1 raises instead (the job must end, not hang).
    early: as interrupt, without the signal, with ``early_stop_loss_value=EARLY_STOP``.
    spectral_norm: as ``train:3`` from scratch (perturbed on rank r > 0, saved to
        ``OUTDIR/spectral_norm``) with the spectral-norm decoder, records in
        ``OUTDIR/spectral_norm-rank<r>.npz``.
"""

from __future__ import annotations

import json
import os
import signal
import sys

import numpy as np

from ddsp_ref.autodiff import tree_flatten
from ddsp_ref.training import train_util
from ddsp_ref.training.distributed import MpiStrategy

from .setup import EARLY_STOP, GLOBAL_BATCH, make_provider, make_trainer


class Hooked:
    """A Trainer wrapper: records parameters and losses after each step, and may run
    ``hook(step)`` inside the step (before the update), e.g. to raise or send a signal."""

    def __init__(self, trainer, hook=None):
        self.trainer, self.hook, self.records = trainer, hook, []

    def __getattr__(self, name):
        return getattr(self.trainer, name)

    def train_step(self, batch):
        if self.hook is not None:
            self.hook(self.trainer.step + 1)
        losses = self.trainer.train_step(batch)
        leaves = [np.array(x) for x in tree_flatten(self.trainer.model.parameters())[0]]
        self.records.append((self.trainer.step, losses, leaves, batch))
        return losses


def _save_records(path, records):
    arrays = {}
    for step, losses, leaves, batch in records:
        arrays[f"{step}/loss"] = np.array(losses["total_loss"])
        arrays[f"{step}/audio"] = batch["audio"]
        for i, leaf in enumerate(leaves):
            arrays[f"{step}/p{i}"] = leaf
    np.savez(path, **arrays)


class _CountingComm:
    """A communicator proxy counting ``Allreduce`` calls."""

    def __init__(self, comm):
        self.comm, self.allreduce_calls = comm, 0

    def __getattr__(self, name):
        return getattr(self.comm, name)

    def Allreduce(self, *args, **kwargs):  # noqa: N802  (mpi4py's name)
        self.allreduce_calls += 1
        return self.comm.Allreduce(*args, **kwargs)


def _collectives(strategy, outdir):
    """allreduce_mean and broadcast of a mixed tree with rank-dependent values."""
    rank = strategy.rank
    tree = {
        "a": np.arange(3, dtype=np.float32) + rank,
        "b": {"c": np.full((2, 2), 10.0 * rank + 0.5), "none": None},
        "d": [np.float32(rank + 1) * np.ones((), np.float32), np.arange(4.0) * (rank + 1)],
    }
    before = [None if x is None else x.copy() for x in tree_flatten(tree)[0]]
    counting = MpiStrategy(_CountingComm(strategy.comm), abort_on_error=False)
    mean, bcast = counting.allreduce_mean(tree), strategy.broadcast(tree)
    after = tree_flatten(tree)[0]
    assert all(x is y or np.array_equal(x, y) for x, y in zip(before, after))  # inputs untouched
    out = {}
    for name, result in (("mean", mean), ("bcast", bcast)):
        for i, leaf in enumerate(tree_flatten(result)[0]):
            out[f"{name}/{i}"] = np.array("None") if leaf is None else leaf
    try:  # shapes differ between the ranks: every rank must raise, none may hang
        strategy.broadcast({"x": np.zeros(2 + rank)})
        out["mismatch"] = np.array("no error")
    except ValueError as e:
        out["mismatch"] = np.array(str(e))
    out["any"] = np.array([strategy.any(rank == 1), strategy.any(False)])
    out["allreduce_calls"] = np.array(counting.comm.allreduce_calls)
    out["local_rank"] = np.array(strategy.local_rank)
    # Two steps of train(): per step one all-reduce of gradients and losses (all float64) and
    # one of the stop flags.
    counting = MpiStrategy(_CountingComm(strategy.comm), abort_on_error=False)
    train_util.train(make_provider(), make_trainer(counting), batch_size=GLOBAL_BATCH,
                     num_steps=2, save_dir="", restore_dir="")  # fmt: skip
    out["train_allreduce_calls"] = np.array(counting.comm.allreduce_calls)
    np.savez(os.path.join(outdir, f"collectives-rank{rank}.npz"), **out)


def _train(strategy, outdir, num_steps, name="run", records="train{}", spectral_norm=False):
    rank = strategy.rank
    run = Hooked(make_trainer(strategy, perturb=rank != 0, spectral_norm=spectral_norm))
    save_dir = os.path.join(outdir, name if rank == 0 else f"rank{rank}")
    train_util.train(make_provider(), run, batch_size=GLOBAL_BATCH, num_steps=num_steps,
                     steps_per_summary=1, steps_per_save=2, save_dir=save_dir,
                     restore_dir=os.path.join(outdir, name))  # fmt: skip
    path = os.path.join(outdir, f"{records.format(num_steps)}-rank{rank}.npz")
    _save_records(path, run.records)


def _stop(strategy, outdir, scenario):
    rank = strategy.rank

    def hook(step):
        if rank == 1 and step == 2:
            if scenario == "crash":
                raise RuntimeError("rank 1 fails on purpose")
            if scenario == "interrupt":
                signal.raise_signal(signal.SIGINT)  # to this thread, now

    run = Hooked(make_trainer(strategy), hook)
    save_dir = os.path.join(outdir, scenario)
    train_util.train(make_provider(), run, batch_size=GLOBAL_BATCH, num_steps=50,
                     steps_per_save=100, save_dir=save_dir, restore_dir=save_dir,
                     early_stop_loss_value=EARLY_STOP if scenario == "early" else None)  # fmt: skip
    with open(os.path.join(outdir, f"{scenario}-rank{rank}.json"), "w") as f:
        json.dump({"step": run.step}, f)


def main(outdir: str, *scenarios: str) -> None:
    strategy = train_util.get_strategy()
    assert isinstance(strategy, MpiStrategy) and strategy.size >= 2, strategy
    for scenario in scenarios:  # e.g. collectives train:3 interrupt
        name, _, steps = scenario.partition(":")
        if name == "collectives":
            _collectives(strategy, outdir)
        elif name == "train":
            _train(strategy, outdir, int(steps))
        elif name == "spectral_norm":
            _train(strategy, outdir, 3, name, name, spectral_norm=True)
        elif name in ("interrupt", "crash", "early"):
            _stop(strategy, outdir, name)
        else:
            raise ValueError(f"unknown scenario {scenario!r}")


if __name__ == "__main__":
    main(*sys.argv[1:])
