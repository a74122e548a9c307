"""ddsp's VectorQuantization: an EMA k-means codebook with restarts and a commitment loss."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...autodiff import stop_gradient
from ...backend import array_namespace, to_numpy
from ...core.utils import to_float
from ...gin_support import register
from ...losses.base import mean_difference
from ...module import Module
from ...validation import nonnegative_int, positive_int
from .initializers import make_rng

__all__ = ["VectorQuantization"]


class VectorQuantization(Module):
    """ddsp's ``VectorQuantization``: nearest-centroid quantisation with an EMA codebook.

    The codebook is not a parameter: it is kept as two running sums, ``counts [k]`` (vectors
    assigned to each centroid) and ``sums [k, depth / num_heads]`` (their sum), and the
    centroids are ``sums / counts`` (0 where a count is 0). Both start at zero and are
    **state, not parameters**: :meth:`parameters` is empty (so no optimiser ever updates
    them, and ``value_and_grad`` over the parameters never sees them); read or restore them
    with :meth:`variables` / :meth:`set_variables`.

    A call with ``training=True`` updates the state in place, outside the tape (like keras'
    ``assign_sub``): with this batch's assignment counts ``n_c`` and vector sums ``s_c``,
    ``counts -= (1 - gamma) * (counts - n_c)`` and ``sums -= (1 - gamma) * (sums - s_c)``. Before
    assigning, centroids whose ``counts * k <= restart_threshold * n`` (n: vectors in the batch,
    times heads) are restarted for this call: replaced by distinct random batch vectors, or by
    uniform [0, 1) noise when more need restarting than the batch has vectors. With
    ``training=False`` nothing changes.

    Each input vector of ``depth`` channels is split into ``num_heads`` segments that are
    quantised independently against the one codebook.

    Args:
        k: number of centroids.
        gamma: EMA decay.
        restart_threshold: see above (0: restart only never-used centroids).
        num_heads: segments per vector (must divide the depth).
        commitment_loss_weight: factor of :meth:`committment_loss`.
        seed: int, None or numpy Generator for the restarts.

    Call: ``x [..., depth]`` -> ``(z, c)``: ``z`` (shape of ``x``) the quantised vectors with the
    straight-through gradient (identity to ``x``), ``c [..., num_heads]`` int64 centroid ids.
    """

    def __init__(self, k: int, gamma: float = 0.99, restart_threshold: float = 0.0,
                 num_heads: int = 1, commitment_loss_weight: float = 0.2, seed: Any = None,
                 name: str | None = None):  # fmt: skip
        super().__init__(name=name, trainable=True)
        where = "VectorQuantization"
        self.k = positive_int(k, "k", where)
        self.gamma = float(gamma)
        self.restart_threshold = float(restart_threshold)
        self.num_heads = positive_int(num_heads, "num_heads", where)
        self.commitment_loss_weight = float(commitment_loss_weight)
        self._rng = make_rng(seed)
        self.depth: int | None = None
        self.counts: Any = None
        self.sums: Any = None

    # -- state ------------------------------------------------------------------------------
    def build(self, depth: int, xp: Any = np) -> None:
        """Create the zero state for vectors of ``depth`` channels."""
        depth = nonnegative_int(depth, "depth", "VectorQuantization")
        if depth == 0 or depth % self.num_heads:
            raise ValueError(
                f"VectorQuantization: input depth ({depth}) must be a positive multiple of "
                f"num_heads ({self.num_heads})"
            )
        self.depth = depth
        self.counts = xp.zeros(self.k, np.float32)
        self.sums = xp.zeros((self.k, depth // self.num_heads), np.float32)

    def variables(self) -> dict[str, Any]:
        """The EMA state ``{'counts': [k], 'sums': [k, depth / num_heads]}`` (empty before
        the first call)."""
        return {} if self.counts is None else {"counts": self.counts, "sums": self.sums}

    def set_variables(self, variables: dict[str, Any]) -> None:
        """Restore the state written by :meth:`variables` (shapes must match)."""
        counts, sums = variables["counts"], variables["sums"]
        xp = array_namespace(counts, sums)
        if counts.shape != (self.k,) or len(sums.shape) != 2 or sums.shape[0] != self.k:
            raise ValueError(
                f"VectorQuantization: counts must be [{self.k}] and sums [{self.k}, depth], got "
                f"{tuple(counts.shape)} and {tuple(sums.shape)}"
            )
        self.depth = int(sums.shape[1]) * self.num_heads
        self.counts = xp.asarray(counts, np.float32)
        self.sums = xp.asarray(sums, np.float32)

    def centroids(self, like: Any) -> Any:
        """``sums / counts`` (0 where a count is 0), ``[k, depth / num_heads]`` in ``like``'s
        dtype."""
        xp = array_namespace(like)
        counts = self.counts.astype(like.dtype)[:, None]
        safe = xp.where(counts == 0, 1, counts)
        return xp.where(counts == 0, 0, self.sums.astype(like.dtype) / safe)

    # -- call -------------------------------------------------------------------------------
    def __call__(self, x: Any, training: bool = False) -> tuple[Any, Any]:
        x = to_float(x, "x", "VectorQuantization")
        if len(x.shape) < 1:
            raise ValueError("VectorQuantization: x must have a channel axis, got a scalar")
        raw = stop_gradient(x)
        xp = array_namespace(raw)
        if self.depth is None:
            self.build(int(raw.shape[-1]), xp)
        elif raw.shape[-1] != self.depth:
            raise ValueError(
                f"VectorQuantization: x must have {self.depth} channels (the built depth), got "
                f"shape {tuple(raw.shape)}"
            )
        flat = self._heads(raw)  # [heads * n, depth / heads]
        e = self._restarted(flat) if training else self.centroids(flat)
        distances = (
            xp.sum(flat**2, axis=1)[:, None] - 2 * flat @ e.T + xp.sum(e**2, axis=1)[None, :]
        )
        c = xp.argmin(distances, axis=1)
        z = self._unheads(e[c], raw.shape)
        if training:
            self._update(flat, c)
        n = flat.shape[0] // self.num_heads
        ids = c.reshape(self.num_heads, n).T.reshape(raw.shape[:-1] + (self.num_heads,))
        return x + (z - raw), ids.astype(xp.int64)

    def _heads(self, raw: Any) -> Any:
        """``[..., depth]`` -> ``[heads * n, depth / heads]``, head-major (ddsp's split/concat)."""
        xp = array_namespace(raw)
        flat = raw.reshape(-1, self.depth)
        return xp.concatenate(xp.split(flat, self.num_heads, axis=1), axis=0)

    def _unheads(self, flat: Any, shape: tuple) -> Any:
        xp = array_namespace(flat)
        return xp.concatenate(xp.split(flat, self.num_heads, axis=0), axis=1).reshape(shape)

    def _restarted(self, flat: Any) -> Any:
        """Centroids for a training call: kept ones, and restarts for the under-used ones."""
        xp = array_namespace(flat)
        n, width = flat.shape
        keep = self.counts * self.k > self.restart_threshold * n
        restart = np.flatnonzero(~to_numpy(keep))
        e = xp.asarray(self._rng.random((self.k, width)), dtype=flat.dtype)
        n_replace = min(len(restart), n)
        if n_replace:
            picks = self._rng.permutation(n)[:n_replace]
            e[xp.asarray(restart[:n_replace])] = flat[xp.asarray(picks)]
        return xp.where(keep[:, None], self.centroids(flat), e)

    def _update(self, flat: Any, c: Any) -> None:
        """EMA of the batch's assignment counts and vector sums (float32 state)."""
        xp = array_namespace(flat)
        one_hot = (c[:, None] == xp.arange(self.k)).astype(flat.dtype)
        counts = xp.sum(one_hot, axis=0)
        sums = one_hot.T @ flat
        rate = 1.0 - self.gamma
        self.counts = (self.counts - rate * (self.counts - counts)).astype(np.float32)
        self.sums = (self.sums - rate * (self.sums - sums)).astype(np.float32)

    def unquantize(self, c: Any) -> Any:
        """Centroid ids ``[..., num_heads]`` -> vectors ``[..., depth]`` (float32)."""
        if self.depth is None:
            raise ValueError("VectorQuantization: unquantize before the first call (no state)")
        xp = array_namespace(self.sums)
        c = xp.asarray(c).astype(xp.int64)
        if c.shape[-1:] != (self.num_heads,):
            raise ValueError(
                f"VectorQuantization: ids must be [..., {self.num_heads}], got {tuple(c.shape)}"
            )
        e = self.centroids(self.sums)
        return e[c].reshape(c.shape[:-1] + (self.depth,))

    def committment_loss(self, z: Any, z_q: Any) -> Any:
        """ddsp's (sic) ``committment_loss``: ``commitment_loss_weight * mean((z - sg(z_q))^2)``,
        pulling the encoder output ``z`` towards the centroids (no gradient to ``z_q``)."""
        loss = mean_difference(z, stop_gradient(z_q), loss_type="L2")
        return self.commitment_loss_weight * loss

    commitment_loss = committment_loss

    def get_losses_dict(self, z: Any, z_q: Any) -> dict[str, Any]:
        """``{name + '_commitment_loss': committment_loss(z, z_q)}``."""
        return {self.name + "_commitment_loss": self.committment_loss(z, z_q)}


# ddsp's gin name: @nn.VectorQuantization().
register(VectorQuantization, module="ddsp_ref.training.nn")
