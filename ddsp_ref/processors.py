"""Processor, ProcessorGroup and the simple processors Add, Mix, Crop (ddsp.processors)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from typing import Any

from .autodiff import ops, stop_gradient
from .core.resampling import resample
from .core.utils import to_float
from .dags import DAGLayer
from .gin_support import configurable, register
from .module import Module
from .validation import check_rank, check_same_batch, nonnegative_int, one_of

__all__ = ["Processor", "ProcessorGroup", "Add", "Mix", "Crop"]


class Processor(Module):
    """A DSP element: ``get_controls`` scales network outputs, ``get_signal`` makes the signal.

    ``processor(*inputs)`` is ``get_signal(**get_controls(*inputs))``; with
    ``return_outputs_dict=True`` it returns ``{'signal': signal, 'controls': controls}``.
    Keras' ``training`` and ``mask`` keyword arguments are accepted and ignored.
    """

    def __call__(self, *args: Any, return_outputs_dict: bool = False, **kwargs: Any) -> Any:
        kwargs.pop("training", None)
        kwargs.pop("mask", None)
        args, kwargs = self._checked_inputs(args, kwargs)
        controls = self.get_controls(*args, **kwargs)
        signal = self.get_signal(**controls)
        if return_outputs_dict:
            return {"signal": signal, "controls": controls}
        return signal

    def get_controls(self, *args: Any, **kwargs: Any) -> dict:
        raise TypeError(f"{type(self).__name__} must define get_controls")

    def _checked_inputs(self, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        """The network outputs as float arrays (lists accepted; complex, text and other
        non-numeric inputs rejected by name), with one batch size: checked once, here."""
        where = type(self).__name__
        names = _input_names(type(self))
        args = tuple(
            _as_input(a, names[i] if i < len(names) else f"input {i}", where)
            for i, a in enumerate(args)
        )
        kwargs = {k: _as_input(v, k, where) for k, v in kwargs.items()}
        named = dict(zip(names, args)) | kwargs
        arrays = {k: v for k, v in named.items() if hasattr(v, "shape") and len(v.shape) > 1}
        if len(arrays) > 1:
            check_same_batch(where, **arrays)
        return args, kwargs

    def get_signal(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{type(self).__name__} must define get_signal")


@functools.cache
def _input_names(cls: type) -> tuple[str, ...]:
    """Names of the positional parameters of ``cls.get_controls`` (error messages use them)."""
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    params = inspect.signature(cls.get_controls).parameters.values()
    return tuple(p.name for p in params if p.name != "self" and p.kind in kinds)


def _as_input(value: Any, name: str, where: str) -> Any:
    """Network outputs and signals become float arrays (dicts and None pass through)."""
    if value is None or isinstance(value, dict):
        return value
    return to_float(value, name, where)


class ProcessorGroup(DAGLayer, Processor):
    """A DAG of processors; its signal is that of the last node (``outputs['out']['signal']``).

    Args:
        dag: list of ``(processor, ['input/key', ...])`` nodes, topologically ordered.
        name: name of the group.
        **kwarg_processors: processors referenced by name in the dag.
    """

    def __init__(self, dag: Sequence, name: str = "processor_group", **kwarg_processors: Any):
        super().__init__(dag, name=name, **kwarg_processors)

    @property
    def processor_names(self) -> list[str]:
        return self.module_names

    @property
    def processors(self) -> list[Any]:
        return self.modules

    def __call__(self, inputs: dict, return_outputs_dict: bool = False, **kwargs: Any) -> Any:
        return Processor.__call__(self, inputs, return_outputs_dict=return_outputs_dict, **kwargs)

    def get_controls(self, inputs: dict, **kwargs: Any) -> dict:
        """Run the DAG; the 'controls' of a group are the whole outputs dict."""
        return self.run_dag(inputs, **kwargs)

    def get_signal(self, outputs: dict | None = None, **kwargs: Any) -> Any:
        """The signal of the last node: ``get_signal(outputs)`` as in ddsp (the outputs dict
        of :meth:`get_controls`), or the same dict as keyword arguments."""
        if outputs is None:
            outputs = kwargs
        elif kwargs:
            raise TypeError(
                "ProcessorGroup.get_signal: pass the outputs dict or keywords, not both"
            )
        if not isinstance(outputs, dict):
            raise TypeError(
                f"ProcessorGroup.get_signal: outputs must be the dict returned by get_controls, "
                f"got {type(outputs).__name__}"
            )
        if "out" not in outputs:
            raise ValueError("ProcessorGroup: the DAG is empty, so there is no 'out' signal")
        return outputs["out"]["signal"]


class Add(Processor):
    """Sum of two signals."""

    def __init__(self, name: str = "add"):
        super().__init__(name=name)

    def get_controls(self, signal_one: Any, signal_two: Any) -> dict:
        return {"signal_one": signal_one, "signal_two": signal_two}

    def get_signal(self, signal_one: Any, signal_two: Any) -> Any:
        return ops.add(signal_one, signal_two)


class Mix(Processor):
    """ddsp's mix: ``sqrt(|m|) * s1 + (1 - sqrt(|m - 1|)) * s2`` with m = sigmoid(nn_out).

    This is not a constant-power crossfade: m = 0 silences both inputs and m = 1 sums them
    (kept for parity with ddsp 3.7.0).
    """

    def __init__(self, name: str = "mix"):
        super().__init__(name=name)

    def get_controls(self, signal_one: Any, signal_two: Any, nn_out_mix_level: Any) -> dict:
        for key, value in (("signal_one", signal_one), ("signal_two", signal_two)):
            check_rank(value, (2, 3), key, "Mix", "[batch, n_samples] or [batch, n_samples, 1]")
        if nn_out_mix_level.shape[1] < 1:
            raise ValueError(
                f"Mix: nn_out_mix_level needs at least one frame, got shape "
                f"{tuple(nn_out_mix_level.shape)}"
            )
        n1, n2 = signal_one.shape[1], signal_two.shape[1]
        if n1 != n2:
            raise ValueError(
                f"Mix: signal_one and signal_two must have the same length on axis 1, got {n1} "
                f"and {n2}"
            )
        # A rank mismatch would broadcast into a [.., n, n] tensor instead of failing.
        if len(nn_out_mix_level.shape) != len(signal_one.shape):
            raise ValueError(
                f"Mix: nn_out_mix_level must have the rank of the signals ([batch, n_frames] or "
                f"[batch, n_frames, channels]), got shape {tuple(nn_out_mix_level.shape)} for "
                f"signals of shape {tuple(signal_one.shape)}"
            )
        mix_level = ops.sigmoid(to_float(nn_out_mix_level))
        mix_level = resample(mix_level, n1)
        return {"signal_one": signal_one, "signal_two": signal_two, "mix_level": mix_level}

    def get_signal(self, signal_one: Any, signal_two: Any, mix_level: Any) -> Any:
        w1 = _sqrt_abs(mix_level)
        w2 = 1.0 - _sqrt_abs(mix_level - 1.0)
        return w1 * signal_one + w2 * signal_two


def _sqrt_abs(x: Any) -> Any:
    """``sqrt(|x|)`` whose gradient at ``x = 0`` is 0 instead of ``inf * 0 = NaN``.

    The mix level is a sigmoid, which is exactly 1 in float32 from an input of about 17 (and
    exactly 0 below about -104): the weights saturate and the gradient there is taken as 0, the
    one-sided limit of the saturated sigmoid's own derivative.
    """
    magnitude = ops.abs(x)
    nonzero = stop_gradient(magnitude) > 0
    return ops.where(nonzero, ops.sqrt(ops.where(nonzero, magnitude, 1.0)), 0.0)


class Crop(Processor):
    """Remove ``2 * (frame_size // 2)`` samples: from the back, the front, or half each side."""

    def __init__(self, frame_size: int, crop_location: str = "back", name: str = "crop"):
        super().__init__(name=name)
        self.frame_size = nonnegative_int(frame_size, "frame_size", "Crop")
        self.crop_location = one_of(
            crop_location, ("front", "center", "back"), "crop_location", "Crop"
        )

    def get_controls(self, signal: Any) -> dict:
        check_rank(
            signal, (2, 3), "signal", "Crop", "[batch, n_samples] or [batch, n_samples, ...]"
        )
        return {"signal": signal}

    def get_signal(self, signal: Any) -> Any:
        half = self.frame_size // 2
        n = signal.shape[1]
        if 2 * half > n:  # negative slice bounds would silently keep the wrong samples
            raise ValueError(
                f"Crop: cannot remove {2 * half} samples (frame_size {self.frame_size}) from a "
                f"signal of {n} samples"
            )
        start, stop = {
            "front": (2 * half, n),
            "center": (half, n - half),
            "back": (0, n - 2 * half),
        }[self.crop_location]
        return signal[:, start:stop]


ProcessorGroup = configurable(ProcessorGroup, module="ddsp_ref.processors")
for _cls in (Add, Mix, Crop):
    register(_cls, module="ddsp_ref.processors")
del _cls
