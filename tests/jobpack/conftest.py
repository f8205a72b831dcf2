"""Make the independent writer in helpers.py importable as ``jobpack_helpers``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "jobpack_helpers", Path(__file__).with_name("helpers.py")
)
assert _spec is not None and _spec.loader is not None
_module = importlib.util.module_from_spec(_spec)
sys.modules["jobpack_helpers"] = _module
_spec.loader.exec_module(_module)
