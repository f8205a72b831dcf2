"""pydisco: the Disco map/reduce system's edges in Python.

The worker protocol (:mod:`pydisco.protocol`, :mod:`pydisco.worker`), job packs
(:mod:`pydisco.jobpack`), an HTTP client (:mod:`pydisco.client`), a reference
master (:mod:`pydisco.master`) and a conformance kit (:mod:`pydisco.conformance`),
compatible with Disco 0.5.4.
"""

from pydisco.errors import PydiscoError

__version__ = "0.1.0"

__all__ = ["PydiscoError", "__version__"]
