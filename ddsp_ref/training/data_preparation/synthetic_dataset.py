"""ddsp's ``ddsp_generate_synthetic_dataset`` without Apache Beam: synthetic-note controls as
TFRecord shards of ``tf.train.Example`` float lists, which ``data.SyntheticNotes(file_pattern=...)``
(ours and ddsp's) reads.

``python -m ddsp_ref.training.data_preparation.synthetic_dataset --output_tfrecord_path=...
--num_examples=100 --num_shards=2`` (ddsp's flags; the note sizes are flags here instead of gin
bindings of ``generate_notes``).
"""

from __future__ import annotations

import argparse
import functools
import os
from collections.abc import Callable, Sequence

import numpy as np

from ...io import atomic_write
from ...validation import nonnegative_int, positive_int
from ..tfrecord import float_example, write_record
from .synthetic_data import generate_notes

__all__ = ["example_seeds", "shard_paths", "generate_synthetic_dataset", "SyntheticRecords", "main"]


def example_seeds(num_examples: int, random_seed: int = 42) -> np.ndarray:
    """The per-example seeds ddsp draws: ``np.random.seed(random_seed)`` then
    ``np.random.randint(2**32, size=num_examples)`` (a legacy RandomState, the same numbers)."""
    return np.random.RandomState(random_seed).randint(2**32, size=num_examples)


def shard_paths(prefix: str, num_shards: int) -> list[str]:
    """Beam's ``WriteToTFRecord`` names: ``<prefix>-00000-of-00002``..."""
    return [f"{prefix}-{i:05d}-of-{num_shards:05d}" for i in range(num_shards)]


def generate_synthetic_dataset(
    output_tfrecord_path: str,
    num_shards: int | None = None,
    num_examples: int = 1000000,
    random_seed: int = 42,
    generate_fn: Callable[..., dict] | None = None,
) -> list[str]:
    """Write ``num_examples`` synthetic examples to TFRecord shards; returns their paths.

    Example ``i`` is ``generate_fn(n_batch=1, seed=seeds[i])`` with ddsp's seeds
    (:func:`example_seeds`), its batch axis dropped; with ddsp's ``generate_notes`` an example
    holds exactly ddsp's numbers. Examples go to the shards in turn (``i % num_shards``);
    ddsp's Beam pipeline reshuffles them, so only the order differs. Each shard is written to
    a temporary file and renamed when complete (folders are created).

    Args:
        output_tfrecord_path: prefix of the shard paths.
        num_shards: number of shards; None: one per 10,000 examples (at least one).
        num_examples: examples in all.
        random_seed: seeds the per-example seeds.
        generate_fn: ``fn(n_batch=1, seed=int) -> {key: [1, ...]}``; None: ``generate_notes``
            with ddsp's ICML 2020 sizes (125 frames, 100 harmonics, 65 noise magnitudes).
    """
    where = "generate_synthetic_dataset"
    num_examples = nonnegative_int(num_examples, "num_examples", where)
    if num_shards is None:
        num_shards = max(1, -(-num_examples // 10000))
    num_shards = positive_int(num_shards, "num_shards", where)
    generate_fn = generate_fn or functools.partial(
        generate_notes, n_timesteps=125, n_harmonics=100, n_mags=65
    )
    seeds = example_seeds(num_examples, random_seed)
    paths = shard_paths(os.fspath(output_tfrecord_path), num_shards)
    for shard, path in enumerate(paths):
        with atomic_write(path) as f:
            for seed in seeds[shard::num_shards]:
                batch = generate_fn(n_batch=1, seed=int(seed))
                write_record(f, float_example({k: np.asarray(v)[0] for k, v in batch.items()}))
    return paths


def main(argv: Sequence[str] | None = None) -> list[str]:
    """Command line with ddsp's flags (``--output_tfrecord_path``, ``--num_shards``,
    ``--num_examples``, ``--random_seed``) plus the note sizes."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output_tfrecord_path", required=True)
    parser.add_argument("--num_shards", type=int, default=None)
    parser.add_argument("--num_examples", type=int, default=1000000)
    parser.add_argument("--random_seed", type=int, default=42)
    parser.add_argument("--n_timesteps", type=int, default=125)
    parser.add_argument("--n_harmonics", type=int, default=100)
    parser.add_argument("--n_mags", type=int, default=65)
    args = parser.parse_args(argv)
    fn = functools.partial(generate_notes, n_timesteps=args.n_timesteps,
                           n_harmonics=args.n_harmonics, n_mags=args.n_mags)  # fmt: skip
    paths = generate_synthetic_dataset(
        args.output_tfrecord_path, args.num_shards, args.num_examples, args.random_seed, fn
    )
    print(f"wrote {args.num_examples} examples to {len(paths)} shard(s): {paths[0]} ...")
    return paths


if __name__ == "__main__":  # pragma: no cover
    main()


class SyntheticRecords:
    """The examples of synthetic TFRecord shards, by index (what ``SyntheticNotes`` reads).

    ``records[i]`` is ``{'f0_hz', 'harm_amp' [n_timesteps, 1], 'harm_dist', 'sin_amps',
    'sin_freqs' [n_timesteps, n_harmonics], 'noise_magnitudes' [n_timesteps, n_mags]}``
    float32, as ddsp's ``SyntheticNotes.features_dict``.

    Raises:
        ValueError: a record whose feature is missing or has another size (e.g. other sizes
            were generated), naming the file and record.
    """

    def __init__(self, files: Sequence[str], n_timesteps: int, n_harmonics: int, n_mags: int):
        from ..tfrecord import index_records

        where = "SyntheticNotes"
        n_t = positive_int(n_timesteps, "n_timesteps", where)
        n_h = positive_int(n_harmonics, "n_harmonics", where)
        n_m = positive_int(n_mags, "n_mags", where)
        self.shapes = {"f0_hz": (n_t, 1), "harm_amp": (n_t, 1), "harm_dist": (n_t, n_h),
                       "sin_amps": (n_t, n_h), "sin_freqs": (n_t, n_h),
                       "noise_magnitudes": (n_t, n_m)}  # fmt: skip
        self._index = [(f, off, n) for f in files for off, n in index_records(f)]

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        from ..tfrecord import parse_example, read_record

        path, offset, length = self._index[index]
        features = parse_example(read_record(path, offset, length))
        out = {}
        for key, shape in self.shapes.items():
            value = features.get(key)
            if value is None or value.size != int(np.prod(shape)):
                got = "missing" if value is None else f"{value.size} values"
                raise ValueError(
                    f"SyntheticNotes: record {index} of {path}: feature {key!r} should have "
                    f"shape {shape}, got {got}"
                )
            out[key] = value.astype(np.float32, copy=False).reshape(shape)
        return out
