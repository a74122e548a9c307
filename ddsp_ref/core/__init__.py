"""ddsp.core: the DSP functions of ddsp 3.7.0 (same names, arguments, defaults, numerics).

Split by family into submodules and re-exported here.
"""

from .filters import *  # noqa: F401,F403
from .math import *  # noqa: F401,F403
from .oscillators import *  # noqa: F401,F403
from .resampling import *  # noqa: F401,F403
from .scaling import *  # noqa: F401,F403
from .units import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403
from .wavetable import *  # noqa: F401,F403
