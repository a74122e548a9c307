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


def build(config: str):
    from ddsp_ref import effects, losses, processors, synths
    from ddsp_ref.training import decoders, models, preprocessing

    tiny = config == "tiny"
    dag = [
        (synths.Harmonic(n_samples=64000, sample_rate=16000),
         ["amps", "harmonic_distribution", "f0_hz"]),
        (synths.FilteredNoise(n_samples=64000, window_size=0), ["noise_magnitudes"]),
        (processors.Add(name="add"), ["filtered_noise/signal", "harmonic/signal"]),
        (effects.Reverb(name="reverb", reverb_length=48000, trainable=True), ["add/signal"]),
    ]
    return models.Autoencoder(
        preprocessor=preprocessing.F0LoudnessPreprocessor(time_steps=1000),
        decoder=decoders.RnnFcDecoder(
            rnn_channels=256 if tiny else 512, ch=512, layers_per_stack=0 if tiny else 3,
            input_keys=("ld_scaled", "f0_scaled"),
            output_splits=(("amps", 1), ("harmonic_distribution", 60), ("noise_magnitudes", 65)),
        ),
        processor_group=processors.ProcessorGroup(dag=dag),
        losses=[losses.SpectralLoss(loss_type="L1", mag_weight=1.0, logmag_weight=1.0)],
    )  # fmt: skip


def ours(config: str, batch: int, steps: int = 5, warmup: int = 2) -> dict:
    import cupy

    from ddsp_ref.autodiff import tree_map
    from ddsp_ref.training import trainers

    rng = np.random.default_rng(0)
    t = np.arange(1000) / 250.0
    f0 = 300.0 + 90.0 * np.sin(2 * np.pi * 0.5 * t[None] + rng.uniform(0, 6.28, (batch, 1)))
    features = {
        "audio": rng.uniform(-0.5, 0.5, (batch, 64000)).astype(np.float32),
        "f0_hz": f0.astype(np.float32),
        "loudness_db": rng.uniform(-80, 0, (batch, 1000)).astype(np.float32),
    }
    features = {k: cupy.asarray(v) for k, v in features.items()}
    model = build(config)
    model.set_parameters(tree_map(cupy.asarray, model.parameters()))
    trainer = trainers.Trainer(model, learning_rate=3e-4)
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
