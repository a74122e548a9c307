"""ddsp's ``training.decoders``: RnnFcDecoder (features -> synthesizer controls)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..autodiff import ops
from ..core.utils import nested_keys, nested_lookup
from ..gin_support import register
from ..module import Module
from ..validation import nonnegative_int, positive_int
from .nn import FcStack, OutputSplitsLayer, Rnn, StatelessRnn, split_to_dict
from .nn.initializers import child_seed, make_rng

__all__ = ["RnnFcDecoder"]

_DEFAULT_KEYS = ("ld_scaled", "f0_scaled", "z")
_DEFAULT_SPLITS = (("amps", 1), ("harmonic_distribution", 40))


class RnnFcDecoder(OutputSplitsLayer):
    """ddsp's ``RnnFcDecoder``: one FcStack per input, an RNN over them, an FcStack, a Dense.

    ``x_i = FcStack_i(input_i)``; ``r = RNN(concat(x_1..x_n))``; ``out = Dense(FcStack(
    concat(x_1..x_n, r)))`` split by ``output_splits``. Outputs are linear: the processors
    apply the nonlinearities (exp_sigmoid, ...).

    Children: ``input_stack_0`` .. (one per input key), ``rnn``, ``out_stack``, ``dense_out``.

    Args:
        rnn_channels: units of the GRU / LSTM.
        rnn_type: 'gru' or 'lstm'.
        ch: width of every FcStack.
        layers_per_stack: Fc layers per stack.
        stateless: use :class:`~ddsp_ref.training.nn.StatelessRnn`: the features need a
            ``state`` ``[batch, rnn_channels]`` (its last input) and the output dict gets the
            new ``state`` (for streaming, frame block by frame block).
        input_keys: feature keys, each ``[batch, n_frames, channels]``.
        output_splits: ``(key, size)`` pairs; each output is ``[batch, n_frames, size]``.
        seed: int, None or numpy Generator for every initialiser.

    Raises:
        KeyError: called with a features dict that lacks input keys (all are named).
    """

    def __init__(self, rnn_channels: int = 512, rnn_type: str = "gru", ch: int = 512,
                 layers_per_stack: int = 3, stateless: bool = False,
                 input_keys: Sequence[str] = _DEFAULT_KEYS,
                 output_splits: Sequence[tuple[str, int]] = _DEFAULT_SPLITS,
                 seed: Any = None, name: str | None = None):  # fmt: skip
        rng = make_rng(seed)
        self.stateless = bool(stateless)
        rnn_channels = positive_int(rnn_channels, "rnn_channels", "RnnFcDecoder")
        layers = nonnegative_int(layers_per_stack, "layers_per_stack", "RnnFcDecoder")
        input_keys = [input_keys] if isinstance(input_keys, str) else list(input_keys)
        keys = input_keys + (["state"] if self.stateless else [])
        super().__init__(keys, output_splits, seed=child_seed(rng), name=name)
        if self.stateless:  # the state is passed through, not produced by the Dense layer
            self.output_keys = self.output_keys + ["state"]
        self.input_stacks = [
            FcStack(ch, layers, seed=child_seed(rng), name=f"input_stack_{i}")
            for i in range(len(input_keys))
        ]
        rnn_cls = StatelessRnn if self.stateless else Rnn
        self.rnn = rnn_cls(rnn_channels, rnn_type, seed=child_seed(rng), name="rnn")
        self.out_stack = FcStack(ch, layers, seed=child_seed(rng), name="out_stack")

    def children(self) -> dict[str, Module]:
        stacks = {s.name: s for s in self.input_stacks}
        return stacks | {"rnn": self.rnn, "out_stack": self.out_stack, "dense_out": self.dense_out}

    def __call__(self, *inputs: Any, **kwargs: Any) -> dict:
        merged = {k: v for d in inputs if isinstance(d, dict) for k, v in d.items()}
        if merged:
            missing = [k for k in self.input_keys if not _has_key(merged, k)]
            if missing:
                raise KeyError(
                    f"RnnFcDecoder: the features lack the input keys {missing} (input_keys "
                    f"{self.input_keys}); available: {nested_keys(merged)}"
                )
        return super().__call__(*inputs, **kwargs)

    def compute_output(self, *inputs: Any) -> Any:
        """``[batch, n_frames, ch]`` before the Dense layer (and the new state if stateless)."""
        state = None
        if self.stateless:
            *inputs, state = inputs
        if len(inputs) != len(self.input_stacks):
            raise ValueError(
                f"RnnFcDecoder: expected {len(self.input_stacks)} inputs "
                f"{self.input_keys}, got {len(inputs)}"
            )
        stacked = [stack(x) for stack, x in zip(self.input_stacks, inputs)]
        x = ops.concatenate(stacked, axis=-1)
        if self.stateless:
            x, state = self.rnn(x, state)
        else:
            x = self.rnn(x)
        x = self.out_stack(ops.concatenate(stacked + [x], axis=-1))
        return (x, state) if self.stateless else x

    def call(self, *inputs: Any, **unused_kwargs: Any) -> dict:
        if not self.stateless:
            return super().call(*inputs)
        x, state = self.compute_output(*inputs)
        outputs = split_to_dict(self.dense_out(x), self.output_splits)
        outputs["state"] = state
        return outputs


def _has_key(features: dict, key: str) -> bool:
    try:
        nested_lookup(key, features)
    except KeyError:
        return False
    return True


# ddsp's gin name: @decoders.RnnFcDecoder().
for _cls in (RnnFcDecoder,):
    register(_cls, module="ddsp_ref.training.decoders")
del _cls
