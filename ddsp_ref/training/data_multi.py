"""ddsp's multi-dataset providers: BaseMultiProvider, ZippedProvider (side by side) and
MixedProvider (sampled by weight), over random-access providers, seeded and reproducible."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..gin_support import register
from ..validation import positive_int
from .data import DataProvider, _prefetch

__all__ = ["BaseMultiProvider", "ZippedProvider", "MixedProvider"]


class BaseMultiProvider(DataProvider):
    """ddsp's ``BaseMultiProvider``: several providers with one sample rate and frame rate.

    Args:
        data_providers: the providers (random-access ones: every provider of
            ``training.data``, not another multi provider).
        batch_size_ratios: one non-negative number per provider, normalised to sum to 1
            (``[2, 1]`` -> ``[2/3, 1/3]``); empty: 1.0 for every provider (not normalised,
            as in ddsp).
        seed: seed of the MixedProvider's choices (each provider keeps its own shuffling
            seed).

    Raises:
        ValueError: no providers, a ratio count that differs from the provider count, negative
            or all-zero ratios, different sample or frame rates (ddsp asserts), or a nested
            multi provider.
    """

    def __init__(self, data_providers: Sequence[DataProvider],
                 batch_size_ratios: Sequence[float] = (), seed: int = 0) -> None:  # fmt: skip
        where = type(self).__name__
        providers = list(data_providers)
        if not providers:
            raise ValueError(f"{where}: data_providers is empty")
        for p in providers:
            if isinstance(p, BaseMultiProvider) or not isinstance(p, DataProvider):
                raise ValueError(
                    f"{where}: each provider must be a random-access DataProvider (not a multi "
                    f"provider), got {type(p).__name__}"
                )
        self._batch_size_ratios = _ratios(batch_size_ratios, len(providers), where)
        for attr in ("sample_rate", "frame_rate"):
            values = sorted({getattr(p, attr) for p in providers})
            if len(values) > 1:
                raise ValueError(f"{where}: the providers' {attr}s differ: {values}")
        super().__init__(providers[0].sample_rate, providers[0].frame_rate, seed)
        self._data_providers = providers

    def example(self, index: int) -> dict[str, np.ndarray]:
        raise TypeError(
            f"{type(self).__name__} combines datasets: iterate get_dataset() or get_batch()"
        )


def _ratios(ratios: Sequence[float], n: int, where: str) -> list[float]:
    if not len(ratios):
        return [1.0] * n
    if len(ratios) != n:
        raise ValueError(
            f"{where}: batch_size_ratios has {len(ratios)} entries for {n} data providers"
        )
    values = [float(r) for r in ratios]
    if min(values) < 0 or not np.isfinite(values).all() or sum(values) <= 0:
        raise ValueError(
            f"{where}: batch_size_ratios must be finite, non-negative and not all zero, got "
            f"{list(ratios)}"
        )
    return [v / sum(values) for v in values]


def _epochs(repeats: int) -> Iterator[int]:
    epoch = 0
    while repeats < 0 or epoch < repeats:
        yield epoch
        epoch += 1


class ZippedProvider(BaseMultiProvider):
    """ddsp's ``ZippedProvider``: the providers' datasets side by side.

    ``get_dataset(shuffle)`` yields tuples ``(example_1, ..., example_n)`` until the shortest
    provider runs out. ``get_batch(batch_size)`` yields tuples of batches: provider ``i``
    contributes ``int(batch_size * ratio_i)`` examples (with the default ratios, 1.0 each,
    every provider gives ``batch_size``), one epoch of each provider is batched on its own
    (``drop_remainder`` applies per provider), the batches are zipped (an epoch ends with the
    provider that runs out of batches first), and that is repeated ``repeats`` times (-1:
    forever), every epoch with each provider's next shuffling permutation.

    Raises (get_batch):
        ValueError: a provider's batch size rounds down to 0 (ddsp: TF refuses a batch of 0).
    """

    def get_dataset(self, shuffle: bool = True) -> Iterator[tuple[dict[str, np.ndarray], ...]]:
        streams = [(p, iter(p._epoch_indices(shuffle, 0))) for p in self._data_providers]
        while True:
            try:
                indices = [next(it) for _, it in streams]
            except StopIteration:
                return
            yield tuple(p.example(i) for (p, _), i in zip(streams, indices))

    def get_batch(self, batch_size: int, shuffle: bool = True, repeats: int = -1,
                  drop_remainder: bool = False, prefetch: int = 4) -> Iterator[tuple]:  # fmt: skip
        where = "ZippedProvider.get_batch"
        batch_size = positive_int(batch_size, "batch_size", where)
        sizes = [int(batch_size * r) for r in self._batch_size_ratios]
        if min(sizes) < 1:
            raise ValueError(
                f"{where}: batch_size {batch_size} with ratios {self._batch_size_ratios} gives "
                f"batch sizes {sizes}; every provider needs at least 1"
            )
        return _prefetch(self._zipped(sizes, shuffle, repeats, drop_remainder), prefetch)

    def _zipped(self, sizes, shuffle, repeats, drop_remainder):
        for epoch in _epochs(repeats):
            per_provider = [
                _chunks(p._epoch_indices(shuffle, epoch), size, drop_remainder)
                for p, size in zip(self._data_providers, sizes)
            ]
            n_batches = 0
            for chunks in zip(*per_provider):
                n_batches += 1
                yield tuple(p.examples(c) for p, c in zip(self._data_providers, chunks))
            if n_batches == 0:  # an empty epoch would repeat forever
                return


def _chunks(indices: Any, size: int, drop_remainder: bool) -> Iterator[list[int]]:
    chunk: list[int] = []
    for i in indices:
        chunk.append(int(i))
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk and not drop_remainder:
        yield chunk


class MixedProvider(BaseMultiProvider):
    """ddsp's ``MixedProvider``: one stream sampled from the providers by weight.

    ``get_dataset(shuffle)`` is one epoch of the mixture: each example comes from provider
    ``i`` with probability proportional to ``batch_size_ratios[i]`` among the providers not
    yet exhausted (``tf.data.experimental.sample_from_datasets`` with
    ``stop_on_empty_dataset=False``), each provider read in its own (shuffled) order; it ends
    when every provider with a non-zero weight is exhausted, so each of their examples
    appears exactly once. ``get_batch`` (as every provider: repeat, then batch; ``repeats``
    epochs, each with fresh choices and permutations) stacks ``batch_size`` examples.

    Differences from ddsp: the choices are drawn from ``(seed, epoch)`` (TF draws them
    unseeded, so ddsp's batches differ run to run); the providers must give the same keys
    (TF fails on differing structures when the dataset is built; here on the first example
    that differs).
    """

    def get_dataset(self, shuffle: bool = True) -> Iterator[dict[str, np.ndarray]]:
        return self._mixture(shuffle, 0)

    def _mixture(self, shuffle: bool, epoch: int) -> Iterator[dict[str, np.ndarray]]:
        providers = self._data_providers
        streams = [iter(p._epoch_indices(shuffle, epoch)) for p in providers]
        weights = np.array(self._batch_size_ratios, np.float64)
        rng = np.random.default_rng([self.seed, epoch])
        keys = None
        while weights.sum() > 0:
            i = int(rng.choice(len(providers), p=weights / weights.sum()))
            index = next(streams[i], None)
            if index is None:  # exhausted: drop it and draw again
                weights[i] = 0.0
                continue
            example = providers[i].example(index)
            if keys is None:
                keys = sorted(example)
            elif sorted(example) != keys:
                raise ValueError(
                    f"MixedProvider: provider {i} ({type(providers[i]).__name__}) gives keys "
                    f"{sorted(example)}, another gave {keys}; mixed providers need the same keys"
                )
            yield example

    def _batches(self, batch_size, shuffle, repeats, drop_remainder):
        batch: list[dict[str, np.ndarray]] = []
        for epoch in _epochs(repeats):
            n_examples = 0
            for example in self._mixture(shuffle, epoch):
                n_examples += 1
                batch.append(example)
                if len(batch) == batch_size:
                    yield {k: np.stack([e[k] for e in batch]) for k in batch[0]}
                    batch = []
            if n_examples == 0:
                break
        if batch and not drop_remainder:
            yield {k: np.stack([e[k] for e in batch]) for k in batch[0]}


# ddsp's gin names: @data.ZippedProvider(), @data.MixedProvider().
for _provider in (BaseMultiProvider, ZippedProvider, MixedProvider):
    register(_provider, module="ddsp_ref.training.data")
del _provider
