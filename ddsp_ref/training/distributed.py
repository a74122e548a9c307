"""Data-parallel training over MPI (``mpiexec -n N python -m ddsp_ref run ...``).

:func:`get_strategy` returns an :class:`MpiStrategy` when the process was started by ``mpiexec``
with more than one process (mpi4py importable and a world size > 1), else None. Pass it to the
Trainer (``Trainer(model, strategy=strategy)``) and the rest follows from there:

- the Trainer broadcasts rank 0's parameters at ``build``, averages gradients (and losses)
  across the ranks before clipping, so every rank applies the same update;
- ``train_util.train`` splits each global batch of ``batch_size`` examples into one
  contiguous part per rank (each rank reads only its examples), lets only rank 0 write
  checkpoints, metrics and the progress line, and stops every rank at the same step (early stop
  and Ctrl-C are agreed collectively).

Arrays are reduced through host memory in one flat buffer per dtype (one ``Allreduce`` per
dtype and step, never one per leaf); cupy arrays are packed on the device first, so a step
costs one device-to-host and one host-to-device copy per dtype. There is no NCCL path.

mpi4py is imported only when a strategy is made; ``import ddsp_ref.training`` never imports it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..autodiff.pytree import tree_flatten, tree_structure
from ..backend import array_namespace, to_numpy
from ..validation import positive_int

__all__ = ["MpiStrategy", "ShardedProvider", "get_strategy", "mpi_world_size"]

# World size as the common launchers export it to each process (MPICH's Hydra and Intel MPI:
# PMI_SIZE, Open MPI: OMPI_COMM_WORLD_SIZE, PMIx launchers: PMIX_SIZE).
_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE")


def mpi_world_size() -> int:
    """The number of processes the MPI launcher started (1 when not launched by one), read from
    the launcher's environment, so a plain ``python`` run never initialises MPI."""
    for name in _SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 1


def get_strategy() -> MpiStrategy | None:
    """An :class:`MpiStrategy` on ``MPI.COMM_WORLD`` when started by ``mpiexec`` with more than
    one process and mpi4py is installed; None otherwise (one process trains alone).

    Raises:
        ImportError: launched with several processes but mpi4py is missing (training each
            process alone would silently run N independent copies).
    """
    if mpi_world_size() <= 1:
        return None
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(
            "get_strategy: started by an MPI launcher with several processes, but mpi4py is not "
            "installed (pip install 'ddsp_ref[mpi]')"
        ) from e
    if MPI.COMM_WORLD.Get_size() <= 1:
        return None
    return MpiStrategy(MPI.COMM_WORLD)


class MpiStrategy:
    """Collectives of data-parallel training on an MPI communicator.

    Args:
        comm: an mpi4py communicator (default ``MPI.COMM_WORLD``).
        abort_on_error: install a ``sys.excepthook`` that aborts every rank when one dies of an
            uncaught exception (otherwise the others would wait in a collective forever).

    Attributes:
        rank: this process' rank; size: number of processes; is_chief: rank 0 (the one that
        writes); num_replicas_in_sync: ``size`` (tf.distribute's name); local_rank: the rank
        on this node (a collective on first use).
    """

    def __init__(self, comm: Any = None, abort_on_error: bool = True) -> None:
        from mpi4py import MPI

        self._mpi = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self._local_rank: int | None = None
        if abort_on_error:
            _install_abort_hook(self.comm)

    @property
    def is_chief(self) -> bool:
        return self.rank == 0

    @property
    def num_replicas_in_sync(self) -> int:
        return self.size

    @property
    def local_rank(self) -> int:
        """This process' rank among the ranks on its node (0, 1, ...): the GPU to use, e.g.
        ``cupy.cuda.Device(strategy.local_rank % n_gpus).use()`` before building the model."""
        if self._local_rank is None:
            node = self.comm.Split_type(self._mpi.COMM_TYPE_SHARED)
            self._local_rank = node.Get_rank()
            node.Free()
        return self._local_rank

    def __repr__(self) -> str:
        return f"MpiStrategy(rank={self.rank}, size={self.size})"

    def allreduce_mean(self, tree: Any) -> Any:
        """The element-wise mean over the ranks of a pytree of arrays (numpy or cupy, any float
        dtypes; None leaves stay None), as a new tree of the same structure, shapes, dtypes and
        devices. Every rank must pass a tree of the same structure, shapes and dtypes."""
        return self._packed(tree, self._allreduce_sum, divide_by=self.size)

    def broadcast(self, tree: Any, root: int = 0) -> Any:
        """Rank ``root``'s values of a pytree of arrays on every rank (a new tree like ``tree``).

        Raises:
            ValueError: on every rank, if the ranks' trees differ in structure, shapes or
                dtypes (e.g. models built from different configs).
        """
        signature = (tree_structure(tree), _leaf_signature(tree))
        signatures = self.comm.allgather(signature)
        if any(s != signatures[root] for s in signatures):
            ranks = [r for r, s in enumerate(signatures) if s != signatures[root]]
            raise ValueError(
                f"MpiStrategy.broadcast: ranks {ranks} hold trees of another structure, shape "
                f"or dtype than rank {root}"
            )
        return self._packed(tree, lambda buffer: self.comm.Bcast(buffer, root=root))

    def broadcast_object(self, value: Any, root: int = 0) -> Any:
        """Rank ``root``'s (picklable) ``value`` on every rank."""
        return self.comm.bcast(value, root=root)

    def any(self, flag: bool) -> bool:
        """True on every rank if ``flag`` is true on any rank (a collective: all ranks call it)."""
        return self.any_each([flag])[0]

    def any_each(self, flags: Sequence[bool]) -> list[bool]:
        """:meth:`any` of several flags in one collective."""
        buffer = np.array([1 if f else 0 for f in flags], np.int32)
        self.comm.Allreduce(self._mpi.IN_PLACE, buffer, op=self._mpi.MAX)
        return [bool(b) for b in buffer]

    def barrier(self) -> None:
        self.comm.Barrier()

    def shard(self, source: Any) -> Any:
        """This rank's part of the data: a :class:`ShardedProvider` for a data provider (reads
        only this rank's examples), or, for an iterable of batches ``{key: [batch, ...]}``, an
        iterator over this rank's contiguous slice of each batch (every batch is still read
        whole; the batch size must be a multiple of ``size``)."""
        if hasattr(source, "get_batch"):
            return ShardedProvider(source, self.rank, self.size)
        return _slice_batches(iter(source), self.rank, self.size)

    def _allreduce_sum(self, buffer: np.ndarray) -> None:
        self.comm.Allreduce(self._mpi.IN_PLACE, buffer, op=self._mpi.SUM)

    def _packed(self, tree: Any, collective, divide_by: int | None = None) -> Any:
        """Run ``collective`` in place on one contiguous host buffer per (array module, dtype)
        holding all of ``tree``'s leaves of that kind, and rebuild the tree from the results."""
        leaves, rebuild = tree_flatten(tree)
        groups: dict[tuple, list[int]] = {}
        for i, leaf in enumerate(leaves):
            if leaf is not None:
                xp = array_namespace(leaf)
                groups.setdefault((xp.__name__, _dtype(leaf).str), []).append(i)
        out = list(leaves)
        for indices in groups.values():  # insertion order: the same on every rank
            xp = array_namespace(leaves[indices[0]])
            # Packed on the leaves' device, so a cupy group crosses to the host in one copy.
            packed = xp.concatenate([xp.ravel(xp.asarray(leaves[i])) for i in indices])
            # concatenate (numpy) and .get() (cupy) allocate: no caller's array is written.
            buffer = np.ascontiguousarray(to_numpy(packed))
            collective(buffer)
            if divide_by is not None:
                buffer /= divide_by  # not * (1 / n): one rounding, exact for powers of 2
            result = xp.asarray(buffer)
            offset = 0
            for i in indices:
                shape = np.shape(leaves[i])
                n = int(np.prod(shape, dtype=np.int64))
                out[i] = result[offset : offset + n].reshape(shape)
                offset += n
        return rebuild(out)


def _dtype(leaf: Any) -> np.dtype:
    """The dtype of an array leaf (a Python number counts as numpy's)."""
    return np.dtype(leaf.dtype) if hasattr(leaf, "dtype") else np.asarray(leaf).dtype


def _leaf_signature(tree: Any) -> list:
    return [
        None if leaf is None else (tuple(np.shape(leaf)), _dtype(leaf).str)
        for leaf in tree_flatten(tree)[0]
    ]


def _install_abort_hook(comm: Any) -> None:
    """Print an uncaught exception, then ``comm.Abort(1)`` so no rank waits forever."""
    previous = sys.excepthook
    if getattr(previous, "_ddsp_ref_mpi_abort", False):
        return

    def hook(kind, value, traceback):
        previous(kind, value, traceback)
        sys.stderr.flush()
        comm.Abort(1)

    hook._ddsp_ref_mpi_abort = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def _slice_batches(batches: Iterator, rank: int, size: int) -> Iterator[dict]:
    for batch in batches:
        n = len(next(iter(batch.values())))
        if n % size:
            raise ValueError(f"MpiStrategy.shard: a batch of {n} cannot be split over {size} ranks")
        part = n // size
        yield {k: v[rank * part : (rank + 1) * part] for k, v in batch.items()}


class ShardedProvider:
    """Rank ``rank``'s share of a DataProvider: ``get_batch(batch_size)`` takes ``batch_size``
    as the **global** batch (all ranks together, as ddsp's batch size under a strategy) and
    yields this rank's contiguous ``batch_size // size`` examples of each global batch, reading
    only those. With the same provider (same seed) on every rank, the ranks' parts of a step
    together are exactly the batch one process would read with the same ``batch_size``.

    Other attributes (``sample_rate``, ``n_examples``, ...) are the provider's.
    """

    def __init__(self, provider: Any, rank: int, size: int) -> None:
        self.provider, self.rank, self.size = provider, int(rank), int(size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.provider, name)

    def local_batch_size(self, batch_size: int) -> int:
        """Examples per rank of a global batch of ``batch_size``.

        Raises:
            ValueError: if ``batch_size`` is not a multiple of the number of ranks.
        """
        batch_size = positive_int(batch_size, "batch_size", "ShardedProvider.get_batch")
        if batch_size % self.size:
            raise ValueError(
                f"ShardedProvider.get_batch: batch_size is the global batch and must be a "
                f"multiple of the {self.size} ranks, got {batch_size}"
            )
        return batch_size // self.size

    def get_batch(self, batch_size: int, shuffle: bool = True, repeats: int = -1,
                  drop_remainder: bool = True, prefetch: int = 4) -> Iterator[dict]:  # fmt: skip
        """This rank's ``{key: [batch_size // size, n]}`` of each global batch (see class)."""
        local = self.local_batch_size(batch_size)
        if not drop_remainder:
            raise ValueError(
                "ShardedProvider.get_batch: drop_remainder=False is not supported (a last, "
                "smaller batch cannot be split evenly over the ranks)"
            )
        if not hasattr(self.provider, "_indices"):  # not a DataProvider: read whole, slice
            batches = self.provider.get_batch(batch_size, shuffle=shuffle, repeats=repeats)
            return _slice_batches(batches, self.rank, self.size)
        from .data import _prefetch  # the data side loads on first use (training/__init__)

        mine = self._my_indices(self.provider._indices(shuffle, repeats), batch_size, local)
        return _prefetch((self.provider.examples(ids) for ids in mine), prefetch)

    def _my_indices(self, indices: Iterator[int], batch_size: int,
                    local: int) -> Iterator[Sequence[int]]:  # fmt: skip
        batch: list[int] = []
        for index in indices:
            batch.append(index)
            if len(batch) == batch_size:
                yield batch[self.rank * local : (self.rank + 1) * local]
                batch = []

    def get_dataset(self, shuffle: bool = True) -> Iterator[dict]:
        """One pass over every ``size``-th example starting at ``rank`` (all ranks together
        visit each example once)."""
        for j, index in enumerate(self.provider._indices(shuffle, 1)):
            if j % self.size == self.rank:
                yield self.provider.example(index)


class StopRequest:
    """Turns SIGINT into a flag while training under a strategy (the main thread only), so
    that a Ctrl-C never interrupts a rank inside a step or a collective; the loop agrees on
    the flag once per step (:meth:`MpiStrategy.any`) and every rank stops at the same step."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.requested = True

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
