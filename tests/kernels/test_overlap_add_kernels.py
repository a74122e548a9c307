"""Overlap-add / framing kernels: reference vs a loop formula, numba CPU and CUDA (simulator)
vs reference, the launcher's layouts, selection and errors, and the autodiff ops on top."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ddsp_ref
from ddsp_ref.autodiff import ops
from ddsp_ref.kernels import overlap_add as launcher
from ddsp_ref.kernels import overlap_add_reference as reference
from ddsp_ref.kernels.selection import select

cpu = pytest.importorskip("ddsp_ref.kernels.overlap_add_cpu")

TOL = {np.float32: dict(rtol=1e-6, atol=1e-6), np.float64: dict(rtol=1e-13, atol=1e-13)}


# -- independent loop formulas -------------------------------------------------------------------
def loop_overlap_add(frames, hop):
    """out[f * hop + i] += frames[f, i], one frame at a time, in float64."""
    rows, n_frames, size = frames.shape
    out = np.zeros((rows, (n_frames - 1) * hop + size))
    for f in range(n_frames):
        out[:, f * hop : f * hop + size] += frames[:, f]
    return out


def loop_frame(x, size, hop, n_frames, pad_value=0.0):
    """out[f, i] = x[f * hop + i], pad_value past the end."""
    rows, length = x.shape
    out = np.full((rows, n_frames, size), pad_value, dtype=np.float64)
    for f in range(n_frames):
        piece = x[:, f * hop : f * hop + size]
        out[:, f, : piece.shape[1]] = piece
    return out


@st.composite
def ola_case(draw, max_frames=12, max_size=20, max_hop=24):
    """Frames [rows, F, L] and a hop: odd sizes, hop > L, hop == L, a single frame."""
    rows = draw(st.integers(1, 3))
    n_frames = draw(st.integers(1, max_frames))
    size = draw(st.integers(1, max_size))
    hop = draw(
        st.sampled_from([1, size, size + 1, max(1, size // 2), max(1, size // 3)])
        | st.integers(1, max_hop)
    )
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**16))
    frames = np.random.default_rng(seed).standard_normal((rows, n_frames, size)).astype(dtype)
    return frames, hop


@st.composite
def frame_case(draw, max_len=60):
    rows = draw(st.integers(1, 3))
    size = draw(st.integers(1, min(16, max_len)))
    hop = draw(st.integers(1, 20))
    pad_end = draw(st.booleans())
    length = draw(st.integers(0 if pad_end else size, max_len))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**16))
    x = np.random.default_rng(seed).standard_normal((rows, length)).astype(dtype)
    pad_value = draw(st.sampled_from([0.0, -1.5]))
    return x, size, hop, launcher.n_frames_of(length, size, hop, pad_end), pad_value


# -- reference vs loop, CPU kernel vs reference ---------------------------------------------------
@given(ola_case())
def test_overlap_add_reference_and_cpu_kernel(case):
    frames, hop = case
    expected = loop_overlap_add(frames.astype(np.float64), hop)
    ref = reference.overlap_add(frames, hop)
    ours = cpu.overlap_add(frames, hop)
    assert ref.dtype == ours.dtype == frames.dtype
    np.testing.assert_allclose(ref, expected, **TOL[frames.dtype.type])
    # Same summation order (latest frame first): the CPU kernel matches to the bit.
    np.testing.assert_array_equal(ours, ref)


@given(frame_case())
def test_frame_reference_and_cpu_kernel(case):
    x, size, hop, n_frames, pad_value = case
    expected = loop_frame(x, size, hop, n_frames, pad_value)
    ref = reference.frame(x, size, hop, n_frames, pad_value)
    ours = cpu.frame(x, size, hop, n_frames, pad_value)
    assert ref.shape == ours.shape == (x.shape[0], n_frames, size)
    assert ours.dtype == x.dtype
    np.testing.assert_array_equal(ref, expected.astype(x.dtype))
    np.testing.assert_array_equal(ours, ref)


def test_cpu_kernels_on_a_long_row():
    # One row longer than a parallel block: the time axis itself is split across tasks.
    frames = np.random.default_rng(0).standard_normal((1, 3000, 48))
    np.testing.assert_allclose(
        cpu.overlap_add(frames, 16), loop_overlap_add(frames, 16), rtol=1e-13, atol=1e-13
    )
    x = np.random.default_rng(1).standard_normal((1, 50001))
    np.testing.assert_array_equal(cpu.frame(x, 48, 16, 3125), loop_frame(x, 48, 16, 3125))


def test_overlap_add_and_frame_are_adjoint():
    # <ola(F), y> == <F, frame(y)>: the forward kernel and its backward kernel agree.
    rng = np.random.default_rng(2)
    frames = rng.standard_normal((3, 200, 96))
    hop = 40
    y = rng.standard_normal((3, 199 * hop + 96))
    lhs = np.sum(cpu.overlap_add(frames, hop) * y)
    rhs = np.sum(frames * cpu.frame(y, 96, hop, 200))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12)


# -- CUDA kernels (numba's simulator without a GPU: tiny sizes) ------------------------------------
@settings(max_examples=6)
@given(ola_case(max_frames=4, max_size=6, max_hop=7))
def test_overlap_add_cuda_kernel(case):
    cuda = pytest.importorskip("ddsp_ref.kernels.overlap_add_cuda")
    frames, hop = case
    np.testing.assert_allclose(
        cuda.overlap_add(frames, hop), reference.overlap_add(frames, hop), **TOL[frames.dtype.type]
    )


@settings(max_examples=6)
@given(frame_case(max_len=12))
def test_frame_cuda_kernel(case):
    cuda = pytest.importorskip("ddsp_ref.kernels.overlap_add_cuda")
    x, size, hop, n_frames, pad_value = case
    np.testing.assert_array_equal(
        cuda.frame(x, size, hop, n_frames, pad_value),
        reference.frame(x, size, hop, n_frames, pad_value),
    )


# -- launcher -------------------------------------------------------------------------------------
def test_launcher_layouts(xp):
    rng = np.random.default_rng(3)
    frames = rng.standard_normal((2, 3, 5, 7))
    expected = loop_overlap_add(frames.reshape(6, 5, 7), 3).reshape(2, 3, -1)
    out = launcher.overlap_add(xp.asarray(frames), 3)
    np.testing.assert_allclose(ddsp_ref.backend.to_numpy(out), expected, rtol=1e-13)
    # Non-contiguous input (a transposed view) and a 2-D [F, L] input.
    view = np.swapaxes(rng.standard_normal((7, 4)), 0, 1)
    np.testing.assert_allclose(
        ddsp_ref.backend.to_numpy(launcher.overlap_add(xp.asarray(view), 2)),
        loop_overlap_add(view[None], 2)[0],
        rtol=1e-13,
    )
    x = rng.standard_normal((2, 3, 11))
    framed = launcher.frame(xp.asarray(x), 4, 3, pad_end=True, pad_value=9.0)
    np.testing.assert_array_equal(
        ddsp_ref.backend.to_numpy(framed),
        loop_frame(x.reshape(6, 11), 4, 3, 4, 9.0).reshape(2, 3, 4, 4),
    )
    one_d = launcher.frame(xp.asarray(x[0, 0]), 5, 2)
    np.testing.assert_array_equal(ddsp_ref.backend.to_numpy(one_d), loop_frame(x[0], 5, 2, 4)[0])


def test_launcher_edge_cases():
    no_frames = launcher.overlap_add(np.zeros((2, 0, 5)), 2)
    np.testing.assert_array_equal(no_frames, np.zeros((2, 3)))
    assert launcher.frame(np.ones((2, 3)), 4, 1).shape == (2, 0, 4)
    assert launcher.frame(np.ones((2, 0)), 4, 1, pad_end=True).shape == (2, 0, 4)
    ints = launcher.overlap_add(np.ones((1, 3, 4), dtype=np.int64), 2)  # reference only
    np.testing.assert_array_equal(ints, [[1, 1, 2, 2, 2, 2, 1, 1]])


@pytest.mark.parametrize("call, match", [
    (lambda: launcher.overlap_add(np.ones((1, 2, 3)), 0), "hop_size"),
    (lambda: launcher.overlap_add(np.ones((1, 2, 3)), 1.5), "hop_size"),
    (lambda: launcher.overlap_add(np.ones(3), 1), "frames"),
    (lambda: launcher.frame(np.ones(8), 0, 1), "frame_size"),
    (lambda: launcher.frame(np.ones(8), 2, -1), "hop_size"),
    (lambda: launcher.frame(np.float64(1.0), 2, 1), "at least one axis"),
])  # fmt: skip
def test_launcher_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_selection(monkeypatch):
    big = launcher.MIN_OVERLAP_ADD_SIZE
    monkeypatch.delenv("DDSP_REF_KERNELS", raising=False)
    assert select("overlap_add", np, (np.float32,), cpu_pays=True) is cpu
    assert select("overlap_add", np, (np.float32,), cpu_pays=False) is reference
    assert select("overlap_add", np, (np.complex64,)) is reference
    monkeypatch.setenv("DDSP_REF_KERNELS", "reference")
    assert select("overlap_add", np, (np.float32,)) is reference
    monkeypatch.setenv("DDSP_REF_KERNELS", "fast")
    with pytest.raises(ValueError, match="DDSP_REF_KERNELS='fast'"):
        launcher.overlap_add(np.zeros((1, 4, 8), np.float32), 2)
    monkeypatch.setenv("DDSP_REF_KERNELS", "reference")
    # Forced reference and kernel give the same numbers on a kernel-sized input.
    frames = np.random.default_rng(4).standard_normal((2, big // 64, 64)).astype(np.float32)
    forced = launcher.overlap_add(frames, 16)
    monkeypatch.delenv("DDSP_REF_KERNELS")
    np.testing.assert_array_equal(launcher.overlap_add(frames, 16), forced)


# -- the autodiff ops on the kernels --------------------------------------------------------------
def test_ops_gradients_through_cpu_kernels(monkeypatch):
    monkeypatch.setattr(launcher, "MIN_FRAME_SIZE", 1)  # framing kernel at test sizes too
    monkeypatch.delenv("DDSP_REF_KERNELS", raising=False)
    rng = np.random.default_rng(5)
    frames = rng.standard_normal((2, 300, 256))  # above MIN_OVERLAP_ADD_SIZE: numba kernels
    assert frames.size >= launcher.MIN_OVERLAP_ADD_SIZE
    ddsp_ref.check_grads(lambda f: ops.overlap_add(f, 64), frames)
    x = rng.standard_normal((2, 5000))
    ddsp_ref.check_grads(lambda v: ops.frame(v, 256, 100, pad_end=True), x)
    # The VJP of overlap_add is framing (the CPU kernel here).
    y = rng.standard_normal((2, 299 * 64 + 256))
    _, grad = ddsp_ref.value_and_grad(lambda f: ops.sum(ops.overlap_add(f, 64) * y))(frames)
    np.testing.assert_array_equal(grad, loop_frame(y, 256, 64, 300))
