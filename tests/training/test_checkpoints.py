"""Checkpoints: round trip, keep-N, latest lookup among damaged and temporary files, a writer
killed mid-save, and exact resume of a training loop across a SIGKILLed process."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from ddsp_ref.autodiff import ops, value_and_grad
from ddsp_ref.io import atomic_write
from ddsp_ref.training import nn
from ddsp_ref.training.checkpoints import latest_checkpoint, load_checkpoint, save_checkpoint
from ddsp_ref.training.optimizers import Adam, ExponentialDecay, clip_by_global_norm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _params():
    rng = np.random.default_rng(0)
    return {
        "net": {"kernel": rng.normal(size=(3, 4)).astype(np.float32), "bias": np.zeros(4)},
        "scale": np.float16(1.5) * np.ones((), np.float16),
        "count": np.arange(5, dtype=np.int32),
    }


def _opt_state():
    params = {"net": _params()["net"]}
    grads = {"net": {"kernel": np.ones((3, 4), np.float32), "bias": np.full(4, 0.5)}}
    opt = Adam()
    return opt.update(params, grads, opt.init(params))[1]


def _assert_trees_equal(got, want):
    assert isinstance(got, dict) and list(got) == list(want)
    for key in want:
        if isinstance(want[key], dict):
            _assert_trees_equal(got[key], want[key])
        elif isinstance(want[key], (int, float)):
            assert type(got[key]) is type(want[key]) and got[key] == want[key]
        else:
            assert got[key].dtype == want[key].dtype and got[key].shape == want[key].shape
            np.testing.assert_array_equal(got[key], want[key])


def test_round_trip_keeps_values_dtypes_step_and_rng(tmp_path):
    rng = np.random.default_rng(42)
    rng.normal(size=3)
    params, state = _params(), _opt_state()
    path = save_checkpoint(tmp_path, 7, params, state, rng.bit_generator.state, "a = 1\n")
    assert os.path.basename(path) == "ckpt-7.npz"
    assert (tmp_path / "operative_config-7.gin").read_text() == "a = 1\n"
    step, got_params, got_state, rng_state = load_checkpoint(path)
    assert step == 7 and got_state["step"] == 1 and type(got_state["step"]) is int
    _assert_trees_equal(got_params, params)
    _assert_trees_equal(got_state, state)
    restored = np.random.default_rng()
    restored.bit_generator.state = rng_state
    np.testing.assert_array_equal(restored.normal(size=5), rng.normal(size=5))
    assert load_checkpoint(tmp_path)[0] == 7  # a folder loads its latest
    with np.load(path, allow_pickle=False) as data:  # plain arrays only, no pickle needed
        assert sorted(data.files)[0] == "meta.json"


def test_no_rng_no_gin_and_bad_inputs(tmp_path):
    save_checkpoint(tmp_path, 0, {"w": np.ones(2)}, {})
    assert sorted(os.listdir(tmp_path)) == ["ckpt-0.npz"]
    assert load_checkpoint(tmp_path / "ckpt-0.npz")[1:] == ({"w": pytest.approx(1.0)}, {}, None)
    with pytest.raises(ValueError, match="'/'"):
        save_checkpoint(tmp_path, 1, {"a/b": np.ones(2)}, {})
    with pytest.raises(ValueError, match="step"):
        save_checkpoint(tmp_path, -1, {}, {})
    with pytest.raises(TypeError, match="rng_state"):
        save_checkpoint(tmp_path, 2, {}, {}, rng_state={"x": object()})
    with pytest.raises(TypeError, match="params"):
        save_checkpoint(tmp_path, 3, [np.ones(2)], {})
    assert latest_checkpoint(tmp_path).endswith("ckpt-0.npz")  # failed saves left nothing


def test_keep_newest_n(tmp_path):
    for step in (5, 1, 3, 2, 4):
        save_checkpoint(tmp_path, step, {"w": np.full(2, step)}, {}, gin_config="x\n",
                        checkpoints_to_keep=3)  # fmt: skip
    names = sorted(n for n in os.listdir(tmp_path) if n.startswith("ckpt-"))
    # saving 4 last pruned 1 and 2 (the lowest steps); configs are all kept, as ddsp does
    assert names == ["ckpt-3.npz", "ckpt-4.npz", "ckpt-5.npz"]
    assert len([n for n in os.listdir(tmp_path) if n.endswith(".gin")]) == 5
    save_checkpoint(tmp_path, 0, {"w": np.zeros(2)}, {}, checkpoints_to_keep=1)
    assert sorted(os.listdir(tmp_path))[0] == "ckpt-0.npz"  # the new one always stays
    assert [n for n in os.listdir(tmp_path) if n.startswith("ckpt-")] == ["ckpt-0.npz"]
    save_checkpoint(tmp_path, 9, {"w": np.zeros(2)}, {}, checkpoints_to_keep=None)
    assert len([n for n in os.listdir(tmp_path) if n.startswith("ckpt-")]) == 2


def test_latest_skips_temporaries_truncated_and_strangers(tmp_path):
    assert latest_checkpoint(tmp_path) is None and latest_checkpoint(tmp_path / "no") is None
    save_checkpoint(tmp_path, 3, _params(), _opt_state())
    good = (tmp_path / "ckpt-3.npz").read_bytes()
    for cut in (len(good) - 1, len(good) // 2, 10, 0):
        (tmp_path / f"ckpt-{100 + cut}.npz").write_bytes(good[:cut])
    (tmp_path / f".ckpt-999.npz.{os.getpid() + 1}.tmp").write_bytes(good)
    (tmp_path / "ckpt-998.npz.tmp").write_bytes(good)
    (tmp_path / "ckpt-abc.npz").write_bytes(good)
    (tmp_path / "ckpt-997.npz.bak").write_bytes(good)
    (tmp_path / "ckpt-996.npz").mkdir()
    with pytest.warns(UserWarning, match="not a complete checkpoint"):
        assert latest_checkpoint(tmp_path) == str(tmp_path / "ckpt-3.npz")
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_checkpoint(tmp_path / f"ckpt-{100 + len(good) // 2}.npz")


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "ckpt-1.npz")
    with pytest.raises(FileNotFoundError, match="no complete"):
        load_checkpoint(tmp_path)
    np.savez(tmp_path / "other.npz", a=np.ones(2))
    with pytest.raises(ValueError, match="not a ddsp_ref checkpoint"):
        load_checkpoint(tmp_path / "other.npz")
    meta = json.dumps({"format": "ddsp_ref.checkpoint", "version": 99}).encode()
    np.savez(tmp_path / "ckpt-2.npz", **{"meta.json": np.frombuffer(meta, np.uint8)})
    with pytest.raises(ValueError, match="version 99"):
        load_checkpoint(tmp_path / "ckpt-2.npz")


# -- processes killed mid-write and after a save ---------------------------------------------
def _python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def _killed_mid_save(folder: str) -> None:
    """Child: save step 1, then start saving step 2 and SIGKILL itself after the first array
    of the archive is written (numpy's array writer wrapped; ddsp_ref's code untouched)."""
    import numpy.lib.format as npy_format

    save_checkpoint(folder, 1, _params(), _opt_state())
    write = npy_format.write_array

    def write_then_die(fid, array, *args, **kwargs):
        write(fid, array, *args, **kwargs)
        if array.nbytes > 2**20:  # past any write buffer: bytes are in the temporary file
            os.kill(os.getpid(), signal.SIGKILL)

    npy_format.write_array = write_then_die
    save_checkpoint(folder, 2, {**_params(), "big": np.ones(2**18)}, _opt_state())


def test_writer_killed_mid_save_leaves_no_candidate(tmp_path):
    run = _python(
        f"from tests.training.test_checkpoints import _killed_mid_save as f; f({str(tmp_path)!r})"
    )
    assert run.returncode == -signal.SIGKILL, run.stderr
    leftovers = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert len(leftovers) == 1 and leftovers[0].startswith(".ckpt-2.npz.")
    assert os.path.getsize(tmp_path / leftovers[0]) > 0  # it died after writing something
    assert sorted(n for n in os.listdir(tmp_path) if not n.endswith(".tmp")) == ["ckpt-1.npz"]
    assert latest_checkpoint(tmp_path) == str(tmp_path / "ckpt-1.npz")
    _assert_trees_equal(load_checkpoint(tmp_path)[1], _params())
    save_checkpoint(tmp_path, 2, _params(), _opt_state())  # the next save sweeps the leftover
    assert sorted(os.listdir(tmp_path)) == ["ckpt-1.npz", "ckpt-2.npz"]


CLIP = 2.5
N_DATA, BATCH = 64, 8


def _toy():
    """FcStackOut regression of sin(sum(x)) with Adam, decay and clipping (ddsp's recipe)."""
    model = nn.FcStackOut(16, 2, 1, seed=0, input_size=3)
    x = np.random.default_rng(7).normal(size=(N_DATA, 3)).astype(np.float32)
    y = np.sin(x.sum(-1, keepdims=True))
    return model, x, y, Adam(ExponentialDecay(0.02, decay_steps=4, decay_rate=0.5))


def _train(toy, params, state, rng, n_steps):
    model, x_all, y_all, opt = toy
    losses, norms = [], []
    for _ in range(n_steps):
        idx = rng.integers(0, N_DATA, size=BATCH)
        x, y = x_all[idx], y_all[idx]
        loss, grads = value_and_grad(_mse, argnums=0)(params, model, x, y)
        grads, norm = clip_by_global_norm(grads, CLIP)
        params, state = opt.update(params, grads, state)
        losses.append(float(loss))
        norms.append(float(norm))
    return params, state, losses, norms


def _mse(params, model, x, y):
    return ops.mean(ops.square(model.apply(params, x) - y))


def _resume_child(folder: str, phase: int) -> None:
    """Phase 1: 10 steps from scratch, save, SIGKILL. Phase 2: load, 10 more steps, save."""
    toy = _toy()
    if phase == 1:
        params, rng = toy[0].parameters(), np.random.default_rng(1234)
        state = toy[3].init(params)
    else:
        _, params, state, rng_state = load_checkpoint(folder)
        rng = np.random.default_rng()
        rng.bit_generator.state = rng_state
    params, state, losses, _ = _train(toy, params, state, rng, 10)
    with atomic_write(os.path.join(folder, f"losses-{phase}.json"), "w") as f:
        json.dump(losses, f)
    save_checkpoint(folder, 10 * phase, params, state, rng.bit_generator.state)
    if phase == 1:
        os.kill(os.getpid(), signal.SIGKILL)


def test_exact_resume_after_sigkill(tmp_path):
    toy = _toy()
    params0 = toy[0].parameters()
    straight = _train(toy, params0, toy[3].init(params0), np.random.default_rng(1234), 20)
    params, state, losses, norms = straight
    assert min(norms) < CLIP < max(norms) and losses[-1] < losses[0]  # clips sometimes; learns

    for phase, code in ((1, -signal.SIGKILL), (2, 0)):
        run = _python(
            "from tests.training.test_checkpoints import _resume_child as f; "
            f"f({str(tmp_path)!r}, {phase})"
        )
        assert run.returncode == code, run.stderr
    resumed = [json.loads((tmp_path / f"losses-{p}.json").read_text()) for p in (1, 2)]
    assert resumed[0] + resumed[1] == losses  # bit for bit, every step
    step, got_params, got_state, _ = load_checkpoint(tmp_path)
    assert step == 20 and got_state["step"] == 20
    _assert_trees_equal(got_params, params)
    _assert_trees_equal(got_state, state)
