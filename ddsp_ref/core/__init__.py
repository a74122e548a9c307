"""ddsp.core: the DSP functions of ddsp 3.7.0 (same names, arguments, defaults, numerics).

Split by family into submodules and re-exported here.
"""

from .math import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403
