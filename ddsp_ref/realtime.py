"""Real-time timbre transfer: a trained solo_instrument-style Autoencoder run block by block.

``StreamingTransfer`` takes 16 kHz audio in blocks of a whole number of hops (4 ms at 250
frames per second) and returns blocks of the same length, delayed by a fixed latency. Carried
between blocks: the feature extraction's input (f0 and loudness frames are centred, so a frame
needs half a frame of lookahead), the GRU state (the decoder runs as its stateless twin with
the same parameters), the oscillator phase (:class:`~ddsp_ref.streaming.HarmonicStream`), the
noise filters' overlap-add tail and noise sequence
(:class:`~ddsp_ref.streaming.FilteredNoiseStream`) and the reverb tail
(:class:`~ddsp_ref.streaming.ReverbStream`). After ``flush()``, the blocks, less the first
``latency_samples``, equal the one-shot ``model(features, training=False)`` on the features
computed over the whole signal, to float rounding. See docs/realtime.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import core, processors, synths
from .effects import Reverb
from .spectral_ops import compute_f0, compute_loudness
from .spectral_ops.pitch import _frame_size
from .streaming import FilteredNoiseStream, HarmonicStream, ReverbStream
from .training.decoders import RnnFcDecoder
from .training.preprocessing import F0LoudnessPreprocessor, scale_db, scale_f0_hz
from .validation import finite_number, positive_number

__all__ = ["FeatureStream", "StreamingTransfer", "quantile_loudness_map", "stream_file"]

_LOUDNESS_N_FFT = 512  # compute_loudness's default frame, as the preprocessor uses it


class FeatureStream:
    """f0 (pYIN, ``viterbi=False``), confidence and loudness [dB] frame by frame.

    One-shot, with 'center' padding, frame t of each feature is centred on sample ``t * hop``
    of the zero-padded signal (f0: 1024 samples, loudness: 512). Here the input is kept from
    the first sample any future frame reads; a frame is computed (by the same functions, with
    'valid' padding on exactly its samples) once ``lookahead = max(frame) // 2`` samples past
    its centre have arrived; ``flush()`` appends the end padding and computes the remaining
    frames up to ``ceil(n_samples / hop)``, the frames of the signal padded to whole hops.

    Args:
        sample_rate: of the input [Hz]; frame_rate: frames per second [Hz].
        dtype: float32 or float64, the dtype the input is cast to (as a one-shot would be).
    """

    def __init__(self, sample_rate: int = 16000, frame_rate: int = 250, dtype: Any = np.float32):
        self.sample_rate, self.frame_rate = int(sample_rate), int(frame_rate)
        self.hop = self.sample_rate // self.frame_rate
        self.dtype = np.dtype(dtype)
        self._half_f0 = _frame_size(self.sample_rate) // 2
        self._half_ld = _LOUDNESS_N_FFT // 2
        self.lookahead = max(self._half_f0, self._half_ld)
        self.reset()

    def reset(self) -> None:
        """Start a new signal."""
        # Buffer in padded coordinates: padded index = sample index + lookahead.
        self._buffer = np.zeros(self.lookahead, self.dtype)
        self._first = 0  # padded index of _buffer[0]
        self._n_in = 0  # samples received
        self._next = 0  # next frame to compute

    def process(self, audio: Any) -> dict:
        """Append ``audio`` [n] and return the frames now complete (``f0_hz``,
        ``f0_confidence``, ``loudness_db``, each [n_new_frames])."""
        audio = np.asarray(audio, self.dtype).reshape(-1)
        self._buffer = np.concatenate([self._buffer, audio])
        self._n_in += audio.size
        ready = (self._n_in - self.lookahead) // self.hop + 1 if self._n_in >= self.lookahead else 0
        return self._frames(ready)

    def flush(self) -> dict:
        """The remaining frames of the signal (zero-padded to whole hops, then centre-padded);
        then a reset."""
        n_frames = -(-self._n_in // self.hop)
        end = n_frames * self.hop - self._n_in + self.lookahead
        self._buffer = np.concatenate([self._buffer, np.zeros(end, self.dtype)])
        out = self._frames(n_frames)
        self.reset()
        return out

    def _frames(self, stop: int) -> dict:
        """Frames ``_next .. stop - 1`` from the buffer; drops what no later frame reads."""
        t0, hop, la = self._next, self.hop, self.lookahead
        if stop <= t0:
            empty = np.zeros(0, np.float32)
            return {"f0_hz": empty, "f0_confidence": empty, "loudness_db": empty.astype(self.dtype)}

        def segment(half: int) -> np.ndarray:
            lo = t0 * hop + la - half - self._first
            return self._buffer[lo : lo + (stop - 1 - t0) * hop + 2 * half]

        f0_hz, confidence = compute_f0(segment(self._half_f0), self.frame_rate, False, "valid",
                                       sample_rate=self.sample_rate)  # fmt: skip
        loudness = compute_loudness(segment(self._half_ld), self.sample_rate, self.frame_rate,
                                    n_fft=_LOUDNESS_N_FFT, padding="valid")  # fmt: skip
        self._next = stop
        keep = stop * hop - self._first  # frame `stop` reads from padded index stop * hop on
        self._buffer, self._first = self._buffer[keep:], self._first + keep
        return {"f0_hz": f0_hz, "f0_confidence": confidence, "loudness_db": loudness}


class StreamingTransfer:
    """Timbre transfer block by block with a fixed latency.

    Supported models: ``F0LoudnessPreprocessor`` -> ``RnnFcDecoder`` (GRU or LSTM, inputs
    ``f0_scaled`` / ``ld_scaled``, no encoder) -> a ProcessorGroup of ``Harmonic`` ('linear' or
    'window' amplitude crossfade), optionally ``FilteredNoise`` + ``Add``, optionally a
    ``Reverb`` (trainable, or with ``reverb_ir``) at the end: ddsp's solo_instrument and
    tiny_instrument. The model's parameters are read when the stream is built.

    Per-frame feature changes (applied to every frame as it is computed): ``pitch_shift``
    (octaves: f0 times 2**shift), ``loudness_shift`` (dB added) and ``loudness_map`` (any
    per-frame function of loudness [dB], e.g. a quantile mapping fitted offline on a
    calibration take). What needs the whole file (automatic octave choice, quantile fit,
    note-based quieting, auto-tune) is not done: see docs/realtime.md.

    Args:
        model: the trained Autoencoder (16 kHz, 250 frames per second).
        block_ms: block length [ms]; must be a whole number of hops (4 ms).
        pitch_shift: octaves; loudness_shift: dB.
        loudness_map: None or a function [n] -> [n] of loudness frames [dB].
        dtype: float32 (the model's) or float64.
        reverb_ir: the IR [ir_size] of a non-trainable Reverb.

    Attributes:
        hop, block_size, latency_samples: [samples]; ``latency_samples`` is the delay of the
            output behind the input beyond the block itself (feature lookahead, rounded up to
            whole hops, plus any noise-filter delay past one hop).
    """

    def __init__(self, model: Any, block_ms: float = 32.0, pitch_shift: float = 0.0,
                 loudness_shift: float = 0.0, loudness_map: Any = None, dtype: Any = np.float32,
                 reverb_ir: Any = None):  # fmt: skip
        where = "StreamingTransfer"
        pre = model.preprocessor
        if not isinstance(pre, F0LoudnessPreprocessor) or model.encoder is not None:
            raise TypeError(f"{where}: needs an F0LoudnessPreprocessor and no encoder")
        self.pitch_shift = finite_number(pitch_shift, "pitch_shift", where)
        self.loudness_shift = finite_number(loudness_shift, "loudness_shift", where)
        self.loudness_map = loudness_map
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"{where}: dtype must be float32 or float64, got {self.dtype}")
        self.sample_rate, self.hop = pre.sample_rate, pre.sample_rate // pre.frame_rate
        self.block_size = _block_size(block_ms, self.sample_rate, self.hop)
        self._decoder = stateless_decoder(model.decoder)
        self._parts = _solo_parts(model.processor_group)
        self._features = FeatureStream(self.sample_rate, pre.frame_rate, self.dtype)
        self._harmonic = HarmonicStream(self._parts["harmonic"][0], self.hop)
        noise = self._parts.get("noise")
        self._noise = None if noise is None else FilteredNoiseStream(noise[0], self.hop)
        reverb = self._parts.get("reverb")
        self._reverb = None if reverb is None else ReverbStream(reverb[0], reverb_ir)
        self.latency_samples = self._latency()
        self.reset()

    def _latency(self) -> int:
        """Feature lookahead in whole hops; the noise output lags the frames by its delay
        compensation ``start``, which costs extra samples only past one hop."""
        hop = self.hop
        latency = -(-self._features.lookahead // hop) * hop
        if self._noise is not None:
            n_bands = dict(self._decoder.output_splits)[self._parts["noise"][1][0]]
            window = self._parts["noise"][0].window_size
            ir = core.frequency_impulse_response(np.zeros((1, 1, n_bands), self.dtype), window)
            latency += max(0, (ir.shape[-1] - 1) // 2 - 1 - hop)
        return latency

    def reset(self) -> None:
        """Start a new signal: every carried buffer, the GRU state and the noise sequence."""
        for stream in (self._features, self._harmonic, self._noise, self._reverb):
            if stream is not None:
                stream.reset()
        self._state = _zero_state(self._decoder.rnn, self.dtype)
        self._pending = {"harmonic": np.zeros((1, 0), self.dtype)}
        if self._noise is not None:
            self._pending["noise"] = np.zeros((1, 0), self.dtype)
        self._dry = np.zeros((1, self.latency_samples), self.dtype)  # the latency, then audio
        self._n_in = 0

    def process(self, block: Any) -> np.ndarray:
        """Audio ``[n]`` (16 kHz, n a multiple of the hop, usually ``block_size``) in, the
        same number of output samples out (the first ``latency_samples`` of a signal are 0)."""
        block = np.asarray(block, self.dtype).reshape(-1)
        if not np.all(np.isfinite(block)):  # checked before any state changes
            raise ValueError("StreamingTransfer.process: the block has NaN or infinite samples")
        if block.size % self.hop:
            raise ValueError(
                f"StreamingTransfer.process: a block must be a whole number of hops "
                f"({self.hop} samples), got {block.size} samples"
            )
        self._render(self._features.process(block))
        self._n_in += block.size
        return self._emit(block.size)

    def flush(self) -> np.ndarray:
        """End the signal: the last ``latency_samples`` of output (the final frames, the last
        frame held for one hop as one-shot); then :meth:`reset`."""
        if self._n_in == 0:
            self.reset()
            return np.zeros(0, self.dtype)
        self._render(self._features.flush())
        self._pending["harmonic"] = _cat(self._pending["harmonic"], self._harmonic.flush())
        if self._noise is not None:
            self._pending["noise"] = _cat(self._pending["noise"], self._noise.flush())
        self._mix()
        out = self._emit(self._dry.shape[1])
        self.reset()
        return out

    def _render(self, features: dict) -> None:
        """Decode new frames and synthesise them as far as each synth can."""
        if features["f0_hz"].size == 0:
            return
        x = self._decode(features)
        audio = self._harmonic.process(*[x[k] for k in self._parts["harmonic"][1]])
        self._pending["harmonic"] = _cat(self._pending["harmonic"], audio)
        if self._noise is not None:
            audio = self._noise.process(*[x[k] for k in self._parts["noise"][1]])
            self._pending["noise"] = _cat(self._pending["noise"], audio)
        self._mix()

    def _decode(self, features: dict) -> dict:
        """The preprocessor's outputs for the new frames, then the stateless decoder."""
        f0_hz = np.asarray(features["f0_hz"], np.float64) * 2.0**self.pitch_shift
        loudness = np.asarray(features["loudness_db"], np.float64) + self.loudness_shift
        if self.loudness_map is not None:
            loudness = np.asarray(self.loudness_map(loudness), np.float64)
        f0_hz = f0_hz.astype(np.float32).astype(self.dtype)[None, :, None]
        loudness = loudness.astype(np.float32).astype(self.dtype)[None, :, None]
        x = {"f0_hz": f0_hz, "loudness_db": loudness, "f0_scaled": scale_f0_hz(f0_hz),
             "ld_scaled": scale_db(loudness), "state": self._state}  # fmt: skip
        x.update(self._decoder(x))
        self._state = x["state"]
        return x

    def _mix(self) -> None:
        """Move the samples every synth has rendered, summed, to the dry output."""
        n = min(a.shape[1] for a in self._pending.values())
        dry = sum(a[:, :n] for a in self._pending.values())
        self._pending = {k: a[:, n:] for k, a in self._pending.items()}
        self._dry = _cat(self._dry, dry)

    def _emit(self, n: int) -> np.ndarray:
        if self._dry.shape[1] < n:  # the latency guarantees this never happens
            raise RuntimeError(f"StreamingTransfer: {self._dry.shape[1]} samples ready, {n} needed")
        out, self._dry = self._dry[:, :n], self._dry[:, n:]
        if self._reverb is not None:
            out = self._reverb.process(out)
        return np.asarray(out[0], self.dtype)


def stream_file(audio: Any, sample_rate: int, model: Any, block_ms: float = 32.0,
                **kwargs: Any) -> np.ndarray:  # fmt: skip
    """Run :class:`StreamingTransfer` over a whole recording and join the blocks.

    The audio is resampled to 16 kHz (as ``timbre_transfer``), zero-padded to whole hops (the
    one-shot's padding) and fed in blocks of ``block_ms``; the output, less the latency, is
    trimmed to the input's duration.

    Args:
        audio: [n_samples] mono; sample_rate: its rate [Hz]; model: see StreamingTransfer;
        block_ms: block length [ms]; kwargs: StreamingTransfer's other arguments.

    Returns:
        Audio [round(n_samples * 16000 / sample_rate)] at 16 kHz.
    """
    audio = np.asarray(audio)
    if audio.ndim != 1 or audio.size == 0:
        raise ValueError(f"stream_file: audio must be [n_samples] mono, got {audio.shape}")
    stream = StreamingTransfer(model, block_ms=block_ms, **kwargs)
    if int(sample_rate) != stream.sample_rate:
        from .training.data_preparation.audio import resample

        audio = resample(audio.astype(np.float64), int(sample_rate), stream.sample_rate)
    n_out, hop, size = audio.shape[0], stream.hop, stream.block_size
    audio = np.pad(audio, (0, -(-n_out // hop) * hop - n_out))
    pieces = [stream.process(audio[i : i + size]) for i in range(0, audio.size, size)]
    out = np.concatenate(pieces + [stream.flush()])
    return out[stream.latency_samples : stream.latency_samples + n_out]


def quantile_loudness_map(calibration: dict, quantile_transform: Any) -> Any:
    """A fixed per-frame loudness mapping onto the dataset's loudness distribution.

    The offline recipe fits the input's own loudness quantiles over its note frames
    (``postprocessing.fit_quantile_transform``), which needs the whole file. Here they are
    fitted once on a calibration take (the same player and microphone), and the returned map
    sends every frame's loudness through that fit and the dataset's inverse transform.

    Args:
        calibration: features of the calibration take: ``loudness_db``, ``f0_confidence``,
            each [n_frames] (as ``FeatureStream`` or ``offline`` gives them).
        quantile_transform: the dataset's ``QuantileTransformer`` (``statistics[
            'quantile_transform']``).

    Returns:
        ``loudness_map`` for :class:`StreamingTransfer`: loudness [n] dB -> [n] dB.
    """
    from .training.postprocessing import detect_notes, fit_quantile_transform

    loudness = np.asarray(calibration["loudness_db"], np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):  # a silent take: 0 / 0, no notes
        mask_on, _ = detect_notes(loudness, calibration["f0_confidence"])
    if not mask_on.any():
        raise ValueError("quantile_loudness_map: the calibration take has no note frames")
    fitted = fit_quantile_transform(loudness, mask_on)

    def loudness_map(loudness_db: np.ndarray) -> np.ndarray:
        frames = np.asarray(loudness_db, np.float64).reshape(-1, 1)
        return quantile_transform.inverse_transform(fitted.transform(frames))[:, 0]

    return loudness_map


def stateless_decoder(decoder: Any) -> RnnFcDecoder:
    """The ``stateless=True`` twin of a trained ``RnnFcDecoder``: same parameter tree (checked),
    parameters copied; it takes a ``state`` and returns the new one."""
    if not isinstance(decoder, RnnFcDecoder):
        raise TypeError(f"stateless_decoder: needs an RnnFcDecoder, got {type(decoder).__name__}")
    if decoder.stateless:
        return decoder
    keys = list(decoder.input_keys)
    if not set(keys) <= {"f0_scaled", "ld_scaled"}:
        raise ValueError(f"stateless_decoder: inputs must be f0_scaled / ld_scaled, got {keys}")
    out_layers = decoder.out_stack.layers
    twin = RnnFcDecoder(
        rnn_channels=decoder.rnn.dims, rnn_type=decoder.rnn.rnn_type,
        ch=out_layers[0].dense.units if out_layers else 1, layers_per_stack=len(out_layers),
        stateless=True, input_keys=keys, output_splits=decoder.output_splits, name=decoder.name,
    )  # fmt: skip
    dummy = {k: np.zeros((1, 1, 1), np.float32) for k in keys}
    if not decoder.parameters().get("rnn"):  # not built yet: build as its first call would
        decoder(dummy)
    twin(dummy | {"state": _zero_state(twin.rnn, np.float32)})
    params = decoder.parameters()
    if _tree_layout(twin.parameters()) != _tree_layout(params):
        raise ValueError("stateless_decoder: the stateless decoder's parameters differ in layout")
    # C-contiguous copies: the fused RNN op would otherwise copy a transposed initialiser
    # output (the recurrent kernel) on every block.
    twin.set_parameters(_tree_map(np.ascontiguousarray, params))
    return twin


def _tree_layout(tree: Any) -> Any:
    return _tree_map(lambda x: tuple(np.shape(x)), tree)


def _tree_map(fun: Any, tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: _tree_map(fun, v) for k, v in tree.items()}
    return fun(tree)


def _zero_state(rnn: Any, dtype: Any) -> Any:
    zeros = np.zeros((1, rnn.dims), dtype)
    return zeros if rnn.rnn_type == "gru" else (zeros, zeros.copy())


def _solo_parts(group: Any) -> dict:
    """``{'harmonic': (processor, input keys), 'noise': ..., 'reverb': ...}`` of a
    solo_instrument-shaped ProcessorGroup; anything else raises."""
    parts, names = {}, {}
    kinds = ((synths.Harmonic, "harmonic"), (synths.FilteredNoise, "noise"),
             (processors.Add, "add"), (Reverb, "reverb"))  # fmt: skip
    for name, inputs, _ in group.dag:
        module = group._modules[name]
        kind = next((k for cls, k in kinds if type(module) is cls), None)
        if kind is None or kind in parts:
            raise ValueError(
                f"StreamingTransfer: unsupported processor {name!r} ({type(module).__name__}); "
                "supported: Harmonic, FilteredNoise, Add, Reverb, each at most once"
            )
        parts[kind], names[kind] = (module, list(inputs)), name
    dry = {f"{names[k]}/signal" for k in ("harmonic", "noise") if k in names}
    if "harmonic" not in parts or ("noise" in parts) != ("add" in parts):
        raise ValueError("StreamingTransfer: needs a Harmonic, and an Add with FilteredNoise")
    if "add" in parts and set(parts["add"][1]) != dry:
        raise ValueError(f"StreamingTransfer: the Add must sum {sorted(dry)}")
    last = names["add"] if "add" in parts else names["harmonic"]
    if "reverb" in parts and parts["reverb"][1][:1] != [f"{last}/signal"]:
        raise ValueError(f"StreamingTransfer: the Reverb must read {last}/signal")
    if group.dag[-1][0] != names.get("reverb", last):
        raise ValueError("StreamingTransfer: the group's output must be the (reverberated) mix")
    return parts


def _block_size(block_ms: float, sample_rate: int, hop: int) -> int:
    samples = positive_number(block_ms, "block_ms", "StreamingTransfer") * sample_rate / 1000.0
    size = int(round(samples))
    if abs(samples - size) > 1e-6 or size % hop:
        raise ValueError(
            f"StreamingTransfer: block_ms must be a whole number of hops ({hop} samples = "
            f"{1000.0 * hop / sample_rate} ms), got {block_ms} ms = {samples} samples"
        )
    return size


def _cat(a: np.ndarray, b: Any) -> np.ndarray:
    return np.concatenate([a, np.asarray(b, a.dtype)], axis=1)
