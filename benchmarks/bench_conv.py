"""DilatedConvDecoder (and one dilated conv1d) forward + backward against ddsp 3.7.0 on TensorFlow.

Both run on identical inputs and weights: ddsp_ref in this process, ddsp / keras in a
subprocess of the TensorFlow peer's interpreter (``--tf-python``), which also returns its
outputs so they are compared with ours. Loss ``sum(out * cot)`` with a fixed random cotangent;
gradients of every weight (and of the conv input). Rounds alternate between the two (the machine
may be shared); each reports the median of ``--steps`` timed steps after a warm-up, and the
ratio is taken within each round. TF runs its step under ``tf.function``.

Run: python -m benchmarks.bench_conv [--batch 2] [--frames 1000] [--ch 256] [--steps 3]
     [--rounds 2] [--threads 2] [--tf-python /tmp/peers/tf-venv/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile

import numpy as np

import ddsp_ref
from ddsp_ref.autodiff import ops
from ddsp_ref.autodiff.fused.conv import conv1d
from ddsp_ref.module import flatten_dict
from ddsp_ref.training.decoders import DilatedConvDecoder

try:
    from benchmarks.timing import median_ms, print_table
except ImportError:  # run as a script from the benchmarks folder
    from timing import median_ms, print_table

SPLITS = (("amps", 1), ("harmonic_distribution", 60))

# The TF side: argv = folder, threads, warm-up, steps. Loads ddsp's training modules without
# the package __init__ (which imports CREPE and Cloud clients), copies our weights in, times.
TF_SCRIPT = r"""
import importlib, json, os, statistics, sys, time, types
import numpy as np
folder, threads, warmup, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(threads)
tf.config.threading.set_inter_op_parallelism_threads(1)
for name in ("crepe", "hypertune"):
    try:
        importlib.import_module(name)
    except ImportError:
        sys.modules[name] = types.ModuleType(name)
import ddsp
pkg = types.ModuleType("ddsp.training")
pkg.__path__ = [os.path.join(os.path.dirname(ddsp.__file__), "training")]
sys.modules["ddsp.training"] = pkg
from ddsp.training import decoders
ld = lambda n: np.load(f"{folder}/{n}.npy")
spec = json.load(open(f"{folder}/spec.json"))
feats = {k: tf.constant(ld(k)) for k in ("ld_scaled", "f0_scaled", "z")}
dec = decoders.DilatedConvDecoder(ch=spec["ch"], output_splits=spec["splits"])
dec(feats)
st = dec.dilated_conv_stack
pairs = [(st.conv_in, "conv_in")]
pairs += [(l.layers[-1], f"dilated_conv_{i}") for i, l in enumerate(st.layers)]
pairs += [(n.conditional_scale_and_shift.dense, f"norm_{i}/conditional_scale_and_shift/dense")
          for i, n in enumerate(st.norms)]
for layer, name in pairs:
    k = ld(f"p__dilated_conv_stack__{name.replace('/', '__')}__kernel")
    layer.kernel.assign(k[:, None] if k.ndim == 3 else k)
    layer.bias.assign(ld(f"p__dilated_conv_stack__{name.replace('/', '__')}__bias"))
dec.dense_out.kernel.assign(ld("p__dense_out__kernel"))
dec.dense_out.bias.assign(ld("p__dense_out__bias"))
cots = {k: tf.constant(ld(f"cot_{k}")) for k, _ in spec["splits"]}
x, w, b, g = (tf.constant(ld(n)) for n in ("cx", "cw", "cb", "cg"))
conv = tf.keras.layers.Conv2D(w.shape[-1], (w.shape[0], 1), dilation_rate=(spec["dilation"], 1),
                              padding="same")
conv.build((None, x.shape[1], 1, x.shape[2])); conv.set_weights([w.numpy()[:, None], b.numpy()])
@tf.function
def dec_step():
    with tf.GradientTape() as tape:
        out = dec(feats)
        loss = sum(tf.reduce_sum(out[k] * cots[k]) for k in cots)
    return out, tape.gradient(loss, dec.trainable_variables)
@tf.function
def conv_step():
    xx = x[:, :, None, :]
    with tf.GradientTape() as tape:
        tape.watch(xx)
        y = conv(xx)
        loss = tf.reduce_sum(y[:, :, 0, :] * g)
    return y, tape.gradient(loss, [xx] + conv.trainable_variables)
def timed(fn):
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter(); res = fn(); _ = [r.numpy() for r in tf.nest.flatten(res)]
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), res
ms_dec, (out, _) = timed(dec_step)
ms_conv, (y, _) = timed(conv_step)
for k in out:
    np.save(f"{folder}/tf_out_{k}.npy", out[k].numpy())
np.save(f"{folder}/tf_conv.npy", y.numpy()[:, :, 0, :])
print(json.dumps({"decoder_ms": ms_dec, "conv_ms": ms_conv, "tf": tf.__version__}))
"""


def _inputs(args):
    rng = np.random.default_rng(0)
    t = args.frames
    b = args.batch
    feats = {"ld_scaled": rng.random((b, t, 1)), "f0_scaled": rng.random((b, t, 1)),
             "z": rng.standard_normal((b, t, 16))}  # fmt: skip
    feats = {k: v.astype(np.float32) for k, v in feats.items()}
    dec = DilatedConvDecoder(ch=args.ch, output_splits=SPLITS, seed=0)
    dec(feats)
    cots = {k: rng.standard_normal((args.batch, t, n)).astype(np.float32) for k, n in SPLITS}
    c = args.ch
    conv_args = [rng.standard_normal(s).astype(np.float32) * 0.1
                 for s in ((args.batch, t, c), (3, c, c), (c,), (args.batch, t, c))]  # fmt: skip
    return dec, feats, cots, conv_args


def _ours(dec, feats, cots, conv_args, dilation, steps):
    params = dec.parameters()

    def loss(p):
        out = dec.apply(p, feats)
        return sum(ops.sum(out[k] * cots[k]) for k in cots)

    step = ddsp_ref.value_and_grad(loss)
    ms_dec = median_ms(lambda: step(params), repeats=steps)
    x, w, b, g = conv_args
    conv_step = ddsp_ref.value_and_grad(lambda *a: ops.sum(conv1d(*a, dilation) * g), (0, 1, 2))
    ms_conv = median_ms(lambda: conv_step(x, w, b), repeats=steps)
    return ms_dec, ms_conv


def _tf(folder, args):
    cmd = [args.tf_python, "-c", TF_SCRIPT, folder, str(args.threads), "1", str(args.steps)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode:
        raise RuntimeError(res.stderr[-3000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--ch", type=int, default=256)
    parser.add_argument("--dilation", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tf-python", default="/tmp/peers/tf-venv/bin/python")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    dec, feats, cots, conv_args = _inputs(args)
    with tempfile.TemporaryDirectory() as folder:
        for k, v in feats.items():
            np.save(f"{folder}/{k}.npy", v)
        for k, v in cots.items():
            np.save(f"{folder}/cot_{k}.npy", v)
        for name, v in zip(("cx", "cw", "cb", "cg"), conv_args):
            np.save(f"{folder}/{name}.npy", v)
        for k, v in flatten_dict(dec.parameters(), delimiter="__").items():
            np.save(f"{folder}/p__{k}.npy", np.asarray(v))
        with open(f"{folder}/spec.json", "w") as f:
            json.dump({"ch": args.ch, "splits": SPLITS, "dilation": args.dilation}, f)
        rows = []
        for r in range(args.rounds):
            ours_dec, ours_conv = _ours(dec, feats, cots, conv_args, args.dilation, args.steps)
            peer = _tf(folder, args)
            dec_ms, conv_ms = peer["decoder_ms"], peer["conv_ms"]
            rows.append((r, f"{ours_dec:.0f}", f"{dec_ms:.0f}", f"{ours_dec / dec_ms:.2f}",
                         f"{ours_conv:.1f}", f"{conv_ms:.1f}",
                         f"{ours_conv / conv_ms:.2f}"))  # fmt: skip
        out = dec(feats)
        errs = {k: float(np.max(np.abs(out[k] - np.load(f"{folder}/tf_out_{k}.npy"))))
                for k in out}  # fmt: skip
        y = conv1d(*conv_args[:3], args.dilation)
        errs["conv"] = float(np.max(np.abs(y - np.load(f"{folder}/tf_conv.npy"))))
    title = (f"DilatedConvDecoder(ch={args.ch}, 2 x 5 layers) and conv1d(ch={args.ch}, k=3, "
             f"dilation={args.dilation}), batch {args.batch} x {args.frames} frames, float32, "
             f"forward + backward, {args.threads} threads, TF {peer['tf']}")  # fmt: skip
    header = ("round", "decoder ms", "ddsp/TF ms", "ratio", "conv1d ms", "keras ms", "ratio")
    print_table(title, rows, header)
    print("max |ours - TF| of the outputs:", json.dumps(errs))


if __name__ == "__main__":
    main()
