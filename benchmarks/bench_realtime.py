"""Real-time timbre transfer (ddsp_ref.realtime): latency and real-time factor on one core.

Run (one core, one thread per library):
    taskset -c 0 env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
        NUMBA_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_realtime [--seconds 4]

For the solo_instrument and tiny_instrument sizes (random parameters: the cost does not depend
on training) and blocks of 16 / 32 / 64 / 128 ms it reports the latency (feature lookahead +
block) and, over a synthetic violin-like recording, the median and worst time per block and
the real-time factor (processing time / audio duration; < 1 keeps up), from wall time and
from the process's CPU time (on a shared machine the wall time includes waiting for the core).
The peer, on the same input in the same run: the offline path (features over the whole file,
then one ``model(features)`` call), whose real-time factor is the floor for a one-core CPU.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

SR, HOP = 16000, 64


def build(config: str, n_frames: int):
    from ddsp_ref import effects, processors, synths
    from ddsp_ref.training import decoders, models, preprocessing

    tiny = config == "tiny"
    n = n_frames * HOP
    dag = [
        (synths.Harmonic(n_samples=n, sample_rate=SR), ["amps", "harmonic_distribution", "f0_hz"]),
        (synths.FilteredNoise(n_samples=n, window_size=0, seed=0), ["noise_magnitudes"]),
        (processors.Add(name="add"), ["filtered_noise/signal", "harmonic/signal"]),
        (effects.Reverb(name="reverb", reverb_length=48000, trainable=True), ["add/signal"]),
    ]
    return models.Autoencoder(
        preprocessor=preprocessing.F0LoudnessPreprocessor(time_steps=n_frames,
                                                          compute_loudness=False),
        decoder=decoders.RnnFcDecoder(
            rnn_channels=256 if tiny else 512, ch=512, layers_per_stack=0 if tiny else 3,
            input_keys=("ld_scaled", "f0_scaled"), seed=0,
            output_splits=(("amps", 1), ("harmonic_distribution", 60), ("noise_magnitudes", 65)),
        ),
        processor_group=processors.ProcessorGroup(dag=dag),
    )  # fmt: skip


def recording(seconds: float) -> np.ndarray:
    """A vibrato tone with three harmonics, notes and rests (a violin-like test signal)."""
    t = np.arange(int(seconds * SR)) / SR
    f0 = 330.0 * 2 ** (np.floor(t * 2) % 5 / 12) * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    envelope = np.clip(np.sin(2 * np.pi * t) * 3, 0, 1)
    audio = envelope * (0.3 * np.sin(phase) + 0.1 * np.sin(2 * phase) + 0.05 * np.sin(3 * phase))
    return audio.astype(np.float32)


def offline(audio: np.ndarray, config: str) -> tuple[float, float]:
    """(wall, CPU) seconds for the one-shot path: features over the file, one model call."""
    from ddsp_ref.spectral_ops import compute_f0, compute_loudness

    n_frames = audio.size // HOP
    model = build(config, n_frames)
    start, start_cpu = time.perf_counter(), time.process_time()
    f0, _ = compute_f0(audio, 250, False)
    loudness = compute_loudness(audio, SR, 250)
    features = {"f0_hz": f0[None, :n_frames], "loudness_db": loudness[None, :n_frames]}
    model(features, training=False)
    return time.perf_counter() - start, time.process_time() - start_cpu


def streamed(audio: np.ndarray, config: str, block_ms: int) -> dict:
    from ddsp_ref.realtime import StreamingTransfer

    stream = StreamingTransfer(build(config, 1), block_ms=block_ms)
    size = stream.block_size
    blocks = [audio[i : i + size] for i in range(0, audio.size - size + 1, size)]
    for block in blocks[:3]:  # warm-up: JIT compilation, FFT plans
        stream.process(block)
    stream.reset()
    times, cpu = [], []
    for block in blocks:
        start, start_cpu = time.perf_counter(), time.process_time()
        stream.process(block)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    duration = len(blocks) * size / SR
    return {
        "config": config, "block_ms": block_ms,
        "latency_ms": 1000 * (stream.latency_samples + size) / SR,
        "median_block_ms": round(1000 * float(np.median(times)), 2),
        "max_block_ms": round(1000 * max(times), 2),
        "rtf": round(sum(times) / duration, 3),
        "cpu_rtf": round(sum(cpu) / duration, 3),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--configs", default="solo,tiny")
    parser.add_argument("--blocks", default="16,32,64,128")
    args = parser.parse_args()
    audio = recording(args.seconds)
    for config in args.configs.split(","):
        offline(audio[: 64 * HOP], config)  # warm-up
        wall, cpu = (t / args.seconds for t in offline(audio, config))
        print(json.dumps({"config": config, "offline_rtf": round(wall, 3),
                          "offline_cpu_rtf": round(cpu, 3)}))  # fmt: skip
        for block_ms in (int(b) for b in args.blocks.split(",")):
            row = streamed(audio, config, block_ms)
            row["cpu_rtf_vs_offline"] = round(row["cpu_rtf"] / cpu, 2)
            print(json.dumps(row))


if __name__ == "__main__":
    main()
