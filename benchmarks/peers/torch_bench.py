"""A straightforward PyTorch (CPU) port of the DDSP math, timed on the standard workloads.

Same formulas as ddsp 3.7.0 (exp_sigmoid, Nyquist-masked normalised harmonics, 'window'
amplitude upsampling, legacy-'linear' f0 upsampling, inclusive float32 cumsum phase, frequency
filter by block FFT convolution, causal FFT reverb, multi-scale L1 magnitude + log-magnitude
loss), written the obvious way with whole-tensor ops, as a user porting ddsp would.

Runs in a venv with torch (the peer venv has it; see README.md in this folder):
    source /tmp/peers/tf-venv/peers_env.sh
    python benchmarks/peers/torch_bench.py --inputs /tmp/peers/inputs.npz
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (  # noqa: E402
    DEFAULT_DIR,
    WORKLOADS,
    load_inputs,
    machine_info,
    median_ms,
    peak_rss_mb,
    rss_in_subprocess,
    save_npz,
    write_json,
)

SAMPLE_RATE = 16000
FFT_SIZES = (2048, 1024, 512, 256, 128, 64)


# -- core -------------------------------------------------------------------------------------
def exp_sigmoid(x, exponent=10.0, max_value=2.0, threshold=1e-7):
    return max_value * torch.sigmoid(x) ** math.log(exponent) + threshold


def safe_log(x, eps=1e-5):
    return torch.log(torch.where(x <= 0.0, torch.full_like(x, eps), x))


def periodic_hann(n):
    return 0.5 - 0.5 * torch.cos(2 * math.pi * torch.arange(n, dtype=torch.float32) / n)


def normalize_harmonics(dist, f0_hz, sample_rate=SAMPLE_RATE):
    k = torch.arange(1, dist.shape[-1] + 1, dtype=dist.dtype)
    dist = torch.where(f0_hz * k >= sample_rate / 2.0, torch.zeros_like(dist), dist)
    total = dist.sum(-1, keepdim=True)
    return dist / torch.where(total == 0.0, torch.full_like(total, 1e-7), total)


def resample_linear(x, n_out):
    """ddsp's resample(method='linear'): legacy TF bilinear, align_corners=False, [B,T,C]."""
    n_in = x.shape[1]
    pos = torch.arange(n_out, dtype=torch.float32) * (n_in / n_out)
    lo = torch.floor(pos).long()
    hi = torch.clamp(lo + 1, max=n_in - 1)
    w = (pos - lo.float())[None, :, None]
    return x[:, lo] + (x[:, hi] - x[:, lo]) * w


def upsample_with_windows(x, n_out):
    """ddsp's 'window' upsampling [B,T,C] -> [B,n_out,C]: Hann crossfade over 2*hop samples.

    The last frame is repeated (add_endpoint); with 50 % overlap each output sample mixes two
    neighbouring frames: out[k*hop + j] = x[k] * w[hop + j] + x[k+1] * w[j].
    """
    x = torch.cat([x, x[:, -1:]], dim=1)
    hop = n_out // (x.shape[1] - 1)
    w = periodic_hann(2 * hop)
    b, t, c = x.shape
    fade_out, fade_in = w[None, None, hop:, None], w[None, None, :hop, None]
    out = x[:, :-1, None, :] * fade_out + x[:, 1:, None, :] * fade_in
    return out.reshape(b, (t - 1) * hop, c)


def oscillator_bank(freq_env, amp_env, sample_rate=SAMPLE_RATE):
    amp_env = torch.where(freq_env >= sample_rate / 2.0, torch.zeros_like(amp_env), amp_env)
    omegas = freq_env * (2.0 * math.pi) / sample_rate
    phases = torch.cumsum(omegas, dim=1)
    return (amp_env * torch.sin(phases)).sum(-1)


def harmonic_synth(amps_raw, dist_raw, f0_hz, n_samples):
    amps = exp_sigmoid(amps_raw)
    dist = normalize_harmonics(exp_sigmoid(dist_raw), f0_hz)
    k = torch.arange(1, dist.shape[-1] + 1, dtype=dist.dtype)
    freq_env = resample_linear(f0_hz * k, n_samples)
    amp_env = upsample_with_windows(amps * dist, n_samples)
    return oscillator_bank(freq_env, amp_env)


def overlap_add(frames, hop):
    """[B, F, L] -> [B, (F-1)*hop + L]."""
    b, n_frames, length = frames.shape
    out = F.fold(
        frames.transpose(1, 2),
        output_size=(1, (n_frames - 1) * hop + length),
        kernel_size=(1, length),
        stride=(1, hop),
    )
    return out.reshape(b, -1)


def fft_convolve(audio, ir, delay_compensation=-1):
    """ddsp.core.fft_convolve(padding='same'): audio [B,N], ir [B,F,L] (one IR per block)."""
    batch, n = audio.shape
    n_frames, ir_size = ir.shape[1], ir.shape[2]
    hop = -(-n // n_frames)
    audio = F.pad(audio, (0, n_frames * hop - n))
    frames = audio.reshape(batch, n_frames, hop)
    fft_size = 1 << (hop + ir_size - 2).bit_length()
    spectrum = torch.fft.rfft(frames, fft_size) * torch.fft.rfft(ir, fft_size)
    out = overlap_add(torch.fft.irfft(spectrum, fft_size), hop)
    start = delay_compensation if delay_compensation >= 0 else (ir_size - 1) // 2 - 1
    return out[:, start : start + n]


def frequency_impulse_response(mags):
    """Zero-phase IR of the magnitudes, Hann-windowed at full length (window_size >= taps)."""
    ir = torch.fft.irfft(torch.complex(mags, torch.zeros_like(mags)))
    taps = ir.shape[-1]
    window = torch.roll(periodic_hann(taps), taps // 2)
    return torch.roll(ir * window, taps // 2, dims=-1)


def filtered_noise(mags_raw, noise):
    mags = exp_sigmoid(mags_raw - 5.0)
    # 65 bands -> 128 taps; ddsp's window_size=257 exceeds that, so the full window is used.
    return fft_convolve(noise, frequency_impulse_response(mags))


def reverb(audio, ir):
    ir = torch.cat([torch.zeros_like(ir[:1]), ir[1:]])[None, None, :].expand(audio.shape[0], 1, -1)
    return fft_convolve(audio, ir, delay_compensation=0) + audio


def magnitudes(audio, size):
    hop = size // 4
    n_frames = -(-audio.shape[-1] // hop)
    audio = F.pad(audio, (0, (n_frames - 1) * hop + size - audio.shape[-1]))
    frames = audio.unfold(-1, size, hop) * periodic_hann(size)
    return torch.fft.rfft(frames).abs()


def spectral_loss(target, audio):
    loss = 0.0
    for size in FFT_SIZES:
        mag_t, mag = magnitudes(target, size), magnitudes(audio, size)
        loss = loss + (mag_t - mag).abs().mean()
        loss = loss + (safe_log(mag_t) - safe_log(mag)).abs().mean()
    return loss


# -- workloads --------------------------------------------------------------------------------
def make_workloads(inputs: dict, fixed_noise: bool) -> dict:
    t = {k: torch.from_numpy(v) for k, v in inputs.items() if k != "config"}
    n = t["audio"].shape[1]
    f0, cot, target = t["f0_hz"], t["audio_cotangent"], t["target_audio"]

    def noise_source(like):
        if fixed_noise:
            return t["noise"]
        return torch.rand(like.shape[0], n) * 2.0 - 1.0

    def leaf(name):
        return t[name].clone().requires_grad_(True)

    def harmonic_fwd():
        with torch.no_grad():
            return {"audio": harmonic_synth(t["amplitudes"], t["harmonic_distribution"], f0, n)}

    def harmonic_fwd_bwd():
        amps, dist = leaf("amplitudes"), leaf("harmonic_distribution")
        audio = harmonic_synth(amps, dist, f0, n)
        audio.backward(cot)
        return {"audio": audio.detach(), "grad_amps": amps.grad, "grad_dist": dist.grad}

    def noise_fwd():
        with torch.no_grad():
            mags = t["noise_magnitudes"]
            return {"audio": filtered_noise(mags, noise_source(mags))}

    def spectral_loss_vg():
        audio = leaf("audio")
        loss = spectral_loss(target, audio)
        loss.backward()
        return {"loss": loss.detach(), "grad_audio": audio.grad}

    def full_step_vg():
        amps, dist = leaf("amplitudes"), leaf("harmonic_distribution")
        mags, ir = leaf("noise_magnitudes"), leaf("ir")
        dry = harmonic_synth(amps, dist, f0, n) + filtered_noise(mags, noise_source(mags))
        audio = reverb(dry, ir)
        loss = spectral_loss(target, audio)
        loss.backward()
        return {
            "audio": audio.detach(),
            "loss": loss.detach(),
            "grad_amps": amps.grad,
            "grad_dist": dist.grad,
            "grad_mags": mags.grad,
            "grad_ir": ir.grad,
        }

    return {
        "harmonic_fwd": harmonic_fwd,
        "harmonic_fwd_bwd": harmonic_fwd_bwd,
        "noise_fwd": noise_fwd,
        "spectral_loss_vg": spectral_loss_vg,
        "full_step_vg": full_step_vg,
    }


def rss_child(inputs_path: str, name: str) -> None:
    inputs = load_inputs(inputs_path)
    baseline = peak_rss_mb()
    fn = make_workloads(inputs, fixed_noise=False)[name]
    fn()
    fn()
    print(
        json.dumps(
            {
                "workload": name,
                "mode": "eager",
                "baseline_rss_mb": baseline,
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Time a PyTorch port on the standard workloads.")
    parser.add_argument("--inputs", default=os.path.join(DEFAULT_DIR, "inputs.npz"))
    parser.add_argument("--out-json", default=os.path.join(DEFAULT_DIR, "torch_results.json"))
    parser.add_argument("--out-npz", default=os.path.join(DEFAULT_DIR, "torch_outputs.npz"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workloads", nargs="*", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--rss-child", metavar="WORKLOAD", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.inputs, args.rss_child)
        return

    inputs = load_inputs(args.inputs)
    timed = make_workloads(inputs, fixed_noise=False)
    timings = {}
    for name in args.workloads:
        ms, all_ms = median_ms(timed[name], repeats=args.repeats)
        timings[name] = {"eager": {"median_ms": ms, "times_ms": all_ms}}
        print(f"torch {WORKLOADS[name]:60s} {ms:9.1f} ms", flush=True)
    fixed = make_workloads(inputs, fixed_noise=True)
    arrays = {f"{name}/{k}": v.numpy() for name in args.workloads for k, v in fixed[name]().items()}
    save_npz(args.out_npz, arrays)
    rss = {}
    if not args.skip_rss:
        rss["eager"] = rss_in_subprocess(
            os.path.abspath(__file__), ["--inputs", args.inputs, "--rss-child", "harmonic_fwd_bwd"]
        )
        print(f"peak RSS harmonic fwd+bwd: {rss['eager']}", flush=True)
    write_json(
        args.out_json,
        {
            "peer": "torch",
            "label": "PyTorch port",
            "versions": {"torch": torch.__version__, "numpy": np.__version__},
            "threads": {"intra_op": torch.get_num_threads()},
            "machine": machine_info(),
            "inputs": os.path.abspath(args.inputs),
            "repeats": args.repeats,
            "modes": ["eager"],
            "timings": timings,
            "peak_rss_harmonic_fwd_bwd": rss,
            "outputs_npz": os.path.abspath(args.out_npz),
        },
    )
    print(f"wrote {args.out_json} and {args.out_npz}")


if __name__ == "__main__":
    main()
