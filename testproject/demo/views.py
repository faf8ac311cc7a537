"""The demo home page: one visit counter kept in Redis."""

from urllib.parse import urlsplit, urlunsplit

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from redis.exceptions import RedisError

import django_limpyd

#: The Redis key of the visit counter.
VISITS_KEY = "demo:visits"


def public_location(location: str) -> str:
    """``location`` without credentials nor query string, fit to be shown."""
    parts = urlsplit(location)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def home(request: HttpRequest) -> HttpResponse:
    """Count the visit in Redis and show the counter and the server's version.

    Answers 503 with the error when the Redis server cannot be reached.
    """
    database = django_limpyd.databases["default"]
    context = {"location": public_location(database.config.location)}
    try:
        connection = database.connection
        context["visits"] = connection.incr(VISITS_KEY)
        server = connection.info("server")
    except RedisError as exc:
        context["error"] = f"{type(exc).__name__}: {exc}"
        return render(request, "demo/home.html", context, status=503)
    context["redis_version"] = server["redis_version"]
    context["unix_socket"] = connection.connection_pool.connection_kwargs.get("path", "")
    return render(request, "demo/home.html", context)
