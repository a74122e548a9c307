"""Record ddsp 3.7.0's ``AutoencoderInference`` on the TF-checkpoint fixtures (run once, in
the peer venv; ddsp_ref never imports TensorFlow).

For each case of ``tests/training/fixtures/tf_ckpt`` and several lengths, ddsp's own
``inference.AutoencoderInference(ckpt, length_seconds)`` is built and called on f0 / loudness
frames; ``tests/training/fixtures/inference/autoencoder_<case>.npz`` holds, per length
``L<i>/``: ``length_seconds``, ``n_frames``, ``n_samples``, the inputs (``f0_hz``,
``loudness_db`` [n_frames]), the decoder's outputs (``amps``, ``harmonic_distribution``,
``noise_magnitudes``), the harmonic synth's controls and TF's ``harmonic/signal``, and
``exact_harmonic``: the same audio with a float64 phase (stored as float32; the 2 s case keeps
only this one) (ddsp's float32 phase drifts over
long signals; see ``make_tf_fixture.record_exact``).

ddsp 3.7.0's ``AutoencoderInference`` builds itself with ``{loudness_db, f0_hz}`` only, which
fails when the operative config has ``F0LoudnessPreprocessor.compute_loudness = True`` (the
default: ``compute_loudness(None)``). As ddsp_ref's ``AutoencoderInference`` does, the
recording binds ``compute_loudness = False`` after ddsp's own configuration.

Usage (from the repository root)::

    source /tmp/peers/tf-venv/peers_env.sh
    python scripts/make_inference_fixture.py
"""

import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_tf_fixture  # noqa: E402  (sets TF's environment, stubs ddsp's optional imports)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CASES = ("solo", "no_reverb")
LENGTHS = (0.004, 0.2531, 0.5, 2.0)  # one frame, a non-multiple of the hop, short, long


def main():
    make_tf_fixture.install_stubs()
    import gin
    import numpy as np
    import tensorflow as tf

    ddsp = sys.modules["ddsp"]
    inference = importlib.import_module("ddsp.training.inference")

    class Patched(inference.AutoencoderInference):
        def configure_gin(self, ckpt):
            super().configure_gin(ckpt)
            with gin.unlock_config():
                gin.parse_config("F0LoudnessPreprocessor.compute_loudness = False")

    out_dir = os.path.join(ROOT, "tests", "training", "fixtures", "inference")
    os.makedirs(out_dir, exist_ok=True)
    for case in CASES:
        ckpt = os.path.join(ROOT, "tests", "training", "fixtures", "tf_ckpt", case)
        record = {}
        for i, secs in enumerate(LENGTHS):
            gin.clear_config()
            model = Patched(ckpt, length_seconds=secs)
            n = model.n_frames
            rng = np.random.default_rng(i)
            t = np.arange(n) / 250.0
            f0 = 300.0 + 80.0 * np.sin(2 * np.pi * 1.3 * t) + rng.normal(0, 3, n)
            ld = -35.0 + 15.0 * np.cos(2 * np.pi * 0.7 * t) + rng.normal(0, 2, n)
            f0, ld = f0.astype(np.float32), ld.astype(np.float32)
            out = model({"f0_hz": tf.constant(f0), "loudness_db": tf.constant(ld)})
            p = f"L{i}/"
            record[p + "length_seconds"] = np.asarray(secs)
            record[p + "n_frames"] = np.asarray(n)
            record[p + "n_samples"] = np.asarray(model.n_samples)
            record[p + "f0_hz"], record[p + "loudness_db"] = f0, ld
            for key in ("amps", "harmonic_distribution", "noise_magnitudes"):
                record[p + key] = np.asarray(out[key])
            controls = out["harmonic"]["controls"]
            for key in ("amplitudes", "harmonic_distribution", "f0_hz"):
                record[p + "harmonic_controls/" + key] = np.asarray(controls[key])
            if secs < 1.0:  # the long case keeps only the exact audio (fixture size)
                record[p + "harmonic_signal"] = np.asarray(out["harmonic"]["signal"])
            exact = exact_harmonic(np, ddsp, controls, model)
            record[p + "exact_harmonic"] = exact.astype(np.float32)
            record[p + "has_reverb"] = np.asarray("reverb" in out)
        np.savez_compressed(os.path.join(out_dir, f"autoencoder_{case}.npz"), **record)
        print("wrote", case, sorted(record)[:5])


def exact_harmonic(np, ddsp, controls, model):
    """ddsp's envelopes (its own resample and Nyquist removal), float64 phase."""
    n_samples, sr = model.n_samples, model.sample_rate
    n_harmonics = int(controls["harmonic_distribution"].shape[-1])
    freqs = ddsp.core.get_harmonic_frequencies(controls["f0_hz"], n_harmonics)
    amps = controls["amplitudes"] * controls["harmonic_distribution"]
    freq_env = ddsp.core.resample(freqs, n_samples)
    method = model.processor_group.harmonic.amp_resample_method
    amp_env = ddsp.core.resample(amps, n_samples, method=method)
    amp_env = ddsp.core.remove_above_nyquist(freq_env, amp_env, sr)
    phase = np.cumsum(2.0 * np.pi * np.asarray(freq_env, np.float64) / sr, axis=1)
    return np.sum(np.asarray(amp_env, np.float64) * np.sin(phase), axis=-1)


if __name__ == "__main__":
    main()
