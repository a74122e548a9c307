"""The prepared-dataset format: structured ``.npy`` shards, per-file done markers, a JSON manifest.

Layout of an output directory::

    manifest.json                 format name and version, flags, counts, shards, files, skips
    shards/train-<key>.npy        one shard per input file and split: a structured array
    shards/eval-<key>.npy         [n_examples] whose record holds every feature of one example
    done/<key>.json               the commit point of one input file (its provenance and counts)
    skipped/<key>.json            an input that was skipped, with the reason

A record is one example stored contiguously (``audio``, ``audio_16k``, ``f0_hz``...), so
``np.load(path, mmap_mode='r')[i]`` reads one example with one contiguous read: memory-mapped
random access for shuffling, without TensorFlow. Every file is written under a temporary name and
renamed into place; a file's ``done`` marker is written last, so a run killed at any point leaves
nothing that the manifest (written at the end of a run) lists but is incomplete.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from ...io import atomic_write, remove_stale_temporaries, temporary_name

FORMAT_NAME = "ddsp_ref.prepared_dataset"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


def record_dtype(lengths: dict[str, int]) -> np.dtype:
    """Structured dtype of one example: one float32 field ``[n]`` per feature."""
    return np.dtype([(k, "<f4", (n,)) for k, n in lengths.items()])


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    with atomic_write(path) as f:
        f.write(data)


def atomic_write_json(path: str, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode())


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


class ShardWriter:
    """Fill ``.npy`` shards of known sizes example by example, then rename them into place.

    Each shard is a memory-mapped temporary file beside its final path, so a file's examples
    never need to fit in memory at once. ``commit`` checks every row was written, syncs and
    renames; leaving the ``with`` block without ``commit`` (an error) removes the temporaries.

    Args:
        paths: {split: final path}.
        counts: {split: number of examples}.
        lengths: {feature: length} of one example.
    """

    def __init__(self, paths: dict[str, str], counts: dict[str, int], lengths: dict[str, int]):
        self._paths, self._counts = paths, counts
        self._tmps: dict[str, str] = {}
        self._maps: dict[str, np.ndarray] = {}
        self._rows = dict.fromkeys(paths, 0)
        for split, path in paths.items():
            remove_stale_temporaries(path)
            tmp = temporary_name(path)
            self._tmps[split] = tmp
            self._maps[split] = np.lib.format.open_memmap(
                tmp, mode="w+", dtype=record_dtype(lengths), shape=(counts[split],)
            )

    def __enter__(self) -> ShardWriter:
        return self

    def append(self, split: str, features: dict[str, np.ndarray]) -> None:
        """Write ``{feature: [n, length]}`` as the next ``n`` examples of ``split``."""
        start = self._rows[split]
        n = next(iter(features.values())).shape[0]
        records = self._maps[split][start : start + n]
        for k in records.dtype.names:
            records[k] = features[k]
        self._rows[split] = start + n

    def commit(self) -> None:
        for split, path in self._paths.items():
            if self._rows[split] != self._counts[split]:
                raise RuntimeError(
                    f"ShardWriter: {self._rows[split]} of {self._counts[split]} examples written"
                )
            self._maps[split].flush()
            del self._maps[split]
            with open(self._tmps[split], "rb+") as f:
                os.fsync(f.fileno())
            os.replace(self._tmps.pop(split), path)

    def __exit__(self, *exc: Any) -> None:
        self._maps.clear()
        for tmp in self._tmps.values():
            _remove_quietly(tmp)


def write_records(path: str, records: np.ndarray) -> None:
    """Write a structured array as a ``.npy`` file, atomically (temporary file, then rename)."""
    with atomic_write(path) as f:
        np.save(f, records, allow_pickle=False)


def read_shard(path: str) -> np.ndarray:
    """A shard as a read-only memory-mapped structured array ``[n_examples]``."""
    return np.load(path, mmap_mode="r", allow_pickle=False)


def read_json(path: str) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_manifest(output_dir: str) -> dict:
    """The manifest of a prepared dataset; raises ValueError for anything else."""
    path = os.path.join(output_dir, MANIFEST)
    if not os.path.isfile(path):
        raise ValueError(f"{output_dir!r} is not a prepared dataset (no {MANIFEST})")
    manifest = read_json(path)
    if manifest.get("format") != FORMAT_NAME:
        raise ValueError(f"{path!r} is not a {FORMAT_NAME} manifest")
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(
            f"{path!r} has format version {manifest['format_version']}; this ddsp_ref reads "
            f"up to {FORMAT_VERSION}"
        )
    return manifest
