"""Fused GRU (or LSTM) forward + backward against PyTorch's ``torch.nn.GRU`` on the same inputs.

The peer's "GRU(512) only" configuration (``../shared/peers/train_step_torch.py``, ``gru_b8``):
GRU(1024 -> 512), batch 8 x 1000 steps, float32, loss ``mean(sequence ** 2)``, gradients of the
weights only (the input does not require a gradient), 2 threads. ddsp_ref runs
``ddsp_ref.autodiff.fused.rnn.gru_sequence`` under ``value_and_grad``; PyTorch runs in a
subprocess of an interpreter that has torch (``--torch-python``), on the same weights converted
to its layout (gates (r, z, n), transposed), and its sequence and gradients are compared with
ours. Rounds alternate between the two (the machine may be shared); each reports the median of
``--steps`` timed steps after a warm-up, and the ratio is taken within each round.

Run: python -m benchmarks.bench_rnn [--batch 8] [--steps-per-seq 1000] [--inputs 1024]
     [--units 512] [--steps 5] [--rounds 2] [--torch-python PATH] [--device cpu|gpu]
     [--cell gru|lstm]
(``--device gpu``: cupy arrays and the numba CUDA kernels against torch on CUDA, cuDNN's GRU;
torch from this interpreter unless ``--torch-python`` is given.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

import ddsp_ref

try:
    from benchmarks.timing import median_ms, peak_rss_mb, print_table
except ImportError:  # run as a script from the benchmarks folder
    from timing import median_ms, peak_rss_mb, print_table

TORCH_PYTHONS = ("/tmp/peers/tf-venv/bin/python", "/tmp/torch-venv/bin/python")

# The PyTorch side, run by the torch interpreter: argv = folder with the .npy inputs, threads,
# warm-up, steps. It writes its outputs and gradients next to the inputs for the comparison.
TORCH_SCRIPT = r"""
import json, sys, time, statistics
import numpy as np, torch
folder, threads, warmup, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
device, cell = sys.argv[5], sys.argv[6]
torch.set_num_threads(threads)
ld = lambda name: torch.from_numpy(np.load(f"{folder}/{name}.npy")).to(device)
x = ld("x")
gru = getattr(torch.nn, cell.upper())(x.shape[2], ld("u").shape[0], batch_first=True).to(device)
with torch.no_grad():
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        getattr(gru, name).copy_(ld(name))
def step():
    gru.zero_grad(set_to_none=True)
    seq = gru(x)[0]
    (seq ** 2).mean().backward()
    return seq
times = []
for i in range(warmup + steps):
    t0 = time.perf_counter()
    seq = step()
    if device == "cuda":
        torch.cuda.synchronize()
    if i >= warmup:
        times.append((time.perf_counter() - t0) * 1e3)
np.save(f"{folder}/torch_seq.npy", seq.detach().cpu().numpy())
for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
    np.save(f"{folder}/torch_d_{name}.npy", getattr(gru, name).grad.cpu().numpy())
print(json.dumps({"median_ms": statistics.median(times), "torch": torch.__version__}))
"""


def _to_torch_layout(cell, kernel, recurrent_kernel, bias, grads=False):
    """keras weights -> torch's: GRU gates (z, r, n) as columns -> (r, z, n) as rows; LSTM gates
    keep their order (i, f, c, o) and keras' one bias goes to ``bias_ih`` (``bias_hh`` zeros,
    or, for gradients, the same cotangent: torch adds the two biases)."""
    if cell == "lstm":
        return {
            "weight_ih_l0": np.ascontiguousarray(kernel.T),
            "weight_hh_l0": np.ascontiguousarray(recurrent_kernel.T),
            "bias_ih_l0": bias,
            "bias_hh_l0": bias if grads else np.zeros_like(bias),
        }

    def reorder(m):  # [..., 3H] with gate blocks z, r, n -> r, z, n
        z, r, n = np.split(m, 3, axis=-1)
        return np.concatenate([r, z, n], axis=-1)

    return {
        "weight_ih_l0": np.ascontiguousarray(reorder(kernel).T),
        "weight_hh_l0": np.ascontiguousarray(reorder(recurrent_kernel).T),
        "bias_ih_l0": reorder(bias[0]),
        "bias_hh_l0": reorder(bias[1]),
    }


def _inputs(batch, n_steps, n_in, units, gates=3):
    """keras' initialisers in spirit: glorot-uniform kernel, orthogonal-ish recurrent kernel,
    small biases (so the recurrence neither saturates nor vanishes)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, n_steps, n_in)).astype(np.float32)
    limit = np.sqrt(6.0 / (n_in + gates * units))
    kernel = rng.uniform(-limit, limit, (n_in, gates * units)).astype(np.float32)
    q, _ = np.linalg.qr(rng.standard_normal((gates * units, units)))
    recurrent_kernel = np.ascontiguousarray(q.T).astype(np.float32)
    bias_shape = (2, 3 * units) if gates == 3 else (4 * units,)
    bias = (0.1 * rng.standard_normal(bias_shape)).astype(np.float32)
    return x, kernel, recurrent_kernel, bias


def _ours(cell, x, kernel, recurrent_kernel, bias):
    from ddsp_ref.autodiff import ops
    from ddsp_ref.autodiff.fused.rnn import gru_sequence, lstm_sequence

    sequence = gru_sequence if cell == "gru" else lstm_sequence

    def loss(k, u, b):
        seq = sequence(x, k, u, b)[0]
        return ops.mean(seq * seq)

    step = ddsp_ref.value_and_grad(loss, (0, 1, 2))
    return lambda: step(kernel, recurrent_kernel, bias), sequence


def _run_torch(python, folder, threads, steps, device, cell):
    script = os.path.join(folder, "torch_gru.py")
    with open(script, "w") as f:
        f.write(TORCH_SCRIPT)
    cmd = [python, script, folder, str(threads), "1", str(steps), device, cell]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"the PyTorch run failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _compare(cell, folder, ours_seq, ours_grads):
    """Largest differences between our sequence / gradients and PyTorch's, relative to the
    largest entry of each."""
    rel = lambda a, b: float(np.max(np.abs(a - b)) / np.max(np.abs(b)))  # noqa: E731
    diffs = {"sequence": rel(ours_seq, np.load(f"{folder}/torch_seq.npy"))}
    ours_layout = _to_torch_layout(cell, *ours_grads, grads=True)
    theirs = {k: np.load(f"{folder}/torch_d_{k}.npy") for k in ours_layout}
    for name, ours in ours_layout.items():
        diffs[f"d_{name}"] = rel(ours, theirs[name])
    return diffs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps-per-seq", type=int, default=1000)
    parser.add_argument("--inputs", type=int, default=1024, help="input width (the peer's: 1024)")
    parser.add_argument("--units", type=int, default=512)
    parser.add_argument("--cell", choices=("gru", "lstm"), default="gru")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--torch-python", default=None)
    parser.add_argument(
        "--device",
        choices=("cpu", "gpu"),
        default="cpu",
        help="gpu: cupy arrays (numba CUDA kernels) against torch on CUDA",
    )
    args = parser.parse_args(argv)
    python = args.torch_python or next((p for p in TORCH_PYTHONS if os.path.exists(p)), None)
    if args.device == "gpu":
        import cupy as xp

        python = args.torch_python or sys.executable
    else:
        xp = np

    gates = 3 if args.cell == "gru" else 4
    x, kernel, recurrent_kernel, bias = _inputs(
        args.batch, args.steps_per_seq, args.inputs, args.units, gates
    )
    step, sequence = _ours(args.cell, *(xp.asarray(a) for a in (x, kernel, recurrent_kernel, bias)))
    rows, ratios, label = [], [], args.cell.upper()
    with tempfile.TemporaryDirectory() as folder:
        np.save(f"{folder}/x.npy", x)
        np.save(f"{folder}/u.npy", recurrent_kernel)
        for name, value in _to_torch_layout(args.cell, kernel, recurrent_kernel, bias).items():
            np.save(f"{folder}/{name}.npy", value)
        for r in range(args.rounds):
            ours_ms = median_ms(step, repeats=args.steps, warmup=1, xp=xp)
            rows.append((f"round {r + 1}", f"ddsp_ref fused {label}", f"{ours_ms:.1f}"))
            if python is None:
                continue
            device = "cuda" if args.device == "gpu" else "cpu"
            theirs = _run_torch(python, folder, args.threads, args.steps, device, args.cell)
            rows.append((f"round {r + 1}", f"torch {theirs['torch']} nn.{label}",
                         f"{theirs['median_ms']:.1f}"))  # fmt: skip
            ratios.append(theirs["median_ms"] / ours_ms)
        title = (
            f"{label}({args.inputs} -> {args.units}), batch {args.batch} x "
            f"{args.steps_per_seq} steps, fwd + bwd, float32, {args.threads} threads"
        )
        print_table(title, rows, ("round", "implementation", "median ms"))
        print(f"ddsp_ref peak RSS {peak_rss_mb():.0f} MB")
        if python is None:
            print("PyTorch not found (pass --torch-python): no comparison")
            return
        print("speed-up over PyTorch per round: " + ", ".join(f"{q:.2f}x" for q in ratios))
        to_host = ddsp_ref.backend.to_numpy
        _, grads = step()
        seq = sequence(*(xp.asarray(a) for a in (x, kernel, recurrent_kernel, bias)))[0]
        diffs = _compare(args.cell, folder, to_host(seq), tuple(to_host(g) for g in grads))
        print("max |ours - torch| / max |torch|: "
              + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
