"""Every differentiable op, in one namespace (``from ddsp_ref.autodiff import ops``)."""

from .elementwise import *  # noqa: F401,F403
from .elementwise import __all__ as _elementwise
from .fft import *  # noqa: F401,F403
from .fft import __all__ as _fft
from .fused.framing import frame, overlap_add  # noqa: F401
from .indexing import *  # noqa: F401,F403
from .indexing import __all__ as _indexing
from .linalg import *  # noqa: F401,F403
from .linalg import __all__ as _linalg
from .reductions import *  # noqa: F401,F403
from .reductions import __all__ as _reductions
from .shape_ops import *  # noqa: F401,F403
from .shape_ops import __all__ as _shape_ops
from .tensor import register_ops

__all__ = (
    _elementwise + _fft + ["frame", "overlap_add"] + _indexing + _linalg + _reductions + _shape_ops
)

# Tensor operators, methods and NumPy dispatch call these functions by name.
register_ops({name: globals()[name] for name in __all__})
