"""Reads sent to read-only replicas: what a :class:`~django_limpyd.database.RedisDatabase`
needs to route them.

A database with replicas (``OPTIONS["REPLICAS"]`` in settings, ``replicas=`` for a
hand-built one) sends the reads of its models to a replica, taking them in turn,
and everything else to its primary. :class:`ReadRouting` holds that state for one
database: the replicas' clients, built on first use, and whether reads are forced to
the primary in the current context (``database.using_primary()``), kept in a
``ContextVar``, so it applies to one thread or one asyncio task at a time.

See ``docs/replicas.rst`` for the rules and for what may be stale.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from django_limpyd.client import LimpydRedis

__all__ = ["LOCATION_ARGUMENTS", "ReadRouting", "replica_arguments"]

#: redis-py arguments saying where a server is: a replica gives its own, and takes
#: the primary's other arguments (db, password, timeouts...)
LOCATION_ARGUMENTS = frozenset({"host", "port", "unix_socket_path"})


def replica_arguments(replicas: Any, primary: dict[str, Any]) -> list[dict[str, Any]]:
    """The redis-py arguments of each replica of a hand-built database.

    ``replicas`` is the ``replicas=`` argument: a list of dicts (``{"host": ...,
    "port": ...}`` or ``{"unix_socket_path": ...}``), each applied over the primary's
    arguments ``primary`` less :data:`LOCATION_ARGUMENTS`.
    """
    where = "RedisDatabase(replicas=...)"
    if replicas is None:
        return []
    if not isinstance(replicas, (list, tuple)):
        raise ImproperlyConfigured(
            f"{where} must be a list of dicts of redis-py arguments (one per replica), "
            f"got {replicas!r}."
        )
    shared = {key: value for key, value in primary.items() if key not in LOCATION_ARGUMENTS}
    arguments = []
    for position, replica in enumerate(replicas):
        if not isinstance(replica, dict) or not LOCATION_ARGUMENTS & set(replica):
            raise ImproperlyConfigured(
                f"{where}[{position}] must be a dict of redis-py arguments naming where the "
                f"replica is ({', '.join(sorted(LOCATION_ARGUMENTS))}), got {replica!r}."
            )
        arguments.append({**shared, **replica})
    return arguments


@contextmanager
def _forced(flag: ContextVar[bool]) -> Iterator[None]:
    token = flag.set(True)
    try:
        yield
    finally:
        flag.reset(token)


class ReadRouting:
    """The replicas of one database and the choice of the client of each read.

    ``build`` makes the replicas' clients (an empty list: no replicas); it is called
    on first use, and again after :meth:`close`.
    """

    def __init__(self, build: Callable[[], list[LimpydRedis]]) -> None:
        self._build = build
        self._clients: list[LimpydRedis] | None = None
        self._turn = itertools.count()
        self._primary_forced: ContextVar[bool] = ContextVar(
            f"limpyd_primary_forced_{id(self)}", default=False
        )

    def clients(self) -> list[LimpydRedis]:
        """The replicas' clients (built now if needed); the caller holds the lock."""
        if self._clients is None:
            self._clients = self._build()
        return self._clients

    @property
    def built(self) -> list[LimpydRedis] | None:
        """The replicas' clients if built, else ``None`` (building takes the lock)."""
        return self._clients

    def next_replica(self, clients: list[LimpydRedis]) -> LimpydRedis:
        """The client of the next read among the replicas' ``clients``, in turn."""
        if len(clients) == 1:
            return clients[0]
        return clients[next(self._turn) % len(clients)]

    @property
    def primary_forced(self) -> bool:
        """True inside :meth:`using_primary` (in this thread or task)."""
        return self._primary_forced.get()

    def using_primary(self) -> AbstractContextManager[None]:
        """Force the reads of this context to the primary (a context manager, also a
        decorator: each call of the decorated function enters a fresh one)."""
        return _forced(self._primary_forced)

    def close(self) -> None:
        """Disconnect the replicas; the next read builds their clients again."""
        clients, self._clients = self._clients, None
        for client in clients or ():
            client.connection_pool.disconnect()
