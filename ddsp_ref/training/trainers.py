"""ddsp's ``training.trainers``: the Trainer (one optimisation step of a Model, checkpoints).

A step is ddsp's: ``total_loss`` of ``model(batch, training=True)``, its gradient with respect to
every parameter of the model, clipped by the global norm (3.0), one Adam update on an
exponentially decaying learning rate (``lr * 0.98 ** (step / 10000)``). The optimiser state lives
in the Trainer; the parameters live in the model (written back with ``set_parameters`` after each
step), so the model can be called directly between steps.

Layers that rewrite their weights at the start of a training call (``spectral_norm``) do it
through ``model.before_training_forward`` on the parameters before each step (and once in
:meth:`Trainer.build`, whose forward ddsp runs with ``training=True``); the step then
differentiates at the rewritten values. Non-trainable parameters (``Module.partition``: the
spectral norm's ``sn_u``) get no gradient and no optimiser state, but are saved and restored.

Data parallelism: with ``strategy`` an :class:`~ddsp_ref.training.distributed.MpiStrategy`
(from ``train_util.get_strategy()`` under ``mpiexec``), ``build`` gives every rank rank 0's
parameters, and each step averages the ranks' gradients and losses (one all-reduce) before
clipping, so every rank applies the same update and N ranks on their parts of a batch step
as one process on the whole batch. Only the chief (rank 0) writes checkpoints.

Differences from ddsp: no tf.distribute strategies (ddsp clips each replica's gradients and
the optimiser sums them over replicas; here the mean gradient is clipped once), and
``restore(..., restore_keys)`` restores only those sub-modules' parameters, leaving the
optimiser state and step as they are.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..autodiff import value_and_grad
from ..backend import array_namespace
from ..gin_support import configurable
from ..module import merge_trees
from ..validation import positive_int, positive_number
from .checkpoints import checkpoint_path, latest_checkpoint, load_checkpoint, save_checkpoint
from .optimizers import Adam, ExponentialDecay, clip_by_global_norm

__all__ = ["Trainer", "get_trainer_class", "operative_config_str"]


def operative_config_str() -> str | None:
    """``gin.operative_config_str()`` when gin is installed, else None."""
    try:
        import gin
    except ImportError:  # gin is an optional extra
        return None
    return gin.operative_config_str()


class Trainer:
    """ddsp's ``Trainer``: trains a Model with Adam, gradient clipping and checkpoints.

    Usage::

        trainer = Trainer(model, learning_rate=3e-4)
        trainer.build(batch)                  # one forward pass sizes the layers
        losses = trainer.train_step(batch)    # {'spectral_loss': 1.2, 'total_loss': 1.2}
        trainer.save(save_dir)                # <save_dir>/ckpt-<step>.npz

    Args:
        model: a ``Model`` (e.g. ``Autoencoder``) whose call with ``training=True,
            return_losses=True`` gives ``(outputs, losses)`` with ``total_loss``.
        strategy: None (one process) or an ``MpiStrategy`` (anything with ``allreduce_mean``,
            ``broadcast`` and ``is_chief``); tf.distribute strategies are not supported.
        checkpoints_to_keep: newest checkpoints kept by :meth:`save`.
        learning_rate: initial Adam learning rate.
        lr_decay_steps, lr_decay_rate: ``lr(step) = learning_rate * lr_decay_rate **
            (step / lr_decay_steps)`` (continuous decay).
        grad_clip_norm: gradients are scaled to at most this global norm.
        restore_keys: default for :meth:`restore` (None: the whole model).
        seed: seed of the trainer's RNG :attr:`rng` (saved and restored with checkpoints).
    """

    def __init__(self, model: Any, strategy: Any = None, checkpoints_to_keep: int = 100,
                 learning_rate: float = 0.001, lr_decay_steps: int = 10000,
                 lr_decay_rate: float = 0.98, grad_clip_norm: float = 3.0,
                 restore_keys: list[str] | None = None, seed: int | None = 0):  # fmt: skip
        where = "Trainer"
        if strategy is not None and not all(
            hasattr(strategy, name) for name in ("allreduce_mean", "broadcast", "is_chief")
        ):
            raise ValueError(
                f"{where}: strategy must be None or an MpiStrategy "
                f"(train_util.get_strategy()), got {strategy!r:.80}"
            )
        self.model = model
        self.strategy = strategy
        self.checkpoints_to_keep = positive_int(checkpoints_to_keep, "checkpoints_to_keep", where)
        self.grad_clip_norm = positive_number(grad_clip_norm, "grad_clip_norm", where)
        self.learning_rate = ExponentialDecay(learning_rate, lr_decay_steps, lr_decay_rate)
        self.optimizer = Adam(self.learning_rate)
        self.restore_keys = None if restore_keys is None else list(restore_keys)
        self.rng = np.random.default_rng(seed)
        self.opt_state: dict | None = None

    @property
    def step(self) -> int:
        """Number of updates applied (restored checkpoints included)."""
        return 0 if self.opt_state is None else int(self.opt_state["step"])

    def build(self, batch: dict) -> None:
        """One forward pass (creates the lazily sized layers), then the optimiser state; under a
        strategy every rank then takes rank 0's parameters (a collective: all ranks build)."""
        # A training forward, as ddsp's build (Autoencoder.call defaults to training=True): it
        # also normalises spectrally normalised kernels once.
        self.model(batch, training=True)
        if self.strategy is not None:
            self.model.set_parameters(self.strategy.broadcast(self.model.parameters()))
        params = self.model.parameters()
        self.opt_state = self.optimizer.init(self.model.partition(params)[0])

    def _loss_fn(self, batch: dict, state: dict):
        def loss(trainable: dict) -> tuple[Any, dict]:
            params = merge_trees(trainable, state)
            _, losses = self.model.apply(params, batch, training=True, return_losses=True)
            return losses["total_loss"], losses

        return loss

    def train_step(self, batch: dict) -> dict[str, float]:
        """One update on ``batch``; returns the losses before it as Python floats (with
        ``total_loss``). Builds first if :meth:`build` was not called.

        Under a strategy (a collective: every rank steps on its own part of the batch), the
        gradients and losses are the means over the ranks."""
        if self.opt_state is None:
            self.build(batch)
        params = self.model.before_training_forward(self.model.parameters())
        trainable, state = self.model.partition(params)
        (_, losses), grads = value_and_grad(self._loss_fn(batch, state), has_aux=True)(trainable)
        if self.strategy is not None:
            # One reduction for both: one buffer per dtype, one collective per step.
            mean = self.strategy.allreduce_mean({"grads": grads, "losses": losses})
            grads, losses = mean["grads"], mean["losses"]
        grads, _ = clip_by_global_norm(grads, self.grad_clip_norm)
        trainable, opt_state = self.optimizer.update(trainable, grads, self.opt_state)
        # Both assigned after every computation, so an interrupt leaves a consistent state.
        self.model.set_parameters(merge_trees(trainable, state))
        self.opt_state = opt_state
        return {name: float(value) for name, value in losses.items()}

    def save(self, save_dir: str | os.PathLike) -> str:
        """Checkpoint ``<save_dir>/ckpt-<step>.npz`` (parameters, optimiser state, step, RNG
        state) and, with gin installed, ``operative_config-<step>.gin``; returns its path.
        Under a strategy only the chief writes (the others return the same path)."""
        if self.opt_state is None:
            raise RuntimeError("Trainer.save: nothing to save; call build(batch) first")
        if self.strategy is not None and not self.strategy.is_chief:
            return checkpoint_path(save_dir, self.step)
        return save_checkpoint(
            save_dir, self.step, self.model.parameters(), self.opt_state,
            rng_state=self.rng.bit_generator.state, gin_config=operative_config_str(),
            checkpoints_to_keep=self.checkpoints_to_keep,
        )  # fmt: skip

    def restore(self, checkpoint_path: str | os.PathLike,
                restore_keys: list[str] | None = None) -> str | None:  # fmt: skip
        """Restore from a checkpoint file, or the latest one of a folder.

        Without ``restore_keys`` (and ``self.restore_keys`` None) the parameters, optimiser
        state, step and RNG state are restored; with them, only the parameters of those
        top-level sub-modules (e.g. ``['encoder']``). The arrays keep the model's current
        dtypes and device. Needs :meth:`build` first (the layers must exist). Under a strategy
        every rank must restore the same file (``train_util.train`` restores the one rank 0
        finds), so on several nodes it must be on a shared file system.

        Returns:
            the checkpoint file restored, or None when a folder holds no checkpoint (as ddsp,
            which then skips restoring).
        """
        if self.opt_state is None:
            raise RuntimeError("Trainer.restore: call build(batch) before restoring")
        path = os.fspath(checkpoint_path)
        if os.path.isdir(path):
            path = latest_checkpoint(path)
            if path is None:
                return None
        _, params, opt_state, rng_state = load_checkpoint(path)
        keys = self.restore_keys if restore_keys is None else list(restore_keys)
        current = self.model.parameters()
        if keys is None:
            self.model.set_parameters(_like(params, current, "params"))
            trainable = self.model.partition(current)[0]
            self.opt_state = {
                "step": int(opt_state["step"]),
                "m": _like(opt_state["m"], trainable, "optimizer m"),
                "v": _like(opt_state["v"], trainable, "optimizer v"),
            }
            if rng_state is not None:
                self.rng.bit_generator.state = rng_state
            return path
        missing = [k for k in keys if k not in params or k not in current]
        if missing:
            raise KeyError(f"Trainer.restore: no parameters under {missing} in {path} or model")
        self.model.set_parameters({k: _like(params[k], current[k], k) for k in keys})
        return path


def _like(loaded: Any, current: Any, what: str) -> Any:
    """``loaded`` (nested dicts of numpy arrays) in the key order of ``current``, checked
    against it, each leaf cast to the current leaf's dtype on its device."""
    if isinstance(current, dict):
        if not isinstance(loaded, dict) or sorted(loaded) != sorted(current):
            raise ValueError(f"Trainer.restore: the checkpoint's {what} do not match the model's")
        return {k: _like(loaded[k], v, f"{what}/{k}") for k, v in current.items()}
    if isinstance(loaded, dict) or np.shape(loaded) != np.shape(current):
        raise ValueError(
            f"Trainer.restore: {what} has shape {np.shape(loaded)} in the checkpoint, "
            f"{np.shape(current)} in the model"
        )
    return array_namespace(current).asarray(loaded, dtype=current.dtype)


Trainer = configurable(Trainer, module="ddsp_ref.training.trainers")


def get_trainer_class(trainer_class: Any = Trainer) -> Any:
    """ddsp's gin helper: the trainer class ``ddsp_ref run`` instantiates (``Trainer``)."""
    return trainer_class


get_trainer_class = configurable(get_trainer_class, module="ddsp_ref.training.trainers")
