"""ddsp_ref.backend: array namespaces (numpy / cupy detection without importing cupy), device
moves, dtype policy, scatter-adds, seedable generators."""

from __future__ import annotations

import subprocess
import sys
import types

import numpy as np
import pytest

import ddsp_ref
from ddsp_ref import backend
from ddsp_ref.autodiff import Tensor, ops


def test_array_namespace_skips_scalars_and_none_and_unwraps_tensors():
    assert backend.array_namespace() is np
    assert backend.array_namespace(1, 2.5, None, True, np.float32(1), [1, 2], "x") is np
    assert backend.array_namespace(None, np.ones(2)) is np
    assert backend.array_namespace(Tensor(np.ones(2))) is np


class _FakeCupyArray:
    """Stands in for cupy.ndarray where no GPU is available."""


@pytest.fixture
def fake_cupy(monkeypatch):
    module = types.ModuleType("cupy")
    module.ndarray = _FakeCupyArray
    monkeypatch.setitem(sys.modules, "cupy", module)
    return module


def test_mixing_numpy_and_cupy_raises_type_error_fake(fake_cupy):
    gpu = fake_cupy.ndarray()
    assert backend.array_namespace(gpu) is fake_cupy
    assert backend.array_namespace(gpu, 3.0, None) is fake_cupy
    assert backend.array_namespace(Tensor(gpu)) is fake_cupy
    assert backend.is_cupy_array(gpu) and not backend.is_cupy_array(np.ones(1))
    with pytest.raises(TypeError, match="numpy.ndarray and cupy.ndarray"):
        backend.array_namespace(np.ones(2), gpu)
    with pytest.raises(TypeError, match="cupy"):
        ops.add(np.ones(2), gpu)  # every op looks its namespace up through array_namespace
    with pytest.raises(TypeError, match="cupy"):
        backend.array_namespace(Tensor(np.ones(2)), Tensor(gpu))


def test_mixing_numpy_and_cupy_raises_type_error(xp):
    if xp is np:
        pytest.skip("needs cupy")
    with pytest.raises(TypeError, match="cupy"):
        ops.add(np.ones(2), xp.ones(2))
    with pytest.raises(TypeError, match="cupy"):
        ddsp_ref.grad(lambda x: ops.sum(x * np.ones(2)))(xp.ones(2))


def test_importing_ddsp_ref_does_not_import_cupy():
    code = "import sys, ddsp_ref, ddsp_ref.core; assert 'cupy' not in sys.modules, 'cupy loaded'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_backend_helpers():
    x = np.arange(4.0)
    assert backend.to_numpy(Tensor(x)) is x
    np.testing.assert_array_equal(backend.to_numpy([1, 2]), [1, 2])
    np.testing.assert_array_equal(backend.to_device(x, "cpu"), x)
    with pytest.raises(ValueError, match="device"):
        backend.to_device(x, "tpu")
    assert backend.float_dtype(x) == np.float64
    assert backend.float_dtype(x.astype(np.float32)) == np.float32
    assert backend.float_dtype(np.arange(3)) == np.float32
    assert backend.float_dtype(Tensor(x)) == np.float64
    target = np.zeros(3)
    backend.scatter_add(np, target, np.array([0, 2, 2]), np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(target, [1.0, 0.0, 5.0])
    a, b = backend.default_rng(3).random(4), backend.default_rng(3).random(4)
    np.testing.assert_array_equal(a, b)
    gen = np.random.default_rng(0)
    assert backend.default_rng(gen) is gen
    view = backend.as_strided(np, x, (3, 2), (8, 8))
    np.testing.assert_array_equal(view, [[0, 1], [1, 2], [2, 3]])
    backend.synchronize(np)
