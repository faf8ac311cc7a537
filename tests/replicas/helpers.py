"""Servers for the replica tests, and what reached each of them.

:func:`commands_since` says which commands a server ran since a snapshot of its
``INFO commandstats`` (:func:`command_counts`): these servers are private to the
test, so the counts are those of the code under test (the replication link's own
commands left out). :func:`primary_and_replica` starts a pair of any redis-server
binary (Redis 6.2 too), the replica on TCP if asked (Sentinel needs a port to
reach it); :func:`sentinel` runs a Sentinel watching a primary.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from redis.sentinel import Sentinel

from django_limpyd.servers import wait_for_server
from django_limpyd.test.server import PrivateRedisServer, free_port
from tests.tools.servers import QUIET_MASTER, QUIET_REPLICA, wait_flowing

__all__ = [
    "command_counts",
    "commands_since",
    "primary_and_replica",
    "sentinel",
    "stop_replication",
]

#: commands of replication, of connection handshakes and of these helpers, not of the
#: code under test (a subcommand, ``client|setinfo``, counts under its command)
NOT_COUNTED = frozenset(
    {"info", "replconf", "ping", "publish", "psync", "sync", "config", "hello", "client"}
)


def command_counts(server: PrivateRedisServer) -> dict[str, int]:
    """``{command: calls}`` of ``server`` (``INFO commandstats``), e.g. ``{"hget": 2}``."""
    client = server.client()
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return {name.removeprefix("cmdstat_"): entry["calls"] for name, entry in stats.items()}


def commands_since(server: PrivateRedisServer, before: dict[str, int]) -> dict[str, int]:
    """The commands ``server`` ran since ``before`` (:func:`command_counts`), by name."""
    after = command_counts(server)
    ran = {name: calls - before.get(name, 0) for name, calls in after.items()}
    return {
        name: calls
        for name, calls in ran.items()
        if calls and name.partition("|")[0] not in NOT_COUNTED
    }


def stop_replication(replica: PrivateRedisServer) -> None:
    """Point the replica at a primary that does not exist: it stays a read-only replica
    serving the data it has, which nothing updates any more (stale on purpose)."""
    client = replica.client()
    try:
        client.replicaof("127.0.0.1", free_port())
    finally:
        client.close()


@contextmanager
def primary_and_replica(
    directory: Path, binary: str | None = None, tcp_replica: bool = False
) -> Iterator[tuple[PrivateRedisServer, PrivateRedisServer]]:
    """A primary (TCP) and its read-only replica, in sync, run by ``binary``; both
    stopped by PID on exit."""
    with ExitStack() as stack:
        primary = PrivateRedisServer(directory / "p", tcp=True, binary=binary, extra=QUIET_MASTER)
        stack.callback(primary.stop)
        primary.start()
        replica = PrivateRedisServer(
            directory / "r", tcp=tcp_replica, binary=binary, extra=QUIET_REPLICA
        )
        stack.callback(replica.stop)
        replica.start()
        client = replica.client()
        try:
            client.replicaof("127.0.0.1", primary.port)
        finally:
            client.close()
        wait_flowing(primary, replica, timeout=10)
        yield primary, replica


@contextmanager
def sentinel(
    primary: PrivateRedisServer,
    replica: PrivateRedisServer,
    directory: Path,
    service: str = "mymaster",
    timeout: float = 15.0,
) -> Iterator[int]:
    """A Sentinel watching ``primary`` as ``service``, once it sees ``replica`` up (the
    replicas redis-py's Sentinel hands out); yields its port, stops it by PID."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = directory / "sentinel.conf"
    config.write_text(
        "\n".join(
            [
                f"port {port}",
                "bind 127.0.0.1",
                f'dir "{directory}"',
                f'logfile "{directory / "sentinel.log"}"',
                f"sentinel monitor {service} 127.0.0.1 {primary.port} 1",
                f"sentinel down-after-milliseconds {service} 60000",
                f"sentinel failover-timeout {service} 180000",
                "",
            ]
        )
    )
    process = subprocess.Popen(
        [primary.binary, str(config), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_server(port=port, timeout=timeout, alive=lambda: process.poll() is None)
        manager = Sentinel([("127.0.0.1", port)], socket_timeout=2)
        deadline = time.monotonic() + timeout
        while ("127.0.0.1", replica.port) not in manager.discover_slaves(service):
            if time.monotonic() > deadline:
                raise TimeoutError(f"Sentinel did not see the replica within {timeout} s")
            time.sleep(0.05)
        for client in manager.sentinels:
            client.close()
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
