"""ddsp's TensorFlow checkpoints read without TensorFlow and restored into ddsp_ref models.

The fixtures in ``fixtures/tf_ckpt/<case>/`` were written by ddsp 3.7.0 itself
(``scripts/make_tf_fixture.py``: ``Trainer.save`` after one training step), with
``reference.npz`` holding what TF computed: every variable as ``tf.train.load_variable`` reads
it (``var/<key>``), the model's inputs and outputs with ``training=False`` (``features/*``,
``out/*``), and the harmonic audio with ddsp's accurate phase (``exact/*``).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from ddsp_ref.training import tf_bundle
from ddsp_ref.training.tf_bundle import BundleEntry, TensorBundle, crc32c, masked_crc32c
from ddsp_ref.training.tf_checkpoint import (
    VALUE_SUFFIX,
    find_operative_config,
    is_tf_checkpoint,
    latest_tf_checkpoint,
    load_tf_checkpoint,
    restore_tf_checkpoint,
    tf_adam_state_for,
    tf_params_for,
)

FIXTURES = Path(__file__).parent / "fixtures" / "tf_ckpt"
CASES = ("solo", "no_reverb")


def reference(case: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / case / "reference.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def copy_case(case: str, tmp_path: Path) -> Path:
    dst = tmp_path / case
    shutil.copytree(FIXTURES / case, dst)
    return dst


# -- crc32c and the wire format -----------------------------------------------------------------
def crc32c_bitwise(data: bytes) -> int:
    """Independent reference: the Castagnoli CRC one bit at a time (reflected 0x82F63B78)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


@pytest.mark.parametrize("n", [0, 1, 9, 4095, 4096, 4097, 70001])
def test_crc32c_matches_bitwise_definition(n):
    data = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8).tobytes()
    assert crc32c(data) == crc32c_bitwise(data)


def test_crc32c_check_value_and_extend():
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value of CRC-32C
    data = np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes()
    for cut in (0, 7, 4096, 12345, 20000):
        assert crc32c(data[cut:], crc32c(data[:cut])) == crc32c(data)


def test_masked_crc32c_is_leveldbs_rotation_plus_constant():
    for crc in (0, 1, 0xE3069283, 0xFFFFFFFF):
        masked = masked_crc32c(crc)
        rot = (masked - 0xA282EAD8) & 0xFFFFFFFF  # unmask: subtract, rotate left by 15
        assert ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF == crc
    assert masked_crc32c(0) == 0xA282EAD8


def test_bundle_entry_parses_hand_encoded_proto():
    # dtype=1 (float), shape {dim {size 2} dim {size 3}}, shard 1, offset 300, size 24,
    # crc32c fixed32 0x01020304, written by hand from the protobuf wire format.
    shape = bytes([0x12, 0x02, 0x08, 0x02, 0x12, 0x02, 0x08, 0x03])
    msg = bytes([0x08, 0x01, 0x12, len(shape)]) + shape
    msg += bytes([0x18, 0x01, 0x20, 0xAC, 0x02, 0x28, 0x18, 0x35]) + struct.pack("<I", 0x01020304)
    entry = BundleEntry.parse(msg)
    assert (entry.dtype, entry.shape, entry.shard_id) == (1, (2, 3), 1)
    assert (entry.offset, entry.size, entry.crc32c, entry.sliced) == (300, 24, 0x01020304, False)


# -- reading the fixtures -----------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_reader_matches_tensorflows_own_values(case):
    ref = reference(case)
    bundle = TensorBundle(FIXTURES / case / "ckpt-1")
    want = {k[len("var/") :]: v for k, v in ref.items() if k.startswith("var/")}
    assert sorted(bundle.keys()) == sorted(want)
    for name, value in want.items():
        got = bundle.read(name)
        assert got.shape == value.shape, name
        if value.dtype.kind == "S":  # the object graph, a scalar string
            assert got.item() == value.item()
        else:
            assert got.dtype == value.dtype, name
            np.testing.assert_array_equal(got, value, err_msg=name)


def test_load_tf_checkpoint_resolves_folder_prefix_and_files():
    folder = FIXTURES / "solo"
    loaded = load_tf_checkpoint(folder)
    ref = reference("solo")
    assert "_CHECKPOINTABLE_OBJECT_GRAPH" not in loaded  # strings are left out
    assert sorted(loaded) == sorted(
        k[4:] for k in ref if k.startswith("var/") and ref[k].dtype.kind != "S"
    )
    prefix = str(folder / "ckpt-1")
    for path in (folder, prefix, prefix + ".index", prefix + ".data-00000-of-00001"):
        assert latest_tf_checkpoint(path) == prefix
        assert is_tf_checkpoint(path)
    assert not is_tf_checkpoint(folder / "ckpt-2")
    assert not is_tf_checkpoint(folder / "operative_config-1.gin")


def test_latest_checkpoint_without_state_file_takes_highest_step(tmp_path):
    folder = copy_case("solo", tmp_path)
    os.remove(folder / "checkpoint")
    for step in (20, 3):
        for suffix in (".index", ".data-00000-of-00001"):
            shutil.copy(folder / f"ckpt-1{suffix}", folder / f"ckpt-{step}{suffix}")
        shutil.copy(folder / "operative_config-1.gin", folder / f"operative_config-{step}.gin")
    assert latest_tf_checkpoint(folder) == str(folder / "ckpt-20")
    assert find_operative_config(folder) == str(folder / "operative_config-20.gin")
    assert find_operative_config(folder / "ckpt-3") == str(folder / "operative_config-20.gin")


def test_missing_checkpoint_and_config_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no TensorFlow checkpoint"):
        latest_tf_checkpoint(tmp_path)
    with pytest.raises(FileNotFoundError, match="no TensorFlow checkpoint"):
        latest_tf_checkpoint(tmp_path / "ckpt-5")
    with pytest.raises(FileNotFoundError, match="operative_config"):
        find_operative_config(tmp_path)
    with pytest.raises(FileNotFoundError, match="no checkpoint index"):
        TensorBundle(tmp_path / "ckpt-5")


def test_missing_shard_is_named(tmp_path):
    folder = copy_case("solo", tmp_path)
    os.remove(folder / "ckpt-1.data-00000-of-00001")
    with pytest.raises(FileNotFoundError, match=r"data-00000-of-00001"):
        TensorBundle(folder / "ckpt-1")


KERNEL = "model/decoder/dense_out/kernel" + VALUE_SUFFIX


def test_corrupt_tensor_fails_crc_and_others_still_read(tmp_path):
    folder = copy_case("solo", tmp_path)
    entry = TensorBundle(folder / "ckpt-1").entries[KERNEL]
    data = folder / "ckpt-1.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[entry.offset + 5] ^= 0x10  # one flipped bit inside the kernel
    data.write_bytes(bytes(raw))
    bundle = TensorBundle(folder / "ckpt-1")
    with pytest.raises(ValueError, match="crc32c.*corrupt"):
        bundle.read(KERNEL)
    with pytest.raises(ValueError, match="crc32c"):
        load_tf_checkpoint(folder)
    bias = "model/decoder/dense_out/bias" + VALUE_SUFFIX
    np.testing.assert_array_equal(bundle.read(bias), reference("solo")["var/" + bias])


def test_truncated_data_file_error(tmp_path):
    folder = copy_case("solo", tmp_path)
    bundle = TensorBundle(folder / "ckpt-1")
    last = max(bundle.entries, key=lambda k: bundle.entries[k].offset)
    data = folder / "ckpt-1.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[: bundle.entries[last].offset + 2])
    with pytest.raises(ValueError, match="truncated shard"):
        TensorBundle(folder / "ckpt-1").read(last)


def test_corrupt_or_foreign_index_errors(tmp_path):
    folder = copy_case("solo", tmp_path)
    index = folder / "ckpt-1.index"
    good = index.read_bytes()
    index.write_bytes(good[:100] + bytes([good[100] ^ 0xFF]) + good[101:])
    with pytest.raises(ValueError, match="crc32c"):
        TensorBundle(folder / "ckpt-1")
    index.write_bytes(good[:-1] + b"\x00")
    with pytest.raises(ValueError, match="magic"):
        TensorBundle(folder / "ckpt-1")
    index.write_bytes(b"short")
    with pytest.raises(ValueError, match="too short"):
        TensorBundle(folder / "ckpt-1")


def test_compressed_block_is_refused(tmp_path, monkeypatch):
    folder = copy_case("solo", tmp_path)
    index = folder / "ckpt-1.index"
    raw = bytearray(index.read_bytes())
    # The first data block starts at 0; its handle is the first index entry's value.
    handle = tf_bundle._block_entries(_index_block(bytes(raw)), "x")[0][1]
    size, _ = tf_bundle._varint(handle, tf_bundle._varint(handle, 0)[1])
    raw[size] = 1  # compression type: snappy; re-checksum so only the type is wrong
    raw[size + 1 : size + 5] = struct.pack("<I", masked_crc32c(crc32c(bytes(raw[: size + 1]))))
    index.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="snappy"):
        TensorBundle(folder / "ckpt-1")


def _index_block(data: bytes) -> bytes:
    footer = data[-48:]
    _, pos = tf_bundle._varint(footer, 0)
    _, pos = tf_bundle._varint(footer, pos)
    offset, pos = tf_bundle._varint(footer, pos)
    size, _ = tf_bundle._varint(footer, pos)
    return data[offset : offset + size]


@pytest.mark.parametrize(("dtype", "name"), [(14, "bfloat16"), (20, "resource"), (99, "99")])
def test_unsupported_dtype_and_sliced_errors(dtype, name):
    bundle = TensorBundle(FIXTURES / "solo" / "ckpt-1")
    entry = bundle.entries[KERNEL]
    bundle.entries[KERNEL] = dataclasses.replace(entry, dtype=dtype)
    with pytest.raises(TypeError, match=f"unsupported dtype.*{name}"):
        bundle.read(KERNEL)
    bundle.entries[KERNEL] = dataclasses.replace(entry, sliced=True)
    with pytest.raises(TypeError, match="partitioned"):
        bundle.read(KERNEL)
    with pytest.raises(KeyError, match="no tensor"):
        bundle.read("model/nothing")


# -- mapping onto ddsp_ref models and reproducing TF's outputs ----------------------------------
@pytest.fixture
def gin():
    gin = pytest.importorskip("gin")
    import ddsp_ref.losses  # noqa: F401  (SpectralLoss, named in the operative configs)
    import ddsp_ref.training  # noqa: F401

    gin.clear_config()
    yield gin
    gin.clear_config()


def colab_model(gin, folder: Path):
    """ddsp's colab recipe: parse the operative config (skipping ddsp-only names), then
    ``models.Autoencoder()`` in Python (gin-configurable, so the bindings apply)."""
    from ddsp_ref.training import models

    gin.parse_config_file(find_operative_config(folder), skip_unknown=True)
    return models.Autoencoder()


def models_autoencoder():
    from ddsp_ref.training import models

    return models.Autoencoder()


def features_of(ref: dict, dtype=np.float32) -> dict:
    return {
        k[len("features/") :]: v.astype(dtype) for k, v in ref.items() if k.startswith("features/")
    }


def flat_outputs(value, prefix: str, out: dict) -> dict:
    if isinstance(value, dict):
        for key, sub in value.items():
            flat_outputs(sub, f"{prefix}/{key}", out)
    else:
        out[prefix] = np.asarray(value)
    return out


# ddsp_ref parameter path -> ddsp checkpoint key, written out by hand for the solo case.
SOLO_NAMES = {
    "decoder/dense_out/kernel": "model/decoder/dense_out/kernel",
    "decoder/dense_out/bias": "model/decoder/dense_out/bias",
    "decoder/rnn/kernel": "model/decoder/rnn/rnn/cell/kernel",
    "decoder/rnn/recurrent_kernel": "model/decoder/rnn/rnn/cell/recurrent_kernel",
    "decoder/rnn/bias": "model/decoder/rnn/rnn/cell/bias",
    "processor_group/reverb/ir": "model/processor_group/reverb/ir",
}
for _stack, _tf in (("input_stack_0", "input_stacks/0"), ("input_stack_1", "input_stacks/1"),
                    ("out_stack", "out_stack")):  # fmt: skip
    _fc = f"model/decoder/{_tf}/layer_with_weights-0"
    SOLO_NAMES[f"decoder/{_stack}/fc_0/dense/kernel"] = f"{_fc}/layer_with_weights-0/kernel"
    SOLO_NAMES[f"decoder/{_stack}/fc_0/dense/bias"] = f"{_fc}/layer_with_weights-0/bias"
    SOLO_NAMES[f"decoder/{_stack}/fc_0/layer_norm/gamma"] = f"{_fc}/layer_with_weights-1/gamma"
    SOLO_NAMES[f"decoder/{_stack}/fc_0/layer_norm/beta"] = f"{_fc}/layer_with_weights-1/beta"


def test_every_solo_parameter_comes_from_its_ddsp_variable(gin):
    from ddsp_ref.module import flatten_dict

    ref = reference("solo")
    model = colab_model(gin, FIXTURES / "solo")
    params = flatten_dict(tf_params_for(model, load_tf_checkpoint(FIXTURES / "solo")))
    assert sorted(params) == sorted(SOLO_NAMES)
    for ours, key in SOLO_NAMES.items():
        assert params[ours].dtype == np.float32
        np.testing.assert_array_equal(params[ours], ref[f"var/{key}{VALUE_SUFFIX}"], err_msg=ours)
    assert ref["var/model/decoder/rnn/rnn/cell/bias" + VALUE_SUFFIX].shape == (2, 24)


def check_outputs(model, ref: dict, dtype) -> None:
    """TF's outputs reproduced within 1e-4: the controls directly; the harmonic audio against
    ddsp's synthesis with a float64 phase (``exact/*``, see scripts/make_tf_fixture.py) over
    the whole signal, and against the recorded one (float32 phase, drifting) at its start; the
    final audio as the reverb of our harmonic + TF's filtered noise."""
    got = flat_outputs(model(features_of(ref, dtype), training=False), "out", {})
    noisy = ("signal", "audio")  # audio holding FilteredNoise's random noise
    exact_keys = [k for k in ref if k.startswith("out/") and not any(n in k for n in noisy)]
    assert len(exact_keys) >= 11  # features scaled, decoder outputs, processor controls
    for key in exact_keys:
        np.testing.assert_allclose(got[key], ref[key], rtol=0, atol=1e-4, err_msg=key)
        assert got[key].dtype == dtype
    harmonic = got["out/harmonic/signal"]
    assert harmonic.dtype == dtype
    peak = np.max(np.abs(ref["exact/harmonic/signal"]))
    assert peak > 0.1  # not a comparison of near-silence
    # Measured: ~4e-6 of the peak against the float64 phase, ~3e-5 against TF's own audio over
    # its first 400 samples (TF's float32 phase drifts to ~1.5e-3 by the end).
    np.testing.assert_allclose(harmonic, ref["exact/harmonic/signal"], rtol=0, atol=2e-5 * peak)
    np.testing.assert_allclose(harmonic[:, :400], ref["out/harmonic/signal"][:, :400], atol=1e-4)
    mix = harmonic + ref["out/filtered_noise/signal"]
    group = model.processor_group
    audio = group.processors[-1](mix) if "reverb" in group.processor_names else mix
    np.testing.assert_allclose(
        np.asarray(audio), ref["exact/audio_synth"], rtol=0, atol=2e-5 * peak
    )


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_colab_path_reproduces_tf_outputs(gin, case, dtype):
    """As written in the colab: ``model.restore(ckpt_dir)`` on a model never called."""
    ref = reference(case)
    model = colab_model(gin, FIXTURES / case)
    model.restore(str(FIXTURES / case))
    check_outputs(model, ref, dtype)


def test_restore_tf_checkpoint_function_equals_model_restore(gin):
    from ddsp_ref.module import flatten_dict

    a = colab_model(gin, FIXTURES / "solo")
    restore_tf_checkpoint(a, FIXTURES / "solo" / "ckpt-1.index")
    b = colab_model(gin, FIXTURES / "solo")
    b.restore(str(FIXTURES / "solo"))
    flat_a, flat_b = flatten_dict(a.parameters()), flatten_dict(b.parameters())
    assert sorted(flat_a) == sorted(flat_b)
    for key in flat_a:
        np.testing.assert_array_equal(flat_a[key], flat_b[key])


def test_restore_into_a_model_already_called(gin):
    ref = reference("solo")
    model = colab_model(gin, FIXTURES / "solo")
    before = model(features_of(ref), training=False)["amps"]
    restore_tf_checkpoint(model, FIXTURES / "solo" / "ckpt-1.index")
    assert np.max(np.abs(np.asarray(before) - ref["out/amps"])) > 1e-3  # init differs
    check_outputs(model, ref, np.float32)


def test_restore_reads_only_the_models_tensors(gin, tmp_path):
    """A corrupt optimizer slot does not stop a restore (it is never read); a corrupt model
    variable does."""
    folder = copy_case("solo", tmp_path)
    data = folder / "ckpt-1.data-00000-of-00001"
    good = data.read_bytes()
    entries = TensorBundle(folder / "ckpt-1").entries
    for key, fails in (("optimizer/_variables/17" + VALUE_SUFFIX, False), (KERNEL, True)):
        raw = bytearray(good)
        raw[entries[key].offset] ^= 0x01
        data.write_bytes(bytes(raw))
        model = colab_model(gin, folder)
        if fails:
            with pytest.raises(ValueError, match="dense_out/kernel.*crc32c"):
                restore_tf_checkpoint(model, folder)
        else:
            restore_tf_checkpoint(model, folder)
            check_outputs(model, reference("solo"), np.float32)
        gin.clear_config()


def test_strict_mapping_errors(gin):
    variables = load_tf_checkpoint(FIXTURES / "solo")
    model = colab_model(gin, FIXTURES / "solo")
    extra = dict(variables, **{"model/decoder/spare/kernel" + VALUE_SUFFIX: np.zeros(3)})
    with pytest.raises(KeyError, match="no place for.*spare/kernel"):
        tf_params_for(model, extra)
    assert "spare" not in str(tf_params_for(model, extra, strict=False))
    lacking = {k: v for k, v in variables.items() if "reverb" not in k}
    with pytest.raises(KeyError, match="lacks 1 variable.*reverb/ir"):
        tf_params_for(model, lacking)


def test_model_of_another_size_is_refused(gin):
    gin.parse_config_file(find_operative_config(FIXTURES / "solo"), skip_unknown=True)
    gin.parse_config("RnnFcDecoder.ch = 16")
    model = models_autoencoder()
    with pytest.raises(
        ValueError, match=r"fc_0/dense/kernel has shape \(1, 8\) .*expects \(1, 16\)"
    ):
        restore_tf_checkpoint(model, FIXTURES / "solo")


def test_no_reverb_case_has_lstm_names():
    names = load_tf_checkpoint(FIXTURES / "no_reverb")
    assert "model/decoder/rnn/rnn/cell/bias" + VALUE_SUFFIX in names
    assert names["model/decoder/rnn/rnn/cell/bias" + VALUE_SUFFIX].shape == (24,)  # 4 gates x 6
    assert not [k for k in names if "processor_group" in k]


def test_fixture_is_small():
    size = sum(p.stat().st_size for p in FIXTURES.rglob("*") if p.is_file())
    assert size < 600_000


# -- Adam's state (to resume a ddsp run) --------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_adam_state_matches_the_tf_optimizers_slots(gin, case):
    """Each trainable variable's moments as TF's optimizer object held them (recorded by
    ``model.trainable_variables`` index with the variable's value, which identifies it)."""
    from ddsp_ref.module import flatten_dict

    ref = reference(case)
    variables = load_tf_checkpoint(FIXTURES / case)
    model = colab_model(gin, FIXTURES / case)
    params = flatten_dict(tf_params_for(model, variables))
    state = tf_adam_state_for(model, variables)
    assert state["step"] == int(ref["adam/step"]) == 1
    m, v = flatten_dict(state["m"]), flatten_dict(state["v"])
    indices = sorted(k.split("/")[-1] for k in ref if k.startswith("adam/var/"))
    assert len(indices) == len(params) == len(m) == len(v)
    for i in indices:
        value = ref[f"adam/var/{i}"]
        (path,) = [p for p, x in params.items() if x.shape == value.shape and np.all(x == value)]
        np.testing.assert_array_equal(m[path], ref[f"adam/m/{i}"], err_msg=path)
        np.testing.assert_array_equal(v[path], ref[f"adam/v/{i}"], err_msg=path)
        assert np.any(m[path] != 0)  # one step taken: the moments are filled


def test_adam_state_errors(gin):
    variables = load_tf_checkpoint(FIXTURES / "solo")
    model = colab_model(gin, FIXTURES / "solo")
    tf_params_for(model, variables)
    model_only = {k: x for k, x in variables.items() if k.startswith("model/")}
    with pytest.raises(KeyError, match="no optimizer state"):
        tf_adam_state_for(model, model_only)
    fewer = dict(variables)
    del fewer["optimizer/_variables/7" + VALUE_SUFFIX]
    with pytest.raises(ValueError, match="expected m and v for each of the model's 18"):
        tf_adam_state_for(model, fewer)


# -- bidirectional Rnn (keras Bidirectional) ----------------------------------------------------
LAYERS = Path(__file__).parent / "fixtures" / "tf_layers"  # record_tf_layer_fixtures.py


def bidir_case(rnn_type: str, return_sequences: bool) -> tuple[Path, dict[str, np.ndarray]]:
    folder = LAYERS / f"bidir_{rnn_type}_{'seq' if return_sequences else 'last'}"
    with np.load(folder / "reference.npz", allow_pickle=False) as f:
        return folder, {k: f[k] for k in f.files}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
def test_bidirectional_rnn_restored_from_ddsp_computes_what_tf_computed(
    rnn_type, return_sequences, dtype
):
    from ddsp_ref.training import nn

    folder, ref = bidir_case(rnn_type, return_sequences)
    layer = nn.Rnn(3, rnn_type, return_sequences=return_sequences, bidir=True)  # not built
    layer.set_parameters(tf_params_for(layer, load_tf_checkpoint(folder)))
    y = np.asarray(layer(ref["x"].astype(dtype)))
    assert y.dtype == dtype and y.shape == ref["y"].shape
    np.testing.assert_allclose(y, ref["y"], rtol=0, atol=3e-6)
    # Both directions matter: the TF output differs from a model with the halves swapped.
    swapped = tf_params_for(layer, load_tf_checkpoint(folder))
    own = {k: v for k, v in swapped.items() if k != "backward"}
    swapped = {**swapped["backward"], "backward": own}
    layer.set_parameters(swapped)
    assert np.max(np.abs(np.asarray(layer(ref["x"])) - ref["y"])) > 1e-2


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
def test_bidirectional_rnn_adam_slots_belong_to_their_variables(rnn_type):
    """Each restored moment sits beside the variable keras gave it (matched by value, so the
    check does not rely on the order the mapping assumes)."""
    from ddsp_ref.module import flatten_dict
    from ddsp_ref.training import nn

    folder, ref = bidir_case(rnn_type, True)
    layer = nn.Rnn(3, rnn_type, bidir=True)
    variables = load_tf_checkpoint(folder)
    params = flatten_dict(tf_params_for(layer, variables))
    state = tf_adam_state_for(layer, variables)
    m, v = flatten_dict(state["m"]), flatten_dict(state["v"])
    n_vars = sum(1 for k in ref if k.startswith("var/"))
    assert state["step"] == 1 and n_vars == len(params) == 6
    for i in range(n_vars):
        (path,) = [p for p, value in params.items() if np.array_equal(value, ref[f"var/{i}"])]
        np.testing.assert_array_equal(m[path], ref[f"m/{i}"])
        np.testing.assert_array_equal(v[path], ref[f"v/{i}"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mfcc_encoder_restored_from_ddsp_computes_what_tf_computed(dtype):
    """ddsp's MfccTimeDistributedRnnEncoder (keys ``z_norm``, ``rnn/rnn/cell``, ``dense_out``)
    restored into ours, which is built from the checkpoint's shapes."""
    from ddsp_ref.training import encoders

    folder = LAYERS / "mfcc_encoder"
    with np.load(folder / "reference.npz", allow_pickle=False) as f:
        ref = {k: f[k] for k in f.files}
    encoder = encoders.MfccTimeDistributedRnnEncoder(
        rnn_channels=4, rnn_type="gru", z_dims=3, z_time_steps=125
    )
    encoder.set_parameters(tf_params_for(encoder, load_tf_checkpoint(folder)))
    z = encoder({"audio": ref["audio"].astype(dtype), "f0_scaled": ref["f0_scaled"]})["z"]
    np.testing.assert_allclose(np.asarray(z), ref["z"], rtol=0, atol=1e-5 * np.abs(ref["z"]).max())
