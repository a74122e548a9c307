"""GRU / LSTM sequence kernels: the reference against hand-computed steps and a direct float64
loop, the numba CPU and CUDA (simulator) kernels against the reference forward and backward, the
launcher's layouts, dtypes, selection and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ddsp_ref
from ddsp_ref.kernels import rnn as launcher
from ddsp_ref.kernels import rnn_reference as reference
from ddsp_ref.kernels.selection import select

cpu = pytest.importorskip("ddsp_ref.kernels.rnn_cpu")

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}
# Gradients sum over steps with cancellation: their floor is relative to the largest entry.
FLOOR = {np.float32: 1e-5, np.float64: 1e-12}


def assert_close(ours, ref, dtype):
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    np.testing.assert_allclose(ours, ref, rtol=TOL[dtype]["rtol"], atol=FLOOR[dtype] * scale)


# -- independent float64 formulas -----------------------------------------------------------------
def _sig(v):
    with np.errstate(over="ignore"):  # exp(-v) = inf for v < -709 gives exactly 0
        return 1.0 / (1.0 + np.exp(-v))


def loop_gru(x, w, u, bias, h0):
    """keras GRU(reset_after=True), one step and one gate at a time, from sliced weights."""
    hidden = u.shape[0]
    wz, wr, wn = (w[:, k * hidden : (k + 1) * hidden] for k in range(3))
    uz, ur, un = (u[:, k * hidden : (k + 1) * hidden] for k in range(3))
    bz, br, bn = (bias[0, k * hidden : (k + 1) * hidden] for k in range(3))
    rz, rr, rn = (bias[1, k * hidden : (k + 1) * hidden] for k in range(3))
    h, out = h0, []
    for t in range(x.shape[1]):
        xt = x[:, t]
        z = _sig(xt @ wz + bz + h @ uz + rz)
        r = _sig(xt @ wr + br + h @ ur + rr)
        n = np.tanh(xt @ wn + bn + r * (h @ un + rn))
        h = z * h + (1.0 - z) * n
        out.append(h)
    return np.stack(out, axis=1), h


def loop_lstm(x, w, u, bias, h0, c0):
    """keras LSTM, one step and one gate at a time, from sliced weights."""
    hidden = u.shape[0]
    wi, wf, wc, wo = (w[:, k * hidden : (k + 1) * hidden] for k in range(4))
    ui, uf, uc, uo = (u[:, k * hidden : (k + 1) * hidden] for k in range(4))
    bi, bf, bc, bo = (bias[k * hidden : (k + 1) * hidden] for k in range(4))
    h, c, out = h0, c0, []
    for t in range(x.shape[1]):
        xt = x[:, t]
        i = _sig(xt @ wi + h @ ui + bi)
        f = _sig(xt @ wf + h @ uf + bf)
        o = _sig(xt @ wo + h @ uo + bo)
        c = f * c + i * np.tanh(xt @ wc + h @ uc + bc)
        h = o * np.tanh(c)
        out.append(h)
    return np.stack(out, axis=1), h, c


def gru_args(batch, n_steps, n_in, hidden, dtype=np.float64, seed=0, scale=0.6):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, n_steps, n_in))
    # Weights ~ 2 * scale / sqrt(fan-in): a stable recurrence at every size (a chaotic one would
    # amplify rounding differences between two float32 implementations step after step).
    w = rng.standard_normal((n_in, 3 * hidden)) * (2 * scale / np.sqrt(n_in))
    u = rng.standard_normal((hidden, 3 * hidden)) * (2 * scale / np.sqrt(hidden))
    bias = rng.standard_normal((2, 3 * hidden)) * 0.3
    h0 = rng.standard_normal((batch, hidden)) * 0.5
    return tuple(a.astype(dtype) for a in (x, w, u, bias, h0))


def lstm_args(batch, n_steps, n_in, hidden, dtype=np.float64, seed=0, scale=0.6):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, n_steps, n_in))
    # Weights ~ 2 * scale / sqrt(fan-in): a stable recurrence at every size (a chaotic one would
    # amplify rounding differences between two float32 implementations step after step).
    w = rng.standard_normal((n_in, 4 * hidden)) * (2 * scale / np.sqrt(n_in))
    u = rng.standard_normal((hidden, 4 * hidden)) * (2 * scale / np.sqrt(hidden))
    bias = rng.standard_normal(4 * hidden) * 0.3
    h0 = rng.standard_normal((batch, hidden)) * 0.5
    c0 = rng.standard_normal((batch, hidden))
    return tuple(a.astype(dtype) for a in (x, w, u, bias, h0, c0))


# -- the reference: hand-computed steps and the loop ---------------------------------------------
def test_gru_one_step_by_hand():
    x = np.array([[[0.5]]])
    w = np.array([[0.2, -0.3, 0.4]])
    u = np.array([[0.1, 0.5, -0.6]])
    bias = np.array([[0.1, 0.2, 0.3], [-0.1, 0.05, 0.2]])
    h0 = np.array([[0.7]])
    # z = sigmoid(0.5*0.2 + 0.1 + 0.7*0.1 - 0.1) = sigmoid(0.17) = 0.5423979408
    # r = sigmoid(0.5*-0.3 + 0.2 + 0.7*0.5 + 0.05) = sigmoid(0.45) = 0.6106392339
    # hn = 0.7*-0.6 + 0.2 = -0.22
    # n = tanh(0.5*0.4 + 0.3 + r*hn) = tanh(0.3656593685) = 0.3501891872
    # h = z*0.7 + (1 - z)*n = 0.3796785586 + 0.1602472932 = 0.5399258517
    for impl in ("reference", "cpu"):
        seq, final, _ = launcher.gru_forward(x, w, u, bias, h0, implementation=impl)
        np.testing.assert_allclose(seq, [[[0.5399258517384264]]], rtol=1e-14)
        np.testing.assert_allclose(final, [[0.5399258517384264]], rtol=1e-14)


def test_lstm_one_step_by_hand():
    x = np.array([[[0.5]]])
    w = np.array([[0.2, -0.3, 0.4, 0.1]])
    u = np.array([[0.1, 0.5, -0.6, 0.3]])
    bias = np.array([0.1, 0.2, 0.3, -0.2])
    h0, c0 = np.array([[0.7]]), np.array([[-0.4]])
    # i = sigmoid(0.1 + 0.07 + 0.1) = sigmoid(0.27) = 0.5670929050
    # f = sigmoid(-0.15 + 0.35 + 0.2) = sigmoid(0.4) = 0.5986876601
    # g = tanh(0.2 - 0.42 + 0.3) = tanh(0.08) = 0.0798297691
    # o = sigmoid(0.05 + 0.21 - 0.2) = sigmoid(0.06) = 0.5149955016
    # c = f*-0.4 + i*g = -0.2394750640 + 0.0452708957 = -0.1942041684
    # h = o*tanh(c) = 0.5149955016 * -0.1917985... = -0.0987756017
    for impl in ("reference", "cpu"):
        seq, fh, fc, _ = launcher.lstm_forward(x, w, u, bias, h0, c0, implementation=impl)
        np.testing.assert_allclose(seq, [[[-0.09877560174547817]]], rtol=1e-14)
        np.testing.assert_allclose(fh, [[-0.09877560174547817]], rtol=1e-14)
        np.testing.assert_allclose(fc, [[-0.19420416837702784]], rtol=1e-14)


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 2, 3, 5), (3, 17, 4, 7), (1, 40, 2, 3)])
def test_reference_matches_loop(shape):
    x, w, u, bias, h0 = gru_args(*shape)
    seq, final, _ = launcher.gru_forward(x, w, u, bias, h0, implementation="reference")
    expected_seq, expected_h = loop_gru(x, w, u, bias, h0)
    np.testing.assert_allclose(seq, expected_seq, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(final, expected_h, rtol=1e-12, atol=1e-14)
    x, w, u, bias, h0, c0 = lstm_args(*shape)
    seq, fh, fc, _ = launcher.lstm_forward(x, w, u, bias, h0, c0, implementation="reference")
    expected = loop_lstm(x, w, u, bias, h0, c0)
    for ours, theirs in zip((seq, fh, fc), expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_extreme_preactivations_saturate_without_overflow():
    # |pre-activations| ~ 1e4: sigmoid saturates to exactly 0 / 1, no inf or nan anywhere.
    x, w, u, bias, h0 = gru_args(2, 6, 3, 4, scale=3000.0)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        for impl in ("reference", "cpu"):
            seq, final, saved = launcher.gru_forward(x, w, u, bias, h0, True, impl)
            grads = launcher.gru_backward(saved, np.ones_like(seq), np.ones_like(final))
            assert np.all(np.abs(seq) <= 1.0)
            assert all(np.all(np.isfinite(g)) for g in grads)
    np.testing.assert_allclose(seq, loop_gru(x, w, u, bias, h0)[0], atol=1e-12)


# -- kernels against the reference, forward and backward ----------------------------------------
def _compare_gru(impl, shape, dtype, seed=0):
    x, w, u, bias, h0 = gru_args(*shape, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed + 1)
    dseq = rng.standard_normal(shape[:2] + (shape[3],)).astype(dtype)
    dfinal = rng.standard_normal((shape[0], shape[3])).astype(dtype)
    results = []
    for which in ("reference", impl):
        seq, final, saved = launcher.gru_forward(x, w, u, bias, h0, True, which)
        assert seq.dtype == final.dtype == dtype
        grads = launcher.gru_backward(saved, dseq, dfinal)
        assert all(g.dtype == dtype for g in grads)
        results.append((seq, final, *grads))
    for ref, ours in zip(*results):
        assert_close(ours, ref, dtype)


def _compare_lstm(impl, shape, dtype, seed=0):
    x, w, u, bias, h0, c0 = lstm_args(*shape, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed + 1)
    dseq = rng.standard_normal(shape[:2] + (shape[3],)).astype(dtype)
    dh, dc = rng.standard_normal((2, shape[0], shape[3])).astype(dtype)
    results = []
    for which in ("reference", impl):
        seq, fh, fc, saved = launcher.lstm_forward(x, w, u, bias, h0, c0, True, which)
        assert seq.dtype == fh.dtype == fc.dtype == dtype
        grads = launcher.lstm_backward(saved, dseq, dh, dc)
        assert all(g.dtype == dtype for g in grads)
        results.append((seq, fh, fc, *grads))
    for ref, ours in zip(*results):
        assert_close(ours, ref, dtype)


# (batch, n_steps, n_inputs, units): T = 1, 2 and long; batch 1, odd batches that split unevenly
# over the threads; units 1 and non-powers of 2.
CPU_SHAPES = [(1, 1, 1, 1), (1, 2, 3, 5), (2, 1, 4, 3), (3, 2, 2, 7), (5, 60, 3, 13),
              (8, 25, 6, 33), (1, 300, 2, 4)]  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", CPU_SHAPES)
def test_cpu_kernels_match_reference(shape, dtype):
    _compare_gru("cpu", shape, dtype)
    _compare_lstm("cpu", shape, dtype)


def test_cpu_kernels_with_more_threads_than_rows(monkeypatch):
    # A slice per row (batch 3 over at most 2 threads here, or more where numba has them): the
    # result does not depend on how rows are sliced.
    x, w, u, bias, h0 = gru_args(3, 9, 2, 6)
    full = launcher.gru_forward(x, w, u, bias, h0, implementation="cpu")[0]
    monkeypatch.setattr(cpu, "_n_slices", lambda batch: 1)
    single = launcher.gru_forward(x, w, u, bias, h0, implementation="cpu")[0]
    np.testing.assert_allclose(full, single, rtol=1e-14, atol=1e-15)


# CUDA kernels in numba's simulator: tiny sizes only.
CUDA_SHAPES = [(1, 1, 1, 1), (2, 2, 3, 5), (2, 3, 2, 3)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", CUDA_SHAPES)
def test_cuda_kernels_match_reference(shape, dtype):
    pytest.importorskip("ddsp_ref.kernels.rnn_cuda")
    _compare_gru("cuda", shape, dtype)
    _compare_lstm("cuda", shape, dtype)


def test_cuda_kernels_with_more_units_than_threads(monkeypatch):
    # 40 units on a 32-thread block: threads loop over units j, j + 32 (the strided path).
    cuda = pytest.importorskip("ddsp_ref.kernels.rnn_cuda")
    monkeypatch.setattr(cuda, "_MAX_THREADS", 32)
    _compare_gru("cuda", (1, 2, 2, 40), np.float64)
    _compare_lstm("cuda", (1, 2, 2, 40), np.float64)


# -- launcher -------------------------------------------------------------------------------------
def test_launcher_defaults_dtypes_and_layouts(xp):
    x, w, u, bias, h0 = gru_args(2, 4, 3, 5)
    zeros = np.zeros_like(h0)
    expected_seq, expected_h = loop_gru(x, w, u, bias, zeros)
    # initial_state None is zeros; non-contiguous views are accepted.
    x_view = np.ascontiguousarray(np.swapaxes(x, 0, 1)).swapaxes(0, 1)
    seq, final, saved = launcher.gru_forward(*(xp.asarray(a) for a in (x_view, w, u, bias)))
    assert saved is None
    np.testing.assert_allclose(ddsp_ref.backend.to_numpy(seq), expected_seq, rtol=1e-12)
    np.testing.assert_allclose(ddsp_ref.backend.to_numpy(final), expected_h, rtol=1e-12)
    # float32 in -> float32 out; integer inputs -> float32; a float64 weight keeps float64.
    single = launcher.gru_forward(*(xp.asarray(a, dtype=np.float32) for a in (x, w, u, bias)))
    assert single[0].dtype == single[1].dtype == np.float32
    np.testing.assert_allclose(ddsp_ref.backend.to_numpy(single[0]), expected_seq, rtol=2e-5,
                               atol=2e-6)  # fmt: skip
    ints = launcher.gru_forward(np.ones((1, 2, 1), np.int64), np.ones((1, 3)), np.ones((1, 3)),
                                np.zeros((2, 3)))  # fmt: skip
    assert ints[0].dtype == np.float64
    ints = launcher.gru_forward(*(np.ones(s, np.int32) for s in ((1, 2, 1), (1, 3), (1, 3),
                                                                    (2, 3))))  # fmt: skip
    assert ints[0].dtype == np.float32
    np.testing.assert_allclose(ints[0], loop_gru(np.ones((1, 2, 1)), np.ones((1, 3)),
                               np.ones((1, 3)), np.ones((2, 3)), np.zeros((1, 1)))[0],
                               rtol=2e-6)  # fmt: skip


def test_default_kernels_on_every_backend(xp):
    # numpy -> numba CPU kernels, cupy -> numba CUDA kernels (a real GPU where one is present):
    # forward and backward against the float64 reference on the host.
    for dtype in (np.float32, np.float64):
        x, w, u, bias, h0 = gru_args(3, 7, 4, 37, dtype=dtype, seed=5)
        g_seq = np.random.default_rng(6).standard_normal((3, 7, 37)).astype(dtype)
        outs = []
        for module, impl in ((np, "reference"), (xp, None)):
            args = tuple(module.asarray(a) for a in (x, w, u, bias, h0))
            seq, final, saved = launcher.gru_forward(*args, save=True, implementation=impl)
            dseq, dfinal = module.asarray(g_seq), module.ones_like(final)
            grads = launcher.gru_backward(saved, dseq, dfinal)
            outs.append([ddsp_ref.backend.to_numpy(a) for a in (seq, final, *grads)])
        for ref, ours in zip(*outs):
            assert ours.dtype == dtype
            assert_close(ours, ref, dtype)
        x, w, u, bias, h0, c0 = lstm_args(3, 7, 4, 37, dtype=dtype, seed=5)
        ref = launcher.lstm_forward(x, w, u, bias, h0, c0, implementation="reference")
        ours = launcher.lstm_forward(*(xp.asarray(a) for a in (x, w, u, bias, h0, c0)))
        for r, o in zip(ref[:3], ours[:3]):
            assert_close(ddsp_ref.backend.to_numpy(o), r, dtype)


def test_zero_steps_pass_the_initial_state_through():
    x, w, u, bias, h0 = gru_args(2, 0, 3, 4)
    for impl in ("reference", "cpu"):
        seq, final, saved = launcher.gru_forward(x, w, u, bias, h0, True, impl)
        assert seq.shape == (2, 0, 4)
        np.testing.assert_array_equal(final, h0)
        dx, dw, du, db, dh0 = launcher.gru_backward(saved, np.zeros((2, 0, 4)), np.ones((2, 4)))
        np.testing.assert_array_equal(dh0, np.ones((2, 4)))
        assert dx.shape == x.shape and not np.any(dw) and not np.any(du) and not np.any(db)
    x, w, u, bias, h0, c0 = lstm_args(1, 0, 2, 3)
    _, fh, fc, _ = launcher.lstm_forward(x, w, u, bias, h0, c0, implementation="cpu")
    np.testing.assert_array_equal(fh, h0)
    np.testing.assert_array_equal(fc, c0)


def test_backward_skips_what_is_not_needed():
    x, w, u, bias, h0 = gru_args(2, 3, 3, 4)
    _, _, saved = launcher.gru_forward(x, w, u, bias, h0, save=True)
    g = np.ones((2, 3, 4)), np.ones((2, 4))
    full = launcher.gru_backward(saved, *g)
    part = launcher.gru_backward(saved, *g, needs=(False, True, False, False, True))
    assert part[0] is None and part[2] is None and part[3] is None
    np.testing.assert_array_equal(part[1], full[1])
    np.testing.assert_array_equal(part[4], full[4])


_GRU = gru_args(2, 3, 4, 5)
_LSTM = lstm_args(2, 3, 4, 5)


@pytest.mark.parametrize("call, error, match", [
    (lambda: launcher.gru_forward(_GRU[0][0], *_GRU[1:4]), ValueError, "inputs must have shape"),
    (lambda: launcher.gru_forward(_GRU[0], _GRU[1][:3], *_GRU[2:4]), ValueError, "kernel"),
    (lambda: launcher.gru_forward(_GRU[0], _GRU[1], _GRU[2][:, :9], _GRU[3]), ValueError,
     r"recurrent_kernel must have shape \[units, 3 \* units\]"),
    (lambda: launcher.gru_forward(*_GRU[:3], _GRU[3][0]), ValueError, r"bias .*\[2, 3 \* units\]"),
    (lambda: launcher.gru_forward(*_GRU[:4], _GRU[4][:1]), ValueError, "initial_state"),
    (lambda: launcher.gru_forward(_GRU[0] + 0j, *_GRU[1:4]), TypeError, "must be real"),
    (lambda: launcher.lstm_forward(*_LSTM[:3], _LSTM[3][:-1]), ValueError, r"\[4 \* units\]"),
    (lambda: launcher.lstm_forward(*_LSTM[:5], _LSTM[5].T), ValueError, "initial_state"),
    (lambda: launcher.gru_forward(*_GRU[:4], implementation="fast"), ValueError,
     "implementation"),
])  # fmt: skip
def test_launcher_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_selection(monkeypatch):
    monkeypatch.delenv("DDSP_REF_KERNELS", raising=False)
    assert select("rnn", np, (np.float32,)) is cpu
    assert select("rnn", np, (np.float16,)) is reference
    x, w, u, bias, h0 = gru_args(3, 5, 2, 4, dtype=np.float32)
    _, _, saved = launcher.gru_forward(x, w, u, bias, h0, save=True)
    assert saved.module is cpu
    monkeypatch.setenv("DDSP_REF_KERNELS", "reference")
    _, _, saved_ref = launcher.gru_forward(x, w, u, bias, h0, save=True)
    assert saved_ref.module is reference
    np.testing.assert_allclose(saved_ref.seq, saved.seq, **TOL[np.float32])


def test_sigmoid_formula_is_the_logistic_function():
    v = np.linspace(-700, 700, 2801)
    np.testing.assert_allclose(reference._sigmoid(np, v), _sig(v), rtol=1e-14, atol=1e-300)
    assert reference._sigmoid(np, np.array(1e5)) == 1.0
    assert math.isclose(float(reference._sigmoid(np, np.array(-1e5))), 0.0, abs_tol=0.0)


def test_cpu_float32_tanh_and_sigmoid_accuracy():
    # float32 gates use Eigen's rational tanh (TF's CPU float32 tanh): within 3.3e-7 of tanh
    # everywhere, exactly odd, saturating to +-1, NaN kept; float64 uses libm.
    numba = pytest.importorskip("numba")

    @numba.njit
    def apply(v):
        out_t, out_s = np.empty_like(v), np.empty_like(v)
        for i in range(v.size):
            out_t[i], out_s[i] = cpu._tanh(v[i]), cpu._sigmoid(v[i])
        return out_t, out_s

    v = np.concatenate([np.linspace(-12, 12, 240001), [0.0, 1e-30, -1e-30, 1e4, -1e4]])
    t32, s32 = apply(v.astype(np.float32))
    v32 = v.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(t32, np.tanh(v32), rtol=0, atol=3.3e-7)
    np.testing.assert_allclose(s32, _sig(v32), rtol=0, atol=2.5e-7)  # absolute: tails lose digits
    np.testing.assert_array_equal(t32[:120000], -t32[240000:120000:-1])  # odd
    assert t32[-2] == 1.0 and t32[-1] == -1.0 and s32[-2] == 1.0 and s32[-1] == 0.0
    t64, s64 = apply(v)
    np.testing.assert_allclose(t64, np.tanh(v), rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(s64, _sig(v), rtol=1e-15, atol=1e-300)
    nan_t, nan_s = apply(np.array([np.nan], np.float32))
    assert np.isnan(nan_t[0]) and np.isnan(nan_s[0])


@pytest.mark.parametrize("impl", ["reference", "cpu"])
def test_nan_input_spreads_to_the_outputs(impl):
    x, w, u, bias, h0 = gru_args(2, 3, 2, 4, dtype=np.float32)
    x[1, 1, 0] = np.nan
    seq, final, _ = launcher.gru_forward(x, w, u, bias, h0, implementation=impl)
    assert not np.any(np.isnan(seq[0])) and not np.any(np.isnan(seq[1, 0]))
    assert np.all(np.isnan(seq[1, 1:])) and np.all(np.isnan(final[1]))
