"""Run groups of preparation tasks on local processes or a Dask distributed cluster."""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from .tasks import process_files

__all__ = ["run_local", "run_dask", "default_num_workers"]


def default_num_workers() -> int:
    """The cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def run_local(
    groups: list[list[dict]], flags: dict, output_dir: str, num_workers: int | None
) -> Iterator[dict]:
    """Process groups of files on ``num_workers`` processes (in this process when 1); yields
    each file's record as its group finishes."""
    num_workers = min(num_workers or default_num_workers(), len(groups))
    if num_workers <= 1:
        for group in groups:
            yield from process_files(group, flags, output_dir)
        return
    pool = ProcessPoolExecutor(num_workers, mp_context=_worker_context())
    try:
        futures = [pool.submit(process_files, group, flags, output_dir) for group in groups]
        for future in as_completed(futures):
            yield from future.result()
    finally:
        # On Ctrl-C or an error, drop queued files; finished ones are already committed.
        pool.shutdown(wait=True, cancel_futures=True)


def _worker_context() -> multiprocessing.context.BaseContext:
    """fork where it is safe, else a fork server.

    fork starts workers in milliseconds and needs no ``__main__`` guard in the caller's script.
    It is unsafe once a numba parallel kernel has run in this process on GNU OpenMP: the forked
    children abort on their first parallel kernel (a notebook that synthesised audio, then
    prepared a dataset, would lose every worker). Then the workers come from a fork server, a
    clean interpreter that has imported the task module only; like spawn, it imports the
    caller's script (not a notebook) in each worker, so a script needs the usual
    ``if __name__ == '__main__':`` guard in that case. Spawn where there is no fork (Windows).
    """
    if sys.platform == "win32":
        return multiprocessing.get_context("spawn")
    if _fork_is_safe():
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__.rsplit(".", 1)[0] + ".tasks"])
    return context


def _fork_is_safe() -> bool:
    """False once numba's OpenMP threading layer has started in this process."""
    numba = sys.modules.get("numba")
    if numba is None:
        return True
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run here yet
        return True
    return layer != "omp"


def run_dask(
    groups: list[list[dict]], flags: dict, output_dir: str, scheduler: Any
) -> Iterator[dict]:
    """Process groups of files on a Dask cluster (``scheduler``: an address or a
    ``distributed.Client``); yields each file's record as its group finishes."""
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError as e:
        raise ImportError(
            "prepare_dataset(scheduler=...) needs dask.distributed: pip install 'ddsp_ref[data]'"
        ) from e
    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        futures = [
            client.submit(process_files, group, flags, output_dir, pure=False) for group in groups
        ]
        for future in dask_completed(futures):
            yield from future.result()
    finally:
        if client is not scheduler:
            client.close()
