"""``RedisDatabase``: a connection to one Redis database and the models it hosts.

A database is either built by hand from redis-py keyword arguments (as in
limpyd) or obtained from settings with ``django_limpyd.databases["alias"]``.
Either way the client is created on first use.

A database may have read-only replicas (``OPTIONS["REPLICAS"]``, or ``replicas=``):
the reads of its models then go to them (:attr:`RedisDatabase.read_connection`),
and everything else to the primary (:attr:`RedisDatabase.connection`); see
:mod:`django_limpyd.replicas`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured

from django_limpyd.client import LimpydRedis, Observer, no_retry
from django_limpyd.exceptions import ImplementationError
from django_limpyd.indexes import EqualIndex
from django_limpyd.replicas import ReadRouting, replica_arguments
from django_limpyd.settings_parser import DEFAULT_OPTIONS, RESERVED_POOL_KWARGS

if TYPE_CHECKING:
    from django_limpyd.indexes import BaseIndex
    from django_limpyd.settings_parser import DatabaseConfig

__all__ = ["DEFAULT_CONNECTION_SETTINGS", "RedisDatabase"]

#: Connection arguments of a hand-built database, before the caller's own.
DEFAULT_CONNECTION_SETTINGS: dict[str, Any] = {
    "host": "localhost",
    "port": 6379,
    "db": 0,
    "socket_timeout": DEFAULT_OPTIONS["SOCKET_TIMEOUT"],
    "socket_connect_timeout": DEFAULT_OPTIONS["SOCKET_CONNECT_TIMEOUT"],
    "health_check_interval": DEFAULT_OPTIONS["HEALTH_CHECK_INTERVAL"],
}


class RedisDatabase:
    """A Redis database: its connection, and the registry of its models.

    Built by hand, it takes redis-py's keyword arguments, and ``replicas``: a list of
    dicts of redis-py arguments, one per read-only replica (``{"host": ..., "port":
    ...}``), applied over the primary's other arguments. ``cluster_nodes=[(host, port),
    ...]`` makes it a Redis Cluster database (seed nodes; ``host``, ``port`` and ``db``
    are then not used).
    """

    #: the index classes of the indexable fields declared without ``indexes=`` in
    #: the models of this database (unless their model or field class sets its own);
    #: set it on a subclass or on one database object
    default_indexes: list[type[BaseIndex]] | None = [EqualIndex]

    def __init__(self, **connection_settings: Any) -> None:
        #: the ``LIMPYD_DATABASES`` alias, or ``None`` for a hand-built database
        self.alias: str | None = None
        replicas = connection_settings.pop("replicas", None)
        from django_limpyd.durability import parse

        #: the durability of a hand-built database (``durability={"replicas": 1, ...}``)
        self._durability = parse(connection_settings.pop("durability", None), "durability")
        self._connection_settings = self._check_settings(connection_settings)
        self._replica_settings = self._check_replicas(replicas)
        self._client: LimpydRedis | None = None
        self._reads = ReadRouting(self._build_replicas)
        self._location_override: str | None = None
        self._lock = threading.RLock()
        self._observers: list[Observer] = []
        self._models: dict[tuple[str, str], type] = {}
        from django_limpyd.pipelines import PipelineSlot

        self._pipelines = PipelineSlot()

    def get_default_indexes(self) -> list[type[BaseIndex]]:
        """``default_indexes`` as a list (empty if ``None``)."""
        return list(self.default_indexes or ())

    @classmethod
    def for_alias(cls, alias: str) -> RedisDatabase:
        """The database of a ``LIMPYD_DATABASES`` alias (use ``databases[alias]``)."""
        database = cls()
        database.alias = alias
        return database

    def __repr__(self) -> str:
        if self.alias:
            return f"<{type(self).__name__} alias={self.alias!r}>"
        shown = {
            key: ("***" if key == "password" and value else value)
            for key, value in self._connection_settings.items()
            if key in ("host", "port", "db", "unix_socket_path", "username", "password")
        }
        return f"<{type(self).__name__} {shown!r}>"

    @staticmethod
    def _check_settings(connection_settings: dict[str, Any]) -> dict[str, Any]:
        reserved = RESERVED_POOL_KWARGS & set(connection_settings)
        if reserved:
            raise ImproperlyConfigured(
                f"RedisDatabase() got {sorted(reserved)}, which django_limpyd manages itself "
                "(responses are decoded; writes are never retried)."
            )
        return {**DEFAULT_CONNECTION_SETTINGS, **connection_settings}

    def _check_replicas(self, replicas: Any) -> list[dict[str, Any]]:
        arguments = replica_arguments(replicas, self._connection_settings)
        return [self._check_settings(replica) for replica in arguments]

    # -- connection -----------------------------------------------------------------

    @property
    def config(self) -> DatabaseConfig | None:
        """The validated settings entry of an alias database, else ``None``."""
        if self.alias is None:
            return None
        from django_limpyd.connections import databases

        return databases.get_config(self.alias)

    @property
    def connection(self) -> LimpydRedis:
        """The redis-py client (created on first access)."""
        client = self._client
        if client is None:
            with self._lock:
                client = self._client
                if client is None:
                    client = self._client = self._build_client()
        return client

    def _build_client(self) -> LimpydRedis:
        if self.alias is not None:
            from django_limpyd.connections import build_client

            client = build_client(self.config, self._location_override)
        else:
            client = self._hand_built_client(self._connection_settings)
        client._limpyd_observers = self._observers
        # related fields compile differently on a Redis Cluster (crossslot.py): again
        for model in list(self._models.values()):
            if model._meta.referrers or model._meta.has_related:
                model._meta._library = None
        durability = self._configured_durability()
        if durability is not None:
            client.limpyd_durability = durability
            client.limpyd_durable_possible = True
        self._sync_command_logger()
        return client

    def _configured_durability(self) -> Any:
        from django_limpyd.durability import parse

        if self.alias is not None:
            return parse(self.config.options.get("DURABILITY"), "DURABILITY")
        return self._durability

    def durable(
        self, replicas: int | None = 1, timeout: float = 0.1, aof: bool = False
    ) -> AbstractContextManager[None]:
        """Within the block (this thread or asyncio task), every write of this database
        waits until ``replicas`` replicas have it (``WAIT``, at most ``timeout``
        seconds), else raises :class:`~django_limpyd.durability.DurabilityError` (the
        write is applied on the primary; nothing is sent again). ``replicas=None``:
        no waiting in the block, whatever the settings say. ``aof=True``: ``WAITAOF``,
        the write fsynced to the AOF of the primary and of ``replicas`` replicas
        (Redis >= 7.2, else :class:`~django_limpyd.durability.DurabilityUnsupported`).
        See :mod:`django_limpyd.durability`."""
        from django_limpyd.durability import durable, parse

        wanted = None
        if replicas is not None:
            wanted = parse({"REPLICAS": replicas, "TIMEOUT": timeout, "AOF": aof}, "durable()")
        return durable(self.connection, wanted)

    @staticmethod
    def _hand_built_client(connection_settings: dict[str, Any]) -> LimpydRedis:
        read_retries = connection_settings.get("read_retries", 1)
        kwargs = {k: v for k, v in connection_settings.items() if k != "read_retries"}
        if "cluster_nodes" in kwargs:
            from redis.cluster import ClusterNode

            from django_limpyd.client_cluster import LimpydRedisCluster

            nodes = [ClusterNode(host, int(port)) for host, port in kwargs.pop("cluster_nodes")]
            for name in ("host", "port", "db"):
                kwargs.pop(name, None)
            return LimpydRedisCluster(startup_nodes=nodes, read_retries=read_retries, **kwargs)
        return LimpydRedis(
            **kwargs, decode_responses=True, retry=no_retry(), read_retries=read_retries
        )

    def _build_replicas(self) -> list[LimpydRedis]:
        if self.alias is not None:
            if self._location_override is not None:
                return []  # a test location (see use_location): no replicas there
            from django_limpyd.connections import build_replica_clients

            clients = build_replica_clients(self.config)
        else:
            clients = [self._hand_built_client(replica) for replica in self._replica_settings]
        for client in clients:
            client._limpyd_observers = self._observers
        return clients

    def _sync_command_logger(self) -> None:
        from django_limpyd.logging import CommandLogger, logging_enabled

        enabled = logging_enabled()
        current = [obs for obs in self._observers if isinstance(obs, CommandLogger)]
        if enabled and not current:
            self._observers.append(CommandLogger(self.alias))
        elif not enabled:
            for observer in current:
                self._observers.remove(observer)

    @property
    def connection_settings(self) -> dict[str, Any]:
        """As in limpyd: the redis-py arguments the database connects with (a copy;
        change them with :meth:`connect`). For a database from ``LIMPYD_DATABASES``,
        the arguments of its client's connection pool (connecting is left for the
        first command)."""
        if self.alias is not None:
            client = self.connection
            if self.is_cluster:
                return dict(client.nodes_manager.connection_kwargs)
            return dict(client.connection_pool.connection_kwargs)
        return dict(self._connection_settings)

    @property
    def is_cluster(self) -> bool:
        """True if the database is a Redis Cluster (``redis+cluster://``, or built by hand
        with ``cluster_nodes=``); builds the client."""
        from django_limpyd.client_cluster import is_cluster

        return is_cluster(self.connection)

    def connect(self, **connection_settings: Any) -> LimpydRedis:
        """Switch to other connection settings (redis-py arguments) and connect."""
        with self._lock:
            if self.alias is not None and connection_settings:
                raise ImplementationError(
                    f"The database {self.alias!r} comes from LIMPYD_DATABASES; change the "
                    "setting (or use override_settings) instead of connect(...)."
                )
            if connection_settings:
                from django_limpyd.durability import parse

                self._durability = parse(connection_settings.pop("durability", None), "durability")
                replicas = connection_settings.pop("replicas", None)
                self._connection_settings = self._check_settings(connection_settings)
                self._replica_settings = self._check_replicas(replicas)
            self.close()
            return self.connection

    def use_location(self, location: str | None) -> None:
        """Point an alias database at another URL (``None``: back to its setting).

        Used by the test machinery to send a whole run to a test location. While a
        location is set, the database has no replicas: every read goes there too.
        """
        with self._lock:
            self._location_override = location
            self.close()

    def close(self) -> None:
        """Disconnect; the next command connects again with the current settings."""
        with self._lock:
            client, self._client = self._client, None
            if client is not None:
                client.disconnect()
            self._reads.close()

    # -- replicas -------------------------------------------------------------------

    @property
    def replica_connections(self) -> list[LimpydRedis]:
        """The clients of the read-only replicas (created on first access); empty
        without replicas, and while the database points at a test location."""
        self.connection  # noqa: B018 - the test access blocker guards it
        with self._lock:
            return list(self._reads.clients())

    @property
    def read_connection(self) -> LimpydRedis:
        """The client that reads go to: a replica, else the primary.

        A replica (the next one, in turn, when there are several) when the database
        has replicas; the primary (:attr:`connection`) when it has none, inside
        :meth:`using_primary`, and while a pipeline or transaction of the database
        is active in this thread (its reads and writes stay on the primary).

        For code that sends its own read-only commands (collections, tools): take
        it once per read operation and send every command of that operation to
        it, so they all see the same server. Never write through it: a replica
        refuses writes (``ReadOnlyError``). Call functions through
        :func:`django_limpyd.storage.functions.call_read_only`, which runs them on
        the primary while the replica lacks their library. A replica may lag
        behind the primary: see ``docs/replicas.rst``.
        """
        primary = self.connection  # first: the test access blocker guards it
        reads = self._reads
        clients = reads.built
        if clients is None:
            with self._lock:
                clients = reads.clients()
        if not clients or reads.primary_forced or self._pipelines.get() is not None:
            return primary
        return reads.next_replica(clients)

    @property
    def read_command_connection(self) -> Any:
        """Where read commands of fields go: the active pipeline's (queued, for the
        primary), else :attr:`read_connection`."""
        pipeline = self._pipelines.get()
        return pipeline.connection if pipeline is not None else self.read_connection

    def using_primary(self) -> AbstractContextManager[None]:
        """Send the reads of this database to the primary, in this thread (or asyncio
        task), for fresh reads: read-your-writes.

        A context manager, also usable as a decorator::

            with database.using_primary():
                person.name.hget()

            @database.using_primary()
            def view(request): ...
        """
        return self._reads.using_primary()

    # -- pipelines ------------------------------------------------------------------

    def pipeline(self, transaction: bool = True, share_in_threads: bool = False) -> Any:
        """A pipeline (context manager) queueing the field commands of this thread.

        See :mod:`django_limpyd.pipelines`.
        """
        from django_limpyd.pipelines import Pipeline

        return Pipeline(self, transaction=transaction, share_in_threads=share_in_threads)

    def apipeline(self, transaction: bool = True) -> Any:
        """An async pipeline (``async with database.apipeline() as pipeline:``) queueing
        the async field commands, creates and deletes of the current task; ``await
        pipeline.execute()`` sends them in one round trip. See
        :mod:`django_limpyd.aio.apipeline`."""
        from django_limpyd.aio.apipeline import AsyncPipeline

        return AsyncPipeline(self, transaction=transaction)

    def transaction(self, func: Any, *watches: Any, share_in_threads: bool = False) -> Any:
        """Run ``func(pipeline)`` in a WATCH/MULTI/EXEC transaction, again while a
        watched key changes; return the pipeline's results.

        ``watches`` are keys or fields of instances. ``func`` reads before calling
        ``pipeline.multi()``, and queues its writes after.
        """
        from redis.exceptions import WatchError

        while True:
            with self.pipeline(share_in_threads=share_in_threads) as pipeline:
                try:
                    if watches:
                        pipeline.watch(*watches)
                    func(pipeline)
                    return pipeline.execute()
                except WatchError:
                    continue

    async def atransaction(self, func: Any, *watches: Any, share_in_threads: bool = False) -> Any:
        """The async twin of :meth:`transaction`: run ``func(pipeline)`` (a coroutine
        function, or a plain one) in a WATCH/MULTI/EXEC transaction of an async
        pipeline, again while a watched key changes; return the pipeline's results.

        ``watches`` are keys or fields of instances. ``func`` reads before calling
        ``pipeline.multi()`` (sent at once, on the connection holding the watch), and
        queues its writes after. On a Redis Cluster the watched keys, and the queued
        commands, must live in one slot. See :mod:`django_limpyd.aio.transaction`.
        """
        if share_in_threads:
            raise ImplementationError(
                "atransaction(): an async pipeline belongs to the task that opened it; "
                "share_in_threads=True is for the sync transaction()."
            )
        from django_limpyd.aio.transaction import atransaction

        return await atransaction(self, func, watches)

    def active_pipeline(self) -> Any:
        """The pipeline this thread's commands are queued in, or ``None``."""
        return self._pipelines.get()

    @property
    def command_connection(self) -> Any:
        """Where field commands go: the active pipeline's, else the client."""
        pipeline = self._pipelines.get()
        return pipeline.connection if pipeline is not None else self.connection

    # -- observers ------------------------------------------------------------------

    def add_observer(self, observer: Observer) -> None:
        """Report every round trip of this database to ``observer``."""
        self._observers.append(observer)

    def remove_observer(self, observer: Observer) -> None:
        """Stop reporting to ``observer``."""
        self._observers.remove(observer)

    # -- tools ----------------------------------------------------------------------

    def load_scripts(self) -> None:
        """Load the function library of every model of this database now (again).

        Libraries otherwise load on first use, unseen by command counts; this is for
        a server that lost them (a restart without persistence, ``FUNCTION FLUSH``).
        """
        from django_limpyd.storage.functions import ensure_loaded

        with self._lock:
            models = list(self._models.values())
        for model in models:
            for stored in model._meta.stored_models:  # a sharded model: each shard's
                ensure_loaded(self.connection, stored._meta.library, force=True)

    def scan_keys(self, match: str | None = None, count: int | None = None) -> Iterator[str]:
        """Yield every key of the database, or those matching the glob ``match``."""
        return self.connection.scan_iter(match=match, count=count)

    # -- models ---------------------------------------------------------------------

    def _add_model(self, model: type) -> None:
        key = (model._meta.namespace, model._meta.name)
        with self._lock:
            existing = self._models.get(key)
            if existing is not None and existing is not model:
                if existing.__module__ == model.__module__ and existing.__qualname__ == (
                    model.__qualname__
                ):
                    pass  # the same class defined again (module reloaded): replace it
                else:
                    raise ImplementationError(
                        f"Database {self!r} already hosts a model named {model._meta.name!r} "
                        f"in namespace {model._meta.namespace!r} ({existing.__module__}."
                        f"{existing.__qualname__}); set another namespace on "
                        f"{model.__module__}.{model.__qualname__}."
                    )
            self._models[key] = model

    def _remove_model(self, model: type) -> None:
        key = (model._meta.namespace, model._meta.name)
        with self._lock:
            if self._models.get(key) is model:
                del self._models[key]

    @property
    def models(self) -> dict[tuple[str, str], type]:
        """The concrete models hosted here, by ``(namespace, name)``."""
        return dict(self._models)
