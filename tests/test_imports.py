"""The package's import structure: no import cycle inside ddsp_ref, a quick `import ddsp_ref`
that loads neither numba nor cupy, and every documented submodule reachable from it.

Every import statement counts, at module level or inside a function (a deferred import is how
a cycle hides), except those under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import ddsp_ref

PACKAGE = Path(ddsp_ref.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(module: str, level: int, current: str, is_package: bool) -> str:
    if level == 0:
        return module
    base = current.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path) -> set[str]:
    """ddsp_ref modules that ``name`` imports (a `from pkg import x` names pkg.x if that is a
    module, else pkg)."""
    tree = ast.parse(path.read_text())
    is_package = path.name == "__init__.py"
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _is_type_checking(node)
            for n in ast.walk(node)}  # fmt: skip
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(node.module or "", node.level, name, is_package)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in MODULES else target)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
    return out


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_inside_the_package():
    cycles = _cycles(GRAPH)
    described = [" <-> ".join(c) for c in cycles]
    assert not cycles, "import cycles inside ddsp_ref:\n" + "\n".join(described)


def test_import_is_quick_and_loads_neither_numba_nor_cupy():
    code = (
        "import sys, time\n"
        "t = time.perf_counter()\n"
        "import ddsp_ref\n"
        "elapsed = time.perf_counter() - t\n"
        "heavy = [m for m in ('numba', 'cupy', 'tensorflow', 'torch', 'matplotlib', 'dask')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("name", sorted(n for n in ddsp_ref._SUBMODULES if not n.startswith("_")))
def test_every_documented_submodule_is_reachable_after_import(name):
    code = f"import ddsp_ref\nm = ddsp_ref.{name}\nprint(m.__name__)\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("ddsp_ref")


def test_ddsps_module_paths_of_the_models_encoders_decoders_and_evaluators():
    """ddsp's ``training.models.MidiAutoencoder`` etc. resolve to the classes of the modules
    that define them (imported on first use); unknown names still raise AttributeError."""
    import importlib

    from ddsp_ref.training import decoders, encoders, evaluators, models

    where = {
        models: {"InverseSynthesis": "inverse_synthesis", "MidiAutoencoder": "midi_autoencoder",
                 "ZMidiAutoencoder": "midi_autoencoder"},
        encoders: {"ResnetSinusoidalEncoder": "encoders_sinusoidal",
                   "SinusoidalToHarmonicEncoder": "encoders_sinusoidal",
                   "MidiEncoder": "encoders_midi", "HarmonicToMidiEncoder": "encoders_midi"},
        decoders: {"MidiDecoder": "decoders_midi", "MidiToHarmonicDecoder": "decoders_midi"},
        evaluators: {"TWMEvaluator": "evaluators_twm",
                     "MidiAutoencoderEvaluator": "evaluators_midi",
                     "MidiHeuristicEvaluator": "evaluators_midi"},
    }  # fmt: skip
    for module, names in where.items():
        for name, home in names.items():
            defining = importlib.import_module(f"ddsp_ref.training.{home}")
            assert getattr(module, name) is getattr(defining, name)
        with pytest.raises(AttributeError, match="no attribute 'NotADdspName'"):
            module.NotADdspName  # noqa: B018
