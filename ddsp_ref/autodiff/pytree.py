"""Flatten and rebuild nested dicts / lists / tuples of arrays (a model's parameters)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def tree_flatten(tree: Any) -> tuple[list, Callable[[list], Any]]:
    """Return the leaves of ``tree`` in a fixed order and a function that rebuilds the tree.

    dicts (in insertion order), lists and tuples are containers; everything else is a leaf.
    """
    leaves: list = []

    def build(node: Any) -> Callable[[Any], Any]:
        if isinstance(node, dict):
            keys = list(node)
            children = [build(node[k]) for k in keys]
            return lambda it: {k: c(it) for k, c in zip(keys, children)}
        if isinstance(node, (list, tuple)):
            children = [build(v) for v in node]
            kind = type(node)
            if kind is tuple or kind is list:
                return lambda it: kind(c(it) for c in children)
            return lambda it: kind(*[c(it) for c in children])  # namedtuple
        leaves.append(node)
        return lambda it: next(it)

    rebuild = build(tree)
    return leaves, lambda new_leaves: rebuild(iter(new_leaves))


def tree_structure(tree: Any) -> Any:
    """A hashable description of the containers of ``tree`` (leaves left out): two trees with
    equal structures have their leaves in corresponding order."""
    if isinstance(tree, dict):
        return ("dict", tuple((k, tree_structure(v)) for k, v in tree.items()))
    if isinstance(tree, (list, tuple)):
        return (type(tree).__name__, tuple(tree_structure(v) for v in tree))
    return "*"


def tree_map(fun: Callable, tree: Any, *rest: Any) -> Any:
    """``fun`` applied leaf by leaf: ``fun(x, *ys)`` for corresponding leaves of ``tree`` and
    every tree in ``rest`` (an optimizer step maps params, grads and moments together).

    Raises:
        ValueError: if a tree in ``rest`` has another structure than ``tree``.
    """
    leaves, rebuild = tree_flatten(tree)
    others = []
    for i, other in enumerate(rest):
        if tree_structure(other) != tree_structure(tree):
            raise ValueError(
                f"tree_map: tree {i + 1} has another structure than the first tree "
                f"({_describe(other)} against {_describe(tree)})"
            )
        others.append(tree_flatten(other)[0])
    return rebuild([fun(x, *ys) for x, *ys in zip(leaves, *others)])


def _describe(tree: Any) -> str:
    if isinstance(tree, dict):
        return "{" + ", ".join(f"{k!r}: {_describe(v)}" for k, v in tree.items()) + "}"
    if isinstance(tree, (list, tuple)):
        return type(tree).__name__ + f" of {len(tree)}"
    return "leaf"
