"""ddsp's DictLayer (dicts in, dicts out, keys from ``call``'s signature) and OutputSplitsLayer."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Sequence
from typing import Any

from ...core.utils import make_iterable, nested_lookup
from ...module import Module
from ...validation import positive_int
from .initializers import make_rng
from .layers import Dense, split_to_dict

__all__ = ["DictLayer", "OutputSplitsLayer"]


def _call_signature(fn: Any) -> tuple[list[str], list[str], list[Any]]:
    """(required argument names, optional argument names, their defaults) of a bound method;
    ``*args`` / ``**kwargs`` and keyword-only arguments are not keys."""
    required, optional, defaults = [], [], []
    for p in inspect.signature(fn).parameters.values():
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            continue
        if p.default is p.empty:
            required.append(p.name)
        else:
            optional.append(p.name)
            defaults.append(p.default)
    return required, optional, defaults


def _return_keys(fn: Any) -> list[str]:
    """Output keys from a return annotation such as ``-> ['f0_hz', 'loudness_db']`` (also when
    postponed evaluation of annotations turned it into a string)."""
    annotation = inspect.signature(fn).return_annotation
    if isinstance(annotation, str):
        try:
            annotation = ast.literal_eval(annotation)
        except (ValueError, SyntaxError):
            return []
    if isinstance(annotation, (list, tuple)) and all(isinstance(k, str) for k in annotation):
        return list(annotation)
    return []


class DictLayer(Module):
    """ddsp's ``DictLayer``: a layer whose ``call`` takes arrays and which is called with dicts.

    Subclasses define ``call(self, a, b, c=None) -> ['out_1', 'out_2']``. Then ``layer(d)``
    looks up the required keys ``a``, ``b`` (``'/'`` paths work) in ``d`` (several dicts are
    merged, later ones win), adds ``c`` when present (else its default), calls ``call`` and
    returns ``{'out_1': ..., 'out_2': ...}``. Called with arrays, they go to ``call`` as they
    are. A ``call`` that returns a dict is returned unchanged. Subclasses with child layers
    list them in :meth:`children`, as every Module does.

    Args:
        input_keys: keys to look up, in ``call``'s argument order; None: ``call``'s required
            arguments (and its optional ones, looked up when present).
        output_keys: names of ``call``'s outputs; None: its return annotation.
    """

    def __init__(self, input_keys: Sequence[str] | None = None,
                 output_keys: Sequence[str] | None = None, name: str | None = None):  # fmt: skip
        super().__init__(name=name, trainable=True)
        if input_keys:
            self.input_keys = list(input_keys)
            self.default_input_keys, self.default_input_values = [], []
        else:
            self.input_keys, self.default_input_keys, self.default_input_values = _call_signature(
                self.call
            )
        self.output_keys = list(output_keys) if output_keys else _return_keys(self.call)

    def call(self, *inputs: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{type(self).__name__} must define call()")

    def __call__(self, *inputs: Any, **kwargs: Any) -> dict:
        merged: dict = {}
        for v in inputs:
            if isinstance(v, dict):
                merged.update(v)
        if merged:
            inputs = tuple(nested_lookup(k, merged) for k in self.input_keys)
            for key, default in zip(self.default_input_keys, self.default_input_values):
                try:
                    value = nested_lookup(key, merged)
                except KeyError:
                    value = default
                inputs += (value,)
        outputs = self.call(*inputs, **kwargs)
        if isinstance(outputs, dict):
            return outputs
        outputs = make_iterable(outputs)
        if len(outputs) != len(self.output_keys):
            raise ValueError(
                f"{type(self).__name__}: call() returned {len(outputs)} outputs but the layer "
                f"has {len(self.output_keys)} output keys {self.output_keys}"
            )
        return dict(zip(self.output_keys, outputs))


_DEFAULT_SPLITS = (("amps", 1), ("harmonic_distribution", 40))


class OutputSplitsLayer(DictLayer):
    """ddsp's ``OutputSplitsLayer``: ``compute_output(*inputs)`` (defined by subclasses), then a
    linear Dense to the total size, then :func:`split_to_dict` by ``output_splits``.

    The input keys default to ``compute_output``'s argument names; the Dense layer is the
    child ``dense_out`` (subclasses with more children add theirs to ``children()``).
    Output: ``{key: [..., size]}`` for each ``(key, size)`` in ``output_splits``.
    """

    def __init__(self, input_keys: Sequence[str] | None = None,
                 output_splits: Sequence[tuple[str, int]] = _DEFAULT_SPLITS,
                 seed: Any = None, name: str | None = None):  # fmt: skip
        self.output_splits = tuple(
            (str(k), positive_int(n, f"size of {k!r}", "OutputSplitsLayer"))
            for k, n in output_splits
        )
        self.n_out = sum(n for _, n in self.output_splits)
        self.dense_out = Dense(self.n_out, seed=make_rng(seed), name="dense_out")
        input_keys = input_keys or _call_signature(self.compute_output)[0]
        super().__init__(input_keys, [k for k, _ in self.output_splits], name=name)

    def children(self) -> dict[str, Module]:
        return {"dense_out": self.dense_out}

    def call(self, *inputs: Any, **unused_kwargs: Any) -> dict:
        return split_to_dict(self.dense_out(self.compute_output(*inputs)), self.output_splits)

    def compute_output(self, *inputs: Any) -> Any:
        raise TypeError(f"{type(self).__name__} must define compute_output()")
