"""The manifest of a prepared dataset: flags, counts, shards, per-file provenance, skips."""

from __future__ import annotations

import os

import numpy as np

from . import storage
from .tasks import SPLITS


def build_manifest(
    head: dict,
    jobs: list[dict],
    records: list[dict],
    skipped: list[dict],
    num_shards: int | None,
) -> tuple[dict, dict]:
    """The manifest of this run's inputs, in input order (so every run orders it the same),
    and the per-file shards by split (what ``commit`` re-packs when ``num_shards`` is set)."""
    files, shards = [], {split: [] for split in SPLITS}
    skipped = list(skipped)
    for job, record in zip(jobs, records):
        if "skipped" in record:
            skipped.append({"path": job["path"], "reason": record["skipped"]})
            continue
        files.append({**record, "path": job["path"]})
        for split in SPLITS:
            if record["n_examples"][split]:
                shards[split].append(
                    {"path": record["shards"][split], "n_examples": record["n_examples"][split]}
                )
    parts = shards
    if num_shards is not None:
        shards = {split: _packed_plan(split, parts[split], num_shards) for split in SPLITS}
    splits = {
        split: {"n_examples": sum(s["n_examples"] for s in shards[split]), "shards": shards[split]}
        for split in SPLITS
    }
    return {
        **head,
        "splits": splits,
        "n_files": len(files),
        "audio_hours": sum(f["duration_s"] for f in files) / 3600.0,
        "files": files,
        "skipped": sorted(skipped, key=lambda s: s["path"]),
        "num_shards": num_shards,
    }, parts


def _packed_plan(split: str, parts: list[dict], num_shards: int) -> list[dict]:
    """Names and sizes of ``num_shards`` near-equal shards holding ``parts`` in order."""
    total = sum(p["n_examples"] for p in parts)
    bounds = np.linspace(0, total, num_shards + 1).round().astype(int)
    return [
        {
            "path": f"packed/{split}-{i:05d}-of-{num_shards:05d}.npy",
            "n_examples": int(bounds[i + 1] - bounds[i]),
        }
        for i in range(num_shards)
        if total
    ]


def _repack(output_dir: str, parts: list[dict], packed: list[dict]) -> None:
    """Write the ``packed`` shards from the per-file ``parts`` (which stay: a resumed or
    extended run builds on them)."""
    sources = [storage.read_shard(os.path.join(output_dir, p["path"])) for p in parts]
    offsets = np.cumsum([0] + [len(s) for s in sources])
    lo = 0
    os.makedirs(os.path.join(output_dir, "packed"), exist_ok=True)
    for shard in packed:
        hi = lo + shard["n_examples"]
        pieces = [
            src[max(lo - a, 0) : min(hi - a, len(src))]
            for src, a in zip(sources, offsets)
            if a < hi and a + len(src) > lo
        ]
        storage.write_records(os.path.join(output_dir, shard["path"]), np.concatenate(pieces))
        lo = hi


def commit(output_dir: str, manifest: dict, parts: dict) -> bool:
    """Write the packed shards (if any) and the manifest, unless the manifest on disk already
    says the same (a re-run on unchanged inputs writes nothing); True if written."""
    path = os.path.join(output_dir, storage.MANIFEST)
    if os.path.exists(path) and storage.read_json(path) == manifest:
        return False
    if manifest["num_shards"] is not None:
        # Packed shards keep their names across runs: mark the dataset unfinished while they
        # are rewritten, so a run killed here leaves no manifest that lists a mix of old and new.
        storage.atomic_write_json(path, {**manifest, "status": "incomplete"})
        for split in SPLITS:
            _repack(output_dir, parts[split], manifest["splits"][split]["shards"])
    storage.atomic_write_json(path, manifest)
    return True
