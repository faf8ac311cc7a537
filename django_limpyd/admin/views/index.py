"""The index: each database (server version, memory, keys, key browser) and the
models of each app with how many instances they have.

One round trip per database: ``INFO server``, ``INFO memory``, ``DBSIZE`` and
the ``ZCARD`` of each model's pks, pipelined (for a model with expiry, its
read-only ``census``: the live instances, and "(+M expired, awaiting cleanup)").
A database that cannot be reached is shown with its error; the page still answers.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.formats import number_format
from redis.exceptions import RedisError

from django_limpyd.admin.views.base import RedisAdminView
from django_limpyd.client_cluster import is_cluster, primary_clients
from django_limpyd.exceptions import LimpydException
from django_limpyd.model.expiry import count_label, grouped_counts, queue_count

__all__ = ["IndexView"]


def _count(value: Any) -> str:
    return number_format(value, force_grouping=True) if isinstance(value, int) else "—"


class IndexView(RedisAdminView):
    """The databases and the apps' models (or one app's: ``<app_label>/``)."""

    def get(self, request: HttpRequest, app_label: str | None = None) -> HttpResponse:
        self.site.autodiscover()
        app_list = self.site.app_list(request)
        if app_label is not None:
            app_list = [app for app in app_list if app["app_label"] == app_label]
            if not app_list:
                raise Http404(f"No Redis models in an app {app_label!r}.")
        groups = self._group_by_database(app_list, with_aliases=app_label is None)
        databases = [self._read(database, alias, entries) for database, alias, entries in groups]
        title = app_list[0]["name"] if app_label else self.site.index_title
        return self.render(
            "django_limpyd/index.html",
            title=title,
            app_list=app_list,
            databases=databases,
            app_label=app_label,
        )

    def _group_by_database(
        self, app_list: list[dict[str, Any]], with_aliases: bool
    ) -> list[tuple[Any, str | None, list[dict[str, Any]]]]:
        from django_limpyd.connections import databases

        groups: dict[int, tuple[Any, str | None, list[dict[str, Any]]]] = {}
        if with_aliases:
            for alias in databases:
                try:
                    database = databases[alias]
                except (LimpydException, ImproperlyConfigured):
                    continue
                groups[id(database)] = (database, alias, [])
        for app in app_list:
            for entry in app["models"]:
                entry["count"] = "—"
                try:
                    database = entry["model"]._meta.database
                except (LimpydException, ImproperlyConfigured) as exc:
                    entry["error"] = str(exc)
                    continue
                group = groups.setdefault(id(database), (database, database.alias, []))
                group[2].append(entry)
                entry["alias"] = database.alias
        return list(groups.values())

    def _read(self, database: Any, alias: str | None, entries: list[dict[str, Any]]) -> dict:
        info: dict[str, Any] = {
            "alias": alias,
            "keys_url": self.site.reverse("keys", alias) if alias is not None else None,
            "error": "",
        }
        try:
            server, memory, size, counts = _server_figures(database, entries)
        except (RedisError, LimpydException, ImproperlyConfigured, OSError) as exc:
            info["error"] = f"{type(exc).__name__}: {exc}"
            return info
        for entry, reply in zip(entries, counts, strict=True):
            count, awaiting = count_label(entry["model"], reply)
            entry["count"] = _count(count) + awaiting
        info.update(
            version=server.get("redis_version", "?"),
            mode=server.get("redis_mode", ""),
            memory=memory.get("used_memory_human", "?"),
            keys=_count(size),
            location=_public_location(database),
        )
        return info


def _server_figures(database: Any, entries: list[dict[str, Any]]) -> tuple:
    """INFO server and memory, the number of keys and each model's instance count: one
    round trip on one server; on a Redis Cluster, the first primary's INFO, the keys of
    every primary, the counts in one round trip per node."""
    connection = database.connection
    if not is_cluster(connection):
        pipe = connection.pipeline(transaction=False)
        pipe.info("server")
        pipe.info("memory")
        pipe.dbsize()
        for entry in entries:
            queue_count(pipe, entry["model"])
        server, memory, size, *counts = pipe.execute()
        return server, memory, size, grouped_counts([e["model"] for e in entries], counts)
    first = primary_clients(connection)[0]
    pipe = connection.pipeline(transaction=False)
    for entry in entries:
        queue_count(pipe, entry["model"])
    counts = grouped_counts([e["model"] for e in entries], pipe.execute() if entries else [])
    return first.info("server"), first.info("memory"), connection.dbsize(), counts


def _public_location(database: Any) -> str:
    """Where the connection goes (a test run's location included), without
    credentials."""
    connection = database.connection
    if is_cluster(connection):
        nodes = sorted(node.name for node in connection.get_primaries())
        return "redis+cluster://" + ",".join(nodes) + "/"
    kwargs = connection.connection_pool.connection_kwargs
    db = kwargs.get("db", 0)
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}?db={db}"
    return f"redis://{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{db}"
