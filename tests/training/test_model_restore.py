"""Model.restore: the whole model or chosen sub-modules from a Trainer checkpoint (a file or the
latest of a folder), dtypes kept, and the errors for a model never called, other sizes, unknown
keys and missing files."""

from __future__ import annotations

import os

import numpy as np
import pytest

from ddsp_ref.autodiff import tree_flatten, tree_map
from ddsp_ref.training.checkpoints import save_checkpoint
from ddsp_ref.training.models import load_model_params
from ddsp_ref.training.trainers import Trainer

from .test_models import make_features, make_model

N, FRAMES = 4000, 50


def small_model(seed_shift=0.0):
    model = make_model(n_samples=N, frames=FRAMES)
    model(make_features(N, FRAMES))  # builds the lazily sized layers
    if seed_shift:
        model.set_parameters(tree_map(lambda p: p + np.float32(seed_shift), model.parameters()))
    return model


def leaves(tree):
    return [np.asarray(x) for x in tree_flatten(tree)[0]]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A trained-looking model (parameters shifted by 0.25) saved by a Trainer at step 7."""
    folder = str(tmp_path_factory.mktemp("restore"))
    model = small_model(seed_shift=0.25)
    trainer = Trainer(model)
    trainer.build(make_features(N, FRAMES))
    trainer.opt_state["step"] = 7
    path = trainer.save(folder)
    return folder, path, model.parameters()


def test_whole_model_from_the_folder(saved, capsys):
    folder, path, params = saved
    model = small_model()
    assert any(not np.allclose(a, b) for a, b in zip(leaves(model.parameters()), leaves(params)))
    assert model.restore(folder) == path
    for got, want in zip(leaves(model.parameters()), leaves(params)):
        np.testing.assert_array_equal(got, want)
    assert "restored all parameters" in capsys.readouterr().err
    features = make_features(N, FRAMES)
    reference = small_model()
    reference.set_parameters(params)
    np.testing.assert_array_equal(
        model(features, training=False)["audio_synth"],
        reference(features, training=False)["audio_synth"],
    )


def test_sub_module_only(saved, capsys):
    folder, path, params = saved
    model = small_model()
    before = model.parameters()
    model.restore(path, verbose=False, restore_keys=["decoder"])
    after = model.parameters()
    for got, want in zip(leaves(after["decoder"]), leaves(params["decoder"])):
        np.testing.assert_array_equal(got, want)
    for got, kept in zip(leaves(after["processor_group"]), leaves(before["processor_group"])):
        np.testing.assert_array_equal(got, kept)
    assert not np.allclose(
        leaves(after["processor_group"])[0], leaves(params["processor_group"])[0]
    )
    assert capsys.readouterr().err == ""


def test_latest_of_several_checkpoints(tmp_path):
    model = small_model()
    old, new = small_model(1.0).parameters(), small_model(2.0).parameters()
    save_checkpoint(tmp_path, 9, old, {"step": 9})
    save_checkpoint(tmp_path, 10, new, {"step": 10})  # numerically, not lexically, latest
    assert model.restore(tmp_path, verbose=False).endswith("ckpt-10.npz")
    for got, want in zip(leaves(model.parameters()), leaves(new)):
        np.testing.assert_array_equal(got, want)


def test_dtype_of_the_model_is_kept(saved):
    folder, _, params = saved
    model = small_model()
    model.set_parameters(tree_map(lambda p: np.asarray(p, np.float64), model.parameters()))
    model.restore(folder, verbose=False)
    for got, want in zip(leaves(model.parameters()), leaves(params)):
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, want.astype(np.float64))


def test_a_model_never_called_is_told_to_call_it_once(saved):
    folder, _, _ = saved
    model = make_model(n_samples=N, frames=FRAMES)  # only the reverb has parameters yet
    with pytest.raises(KeyError, match="call the model once"):
        model.restore(folder)


def test_other_sizes_are_refused(tmp_path):
    params = small_model().parameters()
    params["processor_group"]["reverb"]["ir"] = np.zeros(3000, np.float32)
    save_checkpoint(tmp_path, 1, params, {"step": 1})
    with pytest.raises(ValueError, match=r"reverb/ir has shape \(3000,\) in .*\(2000,\) in the"):
        small_model().restore(tmp_path)


def test_bad_keys_and_paths(saved, tmp_path):
    folder, _, _ = saved
    model = small_model()
    with pytest.raises(KeyError, match="restore_keys \\['encoder'\\]"):
        model.restore(folder, restore_keys=["encoder"])  # the model has no encoder
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        model.restore(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such checkpoint"):
        model.restore(os.path.join(tmp_path, "nope.npz"))
    not_a_checkpoint = tmp_path / "params.npz"
    np.savez(not_a_checkpoint, x=np.zeros(3))
    with pytest.raises(ValueError, match="not a ddsp_ref checkpoint"):
        load_model_params(not_a_checkpoint)
