"""The unit of work of a preparation run: one input file to its shards and done marker.

Runs in a worker process (a local pool or a Dask worker), so it only takes and returns plain,
picklable values, and writes its results straight into the output directory.
"""

from __future__ import annotations

import itertools
import os

from .audio import AudioError, load_audio
from .examples import (
    FEATURE_KEYS,
    PrepareConfig,
    chunk_examples,
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


def process_file(path: str, key: str, config: dict, output_dir: str) -> dict:
    """Prepare one file; returns its done record, or a skip record ``{'skipped': reason}``.

    A file that cannot be used (unreadable, not audio, empty, shorter than one example) is
    recorded under ``skipped/`` with the reason; nothing raises for a bad input, so one file
    never stops a run. Shards are written before the done marker, which commits the file.
    """
    cfg = PrepareConfig(**config)
    try:
        record = _prepare(path, key, cfg, output_dir)
    except AudioError as e:  # a property of the file: remembered, so a re-run skips it at once
        record = {"path": path, "key": key, "skipped": str(e)}
        atomic_write_json(skipped_path(output_dir, key), record)
        return record
    except Exception as e:  # noqa: BLE001  (a bad input must not stop the run; say what broke)
        # Not remembered: the next run tries this file again (it may be a passing condition).
        reason = f"failed while preparing: {type(e).__name__}: {e}"
        return {"path": path, "key": key, "skipped": reason}
    atomic_write_json(done_path(output_dir, key), record)
    return record


def _prepare(path: str, key: str, cfg: PrepareConfig, output_dir: str) -> dict:
    audio, sample_rate, meta = load_audio(path)
    duration_s = audio.shape[0] / sample_rate
    if duration_s < cfg.example_secs:
        raise AudioError(
            f"too short: {duration_s:.3f} s is less than one example ({cfg.example_secs} s)"
        )
    chunks, chunks_16k = file_chunks(audio, sample_rate, cfg)
    del audio
    splits = [split_of(key, i, cfg.eval_split_fraction) for i in range(len(chunks))]
    examples = chunk_examples(chunks, chunks_16k, cfg)
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
        "path": path,
        "key": key,
        "sample_rate": int(sample_rate),
        "duration_s": float(duration_s),
        **meta,
        "n_examples": counts,
        "shards": shards,
    }
