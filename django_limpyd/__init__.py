"""django_limpyd: Redis models for Django, in the spirit of limpyd.

Importing this package is cheap: the database handler is loaded on first
access of :data:`django_limpyd.databases`, and no connection is opened until a
command is sent.
"""

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "databases"]


def __getattr__(name: str) -> Any:
    if name == "databases":
        from django_limpyd.connections import databases

        return databases
    raise AttributeError(f"module 'django_limpyd' has no attribute {name!r}")
