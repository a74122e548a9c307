"""transposed_product: a.T @ g in column blocks equals the plain product (float64 reference)."""

from __future__ import annotations

import numpy as np
import pytest

from ddsp_ref.kernels.gemm import transposed_product


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("rows,k,n", [(1, 1, 1), (5, 3, 200), (7, 130, 131), (9, 256, 768),
                                      (3, 2, 65), (4, 200, 64)])  # fmt: skip
def test_matches_plain_product(dtype, rows, k, n):
    rng = np.random.default_rng(rows * k + n)
    a = rng.standard_normal((rows, k)).astype(dtype)
    g = rng.standard_normal((rows, n)).astype(dtype)
    if np.iscomplexobj(a):
        a = a + 1j * rng.standard_normal(a.shape)
    out = transposed_product(a, g)
    expected = a.astype(np.complex128).T @ g.astype(np.complex128)
    assert out.shape == (k, n) and out.dtype == np.result_type(a, g)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol * np.abs(expected).max())


def test_transposed_views_and_mixed_dtypes():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 40)).T  # non-contiguous [40, 300]
    g = rng.standard_normal((40, 500)).astype(np.float32)
    np.testing.assert_allclose(transposed_product(a, g), a.T @ g.astype(np.float64), rtol=1e-6)
    assert transposed_product(a, g).dtype == np.float64
