"""Data providers: ddsp's TFRecords without TensorFlow, batching, shuffling, synthetic notes."""

from __future__ import annotations

import io
import os
import shutil
import struct
import sys

import numpy as np
import pytest

from ddsp_ref.training import tfrecord
from ddsp_ref.training.data import InMemoryProvider, SyntheticNotes, TFRecordProvider

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")
sys.path.insert(0, DATA)
from tfrecord_fixture_values import (  # noqa: E402
    EXAMPLE_SECS,
    EXAMPLES_PER_FILE,
    FILES,
    example_values,
)

PATTERN = os.path.join(DATA, "ddsp_tfrecord", "train.tfrecord-*")


def test_crc32c_known_values():
    assert tfrecord.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert tfrecord.crc32c(b"") == 0
    assert tfrecord.crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4: 32 bytes of zeros


def test_tfrecord_fixture_reads_to_the_recorded_values():
    provider = TFRecordProvider(PATTERN, example_secs=EXAMPLE_SECS)
    assert provider.n_examples == len(FILES) * EXAMPLES_PER_FILE
    examples = list(provider.get_dataset(shuffle=False))
    for i in range(len(FILES)):
        for j in range(EXAMPLES_PER_FILE):
            got, want = examples[i * EXAMPLES_PER_FILE + j], example_values(i, j)
            assert set(got) == set(want)
            for k in want:
                np.testing.assert_array_equal(got[k], want[k])
    batch = next(provider.get_batch(3, shuffle=False, repeats=1))
    assert batch["audio"].shape == (3, 8000) and batch["f0_hz"].shape == (3, 125)


def test_tfrecord_wrong_lengths_and_corruption_are_errors(tmp_path):
    with pytest.raises(ValueError, match="'audio' should have 64000 values, got 8000"):
        TFRecordProvider(PATTERN).example(0)
    with pytest.raises(FileNotFoundError):
        TFRecordProvider(str(tmp_path / "none*"))
    broken = tmp_path / "broken.tfrecord"
    shutil.copy(os.path.join(DATA, "ddsp_tfrecord", FILES[0]), broken)
    data = bytearray(broken.read_bytes())
    data[1000] ^= 0x01  # one flipped bit inside the first record's data
    broken.write_bytes(bytes(data))
    provider = TFRecordProvider(str(broken), example_secs=EXAMPLE_SECS)
    with pytest.raises(ValueError, match="data CRC mismatch"):
        provider.example(0)
    provider.example(1)  # the other record is intact
    broken.write_bytes(bytes(data[:-10]))
    with pytest.raises(ValueError, match="truncated"):
        TFRecordProvider(str(broken), example_secs=EXAMPLE_SECS)


def _varint(n: int) -> bytes:
    out = b""
    while True:
        if n < 0x80:
            return out + bytes([n])
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7


def _ld(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def test_example_parser_unpacked_and_int64_and_bytes_lists():
    """Hand-encoded protobuf: unpacked floats, negative int64s and bytes are decoded too."""
    floats = b"".join(_varint(1 << 3 | 5) + struct.pack("<f", v) for v in (1.5, -2.0))
    ints = _ld(1, _varint(7) + _varint((1 << 64) - 3))  # packed: 7, -3
    features = b"".join(
        _ld(1, _ld(1, key) + _ld(2, _ld(kind, payload)))
        for key, kind, payload in ((b"f", 2, floats), (b"i", 3, ints), (b"b", 1, _ld(1, b"xy")))
    )
    parsed = tfrecord.parse_example(_ld(1, features))
    np.testing.assert_array_equal(parsed["f"], np.array([1.5, -2.0], np.float32))
    np.testing.assert_array_equal(parsed["i"], [7, -3])
    assert parsed["b"] == [b"xy"]
    buf = io.BytesIO()
    tfrecord.write_record(buf, b"payload")
    path_bytes = buf.getvalue()
    assert struct.unpack("<Q", path_bytes[:8])[0] == 7 and path_bytes[12:19] == b"payload"


def _provider(n=10):
    return InMemoryProvider({"x": np.arange(n, dtype=np.float32)[:, None] * np.ones(3)}, seed=3)


def test_get_batch_epochs_are_seeded_permutations():
    provider = _provider()
    batches = list(provider.get_batch(4, shuffle=True, repeats=3, drop_remainder=False))
    order = np.concatenate([b["x"][:, 0] for b in batches]).astype(int)
    assert [len(b["x"]) for b in batches] == [4] * 7 + [2]
    for epoch in range(3):  # each epoch visits every example once
        assert sorted(order[epoch * 10 : (epoch + 1) * 10]) == list(range(10))
    assert list(order[:10]) != list(order[10:20])  # a new permutation per epoch
    again = np.concatenate(
        [b["x"][:, 0] for b in _provider().get_batch(4, repeats=3, drop_remainder=False)]
    )
    np.testing.assert_array_equal(order, again.astype(int))  # same seed, same order
    other = InMemoryProvider(provider.features, seed=4)
    assert list(next(other.get_batch(10, repeats=1))["x"][:, 0]) != list(order[:10])


def test_get_batch_remainder_endless_and_unshuffled():
    provider = _provider()
    assert len(list(provider.get_batch(4, shuffle=False, repeats=1))) == 2  # remainder dropped
    plain = next(provider.get_batch(10, shuffle=False, repeats=1))["x"][:, 0]
    np.testing.assert_array_equal(plain, np.arange(10))
    endless = provider.get_batch(3)  # repeats=-1: more batches than one epoch holds
    assert len([next(endless) for _ in range(20)]) == 20
    endless.close()
    with pytest.raises(ValueError, match="batch_size"):
        next(provider.get_batch(0))
    listed = InMemoryProvider([{"x": np.ones(2)}, {"x": np.zeros(2)}])
    assert listed.n_examples == 2
    with pytest.raises(ValueError, match="differ in example count"):
        InMemoryProvider({"a": np.zeros((2, 1)), "b": np.zeros((3, 1))})


def test_prefetch_passes_errors_to_the_consumer():
    class Failing(InMemoryProvider):
        def examples(self, indices):
            if 7 in list(indices):
                raise RuntimeError("disk on fire")
            return super().examples(indices)

    batches = Failing({"x": np.arange(10.0)[:, None]}).get_batch(1, shuffle=False, repeats=1)
    with pytest.raises(RuntimeError, match="disk on fire"):
        for _ in batches:
            pass


def test_synthetic_notes():
    provider = SyntheticNotes(n_timesteps=100, n_harmonics=20, n_mags=16, seed=1, n_examples=4)
    batch = next(provider.get_batch(2, shuffle=False))
    assert batch["audio"].shape == (2, 6400) and batch["harm_dist"].shape == (2, 100, 20)
    midi = 12 * np.log2(batch["f0_hz"] / 440.0) + 69
    assert midi.min() > 24 - 0.6 and midi.max() < 84 + 0.6  # 24-84 plus vibrato
    np.testing.assert_allclose(batch["harm_dist"].sum(-1), 1.0, rtol=1e-5)
    again = SyntheticNotes(n_timesteps=100, n_harmonics=20, n_mags=16, seed=1).example(0)
    np.testing.assert_array_equal(again["audio"], batch["audio"][0])
    # Silent notes are quiet: loudness on confidence-0 frames is far below the sounding ones.
    many = SyntheticNotes(n_timesteps=250, seed=2).examples(range(6))
    on = many["f0_confidence"] > 0.5
    assert (
        0 < (~on).sum()
        and np.median(many["loudness_db"][on]) > np.median(many["loudness_db"][~on]) + 20
    )
    with pytest.raises(FileNotFoundError, match="no file matches"):
        SyntheticNotes(file_pattern="x")  # files are read (test_synthetic_dataset.py)
