"""ddsp's ``ddsp_generate_synthetic_dataset`` as a numpy pipeline and ``SyntheticNotes`` reading
its TFRecords: a file written by TensorFlow from ddsp's own steps (record_inv_golden.py) is in
our Example format byte for byte, holds ddsp's notes for ddsp's seeds and reads back; shards,
seeds, bad records, training InverseSynthesis on (real, synthetic) pairs from providers."""

from __future__ import annotations

import numpy as np
import pytest

from ddsp_ref.training import tfrecord
from ddsp_ref.training.data import InMemoryProvider, SyntheticNotes
from ddsp_ref.training.data_multi import ZippedProvider
from ddsp_ref.training.data_preparation.synthetic_data import generate_notes
from ddsp_ref.training.data_preparation.synthetic_dataset import (
    example_seeds,
    generate_synthetic_dataset,
    main,
    shard_paths,
)

from .inv_setup import GOLDEN

SIZES = dict(n_timesteps=20, n_harmonics=8, n_mags=5)


def _fn(n_batch, seed):
    return generate_notes(n_batch, seed=seed, **SIZES)


def _tf_records(tmp_path):
    path = tmp_path / "tf.tfrecord"
    path.write_bytes(GOLDEN["synthetic_tfrecord"].tobytes())
    return str(path), [tfrecord.read_record(str(path), o, n)
                       for o, n in tfrecord.index_records(str(path))]  # fmt: skip


def test_example_format_is_tensorflows(tmp_path):
    """Our serialisation of TF's values is TF's record, byte for byte."""
    _, records = _tf_records(tmp_path)
    for data in records:
        assert tfrecord.float_example(tfrecord.parse_example(data)) == data


def test_seeds_and_examples_match_ddsp(tmp_path):
    np.testing.assert_array_equal(example_seeds(3, 42), GOLDEN["synthetic_seeds"])
    paths = generate_synthetic_dataset(str(tmp_path / "syn.tfrecord"), 1, 3, 42, _fn)
    assert paths == [str(tmp_path / "syn.tfrecord-00000-of-00001")]
    _, theirs = _tf_records(tmp_path)
    ours = [tfrecord.read_record(paths[0], o, n) for o, n in tfrecord.index_records(paths[0])]
    assert [len(r) for r in ours] == [len(r) for r in theirs]
    for a, b in zip(ours, theirs):
        a, b = tfrecord.parse_example(a), tfrecord.parse_example(b)
        assert list(a) == list(b)  # the same features in the same order
        for k in a:  # generate_notes matches ddsp to float32 rounding
            np.testing.assert_allclose(a[k], b[k], rtol=2e-6, atol=1e-6 * np.abs(b[k]).max())


def test_synthetic_notes_reads_the_tensorflow_file(tmp_path):
    path, _ = _tf_records(tmp_path)
    provider = SyntheticNotes(file_pattern=path, **SIZES)
    assert provider.n_examples == 3
    for i, seed in enumerate(GOLDEN["synthetic_seeds"]):
        want = generate_notes(1, seed=int(seed), **SIZES)
        got = provider.example(i)
        assert sorted(got) == sorted(want)
        for k, v in want.items():
            assert got[k].shape == v.shape[1:] and got[k].dtype == np.float32
            np.testing.assert_allclose(got[k], v[0], rtol=2e-6, atol=1e-6 * np.abs(v).max())


def test_shards_hold_every_example_once(tmp_path):
    prefix = str(tmp_path / "sub" / "notes")
    paths = generate_synthetic_dataset(prefix, 3, 7, 5, _fn)
    assert paths == shard_paths(prefix, 3) and paths[2].endswith("-00002-of-00003")
    counts = [len(tfrecord.index_records(p)) for p in paths]
    assert counts == [3, 2, 2]
    provider = SyntheticNotes(file_pattern=prefix + "-*", **SIZES)
    seeds = example_seeds(7, 5)
    order = [i for s in range(3) for i in range(s, 7, 3)]  # shard by shard
    for j, i in enumerate(order):
        want = generate_notes(1, seed=int(seeds[i]), **SIZES)["f0_hz"][0]
        np.testing.assert_array_equal(provider.example(j)["f0_hz"], want)
    batch = next(provider.get_batch(batch_size=4, shuffle=True))
    assert batch["sin_amps"].shape == (4, 20, 8)


def test_zero_examples_and_default_shards(tmp_path):
    paths = generate_synthetic_dataset(str(tmp_path / "empty"), None, 0, 1, _fn)
    assert len(paths) == 1 and len(tfrecord.index_records(paths[0])) == 0


def test_command_line(tmp_path, capsys):
    out = str(tmp_path / "cli")
    flags = ["--num_examples=2", "--num_shards=1", "--n_timesteps=20", "--n_harmonics=8",
             "--n_mags=5", "--random_seed=42"]  # fmt: skip
    paths = main([f"--output_tfrecord_path={out}"] + flags)
    records = [tfrecord.parse_example(tfrecord.read_record(paths[0], o, n))
               for o, n in tfrecord.index_records(paths[0])]  # fmt: skip
    assert len(records) == 2
    for record, seed in zip(records, GOLDEN["synthetic_seeds"]):  # ddsp's first two seeds
        np.testing.assert_array_equal(
            record["f0_hz"], generate_notes(1, seed=int(seed), **SIZES)["f0_hz"].reshape(-1)
        )
    assert "wrote 2 examples" in capsys.readouterr().out


def test_bad_records_and_arguments(tmp_path):
    generate_synthetic_dataset(str(tmp_path / "x"), 1, 1, 0, _fn)
    with pytest.raises(ValueError, match="'harm_dist' should have shape"):
        SyntheticNotes(file_pattern=str(tmp_path / "x*"), n_timesteps=20, n_harmonics=9,
                       n_mags=5).example(0)  # fmt: skip
    with pytest.raises(ValueError, match="num_shards"):
        generate_synthetic_dataset(str(tmp_path / "y"), 0, 1, 0, _fn)
    with pytest.raises(ValueError, match="num_examples"):
        generate_synthetic_dataset(str(tmp_path / "y"), 1, -1, 0, _fn)


def test_inverse_synthesis_trains_on_zipped_providers(tmp_path):
    from ddsp_ref.training.trainers import Trainer

    from .test_inverse_synthesis import _small_model

    prefix = str(tmp_path / "notes")
    generate_synthetic_dataset(prefix, 1, 4, 0, lambda n_batch, seed: generate_notes(
        n_batch, n_timesteps=8, n_harmonics=4, n_mags=5, seed=seed))  # fmt: skip
    synthetic = SyntheticNotes(n_timesteps=8, n_harmonics=4, n_mags=5, file_pattern=prefix + "*")
    audio = 0.1 * np.random.default_rng(0).standard_normal((4, 512)).astype(np.float32)
    real = InMemoryProvider({"audio": audio})
    batches = ZippedProvider([synthetic, real]).get_batch(batch_size=2, shuffle=False)
    m = _small_model(np.float32, n_samples=512, sample_rate=2000)
    trainer = Trainer(m)
    batch = next(batches)
    assert isinstance(batch, tuple) and "sin_amps" in batch[0] and "audio" in batch[1]
    losses = trainer.train_step(batch)
    assert "ss_harm_amp_loss" in losses and "sin_spectral_loss" in losses
    assert all(np.isfinite(v) for v in losses.values())
