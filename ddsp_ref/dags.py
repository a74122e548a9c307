"""DAG machinery shared by ProcessorGroup, LossGroup and the models (ddsp.dags).

A DAG is a list of nodes ``(module, ['input/key', ...])`` or
``(module, ['input/key', ...], ['output_key', ...])``, run in list order. Each node's inputs are
looked up with '/' paths in the growing outputs dict; its result is stored under the module's
name, and ``outputs['out']`` aliases the last node's result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .core.utils import nested_lookup, to_dict
from .gin_support import register
from .module import Module

__all__ = ["DAGLayer", "run_dag", "is_processor", "is_loss", "format_dag"]


def is_processor(obj: Any) -> bool:
    return hasattr(obj, "get_controls") and hasattr(obj, "get_signal")


def is_loss(obj: Any) -> bool:
    return hasattr(obj, "get_losses_dict")


def _parse_node(node: Sequence, index: int) -> tuple[Any, list[str], list[str] | None]:
    if not isinstance(node, (list, tuple)) or len(node) not in (2, 3):
        raise ValueError(
            f"DAG node {index} must be (module, input_keys) or (module, input_keys, "
            f"output_keys); got {node!r}"
        )
    module, input_keys = node[0], node[1]
    if isinstance(input_keys, str):
        raise ValueError(
            f"DAG node {index}: input_keys must be a list of keys, got a string {input_keys!r}"
        )
    output_keys = list(node[2]) if len(node) == 3 else None
    return module, list(input_keys), output_keys


def format_dag(dag: Sequence) -> str:
    lines = []
    for i, node in enumerate(dag):
        module, inputs, outputs = _parse_node(node, i)
        name = module if isinstance(module, str) else getattr(module, "name", repr(module))
        lines.append(f"{i}: {name} <- {inputs}" + (f" -> {outputs}" if outputs else ""))
    return "\n".join(lines)


class DAGLayer(Module):
    """Runs a DAG of modules (processors, losses, or any callables).

    Args:
        dag: list of nodes; a module may be given as an instance or as the name of a module
            passed in ``kwarg_modules``.
        name: name of the layer.
        **kwarg_modules: modules referenced by name in the dag.
    """

    def __init__(self, dag: Sequence, name: str | None = None, **kwarg_modules: Any):
        super().__init__(name=name)
        self._modules: dict[str, Any] = {}
        for key, module in kwarg_modules.items():
            self._modules[key] = module
        self.dag: list[tuple] = []
        for i, node in enumerate(dag):
            module, inputs, outputs = _parse_node(node, i)
            if isinstance(module, str):
                if module not in self._modules:
                    raise ValueError(
                        f"DAG node {i} names module {module!r}, which is not among the modules "
                        f"passed by keyword: {sorted(self._modules)}"
                    )
                name_ = module
            else:
                name_ = getattr(module, "name", None) or f"module_{i}"
                if name_ in self._modules and self._modules[name_] is not module:
                    raise ValueError(f"DAG: two different modules share the name {name_!r}")
                self._modules[name_] = module
            self.dag.append((name_, inputs, outputs))

    @property
    def module_names(self) -> list[str]:
        return [node[0] for node in self.dag]

    @property
    def modules(self) -> list[Any]:
        return [self._modules[n] for n in self.module_names]

    def children(self) -> dict[str, Module]:
        return {n: m for n, m in self._modules.items() if isinstance(m, Module)}

    def run_dag(self, inputs: dict, verbose: bool = False, **kwargs: Any) -> dict:
        """Run every node in order and return the outputs dict (see module docstring)."""
        return run_dag(self.dag, self._modules, inputs, verbose=verbose, **kwargs)

    def __call__(self, inputs: dict, **kwargs: Any) -> dict:
        return self.run_dag(inputs, **kwargs)


def run_dag(
    dag: Sequence, modules: dict[str, Any], inputs: dict, verbose: bool = False, **kwargs: Any
) -> dict:
    """Run ``dag`` (nodes of ``(name, input_keys, output_keys)``) over ``inputs``.

    The outputs dict starts as ``{'inputs': inputs}`` plus every input key at the top level.

    Raises:
        KeyError: an input key is missing; the message lists every available key.
    """
    if not isinstance(inputs, dict):
        raise TypeError(f"run_dag: inputs must be a dict of arrays, got {type(inputs).__name__}")
    outputs: dict[str, Any] = {"inputs": dict(inputs)}
    outputs.update(inputs)
    last = None
    for name, input_keys, output_keys in dag:
        module = modules[name]
        args = [nested_lookup(key, outputs) for key in input_keys]
        if verbose:
            shapes = {k: getattr(a, "shape", None) for k, a in zip(input_keys, args)}
            print(f"run_dag: {name} <- {shapes}")
        if is_processor(module):
            result = module(*args, return_outputs_dict=True, **kwargs)
        elif is_loss(module):
            result = module.get_losses_dict(*args, **kwargs)
        else:
            result = module(*args, **kwargs)
        if not isinstance(result, dict):
            if output_keys is None:
                raise ValueError(
                    f"DAG node {name!r} returned a {type(result).__name__}, not a dict; give the "
                    "node output keys: (module, input_keys, output_keys)"
                )
            result = to_dict(result, output_keys)
        outputs[name] = result
        last = result
    if last is not None:
        outputs["out"] = last
    return outputs


DAGLayer = register(DAGLayer, module="ddsp_ref.dags")
