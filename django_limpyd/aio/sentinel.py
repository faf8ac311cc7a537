"""The async transport of a database behind Redis Sentinel (django-redis'
``SentinelConnectionFactory``): a ``redis.asyncio`` Sentinel-managed pool built from
the sync client's pool, so from the same settings: the same Sentinels (and their
``SENTINEL_KWARGS``), service, role (the master, or the replicas for
``OPTIONS["REPLICAS"]``), credentials, timeouts and decoding.

As the sync pool does, each new connection asks Sentinel for the current master (a
replica: the next replica Sentinel knows), and a connection to a master demoted to
a replica (a ``READONLY`` reply) is dropped, raising ``ConnectionError`` (the write
ran nothing there). The sync client's Sentinel watcher
(:mod:`django_limpyd.sentinel_watch`) counts the master switches it hears: when it
heard one since the async client's last command, the async client drops its idle
connections before sending, so the command connects to the new master.
"""

from __future__ import annotations

import inspect
from typing import Any

from redis.asyncio.connection import BlockingConnectionPool
from redis.asyncio.sentinel import (
    Sentinel,
    SentinelConnectionPool,
    SentinelManagedConnection,
    SentinelManagedSSLConnection,
)
from redis.connection import SSLConnection

__all__ = ["build_async_sentinel_pool", "is_sentinel_pool"]


class BlockingSentinelConnectionPool(SentinelConnectionPool, BlockingConnectionPool):
    """A Sentinel-managed pool whose tasks wait for a free connection (up to its
    ``timeout``) beyond ``max_connections``, as the async pool of a plain server."""


def is_sentinel_pool(pool: Any) -> bool:
    """True if ``pool`` (a sync redis-py pool) is managed by Sentinel."""
    return hasattr(pool, "sentinel_manager") and hasattr(pool, "service_name")


def _accepted(function: Any) -> set[str]:
    names: set[str] = set()
    for klass in function.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            names.update(inspect.signature(init).parameters)
    return names - {"self", "kwargs"}


def _sentinel_kwargs(sync_sentinel: Any) -> dict[str, Any]:
    """The connection arguments of one of the sync manager's Sentinel clients."""
    from redis.asyncio import Redis

    kwargs = sync_sentinel.connection_pool.connection_kwargs
    accepted = set(inspect.signature(Redis.__init__).parameters) - {
        "self",
        "retry",
        "redis_connect_func",
        "event_dispatcher",
        "connection_pool",
    }
    return {name: value for name, value in kwargs.items() if name in accepted}


def build_async_sentinel_pool(pool: Any, not_passed: frozenset[str], retry: Any) -> Any:
    """An async Sentinel-managed pool with the Sentinels, service, role and connection
    arguments of ``pool`` (a sync ``redis.sentinel.SentinelConnectionPool``);
    connections get ``retry`` (the zero-retry policy)."""
    manager = pool.sentinel_manager
    addresses, sentinel_kwargs = [], {}
    for sentinel in manager.sentinels:
        kwargs = _sentinel_kwargs(sentinel)
        addresses.append((kwargs.pop("host", "localhost"), kwargs.pop("port", 26379)))
        sentinel_kwargs = kwargs
    connection_class = (
        SentinelManagedSSLConnection
        if issubclass(pool.connection_class, SSLConnection)
        else SentinelManagedConnection
    )
    accepted = _accepted(connection_class)
    kwargs = {
        name: value
        for name, value in pool.connection_kwargs.items()
        if name in accepted and name not in not_passed and name not in ("host", "port")
    }
    kwargs["retry"] = retry
    kwargs["decode_responses"] = True
    async_manager = Sentinel(
        addresses,
        min_other_sentinels=getattr(manager, "min_other_sentinels", 0),
        sentinel_kwargs=sentinel_kwargs,
        **kwargs,
    )
    return BlockingSentinelConnectionPool(
        pool.service_name,
        async_manager,
        is_master=getattr(pool, "is_master", True),
        check_connection=getattr(pool, "check_connection", False),
        connection_class=connection_class,
        max_connections=pool.max_connections,
        timeout=kwargs.get("socket_timeout") or 20,
        **kwargs,
    )
