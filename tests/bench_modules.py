"""The benchmark scripts under bench/, loaded as modules by the tests that reuse their sets, judges
and harnesses (bench/ is a folder of scripts, not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[1] / "bench"


def load_bench(name: str, relative: str) -> ModuleType:
    """``bench/<relative>`` as the module ``name``, kept in ``sys.modules`` (its dataclasses need
    it); the script's folder is importable while it loads, as when it runs (it imports its neighbours)."""
    path = BENCH / relative
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(path.parent))
