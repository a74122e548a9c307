"""ddsp_ref.training.eval_util on a tiny Autoencoder with real checkpoints from Trainer.save: the
checkpoint is restored, metrics of a sine-tone dataset (near-perfect pitch accuracy when the
model's audio is its input), eval_metrics.jsonl, sample files, run_once / waiting for new
checkpoints / run_until_step, num_batches, and folders without checkpoints."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time

import numpy as np
import pytest
import soundfile

from ddsp_ref.autodiff import tree_flatten
from ddsp_ref.spectral_ops import compute_loudness
from ddsp_ref.training import eval_util, evaluators
from ddsp_ref.training.checkpoints import load_checkpoint
from ddsp_ref.training.data import InMemoryProvider
from ddsp_ref.training.trainers import Trainer

from .test_trainers import FRAMES, N_SAMPLES, tiny_model

SR = 16000
RATE = SR * FRAMES // N_SAMPLES  # 200 frames per second: hop 80 samples
FREQS = [196.0, 247.0, 294.0, 349.0, 392.0, 440.0]


def tone_examples():
    t = np.arange(N_SAMPLES) / SR
    audio = np.stack([0.3 * np.sin(2 * np.pi * f * t) for f in FREQS]).astype(np.float32)
    loudness = np.asarray(compute_loudness(audio, SR, RATE))[:, :FRAMES]
    return {
        "audio": audio,
        "f0_hz": np.repeat(np.array(FREQS, np.float32)[:, None], FRAMES, axis=1),
        "f0_confidence": np.ones((len(FREQS), FRAMES), np.float32),
        "loudness_db": loudness.astype(np.float32),
    }


def provider():
    return InMemoryProvider(tone_examples(), sample_rate=SR, frame_rate=RATE)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A training folder with ckpt-2 and ckpt-4, and a ckpt-6 kept aside (for arrivals)."""
    folder = tmp_path_factory.mktemp("train")
    aside = tmp_path_factory.mktemp("aside")
    trainer = Trainer(tiny_model(), learning_rate=0.01)
    batch = {k: v[:2] for k, v in tone_examples().items()}
    for step in range(1, 7):
        trainer.train_step(batch)
        if step in (2, 4):
            trainer.save(folder)
    trainer.save(aside)
    return str(folder), os.path.join(str(aside), "ckpt-6.npz")


def echo_model():
    """The tiny Autoencoder whose 'generated' audio is its input audio."""
    model = tiny_model()
    model.get_audio_from_outputs = lambda outputs: outputs["audio"]
    return model


def _lines(folder):
    with open(os.path.join(folder, eval_util.EVAL_METRICS_FILE), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _leaves(tree):
    return [np.asarray(x) for x in tree_flatten(tree)[0]]


def test_evaluate_restores_the_latest_checkpoint_and_measures_the_tones(run_dir, tmp_path):
    ckpts, _ = run_dir
    model = echo_model()
    classes = [evaluators.BasicEvaluator, evaluators.F0LdEvaluator]
    result = eval_util.evaluate(provider(), model, classes, save_dir=str(tmp_path),
                                restore_dir=ckpts, batch_size=2, num_batches=2,
                                run_once=True)  # fmt: skip
    assert result["step"] == 4 and result["checkpoint"].endswith("ckpt-4.npz")
    # the model now holds checkpoint 4's parameters
    _, params, _, _ = load_checkpoint(os.path.join(ckpts, "ckpt-4.npz"))
    for got, want in zip(_leaves(model.parameters()), _leaves(params), strict=True):
        np.testing.assert_array_equal(got, want)
    # the model's audio is the input: the tracker finds the tones, loudness matches exactly
    assert result["metrics/f0_crepe/raw_pitch_accuracy"] > 0.95
    assert result["metrics/f0_crepe/outlier_ratio"] == 0.0
    assert result["metrics/loudness/loudness_db"] == pytest.approx(0.0, abs=1e-4)
    # as ddsp, training=False: the Autoencoder computes no losses, total_loss is 0
    assert result["losses/total_loss"] == 0.0
    assert _lines(str(tmp_path)) == [pytest.approx(result)]


def test_training_flag_adds_the_autoencoder_losses(run_dir, tmp_path):
    ckpts, _ = run_dir
    result = eval_util.evaluate(provider(), tiny_model(), [evaluators.BasicEvaluator],
                                save_dir=str(tmp_path), restore_dir=ckpts, batch_size=3,
                                num_batches=1, run_once=True, training=True)  # fmt: skip
    assert result["losses/spectral_loss"] > 0
    assert result["losses/total_loss"] == pytest.approx(result["losses/spectral_loss"])


class Recording(evaluators.BaseEvaluator):
    """Records the first f0 of each batch it sees and the steps of its flushes."""

    seen: list = []

    def evaluate(self, batch, outputs, losses):
        Recording.seen.append(float(batch["f0_hz"][0, 0]))

    def sample(self, batch, outputs, step):
        pass

    def flush(self, step):
        return {"metrics/recording/batches": float(len(Recording.seen))}


def test_num_batches_and_all_batches(run_dir, tmp_path):
    ckpts, _ = run_dir
    Recording.seen = []
    eval_util.evaluate(provider(), tiny_model(), [Recording], save_dir=str(tmp_path),
                       restore_dir=ckpts, batch_size=2, num_batches=2, run_once=True)  # fmt: skip
    assert Recording.seen == FREQS[0:4:2]  # unshuffled, two batches of two
    Recording.seen = []
    eval_util.evaluate(provider(), tiny_model(), [Recording], save_dir=str(tmp_path),
                       restore_dir=ckpts, batch_size=2, num_batches=-1, repeats=1,
                       run_once=True)  # fmt: skip
    assert Recording.seen == FREQS[0::2]  # the whole data once: 3 batches
    with pytest.raises(ValueError, match="finite repeats"):
        eval_util.evaluate(provider(), tiny_model(), [Recording], restore_dir=ckpts,
                           num_batches=0, run_once=True)  # fmt: skip


def test_waits_for_new_checkpoints_until_run_until_step(run_dir, tmp_path):
    ckpts, ckpt6 = run_dir
    folder = tmp_path / "live"
    shutil.copytree(ckpts, folder)

    def arrive():
        time.sleep(1.5)
        shutil.copy(ckpt6, folder / ".incoming")
        os.replace(folder / ".incoming", folder / "ckpt-6.npz")  # appears complete

    Recording.seen = []
    thread = threading.Thread(target=arrive)
    thread.start()
    try:
        result = eval_util.evaluate(provider(), tiny_model(), [Recording],
                                    save_dir=str(tmp_path / "eval"), restore_dir=str(folder),
                                    batch_size=2, num_batches=1, run_until_step=6,
                                    timeout_secs=60)  # fmt: skip
    finally:
        thread.join()
    assert result["step"] == 6
    lines = _lines(str(tmp_path / "eval"))
    assert [line["step"] for line in lines] == [4, 6]  # the latest only, then the new one
    assert Recording.seen == [FREQS[0], FREQS[0]]  # the same first batch for each checkpoint


def test_checkpoints_iterator_yields_the_latest_and_stops_after_timeout(run_dir):
    ckpts, _ = run_dir
    start = time.monotonic()
    paths = list(eval_util.checkpoints_iterator(ckpts, timeout=0.3))
    assert [os.path.basename(p) for p in paths] == ["ckpt-4.npz"]
    assert 0.25 < time.monotonic() - start < 5


def test_folder_without_checkpoints(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    args = (provider(), tiny_model(), [evaluators.BasicEvaluator])
    with pytest.raises(FileNotFoundError, match="no checkpoint ckpt-<step>.npz in"):
        eval_util.evaluate(*args, save_dir=str(tmp_path), restore_dir=str(empty), run_once=True)
    with pytest.raises(FileNotFoundError, match=r"within 0\.2 s"):
        eval_util.evaluate(*args, save_dir=str(tmp_path), restore_dir=str(tmp_path / "missing"),
                           timeout_secs=0.2)  # fmt: skip
    assert not (tmp_path / eval_util.EVAL_METRICS_FILE).exists()


def test_sample_writes_wavs_and_pngs_of_the_model_audio(run_dir, tmp_path):
    ckpts, _ = run_dir
    shutil.copytree(ckpts, tmp_path, dirs_exist_ok=True)  # restore_dir defaults to save_dir
    result = eval_util.sample(provider(), tiny_model(), [evaluators.BasicEvaluator],
                              save_dir=str(tmp_path), batch_size=2, num_batches=1,
                              run_once=True)  # fmt: skip
    assert result is None  # sample mode measures nothing
    assert not (tmp_path / eval_util.EVAL_METRICS_FILE).exists()
    folder = tmp_path / evaluators.SAMPLES_DIR
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"step4_ex{i}_{kind}" for i in range(2)
        for kind in ("original.wav", "generated.wav", "spectrogram.png")
    )  # fmt: skip
    examples = tone_examples()
    for i in range(2):
        generated, sr = soundfile.read(folder / f"step4_ex{i}_generated.wav", dtype="float32")
        original, _ = soundfile.read(folder / f"step4_ex{i}_original.wav", dtype="float32")
        assert sr == SR and generated.shape == (N_SAMPLES,)
        assert np.all(np.isfinite(generated)) and np.sqrt(np.mean(generated**2)) > 1e-4
        np.testing.assert_array_equal(original, examples["audio"][i])


def test_evaluate_and_sample_with_a_summary_writer(run_dir, tmp_path):
    ckpts, _ = run_dir

    class Writer:
        def __init__(self):
            self.tags, self.flushes = [], 0

        def add_scalar(self, tag, value, step):
            self.tags.append((tag, step))

        def add_audio(self, tag, samples, step, sample_rate=44100):
            self.tags.append((tag, step))

        def add_image(self, tag, img, step, dataformats="CHW"):
            self.tags.append((tag, step))

        def flush(self):
            self.flushes += 1

    writer = Writer()
    result = eval_util.evaluate(provider(), tiny_model(), [evaluators.BasicEvaluator],
                                save_dir=str(tmp_path), restore_dir=ckpts, batch_size=2,
                                num_batches=1, run_once=True, evaluate_and_sample=True,
                                summary_writer=writer)  # fmt: skip
    assert ("losses/total_loss", 4) in writer.tags and ("audio_generated/1", 4) in writer.tags
    assert ("spectrogram/0", 4) in writer.tags and writer.flushes == 1
    assert result["losses/total_loss"] == 0.0
    assert (tmp_path / evaluators.SAMPLES_DIR / "step4_ex1_generated.wav").exists()


def test_a_checkpoint_pruned_before_reading_is_skipped(run_dir, tmp_path, monkeypatch):
    ckpts, _ = run_dir

    def vanished(model, path):
        raise FileNotFoundError(f"load_checkpoint: no such checkpoint file: {path}")

    monkeypatch.setattr(eval_util, "restore_model", vanished)
    with pytest.warns(UserWarning, match="disappeared"):
        with pytest.raises(FileNotFoundError, match="no checkpoint"):
            eval_util.evaluate(provider(), tiny_model(), [evaluators.BasicEvaluator],
                               save_dir=str(tmp_path), restore_dir=ckpts, batch_size=2,
                               num_batches=1, run_once=True)  # fmt: skip
    assert not (tmp_path / eval_util.EVAL_METRICS_FILE).exists()
