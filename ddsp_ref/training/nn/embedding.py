"""keras' Embedding layer and ddsp's ``get_embedding``: a learned vector per integer id."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...autodiff import ops, stop_gradient
from ...backend import array_namespace
from ...validation import positive_int
from .base import Layer

__all__ = ["Embedding", "get_embedding"]


class Embedding(Layer):
    """keras ``Embedding``: ``embeddings[ids]`` with ``embeddings [input_dim, output_dim]``
    drawn from keras' default initialiser, uniform on [-0.05, 0.05) (float32).

    Args:
        input_dim: vocabulary size (ids run from 0 to ``input_dim - 1``).
        output_dim: size of each vector.
        seed: int, None or numpy Generator for the initialiser.

    Call: integer ids ``[...]`` (any shape; floats holding whole numbers are accepted, as
    keras casts them) -> ``[..., output_dim]`` float32. The gradient reaches ``embeddings``
    (rows of repeated ids add up); ids have none.

    Raises:
        ValueError: ids outside ``[0, input_dim)`` or not whole numbers (keras raises on CPU
            for out-of-range ids too).
    """

    def __init__(self, input_dim: int, output_dim: int, seed: Any = None,
                 name: str | None = None):  # fmt: skip
        super().__init__(seed=seed, name=name)
        self.input_dim = positive_int(input_dim, "input_dim", "Embedding")
        self.output_dim = positive_int(output_dim, "output_dim", "Embedding")
        self.build(self.input_dim)

    def _create(self, input_size: int, xp: Any) -> None:
        table = self._rng.uniform(-0.05, 0.05, (input_size, self.output_dim))
        self._new("embeddings", table.astype(np.float32), xp)

    def __call__(self, ids: Any) -> Any:
        raw = stop_gradient(ids)
        xp = array_namespace(raw)
        raw = xp.asarray(raw)
        if raw.dtype.kind not in "iub":
            if raw.dtype.kind != "f" or bool(xp.any(raw != xp.floor(raw))):
                raise ValueError(f"Embedding: ids must be whole numbers, got dtype {raw.dtype}")
        ids = raw.astype(xp.int64)
        if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= self.input_dim):
            raise ValueError(
                f"Embedding: ids must lie in [0, {self.input_dim}), got values from "
                f"{int(ids.min())} to {int(ids.max())}"
            )
        return ops.take(self.parameter("embeddings"), ids, axis=0)


def get_embedding(vocab_size: int = 1024, n_dims: int = 256, seed: Any = None) -> Embedding:
    """ddsp's ``get_embedding``: an :class:`Embedding` of ``vocab_size`` ids to ``n_dims``
    (ddsp's keras ``input_length=1`` only declares the expected input shape)."""
    return Embedding(vocab_size, n_dims, seed=seed, name="embedding")
