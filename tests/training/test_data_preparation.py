"""prepare_dataset: frame counts, decoding, bad inputs, idempotence, split, shards, command line."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

from ddsp_ref.training.data import DatasetProvider
from ddsp_ref.training.data_preparation import prepare_dataset, read_manifest, runners

from .prep_fixtures import FLAGS, make_folder, make_tones, read_tree

KEYS = ("audio", "audio_16k", "f0_hz", "f0_confidence", "loudness_db")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("prep")
    good = make_folder(str(root / "in"))
    manifest = prepare_dataset(
        [str(root / "in")], str(root / "out"), num_workers=2, progress=None, **FLAGS
    )
    return root, good, manifest


def test_frame_counts_and_example_counts(prepared):
    root, good, manifest = prepared
    assert manifest["features"] == {
        "audio": 16000,
        "audio_16k": 16000,
        "f0_hz": 250,
        "f0_confidence": 250,
        "loudness_db": 250,
    }
    # 2 s chunks (last zero-padded), 1 s windows every 0.5 s: 3 examples per chunk.
    counts = {os.path.basename(f["path"]): f["n_examples"]["train"] for f in manifest["files"]}
    assert counts == {
        "a_stereo_44k_int16.wav": 6,
        "b_22k.flac": 3,
        "c_16k_float.wav": 3,
        "i_48k.ogg": 3,
        "j_24k_stereo.mp3": 3,
    }
    rates = {
        os.path.basename(f["path"]): (f["sample_rate"], f["channels"]) for f in manifest["files"]
    }
    assert rates["a_stereo_44k_int16.wav"] == (44100, 2) and rates["i_48k.ogg"] == (48000, 1)
    assert rates["j_24k_stereo.mp3"] == (24000, 2)
    provider = DatasetProvider(str(root / "out"))
    assert provider.n_examples == 18 == manifest["splits"]["train"]["n_examples"]
    example = provider.example(17)
    assert {k: v.shape for k, v in example.items()} == {k: (manifest["features"][k],) for k in KEYS}
    assert all(v.dtype == np.float32 for v in example.values())


def test_bad_inputs_are_skipped_with_reasons(prepared):
    _, _, manifest = prepared
    reasons = {os.path.basename(s["path"]): s["reason"] for s in manifest["skipped"]}
    assert set(reasons) == {
        "d_too_short.wav",
        "e_empty.wav",
        "f_corrupt.wav",
        "g_notes.txt",
        "h_zero_bytes.flac",
    }
    assert reasons["d_too_short.wav"].startswith("too short: 0.500 s")
    assert reasons["e_empty.wav"] == "empty (no samples)"
    for name in ("f_corrupt.wav", "g_notes.txt", "h_zero_bytes.flac"):
        assert reasons[name].startswith("not readable as audio"), reasons[name]


def test_audio_is_the_source_resampled_and_downmixed(prepared):
    root, _, _ = prepared
    provider = DatasetProvider(str(root / "out"))
    batch = provider.examples(list(range(12)))
    # c: 16 kHz float -> no resampling: example j is the source from j * 0.5 s, zero-padded.
    source = sf.read(str(root / "in" / "c_16k_float.wav"), dtype="float32")[0]
    padded = np.pad(source, (0, 32000 - source.size))
    for j in range(3):
        np.testing.assert_array_equal(batch["audio"][9 + j], padded[j * 8000 : j * 8000 + 16000])
        np.testing.assert_array_equal(batch["audio_16k"][9 + j], batch["audio"][9 + j])
    # a: 44.1 kHz stereo int16: channel mean, / 32767 (ddsp's scale), polyphase to 16 kHz.
    pcm = sf.read(str(root / "in" / "a_stereo_44k_int16.wav"), dtype="int16")[0]
    expected = resample_poly(pcm.astype(np.float64).mean(axis=1) / 32767.0, 160, 441)
    np.testing.assert_allclose(batch["audio"][0], expected[:16000], atol=1e-6)
    np.testing.assert_allclose(batch["audio"][3], expected[24000:40000], atol=1e-6)


def test_f0_and_loudness_follow_the_tones(prepared):
    root, _, _ = prepared
    batch = DatasetProvider(str(root / "out")).examples([0, 6, 9, 11, 12, 15])
    for row, hz in zip((0, 1, 2, 4, 5), (220.0, 330.0, 440.0, 494.0, 262.0)):
        cents = 1200 * np.log2(np.median(batch["f0_hz"][row]) / hz)
        assert abs(cents) < 10, (hz, cents)
        assert np.median(batch["f0_confidence"][row]) > 0.9
    # example 11 covers 1.0-2.0 s of a 1.5 s tone: sound, then the chunk's zero padding.
    loud, quiet = batch["loudness_db"][3][:100], batch["loudness_db"][3][-100:]
    assert loud.min() > -30 and quiet.max() < -75
    assert np.median(batch["f0_confidence"][3][-100:]) < 0.1


def test_centered_frames_and_eval_split(tmp_path):
    paths = make_tones(str(tmp_path / "in"), 1, seconds=8.0)
    manifest = prepare_dataset(
        paths,
        str(tmp_path / "out"),
        center=True,
        eval_split_fraction=0.5,
        num_workers=1,
        progress=None,
        **FLAGS,
    )
    assert manifest["features"]["f0_hz"] == 251 and manifest["features"]["audio"] == 16000
    # The split is keyed on sha256(file content hash : chunk index), computed independently.
    with open(paths[0], "rb") as f:
        key = hashlib.sha256(f.read()).hexdigest()[:20]
    expected = {"train": 0, "eval": 0}
    for chunk in range(4):
        digest = hashlib.sha256(f"{key}:{chunk}".encode()).digest()
        expected["eval" if int.from_bytes(digest[:8], "big") / 2**64 < 0.5 else "train"] += 3
    assert manifest["files"][0]["n_examples"] == expected
    assert {s: manifest["splits"][s]["n_examples"] for s in expected} == expected
    assert min(expected.values()) > 0  # this file really exercises both splits
    for split in ("train", "eval"):
        provider = DatasetProvider(str(tmp_path / "out"), split=split)
        assert provider.examples([0])["f0_hz"].shape == (1, 251)


def test_rerun_on_unchanged_inputs_does_nothing(prepared, monkeypatch):
    root, _, manifest = prepared
    before = {
        p: os.stat(os.path.join(root, "out", p)).st_mtime_ns for p in read_tree(str(root / "out"))
    }

    def must_not_run(*args, **kwargs):
        raise AssertionError("a finished file was prepared again")

    monkeypatch.setattr(runners, "process_files", must_not_run)
    again = prepare_dataset(
        [str(root / "in")], str(root / "out"), num_workers=1, progress=None, **FLAGS
    )
    assert again == manifest
    after = {
        p: os.stat(os.path.join(root, "out", p)).st_mtime_ns for p in read_tree(str(root / "out"))
    }
    assert after == before


def test_output_that_holds_something_else_is_an_error(tmp_path):
    paths = make_tones(str(tmp_path / "in"), 1)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "thesis.tex").write_text("precious")
    with pytest.raises(ValueError, match="not a prepared dataset"):
        prepare_dataset(paths, str(tmp_path / "taken"), progress=None, **FLAGS)
    assert (tmp_path / "taken" / "thesis.tex").read_text() == "precious"
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(FileExistsError, match="not a folder"):
        prepare_dataset(paths, str(tmp_path / "a_file"), progress=None, **FLAGS)
    prepare_dataset(paths, str(tmp_path / "out"), num_workers=1, progress=None, **FLAGS)
    with pytest.raises(ValueError, match="other flags"):
        prepare_dataset(paths, str(tmp_path / "out"), progress=None, viterbi=False, **FLAGS)


def test_bad_flags_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="example_secs"):
        prepare_dataset([], str(tmp_path / "o"), example_secs=0)
    with pytest.raises(ValueError, match="eval_split_fraction"):
        prepare_dataset([], str(tmp_path / "o"), eval_split_fraction=1.5)
    with pytest.raises(ValueError, match="chunk_secs"):
        prepare_dataset([], str(tmp_path / "o"), chunk_secs=2, example_secs=4)


def test_num_shards_repacks_the_same_examples_in_order(prepared, tmp_path):
    root, _, manifest = prepared
    packed = prepare_dataset(
        [str(root / "in")],
        str(tmp_path / "packed"),
        num_shards=5,
        num_workers=1,
        progress=None,
        **FLAGS,
    )
    shards = packed["splits"]["train"]["shards"]
    assert [s["n_examples"] for s in shards] == [4, 3, 4, 3, 4]
    assert all(s["path"].startswith("packed/train-") for s in shards)
    a = DatasetProvider(str(root / "out")).examples(list(range(18)))
    b = DatasetProvider(str(tmp_path / "packed")).examples(list(range(18)))
    for k in KEYS:
        np.testing.assert_array_equal(a[k], b[k])


def test_glob_patterns_and_duplicates(tmp_path):
    paths = make_tones(str(tmp_path / "in"), 2)
    os.makedirs(tmp_path / "copy")
    with open(paths[0], "rb") as src, open(tmp_path / "copy" / "same.wav", "wb") as dst:
        dst.write(src.read())
    manifest = prepare_dataset(
        [str(tmp_path / "in" / "*.wav"), str(tmp_path / "copy"), str(tmp_path / "nothing*")],
        str(tmp_path / "out"),
        num_workers=1,
        progress=None,
        **FLAGS,
    )
    assert [os.path.basename(f["path"]) for f in manifest["files"]] == ["tone00.wav", "tone01.wav"]
    reasons = {os.path.basename(s["path"]): s["reason"] for s in manifest["skipped"]}
    assert reasons["same.wav"] == f"same content as {paths[0]}"
    assert reasons["nothing*"] == "no such file, or no file matches"


def test_command_line(tmp_path):
    make_folder(str(tmp_path / "in"))
    out = str(tmp_path / "out")
    cmd = [
        sys.executable,
        "-m",
        "ddsp_ref",
        "prepare",
        str(tmp_path / "in"),
        "--output_dir",
        out,
        "--example_secs",
        "1",
        "--hop_secs",
        "0.5",
        "--chunk_secs",
        "2",
        "--num_workers",
        "2",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "skipped " + str(tmp_path / "in" / "g_notes.txt") + ": not readable" in result.stdout
    assert "5 files" in result.stdout and "18 train / 0 eval examples" in result.stdout
    assert "files 10/10" in result.stderr  # the progress bar's last line
    manifest = read_manifest(out)
    assert manifest["flags"]["example_secs"] == 1.0 and manifest["flags"]["center"] is False
    with open(os.path.join(out, "manifest.json")) as f:
        assert json.load(f)["status"] == "complete"
    bad = subprocess.run(
        cmd[:-2] + ["--viterbi", "false"], capture_output=True, text=True, timeout=300
    )
    assert bad.returncode == 2 and "other flags" in bad.stderr


def test_batched_chunks_equal_each_chunk_alone(tmp_path):
    """f0/loudness run on batches of chunks; each row must equal that chunk computed alone
    (9 chunks of 2 s: full batches and a last batch of 1)."""
    from ddsp_ref.spectral_ops import compute_f0, compute_loudness

    sr = 16000
    t = np.arange(17 * sr) / sr
    audio = 0.3 * np.sin(2 * np.pi * (200 * t + 15 * t**2))  # a rising glide
    sf.write(str(tmp_path / "glide.wav"), audio, sr, subtype="FLOAT")
    prepare_dataset(
        [str(tmp_path / "glide.wav")], str(tmp_path / "out"), num_workers=1, progress=None, **FLAGS
    )
    provider = DatasetProvider(str(tmp_path / "out"))
    assert provider.n_examples == 27
    source = np.pad(audio.astype(np.float32), (0, 18 * sr - audio.size))
    for chunk in (0, 7, 8):
        piece = source[chunk * 2 * sr : (chunk + 1) * 2 * sr]
        f0, confidence = compute_f0(
            piece, frame_rate=250, sample_rate=sr, viterbi=True, padding="same"
        )
        loudness = compute_loudness(piece, sample_rate=sr, frame_rate=250, padding="same")
        for window in range(3):
            example = provider.example(3 * chunk + window)
            frames = slice(125 * window, 125 * window + 250)
            np.testing.assert_array_equal(example["f0_hz"], f0[frames])
            np.testing.assert_array_equal(example["f0_confidence"], confidence[frames])
            np.testing.assert_allclose(example["loudness_db"], loudness[frames], atol=1e-4)


def test_dataset_provider_errors(prepared):
    root, _, _ = prepared
    with pytest.raises(ValueError, match="split must be one of"):
        DatasetProvider(str(root / "out"), split="test")
    with pytest.raises(IndexError, match="not in"):
        DatasetProvider(str(root / "out")).example(18)
    with pytest.raises(ValueError, match="not a prepared dataset"):
        DatasetProvider(str(root / "in"))


def test_packed_dataset_rerun_and_extension(tmp_path):
    paths = make_tones(str(tmp_path / "in"), 3)
    out = str(tmp_path / "out")
    first = prepare_dataset(paths[:2], out, num_shards=2, num_workers=1, progress=None, **FLAGS)
    assert [s["n_examples"] for s in first["splits"]["train"]["shards"]] == [3, 3]
    stamps = {p: os.stat(os.path.join(out, p)).st_mtime_ns for p in read_tree(out)}
    assert (
        prepare_dataset(paths[:2], out, num_shards=2, num_workers=1, progress=None, **FLAGS)
        == first
    )
    assert {p: os.stat(os.path.join(out, p)).st_mtime_ns for p in read_tree(out)} == stamps
    grown = prepare_dataset(paths, out, num_shards=2, num_workers=1, progress=None, **FLAGS)
    assert [s["n_examples"] for s in grown["splits"]["train"]["shards"]] == [4, 5]
    separate = prepare_dataset(
        paths[2:], str(tmp_path / "third"), num_workers=1, progress=None, **FLAGS
    )
    third = DatasetProvider(str(tmp_path / "third")).examples(range(3))
    packed = DatasetProvider(out).examples(range(9))
    assert separate["n_files"] == 1
    np.testing.assert_array_equal(packed["audio"][6:], third["audio"])


def test_output_inside_the_input_folder_is_not_read_as_input(tmp_path):
    make_tones(str(tmp_path), 2)
    first = prepare_dataset(
        [str(tmp_path)], str(tmp_path / "out"), num_workers=1, progress=None, **FLAGS
    )
    again = prepare_dataset(
        [str(tmp_path)], str(tmp_path / "out"), num_workers=1, progress=None, **FLAGS
    )
    assert first == again and first["skipped"] == [] and first["n_files"] == 2


def test_shard_writer_leaves_nothing_on_error(tmp_path):
    from ddsp_ref.training.data_preparation.storage import ShardWriter, read_shard

    lengths = {"a": 3, "b": 2}
    path = str(tmp_path / "s.npy")
    with pytest.raises(RuntimeError, match="1 of 2 examples written"):
        with ShardWriter({"train": path}, {"train": 2}, lengths) as writer:
            writer.append("train", {"a": np.ones((1, 3)), "b": np.zeros((1, 2))})
            writer.commit()
    assert os.listdir(tmp_path) == []
    with ShardWriter({"train": path}, {"train": 2}, lengths) as writer:
        writer.append("train", {"a": np.ones((1, 3)), "b": np.zeros((1, 2))})
        writer.append("train", {"a": 2 * np.ones((1, 3)), "b": np.ones((1, 2))})
        writer.commit()
    assert os.listdir(tmp_path) == ["s.npy"]
    records = read_shard(path)
    np.testing.assert_array_equal(records["a"][:, 0], [1.0, 2.0])
    np.testing.assert_array_equal(records["b"][1], [1.0, 1.0])


def test_unexpected_failure_is_reported_and_retried_next_run(tmp_path, monkeypatch):
    from ddsp_ref.training.data_preparation import tasks

    paths = make_tones(str(tmp_path / "in"), 2)
    real = tasks.file_chunks

    def flaky(audio, sample_rate, cfg):
        if audio.size and abs(audio[1600] - real_tone1_sample) < 1e-4:
            raise RuntimeError("disk full")
        return real(audio, sample_rate, cfg)

    real_tone1_sample = sf.read(paths[1])[0][1600]
    monkeypatch.setattr(tasks, "file_chunks", flaky)
    out = str(tmp_path / "out")
    first = prepare_dataset(paths, out, num_workers=1, progress=None, **FLAGS)
    assert first["n_files"] == 1
    assert first["skipped"] == [
        {"path": paths[1], "reason": "failed while preparing: RuntimeError: disk full"}
    ]
    monkeypatch.setattr(tasks, "file_chunks", real)
    second = prepare_dataset(paths, out, num_workers=1, progress=None, **FLAGS)
    assert second["n_files"] == 2 and second["skipped"] == []


def test_short_files_share_f0_batches_without_changing_numbers(tmp_path):
    from ddsp_ref.training.data_preparation.tasks import plan_groups

    jobs = [{"key": str(i)} for i in range(5)]
    groups = plan_groups(jobs, [1.5, 1.9, 5.0, 0.0, 2.0], {"chunk_secs": 2})
    assert [[j["key"] for j in g] for g in groups] == [["0", "1"], ["2"], ["3", "4"]]
    assert len(plan_groups(jobs, [1.0] * 5, {"chunk_secs": 0})) == 5  # unequal lengths
    paths = make_tones(str(tmp_path / "in"), 3)  # 2 s each: one 2 s chunk each
    together = prepare_dataset(paths, str(tmp_path / "all"), num_workers=1, progress=None, **FLAGS)
    for i, path in enumerate(paths):
        alone = prepare_dataset(
            [path], str(tmp_path / f"alone{i}"), num_workers=1, progress=None, **FLAGS
        )
        shard = alone["files"][0]["shards"]["train"]
        assert shard == together["files"][i]["shards"]["train"]
        with (
            open(tmp_path / f"alone{i}" / shard, "rb") as a,
            open(tmp_path / "all" / shard, "rb") as b,
        ):
            assert a.read() == b.read()
