"""Run by tests/training/test_mpi.py as ``mpiexec -n 2 python -m
tests.training.mpi_scripts.train_ranks SCENARIO OUTDIR [N]``: trains the tiny float64 model of
``setup`` with the MPI strategy and writes what each rank saw to OUTDIR for the test to compare.

Scenarios:
    train N: ``train_util.train`` up to step N (restoring ``OUTDIR/run``), global batch 4;
        rank 0 saves to ``OUTDIR/run``, rank 1 is given ``OUTDIR/rank1`` (must stay empty)
        and starts from perturbed parameters (the broadcast at build must replace them);
        each rank records its parameters and losses after every step in
        ``OUTDIR/train<N>-rank<r>.npz``.
    interrupt: rank 1 gets SIGINT during step 2; each rank writes its final step to
        ``OUTDIR/interrupt-rank<r>.json``; rank 0 saves to ``OUTDIR/interrupt``.
    crash: as interrupt, but rank 1 raises instead (the job must end, not hang).
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

from .setup import GLOBAL_BATCH, make_provider, make_trainer


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


def main(scenario: str, outdir: str, *args: str) -> None:
    strategy = train_util.get_strategy()
    assert isinstance(strategy, MpiStrategy) and strategy.size == 2, strategy
    rank = strategy.rank
    if scenario == "train":
        run = Hooked(make_trainer(strategy, perturb=rank == 1))
        save_dir = os.path.join(outdir, "run" if rank == 0 else "rank1")
        train_util.train(make_provider(), run, batch_size=GLOBAL_BATCH, num_steps=int(args[0]),
                         steps_per_summary=1, steps_per_save=2, save_dir=save_dir,
                         restore_dir=os.path.join(outdir, "run"))  # fmt: skip
        _save_records(os.path.join(outdir, f"train{args[0]}-rank{rank}.npz"), run.records)
    elif scenario in ("interrupt", "crash"):

        def hook(step):
            if rank == 1 and step == 2:
                if scenario == "crash":
                    raise RuntimeError("rank 1 fails on purpose")
                os.kill(os.getpid(), signal.SIGINT)

        run = Hooked(make_trainer(strategy), hook)
        save_dir = os.path.join(outdir, scenario)
        train_util.train(make_provider(), run, batch_size=GLOBAL_BATCH, num_steps=50,
                         steps_per_save=100, save_dir=save_dir, restore_dir=save_dir)  # fmt: skip
        with open(os.path.join(outdir, f"{scenario}-rank{rank}.json"), "w") as f:
            json.dump({"step": run.step}, f)
    else:
        raise ValueError(f"unknown scenario {scenario!r}")


if __name__ == "__main__":
    main(*sys.argv[1:])
