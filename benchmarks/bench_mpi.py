"""Gradient all-reduce over MPI: :meth:`MpiStrategy.allreduce_mean` (one packed buffer per
dtype) against its peer, one ``MPI_Allreduce`` per leaf, on a float32 tree shaped like the
solo_instrument decoder's gradients (GRU 512, three FC stacks of 3 x 512, 4.5 M values, 41
leaves), plus the smallest tree a step sends besides (the stop flags). Median of 20 calls after
3 warm-ups, rank 0's clock, both ranks on this machine (shared-memory transport).

Run: mpiexec -n 2 python -m benchmarks.bench_mpi
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from ddsp_ref.training.distributed import MpiStrategy

from .timing import median_ms, print_table


def decoder_like_tree(rng) -> dict:
    """Leaves sized like RnnFcDecoder(rnn_channels=512, ch=512, layers_per_stack=3)."""

    def stack(n_in):
        layers = {}
        for i in range(3):
            layers[f"dense_{i}"] = {"kernel": (n_in if i == 0 else 512, 512), "bias": (512,)}
            layers[f"norm_{i}"] = {"gamma": (512,), "beta": (512,)}
        return layers

    shapes = {
        "f0_stack": stack(1), "ld_stack": stack(1), "out_stack": stack(1026),
        "rnn": {"kernel": (1024, 1536), "recurrent_kernel": (512, 1536), "bias": (2, 1536)},
        "dense_out": {"kernel": (512, 101), "bias": (101,)},
    }  # fmt: skip

    def build(node):
        if isinstance(node, dict):
            return {k: build(v) for k, v in node.items()}
        return rng.standard_normal(node).astype(np.float32)

    return build(shapes)


def per_leaf(comm, tree) -> dict:
    """The peer: one Allreduce per leaf."""
    if isinstance(tree, dict):
        return {k: per_leaf(comm, v) for k, v in tree.items()}
    out = np.empty_like(tree)
    comm.Allreduce(tree, out, op=MPI.SUM)
    out /= comm.Get_size()
    return out


def main() -> None:
    strategy = MpiStrategy()
    tree = decoder_like_tree(np.random.default_rng(strategy.rank))
    leaves = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        else:
            leaves.append(node)
    packed = median_ms(lambda: strategy.allreduce_mean(tree), repeats=20, warmup=3)
    peer = median_ms(lambda: per_leaf(strategy.comm, tree), repeats=20, warmup=3)
    flags = median_ms(lambda: strategy.any_each([False, False]), repeats=20, warmup=3)
    if strategy.is_chief:
        n = sum(leaf.size for leaf in leaves)
        title = f"{strategy.size} ranks, {len(leaves)} leaves, {n / 1e6:.2f} M float32 values"
        rows = [
            ("allreduce_mean (packed)", f"{packed:.2f}", "1.00"),
            ("one Allreduce per leaf", f"{peer:.2f}", f"{peer / packed:.2f}"),
            ("any_each (stop flags)", f"{flags:.3f}", f"{flags / packed:.3f}"),
        ]
        print_table(title, rows, ("what", "median ms", "vs packed"))


if __name__ == "__main__":
    main()
