"""Multi-output primitives: one node, several outputs, each cotangent delivered (zeros for the
outputs the loss never used), on every subset of used outputs and traced inputs."""

from __future__ import annotations

import numpy as np
import pytest

import ddsp_ref
from ddsp_ref.autodiff import ops
from ddsp_ref.autodiff.tape import REGISTRY, Primitive


def _polar_fwd(xp, r, theta):
    return (r * xp.cos(theta), r * xp.sin(theta)), (r, theta)


def _polar_vjp(xp, saved, g, needs=(True, True)):
    r, theta = saved
    gx, gy = g
    d_r = gx * np.cos(theta) + gy * np.sin(theta) if needs[0] else None
    d_theta = r * (gy * np.cos(theta) - gx * np.sin(theta)) if needs[1] else None
    return d_r, d_theta


@pytest.fixture(scope="module")
def polar():
    prim = Primitive("test_polar", _polar_fwd, _polar_vjp, n_outputs=2)
    yield prim
    del REGISTRY["test_polar"]  # keep the registry to the library's own ops


def test_plain_arrays_give_a_tuple_of_arrays(polar):
    x, y = polar(np.array([2.0]), np.array([np.pi / 2]))
    np.testing.assert_allclose([x[0], y[0]], [0.0, 2.0], atol=1e-15)


@pytest.mark.parametrize("used", [(0,), (1,), (0, 1)])
@pytest.mark.parametrize("argnums", [(0,), (1,), (0, 1)])
def test_gradients_on_every_subset_of_outputs_and_inputs(polar, used, argnums):
    rng = np.random.default_rng(0)
    r, theta = rng.uniform(0.5, 2.0, 5), rng.uniform(-3, 3, 5)
    w = rng.standard_normal((2, 5))

    def loss(r, theta):
        outs = polar(r, theta)
        return sum(ops.sum(outs[i] * w[i]) for i in used)

    _, grads = ddsp_ref.value_and_grad(loss, argnums=argnums)(r, theta)
    # Independent answer: the closed-form derivatives of the outputs that were used.
    expect_r = sum(w[i] * (np.cos(theta) if i == 0 else np.sin(theta)) for i in used)
    expect_t = sum(w[i] * r * (-np.sin(theta) if i == 0 else np.cos(theta)) for i in used)
    expected = {0: expect_r, 1: expect_t}
    for k, a in enumerate(argnums):
        np.testing.assert_allclose(grads[k], expected[a], rtol=1e-12, atol=1e-14)
    ddsp_ref.check_grads(loss, r, theta, argnums=argnums)


def test_outputs_feeding_each_other_accumulate(polar):
    # x and y both feed a later op, and x is used twice: fan-in over several outputs of one node.
    r, theta = np.array([1.5, 0.7]), np.array([0.3, -1.2])

    def loss(r, theta):
        x, y = polar(r, theta)
        return ops.sum(x * y + x)

    ddsp_ref.check_grads(loss, r, theta)


def test_unused_node_is_skipped(polar):
    def loss(r):
        polar(r, np.zeros(3))
        return ops.sum(r * 2.0)

    _, g = ddsp_ref.value_and_grad(loss)(np.ones(3))
    np.testing.assert_array_equal(g, 2.0)


def test_forward_returning_the_wrong_number_of_outputs_raises():
    prim = Primitive("test_bad_arity", lambda xp, a: ((a,), None), lambda xp, s, g: (g[0],), 2)
    try:
        with pytest.raises(RuntimeError, match="must return 2 outputs"):
            prim(np.ones(2))
    finally:
        del REGISTRY["test_bad_arity"]


@pytest.mark.parametrize("n", [0, -1, 1.5])
def test_bad_output_count_is_rejected(n):
    with pytest.raises(ValueError, match="n_outputs"):
        Primitive(f"test_bad_{n}", _polar_fwd, _polar_vjp, n_outputs=n)
