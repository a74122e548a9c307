"""``ddsp_ref.pitch``: the f0 estimator, kept at the path the README documents.

The code lives in :mod:`ddsp_ref.spectral_ops.pitch`; this module re-exports its public names.
"""

from .spectral_ops.pitch import *  # noqa: F401,F403
from .spectral_ops.pitch import __all__  # noqa: F401
