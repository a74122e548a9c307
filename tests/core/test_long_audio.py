"""Long audio: block-wise fft_convolve (one IR) and chunked filtering equal the one-shot
computation, forward and gradient; 10 minutes of 48 kHz audio filter in bounded memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
from hypothesis import given
from hypothesis import strategies as st

import ddsp_ref
from ddsp_ref import core
from ddsp_ref.autodiff import ops
from ddsp_ref.core import convolution

ROOT = Path(__file__).resolve().parents[2]
NEVER = 1 << 60  # a block FFT / chunk size no input reaches: the one-shot computation


def reference_convolve(audio, ir, padding, delay_compensation):
    """fft_convolve with one IR, from scipy's exact convolution (zeros past its end)."""
    ir_size = ir.shape[-1]
    full = np.stack([scipy.signal.fftconvolve(a, ir[i % ir.shape[0]]) for i, a in
                     enumerate(audio)])  # fmt: skip
    start = (ir_size - 1) // 2 - 1 if delay_compensation < 0 else delay_compensation
    length = audio.shape[-1] + (ir_size - 1 if padding == "valid" else 0)
    out = np.zeros((audio.shape[0], length))
    piece = full[:, start : start + length]
    out[:, : piece.shape[1]] = piece
    return out


def convolve(audio, ir, padding="same", delay_compensation=-1, *, block_fft_min, chunk,
             record=None):  # fmt: skip
    """fft_convolve with the long-audio parameters set; ``record`` collects the FFT sizes."""
    original = convolution._overlap_add_convolve

    def spy(audio, ir_fft_of, n_frames, frame_size, fft_size, traced):
        record.append(fft_size)
        return original(audio, ir_fft_of, n_frames, frame_size, fft_size, traced)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(convolution, "_MIN_LONG_BLOCK_FFT", block_fft_min)
        mp.setattr(convolution, "_CHUNK_ELEMENTS", chunk)
        if record is not None:
            mp.setattr(convolution, "_overlap_add_convolve", spy)
        return core.fft_convolve(audio, ir, padding, delay_compensation)


@st.composite
def long_case(draw):
    batch = draw(st.integers(1, 2))
    ir_batch = draw(st.sampled_from([1, batch]))
    ir_size = draw(st.integers(3, 40))
    n = draw(st.integers(300, 2500))
    padding = draw(st.sampled_from(["same", "valid"]))
    delay = draw(st.sampled_from([-1, 0]) | st.integers(1, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    audio = rng.standard_normal((batch, n))
    ir = rng.standard_normal((ir_batch, ir_size))
    return audio, ir, padding, delay


@given(long_case(), st.sampled_from([64, 1 << 12]))
def test_block_wise_convolution_equals_one_fft(case, chunk):
    audio, ir, padding, delay = case
    sizes = []
    blocks = convolve(audio, ir, padding, delay, block_fft_min=16, chunk=chunk, record=sizes)
    one_fft = convolve(audio, ir, padding, delay, block_fft_min=NEVER, chunk=NEVER)
    expected = reference_convolve(audio, ir, padding, delay)
    block_fft = max(16, 1 << (4 * ir.shape[-1] - 1).bit_length())
    if sizes == [block_fft]:  # the block path ran (ddsp's slice quirks keep the one FFT)
        assert blocks.shape == expected.shape
        np.testing.assert_allclose(blocks, expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(blocks, one_fft, rtol=1e-9, atol=1e-9)


def test_block_path_is_taken_for_long_audio_only():
    rng = np.random.default_rng(0)
    ir = rng.standard_normal((1, 20))
    for n, fft_sizes in ((100, [128]), (300, [512]), (2000, [256])):  # blocks: 4 * 20 -> 256
        sizes = []
        convolve(rng.standard_normal((1, n)), ir, block_fft_min=256, chunk=NEVER, record=sizes)
        assert sizes == fft_sizes
    # Defaults: ddsp's single FFT for 4 s + a 3 s reverb, blocks of 2^18 for 40 s.
    assert convolution._long_block_fft(48000) == 1 << 18
    sizes = []
    original = convolution._overlap_add_convolve
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(convolution, "_overlap_add_convolve",
                   lambda *a: sizes.append(a[4]) or original(*a))  # fmt: skip
        for n in (64000, 640000):
            core.fft_convolve(np.zeros((1, n), np.float32), np.zeros((1, 48000), np.float32))
    assert sizes == [1 << 17, 1 << 18]


def test_block_wise_gradients_equal_one_fft():
    rng = np.random.default_rng(1)
    audio, ir = rng.standard_normal((2, 1500)), rng.standard_normal((2, 25))
    cot = rng.standard_normal((2, 1500))

    def loss(block_fft_min, cot=cot):
        def fun(a, h):
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(convolution, "_MIN_LONG_BLOCK_FFT", block_fft_min)
                return ops.sum(core.fft_convolve(a, h, "same", 0) * cot)

        return fun

    value_b, grads_b = ddsp_ref.value_and_grad(loss(16), argnums=(0, 1))(audio, ir)
    value_1, grads_1 = ddsp_ref.value_and_grad(loss(NEVER), argnums=(0, 1))(audio, ir)
    np.testing.assert_allclose(value_b, value_1, rtol=1e-10)
    for gb, g1 in zip(grads_b, grads_1, strict=True):
        np.testing.assert_allclose(gb, g1, rtol=1e-9, atol=1e-9)
    ddsp_ref.check_grads(loss(16, cot[:, :600]), audio[:, :600], ir[:, :12])


def test_chunked_time_varying_filters_equal_one_shot():
    rng = np.random.default_rng(2)
    audio = rng.standard_normal((2, 4000)).astype(np.float32)
    ir = rng.standard_normal((1, 100, 30)).astype(np.float32)
    mags = rng.random((2, 100, 33)).astype(np.float32)
    for padding in ("same", "valid"):
        chunked = convolve(audio, ir, padding, block_fft_min=NEVER, chunk=256)
        one_shot = convolve(audio, ir, padding, block_fft_min=NEVER, chunk=NEVER)
        np.testing.assert_allclose(chunked, one_shot, rtol=1e-5, atol=1e-5)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(convolution, "_CHUNK_ELEMENTS", 300)  # a few frames per chunk
            chunked = core.frequency_filter(audio, mags, window_size=0, padding=padding)
        one_shot = core.fft_convolve(audio, core.frequency_impulse_response(mags), padding)
        np.testing.assert_allclose(chunked, one_shot, rtol=1e-5, atol=1e-5)


# FilteredNoise's filter (65 bands, 250 frames / s, full IR) then a 3 s Reverb. The noise is
# drawn in float32 here: the processor's own noise draw is not part of what is measured.
_MEMORY_SCRIPT = """
import json, numpy as np
from ddsp_ref import core, effects
n = 48000 * 600  # 10 minutes at 48 kHz
rng = np.random.default_rng(0)
noise = rng.random((1, n), dtype=np.float32)
noise *= 2.0
noise -= 1.0
magnitudes = rng.random((1, n // 192, 65), dtype=np.float32)
ir = rng.standard_normal((1, 48000), dtype=np.float32) * 1e-2
filtered = core.frequency_filter(noise, magnitudes, window_size=0)
del noise
out = effects.Reverb()(filtered, ir)
print(json.dumps({"shape": list(out.shape), "finite": bool(np.isfinite(out).all()),
                  "peak_mb": [int(l.split()[1]) / 1024 for l in open("/proc/self/status")
                              if l.startswith("VmHWM:")][0]}))
"""


def test_ten_minutes_at_48khz_in_bounded_memory():
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(_MEMORY_SCRIPT)],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["shape"] == [1, 48000 * 600] and report["finite"]
    assert report["peak_mb"] < 1024, f"peak RSS {report['peak_mb']:.0f} MB"
