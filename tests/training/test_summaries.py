"""summaries: the TensorBoard writer, checked by reading its event file back (record framing
with our TFRecord reader, events with tensorboardX's protobuf classes), and the no-op writer
used without tensorboardX."""

from __future__ import annotations

import glob
import io
import os

import numpy as np
import pytest

from ddsp_ref.training import summaries
from ddsp_ref.training.tfrecord import index_records, read_record


def read_events(folder):
    """Every (step, summary value) of the event files of ``folder`` (oldest file first)."""
    event_pb2 = pytest.importorskip("tensorboardX.proto.event_pb2")
    files = sorted(glob.glob(f"{folder}/events.out.tfevents.*"), key=os.path.getmtime)
    assert files
    out = []
    for path in files:
        for offset, length in index_records(path):  # CRCs checked by the reader
            event = event_pb2.Event.FromString(read_record(path, offset, length))
            for value in event.summary.value:
                out.append((event.step, value))
    return out


def test_scalars_audio_and_image_round_trip(tmp_path):
    pytest.importorskip("tensorboardX")
    sf = pytest.importorskip("soundfile")
    image_mod = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    audio = 0.5 * np.sin(np.linspace(0, 300, 1600))[None] * np.array([[1.0], [0.5]])
    image = rng.integers(0, 256, size=(8, 10, 3), dtype=np.uint8)
    with summaries.make_summary_writer(str(tmp_path)) as writer:
        assert isinstance(writer, summaries.TensorBoardWriter)
        writer.add_scalar("losses/total_loss", 2.5, 1)
        writer.add_scalar("losses/total_loss", np.float32(1.25), 2)
        writer.add_audio("audio/synth", audio, 2, sample_rate=16000)
        writer.add_image("spectrogram", image, 2)
        writer.flush()
    events = read_events(tmp_path)
    scalars = [(s, v.simple_value) for s, v in events if v.tag == "losses/total_loss"]
    assert scalars == [(1, 2.5), (2, 1.25)]
    clips = {v.tag: v.audio for s, v in events if v.HasField("audio")}
    assert sorted(clips) == ["audio/synth/0", "audio/synth/1"]
    for i in range(2):
        clip = clips[f"audio/synth/{i}"]
        assert (clip.sample_rate, clip.num_channels, clip.length_frames) == (16000, 1, 1600)
        decoded, rate = sf.read(io.BytesIO(clip.encoded_audio_string))
        assert rate == 16000
        np.testing.assert_allclose(decoded, audio[i], atol=1.0 / 32767 + 1e-9)
    (picture,) = [v.image for s, v in events if v.HasField("image")]
    assert (picture.height, picture.width) == (8, 10)
    decoded = np.asarray(image_mod.open(io.BytesIO(picture.encoded_image_string)))
    np.testing.assert_array_equal(decoded[..., :3], image)


def test_bad_shapes(tmp_path):
    pytest.importorskip("tensorboardX")
    with summaries.TensorBoardWriter(str(tmp_path)) as writer:
        with pytest.raises(ValueError, match=r"audio must be \[n_samples\]"):
            writer.add_audio("a", np.zeros((1, 2, 3)), 0)
        with pytest.raises(ValueError, match="image must be"):
            writer.add_image("i", np.zeros((4, 4, 2)), 0)


def test_without_tensorboardx_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr(summaries, "tensorboard_available", lambda: False)
    writer = summaries.make_summary_writer(str(tmp_path))
    assert type(writer) is summaries.NullSummaryWriter
    writer.add_scalar("x", 1.0, 1)
    writer.add_audio("a", np.zeros(10), 1)
    writer.add_image("i", np.zeros((2, 2)), 1)
    writer.flush()
    writer.close()
    assert list(tmp_path.iterdir()) == []


def test_no_save_dir_or_disabled_gives_the_null_writer(tmp_path):
    assert type(summaries.make_summary_writer(None)) is summaries.NullSummaryWriter
    assert type(summaries.make_summary_writer(str(tmp_path), enabled=False)) is (
        summaries.NullSummaryWriter
    )
    assert list(tmp_path.iterdir()) == []


def test_train_logs_its_loss_summaries_to_tensorboard(tmp_path):
    """train() writes each metrics.jsonl line's losses as TensorBoard scalars too."""
    pytest.importorskip("tensorboardX")
    import json

    from ddsp_ref.training import train_util
    from ddsp_ref.training.trainers import Trainer

    from .test_models import make_features
    from .test_trainers import FRAMES, N_SAMPLES, _provider, tiny_model

    batch = make_features(N_SAMPLES, FRAMES)
    train_util.train(_provider(batch), Trainer(tiny_model(), learning_rate=0.01), batch_size=1,
                     num_steps=4, steps_per_summary=2, save_dir=str(tmp_path),
                     restore_dir="")  # fmt: skip
    with open(tmp_path / "metrics.jsonl") as f:
        lines = [json.loads(line) for line in f]
    events = read_events(tmp_path)
    for name in ("total_loss", "spectral_loss"):
        logged = [(s, v.simple_value) for s, v in events if v.tag == f"losses/{name}"]
        expected = [(r["step"], r[name]) for r in lines]
        assert [s for s, _ in logged] == [2, 4]
        np.testing.assert_allclose([v for _, v in logged], [v for _, v in expected], rtol=1e-6)
