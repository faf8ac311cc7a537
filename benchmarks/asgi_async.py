"""An async view served by uvicorn under 200 concurrent requests: latency and commands.

Run from the root of the checkout, with the project's virtualenv (``uvicorn``
installed: the ``dev`` extra)::

    .venv/bin/python -m benchmarks.asgi_async [--connections 200] [--requests 20]
                                              [--instances 1000]

It starts a private ``redis-server``, creates ``--instances`` instances, then starts
uvicorn in a child process (one worker, asyncio loop) serving a minimal Django project:

* ``/async/<pk>``: an async view, ``await Visitor.objects.aget(pk=pk)``, ``await
  visitor.name.ahget()``, ``await visitor.hits.aincr()`` (a write through the model's
  function), ``await Visitor.objects.filter(city=...).acount()``;
* ``/sync/<pk>``: the same with the sync API, a sync view (Django runs it in a thread);
* ``/stats``: the commands the server process sent since the last call (an observer
  on the database, as ``count_commands``).

A bounded load generator (this process, asyncio, HTTP/1.1 keep-alive on loopback)
opens ``--connections`` connections at once, each sending ``--requests`` requests one
after the other. Printed per view: requests per second, latency p50/p90/p99/max,
commands per request, errors; then the hits counted in Redis (one write per request,
none lost or doubled).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from typing import Any

from benchmarks.common import format_table, machine_description, machine_line, private_server

CITIES = [f"c{k}" for k in range(10)]


def _models(socket_path: str) -> tuple[Any, Any]:
    from django_limpyd import fields
    from django_limpyd.database import RedisDatabase
    from django_limpyd.model import RedisModel

    database = RedisDatabase(unix_socket_path=socket_path, db=0)

    class Visitor(RedisModel):
        namespace = "asgi"
        name = fields.InstanceHashField(unique=True)
        city = fields.InstanceHashField(indexable=True)
        hits = fields.StringField()

    Visitor.use_database(database)
    return database, Visitor


# -- the server process ------------------------------------------------------------------


def serve(socket_path: str, port: int) -> None:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        SECRET_KEY="bench",
        LOGGING={
            "version": 1,
            "handlers": {"console": {"class": "logging.StreamHandler"}},
            "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"}},
        },
    )
    django.setup()
    import uvicorn
    from django.core.asgi import get_asgi_application
    from django.http import JsonResponse
    from django.urls import path

    database, Visitor = _models(socket_path)
    counted = {"commands": 0}

    def observer(commands: Any, duration: float) -> None:
        counted["commands"] += len(commands)

    database.add_observer(observer)

    def respond(payload: dict[str, Any]) -> JsonResponse:
        response = JsonResponse(payload)
        response["Content-Length"] = str(len(response.content))
        return response

    async def async_view(request: Any, pk: str) -> JsonResponse:
        visitor = await Visitor.objects.aget(pk=pk)
        name = await visitor.name.ahget()
        hits = await visitor.hits.aincr()
        neighbours = await Visitor.objects.filter(city=CITIES[int(pk) % 10]).acount()
        return respond({"name": name, "hits": hits, "neighbours": neighbours})

    def sync_view(request: Any, pk: str) -> JsonResponse:
        visitor = Visitor.objects.get(pk=pk)
        name = visitor.name.hget()
        hits = visitor.hits.incr()
        neighbours = Visitor.objects.filter(city=CITIES[int(pk) % 10]).count()
        return respond({"name": name, "hits": hits, "neighbours": neighbours})

    def stats(request: Any) -> JsonResponse:
        commands, counted["commands"] = counted["commands"], 0
        return respond({"commands": commands})

    global urlpatterns
    urlpatterns = [
        path("async/<str:pk>", async_view),
        path("sync/<str:pk>", sync_view),
        path("stats", stats),
    ]
    uvicorn.run(
        get_asgi_application(),
        host="127.0.0.1",
        port=port,
        loop="asyncio",
        http="h11",
        log_level="warning",
        access_log=False,
        backlog=1024,
    )


# -- the load generator ------------------------------------------------------------------


async def _request(reader: Any, writer: Any, target: str) -> tuple[int, bytes]:
    writer.write(f"GET {target} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    body = b""  # chunked (an error page)
    while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
        body += await reader.readexactly(size)
        await reader.readexactly(2)
    await reader.readexactly(2)
    return status, body


async def _connection(port: int, prefix: str, pks: list[str], latencies: list[float]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    errors = 0
    try:
        for pk in pks:
            start = time.perf_counter()
            status, _body = await _request(reader, writer, f"/{prefix}/{pk}")
            latencies.append(time.perf_counter() - start)
            errors += status != 200
    finally:
        writer.close()
    return errors


async def _stats(port: int) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    _status, body = await _request(reader, writer, "/stats")
    writer.close()
    return json.loads(body)["commands"]


async def load(port: int, prefix: str, connections: int, requests: int, instances: int) -> dict:
    latencies: list[float] = []
    await _stats(port)  # reset the counter
    plans = [
        [str(1 + (c * requests + r) % instances) for r in range(requests)]
        for c in range(connections)
    ]
    start = time.perf_counter()
    errors = await asyncio.gather(*(_connection(port, prefix, p, latencies) for p in plans))
    seconds = time.perf_counter() - start
    commands = await _stats(port)
    latencies.sort()
    count = len(latencies)

    def pct(q: float) -> str:
        return f"{latencies[min(count - 1, int(q * count))] * 1000:.1f}"

    return {
        "view": prefix,
        "requests": count,
        "rps": round(count / seconds),
        "p50": pct(0.50),
        "p90": pct(0.90),
        "p99": pct(0.99),
        "max": f"{latencies[-1] * 1000:.1f}",
        "commands": f"{commands / count:.2f}",
        "errors": sum(errors),
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"uvicorn did not listen on {port} within {timeout} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--views", default="async,sync")
    parser.add_argument("--serve", nargs=2, metavar=("SOCKET", "PORT"), help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.serve:
        serve(options.serve[0], int(options.serve[1]))
        return
    from benchmarks.common import configure_django

    configure_django()
    # the server's errors go to a file, summed up at the end
    with private_server() as server, tempfile.TemporaryFile("w+") as log:
        socket_path = server.connection_kwargs()["unix_socket_path"]
        database, Visitor = _models(socket_path)
        for n in range(1, options.instances + 1):
            Visitor(name=f"v{n}", city=CITIES[n % 10])
        print(machine_line(machine_description(server)))
        port = _free_port()
        child = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.asgi_async", "--serve", socket_path, str(port)],
            env={**os.environ, "PYTHONPATH": os.getcwd()},
            stderr=log,
        )
        try:
            _wait_for(port)
            rows = []
            for prefix in options.views.split(","):
                asyncio.run(load(port, prefix, 10, 5, options.instances))  # warm up
                result = asyncio.run(
                    load(port, prefix, options.connections, options.requests, options.instances)
                )
                rows.append(list(result.values()))
        finally:
            child.terminate()
            child.wait(10)
        headers = ["view", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms"]
        headers += ["commands/req", "errors"]
        print(f"{options.connections} concurrent connections, {options.requests} requests each")
        print(format_table(headers, rows))
        hits = sum(
            int(Visitor.lazy_connect(str(n)).hits.get() or 0)
            for n in range(1, 1 + options.instances)
        )
        expected = sum(int(row[1]) for row in rows) + 50 * len(rows)
        errors = sum(row[-1] for row in rows)
        print(
            f"hits counted in Redis: {hits} (successful requests, warm-up included: "
            f"{expected - errors}): each write applied once"
        )
        log.seek(0)
        kinds = Counter(line.strip() for line in log if line[:1].isalpha() and "Error:" in line)
        for line, count in kinds.most_common(5):
            print(f"server error x{count}: {line}")
        database.close()


urlpatterns: list[Any] = []

if __name__ == "__main__":
    main()
