"""Data-parallel training over MPI: ``mpiexec -n 2`` runs of a tiny float64 Autoencoder
(tests/training/mpi_scripts/) against one process trained on the combined batches.

Under MPI: the all-reduce and broadcast of mixed-dtype trees equal numpy's mean / rank 0's
values, in one collective per dtype; the ranks hold bitwise identical parameters after every
step (rank 1 starts from other parameters, so the broadcast at build matters); each step
equals one process on the global batch (gradients averaged before clipping, clipping active);
only rank 0 writes checkpoints and metrics (with the mean loss over the ranks); a new mpiexec
job resumes from rank 0's checkpoint; SIGINT on one rank stops both at the same step with a
checkpoint; an exception on one rank ends the job instead of hanging it. Without MPI: the
sharded provider, get_strategy and the Trainer's strategy check.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from ddsp_ref.autodiff import tree_flatten
from ddsp_ref.module import flatten_dict
from ddsp_ref.training import train_util
from ddsp_ref.training.checkpoints import load_checkpoint
from ddsp_ref.training.distributed import ShardedProvider, mpi_world_size
from ddsp_ref.training.trainers import Trainer

from .mpi_scripts.setup import EARLY_STOP, GLOBAL_BATCH, make_provider, make_trainer
from .mpi_scripts.train_ranks import Hooked

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT_S = 180  # per mpiexec job: a hang fails the test instead of blocking CI


def _mpiexec() -> str | None:
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return beside if os.access(beside, os.X_OK) else shutil.which("mpiexec")


def _mpi_missing() -> str | None:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return "mpi4py is not installed (pip install 'ddsp_ref[mpi]')"
    if _mpiexec() is None:
        return "no mpiexec beside the interpreter or on PATH (pip install mpich)"
    return None


requires_mpi = pytest.mark.skipif(_mpi_missing() is not None, reason=str(_mpi_missing()))


def _launch(outdir, *scenarios) -> subprocess.CompletedProcess:
    """``mpiexec -n 2`` of the scenario script; the whole job is killed after TIMEOUT_S."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "PMIX_"))}
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    command = [_mpiexec(), "-n", "2", sys.executable, "-m",
               "tests.training.mpi_scripts.train_ranks", str(outdir), *scenarios]  # fmt: skip
    proc = subprocess.Popen(command, cwd=REPO, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        output, _ = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # mpiexec and the ranks it started
        output, _ = proc.communicate()
        pytest.fail(f"mpiexec {scenarios} hung for {TIMEOUT_S} s:\n{output[-3000:]}")
    return subprocess.CompletedProcess(command, proc.returncode, output)


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    """Three mpiexec jobs: (collectives, 3 steps, SIGINT, early stop), a resume to step 5, a
    crash."""
    outdir = tmp_path_factory.mktemp("mpi")
    first = _launch(outdir, "collectives", "train:3", "interrupt", "early", "spectral_norm")
    assert first.returncode == 0, first.stdout[-3000:]
    ckpts_after_first = sorted(os.listdir(outdir / "run"))  # before the resume adds more
    resumed = _launch(outdir, "train:5")
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    crash = _launch(outdir, "crash")
    return {"dir": outdir, "ckpts_after_first": ckpts_after_first, "crash": crash}


def _records(path) -> dict[int, dict]:
    """``{step: {"loss", "audio", "params": [leaves]}}`` of a rank's record file."""
    out: dict[int, dict] = {}
    with np.load(path) as f:
        for key in f.files:
            step, name = key.split("/")
            entry = out.setdefault(int(step), {"params": {}})
            if name.startswith("p"):
                entry["params"][int(name[1:])] = f[key]
            else:
                entry[name] = f[key]
    for entry in out.values():
        entry["params"] = [entry["params"][i] for i in range(len(entry["params"]))]
    return out


def _rank_records(jobs, rank) -> dict[int, dict]:
    records = _records(jobs["dir"] / f"train3-rank{rank}.npz")
    records.update(_records(jobs["dir"] / f"train5-rank{rank}.npz"))
    return records


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One process, strategy None, the same provider and global batch, the same run: 3 steps,
    then a new trainer resumed from the checkpoint up to step 5 (the data starts over)."""
    save_dir = str(tmp_path_factory.mktemp("single"))
    records = []
    for num_steps in (3, 5):
        run = Hooked(make_trainer())
        train_util.train(make_provider(), run, batch_size=GLOBAL_BATCH, num_steps=num_steps,
                         steps_per_save=2, save_dir=save_dir, restore_dir=save_dir)  # fmt: skip
        records += run.records
    assert [r[0] for r in records] == [1, 2, 3, 4, 5]
    return {step: (losses, leaves, batch) for step, losses, leaves, batch in records}


@requires_mpi
def test_allreduce_mean_and_broadcast_of_mixed_trees(jobs):
    ranks = [np.load(jobs["dir"] / f"collectives-rank{r}.npz") for r in (0, 1)]
    assert [int(got["local_rank"]) for got in ranks] == [0, 1]  # both on this machine
    # The trees of _collectives: leaves a (f32), b/c (f64), b/none, d[0] (f32 0-d), d[1] (f64).
    values = [
        [np.arange(3, dtype=np.float32) + r, np.full((2, 2), 10.0 * r + 0.5), None,
         np.float32(r + 1) * np.ones((), np.float32), np.arange(4.0) * (r + 1)]
        for r in (0, 1)
    ]  # fmt: skip
    for got in ranks:
        for i, (v0, v1) in enumerate(zip(*values)):
            mean, bcast = got[f"mean/{i}"], got[f"bcast/{i}"]
            if v0 is None:
                assert str(mean) == str(bcast) == "None"
                continue
            expected = (np.asarray(v0, np.float64) + np.asarray(v1, np.float64)) / 2
            assert mean.dtype == bcast.dtype == np.asarray(v0).dtype
            assert mean.shape == bcast.shape == np.shape(v0)
            np.testing.assert_allclose(mean, expected, rtol=1e-7)
            np.testing.assert_array_equal(bcast, v0)
        assert int(got["allreduce_calls"]) == 2  # one buffer per dtype, not one per leaf
        assert int(got["train_allreduce_calls"]) == 2 * 2  # per step: gradients+losses, flags
        assert "ranks [1] hold trees of another" in str(got["mismatch"])
        assert got["any"].tolist() == [True, False]


@requires_mpi
def test_ranks_hold_identical_parameters_after_every_step(jobs):
    rank0, rank1 = _rank_records(jobs, 0), _rank_records(jobs, 1)
    assert sorted(rank0) == sorted(rank1) == [1, 2, 3, 4, 5]
    for step in rank0:
        for a, b in zip(rank0[step]["params"], rank1[step]["params"], strict=True):
            np.testing.assert_array_equal(a, b)
        assert rank0[step]["loss"] == rank1[step]["loss"]  # the mean over the ranks
        # Each rank read its own, different examples.
        assert not np.array_equal(rank0[step]["audio"], rank1[step]["audio"])


@requires_mpi
def test_steps_equal_one_process_on_the_combined_batch(jobs, reference):
    rank0, rank1 = _rank_records(jobs, 0), _rank_records(jobs, 1)
    for step, (losses, leaves, batch) in reference.items():
        # The ranks' halves together are the batch one process reads.
        combined = np.concatenate([rank0[step]["audio"], rank1[step]["audio"]])
        np.testing.assert_array_equal(combined, batch["audio"])
        assert rank0[step]["loss"] == pytest.approx(losses["total_loss"], rel=1e-12)
        for got, expected in zip(rank0[step]["params"], leaves, strict=True):
            assert got.dtype == np.float64
            np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-13)
    # The comparison can fail: one process on rank 0's halves only ends far away.
    half = Hooked(make_trainer())
    train_util.train(ShardedProvider(make_provider(), 0, 2), half, batch_size=GLOBAL_BATCH,
                     num_steps=3, save_dir="", restore_dir="")  # fmt: skip
    gap = max(float(np.max(np.abs(a - b))) for a, b in zip(half.records[-1][2], reference[3][1]))
    assert gap > 1e-4


@requires_mpi
def test_spectral_norm_steps_equal_one_process_on_the_combined_batch(jobs):
    """Every rank normalises the kernels alike (after the broadcast at build; rank 1 started
    from other parameters and sn_u), and the steps equal one process on the whole batch."""
    rank0, rank1 = (_records(jobs["dir"] / f"spectral_norm-rank{r}.npz") for r in (0, 1))
    single = Hooked(make_trainer(spectral_norm=True))
    train_util.train(make_provider(), single, batch_size=GLOBAL_BATCH, num_steps=3,
                     save_dir="", restore_dir="")  # fmt: skip
    assert sorted(rank0) == sorted(rank1) == [1, 2, 3]
    for step, _, leaves, _ in single.records:
        for a, b, expected in zip(rank0[step]["params"], rank1[step]["params"], leaves,
                                  strict=True):  # fmt: skip
            np.testing.assert_array_equal(a, b)
            np.testing.assert_allclose(a, expected, rtol=1e-10, atol=1e-13)
    _, params, opt_state, _ = load_checkpoint(str(jobs["dir"] / "spectral_norm" / "ckpt-2.npz"))
    names = [k for k in flatten_dict(params) if k.endswith("sn_u")]
    assert len(names) == 3 and not any(k.endswith("sn_u") for k in flatten_dict(opt_state))


@requires_mpi
def test_only_rank_0_writes_checkpoints_and_metrics_and_a_new_job_resumes(jobs, reference):
    outdir = jobs["dir"]
    assert not os.path.exists(outdir / "rank1")  # rank 1's save_dir: nothing written
    assert [n for n in jobs["ckpts_after_first"] if n.startswith("ckpt-")] == [
        "ckpt-2.npz", "ckpt-3.npz",
    ]  # fmt: skip
    names = sorted(os.listdir(outdir / "run"))
    assert [n for n in names if n.startswith("ckpt-")] == [f"ckpt-{s}.npz" for s in (2, 3, 4, 5)]
    step, params, _, _ = load_checkpoint(str(outdir / "run" / "ckpt-3.npz"))
    assert step == 3
    saved = tree_flatten(params)[0]
    for a, b in zip(saved, _rank_records(jobs, 0)[3]["params"], strict=True):
        np.testing.assert_array_equal(a, b)
    # The second job started at step 4 (restored step 3), not from scratch.
    assert sorted(_records(outdir / "train5-rank1.npz")) == [4, 5]
    with open(outdir / "run" / train_util.METRICS_FILE) as f:
        lines = [json.loads(line) for line in f]
    assert [line["step"] for line in lines] == [1, 2, 3, 4, 5]  # one writer, no duplicates
    for line in lines:
        assert line["total_loss"] == pytest.approx(reference[line["step"]][0]["total_loss"],
                                                   rel=1e-12)  # fmt: skip


@requires_mpi
def test_sigint_on_one_rank_stops_every_rank_at_the_same_step(jobs):
    outdir = jobs["dir"]
    steps = [json.load(open(outdir / f"interrupt-rank{r}.json"))["step"] for r in (0, 1)]
    assert steps == [2, 2]  # of 50: the flag raised in step 2 was agreed after it
    assert sorted(n for n in os.listdir(outdir / "interrupt") if n.startswith("ckpt-")) == [
        "ckpt-2.npz"
    ]


@requires_mpi
def test_early_stop_stops_every_rank_at_the_same_step(jobs, reference):
    outdir = jobs["dir"]
    steps = [json.load(open(outdir / f"early-rank{r}.json"))["step"] for r in (0, 1)]
    # The first step of the (uninterrupted) one-process run with a loss at or below it.
    expected = min(s for s in (1, 2, 3) if reference[s][0]["total_loss"] <= EARLY_STOP)
    assert steps == [expected, expected]
    assert sorted(n for n in os.listdir(outdir / "early") if n.startswith("ckpt-")) == [
        f"ckpt-{expected}.npz"
    ]


@requires_mpi
def test_an_exception_on_one_rank_ends_the_job(jobs):
    crash = jobs["crash"]
    assert crash.returncode != 0
    assert "rank 1 fails on purpose" in crash.stdout
    assert not os.path.exists(jobs["dir"] / "crash-rank0.json")


# Without MPI.


def test_sharded_provider_splits_each_global_batch(monkeypatch):
    provider = make_provider()
    for batch_size in (2, 6):  # 6: global batches span the 8-example epochs
        whole = provider.get_batch(batch_size, prefetch=0)
        parts = [ShardedProvider(provider, r, 2).get_batch(batch_size) for r in (0, 1)]
        for _ in range(5):
            expected = next(whole)
            got = [next(p) for p in parts]
            for key in expected:
                assert got[0][key].shape[0] == batch_size // 2
                np.testing.assert_array_equal(np.concatenate([g[key] for g in got]), expected[key])
    seen = [
        ex["f0_hz"][0] for r in (0, 1, 2) for ex in ShardedProvider(provider, r, 3).get_dataset()
    ]
    assert sorted(seen) == sorted(provider.features["f0_hz"][:, 0].tolist())
    assert ShardedProvider(provider, 1, 2).sample_rate == provider.sample_rate
    with pytest.raises(ValueError, match="multiple of the 2 ranks"):
        ShardedProvider(provider, 0, 2).get_batch(3)
    with pytest.raises(ValueError, match="drop_remainder"):
        ShardedProvider(provider, 0, 2).get_batch(4, drop_remainder=False)


def test_sharded_provider_slices_other_batch_sources():
    class Batches:  # not a DataProvider: batches are read whole, then sliced
        def get_batch(self, batch_size, shuffle=True, repeats=-1):
            for i in range(3):
                yield {"x": np.arange(batch_size) + 10 * i}

    got = list(ShardedProvider(Batches(), 1, 2).get_batch(4))
    assert [b["x"].tolist() for b in got] == [[2, 3], [12, 13], [22, 23]]


def test_get_strategy_without_a_launcher(monkeypatch):
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert mpi_world_size() == 1
    assert train_util.get_strategy() is None
    monkeypatch.setenv("PMI_SIZE", "1")
    assert train_util.get_strategy() is None
    for kwargs in ({"tpu": "grpc://10.0.0.1:8470"}, {"cluster_config": '{"cluster": {}}'}):
        with pytest.raises(ValueError, match="not supported"):
            train_util.get_strategy(**kwargs)


def test_get_strategy_under_a_launcher_without_mpi4py(monkeypatch):
    monkeypatch.setenv("PMI_SIZE", "2")
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now raises ImportError
    with pytest.raises(ImportError, match="mpi4py is not installed"):
        train_util.get_strategy()


def test_trainer_rejects_other_strategies():
    with pytest.raises(ValueError, match="MpiStrategy"):
        Trainer(make_trainer().model, strategy=object())
