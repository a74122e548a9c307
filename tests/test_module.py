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


def test_apply_uses_given_parameters_and_restores_stored_ones():
    group = make_group()
    stored = module.flatten_dict(group.parameters())
    params = {"room": {"ir": np.ones(16, np.float32)}}
    out = group.apply(params, inputs())
    reference = make_group()
    reference.set_parameters(params)
    np.testing.assert_array_equal(out, reference(inputs()))
    for key, value in module.flatten_dict(group.parameters()).items():
        assert value is stored[key]
    # Parameters are restored even when the call fails.
    with pytest.raises(KeyError):
        group.apply(params, {"a": np.zeros((2, N))})
    assert group.parameters()["room"]["ir"] is stored["room/ir"]


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


def test_flatten_unflatten_round_trip():
    tree = {"a": {"b": 1, "c": {"d": 2}}, "e": 3}
    flat = module.flatten_dict(tree)
    assert flat == {"a/b": 1, "a/c/d": 2, "e": 3}
    assert module.unflatten_dict(flat) == tree


def test_default_names_are_snake_case():
    assert synths.FilteredNoise().name == "filtered_noise"
    assert module.Module().name == "module"
    assert module._snake_case("ExpDecayReverb") == "exp_decay_reverb"
    assert module._snake_case("FIRFilter") == "firfilter"
