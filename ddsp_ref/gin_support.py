"""Optional gin-config integration (the ``gin`` extra).

With gin installed, ddsp_ref registers its processors, synths, effects and scale functions
the way ddsp does, so configs written for ddsp (``@synths.Harmonic()``,
``processors.ProcessorGroup.dag = [...]``) parse with ddsp_ref. Without gin, registration is a
no-op and the helpers below raise an ImportError naming the extra to install.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

try:  # gin is optional: a missing extra must not break `import ddsp_ref`
    import gin as _gin
except ImportError:  # pragma: no cover - depends on the environment
    _gin = None

_MISSING = "gin-config is not installed: pip install 'ddsp_ref[gin]'"


def gin_available() -> bool:
    return _gin is not None


def require_gin():
    """Return the gin module, or raise ImportError saying which extra to install."""
    if _gin is None:
        raise ImportError(_MISSING)
    return _gin


def register(obj: Any = None, *, module: str | None = None) -> Any:
    """``gin.register`` when gin is installed; the object unchanged otherwise.

    Usable as ``@register`` or ``@register(module='ddsp_ref.synths')``.
    """
    if obj is None:
        return lambda o: register(o, module=module)
    if _gin is not None:
        _gin.register(obj, module=module)
    return obj


def configurable(obj: Any = None, *, module: str | None = None) -> Any:
    """``gin.configurable`` when gin is installed (bindings apply to Python calls too)."""
    if obj is None:
        return lambda o: configurable(o, module=module)
    if _gin is None:
        return obj
    return _gin.configurable(obj, module=module)


def parse_config(config: str | list[str], **kwargs: Any) -> Any:
    """Parse gin bindings (a string or a list of lines)."""
    return require_gin().parse_config(config, **kwargs)


def parse_config_files_and_bindings(
    files: list[str], bindings: list[str] | None = None, **kwargs: Any
) -> Any:
    return require_gin().parse_config_files_and_bindings(files, bindings, **kwargs)


def query_parameter(name: str) -> Any:
    return require_gin().query_parameter(name)


def clear_config() -> None:
    require_gin().clear_config()


def configurable_function(fn: Callable) -> Callable:
    """Alias kept for readability where ddsp marks functions ``gin.configurable``."""
    return configurable(fn)
