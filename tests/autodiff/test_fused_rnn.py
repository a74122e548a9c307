"""The fused GRU / LSTM autodiff ops: float64 gradient checks on every subset of the inputs with
the sequence and the final state(s) used alone and together, through the numba kernels and the
reference; the fused op against the same recurrence composed of per-step autodiff ops (values and
gradients); float32; one tape node per sequence."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import ddsp_ref
from ddsp_ref.autodiff import ops
from ddsp_ref.autodiff import tape as tape_module
from ddsp_ref.autodiff.fused.rnn import gru_sequence, lstm_sequence
from tests.kernels.test_rnn_kernels import gru_args, lstm_args

B, T, N_IN, H = 2, 3, 2, 3
GRU_ARGS = gru_args(B, T, N_IN, H, seed=11)
LSTM_ARGS = lstm_args(B, T, N_IN, H, seed=12)


def _flat(*arrays):
    return ops.concatenate([ops.reshape(a, (B, -1)) for a in arrays], axis=1)


# Which outputs the loss reads: the sequence alone, the final state(s) alone, all of them.
GRU_USES = {
    "sequence": lambda seq, h: seq,
    "final": lambda seq, h: h,
    "both": lambda seq, h: _flat(seq, h),
}
LSTM_USES = {
    "sequence": lambda seq, h, c: seq,
    "final_h": lambda seq, h, c: h,
    "final_c": lambda seq, h, c: c,
    "all": lambda seq, h, c: _flat(seq, h, c),
}


def _subsets(n):
    return [s for k in range(1, n + 1) for s in itertools.combinations(range(n), k)]


@pytest.mark.parametrize("use", sorted(GRU_USES))
def test_gru_gradients_on_every_subset(use):
    pick = GRU_USES[use]
    for argnums in _subsets(5):
        ddsp_ref.check_grads(lambda *a: pick(*gru_sequence(*a)), *GRU_ARGS, argnums=argnums)


@pytest.mark.parametrize("use", sorted(LSTM_USES))
def test_lstm_gradients_on_every_subset(use):
    pick = LSTM_USES[use]

    def fun(x, w, u, b, h0, c0):
        return pick(*lstm_sequence(x, w, u, b, (h0, c0)))

    for argnums in _subsets(6):
        ddsp_ref.check_grads(fun, *LSTM_ARGS, argnums=argnums)


def test_gradients_without_initial_state_and_through_the_reference(monkeypatch):
    for mode in ("", "reference"):
        monkeypatch.setenv("DDSP_REF_KERNELS", mode)
        ddsp_ref.check_grads(lambda *a: _flat(*gru_sequence(*a)), *GRU_ARGS[:4])
        ddsp_ref.check_grads(lambda *a: _flat(*lstm_sequence(*a)), *LSTM_ARGS[:4])
        ddsp_ref.check_grads(lambda *a: _flat(*gru_sequence(*a)), *GRU_ARGS)
        ddsp_ref.check_grads(
            lambda x, w, u, b, h, c: _flat(*lstm_sequence(x, w, u, b, [h, c])), *LSTM_ARGS
        )


# -- fused op vs the recurrence composed of per-step autodiff ops --------------------------------
def composed_gru(x, w, u, bias, h):
    xg = ops.matmul(x, w) + bias[0]
    out = []
    for t in range(x.shape[1]):
        gh = ops.matmul(h, u) + bias[1]
        z = ops.sigmoid(xg[:, t, :H] + gh[:, :H])
        r = ops.sigmoid(xg[:, t, H : 2 * H] + gh[:, H : 2 * H])
        n = ops.tanh(xg[:, t, 2 * H :] + r * gh[:, 2 * H :])
        h = z * h + (1.0 - z) * n
        out.append(h)
    return ops.stack(out, axis=1), h


def composed_lstm(x, w, u, bias, h, c):
    xg = ops.matmul(x, w) + bias
    out = []
    for t in range(x.shape[1]):
        p = xg[:, t] + ops.matmul(h, u)
        i, f = ops.sigmoid(p[:, :H]), ops.sigmoid(p[:, H : 2 * H])
        g, o = ops.tanh(p[:, 2 * H : 3 * H]), ops.sigmoid(p[:, 3 * H :])
        c = f * c + i * g
        h = o * ops.tanh(c)
        out.append(h)
    return ops.stack(out, axis=1), h, c


def _value_and_grads(fun, args):
    def loss(*a):
        outs = fun(*a)
        return sum(ops.sum(o * rng.standard_normal(o.shape)) for o in outs)

    rng = np.random.default_rng(3)
    return ddsp_ref.value_and_grad(loss, tuple(range(len(args))))(*args)


def test_fused_ops_match_composed_ops():
    for fused, composed, args in [
        (gru_sequence, composed_gru, GRU_ARGS),
        (lambda x, w, u, b, h, c: lstm_sequence(x, w, u, b, (h, c)), composed_lstm, LSTM_ARGS),
    ]:
        value, grads = _value_and_grads(fused, args)
        expected_value, expected_grads = _value_and_grads(composed, args)
        np.testing.assert_allclose(value, expected_value, rtol=1e-12)
        for ours, theirs in zip(grads, expected_grads):
            np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-13)


def test_float32_gradients_match_float64():
    def loss(*a):
        seq, h = gru_sequence(*a)
        return ops.sum(seq * seq) + ops.sum(h)

    args32 = tuple(a.astype(np.float32) for a in GRU_ARGS)
    _, g64 = ddsp_ref.value_and_grad(loss, (0, 1, 2, 3, 4))(*GRU_ARGS)
    _, g32 = ddsp_ref.value_and_grad(loss, (0, 1, 2, 3, 4))(*args32)
    for a, b in zip(g32, g64):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_one_tape_node_per_sequence():
    # 50 steps record one node (with the kernel's saved gates), not one node per step.
    x, w, u, bias, h0 = gru_args(2, 50, 2, 3)
    with tape_module.recording() as tape:
        seq, final = gru_sequence(tape_module.new_tensor(x), w, u, bias, h0)
    assert [node.prim.name for node in tape] == ["fused_gru"]
    assert tape[0].saved.gates.shape == (2, 50, 4 * 3)


def test_outside_value_and_grad_nothing_is_saved(monkeypatch):
    from ddsp_ref.kernels import rnn as kernels

    saves = []
    original = kernels.gru_forward

    def spy(*args, **kwargs):
        saves.append(kwargs.get("save"))
        return original(*args, **kwargs)

    monkeypatch.setattr(kernels, "gru_forward", spy)
    seq, final = gru_sequence(*GRU_ARGS)
    assert isinstance(seq, np.ndarray) and saves == [False]
    ddsp_ref.value_and_grad(lambda v: ops.sum(gru_sequence(v, *GRU_ARGS[1:])[1]))(GRU_ARGS[0])
    assert saves == [False, True]


def test_lstm_initial_state_must_be_a_pair():
    with pytest.raises(ValueError, match=r"initial_state must be None or a pair"):
        lstm_sequence(*LSTM_ARGS[:4], LSTM_ARGS[4])
