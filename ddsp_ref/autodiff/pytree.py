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


def tree_map(fun: Callable, tree: Any) -> Any:
    leaves, rebuild = tree_flatten(tree)
    return rebuild([fun(x) for x in leaves])
