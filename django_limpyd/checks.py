"""System checks of django_limpyd (``manage.py check``), with stable ids.

=============  ================================================================
limpyd.E001    ``LIMPYD_DATABASES`` has no ``default`` entry
limpyd.E002    a ``LIMPYD_DATABASES`` entry is invalid
limpyd.E003    a model uses a database alias that is not defined
limpyd.E004    two models would share keys (same database, namespace and name)
limpyd.E005    a ``unique`` field has no index able to enforce uniqueness
limpyd.E006    a related field points to a model that does not exist
limpyd.E007    a database server cannot be reached (``check --database ...`` only)
limpyd.E008    an ``embedded://`` location cannot be served (no usable redis-server
               binary, or a socket path too long)
limpyd.E009    a ``RedisModelAdmin`` option is wrong (:mod:`django_limpyd.admin_checks`)
=============  ================================================================
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from django_limpyd import registry
from django_limpyd.conf import get_setting
from django_limpyd.settings_parser import SETTING, parse_entry

__all__ = ["check_embedded", "check_models", "check_servers", "check_settings"]


def _entries() -> dict[str, Any]:
    value = get_setting(SETTING)
    return value if isinstance(value, dict) else {}


def _models(app_configs: Any) -> list[type]:
    if app_configs is None:
        return registry.get_models()
    labels = {config.label for config in app_configs}
    return [model for model in registry.get_models() if model._meta.app_label in labels]


@checks.register("limpyd")
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E001 and E002: the ``LIMPYD_DATABASES`` setting itself."""
    errors: list[checks.CheckMessage] = []
    entries = get_setting(SETTING)
    if not isinstance(entries, dict):
        return [checks.Error(f"{SETTING} must be a dict.", id="limpyd.E002")]
    if "default" not in entries:
        errors.append(
            checks.Error(
                f"{SETTING} has no 'default' database.",
                hint="Models in apps that set no `database` use 'default'.",
                id="limpyd.E001",
            )
        )
    caches = getattr(settings, "CACHES", {})
    for alias, entry in entries.items():
        try:
            parse_entry(alias, entry, caches)
        except ImproperlyConfigured as error:
            errors.append(checks.Error(str(error), id="limpyd.E002"))
    return errors


def _database_identity(model: type) -> Any:
    database = model.database
    if database is None and model._meta.app_label:
        database = "default"
    if isinstance(database, str):
        entry = _entries().get(database, {})
        return ("location", entry.get("LOCATION") or ("cache", entry.get("CACHE")))
    return ("object", id(database))


@checks.register("limpyd")
def check_models(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E003, E004, E005 and E006: the registered models."""
    errors: list[checks.CheckMessage] = []
    entries = _entries()
    sharing: dict[tuple, list[type]] = defaultdict(list)
    for model in _models(app_configs):
        meta = model._meta
        database = model.database
        if database is None:
            database = "default"
        if isinstance(database, str) and database not in entries:
            errors.append(
                checks.Error(
                    f"{meta.label} uses the database {database!r}, which {SETTING} does "
                    "not define.",
                    obj=model,
                    id="limpyd.E003",
                )
            )
        sharing[(_database_identity(model), meta.namespace, meta.name)].append(model)
        for field in meta.data_fields:
            if field.unique and not any(index.handles_uniqueness for index in field.indexes):
                errors.append(
                    checks.Error(
                        f"{meta.label}.{field.name} is unique but none of its indexes "
                        "handles uniqueness.",
                        hint="Add an index with handle_uniqueness=True (EqualIndex).",
                        obj=model,
                        id="limpyd.E005",
                    )
                )
            errors.extend(getattr(field, "check", lambda: [])())
    for (_database, namespace, name), models in sharing.items():
        if len(models) > 1:
            labels = ", ".join(model._meta.label for model in models)
            errors.append(
                checks.Error(
                    f"Models {labels} would share keys: same database, namespace "
                    f"{namespace!r} and name {name!r}.",
                    hint="Give one of them another namespace.",
                    obj=models[1],
                    id="limpyd.E004",
                )
            )
    return errors


@checks.register(checks.Tags.database)
def check_servers(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """E007: every configured server answers PING (only with ``check --database``)."""
    if not databases:
        return []
    from redis.exceptions import RedisError

    from django_limpyd.connections import databases as handler

    errors: list[checks.CheckMessage] = []
    for alias in _entries():
        try:
            handler[alias].connection.ping()
        except (RedisError, ImproperlyConfigured, OSError) as error:
            errors.append(
                checks.Error(
                    f"The Redis database {alias!r} cannot be reached: {error}",
                    id="limpyd.E007",
                )
            )
    return errors


def _embedded_locations(alias: str, entry: Any, caches: dict[str, Any]) -> list[tuple[str, str]]:
    """``(setting key, location)`` of the ``embedded://`` locations of a valid entry."""
    try:
        config = parse_entry(alias, entry, caches)
    except ImproperlyConfigured:
        return []  # E002 reports it
    found = [(f"{SETTING}[{alias!r}]['LOCATION']", config.location)]
    if "LOCATION" in config.test:
        found.append((f"{SETTING}[{alias!r}]['TEST']['LOCATION']", config.test["LOCATION"]))
    return [(key, location) for key, location in found if location.startswith("embedded://")]


@checks.register("limpyd")
def check_embedded(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """E008: every ``embedded://`` location can be served, checked without starting
    anything: a redis-server binary is found (``LIMPYD_REDIS_SERVER``, else ``PATH``,
    else the ``embedded`` extra) and the socket path fits in a unix socket address."""
    from django_limpyd.embedded import SOCKET_NAME, parse_location
    from django_limpyd.servers import check_socket_path, find_redis_server

    errors: list[checks.CheckMessage] = []
    caches = getattr(settings, "CACHES", {})
    for alias, entry in _entries().items():
        for key, location in _embedded_locations(alias, entry, caches):
            try:
                directory, _db = parse_location(location)
                check_socket_path(directory / SOCKET_NAME, location)
                find_redis_server()
            except ImproperlyConfigured as error:
                errors.append(
                    checks.Error(
                        f"{key} = {location!r} cannot be served: {error}",
                        hint="See 'Which redis-server' in the embedded Redis docs.",
                        id="limpyd.E008",
                    )
                )
    return errors
