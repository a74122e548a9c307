"""ddsp_ref.module: nested parameters of processor groups, set_parameters / apply, and atomic
.npz save / load."""

from __future__ import annotations

import os

import numpy as np
import pytest

from ddsp_ref import effects, module, processors, synths

N = 128


def make_group(seed=0):
    """Two trainable reverbs in series after a (parameter-free) Add."""
    dag = [
        (processors.Add(), ["a", "b"]),
        (effects.Reverb(trainable=True, reverb_length=16, name="room", seed=seed), ["add/signal"]),
        (
            effects.ExpDecayReverb(trainable=True, reverb_length=8, name="hall", seed=seed),
            ["room/signal"],
        ),
        (
            effects.FilteredNoiseReverb(
                trainable=True,
                reverb_length=32,
                n_frames=4,
                n_filter_banks=5,
                name="plate",
                seed=seed,
            ),
            ["hall/signal"],
        ),
    ]
    return processors.ProcessorGroup(dag=dag)


def inputs():
    rng = np.random.default_rng(0)
    return {
        "a": rng.normal(size=(2, N)).astype(np.float32),
        "b": rng.normal(size=(2, N)).astype(np.float32),
    }


def test_parameters_nest_by_child_name():
    params = make_group().parameters()
    assert sorted(params) == ["hall", "plate", "room"]  # 'add' has none: left out
    assert params["room"]["ir"].shape == (16,)
    assert sorted(params["hall"]) == ["decay", "gain"]
    assert params["plate"]["magnitudes"].shape == (4, 5)
    assert module.flatten_dict(params).keys() == {
        "room/ir",
        "hall/gain",
        "hall/decay",
        "plate/magnitudes",
    }


def test_nested_groups_nest_parameters():
    inner = make_group()
    outer = processors.ProcessorGroup([(inner, ["inputs"])], name="outer")
    params = outer.parameters()
    assert list(params) == ["processor_group"]
    assert sorted(params["processor_group"]) == ["hall", "plate", "room"]


def test_set_parameters_changes_the_output():
    group = make_group()
    before = group(inputs())
    new = {"room": {"ir": np.zeros(16, np.float32)}, "hall": {"gain": np.array([-30.0])}}
    group.set_parameters(new)
    np.testing.assert_array_equal(group.parameters()["room"]["ir"], np.zeros(16))
    np.testing.assert_array_equal(group.parameters()["hall"]["gain"], [-30.0])
    np.testing.assert_array_equal(group.parameters()["hall"]["decay"], [4.0])  # untouched
    after = make_group()
    after.set_parameters(new)
    # With no room IR and a silent hall (gain ~ 1e-7), only the plate's own reverb remains.
    plate_only = effects.FilteredNoiseReverb(
        trainable=True, reverb_length=32, n_frames=4, n_filter_banks=5, seed=0
    )
    x = inputs()
    np.testing.assert_allclose(after(x), plate_only(x["a"] + x["b"]), atol=1e-5)
    assert not np.allclose(before, after(x))


def test_set_parameters_unknown_key_raises():
    with pytest.raises(KeyError, match=r"'nope'.*\['hall', 'plate', 'room'\]"):
        make_group().set_parameters({"nope": {}})


def test_apply_uses_given_parameters_and_never_modifies_the_module():
    group = make_group()
    stored = module.flatten_dict(group.parameters())
    params = {"room": {"ir": np.ones(16, np.float32)}}
    out = group.apply(params, inputs())
    reference = make_group()
    reference.set_parameters(params)
    np.testing.assert_array_equal(out, reference(inputs()))
    for key, value in module.flatten_dict(group.parameters()).items():
        assert value is stored[key]
    with pytest.raises(KeyError):  # a failing call leaves nothing bound either
        group.apply(params, {"a": np.zeros((2, N))})
    assert group.parameters()["room"]["ir"] is stored["room/ir"]


def test_apply_rejects_unknown_keys_and_non_dicts():
    group = make_group()
    with pytest.raises(KeyError, match="no parameter or child 'nope'"):
        group.apply({"room": {"nope": np.ones(16)}}, inputs())
    with pytest.raises(TypeError, match="parameters must be a dict"):
        group.apply({"room": np.ones(16)}, inputs())


def test_apply_is_reentrant():
    # A module applied inside a call of itself (or of its group) with other parameters: the
    # inner binding wins inside, the outer one is back afterwards.
    reverb = effects.Reverb(trainable=True, reverb_length=8, name="r")
    x = np.random.default_rng(1).normal(size=(1, 32)).astype(np.float32)
    p1 = {"ir": np.linspace(0, 1, 8, dtype=np.float32)}
    p2 = {"ir": np.linspace(1, 0, 8, dtype=np.float32)}
    seen = []
    original = type(reverb).get_signal

    def spy(self, *args, **kwargs):
        seen.append(np.array(self.parameter("ir")))
        if len(seen) == 1:
            self.apply(p2, x)  # nested call with other parameters
            seen.append(np.array(self.parameter("ir")))
        return original(self, *args, **kwargs)

    type(reverb).get_signal = spy
    try:
        reverb.apply(p1, x)
    finally:
        type(reverb).get_signal = original
    np.testing.assert_array_equal(seen[0], p1["ir"])
    np.testing.assert_array_equal(seen[1], p2["ir"])
    np.testing.assert_array_equal(seen[2], p1["ir"])


def deterministic_group():
    """Add + a trainable Reverb: no noise draws, so every call with the same parameters gives
    the same output."""
    return processors.ProcessorGroup(
        dag=[
            (processors.Add(), ["a", "b"]),
            (effects.Reverb(trainable=True, reverb_length=16, name="room"), ["add/signal"]),
        ]
    )


def test_apply_is_thread_safe():
    import threading

    group = deterministic_group()
    x = inputs()
    params = [{"room": {"ir": np.full(16, 0.1 * (k + 1), np.float32)}} for k in range(6)]
    expected = []
    for p in params:
        ref = deterministic_group()
        ref.set_parameters(p)
        expected.append(ref(x))
    results = [None] * len(params)
    barrier = threading.Barrier(len(params))

    def work(k):
        barrier.wait()
        for _ in range(20):
            results[k] = group.apply(params[k], x)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(params))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(len(params)):
        np.testing.assert_array_equal(results[k], expected[k])


def test_gradients_flow_through_apply():
    import ddsp_ref
    from ddsp_ref.autodiff import ops

    group = deterministic_group()
    x = {k: v.astype(np.float64) for k, v in inputs().items()}
    params = {k: {n: v.astype(np.float64) for n, v in d.items()}
              for k, d in group.parameters().items()}  # fmt: skip
    ddsp_ref.check_grads(lambda p: ops.sum(group.apply(p, x) ** 2), params)


def test_save_load_round_trip(tmp_path):
    group = make_group(seed=1)
    group.set_parameters({"hall": {"gain": np.array([0.25], np.float32)}})
    path = tmp_path / "sub" / "params.npz"
    group.save(path)
    with np.load(path) as data:
        assert sorted(data.files) == ["hall/decay", "hall/gain", "plate/magnitudes", "room/ir"]
    other = make_group(seed=2)
    assert not np.array_equal(other.parameters()["room"]["ir"], group.parameters()["room"]["ir"])
    other.load(path)
    for key, value in module.flatten_dict(group.parameters()).items():
        loaded = module.flatten_dict(other.parameters())[key]
        np.testing.assert_array_equal(loaded, value)
        assert loaded.dtype == value.dtype
    # Same parameters, same noise seed (load restores parameters, not generators).
    np.testing.assert_array_equal(
        other(inputs()), make_group(seed=2).apply(group.parameters(), inputs())
    )
    assert os.listdir(tmp_path / "sub") == ["params.npz"]


def test_load_shape_mismatch_raises(tmp_path):
    path = tmp_path / "params.npz"
    effects.Reverb(trainable=True, reverb_length=16).save(path)
    with pytest.raises(ValueError, match=r"ir has shape \(16,\), expected \(20,\)"):
        effects.Reverb(trainable=True, reverb_length=20).load(path)


def test_load_missing_or_unexpected_keys_raise(tmp_path):
    path = tmp_path / "params.npz"
    effects.Reverb(trainable=True, reverb_length=16).save(path)
    with pytest.raises(KeyError, match=r"missing \['decay', 'gain'\], unexpected \['ir'\]"):
        effects.ExpDecayReverb(trainable=True, reverb_length=16).load(path)


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "params.npz"
    group = make_group(seed=1)
    group.save(path)
    original = path.read_bytes()

    def broken_savez(file, **arrays):
        file.write(b"partial garbage")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    group.set_parameters({"room": {"ir": np.zeros(16, np.float32)}})
    with pytest.raises(OSError, match="disk full"):
        group.save(path)
    assert path.read_bytes() == original  # the previous file is intact
    assert os.listdir(tmp_path) == ["params.npz"]  # and no temporary file is left behind


def test_interrupt_during_save_leaves_no_temp_file(tmp_path, monkeypatch):
    def interrupted(file, **arrays):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        effects.Reverb(trainable=True, reverb_length=4).save(tmp_path / "p.npz")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "not a complete .npz"),
        (b"PK\x03\x04 truncated zip", "not a complete .npz"),
        (b"random bytes that are no archive", "not a complete .npz"),
    ],
)
def test_load_of_a_broken_file_names_the_file(tmp_path, content, match):
    path = tmp_path / "p.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as info:
        effects.Reverb(trainable=True, reverb_length=4).load(path)
    assert str(path) in str(info.value)


def test_load_of_a_truncated_save_raises(tmp_path):
    path = tmp_path / "p.npz"
    effects.Reverb(trainable=True, reverb_length=400).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        effects.Reverb(trainable=True, reverb_length=400).load(path)


def test_load_of_a_npy_file_or_folder_is_explained(tmp_path):
    np.save(tmp_path / "p.npy", np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="is a .npy file"):
        effects.Reverb(trainable=True, reverb_length=4).load(tmp_path / "p.npy")
    with pytest.raises(ValueError, match="is a folder"):
        effects.Reverb(trainable=True, reverb_length=4).load(tmp_path)


@pytest.mark.parametrize(
    "value, error, match",
    [
        (np.arange(4), TypeError, "dtype int"),
        (np.array(["a", "b", "c", "d"]), TypeError, "dtype <U1"),
        (np.ones(4, bool), TypeError, "dtype bool"),
        (np.ones(4, np.complex64), TypeError, "dtype complex64"),
        (np.full(4, np.nan, np.float32), ValueError, "non-finite"),
        (np.array([0.0, np.inf, 0.0, 0.0]), ValueError, "non-finite"),
    ],
)
def test_load_rejects_wrong_dtypes_and_values(tmp_path, value, error, match):
    path = tmp_path / "p.npz"
    np.savez(path, ir=value)
    reverb = effects.Reverb(trainable=True, reverb_length=4)
    before = reverb.parameters()["ir"].copy()
    with pytest.raises(error, match=match):
        reverb.load(path)
    np.testing.assert_array_equal(reverb.parameters()["ir"], before)  # untouched


def test_load_casts_float64_files_to_the_module_dtype(tmp_path):
    path = tmp_path / "p.npz"
    np.savez(path, ir=np.linspace(0, 1, 4))
    reverb = effects.Reverb(trainable=True, reverb_length=4)
    reverb.load(path)
    assert reverb.parameters()["ir"].dtype == np.float32
    np.testing.assert_allclose(reverb.parameters()["ir"], np.linspace(0, 1, 4), rtol=1e-7)


def test_saved_files_get_the_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "p.npz"
        effects.Reverb(trainable=True, reverb_length=4).save(path)
        assert (os.stat(path).st_mode & 0o777) == 0o644
    finally:
        os.umask(old)


def test_a_killed_save_leaves_nothing_behind_after_the_next_save(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "p.npz"
    # A writer that is SIGKILLed halfway through its temporary file.
    script = (
        "import os, signal, sys\n"
        "from ddsp_ref.io import atomic_write\n"
        "with atomic_write(sys.argv[1]) as f:\n"
        "    f.write(b'half'); f.flush(); os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=False)
    leftovers = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert len(leftovers) == 1 and not path.exists()  # what a SIGKILL leaves
    effects.Reverb(trainable=True, reverb_length=4).save(path)
    assert os.listdir(tmp_path) == ["p.npz"]


def test_tree_map_over_several_trees():
    from ddsp_ref.autodiff import tree_map

    a = {"w": np.ones(2), "b": [np.zeros(1), 2.0]}
    b = {"w": np.full(2, 3.0), "b": [np.ones(1), 5.0]}
    out = tree_map(lambda x, y, z: x + 2 * y - z, a, b, a)
    np.testing.assert_array_equal(out["w"], [6.0, 6.0])
    np.testing.assert_array_equal(out["b"][0], [2.0])
    assert out["b"][1] == 10.0
    with pytest.raises(ValueError, match="another structure"):
        tree_map(lambda x, y: x, a, {"w": np.ones(2)})
    with pytest.raises(ValueError, match="another structure"):
        tree_map(lambda x, y: x, a, {"w": np.ones(2), "b": (np.ones(1), 1.0)})


def test_flatten_unflatten_round_trip():
    tree = {"a": {"b": 1, "c": {"d": 2}}, "e": 3}
    flat = module.flatten_dict(tree)
    assert flat == {"a/b": 1, "a/c/d": 2, "e": 3}
    assert module.unflatten_dict(flat) == tree


def test_default_names_are_snake_case():
    assert synths.FilteredNoise().name == "filtered_noise"
    assert module.Module().name == "module"
    assert module._snake_case("ExpDecayReverb") == "exp_decay_reverb"
    # keras' rule, which gives ddsp's default names (hand-written expectations).
    assert module._snake_case("FIRFilter") == "fir_filter"
    assert module._snake_case("TWMLoss") == "twm_loss"
    assert module._snake_case("KDEConsistencyLoss") == "kde_consistency_loss"
    assert module._snake_case("PretrainedCREPEEmbeddingLoss") == "pretrained_crepe_embedding_loss"
    assert module._snake_case("Conv1D") == "conv1d"
    assert module._snake_case("OnlineF0PowerPreprocessor") == "online_f0power_preprocessor"
    assert module._snake_case("_Recurrent") == "private__recurrent"
