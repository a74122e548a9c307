"""ddsp_ref.training.trainers.Trainer and train_util.train on a tiny solo_instrument-like model
(0.25 s at 16 kHz, 50 frames, no noise synth so every call is deterministic): the loss falls, one
step equals clipping + decayed-rate Adam written out in float64 numpy, save/restore continues
with identical losses, restore_keys restores one sub-module, and the loop's checkpoints,
metrics, early stop, resume and Ctrl-C."""

from __future__ import annotations

import json
import math
import os
import tempfile

import numpy as np
import pytest

from ddsp_ref.autodiff import tree_flatten, value_and_grad
from ddsp_ref.losses import SpectralLoss
from ddsp_ref.training import train_util
from ddsp_ref.training.checkpoints import load_checkpoint
from ddsp_ref.training.data import InMemoryProvider
from ddsp_ref.training.trainers import Trainer

from .test_models import ToyZEncoder, make_features, make_model

N_SAMPLES, FRAMES = 4000, 50


def tiny_model():
    return make_model(n_samples=N_SAMPLES, frames=FRAMES, noise=False, losses=SpectralLoss())


@pytest.fixture(scope="module")
def batch():
    return make_features(n_samples=N_SAMPLES, frames=FRAMES)


def _leaves(tree):
    return [np.asarray(x) for x in tree_flatten(tree)[0]]


def _assert_trees_equal(a, b):
    la, lb = _leaves(a), _leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


def test_train_step_lowers_the_loss(batch):
    trainer = Trainer(tiny_model(), learning_rate=0.003)  # 0.01 overshoots after 6 steps
    assert trainer.step == 0
    history = [trainer.train_step(batch) for _ in range(10)]
    assert trainer.step == 10
    assert all(isinstance(v, float) for h in history for v in h.values())
    assert all(h["total_loss"] == h["spectral_loss"] for h in history)
    totals = [h["total_loss"] for h in history]
    assert all(b < a for a, b in zip(totals, totals[1:]))
    assert totals[-1] < 0.7 * totals[0]


def _hand_steps(model, batch, lr, decay_steps, decay_rate, clip, n_steps):
    """Clipping and Adam (keras' form, continuous decay) as float64 numpy formulas."""
    model(batch)
    params = model.parameters()
    flat, rebuild = tree_flatten(params)
    p64 = [np.asarray(p, np.float64) for p in flat]
    m = [np.zeros_like(p) for p in p64]
    v = [np.zeros_like(p) for p in p64]
    b1, b2, eps = 0.9, 0.999, 1e-7
    for step in range(n_steps):
        current = rebuild([p.astype(np.float32) for p in p64])
        _, grads = value_and_grad(lambda p: model.apply(p, batch)[1]["total_loss"])(current)
        g = [np.asarray(x, np.float64) for x in tree_flatten(grads)[0]]
        norm = math.sqrt(sum(float(np.sum(x**2)) for x in g))
        assert norm > clip  # the clipping is exercised
        g = [x * clip / norm for x in g]
        t = step + 1
        rate = lr * decay_rate ** (step / decay_steps)
        for i in range(len(p64)):
            m[i] = b1 * m[i] + (1 - b1) * g[i]
            v[i] = b2 * v[i] + (1 - b2) * g[i] ** 2
            alpha = rate * math.sqrt(1 - b2**t) / (1 - b1**t)
            p64[i] = p64[i] - alpha * m[i] / (np.sqrt(v[i]) + eps)
    return p64


def test_steps_apply_clipping_and_the_decayed_learning_rate(batch):
    # A fast decay (x0.25 per step) and a small clip norm, so both visibly matter.
    settings = dict(learning_rate=0.02, lr_decay_steps=1, lr_decay_rate=0.25, grad_clip_norm=0.05)
    trainer = Trainer(tiny_model(), **settings)
    for _ in range(3):
        trainer.train_step(batch)
    expected = _hand_steps(tiny_model(), batch, 0.02, 1, 0.25, 0.05, 3)
    got = _leaves(trainer.model.parameters())
    for g, e in zip(got, expected):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, e, rtol=2e-4, atol=2e-6)
    # A different rate or no clipping gives other parameters (the check can fail).
    wrong = _hand_steps(tiny_model(), batch, 0.02, 1, 1.0, 0.05, 3)
    assert max(float(np.max(np.abs(w - e))) for w, e in zip(wrong, expected)) > 1e-3
    assert trainer.learning_rate(2) == pytest.approx(0.02 * 0.25**2)


def test_save_restore_continues_with_identical_losses(batch, tmp_path):
    straight = Trainer(tiny_model(), learning_rate=0.01)
    reference = [straight.train_step(batch)["total_loss"] for _ in range(6)]

    first = Trainer(tiny_model(), learning_rate=0.01)
    head = [first.train_step(batch)["total_loss"] for _ in range(3)]
    first.rng.standard_normal(5)  # the RNG state travels with the checkpoint
    path = first.save(tmp_path)
    assert os.path.basename(path) == "ckpt-3.npz"

    resumed = Trainer(tiny_model(), learning_rate=0.01)
    resumed.build(batch)
    assert resumed.restore(tmp_path) == path
    assert resumed.step == 3
    _assert_trees_equal(resumed.model.parameters(), first.model.parameters())
    _assert_trees_equal(resumed.opt_state["m"], first.opt_state["m"])
    _assert_trees_equal(resumed.opt_state["v"], first.opt_state["v"])
    np.testing.assert_array_equal(resumed.rng.standard_normal(3), first.rng.standard_normal(3))
    tail = [resumed.train_step(batch)["total_loss"] for _ in range(3)]
    assert head + tail == reference
    assert resumed.step == 6


def test_restore_keys_restore_only_the_named_submodule(batch, tmp_path):
    trained = Trainer(tiny_model(), learning_rate=0.05)
    for _ in range(3):
        trained.train_step(batch)
    trained.save(tmp_path)
    fresh_model = tiny_model()
    fresh_model(batch)
    untouched = fresh_model.parameters()["decoder"]
    target = Trainer(tiny_model(), restore_keys=["processor_group"])
    target.build(batch)
    target.restore(tmp_path)
    params = target.model.parameters()
    _assert_trees_equal(params["processor_group"], trained.model.parameters()["processor_group"])
    _assert_trees_equal(params["decoder"], untouched)
    assert target.step == 0  # optimiser state and step are not restored with restore_keys
    # The argument overrides the attribute.
    target.restore(tmp_path, restore_keys=["decoder"])
    _assert_trees_equal(target.model.parameters()["decoder"], trained.model.parameters()["decoder"])
    with pytest.raises(KeyError, match="encoder"):
        target.restore(tmp_path, restore_keys=["encoder"])


def test_restore_checks_and_missing_checkpoints(batch, tmp_path):
    trainer = Trainer(tiny_model())
    with pytest.raises(RuntimeError, match="build"):
        trainer.restore(tmp_path)
    trainer.build(batch)
    assert trainer.restore(tmp_path) is None  # empty folder: nothing restored, as ddsp
    assert trainer.step == 0
    trainer.train_step(batch)
    trainer.save(tmp_path)
    # A model with an encoder has one more decoder input stack: another parameter tree.
    other = Trainer(make_model(N_SAMPLES, FRAMES, noise=False, encoder=ToyZEncoder()))
    other.build(batch)
    with pytest.raises(ValueError, match="do not match"):
        other.restore(tmp_path)
    with pytest.raises(ValueError, match="strategy"):
        Trainer(tiny_model(), strategy="mirrored")
    with pytest.raises(RuntimeError, match="build"):
        Trainer(tiny_model()).save(tmp_path)


class Recording:
    """A Trainer wrapper recording each step's losses; may raise KeyboardInterrupt at a step."""

    def __init__(self, trainer, interrupt_at=None):
        self.trainer, self.interrupt_at, self.history = trainer, interrupt_at, []

    def __getattr__(self, name):
        return getattr(self.trainer, name)

    def train_step(self, batch):
        if self.interrupt_at is not None and self.trainer.step == self.interrupt_at:
            raise KeyboardInterrupt
        losses = self.trainer.train_step(batch)
        self.history.append(losses)
        return losses


def _provider(batch):
    return InMemoryProvider({k: np.repeat(v, 2, axis=0) for k, v in batch.items()})


def _ckpt_steps(folder):
    return sorted(int(n[5:-4]) for n in os.listdir(folder) if n.startswith("ckpt-"))


def test_train_writes_checkpoints_metrics_and_resumes(batch, tmp_path):
    save_dir = str(tmp_path / "run")
    run = Recording(Trainer(tiny_model(), learning_rate=0.01))
    train_util.train(_provider(batch), run, batch_size=1, num_steps=7, steps_per_summary=3,
                     steps_per_save=2, save_dir=save_dir, restore_dir=save_dir)  # fmt: skip
    assert run.step == 7 and len(run.history) == 7
    assert _ckpt_steps(save_dir) == [2, 4, 6, 7]  # every 2 steps and at the end
    with open(os.path.join(save_dir, "metrics.jsonl")) as f:
        lines = [json.loads(line) for line in f]
    assert [line["step"] for line in lines] == [3, 6]
    for line, chunk in zip(lines, (run.history[0:3], run.history[3:6])):
        assert line["total_loss"] == pytest.approx(np.mean([h["total_loss"] for h in chunk]))
        assert line["spectral_loss"] == pytest.approx(line["total_loss"])
        assert line["steps_per_sec"] > 0
    step, params, _, _ = load_checkpoint(save_dir)
    assert step == 7
    _assert_trees_equal(params, run.model.parameters())

    # A new process: fresh model and trainer, restored from save_dir, continues the count up
    # to num_steps (a total, as in ddsp).
    resumed = Recording(Trainer(tiny_model(), learning_rate=0.01))
    train_util.train(_provider(batch), resumed, batch_size=1, num_steps=10, steps_per_summary=3,
                     steps_per_save=100, save_dir=save_dir, restore_dir=save_dir)  # fmt: skip
    assert resumed.step == 10
    assert _ckpt_steps(save_dir) == [2, 4, 6, 7, 10]
    with open(os.path.join(save_dir, "metrics.jsonl")) as f:
        assert [json.loads(line)["step"] for line in f] == [3, 6, 9]
    # Every example is the same, so the resumed run continues the straight one exactly.
    straight = Trainer(tiny_model(), learning_rate=0.01)
    losses = [straight.train_step(batch)["total_loss"] for _ in range(10)]
    assert [h["total_loss"] for h in resumed.history] == losses[7:]
    # Already at num_steps: restored, nothing trained, nothing new written.
    again = Recording(Trainer(tiny_model(), learning_rate=0.01))
    train_util.train(_provider(batch), again, batch_size=1, num_steps=10, steps_per_save=1,
                     save_dir=save_dir, restore_dir=save_dir)  # fmt: skip
    assert again.step == 10 and again.history == []
    assert _ckpt_steps(save_dir) == [2, 4, 6, 7, 10]


def test_train_early_stop_and_ctrl_c_save_and_return(batch, tmp_path):
    stop_dir = str(tmp_path / "stop")
    run = Recording(Trainer(tiny_model(), learning_rate=0.01))
    first = Trainer(tiny_model(), learning_rate=0.01)
    losses = [first.train_step(batch)["total_loss"] for _ in range(4)]
    threshold = (losses[2] + losses[3]) / 2 if losses[3] < losses[2] else losses[3]
    assert all(x > threshold for x in losses[:3])
    train_util.train(_provider(batch), run, batch_size=1, num_steps=50, steps_per_summary=100,
                     steps_per_save=100, save_dir=stop_dir, restore_dir=stop_dir,
                     early_stop_loss_value=threshold)  # fmt: skip
    assert run.step == 4  # stopped at the first loss at or below the threshold
    assert _ckpt_steps(stop_dir) == [4]
    assert not os.path.exists(os.path.join(stop_dir, "metrics.jsonl"))

    interrupted_dir = str(tmp_path / "interrupted")
    run = Recording(Trainer(tiny_model(), learning_rate=0.01), interrupt_at=3)
    train_util.train(_provider(batch), run, batch_size=1, num_steps=50, steps_per_save=2,
                     save_dir=interrupted_dir, restore_dir=interrupted_dir)  # fmt: skip
    assert run.step == 3 and len(run.history) == 3
    assert _ckpt_steps(interrupted_dir) == [2, 3]
    assert load_checkpoint(interrupted_dir)[0] == 3


def test_operative_gin_config_is_saved_beside_the_checkpoint(batch, tmp_path):
    gin = pytest.importorskip("gin")
    trainer = Trainer(tiny_model())
    trainer.train_step(batch)
    trainer.save(tmp_path)
    with open(tmp_path / "operative_config-1.gin") as f:
        assert f.read() == gin.operative_config_str()


def test_get_latest_checkpoint(batch, tmp_path):
    assert train_util.get_latest_checkpoint(tmp_path) is None
    trainer = Trainer(tiny_model())
    trainer.train_step(batch)
    path = trainer.save(tmp_path)
    trainer.train_step(batch)
    newest = trainer.save(tmp_path)
    assert train_util.get_latest_checkpoint(tmp_path) == newest
    assert train_util.get_latest_checkpoint(path) == path


def test_gin_bindings_configure_the_trainer_and_the_loop(batch, tmp_path):
    gin = pytest.importorskip("gin")
    gin.clear_config()
    try:
        gin.parse_config(
            "trainers.Trainer.grad_clip_norm = 1.5\n"
            "trainers.Trainer.learning_rate = 0.0003\n"
            "train_util.train.steps_per_save = 2\n"
        )
        trainer = Trainer(tiny_model())
        assert trainer.grad_clip_norm == 1.5 and trainer.learning_rate(0) == 0.0003
        train_util.train(_provider(batch), trainer, batch_size=1, num_steps=3,
                         save_dir=str(tmp_path), restore_dir=str(tmp_path))  # fmt: skip
        assert _ckpt_steps(tmp_path) == [2, 3]
        with open(tmp_path / "operative_config-3.gin") as f:
            config = f.read()
        assert "grad_clip_norm = 1.5" in config and "steps_per_save = 2" in config
    finally:
        gin.clear_config()


def test_train_on_synthetic_notes(tmp_path):
    from ddsp_ref.training.data import SyntheticNotes

    data = SyntheticNotes(n_timesteps=FRAMES, n_harmonics=8, n_mags=5, seed=3)
    model = make_model(n_samples=data.n_samples, frames=FRAMES, noise=False, losses=SpectralLoss())
    run = Recording(Trainer(model, learning_rate=0.003))
    folder = str(tmp_path)
    train_util.train(data, run, batch_size=2, num_steps=4, steps_per_summary=2,
                     steps_per_save=100, save_dir=folder, restore_dir=folder)  # fmt: skip
    assert run.step == 4 and _ckpt_steps(tmp_path) == [4]
    totals = [h["total_loss"] for h in run.history]
    assert all(np.isfinite(totals)) and len(set(totals)) == 4  # four different batches
    with open(tmp_path / "metrics.jsonl") as f:
        assert [json.loads(line)["step"] for line in f] == [2, 4]


def test_defaults_are_ddsps():
    import inspect

    trainer = inspect.signature(Trainer.__init__).parameters
    assert {k: trainer[k].default for k in list(trainer)[2:9]} == {
        "strategy": None, "checkpoints_to_keep": 100, "learning_rate": 0.001,
        "lr_decay_steps": 10000, "lr_decay_rate": 0.98, "grad_clip_norm": 3.0,
        "restore_keys": None,
    }  # fmt: skip
    train = inspect.signature(train_util.train).parameters
    assert {k: train[k].default for k in list(train)[2:8]} == {
        "batch_size": 32, "num_steps": 1000000, "steps_per_summary": 300, "steps_per_save": 300,
        "save_dir": os.path.join(tempfile.gettempdir(), "ddsp"),
        "restore_dir": os.path.join(tempfile.gettempdir(), "ddsp"),
    }  # fmt: skip
    assert train["early_stop_loss_value"].default is None
