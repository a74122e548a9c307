"""An interrupted run (SIGKILL) resumes to the same dataset; Dask and local runs agree."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ddsp_ref.io import is_temporary_name
from ddsp_ref.training.data import DatasetProvider
from ddsp_ref.training.data_preparation import prepare_dataset

from .prep_fixtures import FLAGS, make_tones, read_tree

N_FILES = 10


def _run_and_kill(inputs: list[str], out: str, sig: int, num_workers: int) -> set[str]:
    """Start a preparation in a subprocess, signal it once some files are done; the done set."""
    script = textwrap.dedent(
        f"""
        from ddsp_ref.training.data_preparation import prepare_dataset
        prepare_dataset({inputs!r}, {out!r}, num_workers={num_workers}, progress=None,
                        **{FLAGS!r})
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    done_dir = os.path.join(out, "done")
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if os.path.isdir(done_dir) and len(_committed(done_dir)) >= 3:
                break
            time.sleep(0.005)
    finally:
        proc.send_signal(sig)
        proc.wait(timeout=120)
    return _committed(done_dir)


def _committed(done_dir: str) -> set[str]:
    """Done markers (a killed run may also leave a temporary file, which resuming removes)."""
    return {n for n in os.listdir(done_dir) if not is_temporary_name(n)}


@pytest.mark.parametrize(
    "sig, num_workers", [(signal.SIGKILL, 1), (signal.SIGINT, 2)], ids=["SIGKILL", "Ctrl-C"]
)
def test_interrupted_run_resumes_to_the_uninterrupted_dataset(tmp_path, sig, num_workers):
    inputs = make_tones(str(tmp_path / "in"), N_FILES, seconds=4.0)
    reference = prepare_dataset(
        inputs, str(tmp_path / "ref"), num_workers=1, progress=None, **FLAGS
    )
    out = str(tmp_path / "out")
    done_before = _run_and_kill(inputs, out, sig, num_workers)
    assert 3 <= len(done_before) < N_FILES, "the run was not interrupted mid-way"
    stamps = {n: os.stat(os.path.join(out, "done", n)).st_mtime_ns for n in done_before}
    # What a killed run leaves is never a dataset a reader accepts: the manifest says so.
    from ddsp_ref.training.data_preparation.storage import read_json

    assert read_json(os.path.join(out, "manifest.json"))["status"] == "incomplete"
    with pytest.raises(ValueError, match="unfinished preparation"):
        DatasetProvider(out)
    resumed = prepare_dataset(inputs, out, num_workers=1, progress=None, **FLAGS)
    assert resumed == reference
    assert {n: os.stat(os.path.join(out, "done", n)).st_mtime_ns for n in done_before} == stamps
    assert read_tree(out) == read_tree(str(tmp_path / "ref"))


def test_dask_local_cluster_gives_the_local_dataset(tmp_path):
    from distributed import Client, LocalCluster

    inputs = make_tones(str(tmp_path / "in"), 4)
    local = prepare_dataset(
        inputs,
        str(tmp_path / "local"),
        num_workers=2,
        progress=None,
        eval_split_fraction=0.3,
        **FLAGS,
    )
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        by_address = prepare_dataset(
            inputs,
            str(tmp_path / "dask"),
            progress=None,
            scheduler=cluster.scheduler_address,
            eval_split_fraction=0.3,
            **FLAGS,
        )
        with Client(cluster) as client:
            by_client = prepare_dataset(
                inputs,
                str(tmp_path / "dask2"),
                progress=None,
                scheduler=client,
                eval_split_fraction=0.3,
                **FLAGS,
            )
    assert by_address == local == by_client
    assert read_tree(str(tmp_path / "dask")) == read_tree(str(tmp_path / "local"))
    assert read_tree(str(tmp_path / "dask2")) == read_tree(str(tmp_path / "local"))
