"""A valid call of every public DSP callable, with what each argument is.

The bad-input sweep (tests/test_bad_input_sweep.py) makes each call once as written (it must
return finite arrays), then mutates one argument at a time according to its kind and expects a
ValueError or TypeError naming the argument. Shapes are tiny: B = 2 rows, F = 4 frames,
N = 64 samples (hop 16), H = 3 harmonics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

_rng = np.random.default_rng(11)
B, F, N, H = 2, 4, 64, 3


@dataclass
class Arg:
    """One argument: its valid value and its kind.

    kind: 'array' (real float array), 'size' (positive int), 'count' (non-negative int),
    'integer' (any int), 'rate'
    (positive finite number), 'number' (finite number), 'choice' (one of ``options``), 'fixed'
    (not mutated). For arrays, ``rank`` (the only rank accepted, when the function documents
    one), ``batch`` (axis 0 is the batch, shared with the call's other batch arrays) and
    ``time`` (an axis that may be emptied: zero frames must give a clear error, not IndexError).
    """

    value: Any
    kind: str = "array"
    rank: int | None = None
    batch: bool = False
    time: int | None = None
    options: tuple = ()
    names: tuple = ()  # other words an error message may use for this argument
    complex_ok: bool = False  # complex input is valid (STFT frames)


def A(value, rank=None, batch=False, time=None, names=(), complex_ok=False):  # noqa: N802
    return Arg(np.asarray(value), "array", rank, batch, time, names=names, complex_ok=complex_ok)


def size(v):
    return Arg(v, "size")


def count(v):
    return Arg(v, "count")


def rate(v):
    return Arg(v, "rate")


def number(v):
    return Arg(v, "number")


def choice(v, *options, names=()):
    return Arg(v, "choice", options=options, names=names)


def integer(v):
    """Any integer (ddsp's window sizes: <= 0 means the whole impulse response)."""
    return Arg(v, "integer")


def fixed(v):
    return Arg(v, "fixed")


@dataclass
class Spec:
    """``target`` is 'module.name'. Functions get ``args`` (the first ``n_pos`` positionally, in
    the order written, the rest as keywords). Classes get ``init`` keywords, then are called with
    ``args`` positionally (in the order of their ``get_controls``)."""

    target: str
    args: dict[str, Arg]
    init: dict[str, Arg] = field(default_factory=dict)
    n_pos: int = 1
    label: str = ""

    @property
    def id(self) -> str:
        return self.target + (f"[{self.label}]" if self.label else "")


def u(lo, hi, *shape):
    return _rng.uniform(lo, hi, shape)


def n(*shape):
    return _rng.standard_normal(shape)


AUDIO = n(B, N)
F0_FRAMES = u(100, 400, B, F, 1)
AMPS_FRAMES = u(0.1, 1.0, B, F, 1)
DIST_FRAMES = u(0.1, 1.0, B, F, H)
F0_SAMPLES = u(100, 400, B, N, 1)


def _elementwise(name, arg, value, **extra):
    return Spec(f"core.{name}", {arg: A(value), **extra})


SPECS: list[Spec] = [
    # -- core: units and scaling (elementwise: any shape) -------------------------------------
    _elementwise("midi_to_hz", "notes", u(0, 127, B, F)),
    _elementwise("hz_to_midi", "frequencies", u(20, 8000, B, F)),
    _elementwise("hz_to_bark", "hz", u(20, 8000, B, F)),
    _elementwise("bark_to_hz", "bark", u(0, 20, B, F)),
    _elementwise("hz_to_mel", "hz", u(20, 8000, B, F)),
    _elementwise("mel_to_hz", "mel", u(0, 2000, B, F)),
    _elementwise("hz_to_erb", "hz", u(20, 8000, B, F)),
    _elementwise("db_to_amplitude", "db", u(-80, 0, B, F)),
    _elementwise("db_to_power", "db", u(-80, 0, B, F)),
    _elementwise("amplitude_to_db", "amplitude", u(0, 1, B, F), range_db=number(80.0)),
    _elementwise("power_to_db", "power", u(0, 1, B, F), range_db=number(80.0)),
    _elementwise("exp_sigmoid", "x", n(B, F), exponent=number(10.0), max_value=number(2.0)),
    _elementwise("sym_exp_sigmoid", "x", n(B, F), width=number(8.0)),
    _elementwise("safe_log", "x", u(0, 1, B, F)),
    _elementwise("log10", "x", u(0, 1, B, F)),
    _elementwise("logb", "x", u(0, 1, B, F), base=number(2.0)),
    _elementwise("sinc", "x", n(B, F)),
    _elementwise("soft_limit", "x", n(B, F), x_min=number(0.0), x_max=number(1.0)),
    _elementwise("gradient_reversal", "x", n(B, F)),
    _elementwise("nan_to_num", "x", n(B, F)),
    Spec("core.hz_to_unit", {"hz": A(u(20, 8000, B, F)), "hz_min": number(20.0),
                             "hz_max": number(8000.0)}),
    Spec("core.unit_to_hz", {"unit": A(u(0, 1, B, F)), "hz_min": number(20.0),
                             "hz_max": number(8000.0)}),
    Spec("core.midi_to_unit", {"midi": A(u(20, 90, B, F))}),
    Spec("core.unit_to_midi", {"unit": A(u(0, 1, B, F))}),
    Spec("core.log_scale", {"x": A(u(0, 1, B, F)), "min_x": rate(0.5), "max_x": rate(2.0)}),
    Spec("core.safe_divide", {"numerator": A(n(B, F)), "denominator": A(u(0.5, 1, B, F))}),
    Spec("core.frequencies_softmax", {"freqs": A(n(B, F, 6)), "depth": size(3)}),
    Spec("core.frequencies_sigmoid", {"freqs": A(n(B, F, 6)), "depth": size(3)}),
    Spec("core.frequencies_critical_bands", {"freqs": A(n(B, F, 6)), "depth": size(3)}),
    Spec("core.diff", {"x": A(n(B, F))}),
    Spec("core.angular_cumsum", {"angular_frequency": A(u(0, 1, B, N, 1), time=1),
                                 "chunk_size": size(16)}),
    # -- core: resampling ----------------------------------------------------------------------
    Spec("core.resample", {"inputs": A(n(B, F, 2), time=1), "n_timesteps": size(N),
                           "method": choice("linear", "nearest", "linear", "cubic", "window")}),
    Spec("core.resample", {"inputs": A(n(B, F, 2), time=1), "n_timesteps": size(N),
                           "method": choice("cubic", "nearest", "linear", "cubic", "window")},
         label="cubic"),
    Spec("core.upsample_with_windows", {"inputs": A(n(B, F, 2), rank=3, time=1),
                                        "n_timesteps": size(N)}),
    # -- core: oscillators ---------------------------------------------------------------------
    Spec("core.remove_above_nyquist", {"frequency_envelopes": A(u(100, 9000, B, N, H)),
                                       "amplitude_envelopes": A(u(0, 1, B, N, H)),
                                       "sample_rate": rate(16000)}),
    Spec("core.normalize_harmonics", {"harmonic_distribution": A(DIST_FRAMES),
                                      "f0_hz": A(F0_FRAMES, rank=3), "sample_rate": rate(16000)}),
    Spec("core.oscillator_bank", {"frequency_envelopes": A(u(100, 400, B, N, H), rank=3,
                                                           batch=True, time=1),
                                  "amplitude_envelopes": A(u(0, 1, B, N, H), rank=3, batch=True,
                                                           time=1),
                                  "sample_rate": rate(16000)}),
    Spec("core.harmonic_oscillator_bank", {"frequency": A(F0_SAMPLES, rank=3, batch=True, time=1),
                                           "amplitude_envelopes": A(u(0, 1, B, N, H), rank=3,
                                                                    batch=True, time=1),
                                           "sample_rate": rate(16000)}),
    Spec("core.get_harmonic_frequencies", {"frequencies": A(F0_FRAMES), "n_harmonics": size(H)}),
    Spec("core.harmonic_synthesis", {"frequencies": A(F0_FRAMES, rank=3, batch=True, time=1),
                                     "amplitudes": A(AMPS_FRAMES, rank=3, batch=True, time=1),
                                     "harmonic_distribution": A(DIST_FRAMES, rank=3, batch=True,
                                                                time=1),
                                     "n_samples": size(N), "sample_rate": rate(16000),
                                     "amp_resample_method": choice("window", "window", "linear",
                                                                   "cubic", "nearest")},
         n_pos=2),
    Spec("core.streaming_harmonic_synthesis",
         {"frequencies": A(F0_FRAMES, rank=3, batch=True, time=1),
          "amplitudes": A(AMPS_FRAMES, rank=3, batch=True, time=1),
          "harmonic_distribution": A(DIST_FRAMES, rank=3, batch=True, time=1),
          "n_samples": size(N), "sample_rate": rate(16000)}, n_pos=2),
    Spec("core.wavetable_synthesis", {"frequencies": A(F0_FRAMES, rank=3, batch=True, time=1),
                                      "amplitudes": A(AMPS_FRAMES, rank=3, batch=True, time=1),
                                      "wavetables": A(n(B, 1, 16), batch=True),
                                      "n_samples": size(N), "sample_rate": rate(16000)}),
    Spec("core.linear_lookup", {"phase": A(u(0, 1, B, N, 1), rank=3, batch=True),
                                "wavetables": A(n(B, N, 16), rank=3, batch=True)}),
    Spec("core.harmonic_distribution_to_wavetable", {"harmonic_distribution": A(DIST_FRAMES),
                                                     "n_wavetable": size(16)}),
    Spec("core.variable_length_delay", {"phase": A(u(0, 1, B, N, 1), rank=3, batch=True),
                                        "audio": A(AUDIO, rank=2, batch=True, time=1),
                                        "max_length": size(16)}),
    Spec("core.sinusoidal_to_harmonic", {"sin_amps": A(u(0, 1, B, F, 4), rank=3, batch=True),
                                         "sin_freqs": A(u(100, 900, B, F, 4), rank=3, batch=True),
                                         "f0_hz": A(F0_FRAMES, rank=3, batch=True),
                                         "n_harmonics": size(H), "sample_rate": rate(16000)},
         n_pos=3),
    Spec("core.harmonic_to_sinusoidal", {"harm_amp": A(AMPS_FRAMES, rank=3, batch=True),
                                         "harm_dist": A(DIST_FRAMES, rank=3, batch=True),
                                         "f0_hz": A(F0_FRAMES, rank=3, batch=True),
                                         "sample_rate": rate(16000)}),
    # -- core: filters -------------------------------------------------------------------------
    Spec("core.fft_convolve", {"audio": A(AUDIO, rank=2, batch=True, time=1),
                               "impulse_response": A(n(B, F, 8), batch=True,
                                                     names=("impulse response",)),
                               "padding": choice("same", "same", "valid")}),
    Spec("core.frequency_impulse_response", {"magnitudes": A(u(0, 1, B, F, 9)),
                                             "window_size": integer(8)}),
    Spec("core.frequency_filter", {"audio": A(AUDIO, rank=2, batch=True, time=1),
                                   "magnitudes": A(u(0, 1, B, F, 9), batch=True),
                                   "window_size": integer(8),
                                   "padding": choice("same", "same", "valid")}),
    Spec("core.sinc_impulse_response", {"cutoff_frequency": A(u(0.1, 0.4, B, F, 1)),
                                        "window_size": count(16)}),
    Spec("core.sinc_filter", {"audio": A(AUDIO, rank=2, batch=True, time=1),
                              "cutoff_frequency": A(u(0.1, 0.4, B, F, 1), batch=True),
                              "window_size": count(16),
                              "padding": choice("same", "same", "valid")}),
    Spec("core.apply_window_to_impulse_response", {"impulse_response": A(n(B, F, 16)),
                                                   "window_size": integer(8)}),
    Spec("core.center_crop", {"audio": A(n(B, N + 16), time=1), "frame_size": size(16)}),
    Spec("core.get_fft_size", {"frame_size": size(16), "ir_size": size(8)}),
    # -- spectral ops --------------------------------------------------------------------------
    Spec("spectral_ops.stft", {"audio": A(AUDIO, time=1), "frame_size": size(16),
                               "overlap": number(0.75)}),
    Spec("spectral_ops.istft", {"stft_frames": A(n(B, 5, 9) + 1j * n(B, 5, 9), complex_ok=True),
                                "frame_size": size(16),
                                "overlap": number(0.75), "n_samples": size(N)}),
    Spec("spectral_ops.compute_mag", {"audio": A(AUDIO, time=1), "size": size(16)}),
    Spec("spectral_ops.compute_logmag", {"audio": A(AUDIO, time=1), "size": size(16)}),
    Spec("spectral_ops.compute_mel", {"audio": A(AUDIO, time=1), "bins": size(4),
                                      "fft_size": size(32), "sample_rate": rate(16000)}),
    Spec("spectral_ops.compute_logmel", {"audio": A(AUDIO, time=1), "bins": size(4),
                                         "fft_size": size(32), "sample_rate": rate(16000)}),
    Spec("spectral_ops.compute_mfcc", {"audio": A(AUDIO, time=1), "fft_size": size(32),
                                       "mel_bins": size(8), "mfcc_bins": size(4),
                                       "sample_rate": rate(16000)}),
    Spec("spectral_ops.compute_rms_energy",
         {"audio": A(n(B, 256), time=1), "sample_rate": rate(16000),
          "frame_rate": rate(250), "frame_size": size(64),
          "padding": choice("center", "center", "same", "valid")}),
    Spec("spectral_ops.compute_power",
         {"audio": A(n(B, 256), time=1), "sample_rate": rate(16000),
          "frame_rate": rate(250), "frame_size": size(64)}),
    Spec("spectral_ops.compute_loudness",
         {"audio": A(n(B, 256), time=1), "sample_rate": rate(16000),
          "frame_rate": rate(250), "n_fft": size(64),
          "padding": choice("center", "center", "same", "valid")}),
    Spec("spectral_ops.get_framed_lengths", {"input_length": count(256), "frame_size": size(64),
                                             "hop_size": size(16)}),
    Spec("spectral_ops.pad", {"x": A(n(B, 256)), "frame_size": size(64), "hop_size": size(16),
                              "padding": choice("center", "center", "same", "valid")}),
    Spec("spectral_ops.pad_or_trim_to_expected_length",
         {"vector": A(n(B, 50)), "expected_len": Arg(60, "size", names=("expected length",))}),
    Spec("spectral_ops.compute_f0", {"audio": A(n(1, 4096) * 0.1, time=1),
                                     "frame_rate": rate(250), "sample_rate": rate(16000)},
         n_pos=1),
    Spec("spectral_ops.a_weighting", {"frequencies": A(u(20, 8000, 8))}),
    # -- losses ----------------------------------------------------------------------------------
    Spec("losses.mean_difference",
         {"target": A(n(B, F)), "value": A(n(B, F)),
          "loss_type": choice("L1", "L1", "L2", "COSINE", names=("loss type",))}),
    Spec("losses.SpectralLoss", {"target_audio": A(n(B, 256), batch=True, time=1),
                                 "audio": A(n(B, 256), batch=True, time=1)},
         init={"fft_sizes": fixed((64, 32)), "logmag_weight": number(1.0),
               "loss_type": choice("L1", "L1", "L2", "COSINE", names=("loss type",))}),
    Spec("losses.MelSpectralLoss", {"target_audio": A(n(B, 256), batch=True, time=1),
                                    "audio": A(n(B, 256), batch=True, time=1)},
         init={"fft_sizes": fixed((64, 32)), "sample_rate": rate(16000)}),
    # -- synths (constructor arguments, then controls) -----------------------------------------
    Spec("synths.Harmonic", {"amplitudes": A(AMPS_FRAMES, rank=3, batch=True, time=1),
                             "harmonic_distribution": A(DIST_FRAMES, rank=3, batch=True, time=1),
                             "f0_hz": A(F0_FRAMES, rank=3, batch=True, time=1)},
         init={"n_samples": size(N), "sample_rate": rate(16000),
               "amp_resample_method": choice("window", "window", "linear", "cubic",
                                             "nearest")}),
    Spec("synths.FilteredNoise", {"magnitudes": A(n(B, F, 5), rank=3, time=1)},
         init={"n_samples": size(N), "window_size": count(7), "seed": fixed(0)}),
    Spec("synths.Wavetable", {"amplitudes": A(AMPS_FRAMES, rank=3, batch=True, time=1),
                              "wavetables": A(n(B, F, 16), rank=3, batch=True, time=1),
                              "f0_hz": A(F0_FRAMES, rank=3, batch=True, time=1)},
         init={"n_samples": size(N), "sample_rate": rate(16000)}),
    Spec("synths.Sinusoidal", {"amplitudes": A(u(0, 1, B, F, 4), rank=3, batch=True, time=1),
                               "frequencies": A(n(B, F, 4), rank=3, batch=True, time=1)},
         init={"n_samples": size(N), "sample_rate": rate(16000)}),
    Spec("synths.TensorToAudio", {"samples": A(n(B, N, 1))}),
    # -- effects ---------------------------------------------------------------------------------
    Spec("effects.Reverb", {"audio": A(AUDIO, rank=2, batch=True, time=1),
                            "ir": A(n(B, 8), batch=True)}),
    Spec("effects.Reverb", {"audio": A(AUDIO, rank=2, time=1)},
         init={"trainable": fixed(True), "reverb_length": size(8)}, label="trainable"),
    Spec("effects.ExpDecayReverb", {"audio": A(AUDIO, rank=2, batch=True, time=1),
                                    "gain": A(n(B, 1), batch=True),
                                    "decay": A(n(B, 1), batch=True)},
         init={"reverb_length": size(8), "seed": fixed(0)}),
    Spec("effects.FilteredNoiseReverb", {"audio": A(AUDIO, rank=2, batch=True, time=1),
                                         "magnitudes": A(n(B, 4, 5), rank=3, batch=True)},
         init={"reverb_length": size(16), "n_frames": size(4), "n_filter_banks": size(5),
               "window_size": count(7), "seed": fixed(0)}),
    Spec("effects.FIRFilter", {"audio": A(AUDIO, rank=2, batch=True, time=1),
                               "magnitudes": A(n(B, F, 9), rank=3, batch=True)},
         init={"window_size": count(7)}),
    Spec("effects.ModDelay", {"audio": A(AUDIO, rank=2, batch=True, time=1),
                              "gain": A(n(B, N, 1), rank=3, batch=True),
                              "phase": A(n(B, N, 1), rank=3, batch=True)},
         init={"center_ms": number(1.0), "depth_ms": number(0.5), "sample_rate": rate(16000)}),
    # -- processors ------------------------------------------------------------------------------
    Spec("processors.Add", {"signal_one": A(AUDIO, batch=True), "signal_two": A(AUDIO,
                                                                                 batch=True)}),
    Spec("processors.Mix", {"signal_one": A(n(B, N, 1), rank=3, batch=True, time=1),
                            "signal_two": A(n(B, N, 1), rank=3, batch=True, time=1),
                            "nn_out_mix_level": A(n(B, F, 1), rank=3, batch=True, time=1)}),
    Spec("processors.Crop", {"signal": A(AUDIO, time=1)}, init={"frame_size": count(16),
                                                               "crop_location": choice(
                                                                   "back", "front", "center",
                                                                   "back")}),
]  # fmt: skip
