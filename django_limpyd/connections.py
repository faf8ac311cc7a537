"""The lazy, per-alias handler of the databases defined in ``LIMPYD_DATABASES``.

``databases["alias"]`` returns the same :class:`~django_limpyd.database.RedisDatabase`
for the life of the process; it connects on first use. When the setting
changes (``override_settings``), each database drops its connection and reads
its configuration again on next use.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings

from django_limpyd.client import LimpydRedis, no_retry
from django_limpyd.conf import get_setting
from django_limpyd.exceptions import DatabaseNotConfigured
from django_limpyd.settings_parser import (
    CLUSTER_SCHEMES,
    SETTING,
    DatabaseConfig,
    parse_cluster_location,
    parse_entry,
)

if TYPE_CHECKING:
    from django_limpyd.database import RedisDatabase

__all__ = [
    "DatabaseHandler",
    "build_client",
    "build_cluster_client",
    "build_replica_clients",
    "databases",
    "replica_url",
    "resolve_url",
]

#: OPTIONS keys passed on to django-redis's connection factory.
_FACTORY_KEYS = (
    "CONNECTION_FACTORY",
    "CONNECTION_POOL_CLASS",
    "PARSER_CLASS",
    "PASSWORD",
    "USERNAME",
    "SOCKET_TIMEOUT",
    "SOCKET_CONNECT_TIMEOUT",
    "SENTINELS",
    "SENTINEL_KWARGS",
)


def resolve_url(config: DatabaseConfig, location: str | None = None) -> str:
    """Return a redis-py URL for ``location`` (default: the config's), starting an
    embedded server if the location is ``embedded://``."""
    location = location or config.location
    if location.startswith("embedded://"):
        from django_limpyd.embedded import connection_url

        key = "['LOCATION']" if location == config.location else "'s test location"
        return connection_url(location, f"{SETTING}[{config.alias!r}]{key}")
    return location


def _factory(config: DatabaseConfig) -> Any:
    """django-redis's connection factory for the OPTIONS of ``config``."""
    from django_redis.pool import get_connection_factory

    options = config.options
    factory_options: dict[str, Any] = {k: options[k] for k in _FACTORY_KEYS if k in options}
    factory_options["CONNECTION_POOL_KWARGS"] = {
        **options.get("CONNECTION_POOL_KWARGS", {}),
        "decode_responses": True,
        "retry": no_retry(),
        "health_check_interval": options["HEALTH_CHECK_INTERVAL"],
    }
    factory_options["REDIS_CLIENT_CLASS"] = "django_limpyd.client.LimpydRedis"
    factory_options["REDIS_CLIENT_KWARGS"] = {
        **options.get("REDIS_CLIENT_KWARGS", {}),
        "read_retries": options["READ_RETRIES"],
    }
    return get_connection_factory(options=factory_options)


def _client(factory: Any, url: str) -> LimpydRedis:
    # a pool of its own (get_connection_pool, not django-redis's shared pools)
    pool = factory.get_connection_pool(factory.make_connection_params(url))
    return factory.redis_client_cls(connection_pool=pool, **factory.redis_client_cls_kwargs)


def build_client(config: DatabaseConfig, location: str | None = None) -> LimpydRedis:
    """Build the client of a database with django-redis's connection factory, or, for a
    ``redis+cluster://`` location, a :class:`~django_limpyd.client_cluster.LimpydRedisCluster`.

    The pool is private to the database (never shared with a django-redis
    cache at the same URL, whose responses are not decoded).
    """
    location = location or config.location
    if location.split("://", 1)[0] in CLUSTER_SCHEMES:
        return build_cluster_client(config, location)
    client = _client(_factory(config), resolve_url(config, location))
    from django_limpyd.sentinel_watch import watch_pool

    client.limpyd_watcher = watch_pool(client)  # a Sentinel master: follow its switches
    return client


def build_cluster_client(config: DatabaseConfig, location: str | None = None) -> Any:
    """The client of a Redis Cluster database: every seed node of ``location`` (default:
    the config's), the timeouts, credentials and ``READ_RETRIES`` of its OPTIONS."""
    from redis.cluster import ClusterNode

    from django_limpyd.client_cluster import LimpydRedisCluster

    location = location or config.location
    parsed = parse_cluster_location(location, f"{SETTING}[{config.alias!r}]['LOCATION']")
    options = config.options
    kwargs: dict[str, Any] = {
        **options.get("CONNECTION_POOL_KWARGS", {}),
        **options.get("REDIS_CLIENT_KWARGS", {}),
        "socket_timeout": options["SOCKET_TIMEOUT"],
        "socket_connect_timeout": options["SOCKET_CONNECT_TIMEOUT"],
        "health_check_interval": options["HEALTH_CHECK_INTERVAL"],
    }
    username = options.get("USERNAME") or parsed.username
    password = options.get("PASSWORD") or parsed.password
    if username:
        kwargs["username"] = username
    if password:
        kwargs["password"] = password
    if parsed.ssl:
        kwargs["ssl"] = True
    return LimpydRedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in parsed.nodes],
        read_retries=options["READ_RETRIES"],
        **kwargs,
    )


def replica_url(url: str) -> str:
    """``url`` of a replica as the Sentinel factory understands it: the replicas of
    the service, ``is_master=0`` added unless the URL sets ``is_master`` itself."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(name == "is_master" for name, _value in query):
        return url
    return urlunsplit(parts._replace(query=urlencode([*query, ("is_master", "0")])))


def build_replica_clients(config: DatabaseConfig) -> list[LimpydRedis]:
    """The clients of the ``OPTIONS["REPLICAS"]`` of ``config`` (none if not set), built
    by the same connection factory, with the same options, as the primary's client.

    With django-redis's ``SentinelConnectionFactory`` (or a subclass), each URL names a
    service, and the client reads from the replicas Sentinel knows for it (see
    :func:`replica_url`).
    """
    urls = config.options.get("REPLICAS") or ()
    if not urls:
        return []
    from django_redis.pool import SentinelConnectionFactory

    factory = _factory(config)
    sentinel = isinstance(factory, SentinelConnectionFactory)
    return [_client(factory, replica_url(url) if sentinel else url) for url in urls]


class DatabaseHandler:
    """Gives one :class:`RedisDatabase` per alias of ``LIMPYD_DATABASES``."""

    def __init__(self) -> None:
        self._databases: dict[str, RedisDatabase] = {}
        self._configs: dict[str, DatabaseConfig] = {}
        self._lock = threading.RLock()

    @property
    def settings(self) -> dict[str, Any]:
        """The raw ``LIMPYD_DATABASES`` setting."""
        value = get_setting(SETTING)
        if not isinstance(value, dict):
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured(f"{SETTING} must be a dict, got {value!r}.")
        return value

    def get_config(self, alias: str) -> DatabaseConfig:
        """Return the validated configuration of ``alias``."""
        with self._lock:
            config = self._configs.get(alias)
            if config is None:
                entries = self.settings
                if alias not in entries:
                    raise DatabaseNotConfigured(
                        f"The Redis database {alias!r} is not defined in {SETTING} "
                        f"(defined: {', '.join(sorted(entries)) or 'none'})."
                    )
                caches = getattr(settings, "CACHES", {})
                config = self._configs[alias] = parse_entry(alias, entries[alias], caches)
            return config

    def __getitem__(self, alias: str) -> RedisDatabase:
        with self._lock:
            database = self._databases.get(alias)
            if database is None:
                self.get_config(alias)  # unknown alias: fail now, not at first command
                from django_limpyd.database import RedisDatabase

                database = self._databases[alias] = RedisDatabase.for_alias(alias)
            return database

    def __contains__(self, alias: object) -> bool:
        return alias in self.settings

    def __iter__(self) -> Iterator[str]:
        return iter(self.settings)

    def all(self) -> list[RedisDatabase]:
        """Every configured database (none is connected by this call)."""
        return [self[alias] for alias in self]

    def reset(self) -> None:
        """Forget parsed configs and drop connections (after a settings change)."""
        with self._lock:
            self._configs.clear()
            for database in self._databases.values():
                database.close()


#: The handler: ``databases["default"]``.
databases = DatabaseHandler()
