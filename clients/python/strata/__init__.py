"""Strata from Python: publish and attach numpy arrays, zero-copy on the runtime's node.

>>> import strata
>>> client = strata.connect("http://127.0.0.1:7070")      # doctest: +SKIP
>>> for version, xyz in client.stream("particles", "xyz"):  # doctest: +SKIP
...     print(version, xyz["x"].mean())
"""

from .client import Client, MappedPart, MappedParts, Stream, connect
from .errors import *  # noqa: F401,F403
from .errors import ERRORS, StrataError
from .layout import buffer_of, empty, scalar_dtype, view

__all__ = ["Client", "MappedPart", "MappedParts", "Stream", "connect", "ERRORS", "StrataError", "buffer_of", "empty",
           "scalar_dtype", "view"] + [cls.__name__ for cls in ERRORS.values()]
__version__ = "0.1.0"
