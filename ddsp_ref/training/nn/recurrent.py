"""ddsp's recurrent layers (Rnn, StatelessRnn, RnnSandwich, SingleGru) on the fused RNN ops."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...autodiff import ops
from ...autodiff.fused.rnn import gru_sequence, lstm_sequence
from ...core.utils import to_float
from ...gin_support import register
from ...module import Module
from ...validation import one_of, positive_int
from .base import Layer, cast_like
from .initializers import child_seed, glorot_uniform, make_rng, orthogonal
from .layers import FcStack, LayerNormalization

__all__ = ["Rnn", "StatelessRnn", "RnnSandwich", "SingleGru"]

_GATES = {"gru": 3, "lstm": 4}


class _Recurrent(Layer):
    """Parameters of a keras GRU (``reset_after=True``) or LSTM with TF2 defaults.

    ``kernel [input_size, G * dims]`` glorot-uniform; ``recurrent_kernel [dims, G * dims]``
    keras Orthogonal on the whole matrix (its rows are orthonormal); ``bias`` zeros, ``[2, 3 *
    dims]`` for the GRU (input and recurrent bias), ``[4 * dims]`` for the LSTM with the
    forget-gate block at 1 (keras' ``unit_forget_bias=True``). G = 3 (z, r, n) or 4 (i, f, c, o).
    """

    def __init__(self, dims: int, rnn_type: str, seed: Any, input_size: int | None,
                 name: str | None):  # fmt: skip
        super().__init__(seed=seed, name=name)
        where = type(self).__name__
        self.dims = positive_int(dims, "dims", where)
        self.rnn_type = one_of(rnn_type, tuple(_GATES), "rnn_type", where)
        if input_size is not None:
            self.build(positive_int(input_size, "input_size", where))

    def _create(self, input_size: int, xp: Any) -> None:
        h, g = self.dims, _GATES[self.rnn_type]
        self._new("kernel", glorot_uniform(self._rng, (input_size, g * h)), xp)
        self._new("recurrent_kernel", orthogonal(self._rng, (h, g * h)), xp)
        if self.rnn_type == "gru":
            bias = np.zeros((2, g * h), np.float32)
        else:
            bias = np.zeros(g * h, np.float32)
            bias[h : 2 * h] = 1.0  # forget gate
        self._new("bias", bias, xp)

    def _run(self, x: Any, state: Any) -> tuple:
        """``(sequence, final)`` with ``final`` a GRU state or an LSTM ``(h, c)`` pair."""
        x = self._prepare(x, (3,), "[batch, n_steps, input_size]")
        weights = [self._param(n, x) for n in ("kernel", "recurrent_kernel", "bias")]
        if self.rnn_type == "gru":
            return gru_sequence(x, *weights, initial_state=state)
        seq, h, c = lstm_sequence(x, *weights, initial_state=state)
        return seq, (h, c)


class Rnn(_Recurrent):
    """ddsp's ``Rnn``: one keras GRU or LSTM layer (parameters: see the recurrent base).

    Args:
        dims: units of the recurrent layer.
        rnn_type: 'gru' or 'lstm'.
        return_sequences: return every step ``[batch, n_steps, dims]``, else only the last
            output ``[batch, dims]``.
        bidir: keras ``Bidirectional`` (merge 'concat'): a second layer, child ``backward``,
            runs over the time-reversed input; its outputs are put back in time order and
            concatenated after the forward ones, so the last axis has ``2 * dims`` entries
            (with ``return_sequences=False``: the forward layer's last output and the
            backward layer's output after the whole reversed sequence).
        seed: int, None or numpy Generator for the initialisers.
        input_size: build now; None builds at the first call.

    Call: ``[batch, n_steps, input_size]`` from zero initial state.

    Raises:
        ValueError: an unknown ``rnn_type`` or non-positive ``dims``.
    """

    def __init__(self, dims: int, rnn_type: str = "gru", return_sequences: bool = True,
                 bidir: bool = False, seed: Any = None, input_size: int | None = None,
                 name: str | None = None):  # fmt: skip
        super().__init__(dims, rnn_type, seed, input_size, name)
        self.return_sequences = bool(return_sequences)
        self.backward = None
        if bidir:
            seed = child_seed(self._rng)
            self.backward = _Recurrent(dims, rnn_type, seed, input_size, "backward")

    def children(self) -> dict[str, Any]:
        return {} if self.backward is None else {"backward": self.backward}

    def __call__(self, x: Any) -> Any:
        seq, last = _sequence_and_last(self, x)
        if self.backward is None:
            return seq if self.return_sequences else last
        back_seq, back_last = _sequence_and_last(
            self.backward, ops.flip(to_float(x, "inputs", "Rnn"), 1)
        )
        if self.return_sequences:
            return ops.concatenate([seq, ops.flip(back_seq, 1)], axis=-1)
        return ops.concatenate([last, back_last], axis=-1)


def _sequence_and_last(layer: _Recurrent, x: Any) -> tuple:
    """``(sequence [batch, n_steps, dims], last output [batch, dims])`` from zero state."""
    seq, final = layer._run(x, None)
    return seq, final if layer.rnn_type == "gru" else final[0]


class StatelessRnn(_Recurrent):
    """ddsp's ``StatelessRnn`` for streaming: the state is carried explicitly.

    ``call(x, state)`` -> ``(y [batch, n_steps, dims], new_state)``. For 'gru' the state is
    ``[batch, dims]``; for 'lstm' it is the keras pair ``(h, c)``, each ``[batch, dims]`` (ddsp
    itself only works with 'gru' here). ``state=None`` starts from zeros. Running a sequence
    in pieces, feeding each piece the previous ``new_state``, gives the whole-sequence output.
    """

    def __init__(self, dims: int, rnn_type: str = "gru", seed: Any = None,
                 input_size: int | None = None, name: str | None = None):  # fmt: skip
        super().__init__(dims, rnn_type, seed, input_size, name)

    def __call__(self, x: Any, state: Any = None) -> tuple:
        if state is not None:
            like = to_float(x, "x", "StatelessRnn")
            state = _cast_state(state, like, self.rnn_type)
        return self._run(x, state)


def _cast_state(state: Any, like: Any, rnn_type: str) -> Any:
    """A GRU state or LSTM ``(h, c)`` pair in the dtype of ``like``."""
    if rnn_type == "gru":
        return cast_like(to_float(state, "state", "StatelessRnn"), like)
    if not (isinstance(state, (list, tuple)) and len(state) == 2):
        raise ValueError(
            "StatelessRnn: an 'lstm' state must be a pair (h, c) of [batch, dims] arrays, got "
            f"{type(state).__name__}"
        )
    return tuple(cast_like(to_float(s, "state", "StatelessRnn"), like) for s in state)


class RnnSandwich(Module):
    """ddsp's ``RnnSandwich``: FcStack -> Rnn (sequences) -> FcStack.

    Children ``fc_stack_in``, ``rnn``, ``fc_stack_out``. Call: ``[batch, n_steps, input_size]``
    -> ``[batch, n_steps, fc_stack_ch]``.
    """

    def __init__(self, fc_stack_ch: int = 256, fc_stack_layers: int = 2, rnn_ch: int = 512,
                 rnn_type: str = "gru", seed: Any = None, name: str | None = None):  # fmt: skip
        super().__init__(name=name, trainable=True)
        rng = make_rng(seed)
        self.fc_stack_in = FcStack(fc_stack_ch, fc_stack_layers, seed=child_seed(rng),
                                   name="fc_stack_in")  # fmt: skip
        # All sized by the first input (on its device, numpy or cupy), as keras does.
        self.rnn = Rnn(rnn_ch, rnn_type, seed=child_seed(rng), name="rnn")
        self.fc_stack_out = FcStack(fc_stack_ch, fc_stack_layers, seed=child_seed(rng),
                                    name="fc_stack_out")  # fmt: skip

    def children(self) -> dict[str, Module]:
        return {"fc_stack_in": self.fc_stack_in, "rnn": self.rnn, "fc_stack_out": self.fc_stack_out}

    def __call__(self, x: Any) -> Any:
        return self.fc_stack_out(self.rnn(self.fc_stack_in(x)))


class SingleGru(Module):
    """ddsp's ``SingleGru``: GRU(``gru_dim``, sequences) -> keras LayerNormalization.

    Children ``gru``, ``layer_norm``. Call: ``[batch, n_steps, input_size]`` ->
    ``[batch, n_steps, gru_dim]``.
    """

    def __init__(self, gru_dim: int = 128, seed: Any = None, input_size: int | None = None,
                 name: str | None = None):  # fmt: skip
        super().__init__(name=name, trainable=True)
        self.gru = Rnn(gru_dim, "gru", seed=seed, input_size=input_size, name="gru")
        norm_size = None if input_size is None else self.gru.dims  # lazy: the input's device
        self.layer_norm = LayerNormalization(input_size=norm_size, name="layer_norm")

    def children(self) -> dict[str, Module]:
        return {"gru": self.gru, "layer_norm": self.layer_norm}

    def __call__(self, x: Any) -> Any:
        return self.layer_norm(self.gru(x))


# ddsp's gin names (@nn.Rnn(), ...).
for _cls in (Rnn, StatelessRnn, RnnSandwich, SingleGru):
    register(_cls, module="ddsp_ref.training.nn")
del _cls
