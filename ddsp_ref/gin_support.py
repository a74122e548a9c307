"""Optional gin-config integration (the ``gin`` extra), under ddsp's own gin names.

With gin installed, ddsp_ref registers its processors, synths, effects, losses and scale
functions the way ddsp does, so configs written for ddsp parse unchanged: ``import ddsp`` at
their top, ``@ddsp.synths.Harmonic()`` or ``@synths.Harmonic()``,
``ddsp.core.oscillator_bank.use_angular_cumsum = True``, ``processors.ProcessorGroup.dag = [...]``.

- Gin names: a configurable of ``ddsp_ref.synths`` is registered under ddsp's module name
  ``ddsp.synths`` (so the full, partial and bare selectors of ddsp's configs all match). If the
  real ddsp package is installed, ddsp_ref keeps its own names (``ddsp_ref.synths``) instead, so
  that both libraries can be imported in one process.
- ``import ddsp``: when the real ddsp is not installed, importing ddsp_ref adds an import hook
  (on ``sys.meta_path``) that resolves ``ddsp`` and ``ddsp.<module>`` to ddsp_ref and
  ``ddsp_ref.<module>``. With a real ddsp on the path there is no hook: it never shadows one.

Without gin, registration is a no-op and the helpers below raise an ImportError naming the
extra to install.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable
from typing import Any

try:  # gin is optional: a missing extra must not break `import ddsp_ref`
    import gin as _gin
except ImportError:  # pragma: no cover - depends on the environment
    _gin = None

_MISSING = "gin-config is not installed: pip install 'ddsp_ref[gin]'"

# The real ddsp on sys.path (searched by the path finder alone, so our own alias never counts).
REAL_DDSP_INSTALLED = importlib.machinery.PathFinder.find_spec("ddsp") is not None
# The package name gin sees for ddsp_ref's configurables.
GIN_PACKAGE = "ddsp_ref" if REAL_DDSP_INSTALLED else "ddsp"


def gin_module(module: str | None) -> str | None:
    """The gin module name of a ddsp_ref module: ``ddsp_ref.synths`` -> ``ddsp.synths`` (ddsp's
    name) unless the real ddsp is installed."""
    if module is None or GIN_PACKAGE == "ddsp_ref":
        return module
    if module == "ddsp_ref" or module.startswith("ddsp_ref."):
        return "ddsp" + module[len("ddsp_ref") :]
    return module


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module) -> None:  # the target module is already executed
        return None


class DdspAliasFinder(importlib.abc.MetaPathFinder):
    """Resolves ``ddsp[.x]`` to the ``ddsp_ref[.x]`` module object itself (never a second copy:
    it runs before the path finder, which would load ddsp_ref's files again under ddsp's name).
    Installed only when no real ddsp is on the path."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None):
        if fullname != "ddsp" and not fullname.startswith("ddsp."):
            return None
        real = "ddsp_ref" + fullname[len("ddsp") :]
        if importlib.util.find_spec(real) is None:
            return None
        return importlib.machinery.ModuleSpec(
            fullname, _AliasLoader(real), is_package=fullname == "ddsp" or None
        )


def install_ddsp_alias() -> None:
    """Add :class:`DdspAliasFinder` to ``sys.meta_path`` (once), unless ddsp is installed."""
    if REAL_DDSP_INSTALLED or any(isinstance(f, DdspAliasFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, DdspAliasFinder())


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
        _gin.register(obj, module=gin_module(module))
    return obj


def configurable(obj: Any = None, *, module: str | None = None) -> Any:
    """``gin.configurable`` when gin is installed (bindings apply to Python calls too)."""
    if obj is None:
        return lambda o: configurable(o, module=module)
    if _gin is None:
        return obj
    return _gin.configurable(obj, module=gin_module(module))


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


install_ddsp_alias()
