"""ddsp_ref.gin_support: ddsp-style gin configs (@synths.Harmonic(), ProcessorGroup.dag, scale
functions, oscillator bindings) and the ImportError naming the extra when gin is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ddsp_ref
from ddsp_ref import gin_support

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def gin():
    gin = pytest.importorskip("gin")
    gin.clear_config()
    yield gin
    gin.clear_config()


def controls(n_frames=10, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "amps": rng.normal(size=(1, n_frames, 1)),
        "harmonic_distribution": rng.normal(size=(1, n_frames, 5)),
        "f0_hz": rng.uniform(100.0, 400.0, size=(1, n_frames, 1)),
        "noise_magnitudes": rng.normal(size=(1, n_frames, 9)),
    }


# The example of ddsp's README, with sizes made small.
README_CONFIG = """
import ddsp_ref

Harmonic.n_samples = 320
FilteredNoise.n_samples = 320
FilteredNoise.seed = 0

processors.ProcessorGroup.dag = [
  (@synths.Harmonic(), ['amps', 'harmonic_distribution', 'f0_hz']),
  (@synths.FilteredNoise(), ['noise_magnitudes']),
  (@processors.Add(), ['filtered_noise/signal', 'harmonic/signal']),
]
"""


def test_readme_config_builds_the_group(gin):
    gin.parse_config(README_CONFIG)
    group = ddsp_ref.processors.ProcessorGroup()
    assert group.processor_names == ["harmonic", "filtered_noise", "add"]
    harmonic, noise, _ = group.processors
    assert isinstance(harmonic, ddsp_ref.synths.Harmonic) and harmonic.n_samples == 320
    assert isinstance(noise, ddsp_ref.synths.FilteredNoise) and noise.n_samples == 320
    x = controls()
    out = group(x)
    expected = ddsp_ref.synths.Harmonic(n_samples=320)(
        x["amps"], x["harmonic_distribution"], x["f0_hz"]
    ) + ddsp_ref.synths.FilteredNoise(n_samples=320, seed=0)(x["noise_magnitudes"])
    np.testing.assert_allclose(out, expected, atol=1e-12)


def test_full_dag_with_reverb(gin):
    gin.parse_config(
        README_CONFIG
        + """
Reverb.trainable = True
Reverb.reverb_length = 64
processors.ProcessorGroup.dag = [
  (@synths.Harmonic(), ['amps', 'harmonic_distribution', 'f0_hz']),
  (@synths.FilteredNoise(), ['noise_magnitudes']),
  (@processors.Add(), ['filtered_noise/signal', 'harmonic/signal']),
  (@effects.Reverb(), ['add/signal']),
]
"""
    )
    group = ddsp_ref.processors.ProcessorGroup()
    assert group.processor_names == ["harmonic", "filtered_noise", "add", "reverb"]
    assert group.parameters()["reverb"]["ir"].shape == (64,)
    outputs = group(controls(), return_outputs_dict=True)
    assert outputs["controls"]["out"] is outputs["controls"]["reverb"]
    assert outputs["signal"].shape == (1, 320)


def test_oscillator_binding_is_accepted_and_used(gin):
    gin.parse_config("""
import ddsp_ref
oscillator_bank.use_angular_cumsum = True
""")
    assert gin.query_parameter("oscillator_bank.use_angular_cumsum") is True
    f0, amps = np.full((1, 50, 1), 440.0), np.ones((1, 50, 1))
    out = ddsp_ref.core.oscillator_bank(f0, amps)
    np.testing.assert_allclose(
        out[0], np.sin(2 * np.pi * 440.0 * np.arange(1, 51) / 16000), atol=1e-12
    )
    # The binding reached the call (gin lists the parameters it actually used).
    assert "oscillator_bank.use_angular_cumsum = True" in gin.operative_config_str()


def test_scale_functions_are_referenced_as_core(gin):
    gin.parse_config("""
import ddsp_ref
Harmonic.scale_fn = @core.exp_sigmoid
FilteredNoise.scale_fn = @core.sym_exp_sigmoid
Sinusoidal.freq_scale_fn = @core.frequencies_softmax
processors.ProcessorGroup.dag = [
  (@synths.Harmonic(), ['amps', 'harmonic_distribution', 'f0_hz']),
  (@synths.FilteredNoise(), ['noise_magnitudes']),
  (@synths.Sinusoidal(), ['amps', 'harmonic_distribution']),
]
""")
    harmonic, noise, sinusoidal = ddsp_ref.processors.ProcessorGroup().processors
    # gin hands out its registered wrapper of each function: compare what they compute.
    x = np.random.default_rng(1).normal(size=(1, 3, 4))
    core = ddsp_ref.core
    for fn, ref in (
        (harmonic.scale_fn, core.exp_sigmoid),
        (noise.scale_fn, core.sym_exp_sigmoid),
        (sinusoidal.freq_scale_fn, core.frequencies_softmax),
    ):
        assert fn.__name__ == ref.__name__
        np.testing.assert_array_equal(fn(x), ref(x))
    assert not np.allclose(core.exp_sigmoid(x), core.sym_exp_sigmoid(x))


def test_gin_helpers_wrap_gin(gin):
    gin_support.parse_config(["import ddsp_ref", "Harmonic.n_samples = 123"])
    assert gin_support.query_parameter("Harmonic.n_samples") == 123
    gin_support.clear_config()
    with pytest.raises(ValueError):
        gin_support.query_parameter("Harmonic.n_samples")
    assert gin_support.gin_available() and gin_support.require_gin() is gin


def test_gin_helpers_without_gin_name_the_extra(monkeypatch):
    monkeypatch.setattr(gin_support, "_gin", None)
    assert not gin_support.gin_available()
    for call in (
        gin_support.require_gin,
        lambda: gin_support.parse_config("a.b = 1"),
        lambda: gin_support.parse_config_files_and_bindings([]),
        lambda: gin_support.query_parameter("a.b"),
        gin_support.clear_config,
    ):
        with pytest.raises(ImportError, match=r"ddsp_ref\[gin\]"):
            call()

    # Registration is a no-op without gin.
    class Thing:
        pass

    assert gin_support.register(Thing, module="x") is Thing
    assert gin_support.configurable(Thing) is Thing


def test_import_without_gin_installed():
    """With gin unimportable, `import ddsp_ref` works and the gin helpers name the extra."""
    code = (
        "import sys; sys.modules['gin'] = None\n"
        "import numpy as np, ddsp_ref\n"
        "from ddsp_ref import gin_support, synths\n"
        "assert not gin_support.gin_available()\n"
        "out = synths.Harmonic(n_samples=64)(np.zeros((1, 2, 1)), np.zeros((1, 2, 3)),"
        " np.full((1, 2, 1), 100.0))\n"
        "assert out.shape == (1, 64)\n"
        "try:\n"
        "    gin_support.parse_config('a.b = 1')\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "ddsp_ref[gin]" in result.stdout


# ddsp's own configs, as written: `import ddsp`, full `ddsp.` selectors, partial ones.
DDSP_CONFIG = """
import ddsp

ddsp.core.oscillator_bank.use_angular_cumsum = True
ddsp.synths.Harmonic.n_samples = 320
FilteredNoise.n_samples = 320
FilteredNoise.seed = 0
ddsp.effects.Reverb.trainable = True
Reverb.reverb_length = 16

ddsp.processors.ProcessorGroup.dag = [
  (@ddsp.synths.Harmonic(), ['amps', 'harmonic_distribution', 'f0_hz']),
  (@synths.FilteredNoise(), ['noise_magnitudes']),
  (@ddsp.processors.Add(), ['filtered_noise/signal', 'harmonic/signal']),
  (@effects.Reverb(), ['add/signal']),
]
"""


def test_ddsp_configs_parse_unchanged(gin):
    gin.parse_config(DDSP_CONFIG)
    group = ddsp_ref.processors.ProcessorGroup()
    assert group.processor_names == ["harmonic", "filtered_noise", "add", "reverb"]
    assert isinstance(group.processors[0], ddsp_ref.synths.Harmonic)
    assert group.processors[0].n_samples == 320
    assert gin.query_parameter("ddsp.core.oscillator_bank.use_angular_cumsum") is True
    assert gin.query_parameter("oscillator_bank.use_angular_cumsum") is True
    out = group(controls())
    assert out.shape == (1, 320) and np.isfinite(out).all() and np.abs(out).max() > 0


def test_import_ddsp_resolves_to_the_same_modules():
    import ddsp  # noqa: F401  (the alias hook of ddsp_ref.gin_support)
    import ddsp.core
    import ddsp.synths

    assert ddsp is ddsp_ref and ddsp.synths is ddsp_ref.synths and ddsp.core is ddsp_ref.core
    with pytest.raises(ImportError):
        import ddsp.no_such_module  # noqa: F401


def test_a_real_ddsp_is_never_shadowed(tmp_path):
    # A package called ddsp on the path stands for the real one: `import ddsp` must find it,
    # and ddsp_ref then keeps its own gin names so that both can be registered in one process.
    (tmp_path / "ddsp").mkdir()
    (tmp_path / "ddsp" / "__init__.py").write_text("REAL = True\n")
    code = (
        "import ddsp_ref, ddsp, gin\n"
        "from ddsp_ref import gin_support\n"
        "assert ddsp.REAL and ddsp is not ddsp_ref\n"
        "assert gin_support.GIN_PACKAGE == 'ddsp_ref'\n"
        "gin.parse_config('ddsp_ref.synths.Harmonic.n_samples = 8')\n"
        "assert gin.query_parameter('ddsp_ref.synths.Harmonic.n_samples') == 8\n"
        "print('ok')\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO)]))
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
