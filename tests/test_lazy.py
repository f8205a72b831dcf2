"""Package names that load their submodule on first use (pydisco.lazy)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pydisco.jobpack


def test_a_lazy_name_loads_its_submodule_once_and_stays() -> None:
    code = (
        "import sys, pydisco.jobpack as p\n"
        "assert 'pydisco.jobpack.reader' not in sys.modules\n"
        "first = p.JobPack\n"
        "assert 'pydisco.jobpack.reader' in sys.modules and vars(p)['JobPack'] is first\n"
        "assert 'pydisco.jobpack.linting' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_an_unknown_name_is_an_attribute_error_naming_the_package() -> None:
    with pytest.raises(AttributeError, match=r"module 'pydisco\.jobpack' has no attribute 'Nope'"):
        pydisco.jobpack.Nope  # noqa: B018
