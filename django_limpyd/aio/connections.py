"""One async client per database and per event loop, closed when the loop shuts down.

``redis.asyncio`` connections belong to the event loop that opened them, so every loop
(``asyncio.run``, an ASGI server's, each ``async_to_sync`` call's) gets its own client
of each database, built on first use by :func:`get_client` from the database's sync
client (see :func:`~django_limpyd.aio.client.build_async_client`): building it does not
connect.

Closing: when the loop shuts down (``asyncio.run``, ``asyncio.Runner``, uvicorn: each
calls ``loop.shutdown_asyncgens()``), a small async generator started in the loop with
its first client is closed by the loop, and closes the loop's clients. Code that manages
loops by hand can call :func:`aclose_clients` before closing one.

Reads go to the async client of a replica when the database has replicas
(:func:`get_read_client`, following ``database.read_connection``): one per replica
and loop, closed with the loop's.

A database that drops its sync client (``close()``, ``connect()``, a settings change,
the test machinery's ``use_location``) gets a new async client on next use; the old
one is closed in the background.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator
from typing import Any

from django_limpyd.aio.client import AsyncLimpydRedis, build_async_client

__all__ = ["aclose_clients", "get_client", "get_read_client"]


class _LoopClients:
    """The async clients of one event loop, by database."""

    def __init__(self) -> None:
        #: id(database) -> (database, the sync client it was built from, async client)
        self.clients: dict[int, tuple[Any, Any, AsyncLimpydRedis]] = {}
        #: id(sync replica client) -> (database, that sync client, async client): the
        #: async clients of the read-only replicas of the databases (get_read_client)
        self.replicas: dict[int, tuple[Any, Any, Any]] = {}
        self.closer: Any = None
        #: tasks closing clients replaced while the loop runs (kept until done)
        self.closing: set[asyncio.Task] = set()


_LOOPS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClients] = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()


def _loop_clients(loop: asyncio.AbstractEventLoop) -> _LoopClients:
    entry = _LOOPS.get(loop)
    if entry is None:
        with _LOCK:
            entry = _LOOPS.get(loop)
            if entry is None:
                entry = _LOOPS[loop] = _LoopClients()
    return entry


async def _closer(loop: asyncio.AbstractEventLoop, entry: _LoopClients) -> AsyncIterator[None]:
    """Suspended for the life of the loop; closed by ``loop.shutdown_asyncgens()`` (or
    when dropped, after :func:`aclose_clients`): closes the clients of ``entry``."""
    try:
        yield
    finally:
        with _LOCK:
            if _LOOPS.get(loop) is entry:
                del _LOOPS[loop]
        await _close(entry)


async def _close(entry: _LoopClients) -> None:
    """Close the clients of ``entry`` (again: harmless)."""
    for _database, _sync_client, client in list(entry.clients.values()):
        await client.close_all()
    for _database, _sync_client, client in list(entry.replicas.values()):
        await client.close_all()
    if entry.closing:
        await asyncio.gather(*entry.closing, return_exceptions=True)


async def _start(closer: Any) -> None:
    await anext(closer)  # a first step in the loop: the loop now tracks the generator


def get_client(database: Any) -> AsyncLimpydRedis:
    """The async client of ``database`` for the running event loop (built on first use,
    without connecting). Must be called from a coroutine."""
    loop = asyncio.get_running_loop()
    entry = _loop_clients(loop)
    sync_client = database.connection  # the test access blocker guards it
    found = entry.clients.get(id(database))
    if found is not None and found[1] is sync_client:
        return found[2]
    client = build_async_client(sync_client, database._observers)
    entry.clients[id(database)] = (database, sync_client, client)
    if found is not None:  # the database dropped its client: close the old async one
        task = loop.create_task(found[2].close_all())
        entry.closing.add(task)
        task.add_done_callback(entry.closing.discard)
    if entry.closer is None:
        entry.closer = _closer(loop, entry)
        task = loop.create_task(_start(entry.closer))
        entry.closing.add(task)
        task.add_done_callback(entry.closing.discard)
    return client


def get_read_client(database: Any) -> Any:
    """The async client the reads of ``database`` go to now, as on the sync path
    (``database.read_connection``): a replica's (the next one, in turn) when the
    database has replicas, else the primary's (:func:`get_client`); the primary's
    inside ``database.using_primary()`` and while the current task has an async
    pipeline of the database open. Must be called from a coroutine."""
    from django_limpyd.aio.apipeline import active

    primary = get_client(database)
    if active(database) is not None:
        return primary
    sync_client = database.read_connection
    if sync_client is database.connection:
        return primary
    loop = asyncio.get_running_loop()
    entry = _loop_clients(loop)
    found = entry.replicas.get(id(sync_client))
    if found is not None and found[1] is sync_client:
        return found[2]
    current = database._reads.built or []
    for key, (owner, old_sync, old) in list(entry.replicas.items()):
        if owner is database and not any(old_sync is other for other in current):
            del entry.replicas[key]  # the database rebuilt its replicas: close the old one
            task = loop.create_task(old.close_all())
            entry.closing.add(task)
            task.add_done_callback(entry.closing.discard)
    client = build_async_client(sync_client, database._observers)
    entry.replicas[id(sync_client)] = (database, sync_client, client)
    return client


async def aclose_clients(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Close every async client of ``loop`` (default: the running one); the next use
    builds new ones."""
    loop = loop or asyncio.get_running_loop()
    with _LOCK:
        entry = _LOOPS.pop(loop, None)
    if entry is not None:
        await _close(entry)
