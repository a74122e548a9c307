"""ddsp's tutorial 2 (ProcessorGroup) with ddsp_ref: the same synthesizer (Harmonic +
FilteredNoise + Reverb) chained by hand in Python, as a ProcessorGroup DAG (nodes read
'<processor name>/signal' keys, intermediate controls can be inspected), and as a DAG written in
a gin string (when the ``gin`` extra is installed).

Run: python examples/2_processor_group.py [--small] [--out DIR]
"""

from __future__ import annotations

import _util
import numpy as np

import ddsp_ref
from ddsp_ref import effects, plotting, processors, synths

SAMPLE_RATE = 16000
HOP_SIZE = 64

GIN_DAG = """
import ddsp_ref

Harmonic.n_samples = {n_samples}
FilteredNoise.n_samples = {n_samples}
FilteredNoise.seed = 0

processors.ProcessorGroup.dag = [
  (@synths.Harmonic(), ['amps', 'harmonic_distribution', 'f0_hz']),
  (@synths.FilteredNoise(), ['noise_magnitudes']),
  (@processors.Add(), ['filtered_noise/signal', 'harmonic/signal']),
  (@effects.Reverb(), ['add/signal', 'ir']),
]
"""


def network_outputs(n_frames: int, reverb_length: int) -> dict:
    """Raw inputs as a decoder would produce them, plus a room impulse response."""
    t = np.linspace(0.0, 1.0, n_frames)
    rng = np.random.default_rng(0)
    n_harmonics, n_bands = 30, 65
    ir_t = np.arange(reverb_length) / SAMPLE_RATE
    return {
        "amps": (0.0 - 5.0 * t)[None, :, None],
        "harmonic_distribution": np.linspace(2.0, -6.0, n_harmonics)[None, None, :]
        + rng.normal(0.0, 0.3, (1, n_frames, n_harmonics)),
        "f0_hz": ddsp_ref.core.midi_to_hz(57 + 12 * np.round(2 * t))[None, :, None],
        "noise_magnitudes": np.full((1, n_frames, n_bands), -6.0),
        "ir": (0.03 * rng.normal(size=reverb_length) * np.exp(-ir_t / 0.1))[None],
    }


def by_hand(inputs: dict, n_samples: int) -> np.ndarray:
    harmonic = synths.Harmonic(n_samples=n_samples)
    noise = synths.FilteredNoise(n_samples=n_samples, seed=0)
    reverb = effects.Reverb()
    audio = harmonic(inputs["amps"], inputs["harmonic_distribution"], inputs["f0_hz"])
    audio = audio + noise(inputs["noise_magnitudes"])
    return reverb(audio, inputs["ir"])


def as_dag(inputs: dict, n_samples: int) -> tuple[np.ndarray, dict]:
    dag = [
        (synths.Harmonic(n_samples=n_samples), ["amps", "harmonic_distribution", "f0_hz"]),
        (synths.FilteredNoise(n_samples=n_samples, seed=0), ["noise_magnitudes"]),
        (processors.Add(), ["filtered_noise/signal", "harmonic/signal"]),
        (effects.Reverb(), ["add/signal", "ir"]),
    ]
    group = processors.ProcessorGroup(dag=dag)
    print("ProcessorGroup nodes:", group.processor_names)
    outputs = group.get_controls(inputs)  # every node's {'controls', 'signal'}, plus the inputs
    for name in group.processor_names:
        print(f"  outputs['{name}']: controls {sorted(outputs[name]['controls'])}")
    return group.get_signal(outputs), outputs


def from_gin(inputs: dict, n_samples: int):
    try:
        import gin
    except ImportError:
        print("gin is not installed (pip install 'ddsp_ref[gin]'): skipping the gin DAG")
        return None
    gin.clear_config()
    gin.parse_config(GIN_DAG.format(n_samples=n_samples))
    group = processors.ProcessorGroup()  # the dag comes from the gin binding
    audio = group(inputs)
    gin.clear_config()
    return audio


def main() -> None:
    args = _util.parse_args("2_processor_group", __doc__)
    out = _util.Outputs(args.out, SAMPLE_RATE)
    n_frames = 250 if args.small else 1000
    n_samples = n_frames * HOP_SIZE
    inputs = network_outputs(n_frames, 8000 if args.small else 32000)

    audio_python = by_hand(inputs, n_samples)
    out.wav("chained_in_python", audio_python, "harmonic + noise -> reverb, called one by one")
    audio_dag, outputs = as_dag(inputs, n_samples)
    out.wav("processor_group", audio_dag, "the same synthesizer as a ProcessorGroup")
    print(f"|python - dag| max = {np.abs(audio_python - audio_dag).max():.1e} (the same audio)")
    out.figure(
        "intermediate_controls",
        plotting.plot_controls(outputs, frame_rate=SAMPLE_RATE / HOP_SIZE, title="DAG controls"),
        "outputs['harmonic'] and outputs['filtered_noise'] controls, as scaled by the DAG",
    )
    dry = outputs["add"]["signal"]
    out.wav("before_reverb", dry, "outputs['add']['signal']: the dry mix inside the DAG")
    fig, axes = _util.figure(2, 1, figsize=(10, 6))
    plotting.specplot(dry, ax=axes[0, 0])
    plotting.specplot(audio_dag, ax=axes[1, 0])
    axes[0, 0].set_title("add/signal (dry)")
    axes[1, 0].set_title("reverb/signal (out)")
    out.figure("dry_vs_reverb", fig, "the reverb tail smearing the note changes")

    audio_gin = from_gin(inputs, n_samples)
    if audio_gin is not None:
        out.wav("processor_group_gin", audio_gin, "the same DAG defined in a gin string")
        print(f"|gin - dag| max = {np.abs(audio_gin - audio_dag).max():.1e} (the same audio)")


if __name__ == "__main__":
    main()
