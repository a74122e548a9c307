"""ddsp's solo_instrument / tiny_instrument training step on the GPU (cupy), beside the PyTorch
port of ../shared/peers/train_step_torch.py run on CUDA in the same session (issue 14).

Run on a GPU machine: python -m benchmarks.bench_model_gpu [--batch 32] [--config solo]
    [--torch-peer PATH/train_step_torch.py]
The peer is the project's CPU PyTorch port; here its tensors are created on CUDA (default device
and ``torch.from_numpy`` patched) and its own timing loop runs (each step ends with a host read
of the loss, which waits for the optimizer's kernels).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time

import numpy as np


def ours(config: str, batch: int, steps: int = 5, warmup: int = 2) -> dict:
    import cupy

    from ddsp_ref.autodiff import tree_map

    try:
        from benchmarks.bench_models import _inputs, build_trainer
    except ImportError:  # pragma: no cover - run as a script from benchmarks/
        from bench_models import _inputs, build_trainer

    features = {k: cupy.asarray(v) for k, v in _inputs(batch).items()}
    trainer = build_trainer(config)  # the same model and inputs as the CPU benchmark
    model = trainer.model
    model.set_parameters(tree_map(cupy.asarray, model.parameters()))
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        losses = trainer.train_step(features)  # returns floats: waits for the GPU
        if i >= warmup:
            times.append(1000 * (time.perf_counter() - start))
    pool = cupy.get_default_memory_pool()
    return {"median_ms": float(np.median(times)), "times_ms": [round(x, 1) for x in times],
            "loss": losses["total_loss"], "gpu_pool_mb": pool.total_bytes() / 2**20}  # fmt: skip


def torch_peer(path: str, config: str, batch: int) -> dict | None:
    import contextlib
    import io

    import torch

    torch.set_default_device("cuda")
    from_numpy = torch.from_numpy
    torch.from_numpy = lambda a: from_numpy(a).cuda()
    spec = importlib.util.spec_from_file_location("peer_torch", path)
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        peer.worker(f"{config}_b{batch}", 2, 5)
    for line in buffer.getvalue().splitlines():
        if line.startswith('{"worker"'):
            return json.loads(line)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--config", choices=("solo", "tiny"), default="solo")
    parser.add_argument("--torch-peer", default=None)
    args = parser.parse_args()
    mine = ours(args.config, args.batch)
    print(f"ddsp_ref {args.config} b{args.batch} GPU step: {mine['median_ms']:.1f} ms "
          f"{mine['times_ms']} loss {mine['loss']:.3f}", flush=True)  # fmt: skip
    result = {"ours": mine}
    if args.torch_peer:
        try:
            peer = torch_peer(args.torch_peer, args.config, args.batch)
        except Exception as error:  # a failed peer is reported, not fatal
            peer = {"error": repr(error)[:300]}
        result["torch_cuda"] = peer
        if peer and "median_ms" in peer:
            print(f"PyTorch CUDA {args.config} b{args.batch}: {peer['median_ms']:.1f} ms; "
                  f"ratio torch/ours {peer['median_ms'] / mine['median_ms']:.2f}", flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
