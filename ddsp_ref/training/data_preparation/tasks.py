"""The unit of work of a preparation run: input files to their shards and done markers.

Runs in a worker process (a local pool or a Dask worker), so it only takes and returns plain,
picklable values, and writes its results straight into the output directory.
"""

from __future__ import annotations

import itertools
import math
import os

from .audio import AudioError, load_audio
from .examples import (
    _F0_BATCH,
    FEATURE_KEYS,
    PrepareConfig,
    chunk_examples,
    chunk_features,
    feature_lengths,
    file_chunks,
    split_of,
)
from .storage import ShardWriter, atomic_write_json

SPLITS = ("train", "eval")


def shard_name(split: str, key: str) -> str:
    return f"shards/{split}-{key}.npy"


def done_path(output_dir: str, key: str) -> str:
    return os.path.join(output_dir, "done", f"{key}.json")


def skipped_path(output_dir: str, key: str) -> str:
    return os.path.join(output_dir, "skipped", f"{key}.json")


def process_files(jobs: list[dict], config: dict, output_dir: str) -> list[dict]:
    """Prepare files ``[{'path', 'key'}]``; one record per file: done, or ``{'skipped': reason}``.

    A file that cannot be used (unreadable, not audio, empty, shorter than one example) is
    recorded under ``skipped/`` with the reason, so a re-run skips it at once; an unexpected
    error is reported but not recorded, so the next run tries the file again. Nothing raises
    for a bad input: one file never stops a run. Several short files (``plan_groups``) share
    their f0 batches, which the pitch tracker runs faster than one chunk at a time.
    """
    cfg = PrepareConfig(**config)
    records: dict[str, dict] = {}
    loaded = []
    for job in jobs:
        try:
            loaded.append((job, *_load(job["path"], cfg)))
        except Exception as e:  # noqa: BLE001  (recorded as a skip or a failure below)
            records[job["key"]] = _skip(job, e, output_dir)
    features: list = [None] * len(loaded)
    if len(loaded) > 1:
        try:
            flat = chunk_features([c for item in loaded for c in item[-1]], cfg)
        except Exception as e:  # noqa: BLE001
            for item in loaded:
                records[item[0]["key"]] = _skip(item[0], e, output_dir)
            loaded = []
        offsets = list(itertools.accumulate([0] + [len(item[-1]) for item in loaded]))
        features = [flat[offsets[i] : offsets[i + 1]] for i in range(len(loaded))]
    for item, feature in zip(loaded, features):
        try:
            record = _write(*item, cfg, output_dir, feature)
        except Exception as e:  # noqa: BLE001
            records[item[0]["key"]] = _skip(item[0], e, output_dir)
        else:
            atomic_write_json(done_path(output_dir, record["key"]), record)
            records[record["key"]] = record
    return [records[job["key"]] for job in jobs]


def process_file(path: str, key: str, config: dict, output_dir: str) -> dict:
    """``process_files`` for one file."""
    return process_files([{"path": path, "key": key}], config, output_dir)[0]


def _skip(job: dict, error: Exception, output_dir: str) -> dict:
    if isinstance(error, AudioError):  # a property of the file: remembered
        record = {"path": job["path"], "key": job["key"], "skipped": str(error)}
        atomic_write_json(skipped_path(output_dir, job["key"]), record)
        return record
    reason = f"failed while preparing: {type(error).__name__}: {error}"
    return {"path": job["path"], "key": job["key"], "skipped": reason}


def _load(path: str, cfg: PrepareConfig) -> tuple:
    """(sample_rate, meta, duration_s, chunks, chunks_16k) of a usable file."""
    audio, sample_rate, meta = load_audio(path)
    duration_s = audio.shape[0] / sample_rate
    if duration_s < cfg.example_secs:
        raise AudioError(
            f"too short: {duration_s:.3f} s is less than one example ({cfg.example_secs} s)"
        )
    chunks, chunks_16k = file_chunks(audio, sample_rate, cfg)
    return sample_rate, meta, duration_s, chunks, chunks_16k


def _write(job, sample_rate, meta, duration_s, chunks, chunks_16k, cfg, output_dir, features):
    """Windows of every chunk streamed into the file's shards; returns its done record."""
    key = job["key"]
    splits = [split_of(key, i, cfg.eval_split_fraction) for i in range(len(chunks))]
    examples = chunk_examples(chunks, chunks_16k, cfg, features)
    first = next(examples)
    per_chunk = first[FEATURE_KEYS[0]].shape[0]  # every chunk has the same length
    counts = {split: per_chunk * splits.count(split) for split in SPLITS}
    shards = {split: shard_name(split, key) for split in SPLITS if counts[split]}
    paths = {split: os.path.join(output_dir, name) for split, name in shards.items()}
    with ShardWriter(paths, {s: counts[s] for s in paths}, feature_lengths(cfg)) as writer:
        for split, chunk in zip(splits, itertools.chain([first], examples)):
            if counts[split]:
                writer.append(split, chunk)
        writer.commit()
    return {
        "path": job["path"],
        "key": key,
        "sample_rate": int(sample_rate),
        "duration_s": float(duration_s),
        **meta,
        "n_examples": counts,
        "shards": shards,
    }


def plan_groups(jobs: list[dict], durations_s: list[float], config: dict) -> list[list[dict]]:
    """Consecutive files grouped so that short ones share a batch of ``_F0_BATCH`` chunks;
    a file of a full batch or more (or any file without chunking) is a group of its own."""
    chunk_secs = config["chunk_secs"]
    groups: list[list[dict]] = []
    filled = _F0_BATCH
    for job, seconds in zip(jobs, durations_s):
        n_chunks = max(1, math.ceil(seconds / chunk_secs)) if chunk_secs else _F0_BATCH
        if filled + n_chunks > _F0_BATCH:
            groups.append([])
            filled = 0
        groups[-1].append(job)
        filled += n_chunks
    return groups
