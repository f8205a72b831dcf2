"""The protocol, master, conformance and worker packages export exactly their public names."""

from __future__ import annotations

import importlib
import inspect
import types

import pytest

PACKAGES = ["pydisco.protocol", "pydisco.master", "pydisco.conformance", "pydisco.worker"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_exactly_the_public_names(name: str) -> None:
    package = importlib.import_module(name)
    public = {
        attr
        for attr, value in vars(package).items()
        if not attr.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public <= set(package.__all__)
    assert len(package.__all__) == len(set(package.__all__))


@pytest.mark.parametrize("name", PACKAGES)
def test_every_exported_name_exists_and_is_documented(name: str) -> None:
    package = importlib.import_module(name)
    for attr in package.__all__:
        value = getattr(package, attr)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__doc__, f"{name}.{attr}"


def test_the_master_loads_its_server_only_when_asked() -> None:
    import subprocess
    import sys

    code = (
        "import sys, pydisco.master as m\n"
        "assert 'pydisco.master.server' not in sys.modules\n"
        "assert m.ReferenceMaster.__name__ == 'ReferenceMaster'\n"
        "assert 'pydisco.master.server' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(AttributeError):
        importlib.import_module("pydisco.master").NoSuchThing  # noqa: B018


def test_a_driver_loads_neither_the_protocol_messages_nor_the_worker() -> None:
    """A client loads no message classes; packing loads no worker; both load when used."""
    import subprocess
    import sys

    code = (
        "import sys, pydisco.client\n"
        "assert 'pydisco.protocol.messages' not in sys.modules\n"
        "import pydisco.job.packing\n"
        "loaded = [m for m in ('pydisco.protocol.session', 'pydisco.worker.run') "
        "if m in sys.modules]\n"
        "assert loaded == [], loaded\n"
        "from pydisco.protocol import Done, WorkerSession\n"
        "from pydisco.worker import run_worker\n"
        "assert 'pydisco.worker.run' in sys.modules and Done.__name__ == 'Done'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    for name in ("pydisco.protocol", "pydisco.worker"):
        with pytest.raises(AttributeError):
            importlib.import_module(name).NoSuchThing  # noqa: B018
