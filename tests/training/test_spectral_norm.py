"""spectral_norm=True (ddsp's SpectralNormalization around every conv of DilatedConvStack).

Against ddsp 3.7.0 (tests/training/record_spectral_norm_golden.py): outputs with
training=False (nothing changes), two successive training calls (kernels, sn_u, outputs), the
gradients at the normalised kernels, and the stacks' TF checkpoints. Against float64 numpy:
the power-iteration step, and its fixed point (the largest singular value). Through the
Trainer: the build's and each step's normalisation, sn_u outside the optimiser, checkpoints
and resume. ddsp's TF checkpoint of a trained model (fixtures/tf_ckpt/spectral_norm).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import ddsp_ref
from ddsp_ref.autodiff import ops as aops
from ddsp_ref.autodiff import tree_flatten
from ddsp_ref.losses import SpectralLoss
from ddsp_ref.module import flatten_dict, merge_trees, training_phase, unflatten_dict
from ddsp_ref.training import nn
from ddsp_ref.training.checkpoints import load_checkpoint
from ddsp_ref.training.decoders import DilatedConvDecoder
from ddsp_ref.training.nn.spectral_norm import sn_u_initializer, spectral_normalize
from ddsp_ref.training.tf_checkpoint import (
    load_tf_checkpoint,
    tf_adam_state_for,
    tf_params_for,
)
from ddsp_ref.training.trainers import Trainer

from .test_conv import _rel_l2, _subtree
from .test_models import make_features, make_model

GOLDEN = Path(__file__).parent / "golden_spectral_norm_3_7_0.npz"
CASES = ("plain", "downsample", "upsample", "conditional")
FIXTURE = Path(__file__).parent / "fixtures" / "tf_ckpt" / "spectral_norm"


def golden(case: str) -> tuple[dict, dict]:
    with np.load(GOLDEN) as data:
        spec = json.loads(str(data["spec"]))[case]
        arrays = {k[len(case) + 1 :]: data[k] for k in data.files if k.startswith(case + "/")}
    return spec, arrays


def make_stack(spec: dict, arrays: dict, dtype=np.float32):
    """Our stack with ddsp's initial variables ``params0`` (in ``dtype``)."""
    stack = nn.DilatedConvStack(**spec, seed=0)
    stack(_inputs(stack, arrays, dtype))  # builds the lazily sized layers
    params0 = _subtree(arrays, "params0")
    assert sorted(flatten_dict(stack.parameters())) == sorted(flatten_dict(params0))
    stack.set_parameters(_cast(params0, dtype))
    return stack


def _inputs(stack, arrays, dtype=np.float32):
    x = arrays["x"].astype(dtype)
    return (x, arrays["z"].astype(dtype)) if stack.conditional else x


def _cast(tree: dict, dtype) -> dict:
    return unflatten_dict({k: np.asarray(v, dtype) for k, v in flatten_dict(tree).items()})


def assert_trees_close(ours: dict, ref: dict, tol: float) -> None:
    ours, ref = flatten_dict(ours), flatten_dict(ref)
    assert sorted(ours) == sorted(ref)
    for key in ref:
        assert _rel_l2(ours[key], ref[key]) < tol, key


def assert_trees_equal(a: dict, b: dict) -> None:
    a, b = flatten_dict(a), flatten_dict(b)
    assert sorted(a) == sorted(b)
    for key in a:
        assert np.asarray(a[key]).dtype == np.asarray(b[key]).dtype, key
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


# -- golden parity with ddsp 3.7.0 ---------------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_inference_calls_change_nothing(case):
    spec, arrays = golden(case)
    stack = make_stack(spec, arrays)
    before = stack.parameters()
    for out in (stack(_inputs(stack, arrays)), stack(_inputs(stack, arrays), training=False)):
        assert _rel_l2(out, arrays["out_eval"]) < 1e-5
    assert_trees_equal(stack.parameters(), before)


@pytest.mark.parametrize("case", CASES)
def test_training_calls_match_ddsp_through_the_hook(case):
    """The Trainer's path: before_training_forward, then apply at the rewritten values."""
    spec, arrays = golden(case)
    stack = make_stack(spec, arrays)
    stored = stack.parameters()
    x = _inputs(stack, arrays)
    p1 = stack.before_training_forward(stack.parameters())
    assert_trees_equal(stack.parameters(), stored)  # functional: the module is untouched
    assert_trees_close(p1, _subtree(arrays, "params1"), 1e-5)
    assert _rel_l2(stack.apply(p1, x), arrays["out1"]) < 1e-5
    p2 = stack.before_training_forward(p1)
    assert_trees_close(p2, _subtree(arrays, "params2"), 1e-5)
    assert _rel_l2(stack.apply(p2, x), arrays["out2"]) < 1e-5

    trainable, state = stack.partition(p1)
    assert all(k.endswith("sn_u") for k in flatten_dict(state))
    assert not any(k.endswith("sn_u") for k in flatten_dict(trainable))

    def loss(p, xs):
        out = stack.apply(merge_trees(p, state), xs)
        return aops.sum(out * arrays["cot"])

    if stack.conditional:  # the gradient with respect to x; z stays an input
        g_params, g_x = ddsp_ref.grad(lambda p, a: loss(p, (a, x[1])), (0, 1))(trainable, x[0])
    else:
        g_params, g_x = ddsp_ref.grad(loss, (0, 1))(trainable, x)
    assert_trees_close(g_params, _subtree(arrays, "grad/params"), 1e-4)
    assert _rel_l2(g_x, arrays["grad/x"]) < 1e-4


@pytest.mark.parametrize("case", CASES)
def test_direct_training_calls_rewrite_the_stored_kernels_as_ddsp(case):
    spec, arrays = golden(case)
    stack = make_stack(spec, arrays)
    x = _inputs(stack, arrays)
    assert _rel_l2(stack(x, training=True), arrays["out1"]) < 1e-5
    assert_trees_close(stack.parameters(), _subtree(arrays, "params1"), 1e-5)
    with training_phase(True):  # the phase a Model's training call sets for its layers
        assert _rel_l2(stack(x), arrays["out2"]) < 1e-5
    assert_trees_close(stack.parameters(), _subtree(arrays, "params2"), 1e-5)
    # The hook and the in-place update are one computation.
    twin = make_stack(spec, arrays)
    hooked = twin.before_training_forward(twin.before_training_forward(twin.parameters()))
    assert_trees_equal(stack.parameters(), hooked)


@pytest.mark.parametrize("case", ["upsample", "conditional"])
def test_float64_matches_ddsp_and_keeps_its_dtype(case):
    spec, arrays = golden(case)
    stack = make_stack(spec, arrays, np.float64)
    out = stack(_inputs(stack, arrays, np.float64), training=True)
    assert out.dtype == np.float64
    params = stack.parameters()
    assert all(v.dtype == np.float64 for v in flatten_dict(params).values())
    assert _rel_l2(out, arrays["out1"]) < 1e-5
    assert_trees_close(params, _subtree(arrays, "params1"), 1e-5)


@pytest.mark.parametrize("case", CASES)
def test_tf_checkpoint_of_the_stack(case):
    """ddsp's keys (``w``, ``layer/bias``, ``sn_u`` of the wrapper, the stack's tracked lists)
    map onto an unbuilt stack, which is built from the checkpoint's shapes."""
    spec, arrays = golden(case)
    variables = {k[len("ckpt/") :]: v for k, v in arrays.items() if k.startswith("ckpt/")}
    stack = nn.DilatedConvStack(**spec, seed=0)
    stack.set_parameters(tf_params_for(stack, variables))
    assert_trees_equal(stack.parameters(), _cast(_subtree(arrays, "params2"), np.float32))
    assert _rel_l2(stack(_inputs(stack, arrays)), arrays["out2"]) < 1e-5


# -- against float64 numpy -----------------------------------------------------------------------
def numpy_power_step(kernel: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One step of the power iteration on W = kernel rows, in float64."""
    w = np.asarray(kernel, np.float64).reshape(-1, kernel.shape[-1])
    v = np.asarray(u, np.float64) @ w.T
    v = v / np.linalg.norm(v)
    u_next = v @ w
    u_next = u_next / np.linalg.norm(u_next)
    sigma = (v @ w @ u_next.T).item()
    return np.asarray(kernel, np.float64) / sigma, u_next


@pytest.mark.parametrize("resample", [None, "downsample", "upsample"])
def test_float64_step_equals_the_numpy_power_iteration(resample):
    stack = nn.DilatedConvStack(ch=3, layers_per_stack=2, stacks=1, resample_type=resample,
                                resample_stride=2, spectral_norm=True, seed=3)  # fmt: skip
    stack(np.ones((1, 8, 2)))
    params = _cast(stack.parameters(), np.float64)
    after = stack.before_training_forward(params)
    convs = [n for n in params if "conv" in n or "resample" in n]
    assert len(convs) == 3 + (resample is not None)
    for name in convs:
        kernel, u = numpy_power_step(params[name]["kernel"], params[name]["sn_u"])
        np.testing.assert_allclose(after[name]["kernel"], kernel, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(after[name]["sn_u"], u, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(after[name]["bias"], params[name]["bias"])
    if resample == "upsample":  # keras' Conv2DTranspose kernel ends with the input channels
        assert params["resample_0"]["kernel"].shape == (4, 3, 3)
        assert params["resample_0"]["sn_u"].shape == (1, 3)


def test_repeated_steps_converge_to_the_largest_singular_value():
    rng = np.random.default_rng(5)
    kernel = rng.standard_normal((3, 4, 6))
    u = rng.standard_normal((1, 6))
    normalised, _ = spectral_normalize(kernel, u, power_iterations=200)
    top = np.linalg.svd(kernel.reshape(-1, 6), compute_uv=False)[0]
    np.testing.assert_allclose(normalised, kernel / top, rtol=1e-10)
    assert np.linalg.svd(normalised.reshape(-1, 6), compute_uv=False)[0] == pytest.approx(1.0)


def test_sn_u_is_keras_truncated_normal():
    u = sn_u_initializer(np.random.default_rng(0), 20000)
    assert u.shape == (1, 20000) and u.dtype == np.float32
    assert np.max(np.abs(u)) <= 0.04  # redrawn beyond two standard deviations
    # The normal(0, 0.02) truncated to +-2 sigma has standard deviation 0.02 * 0.8796.
    assert np.std(u) == pytest.approx(0.02 * 0.87962566, rel=0.02)


def test_silence_and_one_frame():
    """The normalisation depends on the weights only: silence and a single frame give the same
    kernels as any input, and finite outputs."""
    spec, arrays = golden("downsample")
    for x in (np.zeros_like(arrays["x"]), arrays["x"][:, :1]):
        stack = make_stack(spec, arrays)
        out = stack(x, training=True)
        assert np.all(np.isfinite(out))
        assert out.shape == (2, -(-x.shape[1] // 2), 4)  # one downsampling by 2, rounding up
        assert_trees_close(stack.parameters(), _subtree(arrays, "params1"), 1e-5)


def test_a_zero_kernel_gives_nan_as_ddsp():
    with np.errstate(invalid="ignore", divide="ignore"):
        kernel, u = spectral_normalize(np.zeros((2, 3, 4)), np.ones((1, 4)))
    assert np.all(np.isnan(kernel)) and np.all(u == 0)


# -- through the Trainer -------------------------------------------------------------------------
N_SAMPLES, FRAMES = 4000, 50


def sn_model():
    model = make_model(n_samples=N_SAMPLES, frames=FRAMES, noise=False, losses=SpectralLoss())
    model.decoder = DilatedConvDecoder(
        ch=4, kernel_size=3, layers_per_stack=2, stacks=1, norm_type="layer",
        conditioning_keys=None, output_splits=model.decoder.output_splits, spectral_norm=True,
        seed=0,
    )  # fmt: skip
    return model


@pytest.fixture(scope="module")
def batch():
    return make_features(n_samples=N_SAMPLES, frames=FRAMES)


def _stack_params(model) -> dict:
    return model.parameters()["decoder"]["dilated_conv_stack"]


def test_trainer_normalises_at_build_and_before_every_step(batch):
    trainer = Trainer(sn_model(), learning_rate=0.01)
    twin = sn_model()
    twin(batch, training=False)  # built, never normalised
    trainer.build(batch)
    built = _stack_params(trainer.model)
    for name, p in _stack_params(twin).items():  # ddsp's build is a training forward
        if "sn_u" in p:
            kernel, u = numpy_power_step(p["kernel"], p["sn_u"])
            assert _rel_l2(built[name]["kernel"], kernel) < 1e-6
            assert _rel_l2(built[name]["sn_u"], u) < 1e-6
    assert not any("sn_u" in k for k in flatten_dict(trainer.opt_state["m"]))

    used = []
    apply = trainer.model.apply

    def spy(params, *args, **kwargs):
        used.append({k: np.array(getattr(v, "data", v)) for k, v in flatten_dict(params).items()})
        return apply(params, *args, **kwargs)

    trainer.model.apply = spy
    for _ in range(2):
        before = flatten_dict(trainer.model.parameters())
        trainer.train_step(batch)
        stack = "decoder/dilated_conv_stack/"
        for key in [k for k in before if k.startswith(stack) and k.endswith("/sn_u")]:
            layer = key[: -len("sn_u")]
            kernel, u = numpy_power_step(before[layer + "kernel"], before[key])
            assert _rel_l2(used[-1][layer + "kernel"], kernel) < 1e-6  # the step's kernel
            assert _rel_l2(used[-1][key], u) < 1e-6
            after = flatten_dict(trainer.model.parameters())
            np.testing.assert_array_equal(after[key], used[-1][key])  # u advanced, no update
            assert not np.array_equal(after[layer + "kernel"], used[-1][layer + "kernel"])
    assert not any("sn_u" in k for k in flatten_dict(trainer.opt_state["v"]))


def test_checkpoints_keep_sn_u_and_resume_bit_identically(batch, tmp_path):
    a = Trainer(sn_model(), learning_rate=0.01)
    a.build(batch)
    a.train_step(batch)
    path = a.save(tmp_path)
    _, saved, opt_state, _ = load_checkpoint(path)
    saved_flat = flatten_dict(saved)
    assert sum(k.endswith("sn_u") for k in saved_flat) == 3
    assert not any("sn_u" in k for k in flatten_dict(opt_state["m"]))
    losses_a = [a.train_step(batch) for _ in range(2)]

    b = Trainer(sn_model(), learning_rate=0.01)
    b.build(batch)
    b.restore(tmp_path)
    assert_trees_equal(flatten_dict(b.model.parameters()), saved_flat)
    losses_b = [b.train_step(batch) for _ in range(2)]
    assert losses_a == losses_b
    assert_trees_equal(b.model.parameters(), a.model.parameters())
    leaves = tree_flatten(b.opt_state["m"])[0]
    assert len(leaves) == len(tree_flatten(a.opt_state["m"])[0])

    c = sn_model()  # Model.restore reads sn_u back too
    c(batch)
    c.restore(path, verbose=False)
    assert_trees_equal(flatten_dict(c.parameters()), saved_flat)


def test_direct_model_calls(batch):
    """``model(features, training=True)`` normalises the stored kernels (keras' assign);
    ``training=False`` and ``apply`` leave them alone."""
    model = sn_model()
    model(batch)
    stored = model.parameters()
    model(batch, training=False)
    model.apply(stored, batch, training=True)
    assert_trees_equal(model.parameters(), stored)
    model(batch, training=True)
    assert_trees_equal(model.parameters(), model.before_training_forward(stored))


def test_restoring_a_model_without_spectral_norm_is_refused(batch, tmp_path):
    plain = sn_model()
    plain.decoder = DilatedConvDecoder(
        ch=4, kernel_size=3, layers_per_stack=2, stacks=1, norm_type="layer",
        conditioning_keys=None, output_splits=plain.decoder.output_splits, seed=0,
    )  # fmt: skip
    trainer = Trainer(plain)
    trainer.build(batch)
    path = trainer.save(tmp_path)
    model = sn_model()
    model(batch)
    with pytest.raises(KeyError, match="lacks the model's parameters.*sn_u"):
        model.restore(path, verbose=False)


# -- ddsp's TF checkpoint of a trained spectral-norm model ----------------------------------------
def test_tf_checkpoint_restore_of_a_trained_model(tmp_path):
    gin = pytest.importorskip("gin")
    from ddsp_ref.training.tf_checkpoint import find_operative_config

    with np.load(FIXTURE / "reference.npz") as f:
        ref = {k: f[k] for k in f.files}
    gin.clear_config()
    try:
        gin.parse_config_file(find_operative_config(FIXTURE), skip_unknown=True)
        model = gin.get_configurable("models.Autoencoder")()
    finally:
        gin.clear_config()
    model.restore(FIXTURE, verbose=False)
    params = flatten_dict(model.parameters())
    ours = sorted(tuple(v.ravel()) for k, v in params.items() if k.endswith("/sn_u"))
    tf_u = [v for k, v in ref.items() if k.startswith("var/model/") and "/sn_u/" in k]
    theirs = sorted(tuple(v.ravel()) for v in tf_u)
    assert len(ours) == 3 and ours == theirs
    features = {k[len("features/") :]: v for k, v in ref.items() if k.startswith("features/")}
    out = model(features, training=False)
    for key in ("amps", "harmonic_distribution"):
        assert _rel_l2(out[key], ref[f"out/{key}"]) < 1e-5, key
    # Adam's slots: ddsp's trainable variables, without sn_u, in the model's order.
    variables = load_tf_checkpoint(FIXTURE)
    state = tf_adam_state_for(model, variables)
    m = flatten_dict(state["m"])
    trainable = flatten_dict(model.partition(model.parameters())[0])
    assert sorted(m) == sorted(trainable)
    indices = sorted(k.split("/")[-1] for k in ref if k.startswith("adam/var/"))
    assert len(indices) == len(m)
    for i in indices:
        value = ref[f"adam/var/{i}"]
        (path,) = [p for p, x in trainable.items() if x.size == value.size and np.all(
            x.reshape(-1) == value.reshape(-1))]  # fmt: skip
        np.testing.assert_array_equal(m[path].reshape(-1), ref[f"adam/m/{i}"].reshape(-1))


def test_apply_never_modifies_the_stored_parameters():
    """Also for parameters left out of ``apply``'s tree (they fall back to the stored ones)."""
    spec, arrays = golden("plain")
    stack = make_stack(spec, arrays)
    stored = stack.parameters()
    partial = {k: v for k, v in stored.items() if k != "conv_in"}
    out = stack.apply(partial, _inputs(stack, arrays), training=True)
    assert_trees_equal(stack.parameters(), stored)
    assert _rel_l2(out, arrays["out_eval"]) < 1e-5  # the stored, unnormalised kernels
