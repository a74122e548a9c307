"""ddsp.core: the DSP functions of ddsp 3.7.0 (same names, arguments, defaults, numerics).

Split by family into submodules and re-exported here.
"""

from .conversions import *  # noqa: F401,F403
from .convolution import *  # noqa: F401,F403
from .filters import *  # noqa: F401,F403
from .math import *  # noqa: F401,F403
from .oscillators import *  # noqa: F401,F403
from .resampling import *  # noqa: F401,F403
from .scaling import *  # noqa: F401,F403
from .synthesis import *  # noqa: F401,F403
from .units import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403
from .wavetable import *  # noqa: F401,F403


def _register_with_gin() -> None:
    """Register scale functions and make the oscillators configurable, as ddsp does.

    Configurable functions are replaced in their defining module too, so that bindings such as
    ``oscillator_bank.use_angular_cumsum = True`` reach internal callers (harmonic_synthesis).
    """
    from ..gin_support import configurable, gin_available, register

    if not gin_available():
        return
    from . import oscillators, scaling

    for fn in (
        scaling.exp_sigmoid,
        scaling.sym_exp_sigmoid,
        scaling.frequencies_softmax,
        scaling.frequencies_sigmoid,
        scaling.frequencies_critical_bands,
    ):
        register(fn, module="ddsp_ref.core")
    for name in ("oscillator_bank", "harmonic_oscillator_bank", "angular_cumsum"):
        wrapped = configurable(getattr(oscillators, name), module="ddsp_ref.core")
        setattr(oscillators, name, wrapped)
        globals()[name] = wrapped


_register_with_gin()
