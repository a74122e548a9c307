"""Every registered autodiff op has gradient-check cases, and every case passes.

Adding an op to ddsp_ref.autodiff without adding a case to tests/autodiff/cases.py fails
test_every_registered_op_has_a_case.
"""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest

import ddsp_ref
from ddsp_ref.autodiff import REGISTRY, ops
from ddsp_ref.autodiff.tape import Primitive
from tests.autodiff.cases import ALL_CASES, CASE_IDS, CASES

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def test_every_registered_op_has_a_case():
    missing = sorted(set(REGISTRY) - set(CASES))
    assert not missing, f"ops registered without a gradient-check case in cases.py: {missing}"


def test_importing_autodiff_alone_registers_every_op():
    # Whatever a program imported, `import ddsp_ref.autodiff` gives the complete registry:
    # kernel-backed ops live in ddsp_ref.autodiff.fused, not in the DSP layers that use them.
    code = "import ddsp_ref.autodiff as a\nprint(' '.join(sorted(a.REGISTRY)))\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    alone = set(result.stdout.split())
    assert alone == set(CASES), (
        f"registered only after importing other modules: {sorted(set(CASES) - alone)}"
    )


def test_every_case_names_a_registered_op():
    stale = sorted(set(CASES) - set(REGISTRY))
    assert not stale, f"cases for ops that are not registered: {stale}"
    assert all(CASES[name] for name in CASES), "an op with an empty case list"


def test_registry_holds_primitives_under_their_names():
    for name, prim in REGISTRY.items():
        assert isinstance(prim, Primitive)
        assert prim.name == name


def test_registering_a_name_twice_raises():
    with pytest.raises(ValueError, match="registered twice"):
        Primitive("add", lambda xp, a: (a, None), lambda xp, s, g: (g,))


@pytest.mark.parametrize("name,case", ALL_CASES, ids=CASE_IDS)
def test_gradient(name, case):
    ddsp_ref.check_grads(case.fun, *case.args)


def _float_args(case) -> list[int]:
    return [i for i, a in enumerate(case.args) if np.asarray(a).dtype.kind in "fc"]


_MULTI = [(i, p) for i, p in zip(CASE_IDS, ALL_CASES) if len(_float_args(p[1])) > 1]


def _to_single(a):
    a = np.asarray(a)
    return a.astype(np.complex64 if a.dtype.kind == "c" else np.float32)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,case", [p for _, p in _MULTI], ids=[i for i, _ in _MULTI])
def test_gradient_on_every_subset_of_inputs(name, case, dtype):
    """Differentiating any non-empty subset of the inputs gives the same components as
    differentiating all of them (an op's VJP is told which inputs are traced, and fused ops
    skip work accordingly: a skipped branch must not change or break the others)."""
    args = list(case.args) if dtype == "float64" else [_to_single(a) for a in case.args]
    floats = _float_args(case)
    _, full = ddsp_ref.value_and_grad(lambda *a: ops.sum(ops.real(case.fun(*a))), floats)(*args)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=2e-5, atol=1e-6)
    for size in range(1, len(floats)):
        for subset in itertools.combinations(floats, size):
            _, part = ddsp_ref.value_and_grad(lambda *a: ops.sum(ops.real(case.fun(*a))), subset)(
                *args
            )
            for k, index in enumerate(subset):
                expected = full[floats.index(index)]
                assert part[k].dtype == expected.dtype
                np.testing.assert_allclose(part[k], expected, **tol, err_msg=f"subset {subset}")
            if dtype == "float64":
                ddsp_ref.check_grads(case.fun, *args, argnums=subset)


# Cases with a numpy forward reference (the fused DSP ops have none; their forward values are
# tested against the composed DSP functions in tests/kernels and tests/test_losses.py).
_WITH_REF = [(i, pair) for i, pair in zip(CASE_IDS, ALL_CASES) if pair[1].ref is not None]


@pytest.mark.parametrize("name,case", [p for _, p in _WITH_REF], ids=[i for i, _ in _WITH_REF])
def test_forward_matches_numpy(name, case):
    np.testing.assert_allclose(case.fun(*case.args), case.ref(*case.args), rtol=1e-12,
                               atol=1e-12)  # fmt: skip


# -- conventions that central differences cannot see (kinks, ties, repeats) ------------------


def _grad(fun, *args, argnums=0):
    return ddsp_ref.grad(fun, argnums=argnums)(*args)


def test_reduction_ties_share_the_gradient_evenly():
    x = np.array([[2.0, 2.0, 2.0, 1.0], [0.0, 5.0, -1.0, 5.0]])
    np.testing.assert_allclose(
        _grad(lambda v: ops.max(v, axis=1).sum(), x),
        [[1 / 3, 1 / 3, 1 / 3, 0.0], [0.0, 0.5, 0.0, 0.5]],
    )
    np.testing.assert_allclose(_grad(lambda v: ops.min(-v), x), -0.5 * (x == 5.0))


def test_elementwise_ties_split_in_half():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 4.0])
    ga, gb = _grad(lambda p, q: ops.maximum(p, q).sum(), a, b, argnums=(0, 1))
    np.testing.assert_allclose(ga, [0.5, 1.0, 0.0])
    np.testing.assert_allclose(gb, [0.5, 0.0, 1.0])
    ga, gb = _grad(lambda p, q: ops.minimum(p, q).sum(), a, b, argnums=(0, 1))
    np.testing.assert_allclose(ga, [0.5, 0.0, 1.0])
    np.testing.assert_allclose(gb, [0.5, 1.0, 0.0])


def test_repeated_indices_accumulate():
    x = np.arange(5.0)
    idx = np.array([0, 2, 2, 2, 4, 0])
    expected = np.array([2.0, 0.0, 3.0, 0.0, 1.0])
    np.testing.assert_allclose(_grad(lambda v: v[idx].sum(), x), expected)
    np.testing.assert_allclose(_grad(lambda v: ops.take(v, idx).sum(), x), expected)
    np.testing.assert_allclose(
        _grad(lambda v: ops.take_along_axis(v[None], idx[None], 1).sum(), x), expected
    )
    mask = np.array([True, False, True, False, False])
    np.testing.assert_allclose(_grad(lambda v: (v[mask] * 3.0).sum(), x), 3.0 * mask)


def test_frame_gradient_counts_frame_coverage():
    # frame 4, hop 3 over 11 samples with pad_end: sample t appears in #{f: 3f <= t < 3f+4}.
    g = _grad(lambda v: ops.frame(v, 4, 3, pad_end=True).sum(), np.zeros(11))
    np.testing.assert_allclose(g, [1, 1, 1, 2, 1, 1, 2, 1, 1, 2, 1])
    # hop 5 > frame 3: the samples between frames get no gradient.
    g = _grad(lambda v: ops.frame(v, 3, 5).sum(), np.zeros(12))
    np.testing.assert_allclose(g, [1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0])


def test_kink_conventions():
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(_grad(lambda v: ops.abs(v).sum(), x), [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(_grad(lambda v: ops.relu(v).sum(), x), [0.0, 0.0, 1.0])
    np.testing.assert_allclose(_grad(lambda v: ops.abs(v + 0j).sum(), x), [-1.0, 0.0, 1.0])
    # clip passes the gradient at the bounds themselves (tf.clip_by_value) ...
    np.testing.assert_allclose(_grad(lambda v: ops.clip(v, -1.0, 2.0).sum(), x), [1, 1, 1])
    # ... and to the bounds outside
    lo, hi = np.array([0.5, 0.5, 0.5]), np.array([1.0, 1.0, 1.0])
    g = _grad(lambda v, a, b: ops.clip(v, a, b).sum(), x, lo, hi, argnums=(0, 1, 2))
    np.testing.assert_allclose(np.stack(g), [[0, 0, 0], [1, 1, 0], [0, 0, 1]])


def test_power_and_mod_gradients_at_special_points():
    np.testing.assert_allclose(_grad(lambda v: (v**2.0).sum(), np.zeros(2)), [0.0, 0.0])
    g_exp = _grad(lambda b: ops.power(np.array([0.0, 2.0]), b).sum(), np.array([2.0, 3.0]))
    np.testing.assert_allclose(g_exp, [0.0, 8.0 * np.log(2.0)])
    # mod passes the gradient straight through its wraps (TF's FloorMod gradient).
    np.testing.assert_allclose(_grad(lambda v: ops.mod(v, 1.0).sum(), np.array([0.5, 2.5])), 1)
    g_b = _grad(lambda b: ops.mod(np.array([7.0, -1.0]), b).sum(), np.array([2.0, 3.0]))
    np.testing.assert_allclose(g_b, [-3.0, 1.0])


def test_piecewise_constant_ops_have_zero_gradient():
    x = np.array([-1.3, 0.2, 2.7])
    for op in (ops.sign, ops.floor, ops.round):
        np.testing.assert_array_equal(_grad(lambda v, op=op: (op(v) * v).sum(), x), op(x))
