"""ddsp_ref.dags and ProcessorGroup: ddsp's processors_test / dags_test DAGs, the outputs-dict
contract (keys, 'inputs/', 'out'), error messages, and gradients through a whole group."""

from __future__ import annotations

import numpy as np
import pytest

import ddsp_ref
from ddsp_ref import check_grads, dags, effects, processors, synths
from ddsp_ref.core.utils import nested_lookup

BATCH, N_FRAMES, N_SAMPLES, N_HARMONICS, N_BANDS = 2, 10, 320, 12, 9
REVERB_LENGTH = 50


def make_inputs(seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    inputs = {
        "amps": rng.normal(size=(BATCH, N_FRAMES, 1)),
        "harmonic_distribution": rng.normal(size=(BATCH, N_FRAMES, N_HARMONICS)),
        "f0_hz": rng.uniform(100.0, 400.0, size=(BATCH, N_FRAMES, 1)),
        "magnitudes": rng.normal(size=(BATCH, N_FRAMES, N_BANDS)),
        "target_audio": rng.normal(size=(BATCH, N_SAMPLES)),
    }
    return {k: v.astype(dtype) for k, v in inputs.items()}


def make_group(seed=0, reverb_seed=0):
    """ddsp's processors_test DAG (smaller): Harmonic + FilteredNoise -> Add -> trainable Reverb."""
    harmonic = synths.Harmonic(n_samples=N_SAMPLES, name="harmonic")
    noise = synths.FilteredNoise(n_samples=N_SAMPLES, window_size=0, name="noise", seed=seed)
    add = processors.Add(name="add")
    reverb = effects.Reverb(
        trainable=True, reverb_length=REVERB_LENGTH, name="reverb", seed=reverb_seed
    )
    dag = [
        (harmonic, ["amps", "harmonic_distribution", "f0_hz"]),
        (noise, ["magnitudes"]),
        (add, ["noise/signal", "harmonic/signal"]),
        (reverb, ["add/signal"]),
    ]
    return processors.ProcessorGroup(dag=dag, name="processor_group")


# -- ProcessorGroup (ddsp's processors_test) -----------------------------------------------------


def test_processor_group_output_keys():
    inputs = make_inputs()
    outputs = make_group()(inputs, return_outputs_dict=True)["controls"]
    expected = list(inputs) + [
        "harmonic/signal",
        "harmonic/controls/amplitudes",
        "harmonic/controls/harmonic_distribution",
        "harmonic/controls/f0_hz",
        "noise/signal",
        "noise/controls/magnitudes",
        "add/signal",
        "reverb/signal",
        "reverb/controls/ir",
        "out/signal",
    ]
    for key in expected:
        value = nested_lookup(key, outputs)
        assert isinstance(value, np.ndarray), key
        assert value.dtype == np.float32, key
    assert nested_lookup("reverb/controls/ir", outputs).shape == (BATCH, REVERB_LENGTH)
    assert nested_lookup("out/signal", outputs).shape == (BATCH, N_SAMPLES)


def test_processor_group_signal_is_the_last_node():
    inputs = make_inputs()
    group = make_group()
    result = group(inputs, return_outputs_dict=True)
    outputs = result["controls"]
    assert outputs["out"] is outputs["reverb"]
    np.testing.assert_array_equal(result["signal"], outputs["reverb"]["signal"])
    # The group's plain call returns the same signal (the noise is re-seeded by a fresh group).
    np.testing.assert_array_equal(make_group()(inputs), result["signal"])


def test_processor_group_nodes_compose():
    """Each node's signal equals the processor run by hand on the looked-up inputs."""
    inputs = make_inputs()
    group = make_group()
    outputs = group(inputs, return_outputs_dict=True)["controls"]
    ref = make_group()
    harmonic, noise, add, reverb = ref.processors
    h = harmonic(inputs["amps"], inputs["harmonic_distribution"], inputs["f0_hz"])
    n = noise(inputs["magnitudes"])
    np.testing.assert_array_equal(outputs["harmonic"]["signal"], h)
    np.testing.assert_array_equal(outputs["noise"]["signal"], n)
    np.testing.assert_array_equal(outputs["add"]["signal"], n + h)
    np.testing.assert_array_equal(outputs["reverb"]["signal"], reverb(n + h))


def test_processor_group_names_and_processors():
    group = make_group()
    assert group.processor_names == ["harmonic", "noise", "add", "reverb"]
    assert [type(p).__name__ for p in group.processors] == [
        "Harmonic",
        "FilteredNoise",
        "Add",
        "Reverb",
    ]
    assert group.name == "processor_group"


def test_inputs_available_at_root_and_under_inputs():
    inputs = make_inputs()
    outputs = make_group().get_controls(inputs)
    for key, value in inputs.items():
        assert outputs[key] is value
        assert outputs["inputs"][key] is value
    # A node may read its input through the 'inputs/' prefix too.
    crop = processors.Crop(64, name="crop")
    group = processors.ProcessorGroup([(crop, ["inputs/target_audio"])])
    np.testing.assert_array_equal(group(inputs), inputs["target_audio"][:, :-64])


def test_missing_input_key_lists_available_keys():
    group = processors.ProcessorGroup([(processors.Add(), ["a", "missing/key"])])
    with pytest.raises(KeyError) as info:
        group({"a": np.ones(3), "b": np.ones(3)})
    message = str(info.value)
    assert "missing/key" in message
    for key in ("inputs/a", "inputs/b", "'a'", "'b'"):
        assert key in message


def test_nested_lookup_error_lists_nested_keys():
    outputs = {"harmonic": {"signal": 1, "controls": {"f0_hz": 2}}}
    with pytest.raises(KeyError, match=r"harmonic/controls/amps.*harmonic/controls/f0_hz"):
        nested_lookup("harmonic/controls/amps", outputs)


def test_kwarg_named_modules():
    inputs = {"x": np.full((1, 4), 1.0), "y": np.full((1, 4), 2.0)}
    group = processors.ProcessorGroup(
        [("adder", ["x", "y"]), ("adder2", ["adder/signal", "x"])],
        adder=processors.Add(name="first"),
        adder2=processors.Add(name="second"),
    )
    outputs = group(inputs, return_outputs_dict=True)
    # Outputs are stored under the keyword name, not the processor's own name.
    assert group.processor_names == ["adder", "adder2"]
    np.testing.assert_array_equal(outputs["controls"]["adder"]["signal"], np.full((1, 4), 3.0))
    np.testing.assert_array_equal(outputs["signal"], np.full((1, 4), 4.0))


def test_unknown_kwarg_module_name_raises():
    with pytest.raises(ValueError, match=r"'nope'.*\['adder'\]"):
        processors.ProcessorGroup([("nope", ["x"])], adder=processors.Add())


def test_two_modules_with_one_name_raise():
    with pytest.raises(ValueError, match="share the name 'add'"):
        processors.ProcessorGroup([(processors.Add(), ["a", "b"]), (processors.Add(), ["a", "b"])])


def test_malformed_nodes_raise():
    with pytest.raises(ValueError, match="node 0"):
        dags.DAGLayer([(processors.Add(),)])
    with pytest.raises(ValueError, match="list of keys"):
        dags.DAGLayer([(processors.Add(), "a")])


def test_non_dict_inputs_raise():
    with pytest.raises(TypeError, match="dict"):
        dags.DAGLayer([(processors.Add(), ["a", "b"])])(np.ones(3))


def test_empty_group_has_no_signal():
    with pytest.raises(ValueError, match="empty"):
        processors.ProcessorGroup([])({"a": np.ones(2)})


# -- DAGLayer with plain callables (ddsp's dags_test) --------------------------------------------


class Dense:
    """A tiny non-processor module: x @ w, returning an array (not a dict)."""

    def __init__(self, w, name):
        self.w, self.name = w, name

    def __call__(self, x):
        return x @ self.w


class Split:
    """Returns a tuple: the first and the remaining columns."""

    name = "split"

    def __call__(self, x):
        return x[:, :1], x[:, 1:]


def make_autoencoder(rng, use_kwargs):
    enc = Dense(rng.normal(size=(5, 2)), "encoder")
    bottleneck = Dense(rng.normal(size=(2, 2)), "bottleneck")
    dec = Dense(rng.normal(size=(2, 5)), "decoder")
    if use_kwargs:
        dag = [
            ("encoder", ["test_data"], ["z"]),
            ("bottleneck", ["encoder/z"], ["z"]),
            ("decoder", ["bottleneck/z"], ["reconstruction"]),
        ]
        return dags.DAGLayer(dag, encoder=enc, bottleneck=bottleneck, decoder=dec), (
            enc,
            bottleneck,
            dec,
        )
    dag = [
        (enc, ["test_data"], ["z"]),
        (bottleneck, ["encoder/z"], ["z"]),
        (dec, ["bottleneck/z"], ["reconstruction"]),
    ]
    return dags.DAGLayer(dag), (enc, bottleneck, dec)


@pytest.mark.parametrize("use_kwargs", [True, False])
def test_dag_layer_with_non_dict_outputs(use_kwargs):
    rng = np.random.default_rng(0)
    layer, (enc, bottleneck, dec) = make_autoencoder(rng, use_kwargs)
    x = rng.normal(size=(3, 5))
    outputs = layer({"test_data": x})
    np.testing.assert_array_equal(outputs["test_data"], x)
    np.testing.assert_array_equal(outputs["inputs"]["test_data"], x)
    np.testing.assert_allclose(outputs["bottleneck"]["z"], x @ enc.w @ bottleneck.w)
    assert outputs["bottleneck"]["z"].shape == (3, 2)
    np.testing.assert_allclose(
        outputs["decoder"]["reconstruction"], x @ enc.w @ bottleneck.w @ dec.w
    )
    assert outputs["out"] is outputs["decoder"]
    assert layer.module_names == ["encoder", "bottleneck", "decoder"]


def test_tuple_outputs_are_named_by_output_keys():
    x = np.arange(6.0).reshape(2, 3)
    outputs = dags.DAGLayer([(Split(), ["x"], ["first", "rest"])])({"x": x})
    np.testing.assert_array_equal(outputs["split"]["first"], x[:, :1])
    np.testing.assert_array_equal(outputs["split"]["rest"], x[:, 1:])


def test_non_dict_output_without_output_keys_raises():
    layer = dags.DAGLayer([(Dense(np.eye(2), "dense"), ["x"])])
    with pytest.raises(ValueError, match="'dense'.*output keys"):
        layer({"x": np.ones((1, 2))})


def test_output_keys_count_mismatch_raises():
    layer = dags.DAGLayer([(Split(), ["x"], ["only_one"])])
    with pytest.raises(ValueError, match="only_one"):
        layer({"x": np.ones((1, 3))})


def test_kwargs_are_forwarded_and_verbose_prints(capsys):
    seen = {}

    class Probe:
        name = "probe"

        def __call__(self, x, training=None):
            seen["training"] = training
            return {"y": x}

    dags.DAGLayer([(Probe(), ["x"])]).run_dag({"x": np.ones((1, 2))}, verbose=True, training=True)
    assert seen["training"] is True
    assert "probe" in capsys.readouterr().out


def test_losses_are_called_through_get_losses_dict():
    class L1:
        name = "l1"

        def get_losses_dict(self, a, b):
            return {"l1_loss": np.abs(a - b).mean()}

    outputs = dags.DAGLayer([(L1(), ["a", "b"])])({"a": np.ones(3), "b": np.zeros(3)})
    assert outputs["l1"]["l1_loss"] == 1.0
    assert dags.is_loss(L1()) and not dags.is_processor(L1())
    assert dags.is_processor(processors.Add())


def test_format_dag():
    text = dags.format_dag([(processors.Add(), ["a", "b"]), ("x", ["add/signal"], ["y"])])
    assert text.splitlines() == ["0: add <- ['a', 'b']", "1: x <- ['add/signal'] -> ['y']"]


# -- gradients through a whole group -------------------------------------------------------------


def test_group_gradient_with_respect_to_inputs():
    inputs = make_inputs(seed=1, dtype=np.float64)
    keys = ["amps", "harmonic_distribution", "f0_hz", "magnitudes"]

    def fun(amps, dist, f0, mags):
        group = make_group(seed=5)  # same noise in every finite-difference evaluation
        return group({"amps": amps, "harmonic_distribution": dist, "f0_hz": f0, "magnitudes": mags})

    # f0 far below Nyquist / n_harmonics keeps the Nyquist mask constant.
    check_grads(fun, *[inputs[k] for k in keys])


def test_group_gradient_with_respect_to_parameters():
    inputs = make_inputs(seed=2, dtype=np.float64)
    params = {"reverb": {"ir": np.random.default_rng(3).normal(size=REVERB_LENGTH)}}
    cot = np.random.default_rng(4).normal(size=(BATCH, N_SAMPLES))

    def loss(p):
        return ddsp_ref.autodiff.ops.sum(make_group(seed=5).apply(p, inputs) * cot)

    check_grads(loss, params, argnums=0)
    # The gradient of a linear-in-ir loss is independent of ir: compare with the explicit
    # correlation of cot with the dry signal (taps >= 1; tap 0 is masked).
    _, grads = ddsp_ref.value_and_grad(loss)(params)
    dry = make_group(seed=5)(inputs, return_outputs_dict=True)["controls"]["add"]["signal"]
    expected = np.array(
        [np.sum(cot[:, k:] * dry[:, : N_SAMPLES - k]) for k in range(REVERB_LENGTH)]
    )
    expected[0] = 0.0
    np.testing.assert_allclose(grads["reverb"]["ir"], expected, rtol=1e-9, atol=1e-9)


def test_group_outputs_are_float64_for_float64_inputs():
    out = make_group()(make_inputs(dtype=np.float64))
    # The trainable reverb's float32 ir promotes nothing: float64 audio stays float64.
    assert out.dtype == np.float64
    assert np.all(np.isfinite(out))
