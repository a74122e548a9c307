"""ddsp's ``training.decoders``: RnnFcDecoder, DilatedConvDecoder (features -> synthesizer
controls)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..autodiff import ops
from ..core.utils import nested_keys, nested_lookup
from ..gin_support import register
from ..lazy import lazy_getattr
from ..module import Module
from ..validation import nonnegative_int, positive_int
from .nn import DilatedConvStack, FcStack, OutputSplitsLayer, Rnn, StatelessRnn, split_to_dict
from .nn.initializers import child_seed, make_rng

__all__ = ["RnnFcDecoder", "DilatedConvDecoder"]

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


_CONV_KEYS = ("ld_scaled", "f0_scaled")
_CONV_SPLITS = (("amps", 1), ("harmonic_distribution", 60))


class DilatedConvDecoder(OutputSplitsLayer):
    """ddsp's ``DilatedConvDecoder``: WaveNet-style dilated convolutions, optionally FiLM
    conditioned.

    ``x = concat(input_keys)``; ``z = concat(conditioning_keys)`` (through
    ``precondition_stack`` when given); ``out = Dense(DilatedConvStack((x, z)))`` split by
    ``output_splits``; without conditioning keys the stack gets ``x`` alone. Outputs are linear.

    Children: ``dilated_conv_stack``, ``dense_out`` and ``precondition_stack`` (when it is a
    Module).

    Args:
        ch, kernel_size, layers_per_stack, stacks, dilation, norm_type: of the
            :class:`~ddsp_ref.training.nn.DilatedConvStack`.
        resample_stride: > 1 upsamples (transposed convolutions of stride
            ``resample_stride``, one every ``stacks_per_resample`` stacks, after them when
            ``resample_after_convolve``): the outputs then have more frames than the inputs.
        input_keys: feature keys concatenated on the last axis, each ``[batch, n_frames, c]``.
        output_splits: ``(key, size)`` pairs; each output is ``[batch, n_frames, size]``.
        conditioning_keys: keys of the FiLM conditioning (``[batch, c]`` or ``[batch,
            n_frames, c]``); None or () for an unconditioned stack. A string is one key
            (ddsp's default ``('z')`` is the string 'z'; ddsp would split a longer string
            into characters).
        precondition_stack: None or a callable layer applied to ``z`` (e.g. ``FcStackOut``).
        spectral_norm: spectral normalisation of every convolution kernel at the start of each
            training call (see :class:`~ddsp_ref.training.nn.DilatedConvStack`).
        ortho_init: orthogonal convolution kernels.
        seed: int, None or numpy Generator for every initialiser.

    Raises:
        ValueError: a ``precondition_stack`` without conditioning keys (as ddsp).
    """

    def __init__(self, ch: int = 256, kernel_size: int = 3, layers_per_stack: int = 5,
                 stacks: int = 2, dilation: int = 2, norm_type: str | None = "layer",
                 resample_stride: int = 1, stacks_per_resample: int = 1,
                 resample_after_convolve: bool = True, input_keys: Sequence[str] = _CONV_KEYS,
                 output_splits: Sequence[tuple[str, int]] = _CONV_SPLITS,
                 conditioning_keys: Sequence[str] | str | None = ("z"),
                 precondition_stack: Any = None, spectral_norm: bool = False,
                 ortho_init: bool = False, seed: Any = None,
                 name: str | None = None):  # fmt: skip
        rng = make_rng(seed)
        if isinstance(conditioning_keys, str):
            conditioning_keys = [conditioning_keys]
        self.conditioning_keys = list(conditioning_keys or [])
        input_keys = [input_keys] if isinstance(input_keys, str) else list(input_keys)
        super().__init__(input_keys + self.conditioning_keys, output_splits,
                         seed=child_seed(rng), name=name)  # fmt: skip
        self.n_conditioning = len(self.conditioning_keys)
        self.conditional = bool(self.conditioning_keys)
        if not self.conditional and precondition_stack is not None:
            raise ValueError(
                "DilatedConvDecoder: a precondition_stack needs conditioning_keys (it is "
                "applied to the conditioning z)"
            )
        self.precondition_stack = precondition_stack
        stride = positive_int(resample_stride, "resample_stride", "DilatedConvDecoder")
        self.dilated_conv_stack = DilatedConvStack(
            ch=ch, kernel_size=kernel_size, layers_per_stack=layers_per_stack, stacks=stacks,
            dilation=dilation, norm_type=norm_type,
            resample_type="upsample" if stride > 1 else None, resample_stride=stride,
            stacks_per_resample=stacks_per_resample,
            resample_after_convolve=resample_after_convolve, conditional=self.conditional,
            spectral_norm=spectral_norm, ortho_init=ortho_init, seed=child_seed(rng),
            name="dilated_conv_stack",
        )  # fmt: skip

    def children(self) -> dict[str, Module]:
        # keras' tracking order in ddsp (dense_out is made by OutputSplitsLayer's constructor).
        out: dict[str, Module] = {"dense_out": self.dense_out}
        if isinstance(self.precondition_stack, Module):
            out["precondition_stack"] = self.precondition_stack
        out["dilated_conv_stack"] = self.dilated_conv_stack
        return out

    def compute_output(self, *inputs: Any) -> Any:
        """``[batch, n_frames, ch]`` before the Dense layer."""
        if len(inputs) != len(self.input_keys):
            raise ValueError(
                f"DilatedConvDecoder: expected {len(self.input_keys)} inputs "
                f"{self.input_keys}, got {len(inputs)}"
            )
        if not self.conditional:
            return self.dilated_conv_stack(ops.concatenate(list(inputs), axis=-1))
        x = ops.concatenate(list(inputs[: -self.n_conditioning]), axis=-1)
        z = ops.concatenate(list(inputs[-self.n_conditioning :]), axis=-1)
        if self.precondition_stack is not None:
            z = self.precondition_stack(z)
        return self.dilated_conv_stack((x, z))


# ddsp's gin names: @decoders.RnnFcDecoder(), @decoders.DilatedConvDecoder().
for _cls in (RnnFcDecoder, DilatedConvDecoder):
    register(_cls, module="ddsp_ref.training.decoders")
del _cls


# ddsp's MIDI decoders (ddsp.training.decoders.X): imported on first use (they import this module).
__getattr__ = lazy_getattr(
    __name__,
    attributes={
        "MidiDecoder": ".decoders_midi",
        "MidiToHarmonicDecoder": ".decoders_midi",
    },
)
