"""Tape overhead of ddsp_ref.autodiff against plain numpy.

1. Per-op overhead on tiny arrays: one op called on plain arrays (dual mode), the same op
   recorded inside value_and_grad, and numpy itself.
2. A long elementwise chain on large arrays: numpy forward only vs ddsp_ref forward (plain)
   vs ddsp_ref forward + backward.

Run: python -m benchmarks.bench_autodiff [--size 1000000] [--chain 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import ddsp_ref
from ddsp_ref.autodiff import ops

try:
    from benchmarks.timing import median_ms, print_table
except ImportError:  # run as a script from the benchmarks folder
    from timing import median_ms, print_table


def per_op_overhead(n_calls: int = 20000) -> list[tuple]:
    x = np.random.default_rng(0).standard_normal(8)
    rows = []
    for name, np_fun, op in [
        ("add", lambda a: a + a, lambda a: ops.add(a, a)),
        ("sin", np.sin, ops.sin),
        ("sum", np.sum, ops.sum),
        ("getitem", lambda a: a[1:5], lambda a: a[1:5]),
    ]:
        start = time.perf_counter()
        for _ in range(n_calls):
            np_fun(x)
        t_np = (time.perf_counter() - start) / n_calls * 1e6

        start = time.perf_counter()
        for _ in range(n_calls):
            op(x)
        t_plain = (time.perf_counter() - start) / n_calls * 1e6

        def traced(a, op=op):
            out = a
            for _ in range(n_calls):
                out = op(a)
            return ops.sum(out)

        start = time.perf_counter()
        ddsp_ref.value_and_grad(traced)(x)
        t_traced = (time.perf_counter() - start) / n_calls * 1e6
        rows.append((name, f"{t_np:.2f}", f"{t_plain:.2f}", f"{t_traced:.2f}"))
    return rows


def chain(x, length: int):
    y = x
    for i in range(length):
        y = ops.tanh(y * 1.01 + 0.1) if i % 2 else ops.sin(y) * y
    return y


def chain_numpy(x, length: int):
    y = x
    for i in range(length):
        y = np.tanh(y * 1.01 + 0.1) if i % 2 else np.sin(y) * y
    return y


def long_chain(size: int, length: int) -> list[tuple]:
    x = np.random.default_rng(0).standard_normal(size).astype(np.float32)
    t_np = median_ms(lambda: chain_numpy(x, length))
    t_plain = median_ms(lambda: chain(x, length))
    vg = ddsp_ref.value_and_grad(lambda a: ops.sum(chain(a, length)))
    t_grad = median_ms(lambda: vg(x))
    return [
        ("numpy forward", f"{t_np:.1f}", "1.00"),
        ("ddsp_ref forward (plain arrays)", f"{t_plain:.1f}", f"{t_plain / t_np:.2f}"),
        ("ddsp_ref forward + backward", f"{t_grad:.1f}", f"{t_grad / t_np:.2f}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="elements per array")
    parser.add_argument("--chain", type=int, default=20, help="ops in the long chain")
    args = parser.parse_args()
    print_table(
        "Per-op time on an 8-element array (microseconds per call)",
        per_op_overhead(),
        ("op", "numpy", "ddsp_ref plain", "ddsp_ref traced"),
    )
    print_table(
        f"Chain of {args.chain} elementwise ops on {args.size} float32 elements (median ms of 5)",
        long_chain(args.size, args.chain),
        ("what", "ms", "x numpy forward"),
    )


if __name__ == "__main__":
    main()
