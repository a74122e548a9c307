"""``prepare_dataset``: audio files to a sharded training dataset, on local cores or Dask."""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from ...io import is_temporary_name
from ...progress import Progress
from ...validation import nonnegative_int, positive_int, positive_number
from . import storage
from .examples import PrepareConfig, feature_lengths
from .manifest import build_manifest, commit
from .runners import run_dask, run_local
from .tasks import done_path, plan_groups, skipped_path

__all__ = ["prepare_dataset", "expand_inputs"]

_WHERE = "prepare_dataset"


def expand_inputs(inputs: str | Iterable[str]) -> tuple[list[str], list[dict]]:
    """Files named by ``inputs`` (files, folders searched recursively, glob patterns).

    Returns:
        (files in a stable order without repeats, [{'path', 'reason'}] for inputs that name
        nothing).
    """
    inputs = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    files, missing = [], []
    for item in map(os.fspath, inputs):
        if os.path.isdir(item):
            found = sorted(
                os.path.join(root, name)
                for root, dirs, names in os.walk(item)
                for name in names
                if not name.startswith(".")
            )
        elif os.path.exists(item):
            found = [item]
        else:
            found = sorted(p for p in glob.glob(item, recursive=True) if os.path.isfile(p))
        if not found:
            missing.append({"path": item, "reason": "no such file, or no file matches"})
        files.extend(found)
    return list(dict.fromkeys(files)), missing


def _file_key(path: str) -> str | None:
    """First 20 hex digits of the sha256 of the file's bytes (None if it cannot be read)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()[:20]


def _duration_s(path: str) -> float:
    import soundfile

    try:
        info = soundfile.info(path)
        return float(info.frames) / float(info.samplerate)
    except Exception:  # noqa: BLE001  (any unreadable file: its worker reports why)
        return 0.0


def _check_config(config: PrepareConfig, num_shards: int | None) -> None:
    positive_int(config.sample_rate, "sample_rate", _WHERE)
    positive_int(config.frame_rate, "frame_rate", _WHERE)
    positive_number(config.example_secs, "example_secs", _WHERE)
    positive_number(config.hop_secs, "hop_secs", _WHERE)
    if not 0.0 <= config.eval_split_fraction <= 1.0:
        raise ValueError(
            f"{_WHERE}: eval_split_fraction must be in [0, 1], got {config.eval_split_fraction}"
        )
    nonnegative_int(int(config.chunk_secs * config.sample_rate), "chunk_secs * sample_rate", _WHERE)
    if config.chunk_secs and config.chunk_secs < config.example_secs:
        raise ValueError(
            f"{_WHERE}: chunk_secs ({config.chunk_secs}) must be 0 (no chunks) or at least "
            f"example_secs ({config.example_secs})"
        )
    if num_shards is not None:
        positive_int(num_shards, "num_shards", _WHERE)


def _open_output(output_dir: str, flags: dict) -> None:
    """Create the output folder, or accept it if it holds a dataset made with the same flags."""
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise FileExistsError(f"{_WHERE}: output_dir {output_dir!r} exists and is not a folder")
    if os.path.isdir(output_dir) and os.listdir(output_dir):
        manifest = storage.read_manifest(output_dir)  # ValueError for a folder of other things
        if manifest["flags"] != flags:
            raise ValueError(
                f"{_WHERE}: {output_dir!r} holds a dataset prepared with other flags "
                f"{manifest['flags']}; prepare into a new folder"
            )
    for sub in ("shards", "packed", "done", "skipped"):
        os.makedirs(os.path.join(output_dir, sub), exist_ok=True)
        for name in os.listdir(os.path.join(output_dir, sub)):
            if is_temporary_name(name):  # left by an interrupted run; never listed anywhere
                os.remove(os.path.join(output_dir, sub, name))
    if not os.path.exists(os.path.join(output_dir, storage.MANIFEST)):
        storage.atomic_write_json(
            os.path.join(output_dir, storage.MANIFEST), _manifest_head(flags, "incomplete")
        )


def _manifest_head(flags: dict, status: str) -> dict:
    return {
        "format": storage.FORMAT_NAME,
        "format_version": storage.FORMAT_VERSION,
        "status": status,
        "flags": flags,
        "features": feature_lengths(PrepareConfig(**flags)),
    }


def _plan(files: list[str], output_dir: str) -> tuple[list[dict], list[dict]]:
    """Each file's content key; duplicates and unreadable files become skip records."""
    jobs, skipped, seen = [], [], {}
    for path in files:
        key = _file_key(path)
        if key is None:
            skipped.append({"path": path, "reason": "cannot read file"})
        elif key in seen:
            skipped.append({"path": path, "reason": f"same content as {seen[key]}"})
        else:
            seen[key] = path
            jobs.append({"path": path, "key": key})
    return jobs, skipped


def _finished(output_dir: str, key: str) -> dict | None:
    for path in (done_path(output_dir, key), skipped_path(output_dir, key)):
        if os.path.exists(path):
            return storage.read_json(path)
    return None


def prepare_dataset(
    inputs: str | Iterable[str],
    output_dir: str,
    *,
    sample_rate: int = 16000,
    frame_rate: int = 250,
    example_secs: float = 4,
    hop_secs: float = 1,
    eval_split_fraction: float = 0.0,
    chunk_secs: float = 20,
    center: bool = False,
    viterbi: bool = True,
    num_shards: int | None = None,
    scheduler: Any = None,
    num_workers: int | None = None,
    progress: TextIO | None = sys.stderr,
) -> dict:
    """Prepare audio files into a training dataset (ddsp's ``ddsp_prepare_tfrecord``).

    Each file is decoded (mono), resampled to ``sample_rate`` and to 16 kHz, cut into
    ``chunk_secs`` chunks (the last zero-padded); f0 and confidence come from
    ``spectral_ops.compute_f0`` (pYIN) and loudness from ``compute_loudness`` on the 16 kHz
    audio, with 'same' padding ('center' if ``center``); examples are ``example_secs`` windows
    every ``hop_secs``. Per example: ``audio [example_secs * sample_rate]``, ``audio_16k
    [example_secs * 16000]``, ``f0_hz``, ``f0_confidence``, ``loudness_db`` ``[example_secs *
    frame_rate]`` (+1 when centred): 64000, 64000, 1000 at the defaults. Chunks go to 'eval'
    with probability ``eval_split_fraction``, keyed on a hash of the file's content.

    Files run in parallel: on ``num_workers`` local processes (default all cores), or on a Dask
    distributed cluster when ``scheduler`` is an address ('tcp://host:8786') or a
    ``distributed.Client`` (the workers must see ``inputs`` and ``output_dir`` at the same
    paths). Bad inputs are skipped with their reason. A run can be interrupted at any point and
    re-run to resume; a re-run on unchanged inputs does nothing.

    Args:
        inputs: files, folders (searched recursively) or glob patterns.
        output_dir: new or empty folder, or one holding a dataset made with the same flags.
        num_shards: None keeps one shard per input file and split; N re-packs the examples
            into N shards per split once every file is done.

    Returns:
        The manifest (also written to ``output_dir/manifest.json``).

    Raises:
        ValueError: bad flags; ``output_dir`` holds something other than such a dataset.
        FileExistsError: ``output_dir`` is a file.
    """
    config = PrepareConfig(
        sample_rate=sample_rate,
        frame_rate=frame_rate,
        example_secs=example_secs,
        hop_secs=hop_secs,
        eval_split_fraction=float(eval_split_fraction),
        chunk_secs=chunk_secs or 0,
        center=bool(center),
        viterbi=bool(viterbi),
    )
    _check_config(config, num_shards)
    flags = dataclasses.asdict(config)
    output_dir = os.fspath(output_dir)
    _open_output(output_dir, flags)
    files, missing = expand_inputs(inputs)
    inside = os.path.join(os.path.abspath(output_dir), "")
    files = [f for f in files if not os.path.abspath(f).startswith(inside)]  # our own shards
    jobs, skipped = _plan(files, output_dir)
    todo = [job for job in jobs if _finished(output_dir, job["key"]) is None]
    failed = _run(todo, flags, output_dir, scheduler, num_workers, progress) if todo else {}
    records = [failed.get(job["key"]) or _finished(output_dir, job["key"]) for job in jobs]
    manifest, parts = build_manifest(
        _manifest_head(flags, "complete"), jobs, records, missing + skipped, num_shards
    )
    commit(output_dir, manifest, parts)
    return manifest


def _run(todo, flags, output_dir, scheduler, num_workers, stream) -> dict[str, dict]:
    """Prepare ``todo`` with a progress bar; returns the records of files that failed (those
    are not remembered on disk, so the next run retries them)."""
    durations = [_duration_s(j["path"]) for j in todo]
    groups = plan_groups(todo, durations, flags)
    bar = Progress(len(todo), sum(durations) / 3600.0, stream=stream)
    failed = {}
    for record in _iterate(groups, flags, output_dir, scheduler, num_workers):
        if "skipped" in record:
            bar.write(f"skipped {record['path']}: {record['skipped']}")
            if not os.path.exists(skipped_path(output_dir, record["key"])):
                failed[record["key"]] = record
        bar.update(1, record.get("duration_s", 0.0) / 3600.0)
    bar.close()
    return failed


def _iterate(groups, flags, output_dir, scheduler, num_workers) -> Iterator[dict]:
    if scheduler is None:
        return run_local(groups, flags, output_dir, num_workers)
    return run_dask(groups, flags, output_dir, scheduler)
