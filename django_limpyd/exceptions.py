"""Exceptions raised by django_limpyd.

The tree::

    Exception
    ├── LimpydException
    │   ├── ImplementationError        a model, field or index used in a way it cannot be
    │   │   └── ImplementationValueError  (also ValueError) a call with bad arguments, where
    │   │                                 limpyd raises ValueError
    │   ├── UniquenessError            a unique value is already held by another instance
    │   ├── DoesNotExist               (also django's ObjectDoesNotExist) no such instance;
    │   │   └── <Model>.DoesNotExist   one subclass per model
    │   ├── MultipleObjectsReturned    (also django's MultipleObjectsReturned and ValueError)
    │   │   └── <Model>.MultipleObjectsReturned  get() matched several; one per model
    │   ├── InvalidValue               (also ValueError) a value the field cannot store
    │   └── Redirected                 a write of a model being resharded, refused where
    │                                  it was sent (nothing written; sent again outside
    │                                  pipelines)
    └── django.core.exceptions.ImproperlyConfigured
        └── DatabaseNotConfigured      (also LimpydException) unknown LIMPYD_DATABASES alias

Connection problems are redis-py's own ``redis.exceptions.ConnectionError``
and ``TimeoutError``, never wrapped.
"""

from typing import Any

from django.core import exceptions as django_exceptions
from django.core.exceptions import ImproperlyConfigured, ObjectDoesNotExist

__all__ = [
    "DatabaseNotConfigured",
    "DoesNotExist",
    "ImplementationError",
    "ImplementationValueError",
    "InvalidValue",
    "LimpydException",
    "MultipleObjectsReturned",
    "Redirected",
    "UniquenessError",
]


class LimpydException(Exception):
    """Base of every exception raised by django_limpyd."""


class ImplementationError(LimpydException):
    """A model, field, index or database is used in a way it does not support."""


class ImplementationValueError(ImplementationError, ValueError):
    """A call with arguments it cannot take (``get()`` without a pk or filters,
    ``values_list(flat=True)`` of several fields, ...): limpyd raises ``ValueError``
    there, so ``except ValueError`` written for limpyd still catches it."""


class UniquenessError(LimpydException):
    """A value of a unique field is already held by another instance."""


class DoesNotExist(LimpydException, ObjectDoesNotExist):
    """The instance asked for is not (or no longer) in Redis."""


class MultipleObjectsReturned(
    LimpydException, django_exceptions.MultipleObjectsReturned, ValueError
):
    """``get()`` matched several instances (a ``ValueError`` too, what limpyd raises)."""


class InvalidValue(LimpydException, ValueError):
    """A value that the field cannot store (raised before anything is written)."""


class Redirected(LimpydException):
    """A write of a sharded model being resharded that its shard refused, nothing
    written (see :mod:`django_limpyd.sharding.reshard`): outside a pipeline it is sent
    again where the instance is; in a pipeline it is the command's error."""

    def __init__(self, message: str, code: str, payload: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.payload = payload


class DatabaseNotConfigured(LimpydException, ImproperlyConfigured):
    """An alias that ``LIMPYD_DATABASES`` does not define."""
