"""Data providers (ddsp's ``training.data``): examples as dicts of numpy arrays, batched with
seeded shuffling and background prefetch.

Every provider here has random access (``n_examples`` and ``example(i)``), so shuffling is a
permutation of indices per epoch, not a shuffle buffer, and the same seed gives the same batches.
"""

from __future__ import annotations

import abc
import glob
import os
import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ..gin_support import register
from ..validation import positive_int

__all__ = [
    "DataProvider",
    "DatasetProvider",
    "InMemoryProvider",
    "TFRecordProvider",
    "SyntheticNotes",
]


class DataProvider(abc.ABC):
    """Base: ``get_dataset(shuffle)`` iterates examples; ``get_batch(...)`` batches them.

    Subclasses define ``n_examples`` (None for an endless source) and ``example(i)`` returning
    ``{key: [n]}`` float32 arrays; ``examples(indices)`` may be overridden to read a batch at once.

    Args:
        sample_rate: audio samples per second [Hz].
        frame_rate: feature frames per second [Hz].
        seed: seed of the shuffling (each epoch draws its own permutation from it).
    """

    n_examples: int | None = None

    def __init__(self, sample_rate: int = 16000, frame_rate: int = 250, seed: int = 0) -> None:
        self.sample_rate, self.frame_rate, self.seed = sample_rate, frame_rate, seed

    @abc.abstractmethod
    def example(self, index: int) -> dict[str, np.ndarray]:
        """Example ``index`` as ``{key: [n]}`` float32 arrays."""

    def examples(self, indices: Sequence[int]) -> dict[str, np.ndarray]:
        """Examples stacked to ``{key: [len(indices), n]}``."""
        items = [self.example(int(i)) for i in indices]
        return {k: np.stack([item[k] for item in items]) for k in items[0]}

    def _indices(self, shuffle: bool, repeats: int) -> Iterator[int]:
        """Example indices over ``repeats`` epochs (-1: forever), permuted per epoch."""
        epoch = 0
        while repeats < 0 or epoch < repeats:
            yield from self._epoch_indices(shuffle, epoch)
            epoch += 1
            if self.n_examples == 0:
                return

    def _epoch_indices(self, shuffle: bool, epoch: int) -> Sequence[int]:
        """The example indices of epoch ``epoch``: a permutation drawn from ``(seed, epoch)``
        when shuffling; an endless source's indices only seed its examples."""
        if self.n_examples is None:
            return range(epoch * 2**31, (epoch + 1) * 2**31)
        if shuffle:
            return np.random.default_rng([self.seed, epoch]).permutation(self.n_examples).tolist()
        return range(self.n_examples)

    def get_dataset(self, shuffle: bool = True) -> Iterator[dict[str, np.ndarray]]:
        """One pass over the examples (endless for a generator), each ``{key: [n]}``."""
        for index in self._indices(shuffle, 1):
            yield self.example(index)

    def get_batch(
        self,
        batch_size: int,
        shuffle: bool = True,
        repeats: int = -1,
        drop_remainder: bool = True,
        prefetch: int = 4,
    ) -> Iterator[dict[str, np.ndarray]]:
        """Batches ``{key: [batch_size, n]}``, read ``prefetch`` batches ahead on a thread.

        As ddsp: repeat (``repeats`` epochs, -1 forever) then batch, so a batch may span two
        epochs; ``drop_remainder`` drops the last, smaller batch.
        """
        batch_size = positive_int(batch_size, "batch_size", type(self).__name__ + ".get_batch")
        return _prefetch(self._batches(batch_size, shuffle, repeats, drop_remainder), prefetch)

    def _batches(self, batch_size, shuffle, repeats, drop_remainder):
        batch = []
        for index in self._indices(shuffle, repeats):
            batch.append(index)
            if len(batch) == batch_size:
                yield self.examples(batch)
                batch = []
        if batch and not drop_remainder:
            yield self.examples(batch)


def _prefetch(source: Iterator, depth: int) -> Iterator:
    """Run ``source`` on a daemon thread, ``depth`` items ahead; errors re-raise here."""
    if depth <= 0:
        yield from source
        return
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def fill():
        try:
            for item in source:
                while not stop.is_set():
                    try:
                        items.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put(done)
        except BaseException as e:  # noqa: BLE001  (handed to the consumer)
            items.put(e)

    thread = threading.Thread(target=fill, daemon=True, name="ddsp_ref-prefetch")
    thread.start()
    try:
        while True:
            item = items.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


class InMemoryProvider(DataProvider):
    """Examples held in memory: ``{key: [n_examples, n]}`` or a list of ``{key: [n]}``."""

    def __init__(
        self,
        examples: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        sample_rate: int = 16000,
        frame_rate: int = 250,
        seed: int = 0,
    ) -> None:
        super().__init__(sample_rate, frame_rate, seed)
        if not isinstance(examples, Mapping):
            examples = {k: np.stack([e[k] for e in examples]) for k in examples[0]}
        self.features = {k: np.asarray(v) for k, v in examples.items()}
        sizes = {k: v.shape[0] for k, v in self.features.items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"InMemoryProvider: features differ in example count: {sizes}")
        self.n_examples = next(iter(sizes.values()))

    def example(self, index: int) -> dict[str, np.ndarray]:
        return {k: v[index] for k, v in self.features.items()}

    def examples(self, indices: Sequence[int]) -> dict[str, np.ndarray]:
        return {k: v[np.asarray(indices)] for k, v in self.features.items()}


class DatasetProvider(DataProvider):
    """A dataset written by ``data_preparation.prepare_dataset`` (memory-mapped shards).

    Args:
        path: the dataset folder (holding ``manifest.json``).
        split: 'train' or 'eval'.
        seed: shuffling seed.
    """

    def __init__(self, path: str, split: str = "train", seed: int = 0) -> None:
        from .data_preparation.storage import read_manifest, read_shard

        manifest = read_manifest(path)
        if manifest.get("status") != "complete":
            raise ValueError(
                f"DatasetProvider: {path!r} is an unfinished preparation (interrupted?); run "
                "the same prepare command again to finish it"
            )
        if split not in manifest["splits"]:
            raise ValueError(f"DatasetProvider: split must be one of {list(manifest['splits'])}")
        flags = manifest["flags"]
        super().__init__(flags["sample_rate"], flags["frame_rate"], seed)
        self.manifest, self.split, self.path = manifest, split, path
        shards = manifest["splits"][split]["shards"]
        self._shards = [read_shard(os.path.join(path, s["path"])) for s in shards]
        self._offsets = np.cumsum([0] + [len(s) for s in self._shards])
        self.n_examples = int(self._offsets[-1])
        self.keys = tuple(manifest["features"])

    def _locate(self, index: int) -> tuple[int, int]:
        if not 0 <= index < self.n_examples:
            raise IndexError(f"DatasetProvider: index {index} not in [0, {self.n_examples})")
        shard = int(np.searchsorted(self._offsets, index, side="right")) - 1
        return shard, index - int(self._offsets[shard])

    def example(self, index: int) -> dict[str, np.ndarray]:
        shard, row = self._locate(index)
        record = self._shards[shard][row]
        return {k: np.array(record[k]) for k in self.keys}

    def examples(self, indices: Sequence[int]) -> dict[str, np.ndarray]:
        out = {
            k: np.empty((len(indices), self._shards[0].dtype[k].shape[0]), np.float32)
            for k in self.keys
        }
        for j, index in enumerate(indices):
            shard, row = self._locate(int(index))
            record = self._shards[shard][row]  # one contiguous read per example
            for k in self.keys:
                out[k][j] = record[k]
        return out


def _files(file_pattern: str | Sequence[str]) -> list[str]:
    patterns = [file_pattern] if isinstance(file_pattern, (str, os.PathLike)) else file_pattern
    files = sorted({f for p in patterns for f in glob.glob(os.fspath(p))})
    if not files:
        raise FileNotFoundError(f"no file matches {file_pattern!r}")
    return files


class TFRecordProvider(DataProvider):
    """TFRecord files of ``tf.train.Example`` as written by ddsp's ``ddsp_prepare_tfrecord``.

    Read without TensorFlow: the records are indexed once (lengths and their CRC checked),
    then read by random access with the data CRC checked and the Example parsed.

    Args:
        file_pattern: glob pattern(s) of the TFRecord files.
        example_secs: example length [s]; with the rates it fixes each feature's length:
            audio ``[secs * sample_rate]``, audio_16k ``[secs * 16000]``, frame features
            ``get_framed_lengths(secs * 16000, 1024, 16000 // frame_rate, padding)[0]``
            (1000, or 1001 ``centered``).
        sample_rate: [Hz]; frame_rate: [Hz]; centered: ddsp's ``--center``.
    """

    def __init__(
        self,
        file_pattern: str | Sequence[str] | None = None,
        example_secs: float = 4,
        sample_rate: int = 16000,
        frame_rate: int = 250,
        centered: bool = False,
        seed: int = 0,
    ) -> None:
        from ..spectral_ops import get_framed_lengths
        from .tfrecord import index_records

        super().__init__(sample_rate, frame_rate, seed)
        if file_pattern is None:
            raise ValueError("TFRecordProvider: file_pattern is required")
        n_16k = int(example_secs * 16000)
        n_frames = get_framed_lengths(
            n_16k, 1024, int(16000 // frame_rate), "center" if centered else "same"
        )[0]
        self.lengths = {
            "audio": int(example_secs * sample_rate),
            "audio_16k": n_16k,
            "f0_hz": n_frames,
            "f0_confidence": n_frames,
            "loudness_db": n_frames,
        }
        self.files = _files(file_pattern)
        self._index = [(f, off, n) for f in self.files for off, n in index_records(f)]
        self.n_examples = len(self._index)

    def example(self, index: int) -> dict[str, np.ndarray]:
        from .tfrecord import parse_example, read_record

        path, offset, length = self._index[index]
        features = parse_example(read_record(path, offset, length))
        out = {}
        for key, n in self.lengths.items():
            value = features.get(key)
            if value is None or value.size != n:
                got = "missing" if value is None else f"{value.size} values"
                raise ValueError(
                    f"TFRecordProvider: record {index} of {path}: feature {key!r} should have "
                    f"{n} values, got {got}"
                )
            out[key] = value.astype(np.float32, copy=False)
        return out


class SyntheticNotes(DataProvider):
    """Random notes rendered by our synthesizers: training data that needs no files.

    Example ``i`` is ``generate_notes_v2`` (seeded by ``(seed, i)``) rendered with ``Harmonic``
    and ``FilteredNoise`` (controls already scaled), with ddsp's keys: ``audio [n_timesteps *
    hop]``, ``f0_hz``, ``f0_confidence`` (1 on sounding notes, 0 on silent ones) and
    ``loudness_db`` (``compute_loudness``, 'same' padding) ``[n_timesteps]``, plus the controls
    ``harm_amp [n_timesteps]``, ``harm_dist [n_timesteps, n_harmonics]``, ``noise_magnitudes
    [n_timesteps, n_mags]``. Endless unless ``n_examples`` is given.

    With ``file_pattern`` (as ddsp, whose version only reads files): the TFRecords written by
    ``data_preparation.synthetic_dataset`` (or ddsp's ``ddsp_generate_synthetic_dataset``),
    read without TensorFlow: ``f0_hz``, ``harm_amp`` ``[n_timesteps, 1]``, ``harm_dist``,
    ``sin_amps``, ``sin_freqs`` ``[n_timesteps, n_harmonics]``, ``noise_magnitudes``
    ``[n_timesteps, n_mags]`` (no audio: ``InverseSynthesis`` renders it).
    """

    def __init__(
        self,
        n_timesteps: int = 250,
        n_harmonics: int = 100,
        n_mags: int = 65,
        file_pattern: str | None = None,
        sample_rate: int = 16000,
        frame_rate: int = 250,
        seed: int = 0,
        n_examples: int | None = None,
    ) -> None:
        super().__init__(sample_rate, frame_rate, seed)
        self.n_timesteps, self.n_harmonics, self.n_mags = n_timesteps, n_harmonics, n_mags
        self.n_examples = n_examples
        self.n_samples = n_timesteps * (sample_rate // frame_rate)
        self._records = None
        if file_pattern is not None:
            from .data_preparation.synthetic_dataset import SyntheticRecords

            self._records = SyntheticRecords(_files(file_pattern), n_timesteps, n_harmonics,
                                             n_mags)  # fmt: skip
            self.n_examples = len(self._records)

    def example(self, index: int) -> dict[str, np.ndarray]:
        if self._records is not None:
            return self._records[index]
        from .. import synths
        from ..spectral_ops import compute_loudness
        from .data_preparation.synthetic_data import generate_notes_v2

        c = generate_notes_v2(
            1, self.n_timesteps, self.n_harmonics, self.n_mags, seed=[self.seed, index]
        )
        harmonic = synths.Harmonic(self.n_samples, self.sample_rate, scale_fn=None)
        noise_seed = np.random.default_rng([self.seed, index, 1])  # example i is reproducible
        noise = synths.FilteredNoise(self.n_samples, scale_fn=None, seed=noise_seed)
        audio = harmonic(c["harm_amp"], c["harm_dist"], c["f0_hz"]) + noise(c["noise_magnitudes"])
        audio = np.asarray(audio, np.float32)[0]
        loudness = compute_loudness(audio, self.sample_rate, self.frame_rate, padding="same")
        return {
            "audio": audio,
            "f0_hz": c["f0_hz"][0, :, 0],
            # silent notes have logit -10 (amp ~1e-7); sounding ones >= -4 (amp >= 2e-4)
            "f0_confidence": (c["harm_amp"][0, :, 0] > 1e-5).astype(np.float32),
            "loudness_db": np.asarray(loudness, np.float32),
            "harm_amp": c["harm_amp"][0, :, 0],
            "harm_dist": c["harm_dist"][0],
            "noise_magnitudes": c["noise_magnitudes"][0],
        }


# ddsp's gin names (@data.TFRecordProvider() ...), registered when this module is imported.
for _provider in (DatasetProvider, TFRecordProvider, InMemoryProvider, SyntheticNotes):
    register(_provider, module="ddsp_ref.training.data")
del _provider
