"""Data preparation and reading: throughput against real time, f0 accuracy, examples per second.

1. Preparation end to end (decode, resample, f0 with Viterbi, loudness, write) at ddsp's default
   flags, on copies of the bundled corpus (each copy at another gain, so every file is new
   content): 1 local process, all local cores, and a Dask LocalCluster of 2 single-threaded
   worker processes (cluster start-up timed apart). Reported as x real time = audio seconds /
   wall seconds.
2. f0 accuracy of the prepared dataset against the corpus's known notes: raw pitch accuracy
   (within 50 cents) on frames inside notes (from 50 ms after the onset to the offset).
3. Reading: batches of 8 with shuffling from DatasetProvider (memory-mapped shards), from the
   TFRecord fixture (TFRecordProvider, 0.5 s examples), and from memory.

Run: python -m benchmarks.bench_data [--copies 4] [--skip-dask]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

import numpy as np
import soundfile as sf

from ddsp_ref.data import corpus_dir, corpus_files, corpus_notes
from ddsp_ref.training.data import DatasetProvider, InMemoryProvider, TFRecordProvider
from ddsp_ref.training.data_preparation import prepare_dataset

from .timing import print_table

HERE = os.path.dirname(os.path.abspath(__file__))


def make_inputs(folder: str, copies: int) -> float:
    """Corpus files at ``copies`` gains; returns the seconds of audio written."""
    os.makedirs(folder, exist_ok=True)
    total = 0.0
    for path in corpus_files():
        audio, sr = sf.read(path)
        for c in range(copies):
            name = f"{c:02d}_{os.path.basename(path)}"
            sf.write(os.path.join(folder, name), audio * (1.0 - 0.07 * c), sr, subtype="PCM_16")
            total += audio.size / sr
    return total


def _cpu_s(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _dask_cpu_s(client) -> float:
    """CPU seconds used so far by the Dask worker processes."""
    return sum(client.run(lambda: _cpu_s(resource.RUSAGE_SELF)).values())


def timed_prepare(inputs: str, out: str, client=None, **kwargs) -> tuple[float, float, dict]:
    """(wall seconds, CPU seconds of this process, its children and the Dask workers, manifest).

    CPU time is what the machine's other load does not inflate much: with the machine shared,
    audio seconds per CPU second x cores is the throughput the cores would give undisturbed.
    """
    cpu0 = _cpu_s(resource.RUSAGE_SELF) + _cpu_s(resource.RUSAGE_CHILDREN)
    cpu0 += _dask_cpu_s(client) if client is not None else 0.0
    start = time.perf_counter()
    manifest = prepare_dataset([inputs], out, progress=None, scheduler=client, **kwargs)
    wall = time.perf_counter() - start
    cpu = _cpu_s(resource.RUSAGE_SELF) + _cpu_s(resource.RUSAGE_CHILDREN) - cpu0
    cpu += _dask_cpu_s(client) if client is not None else 0.0
    return wall, cpu, manifest


def _row(label: str, seconds: float, wall: float, cpu: float, cores: int) -> tuple:
    return (
        label,
        f"{wall:.1f}",
        f"{seconds / wall:.1f}x",
        f"{cpu:.1f}",
        f"{seconds / cpu:.1f}x",
        f"{cores * seconds / cpu:.1f}x",
    )


def pitch_accuracy(out: str, manifest: dict) -> dict[str, float]:
    """RPA within 50 cents per instrument, from each example's place in its file."""
    notes = corpus_notes()
    flags = manifest["flags"]
    per_chunk = int((flags["chunk_secs"] - flags["example_secs"]) / flags["hop_secs"]) + 1
    hits: dict[str, list] = {}
    for record in manifest["files"]:
        name = os.path.basename(record["path"])[3:]
        if "notes" not in notes[name] or not record["n_examples"]["train"]:
            continue
        shard = np.load(os.path.join(out, record["shards"]["train"]), mmap_mode="r")
        e = np.arange(len(shard))
        start = (e // per_chunk) * flags["chunk_secs"] + (e % per_chunk) * flags["hop_secs"]
        n_frames = shard.dtype["f0_hz"].shape[0]
        times = start[:, None] + np.arange(n_frames)[None] / flags["frame_rate"] + 0.032
        truth = np.full(times.shape, np.nan)
        for onset, offset, pitch in notes[name]["notes"]:
            truth[(times >= onset + 0.05) & (times <= offset)] = pitch
        voiced = ~np.isnan(truth)
        cents = 100 * (12 * np.log2(shard["f0_hz"][voiced] / 440.0) + 69 - truth[voiced])
        hits.setdefault(name.split("_")[0], []).append(np.abs(cents) < 50)
    return {k: float(np.concatenate(v).mean()) for k, v in hits.items()}


def reader_rate(provider, batch_size: int = 8, n_batches: int = 100) -> float:
    batches = provider.get_batch(batch_size, shuffle=True)
    next(batches)  # warm-up (threads, page cache)
    start = time.perf_counter()
    for _ in range(n_batches):
        next(batches)
    rate = n_batches * batch_size / (time.perf_counter() - start)
    batches.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--skip-dask", action="store_true")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="ddsp_ref_bench_data_")
    seconds = make_inputs(os.path.join(tmp, "in"), args.copies)
    cores = len(os.sched_getaffinity(0))
    inputs = os.path.join(tmp, "in")
    print(f"load average before: {os.getloadavg()} on {cores} cores")
    # All cores first: its workers are forked from this process only while no numba parallel
    # kernel has run here (afterwards they come from a fork server, whose CPU time
    # RUSAGE_CHILDREN does not see).
    wall, cpu, manifest = timed_prepare(inputs, os.path.join(tmp, "all"))
    rows = [_row(f"local, all cores ({cores})", seconds, wall, cpu, cores)]
    wall, cpu, _ = timed_prepare(inputs, os.path.join(tmp, "one"), num_workers=1)
    rows.append(_row("local, 1 process", seconds, wall, cpu, 1))
    if not args.skip_dask:
        from distributed import Client, LocalCluster

        start = time.perf_counter()
        with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
            with Client(cluster) as client:
                up = time.perf_counter() - start
                wall, cpu, _ = timed_prepare(inputs, os.path.join(tmp, "dask"), client=client)
        label = f"Dask LocalCluster, 2 workers (+{up:.1f} s start-up)"
        rows.append(_row(label, seconds, wall, cpu, 2))
    print(f"load average after: {os.getloadavg()}")
    header = (
        "runner",
        "wall [s]",
        "x real time",
        "CPU [s]",
        "audio s / CPU s",
        "x real time on its cores if undisturbed",
    )
    title = (
        f"Preparation of {seconds / 60:.1f} min of audio ({len(manifest['files'])} files, "
        "ddsp's default flags, pYIN + Viterbi)"
    )
    print_table(title, rows, header)
    accuracy = pitch_accuracy(os.path.join(tmp, "all"), manifest)
    print_table(
        "f0 raw pitch accuracy (50 cents) on note frames of the prepared corpus",
        [(k, f"{100 * v:.2f} %") for k, v in sorted(accuracy.items())],
        ("instrument", "RPA"),
    )
    prepared = DatasetProvider(os.path.join(tmp, "all"))
    in_memory = InMemoryProvider(prepared.examples(range(min(64, prepared.n_examples))))
    tfrecords = TFRecordProvider(
        os.path.join(HERE, "..", "tests", "data", "ddsp_tfrecord", "*"), example_secs=0.5
    )
    rows = [
        ("DatasetProvider (4 s examples, memory-mapped)", f"{reader_rate(prepared):.0f}"),
        ("InMemoryProvider (4 s examples)", f"{reader_rate(in_memory):.0f}"),
        ("TFRecordProvider (fixture, 0.5 s examples)", f"{reader_rate(tfrecords):.0f}"),
    ]
    print_table("Reading: shuffled batches of 8", rows, ("provider", "examples/s"))
    print(f"\n(inputs and outputs in {tmp}; corpus from {corpus_dir()})")


if __name__ == "__main__":
    main()
