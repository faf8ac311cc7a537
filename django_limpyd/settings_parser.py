"""Validation of ``LIMPYD_DATABASES`` entries into :class:`DatabaseConfig`.

Every problem raises ``ImproperlyConfigured`` naming the setting, the alias,
the key and the value, before any connection is attempted.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

SETTING = "LIMPYD_DATABASES"

#: Schemes accepted in ``LOCATION``.
SCHEMES = ("redis", "rediss", "unix", "embedded", "redis+cluster", "rediss+cluster")

#: Schemes of a Redis Cluster: every seed node in the URL, ``host:port`` comma-separated.
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")

#: ``OPTIONS`` keys that have no meaning for a Redis Cluster database.
NOT_FOR_CLUSTER_OPTIONS = frozenset(
    {
        "CONNECTION_FACTORY",
        "CONNECTION_POOL_CLASS",
        "PARSER_CLASS",
        "SENTINELS",
        "SENTINEL_KWARGS",
        "REPLICAS",
    }
)

#: Keys of a ``LIMPYD_DATABASES`` entry.
ENTRY_KEYS = frozenset({"LOCATION", "OPTIONS", "CACHE", "TEST"})

#: ``OPTIONS`` keys with the type each must have. The django-redis ones mean
#: what they mean in django-redis; the last four are ours.
OPTION_TYPES: dict[str, type | tuple[type, ...]] = {
    "CONNECTION_FACTORY": str,
    "CONNECTION_POOL_CLASS": str,
    "CONNECTION_POOL_KWARGS": dict,
    "REDIS_CLIENT_KWARGS": dict,
    "PARSER_CLASS": str,
    "PASSWORD": str,
    "USERNAME": str,
    "SOCKET_TIMEOUT": numbers.Real,
    "SOCKET_CONNECT_TIMEOUT": numbers.Real,
    "SENTINELS": (list, tuple),
    "SENTINEL_KWARGS": dict,
    "HEALTH_CHECK_INTERVAL": numbers.Real,
    "READ_RETRIES": int,
    "REPLICAS": (list, tuple),
    "DURABILITY": dict,
}

#: Schemes accepted in ``OPTIONS["REPLICAS"]`` (an embedded server has no replicas).
REPLICA_SCHEMES = ("redis", "rediss", "unix")

#: Options of a django-redis cache (and of Django's caches) that only concern
#: caching, for the record: when a database reuses a cache entry with ``CACHE``,
#: every key of the cache's ``OPTIONS`` that is not in :data:`OPTION_TYPES` is
#: ignored (django-redis validates its own options; a custom client may read more).
CACHE_ONLY_OPTIONS = frozenset(
    {
        "CLIENT_CLASS",
        "CLIENT_KWARGS",
        "SERIALIZER",
        "COMPRESSOR",
        "PICKLE_VERSION",
        "IGNORE_EXCEPTIONS",
        "LOG_IGNORED_EXCEPTIONS",
        "CLOSE_CONNECTION",
        "REPLICA_READ_ONLY",
        "REDIS_CLIENT_CLASS",
        "REVERSE_KEY_FUNCTION",
        "MAX_ENTRIES",
        "CULL_FREQUENCY",
    }
)

#: Pool keyword arguments that django_limpyd sets itself.
RESERVED_POOL_KWARGS = frozenset(
    {"decode_responses", "retry", "retry_on_error", "retry_on_timeout"}
)

#: The defaults applied to ``OPTIONS`` (documented in docs/settings.rst).
DEFAULT_OPTIONS: dict[str, Any] = {
    "SOCKET_TIMEOUT": 10,
    "SOCKET_CONNECT_TIMEOUT": 5,
    "HEALTH_CHECK_INTERVAL": 30,
    "READ_RETRIES": 1,
}

TEST_KEYS = frozenset({"DB", "LOCATION"})


@dataclass(frozen=True)
class DatabaseConfig:
    """A validated ``LIMPYD_DATABASES`` entry."""

    alias: str
    location: str
    options: dict[str, Any] = field(default_factory=dict)
    test: dict[str, Any] = field(default_factory=dict)

    @property
    def scheme(self) -> str:
        """The scheme of ``location`` (``redis``, ``rediss``, ``unix``, ``embedded``,
        ``redis+cluster``, ``rediss+cluster``)."""
        return self.location.split("://", 1)[0]

    @property
    def is_cluster(self) -> bool:
        """True for a Redis Cluster location (``redis+cluster://``)."""
        return self.scheme in CLUSTER_SCHEMES


@dataclass(frozen=True)
class ClusterLocation:
    """A parsed ``redis+cluster://`` URL: its seed nodes and credentials."""

    nodes: list[tuple[str, int]]
    username: str | None = None
    password: str | None = None
    ssl: bool = False


def parse_cluster_location(location: str, where: str = "LOCATION") -> ClusterLocation:
    """Parse ``redis+cluster://[user:password@]host:port[,host:port...]/[0]``.

    Raises ``ImproperlyConfigured`` naming ``where`` for anything else (no node, a
    node without port, a database other than 0: a cluster has only db 0).
    """
    from urllib.parse import unquote

    scheme, _sep, rest = location.partition("://")
    netloc, _slash, path = rest.partition("/")
    path = path.partition("?")[0].strip("/")
    if path not in ("", "0"):
        raise ImproperlyConfigured(
            f"{where} = {location!r}: a Redis Cluster has only database 0, got {path!r}."
        )
    userinfo, at, hosts = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username, password = (unquote(user) or None), (unquote(secret) if colon else None)
    nodes: list[tuple[str, int]] = []
    for part in filter(None, (item.strip() for item in hosts.split(","))):
        host, colon, port = part.rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ImproperlyConfigured(
                f"{where} = {location!r}: {part!r} is not a host:port seed node."
            )
        nodes.append((host.strip("[]"), int(port)))
    if not nodes:
        raise ImproperlyConfigured(f"{where} = {location!r} names no seed node (host:port).")
    return ClusterLocation(nodes, username, password, scheme == "rediss+cluster")


def _where(alias: str, *keys: str) -> str:
    return f"{SETTING}[{alias!r}]" + "".join(f"[{key!r}]" for key in keys)


def validate_location(alias: str, location: Any, where: str | None = None) -> str:
    """Return ``location`` if it is a URL this package can connect to."""
    where = where or _where(alias, "LOCATION")
    if not isinstance(location, str) or not location:
        raise ImproperlyConfigured(f"{where} must be a non-empty string, got {location!r}.")
    scheme, sep, rest = location.partition("://")
    if not sep or scheme not in SCHEMES:
        raise ImproperlyConfigured(
            f"{where} = {location!r} is not a URL with one of the schemes "
            f"{', '.join(s + '://' for s in SCHEMES)}."
        )
    if scheme in CLUSTER_SCHEMES:
        parse_cluster_location(location, where)
        return location
    if scheme == "embedded":
        if not rest.split("?", 1)[0]:
            raise ImproperlyConfigured(f"{where} = {location!r} names no directory.")
        from django_limpyd.embedded import parse_location

        try:
            parse_location(location)  # its db and its directory (nothing is started)
        except ImproperlyConfigured as exc:
            raise ImproperlyConfigured(f"{where} = {location!r}: {exc}") from exc
        return location
    try:
        parts = urlsplit(location)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ImproperlyConfigured(f"{where} = {location!r} cannot be parsed: {exc}.") from exc
    if scheme == "unix" and not parts.path:
        raise ImproperlyConfigured(f"{where} = {location!r} names no socket path.")
    if scheme != "unix" and not parts.hostname:
        raise ImproperlyConfigured(f"{where} = {location!r} names no host.")
    return location


def validate_options(alias: str, options: Any) -> dict[str, Any]:
    """Check every ``OPTIONS`` key and type; return them with the defaults applied."""
    where = _where(alias, "OPTIONS")
    if not isinstance(options, dict):
        raise ImproperlyConfigured(f"{where} must be a dict, got {options!r}.")
    for key, value in options.items():
        expected = OPTION_TYPES.get(key)
        if expected is None:
            raise ImproperlyConfigured(
                f"{where} has an unknown key {key!r}; "
                f"known keys: {', '.join(sorted(OPTION_TYPES))}."
            )
        if isinstance(value, bool) or not isinstance(value, expected):
            names = getattr(expected, "__name__", None) or " or ".join(t.__name__ for t in expected)
            raise ImproperlyConfigured(
                f"{_where(alias, 'OPTIONS', key)} must be a {names}, got {value!r}."
            )
    reserved = RESERVED_POOL_KWARGS & set(options.get("CONNECTION_POOL_KWARGS", {}))
    if reserved:
        raise ImproperlyConfigured(
            f"{_where(alias, 'OPTIONS', 'CONNECTION_POOL_KWARGS')} sets {sorted(reserved)}, "
            "which django_limpyd manages itself (responses are decoded; writes are never "
            "retried, reads follow READ_RETRIES)."
        )
    if "REPLICAS" in options:
        validate_replicas(alias, options["REPLICAS"])
    if "DURABILITY" in options:
        from django_limpyd.durability import parse

        try:
            parse(options["DURABILITY"], _where(alias, "OPTIONS", "DURABILITY"))
        except ValueError as exc:
            raise ImproperlyConfigured(str(exc)) from None
    return {**DEFAULT_OPTIONS, **options}


def validate_replicas(alias: str, replicas: list[Any] | tuple[Any, ...]) -> list[str]:
    """Check ``OPTIONS["REPLICAS"]``: URLs of read-only replicas of the database."""
    where = _where(alias, "OPTIONS", "REPLICAS")
    for position, url in enumerate(replicas):
        validate_location(alias, url, f"{where}[{position}]")
        if url.partition("://")[0] not in REPLICA_SCHEMES:
            raise ImproperlyConfigured(
                f"{where}[{position}] = {url!r}: a replica is reached with one of the schemes "
                f"{', '.join(s + '://' for s in REPLICA_SCHEMES)}."
            )
    return list(replicas)


def _from_cache(alias: str, cache_alias: Any, caches: dict[str, Any]) -> tuple[str, dict]:
    where = _where(alias, "CACHE")
    if not isinstance(cache_alias, str) or cache_alias not in caches:
        raise ImproperlyConfigured(
            f"{where} = {cache_alias!r} names no entry of CACHES "
            f"(known: {', '.join(sorted(caches)) or 'none'})."
        )
    cache = caches[cache_alias]
    backend = cache.get("BACKEND", "")
    if not backend.startswith("django_redis."):
        raise ImproperlyConfigured(
            f"{where} = {cache_alias!r} is a {backend!r} cache; only django-redis caches "
            "(django_redis.cache.RedisCache) can be reused."
        )
    location = cache.get("LOCATION")
    if isinstance(location, (list, tuple)):
        location = location[0] if location else None
    elif isinstance(location, str):
        location = location.split(",")[0].strip()
    location = validate_location(alias, location, f"CACHES[{cache_alias!r}]['LOCATION']")
    options = cache.get("OPTIONS", {})
    if not isinstance(options, dict):
        raise ImproperlyConfigured(f"CACHES[{cache_alias!r}]['OPTIONS'] must be a dict.")
    return location, {key: value for key, value in options.items() if key in OPTION_TYPES}


def parse_entry(alias: str, entry: Any, caches: dict[str, Any]) -> DatabaseConfig:
    """Validate the ``LIMPYD_DATABASES[alias]`` entry and return its config."""
    if not isinstance(entry, dict):
        raise ImproperlyConfigured(f"{_where(alias)} must be a dict, got {entry!r}.")
    unknown = set(entry) - ENTRY_KEYS
    if unknown:
        raise ImproperlyConfigured(
            f"{_where(alias)} has unknown key(s) {sorted(unknown)}; "
            f"expected {', '.join(sorted(ENTRY_KEYS))}."
        )
    if ("LOCATION" in entry) == ("CACHE" in entry):
        raise ImproperlyConfigured(f"{_where(alias)} needs exactly one of LOCATION or CACHE.")
    if "CACHE" in entry:
        location, options = _from_cache(alias, entry["CACHE"], caches)
        options = {**options, **entry.get("OPTIONS", {})}
    else:
        location = validate_location(alias, entry["LOCATION"])
        options = entry.get("OPTIONS", {})
    test = entry.get("TEST", {})
    if not isinstance(test, dict) or set(test) - TEST_KEYS:
        raise ImproperlyConfigured(
            f"{_where(alias, 'TEST')} must be a dict with keys among "
            f"{', '.join(sorted(TEST_KEYS))}, got {test!r}."
        )
    if "DB" in test and (isinstance(test["DB"], bool) or not isinstance(test["DB"], int)):
        raise ImproperlyConfigured(f"{_where(alias, 'TEST', 'DB')} must be an int.")
    if "LOCATION" in test:
        validate_location(alias, test["LOCATION"], _where(alias, "TEST", "LOCATION"))
    config = DatabaseConfig(alias, location, validate_options(alias, options), dict(test))
    if config.is_cluster:
        _check_cluster_entry(config)
    return config


def _check_cluster_entry(config: DatabaseConfig) -> None:
    alias = config.alias
    unusable = sorted(NOT_FOR_CLUSTER_OPTIONS & set(config.options))
    if unusable:
        raise ImproperlyConfigured(
            f"{_where(alias, 'OPTIONS')} sets {unusable}, which a Redis Cluster database "
            f"({config.location!r}) does not use: the client finds every node, primary and "
            "replica, from the seed nodes."
        )
    if config.test.get("DB", 0) != 0:
        raise ImproperlyConfigured(
            f"{_where(alias, 'TEST', 'DB')} = {config.test['DB']!r}: a Redis Cluster has only "
            "database 0; set TEST LOCATION to another cluster, or leave TEST out (the test "
            "run then starts a private cluster)."
        )
