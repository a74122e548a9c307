"""ddsp's ``evaluators.TWMEvaluator``: f0 of a sinusoidal model's outputs by the two-way-mismatch
heuristic (``TWMLoss.predict_f0``), scored against the batch's f0 (DDSP-INV's eval config
``eval/basic_f0_ld_twm.gin``)."""

from __future__ import annotations

from typing import Any

from ..backend import to_numpy
from ..gin_support import register
from ..losses import TWMLoss
from . import metrics
from .evaluators import BaseEvaluator

__all__ = ["TWMEvaluator"]


class TWMEvaluator(BaseEvaluator):
    """f0 metrics (``metrics/f0_twm/...``) of the TWM f0 of ``outputs[processor_name]``'s
    controls: every sinusoid's frequency is a candidate f0, weighted by its amplitude
    (times ``1 - noise_ratios`` when ``noisy``), scored by a default ``TWMLoss()`` (16 kHz,
    as ddsp). ``sample`` plots the batch's and the TWM f0 per example (``..._f0_twm.png``,
    writer tag ``f0_twm/<i>``), as ddsp's ``f0_summary(name='f0_twm')``.

    Args:
        sample_rate, frame_rate: [Hz].
        processor_name: the outputs entry ``{'controls': {'frequencies', 'amplitudes'}}``
            (``[batch, n_frames, n_sinusoids]``), e.g. InverseSynthesis' 'sinusoidal'.
        noisy: scale the amplitudes by ``1 - controls['noise_ratios']``.
    """

    def __init__(self, sample_rate: int, frame_rate: int, processor_name: str = "sinusoidal",
                 noisy: bool = False):  # fmt: skip
        super().__init__(sample_rate, frame_rate)
        self._noisy = bool(noisy)
        self._processor_name = processor_name
        self._f0_twm_metrics = metrics.F0Metrics(sample_rate, frame_rate, name="f0_twm")

    def set_rates(self, sample_rate: int, frame_rate: int) -> None:
        super().set_rates(sample_rate, frame_rate)
        self._f0_twm_metrics._sample_rate = sample_rate
        self._f0_twm_metrics._frame_rate = frame_rate

    def _compute_twm_f0(self, outputs: dict) -> Any:
        """TWM f0 ``[batch, n_frames, 1]`` [Hz] of the processor's sinusoids."""
        processor = outputs.get(self._processor_name)
        if not isinstance(processor, dict) or "controls" not in processor:
            raise KeyError(
                f"TWMEvaluator: the outputs have no processor {self._processor_name!r} with "
                f"controls (have {sorted(outputs)})"
            )
        controls = processor["controls"]
        freqs, amps = controls["frequencies"], controls["amplitudes"]
        if self._noisy:
            amps = amps * (1.0 - controls["noise_ratios"])
        return TWMLoss().predict_f0(freqs, freqs, amps)  # every sinusoid is a candidate

    def evaluate(self, batch: dict, outputs: dict, losses: dict) -> None:
        del losses
        self._f0_twm_metrics.update_state(batch, to_numpy(self._compute_twm_f0(outputs)))

    def sample(self, batch: dict, outputs: dict, step: int) -> None:
        if not self._plots_wanted():  # the TWM f0 is only computed for a plot
            return
        f0_twm = to_numpy(self._compute_twm_f0(outputs))
        self._write_f0_images(batch["f0_hz"], f0_twm, step, "f0_twm", "f0_twm")

    def flush(self, step: int) -> dict[str, float]:
        return self._scalars(self._f0_twm_metrics.flush(step), step)


# ddsp's gin name @evaluators.TWMEvaluator (eval/basic_f0_ld_twm.gin names it @TWMEvaluator)
register(TWMEvaluator, module="ddsp_ref.training.evaluators")
